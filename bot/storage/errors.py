"""What a database error means for the caller: a lock to wait out, a database that cannot be written at
all (said in one line a moderator can read), or a failure of the write itself.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError


class DatabaseError(RuntimeError):
    """The database cannot be used (missing directory, locked past the wait budget, unreadable file)."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be written at all right now; `reason` says why in one line ("database is full")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


def is_locked(exc: DBAPIError) -> bool:
    """Whether another connection's lock (or a deadlock with it) failed this statement: worth trying again."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_BUSY_OR_LOCKED
    state = _sqlstate(exc)
    if state is not None:
        return state in _PG_RETRY
    message = str(exc.orig).lower()
    return "locked" in message or "deadlock" in message
