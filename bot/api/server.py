"""`toxmod serve`: toxmod's scoring over HTTP, for everything that is not the Discord bot.

- `POST /v1alpha1/comments:analyze` and the discovery document: Perspective's API, request for request and
  error for error (bot/api/perspective.py), so a tool written for Perspective keeps working with one URL
  changed. Nothing an API request sends is ever stored (`doNotStore` is the only behaviour there is).
- `POST /v1/score`: toxmod's own batch endpoint, answering in the `toxmod score --jsonl` contract, with a
  guild's thresholds when given its id (read from the bot's database, never written).
- `GET /v1/models`, `GET /`: the playground page and the models it may pick from.
- `GET /healthz`, `GET /metrics` (Prometheus text format).

aiohttp, not FastAPI: discord.py already depends on it (no new dependency), it is one asyncio stack with
the bot's, and the scoring worker (a thread that micro-batches whatever is queued) needs nothing from a
framework but an `await`. Concurrent requests are batched together by that worker, as live messages are.

Access: bound to loopback unless told otherwise; with API_KEYS set every API request (and /metrics) needs a
key (as `?key=`, `X-Goog-Api-Key` or `Authorization: Bearer`), and keys are only ever compared as sha256
digests. Each key (or, without keys, each client address) has a token bucket: API_RATE_LIMIT requests a
second, up to API_RATE_BURST at once; each client address another for missing or wrong keys. Every 429 says
when to retry (Retry-After). A request is charged by the work it queues, and callers' texts reach the
scoring worker in turns (bot/api/fairness.py). No CORS headers unless API_CORS_ORIGINS names the origin. Slow
clients, idle connections and the number of connections are bounded in bot/api/connections.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import ipaddress
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.api.connections import (
    BACKLOG,
    ClientGone,
    ConnectionGuard,
    Episodes,
    fit_file_limit,
    follow_requests,
    read_body,
)
from bot.api.fairness import FairScheduler, RateLimiter, cost
from bot.api.metrics import Metrics
from bot.api.perspective import (
    COMMENT_MAX_BYTES,
    AnalyzeRequest,
    ApiError,
    analyze_response,
    discovery_document,
    language_code,
    parse_analyze,
    sentence_spans,
)
from bot.decision import Decision, Scores
from bot.labels import LABELS
from bot.model.language import LanguageIdentifier
from bot.model.registry import list_models
from bot.moderation.guild_config import GuildConfig
from bot.moderation.pipeline import Moderation
from bot.moderation.policy import Policy
from bot.moderation.worker import ScoringWorker, open_scorer
from bot.settings import Settings, hash_api_key
from bot.storage.changes import ChangeListener, listens
from bot.storage.database import Database, DatabaseError, unavailable_reason

log = logging.getLogger(__name__)

PLAYGROUND = Path(__file__).with_name("playground.html")
_LANGUAGES = LanguageIdentifier()  # shared: thread-safe, and its model loads once
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # matched whole: a folder in MODELS_DIR
LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_SPANS = 32  # sentences scored separately per comment (spanAnnotations); more are scored in groups
MAX_DIGITS = 40  # a JSON integer longer than this is no id /v1/score reads (and Python refuses 4,300 digits)
DATABASE_RETRY_S = 5  # Retry-After when the bot's database cannot be read
CLIENT_GONE = 499  # what /metrics counts a request whose client left before it was read as (nginx's convention)
TOO_LONG = object()  # stands for a JSON integer too long to read (`_bounded_int`)


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
                settings = dataclasses.replace(self.settings, model_dir=Path(self.settings.models_dir) / name)
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
        for worker in [*self._others.values(), *self._retired, self.current]:
            await asyncio.to_thread(worker.stop)
        self._others.clear()
        self._retired.clear()


@dataclasses.dataclass
class Service:
    """What the handlers share: settings, models, the bot's database (read only; None without one)."""

    settings: Settings
    models: Models
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
        return Policy.with_overrides(worker.model.info.thresholds, config.thresholds if config else None)


def _database_unavailable(exc: Exception) -> str | None:
    """One line when `exc` means the database cannot be used now (a server down, a file gone), not a bug."""
    if isinstance(exc, DatabaseError):
        return str(exc)
    return unavailable_reason(exc)


SERVICE = web.AppKey("service", Service)
GUARD = web.AppKey("guard", ConnectionGuard)
CALLER = web.RequestKey("caller", str)  # who an API request is from: its key's digest, or its address


