"""Flags written straight into a database at chosen times, for the figures per day (`/stats`, `toxmod report`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from bot.storage.database import Database
from bot.storage.tables import Flag, FlagKind, FlagStatus


def add_flags(db: Database, guild_id: int, rows: list[tuple[date, list[str], FlagKind, FlagStatus]]) -> None:
    """One flag per row: (day, labels, kind, status), created at noon UTC of the day."""

    def write(session) -> None:
        for day, labels, kind, status in rows:
            session.add(Flag(guild_id=guild_id, kind=kind, labels=labels, status=status, model_version="tiny-v1",
                             created_at=datetime.combine(day, time(12), tzinfo=UTC)))

    db.write_sync(write)
