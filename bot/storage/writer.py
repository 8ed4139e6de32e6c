"""The write path: one thread writes whatever is queued, and keeps writes in memory while the database
cannot be written at all.

The event loop only awaits a future. The thread groups what is queued into one transaction, each job in its
own savepoint, so a job's own error rolls back that job alone; when the transaction fails as a whole (a job
broke it, or the commit failed), its jobs are written again one transaction each, so a failing job fails
only its own future.

When the database cannot be written at all (disk full, read-only, file gone, I/O error), writes made with
`write_or_spool` wait in a bounded in-memory spool that the writer retries with backoff, oldest first and
before anything newer; plain writes fail at once with `DatabaseUnavailable`, and their callers say so.
`health` says so in one line until a write succeeds again; the log gets one line when a first write waits
in the spool and one when the database takes writes again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bot.batching import drain, take_batch
from bot.storage.engine import waiting_for_locks, write_sessions
from bot.storage.errors import DatabaseError, DatabaseUnavailable, is_locked, unavailable_reason

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Spooled(Generic[T]):
    """A write the database could not take now, kept in memory; `saved` completes once it is written.

    `saved` gets the job's result, the job's own exception, or `DatabaseUnavailable` if the write was
    dropped (the spool overflowed, or the bot closed before the database came back). Nobody has to await
    it: the writer logs what it saves and what it drops.
    """

    reason: str
    saved: asyncio.Future[T]


_STOP = object()


def _settle(future: Future, result: object = None, error: BaseException | None = None) -> None:
    """Complete a future; one its awaiting task cancelled is left alone."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass


class _Job:
    __slots__ = ("finished", "fn", "future", "spooled")

    def __init__(self, fn: Callable[[Session], object], spoolable: bool) -> None:
        self.fn = fn
        self.future: Future = Future()
        # written, or failed for good; not `future.done()`, which a caller's cancel sets: the write still counts
        self.finished = False
        # write_or_spool only: completed with the reason when the job goes into the spool
        self.spooled: Future[str] | None = Future() if spoolable else None

    def finish(self, result: object = None, error: BaseException | None = None) -> None:
        self.finished = True
        _settle(self.future, result, error)


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()  # marks it retrieved: an unawaited Spooled.saved that failed logs nothing


