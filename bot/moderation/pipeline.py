"""Score → decide → record: the one path every message takes, live, reported by a member, or replayed.

Live messages, "Report to moderators" and `toxmod replay` differ only in what they hand in (one message
or a whole log, a report that always opens a flag); the scoring, the per-guild policy and the row
written are the same code, so the three can never disagree on what gets flagged.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.decision import Decision, Scores
from bot.model.classifier import load_model
from bot.moderation.guild_config import GuildConfig, load_guild_config
from bot.moderation.policy import Policy
from bot.moderation.worker import ScoringWorker
from bot.settings import Settings
from bot.storage.database import Database
from bot.storage.models import Flag, FlagOrigin
from bot.storage.repository import MessageRef, record_score

# Scored in chunks of this many, so a long replay can report progress while the worker still batches.
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
    incoming: Incoming
    decision: Decision
    flag: Flag | None


def record(session: Session, item: Incoming, decision: Decision) -> Outcome:
    """Write one decision: the scored row always, a flag (with the text) only if flagged or reported."""
    origin = FlagOrigin.REPORTED if item.reported_by is not None else None
    _, flag = record_score(session, item.ref, decision, item.text, edited=item.edited, force_flag=origin,
                           reporter_id=item.reported_by)
    return Outcome(item, decision, flag)


class Moderation:
    """The scoring worker, the database and every guild's configuration, behind one `moderate` call.

    Guild configurations are cached: every message consults its guild's exemptions and thresholds, and a
    database round trip in front of every score would cost more than the score. Admin commands call
    `forget_guild_config` after any change.
    """

    def __init__(self, scorer: ScoringWorker, db: Database) -> None:
        self.scorer = scorer
        self.db = db
        self._configs: dict[int, GuildConfig] = {}

    # -- configuration ---------------------------------------------------------------------------------
    async def guild_config(self, guild_id: int) -> GuildConfig:
        config = self._configs.get(guild_id)
        if config is None:
            config = await self.db.read(lambda s: load_guild_config(s, guild_id))
            self._configs[guild_id] = config
        return config

    def forget_guild_config(self, guild_id: int) -> None:
        self._configs.pop(guild_id, None)

    def policy_for(self, config: GuildConfig | None) -> Policy:
        """The model's calibrated thresholds with the guild's overrides (none outside a guild)."""
        return Policy.with_overrides(self.scorer.model.info.thresholds, config.thresholds if config else None)

    async def policy(self, guild_id: int) -> Policy:
        return self.policy_for(await self.guild_config(guild_id))

    async def reload_model(self, settings: Settings) -> tuple[str, str]:
        """Swap in the model the settings name between two batches; (old, new) versions."""
        old = await asyncio.wrap_future(self.scorer.swap_model(functools.partial(load_model, settings)))
        return old, self.scorer.model.version

    # -- the pipeline ----------------------------------------------------------------------------------
    async def moderate(self, items: Sequence[Incoming], config: GuildConfig | None = None,
                       progress: Callable[[int], None] | None = None) -> list[Outcome]:
        """Score every item, decide with its guild's policy, and record all of them in one transaction.

        `config` saves a lookup when the caller already holds the guild's configuration (live messages
        read it for the exemption check). All rows are written together or not at all.
        """
        scores: list[Scores] = []
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            scores += await asyncio.gather(*(self.scorer.score(item.text) for item in chunk))
            if progress is not None:
                progress(len(chunk))
        policies: dict[int | None, Policy] = {}  # one per guild in this call, not one per message
        if config is not None:
            policies[config.guild_id] = self.policy_for(config)
        for guild_id in {item.ref.guild_id for item in items} - set(policies):
            policies[guild_id] = self.policy_for(await self.guild_config(guild_id) if guild_id is not None else None)
        decisions = [policies[item.ref.guild_id].decide(s) for item, s in zip(items, scores, strict=True)]
        return await self.db.write(
            lambda s: [record(s, item, d) for item, d in zip(items, decisions, strict=True)])
