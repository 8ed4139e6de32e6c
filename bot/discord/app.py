"""The bot object: its lifecycle only. Start the database and the scoring worker, load the cogs, and on
close drain queued scores and writes before the connection goes away.

`create_bot(**overrides)` is what `toxmod run` and the tests use; overrides take the Settings field names
(`database_url`, `model_dir`, ...). Everything slow (migrations, loading the model) happens off the event
loop in `setup_hook`. The mod-log service loads first, as an extension of its own, and each extension
registers its own persistent buttons in its `setup`.

With SHARD_COUNT set the bot is discord.py's `AutoShardedBot` running the shards SHARDS names; several
such processes share one PostgreSQL, and each hears the others' changes (bot/storage/changes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any, cast

import discord
from discord.ext import commands

from bot.discord.errors import ToxmodTree
from bot.moderation.pipeline import Moderation
from bot.moderation.worker import ScoringWorker, open_scorer
from bot.settings import Settings
from bot.storage.changes import ChangeListener
from bot.storage.database import Database

log = logging.getLogger(__name__)

# (young, middle, old): allocations between young collections, young collections between middle ones, middle
# ones between full ones (Python's default: 700, 10, 10). See calm_garbage_collector.
GC_THRESHOLDS = (2_000, 10, 100)
EXTENSIONS = ("bot.discord.modlog", "bot.discord.live", "bot.discord.review", "bot.discord.guild_settings",
              "bot.discord.admin")


class NoVoiceWarnings(logging.Filter):
    """Drops discord.py's warnings that its voice libraries (PyNaCl, davey) are not installed. toxmod never joins
    a voice channel, so at every start they would only tell an operator to install something it does not use;
    every other record of the logger passes."""

    MESSAGES = frozenset({"PyNaCl is not installed, voice will NOT be supported",
                          "davey is not installed, voice will NOT be supported"})

    def filter(self, record: logging.LogRecord) -> bool:
        """Pass every record but the voice-library warnings."""
        return record.getMessage() not in self.MESSAGES


NO_VOICE_WARNINGS = NoVoiceWarnings()


def intents() -> discord.Intents:
    """Guilds, guild messages, message content (privileged) and members (privileged), nothing else."""
    wanted = discord.Intents.none()
    wanted.guilds = wanted.guild_messages = wanted.message_content = wanted.members = True
    return wanted


class ToxmodBot(commands.Bot):
    """The Discord client: settings, database, scoring worker and pipeline, and the cogs that use them.

    Everything slow (migrations, loading the model) happens off the event loop in `setup_hook`."""

    scorer: ScoringWorker
    db: Database
    moderation: Moderation

    def __init__(self, settings: Settings, **options: Any) -> None:
        # discord.py logs them from Client.__init__, through the logger of its client module; adding the same
        # filter again does nothing
        logging.getLogger("discord.client").addFilter(NO_VOICE_WARNINGS)
        super().__init__(command_prefix=commands.when_mentioned, intents=intents(), tree_cls=ToxmodTree,
                         help_command=None, allowed_mentions=discord.AllowedMentions.none(), **options)
        self.settings = settings
        self.changes: ChangeListener | None = None
        self.started_at = time.monotonic()
        self.modlog_failures: dict[int, str] = {}  # guild -> last failure to post in its mod-log, to log it once
        self.posting: set[int] = set()  # flags whose mod-log post is in progress
        self._background: set[asyncio.Task] = set()  # tasks nobody awaits, kept from the garbage collector
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # -- lifecycle -------------------------------------------------------------------------------------
    async def setup_hook(self) -> None:
        """Open the database, load the model, start the pipeline and the cogs, before the gateway connects."""
        self.db = Database(self.settings.database_url)
        await asyncio.to_thread(self.db.upgrade)
        self.db.start()
        self.scorer = await asyncio.to_thread(open_scorer, self.settings)
        self.moderation = Moderation(self.scorer, self.db)
        self.changes = self.moderation.listen(lambda: self.settings, self.spawn)  # other processes' changes
        for name in EXTENSIONS:
            await self.load_extension(name)
        if self.settings.dev_guild_id:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        calm_garbage_collector()
        log.info("toxmod ready to start: model %s, database %s", self.scorer.model.version,
                 self.db.engine.url.render_as_string())

    async def close(self) -> None:
        """Score what is queued, let those messages' handlers log them, write what is pending, disconnect."""
        scorer, db = getattr(self, "scorer", None), getattr(self, "db", None)
        for name in list(self.extensions):  # cogs stop their own work first (a retrain process, timers)
            await self.unload_extension(name)
        if self.changes is not None:
            await asyncio.to_thread(self.changes.stop)
        if scorer is not None:
            await asyncio.to_thread(scorer.stop)
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=30)
        except TimeoutError:
            log.warning("closing with %d messages still being handled", self._in_flight)
        if db is not None:
            await asyncio.to_thread(db.close)
        await super().close()

    @contextlib.asynccontextmanager
    async def handling(self) -> AsyncIterator[None]:
        """Marks a message as in flight, so shutdown waits for it to be logged before closing the database."""
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background, holding a reference until it ends (the loop keeps only weak ones)."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @property
    def uptime(self) -> float:
        """Seconds since the bot was created, for /model status."""
        return time.monotonic() - self.started_at


def calm_garbage_collector() -> None:
    """Keep Python's cyclic garbage collector from pausing the event loop.

    A collection stops every thread for as long as it takes to walk the objects of the generations it
    collects, and on the event loop each one is a stall that every message waits out. So what exists once
    the bot has loaded (the model's tokenizer and lexicon, the ORM, discord.py) is frozen, never scanned
    again. Young collections stay small, because their cost is the young objects still alive and a burst
    keeps thousands of queued messages alive; full collections, which walk everything not frozen, come
    less often than Python's default. The measurements behind the thresholds are in the README
    ("Event-loop lag") and reproduced by benchmarks/bench_bot.py.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def bot_of(interaction: discord.Interaction) -> ToxmodBot:
    """The bot an interaction reached. discord.py types `interaction.client` as a plain Client; every
    interaction this code handles arrives through a ToxmodBot, so the cast is made once, here."""
    return cast(ToxmodBot, interaction.client)


class ShardedToxmodBot(ToxmodBot, commands.AutoShardedBot):
    """The same bot over several gateway connections (shards), possibly a few of many in this process."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        super().__init__(settings, **options)
        # discord.py makes the shards' event queue during login, yet close() puts into it: a sharded bot
        # closed before it logged in (a bad setting found early, Ctrl-C at once) would end in AttributeError
        setattr(self, "_AutoShardedClient__queue", asyncio.PriorityQueue())  # noqa: B010 -- a mangled name


def create_bot(**overrides: object) -> ToxmodBot:
    """The bot with settings from the environment / .env, overridden by keyword (same names as Settings)."""
    settings = Settings.load(None, **overrides)
    if settings.shard_ids is None:
        return ToxmodBot(settings)
    return ShardedToxmodBot(settings, shard_count=settings.shard_count, shard_ids=list(settings.shard_ids))
