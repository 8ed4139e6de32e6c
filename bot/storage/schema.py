"""The schema: Alembic migrations up to the current revision, and whether a database holds one at all."""

from __future__ import annotations

import errno
import logging
import time

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.settings import PROJECT_ROOT
from bot.storage.engine import make_engine, sqlite_file
from bot.storage.errors import DatabaseError, DatabaseUnavailable, unavailable_reason
from bot.storage.locks import JobLock, lock_file, wait_for_file_lock

log = logging.getLogger(__name__)

MIGRATIONS = PROJECT_ROOT / "migrations"

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
