"""Issue 26, lose nothing, in storage on SQLite and PostgreSQL: a claimed step that every try was cut short
of is retried on its backoff with the end its timeout was claimed with, its warning never sent twice, and
given up after STEP_TRIES tries, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.moderation.escalation import Ladder, Step, StepKind
from bot.moderation.strikes import StrikePlan, retry_step, strike_flag
from bot.storage.cases import StepState
from bot.storage.database import Database
from bot.storage.strikes import DM_SENDING, DM_UNKNOWN, STEP_TRIES, claim_dm
from bot.storage.tables import Flag
from tests.bot.storage.test_strikes import GUILD, MOD, confirmed, set_ladder

CLOCK = datetime(2026, 1, 1, tzinfo=UTC)  # the bot's clock, which need not be the database's


def retry(db: Database, flag_id: int, at: datetime) -> StrikePlan | Flag | None:
    return db.write_sync(lambda s: retry_step(s, GUILD, flag_id, at))


def test_a_step_cut_short_is_retried_never_warns_twice_and_is_given_up_after_its_tries(db: Database) -> None:
    set_ladder(db, Ladder((Step(StepKind.TIMEOUT, 10),)))
    flag = confirmed(db, 100)
    plan = db.write_sync(lambda s: strike_flag(s, GUILD, flag.id, MOD, CLOCK))
    assert plan is not None and plan.tries == 1 and plan.timeout_until == CLOCK + timedelta(minutes=10)
    assert db.write_sync(lambda s: claim_dm(s, GUILD, flag.id)) is None  # the first try begins the DM, and dies
    assert retry(db, flag.id, CLOCK + timedelta(seconds=30)) is None  # the first try may still be running
    at = CLOCK
    for tries in range(2, STEP_TRIES + 1):
        at += timedelta(hours=1)
        again = retry(db, flag.id, at)
        assert isinstance(again, StrikePlan) and again.tries == tries and again.timeout_until == plan.timeout_until
        assert retry(db, flag.id, at) is None  # taken: no other process gets the same try
        assert db.write_sync(lambda s: claim_dm(s, GUILD, flag.id)) == DM_SENDING  # so it is not sent again
    given_up = retry(db, flag.id, at + timedelta(hours=1))
    assert isinstance(given_up, Flag) and given_up.strike is not None
    assert given_up.strike.state is StepState.FAILED and given_up.strike.dm == DM_UNKNOWN
    assert given_up.strike.result == ("strike 1 in 30 days: a 10-minute timeout not applied, given up after 5 "
                                      "tries (each was interrupted)")
    assert retry(db, flag.id, at + timedelta(days=1)) is None
