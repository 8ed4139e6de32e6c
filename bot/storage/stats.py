"""Figures over a guild's flags: `/stats` for a period, `/flags member` for one member."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.labels import LABELS
from bot.storage.flags import flags_query
from bot.storage.tables import Flag, FlagStatus, ScoredMessage


class FlagCounts(TypedDict):
    """What `/stats` shows for one guild over a period."""

    scored: int
    flags: int
    per_label: dict[str, int]
    reviewed: int
    confirm_rate: float | None  # None: nothing reviewed yet
    dismiss_rate: float | None


class MemberHistory(TypedDict):
    """A member's flags in one guild, for `/flags member`."""

    scored: int
    flags: int
    by_status: dict[str, int]
    latest: list[Flag]


def flag_counts_since(session: Session, guild_id: int, since: datetime) -> FlagCounts:
    """Figures for /stats: messages scored, flags per label, confirm and dismiss rates."""
    scored = session.scalar(
        select(func.count()).where(ScoredMessage.guild_id == guild_id, ScoredMessage.created_at >= since)
    ) or 0
    flags = list(session.scalars(select(Flag).where(Flag.guild_id == guild_id, Flag.created_at >= since)))
    per_label = {label: sum(label in f.labels for f in flags) for label in LABELS}
    reviewed = [f for f in flags if f.status is not FlagStatus.PENDING]
    confirmed = sum(f.status is FlagStatus.CONFIRMED for f in reviewed)
    return {
        "scored": scored,
        "flags": len(flags),
        "per_label": per_label,
        "reviewed": len(reviewed),
        "confirm_rate": confirmed / len(reviewed) if reviewed else None,
        "dismiss_rate": (len(reviewed) - confirmed) / len(reviewed) if reviewed else None,
    }


def member_history(session: Session, guild_id: int, author_id: int, limit: int = 10) -> MemberHistory:
    """A member's flags in one guild: counts by status and the latest few."""
    flags = list(session.scalars(flags_query(guild_id, author_id=author_id)))
    scored = session.scalar(select(func.count()).where(
        ScoredMessage.guild_id == guild_id, ScoredMessage.author_id == author_id)) or 0
    return {
        "scored": scored,
        "flags": len(flags),
        "by_status": {status.value: sum(f.status is status for f in flags) for status in FlagStatus},
        "latest": flags[:limit],
    }
