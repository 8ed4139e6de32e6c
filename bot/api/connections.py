"""The connections of `toxmod serve`: how long a client may take, how many may be open at once, and what the log
says when clients misbehave.

Left to itself aiohttp waits for a request's headers as long as its keep-alive timeout (an hour), for a body
forever, and accepts connections until the process runs out of file descriptors, when nobody (a health check
included) is answered any more and asyncio logs a traceback every second. Here:

- a new connection has API_HEADER_TIMEOUT to send its first request's headers; between requests an idle one
  has API_KEEPALIVE_TIMEOUT (aiohttp's keep-alive timer, which also closes a connection whose next request's
  headers are still incomplete when it fires); a body has API_BODY_TIMEOUT from its headers (`read_body`);
- at most API_MAX_CONNECTIONS are open. One more closes the connection that has waited longest without being
  answered (still sending, or idle between requests): clients that hold sockets open cannot starve the ones
  that send whole requests. Only when every connection is being answered is the newcomer refused, with a 503.
  The limit is fitted under the process's open-file limit when serving starts (`fit_file_limit`), and the
  listener (`bot.api.listener`) accepts no more sockets than fit under it;
- a request aiohttp cannot parse (a header line over 8 KB, say) is answered in the API's JSON error shape;
- trouble that comes in floods (slow clients, the limit reached, clients leaving mid-request, no file
  descriptor left) is logged once per episode (`Episodes`); /metrics counts every case.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong

from bot.api.perspective import ApiError
from bot.api.prometheus import Metrics

log = logging.getLogger(__name__)

HEADROOM = 64  # file descriptors kept for everything but client sockets: model files, the database, logs
# client sockets beyond the connection limit: newcomers accepted at the limit, and the connections they evict
# until the event loop closes them (the listener accepts no more than this many above the limit)
SPARE = 32
MAX_LINE = 8190  # bytes in a request line or a header line (aiohttp's default, said in the error)

# where a connection is: only WORKING ones (a request read and being answered) are never closed for room
NEW, IDLE, READING, WORKING = "new", "idle", "reading", "working"


class ClientGone(Exception):
    """The client closed its connection before its request was read: there is nobody left to answer."""


class Episodes:
    """Logs the first of a run of like events, then nothing until `quiet` seconds pass without one: an attack or
    an outage writes one line, not one per event (the counts are in /metrics)."""

    def __init__(self, level: int, quiet: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.level, self.quiet, self.clock = level, quiet, clock
        self._last: float | None = None

    def event(self, message: str, *args: object) -> None:
        """Log this event if it opens a new episode; count it silently otherwise."""
        now = self.clock()
        if self._last is None or now - self._last >= self.quiet:
            log.log(self.level, f"{message} (more are counted in /metrics, not logged, until {self.quiet:g} s "
                                "pass without one)", *args)
        self._last = now


class GuardedHandler(web.RequestHandler):
    """aiohttp's connection handler, reporting to the guard when it opens and closes, with a timer on its first
    request's headers and its own answer to a request that cannot be parsed."""

    def __init__(self, guard: ConnectionGuard, manager: web.Server, **options: Any) -> None:
        super().__init__(manager, **options)
        self.guard = guard
        self.phase = NEW
        self.deadline: asyncio.TimerHandle | None = None
        self.released: Callable[[], None] | None = None  # set by the listener, which counts open sockets

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register the new connection with the guard, which may refuse it at the limit."""
        super().connection_made(transport)
        self.guard.opened(self)

    def connection_lost(self, exc: BaseException | None) -> None:
        """Let the guard forget the connection before aiohttp tears it down."""
        self.guard.closed(self)
        try:
            super().connection_lost(exc)
        finally:
            if self.released is not None:
                self.released()

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """A request aiohttp could not parse (or a failure past every middleware): the API's JSON error, in one
        log line for the client's mistakes; aiohttp answers plain text and logs a traceback."""
        if request.writer.output_size > 0:  # an answer is half sent: aiohttp gives up on the connection
            return super().handle_error(request, status, exc, message)
        if status >= 500:
            log.error("%s %s failed", request.method, request.path, exc_info=exc)
            error = ApiError(status, "INTERNAL", "Internal error encountered.")
        else:
            error = _unparsed(status, exc, message)
            self.guard.unparsed.event("unreadable request from %s: %s", request.remote, error.message)
        self.guard.metrics.observe("unparsed", error.code, 0.0)
        response = web.json_response(error.body(), status=error.code)
        response.force_close()
        return response


