"""Database faults on demand, for tests: a lock held elsewhere, a full disk, a read-only database.

Tests run as root, so chmod cannot make a file read-only, and there is no small filesystem to fill. SQLite
itself produces the real errors on demand:

- `hold_lock`: a second connection holding `BEGIN EXCLUSIVE` (in WAL mode it blocks writers, not
  readers), as another process would.
- `fill_database`: every write fails with SQLITE_FULL ("database or disk is full"). `PRAGMA
  max_page_count` on the main database alone is not enough: a write that fits in the free space of an
  existing page still succeeds (a fresh database takes ~160 small rows). So each connection gets a TEMP
  table capped at its current size and TEMP triggers that, before any insert, update or delete on a
  table of the database, put a blob bigger than a page into it: SQLite answers SQLITE_FULL inside the
  write transaction, as on a full disk. Nothing is added to the database file.
- `make_read_only`: every write fails with SQLITE_READONLY (`PRAGMA query_only=1`).

On PostgreSQL the same faults come from the server itself: `hold_lock` is another connection holding
`LOCK TABLE ... IN EXCLUSIVE MODE` on every table (writers wait, readers do not); `make_read_only` sets
`default_transaction_read_only` on each new connection (SQLSTATE 25006); `fill_database` sets a session
variable that triggers on every table answer with SQLSTATE 53100 (disk_full), as a full disk would.

`fill_database`, `make_read_only` and `restore` work on a running `Database`: they add (or remove) a
`connect` listener on its engine and dispose of its pool, so every connection opened from then on has the
fault (or not). Connections checked out at that moment are closed when returned; call them between
writes. Reads keep working under every fault, as they would.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from bot.storage.changes import libpq_url
from bot.storage.database import Database

_faults: dict[int, tuple[Engine, Callable[..., None] | None]] = {}  # engine id -> (engine, its fault now)


def _postgres_conninfo(db: Database | str | Path) -> str | None:
    url = db.url if isinstance(db, Database) else str(db)
    if not url.startswith("postgresql"):
        return None
    return libpq_url(url)


def db_file(db: Database | str | Path) -> Path:
    """The SQLite file of a `Database`, of a `sqlite:///` URL, or the path itself."""
    if isinstance(db, Database):
        db = db.url
    if isinstance(db, str) and db.startswith("sqlite:"):
        name = make_url(db).database
        if not name:
            raise ValueError(f"not a SQLite file URL: {db}")
        return Path(name)
    return Path(db)


def stored_bytes(db: Database | str | Path) -> bytes:
    """Everything SQLite keeps on disk for the database: the file, its WAL and any rollback journal."""
    path = db_file(db)
    parts = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


@dataclass
class HeldLock:
    """The lock `hold_lock` holds: `released` is set once the other connection has let go."""

    released: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        """Let go now, before the time given to `hold_lock` is up."""
        self._stop.set()


@contextmanager
def hold_lock(db: Database | str | Path, seconds: float) -> Iterator[HeldLock]:
    """Another connection holds the database's write lock (`BEGIN EXCLUSIVE`) for `seconds` from entry.

    The body runs while the lock is held and may outlast it; leaving waits until the lock is released
    (at once if the body raised).
    """
    conninfo = _postgres_conninfo(db)
    path = conninfo or db_file(db)
    held = HeldLock()
    acquired = threading.Event()
    failure: list[BaseException] = []

    def hold() -> None:
        conn: Any = None
        try:
            if conninfo is not None:
                import psycopg

                conn = psycopg.connect(conninfo)
                tables = [row[0] for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
                conn.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")
            else:
                conn = sqlite3.connect(path, timeout=10, isolation_level=None)
                conn.execute("BEGIN EXCLUSIVE")
            acquired.set()
            held._stop.wait(seconds)
            conn.rollback() if conninfo is not None else conn.execute("ROLLBACK")
        except Exception as exc:
            failure.append(exc)
        finally:
            if conn is not None:
                conn.close()
            held.released.set()
            acquired.set()

    thread = threading.Thread(target=hold, name="faults-hold-lock", daemon=True)
    thread.start()
    acquired.wait()
    if failure:
        thread.join()
        raise RuntimeError(f"could not take the lock on {path}: {failure[0]}")
    try:
        yield held
    except BaseException:
        held._stop.set()
        raise
    finally:
        thread.join()


def _fill(dbapi_conn: Any, _record: object) -> None:
    cur = dbapi_conn.cursor()
    page_size = cur.execute("PRAGMA page_size").fetchone()[0]
    tables = [row[0] for row in cur.execute(
        "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    cur.execute("CREATE TEMP TABLE IF NOT EXISTS faults_ballast (b BLOB)")
    for table in tables:
        for op in ("INSERT", "UPDATE", "DELETE"):
            cur.execute(f'CREATE TEMP TRIGGER IF NOT EXISTS "faults_full_{table}_{op}" BEFORE {op} ON main."{table}" '
                        f"BEGIN INSERT INTO faults_ballast VALUES (zeroblob({2 * page_size})); END")
    pages = cur.execute("PRAGMA temp.page_count").fetchone()[0]
    cur.execute(f"PRAGMA temp.max_page_count={pages}")
    cur.close()


def _read_only(dbapi_conn: Any, _record: object) -> None:
    dbapi_conn.execute("PRAGMA query_only=1")


_PG_FULL = """
CREATE OR REPLACE FUNCTION faults_full() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('faults.disk_full', true) = 'on' THEN
        RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
    END IF;
    RETURN NULL;