def create_app(settings: Settings, db: Database | None = None) -> web.Application:
    """The application; the model loads (off the event loop) when it starts, and stops with it."""
    # outermost first: the connection guard sees every request; CORS headers go on every answer, errors included
    # (a browser could not read them else)
    app = web.Application(client_max_size=settings.api_max_body_bytes,
                          middlewares=[follow_requests, _cors, _errors, _access])
    app[GUARD] = ConnectionGuard(header_timeout=settings.api_header_timeout,
                                 keepalive_timeout=settings.api_keepalive_timeout,
                                 limit=settings.api_max_connections, metrics=Metrics())
    app.router.add_get("/", _playground)
    app.router.add_get("/$discovery/rest", _discovery)
    app.router.add_post("/v1alpha1/comments:analyze", _analyze)
    app.router.add_post("/v1/score", _score)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    app.cleanup_ctx.append(functools.partial(_lifecycle, settings, db))
    return app


async def _lifecycle(settings: Settings, db: Database | None, app: web.Application) -> Any:
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


# -- middlewares -----------------------------------------------------------------------------------------
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _is_api(request: web.Request) -> bool:
    return request.path.startswith(("/v1alpha1/", "/v1/"))


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure in Google's error format, as Perspective answers it."""
    try:
        return await handler(request)
    except ApiError as exc:
        response = web.json_response(exc.body(), status=exc.code, headers=exc.headers)
        if exc.code == 408:  # a client too slow to send its body gets no more time on this connection
            response.force_close()
        return response
    except web.HTTPRequestEntityTooLarge:
        error = ApiError.body_too_large(request.app[SERVICE].settings.api_max_body_bytes)
        return web.json_response(error.body(), status=error.code)
    except ClientGone:
        request.app[SERVICE].guard.gone.event("a client (%s) left before its request was read", request.remote)
        return web.Response(status=CLIENT_GONE)  # written to nobody: the connection is closed
    except web.HTTPException as exc:
        status = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status, "INVALID_ARGUMENT")
        return web.json_response({"error": {"code": exc.status, "message": exc.reason, "status": status}},
                                 status=exc.status)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        error = ApiError.internal()
        return web.json_response(error.body(), status=error.code)


@web.middleware
async def _cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Browsers may call the API only from the origins API_CORS_ORIGINS names; by default from none."""
    origin = request.headers.get("Origin")
    allowed = request.app[SERVICE].cors_origins
    if request.method == "OPTIONS" and origin in allowed:
        response: web.StreamResponse = web.Response(status=204)
    else:
        response = await handler(request)
    if origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, X-Goog-Api-Key, Authorization"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Vary"] = "Origin"
    return response


@web.middleware
async def _access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Keys and rate limits for the API routes; request counts and latencies for every route."""
    service = request.app[SERVICE]
    started = time.perf_counter()
    endpoint = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    status = 500
    try:
        if _is_api(request) or request.path == "/metrics":
            caller = request[CALLER] = _authenticate(request, service)
            wait = service.limiter.take(caller) if _is_api(request) else 0.0
            if wait:
                raise ApiError.quota(service.settings.api_rate_limit).retry_after(wait)
        response = await handler(request)
        status = response.status
        return response
    except ApiError as exc:
        status = exc.code
        raise
    except ClientGone:
        status = CLIENT_GONE
        raise
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        service.metrics.observe(endpoint, status, time.perf_counter() - started)


def _authenticate(request: web.Request, service: Service) -> str:
    """Who is calling, for the rate limit: a key's digest (checked against API_KEYS), or without keys the
    client's address. An address that keeps sending missing or wrong keys is refused for a while before its
    key is even looked at: guessing costs time, and a refusal says nothing about the key."""
    settings = service.settings
    address = _client_address(request, settings.trusted_proxies)
    digests = settings.api_key_digests
    if not digests:
        return f"address:{address}"
    wait = service.auth_failures.wait(address)
    if wait:
        raise ApiError(429, "RESOURCE_EXHAUSTED", "Too many requests with a missing or invalid API key from "
                                                  "this address.").retry_after(wait)
    key = _key(request)
    if not key:
        service.auth_failures.take(address)
        raise ApiError.missing_key()
    digest = hash_api_key(key)
    if digest not in digests:
        service.auth_failures.take(address)
        raise ApiError.bad_key()
    return f"key:{digest}"


def _key(request: web.Request) -> str | None:
    key = request.query.get("key") or request.headers.get("X-Goog-Api-Key")
    auth = request.headers.get("Authorization", "")
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    return key


