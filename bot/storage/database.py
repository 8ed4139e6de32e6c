"""Engine, migrations and the write path.

All writes go through one writer thread that groups whatever is queued into one transaction, each job in
its own savepoint; the event loop only awaits a future. When the group's transaction fails as a whole (a
job broke it, or the commit failed), its jobs are written again one transaction each, so a failing job
fails only its own future. Reads run in a worker thread via `asyncio.to_thread`.

SQLite, and why:

- WAL mode: readers never block the writer, and the writer never blocks readers.
- Write transactions begin with `BEGIN IMMEDIATE`: they take the write lock up front and wait for it
  (`busy_timeout`, the `lock_timeout` budget). A deferred transaction that reads first would have to
  upgrade its read lock to write, and SQLite answers that with SQLITE_BUSY at once, without waiting,
  when another connection holds or has used the write lock meanwhile: the write was lost. Reads begin
  a deferred transaction, which never takes the write lock.
- `secure_delete`: what an erasure removes is overwritten with zeros, not left in free space of the file;
  `erase` then truncates the WAL, so no old page image keeps it either. (Texts are stored encrypted
  anyway, under keys erasure destroys: sealing.py. This keeps the destroyed keys themselves off the disk.)

PostgreSQL, and why: every connection waits at most `lock_timeout` for a lock (its own `lock_timeout`
setting) and is checked before use (`pool_pre_ping`, so a restarted server costs no failed write). Writes
from several processes are correct through the database's own guarantees (transactions, `ON CONFLICT`,
row locks with `FOR UPDATE`; see repository.py); a deadlock or a lock wait past the budget is retried
like SQLite's busy lock. PostgreSQL keeps what a row held, after it is changed or deleted, in the table's
file (dead rows) and the WAL until it happens to reuse the space: that is why texts are stored encrypted
under keys that erasure destroys (sealing.py), and why `erase` then rewrites the small key table
(`VACUUM FULL`), so no dead row of a destroyed key stays in its file. The WAL segments that recorded a key
keep it until PostgreSQL recycles them (see README, Privacy).

When the database cannot be written at all (disk full, read-only, file gone, I/O error), writes made with
`write_or_spool` wait in a bounded in-memory spool that the writer retries with backoff, oldest first and
before anything newer; plain writes fail at once with `DatabaseUnavailable`, and their callers say so.
`health` says so in one line until a write succeeds again; the log gets one line when a first write waits
in the spool and one when the database takes writes again.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import logging
import os
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.batching import take_batch
from bot.settings import PROJECT_ROOT
from bot.storage.locks import JobLock, lock_file, wait_for_file_lock

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS = PROJECT_ROOT / "migrations"
# seconds the rewrite of the key table after an erasure waits for the table (everyone else waits behind it)
KEY_TABLE_LOCK_WAIT = 2.0

# execution option that marks the connections of write transactions (they BEGIN IMMEDIATE on SQLite)
_WRITE = "toxmod_write"


class DatabaseError(RuntimeError):
    """The database cannot be used (missing directory, locked past the wait budget, unreadable file)."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be written at all right now; `reason` says why in one line ("database is full")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Spooled(Generic[T]):
    """A write the database could not take now, kept in memory; `saved` completes once it is written.

    `saved` gets the job's result, the job's own exception, or `DatabaseUnavailable` if the write was
    dropped (the spool overflowed, or the bot closed before the database came back). Nobody has to await
    it: the writer logs what it saves and what it drops.
    """

    reason: str
    saved: asyncio.Future[T]


