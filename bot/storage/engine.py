"""Engines, set up per backend so that concurrent readers and writers wait for each other instead of failing.

SQLite:

- WAL mode: readers never block the writer, and the writer never blocks readers.
- Write transactions begin with `BEGIN IMMEDIATE`: they take the write lock up front and wait for it
  (`busy_timeout`, the `lock_timeout` budget). A deferred transaction that reads first would have to
  upgrade its read lock to write, and SQLite answers that with SQLITE_BUSY at once, without waiting,
  when another connection holds or has used the write lock meanwhile: the write would be lost. Reads
  begin a deferred transaction, which never takes the write lock.
- `secure_delete`: what an erasure removes is overwritten with zeros instead of staying in the file's
  free space.

PostgreSQL: every connection waits at most `lock_timeout` for a lock, and is checked before use
(`pool_pre_ping`), so a restarted server costs no failed write. A deadlock or a lock wait past the budget
is retried like SQLite's busy lock (`waiting_for_locks`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.errors import DatabaseError, is_locked

T = TypeVar("T")

# execution option that marks the connections of write transactions (they BEGIN IMMEDIATE on SQLite)
_WRITE = "toxmod_write"


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


def write_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions for write transactions: on SQLite they take the write lock as they begin."""
    return sessionmaker(engine.execution_options(**{_WRITE: True}), expire_on_commit=False)


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (relative to the working directory, as SQLite opens it); None otherwise,
    and None for a `file:` URI (`?uri=true`), whose file only SQLite's URI parser can say."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def waiting_for_locks(once: Callable[[], T], lock_timeout: float) -> T:
    """`once()`, tried again on a lock error until `lock_timeout` has passed (busy_timeout does most of
    the waiting; this covers the lock errors SQLite returns without waiting)."""
    deadline = time.monotonic() + lock_timeout
    for attempt in itertools.count():
        try:
            return once()
        except DBAPIError as exc:
            left = deadline - time.monotonic()
            if not is_locked(exc) or left <= 0:
                raise
            time.sleep(min(0.05 * 2**attempt, 2.0, left))
    raise AssertionError("unreachable")