def _client_address(request: web.Request, proxies: frozenset[str]) -> str:
    """The client's address: the peer's, or where the peer is a trusted reverse proxy, the last address its
    X-Forwarded-For names that is not a trusted proxy itself (the ones before it, the client may have written)."""
    address = request.remote or ""
    if address not in proxies:
        return address
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        try:
            address = str(ipaddress.ip_address(hop.strip()))
        except ValueError:
            break
        if address not in proxies:
            return address
    return address


# -- handlers --------------------------------------------------------------------------------------------
async def _analyze(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    raw = await read_body(request, service.settings.api_body_timeout)
    # a large body in Google's lenient JSON takes a while to parse: off the event loop then
    worker = service.models.current
    supported = worker.model.info.languages
    analyze = (await asyncio.to_thread(parse_analyze, raw, supported) if len(raw) > 65_536
               else parse_analyze(raw, supported))
    detected = [language_code(code) for code in analyze.languages]
    if not detected:  # the client left it to us: a language the model does not read is refused as Perspective does
        found = await _LANGUAGES.identify_off_loop([analyze.text], [supported])
        detected = [found[0].language]
        if detected[0] not in supported and analyze.attributes and not analyze.drop_unsupported:
            raise ApiError.language_not_supported(next(iter(analyze.attributes)), detected, detected=True)
    if not analyze.attributes or detected[0] not in supported:  # dropUnsupportedAttributes: nothing to score
        return web.json_response(_without_scores(analyze, detected))
    spans = _bounded(sentence_spans(analyze.text)) if analyze.span_annotations else []
    pieces = [analyze.text[begin:end] for begin, end in spans] if len(spans) > 1 else []
    scores = await _scored(request, worker, [analyze.text, *pieces])
    service.metrics.scored(len(scores))
    summary = scores[0].as_dict()
    span_scores = None
    if analyze.span_annotations:
        per_span = [s.as_dict() for s in scores[1:]] if pieces else [summary] * len(spans)
        span_scores = [(begin, end, values) for (begin, end), values in zip(spans, per_span, strict=True)]
    return web.json_response(analyze_response(analyze, summary, span_scores, detected))


def _without_scores(analyze: AnalyzeRequest, detected: list[str]) -> dict[str, Any]:
    return analyze_response(dataclasses.replace(analyze, attributes={}), {}, None, detected)


async def _scored(request: web.Request, worker: ScoringWorker, texts: list[str]) -> list[Scores]:
    """The texts scored in their caller's turns, and charged to its rate limit by their work (the request
    paid one token to get in)."""
    service = request.app[SERVICE]
    caller = request.get(CALLER, "")
    service.limiter.charge(caller, cost(texts) - 1)
    return list(await asyncio.gather(*(service.fair.score(worker, caller, text) for text in texts)))


def _bounded(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """At most MAX_SPANS spans, neighbouring sentences joined where a text has more: a 20 KB comment of
    one-word sentences must not cost thousands of forward passes."""
    if len(spans) <= MAX_SPANS:
        return spans
    size = -(-len(spans) // MAX_SPANS)
    return [(spans[i][0], spans[min(i + size, len(spans)) - 1][1]) for i in range(0, len(spans), size)]


async def _score(request: web.Request) -> web.Response:
    """{"texts": [...], "guild_id": optional, "model": optional} -> {"model", "results": [--jsonl objects]}."""
    service = request.app[SERVICE]
    body = _load_batch(await read_body(request, service.settings.api_body_timeout))
    if not isinstance(body, dict):
        raise ApiError(400, "INVALID_ARGUMENT", "The request body must be a JSON object.")
    texts, guild_id, model = body.get("texts"), body.get("guild_id"), body.get("model")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ApiError(400, "INVALID_ARGUMENT", "texts must be a non-empty list of strings.")
    limit = service.settings.api_max_texts
    if len(texts) > limit:
        raise ApiError(400, "INVALID_ARGUMENT", f"Too many texts: {len(texts)} (at most {limit} a request).")
    for i, text in enumerate(texts):
        if not text.strip():
            raise ApiError(400, "INVALID_ARGUMENT", f"texts[{i}] is empty.")
        if len(text.encode("utf-8", "surrogatepass")) > COMMENT_MAX_BYTES:
            raise ApiError(400, "INVALID_ARGUMENT", f"texts[{i}] is longer than {COMMENT_MAX_BYTES} bytes.")
    if guild_id is not None and (not isinstance(guild_id, int) or isinstance(guild_id, bool)
                                 or not 0 <= guild_id < 2**63):
        raise ApiError(400, "INVALID_ARGUMENT", "guild_id must be a Discord server id (a number).")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "INVALID_ARGUMENT", "model must be the name of a folder in models/.")
    async with service.models.use(model) as worker:
        policy = await service.policy(worker, guild_id)
        languages = worker.model.info.languages
        detected = await _LANGUAGES.identify_off_loop(texts, [languages] * len(texts))
        read = [i for i, d in enumerate(detected) if d.language in languages]  # never score another as English
        scores = await _scored(request, worker, [texts[i] for i in read])
        version = worker.model.version
    service.metrics.scored(len(scores))
    by_index = dict(zip(read, scores, strict=True))
    decisions = [dataclasses.replace(policy.decide(by_index[i]), language=d.language) if i in by_index
                 else Decision.unread(d.language, version, review=False) for i, d in enumerate(detected)]
    return web.json_response({"model": version,
                              "results": [d.to_json(t) for t, d in zip(texts, decisions, strict=True)]})


def _load_batch(raw: bytes) -> Any:
    """A /v1/score body as JSON, refused as comments:analyze refuses the same faults."""
    try:
        return json.loads(raw, parse_int=_bounded_int)
    except RecursionError:  # nested past the parser's stack
        raise ApiError.invalid_json("Message too deep.", "", None) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {exc}") from None


def _bounded_int(digits: str) -> object:
    """A JSON integer, or for one too long to be anything this endpoint reads, a value every check refuses
    (reading thousands of digits would fail with advice about `sys.set_int_max_str_digits`)."""
    return int(digits) if len(digits) <= MAX_DIGITS else TOO_LONG


async def _models(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    return web.json_response({"models": await asyncio.to_thread(service.models.listing), "labels": list(LABELS)})


async def _discovery(request: web.Request) -> web.Response:
    version = request.query.get("version", "v1alpha1")
    if version != "v1alpha1":
        raise ApiError(404, "NOT_FOUND", f"Discovery document not found for API service: commentanalyzer "
                                         f"format: rest version: {version}")
    return web.json_response(discovery_document(_root_url(request)))


def _root_url(request: web.Request) -> str:
    """API_PUBLIC_URL, else the address the client connected to: never the Host header, which is the client's
    to write and would point Google's client (and whoever it hands the document to) anywhere."""
    settings = request.app[SERVICE].settings
    if settings.api_public_url:
        return settings.api_public_url
    local = request.transport.get_extra_info("sockname") if request.transport is not None else None
    host, port = (local[0], local[1]) if isinstance(local, tuple) else (settings.api_host, settings.api_port)
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


async def _healthz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    worker = service.models.current
    return web.json_response({"status": "ok", "model": worker.model.version,
                              "queue_depth": worker.queue_depth + service.fair.waiting(worker),
                              "engine": worker.model.choice.describe()})


async def _metrics(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    worker = service.models.current
    text = service.metrics.render(queue_depth=worker.queue_depth + service.fair.waiting(worker),
                                  model_version=worker.model.version,
                                  open_connections=service.guard.open_connections)
    return web.Response(text=text, content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def _playground(request: web.Request) -> web.Response:
    return web.Response(text=request.app[SERVICE].playground, content_type="text/html",
                        charset="utf-8", headers={"Content-Security-Policy": "default-src 'self'; "
                                                  "script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; "
                                                  "img-src 'self' data:"})  # the page's icon is inline


# -- running it ------------------------------------------------------------------------------------------
async def serve(settings: Settings, db: Database | None, host: str, port: int,
                ready: Callable[[str], None] | None = None, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (or the task is cancelled: Ctrl-C); `ready(url)` once listening."""
    app = create_app(settings, db)
    guard = app[GUARD]
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()  # the model is loaded: the files it keeps open are counted below
    guard.limit = fit_file_limit(settings.api_max_connections)
    loop = asyncio.get_running_loop()
    restore = guard.quiet_accept_errors(loop)
    listener: asyncio.Server | None = None
    try:
        assert runner.server is not None  # set up above
        # aiohttp's own TCPSite would serve with its plain handler: the guard's keeps the connections bounded
        listener = await loop.create_server(guard.factory(runner.server, loop), host, port, backlog=BACKLOG)
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
        log.info("listening on %s", url)
        if ready is not None:
            ready(url)
        await (stop or asyncio.Event()).wait()
    finally:
        if listener is not None:
            listener.close()
        await runner.cleanup()
        guard.close()
        restore()


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")

