"""Flags per day for one guild (the `/stats` chart and `toxmod report`), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.storage.database import Database
from bot.storage.stats import daily_flags, window_start
from bot.storage.tables import FlagKind, FlagStatus
from tests.support.flag_rows import add_flags

TODAY = date(2026, 12, 7)
MESSAGE, FLOOD, RAID = FlagKind.MESSAGE, FlagKind.FLOOD, FlagKind.RAID
PENDING, CONFIRMED, DISMISSED = FlagStatus.PENDING, FlagStatus.CONFIRMED, FlagStatus.DISMISSED


def ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def test_flags_are_counted_per_day_by_label_kind_and_verdict_for_one_guild_only(db: Database) -> None:
    add_flags(db, 1, [
        (ago(0), ["toxic", "insult"], MESSAGE, CONFIRMED),
        (ago(0), ["toxic"], MESSAGE, PENDING),
        (ago(2), [], FLOOD, DISMISSED),
        (ago(2), [], RAID, PENDING),
        (ago(6), ["threat"], MESSAGE, PENDING),  # the first day of a 7-day window
        (ago(7), ["toxic"], MESSAGE, PENDING),  # the day before it: outside
    ])
    add_flags(db, 2, [(ago(0), ["toxic"], MESSAGE, CONFIRMED), (ago(1), [], RAID, PENDING)])  # another guild's

    daily = db.read_sync(lambda s: daily_flags(s, 1, 7, TODAY))
    assert daily.days == [ago(n) for n in range(6, -1, -1)]
    assert daily.flags == 5
    assert daily.per_label["toxic"] == [0, 0, 0, 0, 0, 0, 2]
    assert daily.per_label["insult"] == [0, 0, 0, 0, 0, 0, 1]
    assert daily.per_label["threat"] == [1, 0, 0, 0, 0, 0, 0]
    assert daily.per_kind["flood"] == [0, 0, 0, 0, 1, 0, 0] and daily.per_kind["raid"] == [0, 0, 0, 0, 1, 0, 0]
    assert daily.per_kind["message"] == [1, 0, 0, 0, 0, 0, 2]
    assert daily.totals(daily.per_status) == {"pending": 3, "confirmed": 1, "dismissed": 1}

    other = db.read_sync(lambda s: daily_flags(s, 2, 7, TODAY))
    assert other.flags == 2 and other.totals(other.per_kind) == {"message": 1, "flood": 0, "raid": 1}
    nobody = db.read_sync(lambda s: daily_flags(s, 3, 7, TODAY))
    assert nobody.flags == 0 and len(nobody.days) == 7 and set(nobody.per_label["toxic"]) == {0}


def test_the_window_is_whole_utc_days_and_a_window_of_no_days_is_refused(db: Database) -> None:
    start = window_start(1, TODAY)
    assert (start.date(), start.hour, start.utcoffset()) == (TODAY, 0, timedelta(0))
    with pytest.raises(ValueError, match="at least 1"):
        db.read_sync(lambda s: daily_flags(s, 1, 0, TODAY))