def make_engine(url: str, lock_timeout: float = 60.0) -> Engine:
    """An engine; for SQLite, WAL mode, write transactions that take the write lock up front, and a wait
    of up to `lock_timeout` seconds for a lock held elsewhere."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        pg = create_engine(url, pool_pre_ping=True)

        @event.listens_for(pg, "connect")
        def _pg_session(dbapi_conn: Any, _record: object) -> None:  # set here: the URL's own options stay
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET lock_timeout = {int(lock_timeout * 1000)}")
            dbapi_conn.commit()

        return pg
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    path = sqlite_file(url)
    if path is not None:
        parent = path.expanduser().resolve().parent
        if not parent.is_dir():
            raise DatabaseError(f"database directory does not exist: {parent}")
    engine = create_engine(url, connect_args={"timeout": lock_timeout, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:
        dbapi_conn.isolation_level = None  # pysqlite's own BEGIN is deferred; `_sqlite_begin` emits ours
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA secure_delete=ON")
        cur.execute(f"PRAGMA busy_timeout={int(lock_timeout * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (relative to the working directory, as SQLite opens it); None otherwise,
    and None for a `file:` URI (`?uri=true`), whose file only SQLite's URI parser can say."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


# set by a migration that replaced text or digests stored in the clear: the tables whose files may still hold
# the old values, for `upgrade` to rewrite once the migration has committed (VACUUM cannot run inside it)
REWRITE_AFTER_UPGRADE = "toxmod_rewrite_after_upgrade"


def upgrade(url: str, revision: str = "head") -> None:
    """Run the Alembic migrations up to `revision` (the bot does this at start, `toxmod db upgrade` too)."""
    from alembic import command
    from alembic.config import Config

    make_engine(url).dispose()  # fails clearly on a missing database directory
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    lock = _migration_lock(url)
    try:
        command.upgrade(cfg, revision)
    except OperationalError as exc:
        reason = unavailable_reason(exc)
        if reason is not None:  # a full disk, a read-only file: not a problem of the migrations
            raise DatabaseUnavailable(reason) from exc
        raise DatabaseError(f"cannot migrate {make_url(url).render_as_string()}: {exc.orig}") from exc
    finally:
        if lock is not None:
            lock.release()
    rewrite = cfg.attributes.get(REWRITE_AFTER_UPGRADE)
    if rewrite:
        _rewrite_after_upgrade(url, list(rewrite))


def _rewrite_after_upgrade(url: str, tables: list[str]) -> None:
    """After a migration that replaced plaintext (texts, unkeyed digests): leave no old copy in the files.

    SQLite zeroed what the migration removed (it ran with `secure_delete`); truncating the WAL drops the old
    page images. PostgreSQL keeps the old rows as dead rows: `VACUUM FULL` writes each table anew and
    empties the old file. This runs once, at the upgrade, while the bot is stopped (it locks each table
    until done: seconds to minutes on a large `scored_messages`). Its WAL keeps the old rows until
    PostgreSQL recycles the segments."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                return
            if engine.dialect.name != "postgresql":
                return
            for table in tables:
                started = time.monotonic()
                log.info("rewriting %s so that no copy of its old plaintext stays in its file", table)
                conn.exec_driver_sql(f'VACUUM FULL "{table}"')
                log.info("rewrote %s in %.1f s", table, time.monotonic() - started)
    except DBAPIError as exc:
        log.warning("could not rewrite %s after the upgrade (%s): run VACUUM FULL on them once, or the old "
                    "values stay in their files until PostgreSQL reuses the space", ", ".join(tables), exc.orig)
    finally:
        engine.dispose()


def _migration_lock(url: str) -> JobLock | None:
    """SQLite: processes that start at once on a new database (two replays) migrate one after the other,
    never on top of each other; PostgreSQL's migrations take an advisory lock of their own (migrations/env.py).

    None where no lock file can be made beside the database (a read-only directory, a full disk): no process
    can migrate it then either, and the migration says why."""
    path = sqlite_file(url)
    if path is None:
        return None
    try:
        return wait_for_file_lock(lock_file(path, "migrate"),
                                  lambda: log.info("another process is migrating %s: waiting for it to finish", path))
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC):
            log.debug("migrating %s without a lock: %s", path, exc.strerror)
            return None
        raise


