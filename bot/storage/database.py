"""Engine, migrations and the write path.

All writes go through one writer thread that groups whatever is queued into one transaction (each job in
its own savepoint, so one bad job never sinks the others); the event loop only awaits a future. Reads
run in a worker thread via `asyncio.to_thread`. SQLite runs in WAL mode so readers never block the writer.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.batching import take_batch
from bot.settings import PROJECT_ROOT

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS = PROJECT_ROOT / "migrations"


class DatabaseError(RuntimeError):
    """The database cannot be used (missing directory, locked past the retry budget, unreadable file)."""


def make_engine(url: str, lock_timeout: float = 10.0) -> Engine:
    """An engine; for SQLite, WAL mode and a wait of `lock_timeout` seconds on a lock held elsewhere."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    db = parsed.database
    if db and db != ":memory:":
        parent = Path(db).expanduser().resolve().parent
        if not parent.is_dir():
            raise DatabaseError(f"database directory does not exist: {parent}")
    engine = create_engine(url, connect_args={"timeout": lock_timeout, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(lock_timeout * 1000)}")
        cur.close()

    return engine


def upgrade(url: str, revision: str = "head") -> None:
    """Run the Alembic migrations up to `revision` (the bot does this at start, `toxmod db upgrade` too)."""
    from alembic import command
    from alembic.config import Config

    make_engine(url).dispose()  # fails clearly on a missing database directory
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    try:
        command.upgrade(cfg, revision)
    except OperationalError as exc:
        raise DatabaseError(f"cannot migrate {make_url(url).render_as_string()}: {exc.orig}") from exc


_STOP = object()


class _Job:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[Session], object]) -> None:
        self.fn = fn
        self.future: Future = Future()


class Database:
    """One engine, one writer thread, and helpers to run reads off the event loop."""

    def __init__(self, url: str, *, max_batch: int = 256, max_wait_ms: float = 20.0, retries: int = 8,
                 lock_timeout: float = 10.0) -> None:
        self.url = url
        self.engine = make_engine(url, lock_timeout)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.retries = retries
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def upgrade(self) -> Database:
        upgrade(self.url)
        return self

    def start(self) -> Database:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="toxmod-db-writer", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then release the engine."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None
        self.engine.dispose()

    # -- API -------------------------------------------------------------------------------------------
    def submit(self, fn: Callable[[Session], T]) -> Future:
        if self._thread is None:
            raise DatabaseError("the database writer is not running")
        job = _Job(fn)
        self._queue.put(job)
        return job.future

    async def write(self, fn: Callable[[Session], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    def write_sync(self, fn: Callable[[Session], T]) -> T:
        return self.submit(fn).result()

    def read_sync(self, fn: Callable[[Session], T]) -> T:
        with self.sessions() as session:
            return fn(session)

    async def read(self, fn: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self.read_sync, fn)

    def transaction(self, fn: Callable[[Session], T]) -> T:
        """All or nothing in the caller's thread: for bulk jobs (replay) that must not half-write."""
        for attempt in range(self.retries + 1):
            try:
                with self.sessions.begin() as session:
                    return fn(session)
            except OperationalError as exc:
                if not _is_locked(exc) or attempt == self.retries:
                    raise DatabaseError(f"database write failed: {exc.orig}") from exc
                time.sleep(min(0.05 * 2**attempt, 2.0))
        raise AssertionError("unreachable")

    # -- writer thread ---------------------------------------------------------------------------------
    def _write_batch(self, batch: list[_Job]) -> None:
        for attempt in range(self.retries + 1):
            results: list[tuple[_Job, object, BaseException | None]] = []
            try:
                with self.sessions.begin() as session:
                    for job in batch:
                        try:
                            with session.begin_nested():
                                results.append((job, job.fn(session), None))
                        except OperationalError:
                            raise
                        except Exception as exc:
                            results.append((job, None, exc))
            except OperationalError as exc:
                if _is_locked(exc) and attempt < self.retries:
                    log.warning("database locked, retrying batch of %d (attempt %d)", len(batch), attempt + 1)
                    time.sleep(min(0.05 * 2**attempt, 2.0))
                    continue
                self.last_error = f"database write failed: {exc.orig}"
                log.error("%s; %d writes lost", self.last_error, len(batch))
                for job in batch:
                    job.future.set_exception(DatabaseError(self.last_error))
                return
            for job, result, error in results:
                if error is not None:
                    job.future.set_exception(error)
                else:
                    job.future.set_result(result)
            return

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            batch, marker = take_batch(self._queue, item, self.max_batch, self.max_wait,
                                       lambda queued: queued is not _STOP)
            self._write_batch(batch)
            if marker is _STOP:
                break
        # anything queued after the stop marker is written too
        rest = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                rest.append(item)
        if rest:
            self._write_batch(rest)


def _is_locked(exc: OperationalError) -> bool:
    return "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower()