END $$
"""


def _pg_fill(dbapi_conn: Any, _record: object) -> None:
    dbapi_conn.execute("SET faults.disk_full = 'on'")
    dbapi_conn.commit()


def _pg_read_only(dbapi_conn: Any, _record: object) -> None:
    dbapi_conn.execute("SET default_transaction_read_only = on")
    dbapi_conn.commit()


def _install_pg_full(db: Database) -> None:
    """The triggers `fill_database` switches on, on every table (once per database; inert until switched on)."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql(_PG_FULL)
        tables = conn.exec_driver_sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").scalars().all()
        for table in tables:
            conn.exec_driver_sql(f'CREATE OR REPLACE TRIGGER "faults_full_{table}" BEFORE INSERT OR UPDATE OR DELETE '
                                 f'ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION faults_full()')


def _set_fault(db: Database, listener: Callable[..., None] | None) -> None:
    """Switch the engine's fault. One listener per engine stays registered and looks the fault up at each
    connect: adding and removing listeners while the writer thread connects races SQLAlchemy's iteration
    over them ("deque mutated during iteration")."""
    engine = db.engine
    if id(engine) not in _faults:
        def dispatch(dbapi_conn: Any, record: object, key: int = id(engine)) -> None:
            fault = _faults[key][1]
            if fault is not None:
                fault(dbapi_conn, record)

        _faults[id(engine)] = (engine, None)
        event.listen(engine, "connect", dispatch)
    _faults[id(engine)] = (engine, listener)
    engine.dispose()


def fill_database(db: Database) -> None:
    """From now on every write to `db` fails as on a full disk (SQLITE_FULL; PostgreSQL's disk_full)."""
    if db.engine.dialect.name == "postgresql":
        _install_pg_full(db)
        _set_fault(db, _pg_fill)
    else:
        _set_fault(db, _fill)


def make_read_only(db: Database) -> None:
    """From now on every write to `db` fails as read-only (SQLITE_READONLY; PostgreSQL's 25006)."""
    _set_fault(db, _pg_read_only if db.engine.dialect.name == "postgresql" else _read_only)


def restore(db: Database) -> None:
    """Undo `fill_database` or `make_read_only`: connections opened from now on write normally."""
    _set_fault(db, None)