def has_schema(url: str) -> bool:
    """Whether the database holds a toxmod schema (any revision): commands that only read refuse one without."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("alembic_version")
    finally:
        engine.dispose()


# SQLite primary result codes that mean no write can succeed until someone fixes the database or its disk
_SQLITE_UNAVAILABLE = {
    8: "database is read-only",  # SQLITE_READONLY
    10: "database disk I/O error",  # SQLITE_IOERR
    13: "database is full",  # SQLITE_FULL
    14: "database file cannot be opened",  # SQLITE_CANTOPEN (its directory is gone, say)
}
_SQLITE_READONLY_DBMOVED = 1032
_SQLITE_BUSY_OR_LOCKED = {5, 6}
# PostgreSQL SQLSTATEs that mean the same (class 08 is a lost connection, whatever its code)
_PG_UNAVAILABLE = {
    "25006": "database is read-only",  # read_only_sql_transaction (a standby, or default_transaction_read_only)
    "53100": "database is full",  # disk_full
    "53200": "database server is out of memory",
    "53300": "database server has too many connections",
    "57P01": "database server is shutting down",  # admin_shutdown
    "57P02": "database server is shutting down",  # crash_shutdown
    "57P03": "database server is not accepting connections yet",  # cannot_connect_now
}
# deadlock_detected, lock_not_available (the lock_timeout budget), serialization_failure: try again
_PG_RETRY = {"40P01", "55P03", "40001"}


def _sqlstate(exc: BaseException) -> str | None:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def unavailable_reason(exc: BaseException) -> str | None:
    """One line when `exc` means the database cannot be written at all (not a lock wait, not a bad job)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        if code == _SQLITE_READONLY_DBMOVED:
            return "database file was moved or deleted"
        return _SQLITE_UNAVAILABLE.get(code & 0xFF)
    state = _sqlstate(exc)
    if state is not None:
        if state.startswith("08"):
            return "database connection lost"
        if state in _PG_UNAVAILABLE:
            return _PG_UNAVAILABLE[state]
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "database connection lost"
    # no connection could be made at all (server down, restarting, unreachable): psycopg gives that no SQLSTATE
    if isinstance(exc, OperationalError) and state is None and type(orig).__module__.startswith("psycopg"):
        return "database server cannot be reached"
    return None


