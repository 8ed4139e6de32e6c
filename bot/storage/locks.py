"""Locks that hold across processes for as long as a job runs (one retrain at a time, whichever shard asks).

PostgreSQL: a session advisory lock on a connection kept for the job; if the process dies, the server
closes the connection and the lock goes with it, so a crash never leaves a retrain "running" forever.
SQLite: an exclusive `flock` on a file beside the database, which the kernel likewise releases with the
process (SQLite is one machine's database, so that is every process that can share it).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

_in_memory: set[str] = set()  # `sqlite://` (no file): one process by definition
_in_memory_guard = threading.Lock()


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks."""
    return int.from_bytes(hashlib.sha256(f"toxmod:{name}".encode()).digest()[:8], "big", signed=True)


class JobLock:
    """Held until `release` (or until the process ends)."""

    def __init__(self, name: str, release: Callable[[], object]) -> None:
        self.name = name
        self._release: Callable[[], object] | None = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


def try_lock(engine: Engine, name: str) -> JobLock | None:
    """The lock called `name`, or None at once if another process (or job) holds it. Blocking I/O: call it
    off the event loop."""
    if engine.dialect.name == "postgresql":
        conn = engine.raw_connection()  # kept out of the pool for the job's lifetime
        try:
            cursor = conn.cursor()
            cursor.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(name),))
            row = cursor.fetchone()
            conn.commit()
        except BaseException:
            conn.invalidate()
            raise
        if not (row and row[0]):
            conn.close()
            return None
        # closing the connection (not returning it to the pool) is what releases the lock, even if the
        # server cannot be told so politely
        return JobLock(name, conn.invalidate)
    database = engine.url.database
    if not database or database == ":memory:":
        with _in_memory_guard:
            if name in _in_memory:
                return None
            _in_memory.add(name)
        return JobLock(name, lambda: _in_memory.discard(name))
    path = Path(database).with_name(f"{Path(database).name}.{name}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None

    def unlock_file() -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    return JobLock(name, unlock_file)
