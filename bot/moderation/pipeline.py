"""Score → decide → record: the one path every message takes, live, reported by a member, or replayed.

Live messages, "Report to moderators" and `toxmod replay` differ only in what they hand in (one message
or a whole log, a report that always opens a flag); the scoring, the per-guild policy and the row
written are the same code, so the three can never disagree on what gets flagged.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.decision import Decision, Scores
from bot.moderation.floods import FloodDetector
from bot.moderation.guild_config import GuildConfig, load_guild_config
from bot.moderation.languages import moderated_languages, reads, unread_decision
from bot.moderation.policy import Policy, scorer_policy
from bot.moderation.worker import ScoringWorker
from bot.scoring.classifier import load_model, load_multilingual
from bot.scoring.language import LanguageIdentifier
from bot.scoring.registry import resolve_model_dir
from bot.settings import Settings
from bot.storage.changes import Change, ChangeListener, listens
from bot.storage.database import Database
from bot.storage.flags import add_report
from bot.storage.messages import MessageRef, latest_flag_for_message, lock_message, record_score, update_flag_scores
from bot.storage.replays import pending_flag_of_line
from bot.storage.tables import Flag, FlagOrigin, FlagStatus
from bot.storage.writer import Spooled

log = logging.getLogger(__name__)

# Messages scored together (and, in `toxmod replay`, written in one transaction): a long replay reports
# progress and an interrupt waits for at most one chunk, while each chunk still fills the scoring worker's
# batches.
CHUNK = 256


@dataclass(frozen=True)
class Incoming:
    """One message to moderate: where it is, what it says, and how it arrived."""

    ref: MessageRef
    text: str
    edited: bool = False
    reported_by: int | None = None  # a member's report always opens a flag, whatever the scores


@dataclass(frozen=True)
class Outcome:
    """What became of one message. `flag` is the flag moderators should see for it: newly opened
    (`opened`), or an existing one that a report joined or an edit updated (the mod-log post needs a refresh)."""

    incoming: Incoming
    decision: Decision
    flag: Flag | None
    opened: bool = False


def record(session: Session, item: Incoming, decision: Decision) -> Outcome:
    """Write one decision: the scored row always, a flag (with the text) only if flagged or reported.

    A message has at most one open flag: a report of a message with a pending flag adds the reporter to it,
    a message scored again (a replayed line too) is logged without a second flag, and a flagged edit of such
    a message updates that flag. An edit flagged after its flag was reviewed opens a new flag that links to
    the reviewed one, so the earlier verdict is in sight.
    """
    ref = item.ref
    if not decision.read and not decision.flagged and item.reported_by is None:
        return Outcome(item, decision, None)  # a language this server's rule ignores: nothing is stored
    if ref.guild_id is not None and ref.message_id is not None:
        lock_message(session, ref.guild_id, ref.message_id)  # another process may be writing this message too
    if ref.message_id is not None:
        latest = latest_flag_for_message(session, ref.guild_id, ref.message_id)
    elif decision.flagged and item.reported_by is None:  # a replayed line: known by where, who and what
        latest = pending_flag_of_line(session, ref, item.text)
    else:
        latest = None
    pending = latest if latest is not None and latest.status is FlagStatus.PENDING else None
    if item.reported_by is not None and pending is not None:
        add_report(session, pending, item.reported_by)
        return Outcome(item, decision, pending)
    if pending is not None and not item.edited:  # scored again (two processes, one message): no second flag
        record_score(session, ref, decision, item.text, open_flag=False)
        return Outcome(item, decision, None)
    if item.edited and pending is not None:
        row, _ = record_score(session, ref, decision, item.text, edited=True, open_flag=False)
        if decision.flagged:
            update_flag_scores(session, pending, row, decision, item.text)
        return Outcome(item, decision, pending if decision.flagged else None)
    origin = FlagOrigin.REPORTED if item.reported_by is not None else None
    _, flag = record_score(session, ref, decision, item.text, edited=item.edited, force_flag=origin,
                           reporter_id=item.reported_by, previous=latest if item.edited else None)
    if flag is not None and item.reported_by is not None:
        add_report(session, flag, item.reported_by)
    return Outcome(item, decision, flag, opened=flag is not None)


@dataclass(frozen=True)
class Unsaved:
    """A live message scored and decided while the database could not be written: its row waits in the
    spool, and `saved` yields its Outcome once written."""

    incoming: Incoming
    decision: Decision
    reason: str
    saved: asyncio.Future[Outcome]


class Moderation:
    """The scoring worker, the database and every guild's configuration, behind one `moderate` call.

    Guild configurations are cached: every message consults its guild's exemptions and thresholds, and a
    database round trip in front of every score would cost more than the score. Admin commands call
    `forget_guild_config` after any change.
    """

    def __init__(self, scorer: ScoringWorker, db: Database, *, cache_configs: bool = True) -> None:
        self.scorer = scorer
        self.db = db
        # False for a process that neither makes the changes nor hears of them (`toxmod serve` on SQLite):
        # a cached configuration would never be dropped there, so each is read when needed
        self.cache_configs = cache_configs
        self._configs: dict[int, GuildConfig] = {}
        self.languages = LanguageIdentifier()
        self.floods = FloodDetector()  # each guild's recent messages, for floods and raids (floods.py)
        self._forgotten = 0  # bumped by every forget: a read that began before one must not be cached

    # -- configuration ---------------------------------------------------------------------------------
    async def guild_config(self, guild_id: int) -> GuildConfig:
        """The guild's configuration, from the cache or the database."""
        config = self._configs.get(guild_id)
        if config is None:
            generation = self._forgotten
            config = await self.db.read(lambda s: load_guild_config(s, guild_id))
            if self.cache_configs and generation == self._forgotten:  # else a change was announced meanwhile
                self._configs[guild_id] = config
        return config

    def forget_guild_config(self, guild_id: int) -> None:
        """Drop the cached configuration of a guild whose settings changed."""
        self._forgotten += 1
        self._configs.pop(guild_id, None)

    def listen(self, settings: Callable[[], Settings],
               spawn: Callable[[Coroutine[Any, Any, None]], None]) -> ChangeListener | None:
        """Follow the changes other processes announce (PostgreSQL), each applied on this event loop by a task
        `spawn` starts, with the settings in force when it arrives; None where the database announces nothing
        (SQLite)."""
        if not listens(self.db.url):
            return None
        loop = asyncio.get_running_loop()

        def heard(change: Change | None) -> None:  # in the listener's thread; None: a gap
            loop.call_soon_threadsafe(lambda: spawn(self.follow_logged(change, settings())))

        return ChangeListener(self.db.url, heard, lambda: heard(None)).start()

    async def follow_logged(self, change: Change | None, settings: Settings) -> None:
        """`follow`, for a background task: a failure (a broken `models/current`) is logged, never lost."""
        try:
            await self.follow(change, settings)
        except Exception:
            log.exception("could not apply a change from another process (%s)", change or "after a reconnect")

    async def follow(self, change: Change | None, settings: Settings) -> None:
        """Apply a change another process (or this one) announced; None: announcements may have been missed
        (the listener reconnected), so forget every guild and re-check the model.

        The model is reloaded when `models/current` names another folder than the one serving; a process
        pinned to a folder (MODEL_DIR) keeps it."""
        if change is None:
            self._forgotten += 1
            self._configs.clear()
        elif change.guild_id is not None:
            self.forget_guild_config(change.guild_id)
        if (change is None or change.model is not None) and settings.model_dir is None:
            current = await asyncio.to_thread(resolve_model_dir, settings.models_dir)
            if current.resolve() != self.scorer.model.info.path.resolve():
                old, new = await self.reload_model(settings)
                log.info("model changed in another process: %s -> %s", old, new)

    def policy_for(self, config: GuildConfig | None) -> Policy:
        """The models' calibrated thresholds with the guild's overrides (none outside a guild)."""
        return scorer_policy(self.scorer, config.thresholds if config else None)

    async def policy(self, guild_id: int) -> Policy:
        """The policy in force in a guild: the models' thresholds with the guild's overrides."""
        return self.policy_for(await self.guild_config(guild_id))

    async def reload_model(self, settings: Settings) -> tuple[str, str]:
        """Swap in the model the settings name between two batches; (old, new) versions."""
        old = await asyncio.wrap_future(self.scorer.swap_model(functools.partial(load_model, settings),
                                                               functools.partial(load_multilingual, settings)))
        return old, self.scorer.model.version

    # -- the pipeline ----------------------------------------------------------------------------------
    async def decide(self, items: Sequence[Incoming], config: GuildConfig | None = None,
                     progress: Callable[[int], None] | None = None) -> list[Decision]:
        """Identify every item's language, score those in a language the model reads and the guild moderates,
        and decide each with its guild's policy or its rule for unsupported languages (`config` saves a
        lookup when the caller holds the guild's configuration already, as live messages do for the
        exemption check)."""
        configs: dict[int | None, GuildConfig | None] = {None: None}
        if config is not None:
            configs[config.guild_id] = config
        for guild_id in {item.ref.guild_id for item in items} - set(configs):
            configs[guild_id] = await self.guild_config(guild_id) if guild_id is not None else None
        languages = self.scorer.languages
        fallbacks = [moderated_languages(configs[item.ref.guild_id], languages) for item in items]
        detected = await self.languages.identify_off_loop([item.text for item in items], fallbacks)
        read = [i for i, (item, d) in enumerate(zip(items, detected, strict=True))
                if reads(d, configs[item.ref.guild_id], languages)]
        scores: dict[int, Scores] = {}
        for start in range(0, len(read), CHUNK):
            chunk = read[start : start + CHUNK]
            scores.update(zip(chunk, await asyncio.gather(
                *(self.scorer.score(items[i].text, detected[i].language) for i in chunk)), strict=True))
            if progress is not None:
                progress(len(chunk))
        if progress is not None and len(items) > len(read):
            progress(len(items) - len(read))
        policies = {guild_id: self.policy_for(c) for guild_id, c in configs.items()}  # one per guild, not message
        return [policies[item.ref.guild_id].decide(scores[i], d.language)
                if i in scores else unread_decision(d, configs[item.ref.guild_id], self.scorer.model.version)
                for i, (item, d) in enumerate(zip(items, detected, strict=True))]

    async def moderate(self, items: Sequence[Incoming], config: GuildConfig | None = None,
                       progress: Callable[[int], None] | None = None) -> list[Outcome]:
        """Score, decide and record every item; all rows are written in one transaction or none are."""
        decisions = await self.decide(items, config, progress)
        return await self.db.write(
            lambda s: [record(s, item, d) for item, d in zip(items, decisions, strict=True)])

    async def moderate_live(self, item: Incoming, config: GuildConfig) -> Outcome | Unsaved:
        """One live message: like `moderate`, but when the database cannot be written the row waits in the
        database's spool and the caller still learns the decision, so a flag can reach moderators at once."""
        [decision] = await self.decide([item], config)
        result = await self.db.write_or_spool(lambda s: record(s, item, decision))
        if isinstance(result, Spooled):
            return Unsaved(item, decision, result.reason, result.saved)
        return result
