"""The database as the bot uses it: reads off the event loop, writes through the writer thread, and
erasures that leave no copy of what they removed in the database's files.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.engine import make_engine, sqlite_file, waiting_for_locks, write_sessions
from bot.storage.errors import DatabaseError, DatabaseUnavailable, unavailable_reason
from bot.storage.schema import upgrade
from bot.storage.writer import Spooled, Writer

log = logging.getLogger(__name__)
T = TypeVar("T")

# seconds the rewrite of the key table after an erasure waits for the table (everyone else waits behind it)
KEY_TABLE_LOCK_WAIT = 2.0


class Database:
    """One engine, one writer thread (with its spool), and helpers to run reads off the event loop.

    `lock_timeout`: seconds a write waits for a lock held by another connection before it fails. The other
    options tune the writer thread (`Writer`).
    """

    def __init__(self, url: str, *, max_batch: int = 256, max_wait_ms: float = 20.0, lock_timeout: float = 60.0,
                 spool_capacity: int = 10_000, retry_initial: float = 1.0, retry_max: float = 30.0) -> None:
        self.url = url
        self.engine = make_engine(url, lock_timeout)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)  # reads: never take the write lock
        self._write_sessions = write_sessions(self.engine)
        self.lock_timeout = lock_timeout
        self.writer = Writer(self.engine, sqlite_file(url), max_batch=max_batch, max_wait_ms=max_wait_ms,
                             lock_timeout=lock_timeout, spool_capacity=spool_capacity,
                             retry_initial=retry_initial, retry_max=retry_max)

    # -- lifecycle -------------------------------------------------------------------------------------
    def upgrade(self) -> Database:
        """Migrate the database to the latest schema; returns it, to chain."""
        upgrade(self.url)
        return self

    def start(self) -> Database:
        """Start the writer thread; returns the database, to chain."""
        self.writer.start()
        return self

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued (and spooled, if the database takes it now), then release the engine."""
        self.writer.close(timeout)
        self.engine.dispose()

    # the spool's retry timing, adjustable on a running database (read whenever a retry is scheduled)
    @property
    def retry_initial(self) -> float:
        """Seconds before the writer first retries a database it cannot write (doubling from there)."""
        return self.writer.retry_initial

    @retry_initial.setter
    def retry_initial(self, seconds: float) -> None:
        self.writer.retry_initial = seconds

    @property
    def retry_max(self) -> float:
        """The longest the writer waits between retries of a database it cannot write."""
        return self.writer.retry_max

    @retry_max.setter
    def retry_max(self, seconds: float) -> None:
        self.writer.retry_max = seconds

    # -- API -------------------------------------------------------------------------------------------
    @property
    def health(self) -> str | None:
        """None when writes succeed; else one line: why the database cannot be written, and what waits."""
        return self.writer.health

    def submit(self, fn: Callable[[Session], T]) -> Future:
        """Queue a write for the writer thread; the future resolves with `fn`'s result once committed."""
        return self.writer.submit(fn)

    async def write(self, fn: Callable[[Session], T]) -> T:
        """Write, or fail: `DatabaseUnavailable` at once while the database cannot be written at all."""
        return await self.writer.write(fn)

    async def write_or_spool(self, fn: Callable[[Session], T]) -> T | Spooled[T]:
        """Write; if the database cannot be written at all, keep the write in memory and return `Spooled`
        at once. Errors of `fn` itself, and a lock held past `lock_timeout`, still raise."""
        return await self.writer.write_or_spool(fn)

    def write_sync(self, fn: Callable[[Session], T]) -> T:
        """Write and wait for it, from code that is not on the event loop."""
        return self.submit(fn).result()

    def read_sync(self, fn: Callable[[Session], T]) -> T:
        """Read in a session of this thread, from code that is not on the event loop."""
        with self.sessions() as session:
            return fn(session)

    async def read(self, fn: Callable[[Session], T]) -> T:
        """Read in a session on a worker thread, so the event loop never waits on the database."""
        return await asyncio.to_thread(self.read_sync, fn)

    def transaction(self, fn: Callable[[Session], T]) -> T:
        """All or nothing in the caller's thread: for bulk jobs (replay) that must not half-write."""
        def once() -> T:
            with self._write_sessions.begin() as session:
                return fn(session)

        try:
            return waiting_for_locks(once, self.lock_timeout)
        except DBAPIError as exc:
            reason = unavailable_reason(exc)
            if reason is not None:
                raise DatabaseUnavailable(reason) from exc
            raise DatabaseError(f"database write failed: {exc.orig}") from exc

    async def erase(self, fn: Callable[[Session], T]) -> T:
        """A write that removes text (privacy, retention) and destroys keys; afterwards no copy of what it
        removed stays in the SQLite WAL file, and no dead row of a destroyed key in PostgreSQL's key table.

        The texts themselves are sealed under those keys (sealing.py), so what matters is that the destroyed
        keys leave the disk. PostgreSQL's WAL segments keep a key until it recycles them (README, Privacy)."""
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