def _unparsed(status: int, exc: BaseException | None, message: str | None) -> ApiError:
    if isinstance(exc, LineTooLong):
        return ApiError(431, "INVALID_ARGUMENT", f"A request line or header is longer than {MAX_LINE} bytes.")
    reason = (message or str(exc or "") or "unreadable").strip().splitlines()[0]
    return ApiError(status, "INVALID_ARGUMENT", f"Malformed HTTP request: {reason}")


class ConnectionGuard:
    """Every open connection, in the order each entered its phase; the timers and the limit on them."""

    def __init__(self, *, header_timeout: float, keepalive_timeout: float, limit: int, metrics: Metrics) -> None:
        self.header_timeout, self.keepalive_timeout = header_timeout, keepalive_timeout
        self.limit = limit  # lowered by `serve` to what the open-file limit allows
        self.metrics = metrics
        self._open: OrderedDict[GuardedHandler, None] = OrderedDict()
        self.slow = Episodes(logging.INFO)  # clients closed for sending too slowly
        self.crowded = Episodes(logging.WARNING)  # connections closed or refused at the limit
        self.unparsed = Episodes(logging.INFO)  # requests that were not HTTP aiohttp could read
        self.gone = Episodes(logging.INFO)  # clients that left before their request was read
        self.starved = Episodes(logging.ERROR)  # accept() failing: no file descriptor left

    @property
    def open_connections(self) -> int:
        """How many connections are open now (a gauge in /metrics)."""
        return len(self._open)

    def factory(self, server: web.Server, loop: asyncio.AbstractEventLoop) -> Callable[[], GuardedHandler]:
        """The protocol factory for `loop.create_server`: aiohttp's handler, answering through `server`."""
        options: dict[str, Any] = {"loop": loop, "keepalive_timeout": self.keepalive_timeout, "access_log": None,
                                   "max_line_size": MAX_LINE, "max_field_size": MAX_LINE}
        return lambda: GuardedHandler(self, server, **options)

    # -- what the handlers and the middleware report -----------------------------------------------------
    def opened(self, connection: GuardedHandler) -> None:
        """Admit a new connection, making room or refusing it at the limit, and start its header deadline."""
        if len(self._open) >= self.limit and not self._make_room():
            self._refuse(connection)
            return
        self._open[connection] = None
        loop = asyncio.get_running_loop()
        connection.deadline = loop.call_later(self.header_timeout, self._header_timeout, connection)

    def closed(self, connection: GuardedHandler) -> None:
        """Forget a connection that closed, with its deadline."""
        self._forget(connection)

    def enter(self, connection: GuardedHandler, phase: str) -> None:
        """`connection` is now in `phase`: a request arrived (its headers are in) or was answered, or its body
        is being read."""
        if connection not in self._open:
            return
        if connection.deadline is not None:
            connection.deadline.cancel()
            connection.deadline = None
        connection.phase = phase
        self._open.move_to_end(connection)

    # -- closing -----------------------------------------------------------------------------------------
    def _forget(self, connection: GuardedHandler) -> None:
        self._open.pop(connection, None)
        if connection.deadline is not None:
            connection.deadline.cancel()
            connection.deadline = None

    def _header_timeout(self, connection: GuardedHandler) -> None:
        connection.deadline = None
        if connection.phase == NEW and connection in self._open:
            self.metrics.closed("header_timeout")
            self.slow.event("closed a connection that sent no complete request headers within %g s "
                            "(API_HEADER_TIMEOUT)", self.header_timeout)
            self._forget(connection)
            connection.force_close()

    def _make_room(self) -> bool:
        """Close the connection that has waited longest without being answered; False when all are."""
        victim = next((c for c in self._open if c.phase != WORKING), None)
        if victim is None:
            return False
        self.metrics.closed("evicted")
        self.crowded.event("%d connections open (API_MAX_CONNECTIONS): closing the ones that waited longest "
                           "without being answered", self.limit)
        self._forget(victim)
        victim.force_close()
        return True

    def _refuse(self, connection: GuardedHandler) -> None:
        """Every connection is being answered: this one is told so and closed, before it sends anything."""
        self.metrics.closed("refused")
        self.crowded.event("%d connections open (API_MAX_CONNECTIONS), all being answered: refusing new ones",
                           self.limit)
        if connection.transport is not None:
            connection.transport.write(_SERVICE_UNAVAILABLE)
        connection.force_close()

    def close(self) -> None:
        """Forget every open connection and its deadline, as the server shuts down."""
        for connection in list(self._open):
            self._forget(connection)


