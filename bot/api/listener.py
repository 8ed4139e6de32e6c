"""Accepting the connections of `toxmod serve` within the open-file limit.

asyncio's own server accepts up to its backlog of connections each time a listening socket is readable, and
hands each to its protocol only a loop iteration or two later. Under a flood of connections, sockets pile up
faster than the guard can close the ones it evicts, however much headroom is guessed for them, and accept()
ends up failing with EMFILE for every client, a health check included. Here the server accepts its connections
itself: every client socket is counted from accept() until its transport closes it, and the listening sockets are
not read while the count is at its budget. The kernel queues the clients that wait meanwhile (up to the backlog),
and they are accepted as closed connections make room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

from bot.api.connections import ConnectionGuard, GuardedHandler

log = logging.getLogger(__name__)

BACKLOG = 128  # connections the kernel queues for us while we accept none
ACCEPT_RETRY = 1.0  # seconds before accepting again after accept() failed (asyncio's own delay)


class Listener:
    """The listening sockets of one server, accepting while fewer than `budget` client sockets are open."""

    def __init__(self, guard: ConnectionGuard, factory: Callable[[], GuardedHandler], budget: int,
                 retry: float = ACCEPT_RETRY) -> None:
        self.guard, self.factory, self.budget, self.retry = guard, factory, budget, retry
        self.held = 0  # client sockets accepted and not yet closed
        self.sockets: list[socket.socket] = []
        self._reading = False
        self._resume: asyncio.TimerHandle | None = None
        self._connecting: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> None:
        """Listen on every address `host` names (as asyncio's `create_server` does) and start accepting."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        try:
            for family, kind, proto, _, address in dict.fromkeys(infos):
                sock = socket.socket(family, kind, proto)
                self.sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:  # one socket per family, as asyncio does
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(BACKLOG)
                sock.setblocking(False)
        except OSError:
            self.close()
            raise
        self.accept_on(self.sockets)

    def accept_on(self, sockets: list[socket.socket]) -> None:
        """Start accepting on listening, non-blocking `sockets`, which the listener now owns."""
        self.sockets = sockets
        self._read()

    def close(self) -> None:
        """Stop accepting and close the listening sockets; connections already open are the runner's to close."""
        self._pause()
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        for task in self._connecting:
            task.cancel()
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()

    # -- accepting -------------------------------------------------------------------------------------------
    def _read(self) -> None:
        if self._reading or not self.sockets:
            return
        loop = asyncio.get_running_loop()
        for sock in self.sockets:
            loop.add_reader(sock.fileno(), self._accept, sock)
        self._reading = True

    def _pause(self) -> None:
        if not self._reading:
            return
        loop = asyncio.get_running_loop()
        for sock in self.sockets:
            loop.remove_reader(sock.fileno())
        self._reading = False

    def _accept(self, listening: socket.socket) -> None:
        while self.held < self.budget:
            try:
                client, _ = listening.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return  # nobody else waiting (or the client gave up while queued)
            except OSError as exc:  # out of file descriptors or memory, mostly
                self._starved(exc)
                return
            self._connect(client)
        self._pause()  # at the budget: the kernel queues newcomers until a connection closes

    def _starved(self, exc: OSError) -> None:
        """accept() failed, mostly for want of a file descriptor (something beside the clients took them): say
        so once an episode, and try again after a pause instead of spinning on a socket that stays readable."""
        self.guard.metrics.closed("accept_failed")
        self.guard.starved.event("cannot accept connections: %s (open: %d)", exc.strerror,
                                 self.guard.open_connections)
        self._pause()
        self._resume = asyncio.get_running_loop().call_later(self.retry, self._retried)

    def _retried(self) -> None:
        self._resume = None
        self._read()

    def _connect(self, client: socket.socket) -> None:
        client.setblocking(False)
        self.held += 1
        released = _Once(self._release)

        def handler() -> GuardedHandler:
            connection = self.factory()
            connection.released = released
            return connection

        async def connect() -> None:
            try:
                await asyncio.get_running_loop().connect_accepted_socket(handler, client)
            except BaseException:
                client.close()
                released()
                raise

        task = asyncio.get_running_loop().create_task(connect())
        self._connecting.add(task)
        task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[None]) -> None:
        self._connecting.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("cannot open an accepted connection: %s", task.exception())

    def _release(self) -> None:
        self.held -= 1
        if self._resume is None and self.held < self.budget:
            with contextlib.suppress(RuntimeError):  # the loop is gone: the server is down
                self._read()


class _Once:
    """Calls `action` the first time it is called, never again: a socket is released once, whichever of its
    transport closing or its connection failing comes first."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action: Callable[[], None] | None = action

    def __call__(self) -> None:
        action, self._action = self._action, None
        if action is not None:
            action()
