"""`toxmod serve`: toxmod's scoring over HTTP, for everything that is not the Discord bot.

- `POST /v1alpha1/comments:analyze` and the discovery document: Perspective's API, request for request and
  error for error (bot/api/perspective/), so a tool written for Perspective keeps working with one URL
  changed. Nothing an API request sends is ever stored (`doNotStore` is the only behaviour there is).
- `POST /v1/score`: toxmod's own batch endpoint, answering in the `toxmod score --jsonl` contract, with a
  guild's thresholds when given its id (read from the bot's database, never written).
- `GET /v1/models`, `GET /`: the playground page and the models it may pick from.
- `GET /healthz`, `GET /metrics` (Prometheus text format).

aiohttp, not FastAPI: discord.py already depends on it (no new dependency), it is one asyncio stack with
the bot's, and the scoring worker (a thread that micro-batches whatever is queued) needs nothing from a
framework but an `await`. Concurrent requests are batched together by that worker, as live messages are.

Access: bound to loopback unless told otherwise; with API_KEYS set every API request (and /metrics) needs a
key (bot/api/callers.py). Each key (or, without keys, each client address) has a token bucket: API_RATE_LIMIT
requests a second, up to API_RATE_BURST at once; each client address another for missing or wrong keys. Every
429 says when to retry (Retry-After). A request is charged by the work it queues, and callers' texts reach the
scoring worker in turns (bot/api/fairness.py). No CORS headers unless API_CORS_ORIGINS names the origin. Slow
clients, idle connections and the number of connections are bounded in bot/api/connections.py.

This module assembles the application and runs it, and holds the models it serves (`Models`). What each
route answers is in bot/api/routes.py, what every request passes through in bot/api/middlewares.py, and what
both share in bot/api/service.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.api.connections import ConnectionGuard, fit_file_limit
from bot.api.fairness import FairScheduler, RateLimiter
from bot.api.listener import Listener
from bot.api.middlewares import MIDDLEWARES
from bot.api.perspective import ApiError
from bot.api.prometheus import Metrics
from bot.api.routes import add_routes
from bot.api.service import SERVICE, Service
from bot.moderation.pipeline import Moderation
from bot.moderation.worker import ScoringWorker, open_scorer
from bot.scoring.registry import list_models
from bot.settings import Settings
from bot.storage.changes import listens
from bot.storage.database import Database

log = logging.getLogger(__name__)

PLAYGROUND = Path(__file__).with_name("playground.html")
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # matched whole: a folder in MODELS_DIR
LOOPBACK = ("127.0.0.1", "::1", "localhost")


# -- the models served -----------------------------------------------------------------------------------
class Models:
    """The current model (the worker every API request shares) and, for the playground, up to
    `keep` others loaded on demand, least recently used dropped first."""

    def __init__(self, settings: Settings, current: ScoringWorker, keep: int) -> None:
        self.settings, self.current, self.keep = settings, current, keep
        self._others: OrderedDict[str, ScoringWorker] = OrderedDict()
        self._loading = asyncio.Lock()
        self._leases: dict[ScoringWorker, int] = {}  # requests using each worker now
        self._retired: set[ScoringWorker] = set()  # dropped from the pool, stopped once its last request ends

    def listing(self) -> list[dict[str, object]]:
        """Every model in MODELS_DIR, the one serving first."""
        serving = self.current.model.info.path.resolve()
        rows = [{"name": info.path.name, "version": info.version, "current": info.path.resolve() == serving}
                for info in list_models(self.settings.models_dir)]
        return sorted(rows, key=lambda row: not row["current"])

    @contextlib.asynccontextmanager
    async def use(self, name: str | None) -> AsyncIterator[ScoringWorker]:
        """The worker for model `name` (None: the current one), kept running while the caller uses it."""
        worker = await self._worker(name)
        self._leases[worker] = self._leases.get(worker, 0) + 1  # no await since the lookup: not evicted yet
        try:
            yield worker
        finally:
            self._leases[worker] -= 1
            if not self._leases[worker]:
                del self._leases[worker]
                if worker in self._retired:
                    self._retired.discard(worker)
                    await asyncio.to_thread(worker.stop)

    async def _worker(self, name: str | None) -> ScoringWorker:
        if name is None:
            return self.current
        if not MODEL_NAME.fullmatch(name):  # before it goes near a path: "..", "/", NUL
            raise ApiError(400, "INVALID_ARGUMENT", f"Unknown model: {name!r} (GET /v1/models lists them).")
        if (Path(self.settings.models_dir) / name).resolve() == self.current.model.info.path.resolve():
            return self.current
        worker = self._others.get(name)
        if worker is not None:
            self._others.move_to_end(name)
            return worker
        if name not in {row["name"] for row in await asyncio.to_thread(self.listing)}:
            raise ApiError(400, "INVALID_ARGUMENT", f"Unknown model: {name!r} (GET /v1/models lists them).")
        if self.keep == 0:
            raise ApiError(400, "FAILED_PRECONDITION", "Only the current model is served (API_MAX_MODELS=0).")
        async with self._loading:
            worker = self._others.get(name)  # loaded by another request while this one waited
            if worker is None:
                # a model asked for by name reads what it reads itself: no second model loaded beside it
                settings = dataclasses.replace(self.settings, model_dir=Path(self.settings.models_dir) / name,
                                               multilingual=False)
                worker = await asyncio.to_thread(open_scorer, settings)
                self._others[name] = worker
                while len(self._others) > self.keep:
                    _, old = self._others.popitem(last=False)
                    if old in self._leases:  # a request is scoring with it: it stops when that ends
                        self._retired.add(old)
                    else:
                        await asyncio.to_thread(old.stop)
            self._others.move_to_end(name)
            return worker

    async def close(self) -> None:
        """Stop every worker this pool started, the current model's last."""
        for worker in [*self._others.values(), *self._retired, self.current]:
            await asyncio.to_thread(worker.stop)
        self._others.clear()
        self._retired.clear()


