"""What every handler and middleware of `toxmod serve` shares, and how they find it: the `Service` an application
holds under `SERVICE`, and the caller an API request was authenticated as, under `CALLER`."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from aiohttp import web

from bot.api.connections import ConnectionGuard, Episodes
from bot.api.fairness import FairScheduler, RateLimiter
from bot.api.perspective import ApiError
from bot.api.prometheus import Metrics
from bot.moderation.guild_config import GuildConfig
from bot.moderation.pipeline import Moderation
from bot.moderation.policy import Policy, scorer_policy
from bot.moderation.worker import ScoringWorker
from bot.settings import Settings
from bot.storage.changes import ChangeListener
from bot.storage.errors import DatabaseError, unavailable_reason

DATABASE_RETRY_S = 5  # Retry-After when the bot's database cannot be read


class ModelPool(Protocol):
    """What the handlers need of the models served (bot/api/server.py's `Models`): the current one's worker,
    a worker by name kept running while a request uses it, the listing for the playground."""

    current: ScoringWorker

    def listing(self) -> list[dict[str, object]]:
        """The models a client may name, for /v1/models and the playground."""

    def use(self, name: str | None) -> AbstractAsyncContextManager[ScoringWorker]:
        """The worker of model `name` (None: the current one), kept running while the request uses it."""

    async def close(self) -> None:
        """Stop every worker the pool holds."""


@dataclasses.dataclass
class Service:
    """What the handlers share: settings, models, the bot's database (read only; None without one)."""

    settings: Settings
    models: ModelPool
    moderation: Moderation | None
    metrics: Metrics
    limiter: RateLimiter
    auth_failures: RateLimiter  # per client address: requests with a missing or wrong key
    guard: ConnectionGuard
    fair: FairScheduler  # callers' texts to the scoring workers, in turns
    cors_origins: frozenset[str]
    playground: str  # the page, read once
    changes: ChangeListener | None = None
    database_trouble: Episodes = dataclasses.field(default_factory=lambda: Episodes(logging.WARNING))
    _tasks: set[asyncio.Task] = dataclasses.field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background, holding a reference until it ends (the loop keeps only weak ones)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def policy(self, worker: ScoringWorker, guild_id: int | None) -> Policy:
        """The thresholds a request is decided by: the model's, under the guild's own where it names one."""
        config: GuildConfig | None = None
        if guild_id is not None:
            if self.moderation is None:
                raise ApiError(400, "FAILED_PRECONDITION",
                               "guild_id needs the bot's database: set DATABASE_URL to it and restart the server.")
            try:
                config = await self.moderation.guild_config(guild_id)
            except Exception as exc:
                reason = _database_unavailable(exc)
                if reason is None:
                    raise
                self.database_trouble.event("requests with guild_id answered 503: %s", reason)
                error = ApiError(503, "UNAVAILABLE", f"The bot's database cannot be read now ({reason}): try "
                                                     "again later, or leave out guild_id.")
                raise error.retry_after(DATABASE_RETRY_S) from None
        return scorer_policy(worker, config.thresholds if config else None)


def _database_unavailable(exc: Exception) -> str | None:
    """One line when `exc` means the database cannot be used now (a server down, a file gone), not a bug."""
    if isinstance(exc, DatabaseError):
        return str(exc)
    return unavailable_reason(exc)


SERVICE = web.AppKey("service", Service)
CALLER = web.RequestKey("caller", str)  # who an API request is from: its key's digest, or its address
