"""The bot object: settings, the scoring worker, the database writer and the cogs, wired in one place.

`create_bot(**overrides)` is what `toxmod run` and the tests use; overrides take the Settings field names
(`database_url`, `model_dir`, ...). Everything slow (migrations, loading the model) happens off the event
loop in `setup_hook`, and `close` drains queued scores and writes before the connection goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator

import discord
from discord.ext import commands

from bot.errors import ToxmodTree
from bot.guild_config import GuildConfig, load_guild_config
from bot.modlog import FlagButton, TimeoutSelect, VerdictSelect
from bot.retrain import CandidateButton, RetrainJob
from bot.scoring import load_model, open_scorer
from bot.scoring.policy import Policy
from bot.scoring.worker import ScoringWorker
from bot.settings import Settings
from bot.storage.database import Database

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.exts.live", "bot.exts.review", "bot.exts.admin")


def intents() -> discord.Intents:
    """Guilds, guild messages, message content (privileged) and members (privileged), nothing else."""
    wanted = discord.Intents.none()
    wanted.guilds = wanted.guild_messages = wanted.message_content = wanted.members = True
    return wanted


class ToxmodBot(commands.Bot):
    scorer: ScoringWorker
    db: Database

    def __init__(self, settings: Settings) -> None:
        super().__init__(command_prefix=commands.when_mentioned, intents=intents(), tree_cls=ToxmodTree,
                         help_command=None, allowed_mentions=discord.AllowedMentions.none())
        self.settings = settings
        self.started_at = time.monotonic()
        self._guild_configs: dict[int, GuildConfig] = {}
        self.modlog_failures: dict[int, str] = {}  # guild -> last failure to post in its mod-log
        self.retrain_job: RetrainJob | None = None
        self.retrain_task: asyncio.Task | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # -- lifecycle -------------------------------------------------------------------------------------
    async def setup_hook(self) -> None:
        self.db = Database(self.settings.database_url)
        await asyncio.to_thread(self.db.upgrade)
        self.db.start()
        self.scorer = await asyncio.to_thread(open_scorer, self.settings)
        for name in EXTENSIONS:
            await self.load_extension(name)
        # mod-log buttons carry their state in the custom id, so they keep working after a restart
        self.add_dynamic_items(FlagButton, TimeoutSelect, VerdictSelect, CandidateButton)
        if self.settings.dev_guild_id:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        log.info("toxmod ready to start: model %s, database %s", self.scorer.model.version,
                 self.db.engine.url.render_as_string())

    async def close(self) -> None:
        """Score what is queued, let those messages' handlers log them, write what is pending, disconnect."""
        scorer, db = getattr(self, "scorer", None), getattr(self, "db", None)
        job = self.retrain_job
        if job is not None and job.running and job.process is not None:
            log.warning("stopping retrain %s: the bot is shutting down (it can be started again)", job.name)
            job.process.terminate()
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

    # -- per-guild configuration -----------------------------------------------------------------------
    async def guild_config(self, guild_id: int) -> GuildConfig:
        config = self._guild_configs.get(guild_id)
        if config is None:
            config = await self.db.read(lambda s: load_guild_config(s, guild_id))
            self._guild_configs[guild_id] = config
        return config

    def forget_guild_config(self, guild_id: int) -> None:
        self._guild_configs.pop(guild_id, None)

    async def policy(self, guild_id: int) -> Policy:
        config = await self.guild_config(guild_id)
        return Policy.with_overrides(self.scorer.model.info.thresholds, config.thresholds)

    # -- model -----------------------------------------------------------------------------------------
    async def reload_model(self) -> tuple[str, str]:
        """Swap in the model `models/current` names (or MODEL_DIR) between two batches; (old, new) versions."""
        old = await asyncio.wrap_future(self.scorer.swap_model(functools.partial(load_model, self.settings)))
        return old, self.scorer.model.version

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_at


def create_bot(**overrides: object) -> ToxmodBot:
    """The bot with settings from the environment / .env, overridden by keyword (same names as Settings)."""
    return ToxmodBot(Settings.load(**overrides))
