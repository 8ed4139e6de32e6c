"""Issue 26: the escalation ladder as policy: parsing `/escalation set`, the step for each strike, the decay
window, and the ladder as stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.moderation.escalation import Ladder, Step, StepKind, count_in_window, duration, ordinal, parse_steps, span

WARN, BAN = Step(StepKind.WARN), Step(StepKind.SUGGEST_BAN)
LADDER = Ladder((WARN, Step(StepKind.TIMEOUT, 10), Step(StepKind.TIMEOUT, 1440), BAN), decay_days=30)
NOW = datetime(2026, 12, 16, 12, 0, tzinfo=UTC)


def test_the_issues_ladder_parses_as_written() -> None:
    assert parse_steps("warn, timeout 10m, Timeout 1d, ban") == LADDER.steps
    assert parse_steps("timeout 2h,suggest ban") == (Step(StepKind.TIMEOUT, 120), BAN)


@pytest.mark.parametrize("text", ["", "warn, kick", "timeout 10", "timeout 0m", "timeout 29d", "ban now",
                                  ", ".join(["warn"] * 11)])
def test_a_ladder_that_cannot_be_applied_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError, match=r"step|timeout|ladder"):
        parse_steps(text)


def test_each_strike_takes_its_step_and_the_last_repeats() -> None:
    assert [LADDER.step_for(n) for n in range(0, 7)] == [None, *LADDER.steps, BAN, BAN]
    assert Ladder().step_for(1) is None and not Ladder().enabled


def test_strikes_older_than_the_decay_no_longer_count() -> None:
    times = [NOW - timedelta(days=31), NOW - timedelta(days=29, hours=23), NOW - timedelta(days=1), NOW]
    assert count_in_window(times, NOW, 30) == 3
    assert count_in_window(times, NOW, 1) == 1  # exactly a day old: decayed
    assert count_in_window([NOW + timedelta(seconds=1)], NOW, 30) == 0  # not yet made
    assert LADDER.window_start(NOW) == NOW - timedelta(days=30)


def test_a_ladder_survives_its_stored_form_and_none_is_off() -> None:
    assert Ladder.from_json(LADDER.to_json()) == LADDER
    assert LADDER.to_json()["steps"] == ["warn", "timeout:10", "timeout:1440", "suggest_ban"]
    assert Ladder.from_json(None) == Ladder() and not Ladder.from_json({}).enabled


def test_the_ladder_reads_as_the_moderators_and_members_see_it() -> None:
    lines = LADDER.describe().splitlines()
    assert lines[:4] == ["1st strike within 30 days: a warning", "2nd strike within 30 days: a 10-minute timeout",
                         "3rd strike within 30 days: a 1-day timeout",
                         "4th strike within 30 days: a ban suggested to the moderators"]
    assert "never bans" in lines[4]
    assert "No escalation ladder" in Ladder().describe()
    assert [duration(m) for m in (10, 60, 90, 1440)] == ["10-minute", "1-hour", "90-minute", "1-day"]
    assert [span(m) for m in (1, 10, 60, 90, 2880)] == ["1 minute", "10 minutes", "1 hour", "90 minutes", "2 days"]
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "111th"]
