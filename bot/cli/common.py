"""What every `toxmod` command shares: the one-line error, settings from the environment with the
command's overrides, the database checked, opened, migrated and closed in one place, and the scoring
worker started and stopped in one place."""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from bot.settings import Settings
from bot.storage.database import Database
from bot.storage.engine import sqlite_file
from bot.storage.errors import DatabaseUnavailable
from bot.storage.schema import has_schema, upgrade

if TYPE_CHECKING:
    from bot.moderation.worker import ScoringWorker


class CliError(Exception):
    """A user-facing failure: printed as one line on stderr, exit status 2."""


# below this many bytes free, a SQLite file's disk counts as full: SQLite cannot even grow its shared-memory
# file then, and reports that as a plain "disk I/O error"
NEARLY_FULL = 1 << 20


def overrides(args: argparse.Namespace) -> dict[str, object]:
    """Settings a command's flags override (`--database-url`, `--model`, `--shard-count`, `--shards`)."""
    out: dict[str, object] = {}
    if getattr(args, "database_url", None):
        out["database_url"] = args.database_url
    if getattr(args, "model", None):
        out["model_dir"] = Path(args.model)
    if getattr(args, "shard_count", None) is not None:
        out["shard_count"] = args.shard_count
    if getattr(args, "shards", None) is not None:
        out["shards"] = args.shards
    return out


def add_database_url(parser: argparse.ArgumentParser, use: str = "") -> None:
    """Give a command the `--database-url` option, which `overrides` reads; `use` says what the command reads
    the database for, where that is not plain (as `serve`, which only reads guild thresholds)."""
    parser.add_argument("--database-url", help="override DATABASE_URL" + (f" ({use})" if use else ""))


def load_settings(args: argparse.Namespace) -> Settings:
    """The settings from the environment and .env, overridden by the command's flags, and checked."""
    settings = Settings.load(None, **overrides(args))
    if "model" in vars(args):  # the commands that load a model take --model
        check_model_settings(settings, args)
    return settings


def check_model_settings(settings: Settings, args: argparse.Namespace) -> None:
    """Refuse a MODEL_DIR or MODELS_DIR that names no directory, in one line that names the setting: the model
    loader sees only a path, and whoever fixes it needs to know which line of .env to change. A `--model` typed
    on the command line is left to the loader, whose message names the path typed."""
    if getattr(args, "model", None):
        return
    if settings.model_dir is not None:
        if not settings.model_dir.is_dir():
            raise CliError(f"MODEL_DIR is {settings.model_dir}, which is not a directory: name a model directory, "
                           "or leave MODEL_DIR empty for the model MODELS_DIR/current names")
    else:
        check_models_dir(settings)


def check_models_dir(settings: Settings) -> Path:
    """MODELS_DIR, refused in one line that names it when it is not a directory."""
    if not settings.models_dir.is_dir():
        raise CliError(f"MODELS_DIR is {settings.models_dir}, which is not a directory: set it to the folder that "
                       "holds the models and their `current` file (the project's models/ by default)")
    return settings.models_dir


def check_database_url(url: str) -> None:
    """Refuse a database URL that SQLAlchemy cannot parse, or whose driver is not installed, in one line
    (SQLAlchemy would raise from deep inside `create_engine`, at the first connection)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise CliError(f"DATABASE_URL is not a database URL: {url!r} (for example sqlite:///toxmod.db or "
                       "postgresql+psycopg://user:password@host/toxmod)") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise CliError(f"DATABASE_URL {url!r} names no database file: what a command wrote would be gone when it "
                       "ends; name a file, for example sqlite:///toxmod.db")
    try:
        parsed.get_dialect().import_dbapi()
    except NoSuchModuleError as exc:
        raise CliError(f"DATABASE_URL names a database SQLAlchemy does not know: {parsed.drivername}") from exc
    except ImportError as exc:
        where = parsed.render_as_string()  # password hidden
        if parsed.get_backend_name() == "postgresql":
            rename = "" if parsed.get_driver_name() == "psycopg" else ", and write the URL as postgresql+psycopg://..."
            raise CliError(f"{where} needs the PostgreSQL driver, which is not installed ({exc}): "
                           f"pip install 'toxmod[postgres]'{rename}") from exc
        raise CliError(f"{where} needs a database driver that is not installed ({exc})") from exc


def migrate(url: str, *, create: bool) -> None:
    """Check the URL, then bring the database to the latest schema. Without `create`, a SQLite file that
    does not exist is an error rather than a new empty database: a typo in DATABASE_URL, or a command run
    from another directory, must not quietly read (and leave behind) an empty one."""
    check_database_url(url)
    path = sqlite_file(url)
    if not create and path is not None and not path.exists():
        raise CliError(f"no database at {path.resolve()}; run `toxmod db upgrade` first")
    try:
        if not create and path is None and not has_schema(url):
            raise CliError(f"no toxmod schema in {make_url(url).render_as_string()}; run `toxmod db upgrade` first")
        upgrade(url)
    except DatabaseUnavailable as exc:
        raise CliError(cannot_write(url, exc)) from exc
    except DBAPIError as exc:  # not a database at all (a text file), or a server refusing us
        raise CliError(f"cannot use the database {make_url(url).render_as_string()}: {exc.orig}") from exc


@contextmanager
def database(settings: Settings, *, create: bool = False, writer: bool = False) -> Iterator[Database]:
    """The database the settings name, migrated to the latest schema, closed on the way out.

    `create` lets a command start a new SQLite file (replay does; commands that only read, or purge, need
    one that exists). `writer` starts the batching writer thread, for commands that write through the
    async pipeline.
    """
    migrate(settings.database_url, create=create)
    db = Database(settings.database_url)
    if writer:
        db.start()
    try:
        yield db
    except DatabaseUnavailable as exc:
        raise CliError(cannot_write(settings.database_url, exc)) from exc
    finally:
        db.close()


def cannot_write(url: str, exc: DatabaseUnavailable) -> str:
    """One line for a database that cannot be written at all: which database, and why, in words that point
    at the fix (a full disk, rather than the "disk I/O error" SQLite reports for it)."""
    reason = exc.reason
    path = sqlite_file(url)
    if path is not None:
        reason = _sqlite_file_problem(path.expanduser().resolve()) or reason
    return f"cannot write the database {make_url(url).render_as_string()}: {reason}"


def _sqlite_file_problem(path: Path) -> str | None:
    """What stops SQLite writing `path`, where SQLite's own words are vague: it says the file "cannot be
    opened" when only its directory is read-only, and "disk I/O error" when the disk is full."""
    writable = [p for p in (path, path.parent) if p.exists()]
    if not all(os.access(p, os.W_OK) for p in writable):
        return "database is read-only (SQLite needs to write both the file and the directory it is in)"
    try:
        if shutil.disk_usage(path.parent).free < NEARLY_FULL:
            return "the disk holding it is full"
    except OSError:
        pass
    return None


@contextmanager
def scoring(settings: Settings) -> Iterator[ScoringWorker]:
    """A started scoring worker around the model the settings name, stopped on the way out, except on
    Ctrl-C: stopping first scores everything still queued, and `main` ends the process at once instead."""
    from bot.moderation.worker import open_scorer

    worker = open_scorer(settings)
    interrupted = False
    try:
        yield worker
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        if not interrupted:
            worker.stop()


def truncate(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis, for a table cell."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def iso_date(value: str) -> datetime:
    """An argparse type: an ISO date or datetime, read as UTC when it names no zone."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date: {value!r} (e.g. 2026-11-01)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
