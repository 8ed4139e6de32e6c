"""Locks that hold across processes for as long as a job runs (one retrain at a time, whichever shard asks).

PostgreSQL: a session advisory lock on a connection kept for the job; if the process dies, the server
closes the connection and the lock goes with it, so a crash never leaves a retrain "running" forever.
SQLite: an exclusive `flock` on a file beside the database, which the kernel likewise releases with the
process (SQLite is one machine's database, so that is every process that can share it). The file is removed
when the lock is released, so locks named after something (a replayed log's digest) leave nothing behind.
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
        """Release the lock; a second call does nothing."""
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
    return try_file_lock(lock_file(Path(database), name))


def lock_file(database: Path, name: str) -> Path:
    """The file beside a SQLite database whose `flock` is the lock called `name`."""
    return database.with_name(f"{database.name}.{name}.lock")


def try_file_lock(path: Path) -> JobLock | None:
    """The lock on `path`, or None at once if another process (or job) holds it."""
    fd = _flock(path, wait=False)
    return None if fd is None else JobLock(path.name, lambda: _unflock(path, fd))


def wait_for_file_lock(path: Path, waiting: Callable[[], object]) -> JobLock:
    """The lock on `path`; if another process holds it, `waiting()` is called (to say so) and this waits."""
    fd = _flock(path, wait=False)
    if fd is None:
        waiting()
        fd = _flock(path, wait=True)
        assert fd is not None  # noqa: S101 - narrows for mypy: a waiting flock returns only once it holds the lock
    return JobLock(path.name, lambda: _unflock(path, fd))


def _flock(path: Path, *, wait: bool) -> int | None:
    """An open descriptor of `path` (created if missing) holding its exclusive `flock`; None if another holds
    it and not `wait`.

    The holder removes the file when it lets go, so a lock won on a file that is no longer at `path` (removed
    meanwhile, perhaps recreated by a third process) is not the lock: it is let go and taken again on the
    file now there. Otherwise two processes could each hold a lock, on two files of the same name."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:  # Ctrl-C while waiting, say
            os.close(fd)
            raise
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(os.fstat(fd), current):
            return fd
        os.close(fd)


def _unflock(path: Path, fd: int) -> None:
    """Remove the lock's file, then let go: whoever waits on this file finds it gone and takes the new one."""
    try:
        if os.path.samestat(os.fstat(fd), os.stat(path)):
            path.unlink()
    except OSError:  # gone already, or its directory is not writable now: a file left behind holds nothing
        pass
    finally:
        os.close(fd)  # closing the last descriptor releases the flock