class Writer:
    """The writer thread and its spool, over one engine.

    `lock_timeout`: seconds a write waits for a lock held by another connection before it fails.
    `spool_capacity`: writes kept while the database cannot be written; beyond it the oldest are dropped.
    `retry_initial`, `retry_max`: the spool is retried after `retry_initial` seconds, doubling up to
    `retry_max`. `file`: the SQLite file written, checked before each write (`_file_missing`).
    """

    def __init__(self, engine: Engine, file: Path | None, *, max_batch: int, max_wait_ms: float,
                 lock_timeout: float, spool_capacity: int, retry_initial: float, retry_max: float) -> None:
        self.engine = engine
        self._sessions = write_sessions(engine)
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.lock_timeout = lock_timeout
        self.spool_capacity = spool_capacity
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        # writer-thread state while the database cannot be written (an "episode")
        self._spool: deque[_Job] = deque()
        self._retrying = 0  # spooled jobs out of the spool while the writer tries them
        self._down: str | None = None  # why the database cannot be written; None when it can
        self._episode: float | None = None  # when it stopped being writable, until the recovery is logged
        self._backoff = 0.0
        self._next_try = 0.0
        self._saved = 0
        self._dropped = 0
        self._told = False  # the episode's warning is logged: once a write waits in the spool, not before
        self._file = file.expanduser().resolve() if file is not None else None
        self._file_id: tuple[int, int] | None = None  # (device, inode) of the file the connections opened

    def start(self) -> None:
        """Start the writer thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="toxmod-db-writer", daemon=True)
            self._thread.start()

    def close(self, timeout: float) -> None:
        """Write everything queued (and spooled, if the database takes it now), then end the thread."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    @property
    def health(self) -> str | None:
        """None when writes succeed; else one line: why the database cannot be written, and what waits."""
        down = self._down
        if down is None:
            return None
        waiting = len(self._spool) + self._retrying
        return f"{down}; {waiting} write{'' if waiting == 1 else 's'} waiting in memory"

    def submit(self, fn: Callable[[Session], T]) -> Future:
        """Queue a write that fails at once (rather than waiting in the spool) while the database is down."""
        return self._submit(fn, spoolable=False).future

    def _submit(self, fn: Callable[[Session], T], spoolable: bool) -> _Job:
        if self._thread is None:
            raise DatabaseError("the database writer is not running")
        job = _Job(fn, spoolable)
        self._queue.put(job)
        return job

    async def write(self, fn: Callable[[Session], T]) -> T:
        """Write, or fail: `DatabaseUnavailable` at once while the database cannot be written at all."""
        return await asyncio.wrap_future(self.submit(fn))

    async def write_or_spool(self, fn: Callable[[Session], T]) -> T | Spooled[T]:
        """Write; if the database cannot be written at all, keep the write in memory and return `Spooled`
        at once. Errors of `fn` itself, and a lock held past `lock_timeout`, still raise."""
        job = self._submit(fn, spoolable=True)
        assert job.spooled is not None  # noqa: S101 - narrows for mypy: a spoolable job is submitted with its spool slot
        saved: asyncio.Future[T] = asyncio.wrap_future(job.future)
        spooled = asyncio.wrap_future(job.spooled)
        await asyncio.wait((saved, spooled), return_when=asyncio.FIRST_COMPLETED)
        if saved.done():
            return saved.result()
        saved.add_done_callback(_retrieve)
        return Spooled(spooled.result(), saved)

    # -- the thread ------------------------------------------------------------------------------------
    def _transact(self, jobs: list[_Job]) -> list[tuple[_Job, object, BaseException | None]]:
        """One transaction, each job in a savepoint: a job's own error rolls back that job alone. Errors
        that concern the whole database (a lock, or no write possible) abort it, as does a failed commit."""
        def once() -> list[tuple[_Job, object, BaseException | None]]:
            results: list[tuple[_Job, object, BaseException | None]] = []
            with self._sessions.begin() as session:
                for job in jobs:
                    try:
                        with session.begin_nested():  # leaving it flushes: a constraint may fail only here
                            result = job.fn(session)
                        results.append((job, result, None))
                    except DBAPIError as exc:
                        if is_locked(exc) or unavailable_reason(exc) is not None:
                            raise
                        results.append((job, None, exc))
                    except Exception as exc:
                        results.append((job, None, exc))
            return results

        return waiting_for_locks(once, self.lock_timeout)

    def _write(self, jobs: list[_Job]) -> str | None:
        """Write `jobs` and settle their futures; or, when the database cannot be written at all, return
        why, with the jobs not yet written left unsettled."""
        reason = self._file_missing()
        if reason is not None:
            return reason
        try:
            results = self._transact(jobs)
        except Exception as exc:
            reason = unavailable_reason(exc)
            if reason is not None:
                return reason
            if isinstance(exc, DBAPIError) and is_locked(exc):
                locked = DatabaseError(f"database is locked: another connection held the write lock for more "
                                       f"than {self.lock_timeout:g} s")
                log.error("%s; %d writes failed", locked, len(jobs))
                for job in jobs:
                    job.finish(error=locked)
                return None
            if len(jobs) > 1:  # one job (or the commit of them all) broke it: find which, each alone
                for job in jobs:
                    reason = self._write([job])
                    if reason is not None:
                        return reason
                return None
            error: BaseException = exc
            if isinstance(exc, DBAPIError):
                error = DatabaseError(f"database write failed: {exc.orig}")
                error.__cause__ = exc
            jobs[0].finish(error=error)
            return None
        self._committed(results)
        for job, result, job_error in results:
            job.finish(result, job_error)
        return None

    def _file_missing(self) -> str | None:
        """Why a SQLite file can no longer take writes: deleted or moved, SQLite itself notices nothing (open
        connections keep writing to the unlinked file, and every write is lost when they close), so the
        path is checked before each write transaction. A different file at the path (a backup put back)
        gets fresh connections. A file never seen yet is SQLite's to create."""
        if self._file is None:
            return None
        try:
            stat = os.stat(self._file)
        except FileNotFoundError:
            if self._file_id is None:
                return None
            return f"database file {self._file} is missing (deleted or moved)"
        except OSError as exc:
            return f"database file {self._file} cannot be read ({exc.strerror})"
        identity = (stat.st_dev, stat.st_ino)
        if self._file_id is not None and identity != self._file_id:
            log.warning("database file %s was replaced: reconnecting to the new file", self._file)
            self.engine.dispose()
        self._file_id = identity
        return None

    def _handle(self, batch: list[_Job]) -> None:
        if self._down is not None and (time.monotonic() < self._next_try or not self._retry()):
            self._hold(batch)
            return
        reason = self._write(batch)
        if reason is not None:
            self._unavailable(reason)
            self._hold(batch)

    def _retry(self) -> bool:
        """Write the spool, oldest first; False (and the next try scheduled) while the database refuses.

        Each chunk leaves the spool before it is written (and goes back if refused): once the last one
        commits, the spool is empty and `health` clear before anyone awaiting a `saved` future runs."""
        while self._spool:
            chunk = [self._spool.popleft() for _ in range(min(len(self._spool), self.max_batch))]
            self._retrying = len(chunk)
            reason = self._write(chunk)
            self._retrying = 0
            if reason is not None:
                self._spool.extendleft(reversed([job for job in chunk if not job.finished]))
                self._unavailable(reason)
                return False
        return True

    def _hold(self, jobs: list[_Job]) -> None:
        """While the database cannot be written: spoolable jobs wait in the spool, the others fail at once."""
        assert self._down is not None  # noqa: S101 - narrows for mypy: jobs are held only while the database is down
        reason = self._down
        added = []
        for job in jobs:
            if job.finished:
                continue
            if job.spooled is None:
                job.finish(error=DatabaseUnavailable(reason))
            else:
                self._spool.append(job)
                added.append(job)
        if added and not self._told:  # plain writes fail at once instead, and their callers say so
            log.warning("%s: writes are kept in memory (up to %d) and retried until it can be written",
                        reason, self.spool_capacity)
            self._told = True
        overflow = len(self._spool) - self.spool_capacity
        if overflow > 0:
            lost = DatabaseUnavailable(f"{reason}; the write was dropped from the full spool")
            for _ in range(overflow):
                self._spool.popleft().finish(error=lost)
            if not self._dropped:
                log.warning("write spool full (%d writes): dropped the %d oldest; later drops are counted when "
                            "the database is back", self.spool_capacity, overflow)
            self._dropped += overflow
        for job in added:  # last: whoever awaits one sees the spool (and `health`) as it now is
            if job.spooled is not None and not job.finished:
                _settle(job.spooled, reason)

    def _unavailable(self, reason: str) -> None:
        if self._episode is None:
            log.debug("database cannot be written (%s)", reason)
            self._episode = time.monotonic()
            self._backoff = self.retry_initial
        else:
            self._backoff = min(self._backoff * 2, self.retry_max)
            log.debug("database still cannot be written (%s); next try in %.1f s", reason, self._backoff)
        self._down = reason
        self._next_try = time.monotonic() + self._backoff

    def _committed(self, results: list[tuple[_Job, object, BaseException | None]]) -> None:
        """A write transaction committed (called before its futures complete, so that whoever awaits one
        sees the health it left, and the log line): with nothing left in the spool, the episode is over."""
        if self._episode is None:
            return
        self._saved += sum(job.spooled is not None and job.spooled.done() and error is None
                           for job, _, error in results)
        if self._spool:
            return
        dropped = f", {self._dropped} dropped" if self._dropped else ""
        log.info("database can be written again after %.0f s: %d spooled writes saved%s",
                 time.monotonic() - self._episode, self._saved, dropped)
        self._down, self._episode, self._saved, self._dropped, self._told = None, None, 0, 0, False

    def _next(self) -> object:
        """The next queued item; None when a retry of the spool is due first."""
        if not self._spool:
            return self._queue.get()
        try:
            return self._queue.get(timeout=max(self._next_try - time.monotonic(), 0.001))
        except queue.Empty:
            return None

    def _run(self) -> None:
        while True:
            item = self._next()
            if item is None:
                self._retry()
                continue
            if item is _STOP:
                break
            batch, marker = take_batch(self._queue, item, self.max_batch, self.max_wait,
                                       lambda queued: queued is not _STOP)
            self._handle(batch)
            if marker is _STOP:
                break
        # anything queued after the stop marker is written too
        rest, _ = drain(self._queue, lambda queued: queued is not _STOP)
        if rest:
            self._handle(rest)
        self._last_chance()

    def _last_chance(self) -> None:
        """At close: one more try for the spool, without waiting for the backoff; what it refuses is lost."""
        if not self._spool:
            return
        if self._retry():
            return
        lost = DatabaseUnavailable(f"{self._down}; the bot closed before the database could be written")
        log.error("%s: %d spooled writes lost", self._down, len(self._spool))
        while self._spool:
            self._spool.popleft().finish(error=lost)