def _service_unavailable() -> bytes:
    """A 503 written straight to a socket no request will be read from (aiohttp never sees it)."""
    payload = json.dumps(ApiError.unavailable().body()).encode()
    head = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(payload)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + payload


_SERVICE_UNAVAILABLE = _service_unavailable()


def _guard(request: web.BaseRequest) -> ConnectionGuard | None:
    connection = request.protocol
    return connection.guard if isinstance(connection, GuardedHandler) else None


def _enter(request: web.BaseRequest, phase: str) -> None:
    connection = request.protocol
    if isinstance(connection, GuardedHandler):
        connection.guard.enter(connection, phase)


async def read_body(request: web.Request, timeout: float) -> bytes:
    """The request's body, read within `timeout` seconds of its headers: 408 past it, `ClientGone` when the
    client leaves first. While it is read the connection counts as waiting, not being answered."""
    _enter(request, READING)
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        guard = _guard(request)
        if guard is not None:
            guard.slow.event("answered 408 to a client that sent no complete body within %g s (API_BODY_TIMEOUT)",
                             timeout)
        raise ApiError(408, "DEADLINE_EXCEEDED",
                       f"The request body did not arrive within {timeout:g} seconds.") from None
    except ConnectionError:
        raise ClientGone(request.remote) from None
    finally:
        _enter(request, WORKING)


@web.middleware
async def follow_requests(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Tells the guard when a connection's request has arrived (it is being answered now, not to be closed for
    room) and when it has been answered (idle, until its next request)."""
    _enter(request, WORKING)
    try:
        return await handler(request)
    finally:
        _enter(request, IDLE)


def fit_file_limit(wanted: int) -> tuple[int, int]:
    """(connections, sockets): the most connections to keep open, at most `wanted`, and the most client sockets
    the listener may hold (the connections, and SPARE more while evicted ones close), both under this process's
    open-file limit, raising the soft limit toward the hard one first where it is lower than `wanted` needs. Out
    of file descriptors, accept() fails for everyone, so a limit above that would never be reached: the cap must
    come first."""
    try:
        import resource
    except ImportError:  # not Unix: no limit to read
        return wanted, wanted + SPARE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = _open_files()
    need = in_use + HEADROOM + SPARE + wanted
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == resource.RLIM_INFINITY or soft >= need:
        return wanted, wanted + SPARE
    sockets = max(2, soft - in_use - HEADROOM)
    fits = max(1, sockets - SPARE)
    log.warning("API_MAX_CONNECTIONS=%d does not fit under the open-file limit (%d, %d in use): serving at most "
                "%d connections at once (raise `ulimit -n` for more)", wanted, soft, in_use, fits)
    return fits, sockets


def _open_files() -> int:
    for folder in ("/proc/self/fd", "/dev/fd"):
        with contextlib.suppress(OSError):
            return len(os.listdir(folder))
    return HEADROOM
