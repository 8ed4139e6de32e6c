"""What every `toxmod` command shares: the one-line error, settings from the environment with the
command's overrides, and the database opened, migrated and closed in one place."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bot.settings import Settings
from bot.storage.database import Database


class CliError(Exception):
    """A user-facing failure: printed as one line on stderr, exit status 2."""


def overrides(args: argparse.Namespace) -> dict[str, object]:
    """Settings a command's flags override (`--database-url`, `--model`)."""
    out: dict[str, object] = {}
    if getattr(args, "database_url", None):
        out["database_url"] = args.database_url
    if getattr(args, "model", None):
        out["model_dir"] = Path(args.model)
    return out


def load_settings(args: argparse.Namespace) -> Settings:
    return Settings.load(None, **overrides(args))


@contextmanager
def database(settings: Settings, *, writer: bool = False) -> Iterator[Database]:
    """The database the settings name, migrated to the latest schema, closed on the way out.

    `writer` starts the batching writer thread, for commands that write through the async pipeline.
    """
    db = Database(settings.database_url).upgrade()
    if writer:
        db.start()
    try:
        yield db
    finally:
        db.close()


def truncate(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def iso_date(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date: {value!r} (e.g. 2026-11-01)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
