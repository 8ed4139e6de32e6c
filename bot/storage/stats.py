"""Figures over a guild's flags: `/stats` for a period (and its chart, per day, and what the escalation ladder
did), `/flags member` for one member."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.labels import LABELS
from bot.storage.base import as_utc
from bot.storage.cases import Appeal, AppealStatus, Strike
from bot.storage.flags import flags_query
from bot.storage.tables import Flag, FlagKind, FlagStatus, ScoredMessage


class FlagCounts(TypedDict):
    """What `/stats` shows for one guild over a period."""

    scored: int
    flags: int
    per_label: dict[str, int]
    reviewed: int
    confirm_rate: float | None  # None: nothing reviewed yet
    dismiss_rate: float | None


class CaseCounts(TypedDict):
    """What the escalation ladder did in a guild over a period, for `/stats`: the strikes made (and how many
    of them were withdrawn since) and the appeals filed, by state."""

    strikes: int
    withdrawn: int
    appeals: dict[str, int]


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


@dataclass(frozen=True)
class DailyFlags:
    """A guild's flags per UTC day over a window, for the `/stats` chart and `toxmod report`: per label (a flag
    with two labels counts under both, as in `/stats`' text), per kind (message, flood, raid) and per verdict
    state, and the strikes and appeals the escalation ladder made. Every series has one count per day of
    `days`, oldest first, zeros included, so a chart's bars line up with its days."""

    days: list[date]
    per_label: dict[str, list[int]]
    per_kind: dict[str, list[int]]
    per_status: dict[str, list[int]]
    per_case: dict[str, list[int]] = field(default_factory=dict)

    @property
    def flags(self) -> int:
        """How many flags the window holds."""
        return sum(sum(counts) for counts in self.per_status.values())

    def totals(self, series: dict[str, list[int]]) -> dict[str, int]:
        """One of the series summed over the window: {name: count}."""
        return {name: sum(counts) for name, counts in series.items()}


def window_start(days: int, today: date) -> datetime:
    """Midnight UTC at the start of the last `days` days, today included: the window is whole UTC days, so a
    chart's first bar counts a whole day."""
    return datetime.combine(today - timedelta(days=days - 1), time.min, tzinfo=UTC)


def daily_flags(session: Session, guild_id: int, days: int, today: date) -> DailyFlags:
    """This guild's flags over the last `days` UTC days up to `today`, counted per day. Only the columns
    counted are read (not the flags with their texts and reports), and the counting is done here: labels are
    a JSON list, which SQLite and PostgreSQL take apart in different SQL."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    start = window_start(days, today)
    span = [start.date() + timedelta(days=i) for i in range(days)]
    index = {day: i for i, day in enumerate(span)}
    per_label = {label: [0] * days for label in LABELS}
    per_kind = {kind.value: [0] * days for kind in FlagKind}
    # decided first, then what still waits: the order of the chart's stacks and of the figures in words
    per_status = {status.value: [0] * days for status in (FlagStatus.CONFIRMED, FlagStatus.DISMISSED,
                                                          FlagStatus.PENDING)}
    rows = session.execute(select(Flag.created_at, Flag.labels, Flag.kind, Flag.status)
                           .where(Flag.guild_id == guild_id, Flag.created_at >= start))
    for created_at, labels, kind, status in rows:
        i = index.get(as_utc(created_at).date())
        if i is None:  # after `today`: a clock that moved, or a caller's `today` in the past
            continue
        for label in labels or ():
            if label in per_label:
                per_label[label][i] += 1
        per_kind[FlagKind(kind).value][i] += 1
        per_status[FlagStatus(status).value][i] += 1
    per_case = {"strikes": [0] * days, "appeals": [0] * days}
    for name, column, guild in (("strikes", Strike.created_at, Strike.guild_id),
                                ("appeals", Appeal.created_at, Appeal.guild_id)):
        for (created_at,) in session.execute(select(column).where(guild == guild_id, column >= start)):
            i = index.get(as_utc(created_at).date())
            if i is not None:
                per_case[name][i] += 1
    return DailyFlags(span, per_label, per_kind, per_status, per_case)


def case_counts_since(session: Session, guild_id: int, since: datetime) -> CaseCounts:
    """The guild's strikes and appeals made since a time."""
    strikes, withdrawn = session.execute(select(func.count(), func.count(Strike.revoked_at)).where(
        Strike.guild_id == guild_id, Strike.created_at >= since)).one()
    filed = {status: n for status, n in session.execute(select(Appeal.status, func.count()).where(
        Appeal.guild_id == guild_id, Appeal.created_at >= since).group_by(Appeal.status))}
    return {"strikes": strikes, "withdrawn": withdrawn,
            "appeals": {status.value: filed.get(status, 0) for status in AppealStatus}}