def _is_locked(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_BUSY_OR_LOCKED
    state = _sqlstate(exc)
    if state is not None:
        return state in _PG_RETRY
    message = str(exc.orig).lower()
    return "locked" in message or "deadlock" in message


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


class Database:
    """One engine, one writer thread (with its spool), and helpers to run reads off the event loop.

    `lock_timeout`: seconds a write waits for a lock held by another connection before it fails.
    `spool_capacity`: writes kept while the database cannot be written; beyond it the oldest are dropped.
    `retry_initial`, `retry_max`: the spool is retried after `retry_initial` seconds, doubling up to
    `retry_max`.
    """

    def __init__(self, url: str, *, max_batch: int = 256, max_wait_ms: float = 20.0, lock_timeout: float = 60.0,
                 spool_capacity: int = 10_000, retry_initial: float = 1.0, retry_max: float = 30.0) -> None:
        self.url = url
        self.engine = make_engine(url, lock_timeout)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)  # reads: never take the write lock
        self._write_sessions = sessionmaker(self.engine.execution_options(**{_WRITE: True}), expire_on_commit=False)
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
        path = sqlite_file(url)
        self._file = path.expanduser().resolve() if path is not None else None
        self._file_id: tuple[int, int] | None = None  # (device, inode) of the file the connections opened

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
        """Write everything queued (and spooled, if the database takes it now), then release the engine."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None
        self.engine.dispose()

    # -- API -------------------------------------------------------------------------------------------
    @property
    def health(self) -> str | None:
        """None when writes succeed; else one line: why the database cannot be written, and what waits."""
        down = self._down
        if down is None:
            return None
        waiting = len(self._spool) + self._retrying
        return f"{down}; {waiting} write{'' if waiting == 1 else 's'} waiting in memory"

    def submit(self, fn: Callable[[Session], T]) -> Future:
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
        assert job.spooled is not None
        saved: asyncio.Future[T] = asyncio.wrap_future(job.future)
        spooled = asyncio.wrap_future(job.spooled)
        await asyncio.wait((saved, spooled), return_when=asyncio.FIRST_COMPLETED)
        if saved.done():
            return saved.result()
        saved.add_done_callback(_retrieve)
        return Spooled(spooled.result(), saved)

    def write_sync(self, fn: Callable[[Session], T]) -> T:
        return self.submit(fn).result()

    def read_sync(self, fn: Callable[[Session], T]) -> T:
        with self.sessions() as session:
            return fn(session)

    async def read(self, fn: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self.read_sync, fn)

    def transaction(self, fn: Callable[[Session], T]) -> T:
        """All or nothing in the caller's thread: for bulk jobs (replay) that must not half-write."""
        def once() -> T:
            with self._write_sessions.begin() as session:
                return fn(session)

        try:
            return self._waiting_for_locks(once)
        except DBAPIError as exc:
            reason = unavailable_reason(exc)
            if reason is not None:
                raise DatabaseUnavailable(reason) from exc
            raise DatabaseError(f"database write failed: {exc.orig}") from exc

    async def erase(self, fn: Callable[[Session], T]) -> T:
        """A write that removes text (privacy, retention) and destroys keys; afterwards no copy of what it
        removed stays in the SQLite WAL file, and no dead row of a destroyed key in PostgreSQL's key table."""
        result = await self.write(fn)
        await asyncio.to_thread(self._after_erasure)
        return result

    def erase_sync(self, fn: Callable[[Session], T]) -> T:
        """`erase` as one transaction in the caller's thread (the CLI, without the writer thread)."""
        result = self.transaction(fn)
        self._after_erasure()
        return result

    def _after_erasure(self) -> None:
        self._truncate_wal()
        self._rewrite_key_table()

    def _rewrite_key_table(self) -> None:
        """PostgreSQL: write the key table anew (`VACUUM FULL`), emptying the old file, where a destroyed
        key would stay as a dead row, able to open every copy of the texts it sealed.

        The table is small (a row per member with a stored text), so this takes milliseconds, but it needs
        the table to itself: it waits at most `KEY_TABLE_LOCK_WAIT` for that (readers and writers of flags
        queue behind it meanwhile), and if it could not, the next erasure does it."""
        if self.engine.dialect.name != "postgresql":
            return
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql(f"SET lock_timeout = {int(KEY_TABLE_LOCK_WAIT * 1000)}")
                try:
                    conn.exec_driver_sql("VACUUM FULL member_keys")
                finally:
                    conn.exec_driver_sql(f"SET lock_timeout = {int(self.lock_timeout * 1000)}")
        except DBAPIError as exc:
            log.warning("could not rewrite the key table after an erasure (%s); destroyed keys stay in its file "
                        "until the next erasure rewrites it", exc.orig)

    def _truncate_wal(self) -> None:
        """Copy the WAL into the database file and truncate it: old page images (erased texts) go with it."""
        if self.engine.dialect.name != "sqlite":
            return
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = cursor.fetchone()  # (busy, frames in the WAL, frames copied)
            cursor.close()
        except sqlite3.Error as exc:  # the driver's own error: SQLAlchemy wraps none on a raw connection
            reason = unavailable_reason(exc)
            if reason is not None:  # a read-only file or a full disk: the WAL cannot be truncated
                raise DatabaseUnavailable(reason) from exc
            raise DatabaseError(f"cannot truncate the WAL file after an erasure: {exc}") from exc
        finally:
            raw.close()
        if row is None or row[0]:
            log.warning("the WAL checkpoint after an erasure could not finish (the database stayed busy); "
                        "erased texts leave the -wal file at the next checkpoint")

    def _waiting_for_locks(self, once: Callable[[], T]) -> T:
        """`once()`, tried again on a lock error until `lock_timeout` has passed (busy_timeout does most of
        the waiting; this covers the lock errors SQLite returns without waiting)."""
        deadline = time.monotonic() + self.lock_timeout
        for attempt in itertools.count():
            try:
                return once()
            except DBAPIError as exc:
                left = deadline - time.monotonic()
                if not _is_locked(exc) or left <= 0:
                    raise
                time.sleep(min(0.05 * 2**attempt, 2.0, left))
        raise AssertionError("unreachable")

    # -- writer thread ---------------------------------------------------------------------------------
    def _transact(self, jobs: list[_Job]) -> list[tuple[_Job, object, BaseException | None]]:
        """One transaction, each job in a savepoint: a job's own error rolls back that job alone. Errors
        that concern the whole database (a lock, or no write possible) abort it, as does a failed commit."""
        def once() -> list[tuple[_Job, object, BaseException | None]]:
            results: list[tuple[_Job, object, BaseException | None]] = []
            with self._write_sessions.begin() as session:
                for job in jobs:
                    try:
                        with session.begin_nested():  # leaving it flushes: a constraint may fail only here
                            result = job.fn(session)
                        results.append((job, result, None))
                    except DBAPIError as exc:
                        if _is_locked(exc) or unavailable_reason(exc) is not None:
                            raise
                        results.append((job, None, exc))
                    except Exception as exc:
                        results.append((job, None, exc))
            return results

        return self._waiting_for_locks(once)

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
            if isinstance(exc, DBAPIError) and _is_locked(exc):
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
        assert self._down is not None
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
        rest = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                rest.append(item)
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