# -- the application -------------------------------------------------------------------------------------
GUARD = web.AppKey("guard", ConnectionGuard)


def create_app(settings: Settings, db: Database | None = None) -> web.Application:
    """The application; the model loads (off the event loop) when it starts, and stops with it."""
    app = web.Application(client_max_size=settings.api_max_body_bytes, middlewares=MIDDLEWARES)
    app[GUARD] = ConnectionGuard(header_timeout=settings.api_header_timeout,
                                 keepalive_timeout=settings.api_keepalive_timeout,
                                 limit=settings.api_max_connections, metrics=Metrics())
    add_routes(app.router)
    app.cleanup_ctx.append(functools.partial(_lifecycle, settings, db))
    return app


async def _lifecycle(settings: Settings, db: Database | None, app: web.Application) -> Any:
    """What the handlers share, made when the application starts (the model loads here, off the event loop),
    and stopped when it stops."""
    scorer = await asyncio.to_thread(open_scorer, settings)
    # the server never changes a guild's settings: it may cache them only where it hears of changes
    moderation = Moderation(scorer, db, cache_configs=listens(db.url)) if db is not None else None
    guard = app[GUARD]
    service = Service(settings, Models(settings, scorer, settings.api_max_models), moderation, guard.metrics,
                      RateLimiter(settings.api_rate_limit, settings.api_rate_burst),
                      RateLimiter(settings.api_auth_failure_rate, settings.api_auth_failure_burst), guard,
                      FairScheduler(window=settings.score_batch_max),
                      cors_origins=frozenset(o.strip() for o in settings.api_cors_origins.split(",") if o.strip()),
                      playground=await asyncio.to_thread(PLAYGROUND.read_text, "utf-8"))
    if moderation is not None:  # follow the bot's settings and model
        service.changes = moderation.listen(lambda: settings, service.spawn)
    app[SERVICE] = service
    log.info("serving model %s (%s)", scorer.model.version, scorer.model.choice.describe())
    yield
    if service.changes is not None:
        await asyncio.to_thread(service.changes.stop)
    await service.models.close()
    if db is not None:
        await asyncio.to_thread(db.close)


# -- running it ------------------------------------------------------------------------------------------
async def serve(settings: Settings, db: Database | None, host: str, port: int,
                ready: Callable[[str], None] | None = None, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (or the task is cancelled: Ctrl-C); `ready(url)` once listening."""
    app = create_app(settings, db)
    guard = app[GUARD]
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()  # the model is loaded: the files it keeps open are counted below
    guard.limit, sockets = fit_file_limit(settings.api_max_connections)
    assert runner.server is not None  # noqa: S101 - narrows for mypy: set up above
    # aiohttp's own TCPSite would serve with its plain handler and asyncio's accept loop: the guard's handler and
    # the listener keep the connections, and the sockets behind them, bounded
    listener = Listener(guard, guard.factory(runner.server, asyncio.get_running_loop()), sockets)
    try:
        await listener.start(host, port)
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
        log.info("listening on %s", url)
        if ready is not None:
            ready(url)
        await (stop or asyncio.Event()).wait()
    finally:
        listener.close()
        await runner.cleanup()
        guard.close()


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address, which no other machine can reach."""
    return host in LOOPBACK or host.startswith("127.")

