"""The declarative base every table derives from, and the one clock stored times come from."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.orm import DeclarativeBase

# Discord snowflakes exceed 32 bits; SQLite needs INTEGER for autoincrement primary keys.
Snowflake = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware: every stored time is."""
    return datetime.now(UTC)


def as_utc(stored: datetime) -> datetime:
    """A stored time as read back, in UTC and timezone-aware: SQLite hands back the stored UTC time without
    its zone, PostgreSQL in the session's zone."""
    return stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored.astimezone(UTC)


class Base(DeclarativeBase):
    """The declarative base: datetimes stored with their zone, ints as 64-bit snowflakes."""

    type_annotation_map: ClassVar[dict] = {datetime: DateTime(timezone=True), int: Snowflake}


def enum_values(enum_cls: type[enum.Enum]) -> list[str]:
    """What an enum column stores: its members' values (not their names)."""
    return [member.value for member in enum_cls]
