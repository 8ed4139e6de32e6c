"""Issue 26: strikes and appeals in storage, on SQLite and PostgreSQL: the migration, a step claimed once
whoever confirms (two processes at once included), the decay window, reversal, and appeals filed once
per case by the member it is about, decided once, and erased with the member's texts."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from alembic import command
from PIL import Image
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.pool import NullPool

from bot.decision import Scores
from bot.labels import LABELS
from bot.moderation.charts import HEIGHT, WIDTH, figures_lines, render_png
from bot.moderation.escalation import Ladder, Step, StepKind
from bot.moderation.policy import Policy
from bot.moderation.strikes import StrikePlan, reverse_strike, strike_flag
from bot.storage.appeals import (
    APPEALS_PER_DAY,
    AppealDecided,
    AppealRefused,
    decide_appeal,
    file_appeal,
    open_appeals,
)
from bot.storage.cases import Appeal, AppealStatus, Strike
from bot.storage.database import Database
from bot.storage.flags import review_flag
from bot.storage.guilds import update_guild_settings
from bot.storage.messages import MessageRef, record_score
from bot.storage.schema import upgrade
from bot.storage.stats import daily_flags
from bot.storage.strikes import record_step, revoke_strike
from bot.storage.tables import Flag, FlagStatus, MemberKey, utcnow
from bot.storage.texts import erase_texts
from tests.bot.storage.test_episodes import alembic_config

GUILD, CHANNEL, ALICE, BOB, MOD = 1, 10, 5, 6, 9
POLICY = Policy(dict.fromkeys(LABELS, 0.5))
LADDER = Ladder((Step(StepKind.WARN), Step(StepKind.TIMEOUT, 10), Step(StepKind.SUGGEST_BAN)), decay_days=30)


def set_ladder(db: Database, ladder: Ladder | None = LADDER) -> None:
    db.write_sync(lambda s: update_guild_settings(s, GUILD, MOD, "escalation_set",
                                                  escalation=ladder.to_json() if ladder else None))


def confirmed(db: Database, message_id: int, author_id: int = ALICE) -> Flag:
    decision = POLICY.decide(Scores((0.9, 0.0, 0.0, 0.0, 0.0, 0.0), "m1", 1.0))
    ref = MessageRef(GUILD, CHANNEL, message_id, author_id)
    _, flag = db.write_sync(lambda s: record_score(s, ref, decision, "you are an idiot"))
    assert flag is not None
    db.write_sync(lambda s: review_flag(s, GUILD, flag.id, FlagStatus.CONFIRMED, MOD))
    return flag


def strike(db: Database, flag: Flag) -> StrikePlan | None:
    return db.write_sync(lambda s: strike_flag(s, GUILD, flag.id, MOD))


def test_each_confirmed_flag_climbs_the_ladder_once_and_the_last_step_repeats(db: Database) -> None:
    set_ladder(db)
    plans = [strike(db, confirmed(db, m)) for m in (100, 101, 102, 103)]
    assert [p.step.kind if p and p.step else None for p in plans] == [
        StepKind.WARN, StepKind.TIMEOUT, StepKind.SUGGEST_BAN, StepKind.SUGGEST_BAN]
    assert [p.counted for p in plans if p] == [1, 2, 3, 4]
    first = plans[0]
    assert first is not None and first.next_step == Step(StepKind.TIMEOUT, 10) and first.decay_days == 30
    assert strike(db, confirmed(db, 200, BOB)) is not None  # bob's first: his own count
    flag = db.read_sync(lambda s: s.scalars(select(Flag).where(Flag.message_id == 100)).one())
    assert strike(db, flag) is None  # confirmed again (another moderator): counted once, stepped once


def test_without_a_ladder_a_verdict_makes_no_strike(db: Database) -> None:
    assert strike(db, confirmed(db, 100)) is None
    set_ladder(db)
    set_ladder(db, None)
    assert strike(db, confirmed(db, 101)) is None
    assert db.read_sync(lambda s: s.scalars(select(Strike)).all()) == []


def test_strikes_past_the_decay_no_longer_count(db: Database) -> None:
    set_ladder(db)
    old = confirmed(db, 100)
    strike(db, old)
    db.write_sync(lambda s: s.execute(update(Strike).values(created_at=utcnow() - timedelta(days=31))))
    plan = strike(db, confirmed(db, 101))
    assert plan is not None and plan.counted == 1 and plan.step == Step(StepKind.WARN)


def test_a_reversed_verdict_revokes_its_strike_once_and_a_new_confirm_counts_again(db: Database) -> None:
    set_ladder(db)
    first, second = confirmed(db, 100), confirmed(db, 101)
    strike(db, first)
    plan = strike(db, second)
    assert plan is not None and plan.counted == 2
    db.write_sync(lambda s: record_step(s, GUILD, second.id, result="timed out", applied=True, dm="sent"))
    assert db.write_sync(lambda s: revoke_strike(s, GUILD, second.id, MOD, utcnow())) is None  # still confirmed
    db.write_sync(lambda s: review_flag(s, GUILD, second.id, FlagStatus.DISMISSED, MOD))
    revoked = db.write_sync(lambda s: revoke_strike(s, GUILD, second.id, MOD, utcnow()))
    assert revoked is not None and revoked.applied and revoked.step == "timeout:10"
    assert db.write_sync(lambda s: revoke_strike(s, GUILD, second.id, MOD, utcnow())) is None  # once
    plan = strike(db, confirmed(db, 102))
    assert plan is not None and plan.counted == 2  # the revoked strike no longer counts
    db.write_sync(lambda s: review_flag(s, GUILD, second.id, FlagStatus.CONFIRMED, MOD))
    again = strike(db, second)
    assert again is not None and again.counted == 3
    [row] = db.read_sync(lambda s: s.scalars(select(Strike).where(Strike.flag_id == second.id)).all())
    assert row.revoked_at is None and row.result is None and not row.applied


def test_two_processes_confirming_at_once_step_the_strike_once(db_url: str, db: Database) -> None:
    set_ladder(db)
    flag = confirmed(db, 100)
    other = Database(db_url).start()
    barrier, plans = threading.Barrier(2), []

    def claim(database: Database) -> None:
        barrier.wait()
        plans.append(database.write_sync(lambda s: strike_flag(s, GUILD, flag.id, MOD)))

    try:
        threads = [threading.Thread(target=claim, args=(d,)) for d in (db, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        other.close()
    assert len(plans) == 2 and sum(p is not None for p in plans) == 1


def test_an_appeal_is_its_members_once_per_case_and_decided_once(db: Database) -> None:
    set_ladder(db)
    flag = confirmed(db, 100)
    strike(db, flag)
    with pytest.raises(AppealRefused, match="no case of yours"):
        db.write_sync(lambda s: file_appeal(s, GUILD, flag.id, BOB, "not me", utcnow()))
    with pytest.raises(AppealRefused, match="no case of yours"):  # the same case, seen from another server
        db.write_sync(lambda s: file_appeal(s, 2, flag.id, ALICE, "elsewhere", utcnow()))
    appeal = db.write_sync(lambda s: file_appeal(s, GUILD, flag.id, ALICE, "I was quoting " + "x" * 2000, utcnow()))
    assert appeal.status is AppealStatus.OPEN and appeal.text == "I was quoting " + "x" * 986
    with pytest.raises(AppealRefused, match="already appealed"):
        db.write_sync(lambda s: file_appeal(s, GUILD, flag.id, ALICE, "again", utcnow()))
    assert db.read_sync(lambda s: open_appeals(s, GUILD))[1] == 1
    decided = db.write_sync(lambda s: decide_appeal(s, GUILD, appeal.id, AppealStatus.REJECTED, MOD, utcnow(), "no"))
    assert decided is not None and decided.note == "no"
    with pytest.raises(AppealDecided):
        db.write_sync(lambda s: decide_appeal(s, GUILD, appeal.id, AppealStatus.ACCEPTED, MOD, utcnow()))
    assert db.write_sync(lambda s: decide_appeal(s, 2, appeal.id, AppealStatus.ACCEPTED, MOD, utcnow())) is None
    assert db.read_sync(lambda s: open_appeals(s, GUILD)) == ([], 0)


def test_a_member_cannot_flood_appeals(db: Database) -> None:
    set_ladder(db, Ladder((Step(StepKind.WARN),)))
    flags = [confirmed(db, 100 + n) for n in range(APPEALS_PER_DAY + 1)]
    for flag in flags:
        strike(db, flag)
    for flag in flags[:-1]:
        db.write_sync(lambda s, f=flag: file_appeal(s, GUILD, f.id, ALICE, "please", utcnow()))
    with pytest.raises(AppealRefused, match="times today"):
        db.write_sync(lambda s: file_appeal(s, GUILD, flags[-1].id, ALICE, "please", utcnow()))


def test_appeal_texts_go_with_the_members_texts_and_with_retention(db: Database) -> None:
    set_ladder(db)
    alice_flag, bob_flag = confirmed(db, 100), confirmed(db, 101, BOB)
    strike(db, alice_flag)
    strike(db, bob_flag)
    db.write_sync(lambda s: file_appeal(s, GUILD, alice_flag.id, ALICE, "alice's appeal", utcnow()))
    db.write_sync(lambda s: file_appeal(s, GUILD, bob_flag.id, BOB, "bob's appeal", utcnow()))

    def texts() -> dict[int, str | None]:
        return db.read_sync(lambda s: {a.member_id: a.text for a in s.scalars(select(Appeal))})

    db.write_sync(lambda s: erase_texts(s, guild_id=GUILD, author_id=ALICE))
    assert texts() == {ALICE: None, BOB: "bob's appeal"}
    db.write_sync(lambda s: erase_texts(s, before=utcnow() - timedelta(days=1)))  # retention: too recent
    assert texts()[BOB] == "bob's appeal"
    db.write_sync(lambda s: erase_texts(s, before=utcnow() + timedelta(minutes=1)))
    assert texts() == {ALICE: None, BOB: None}
    with db.sessions() as s:
        assert s.scalars(select(MemberKey)).all() == []  # no key is left that could open an erased appeal


def test_the_migration_adds_strikes_and_appeals_and_downgrades(db_url: str) -> None:
    upgrade(db_url, "0007")
    upgrade(db_url)
    db = Database(db_url).start()
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        set_ladder(db)
        flag = confirmed(db, 100)
        strike(db, flag)
        db.write_sync(lambda s: file_appeal(s, GUILD, flag.id, ALICE, "appeal", utcnow()))
        command.downgrade(alembic_config(db_url), "0007")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM flags")).scalar() == 1
        upgrade(db_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM strikes")).scalar() == 0
    finally:
        db.close()
        engine.dispose()


def test_a_reversal_says_how_long_the_strikes_still_counting_keep_the_member_timed_out(db: Database) -> None:
    set_ladder(db, Ladder((Step(StepKind.TIMEOUT, 10), Step(StepKind.TIMEOUT, 1440))))
    first, second = confirmed(db, 100), confirmed(db, 101)
    for flag in (first, second):
        strike(db, flag)
        db.write_sync(lambda s, f=flag: record_step(s, GUILD, f.id, result="timed out", applied=True, dm=None))
    db.write_sync(lambda s: review_flag(s, GUILD, first.id, FlagStatus.DISMISSED, MOD))
    reversal = db.write_sync(lambda s: reverse_strike(s, GUILD, first.id, MOD))
    assert reversal is not None and reversal.step == Step(StepKind.TIMEOUT, 10)
    assert reversal.timeout_still_due is not None
    assert timedelta(hours=23) < reversal.timeout_still_due <= timedelta(days=1)
    db.write_sync(lambda s: review_flag(s, GUILD, second.id, FlagStatus.DISMISSED, MOD))
    reversal = db.write_sync(lambda s: reverse_strike(s, GUILD, second.id, MOD))
    assert reversal is not None and reversal.timeout_still_due is None
    assert db.write_sync(lambda s: reverse_strike(s, GUILD, second.id, MOD)) is None


def test_the_stats_chart_counts_strikes_and_appeals_per_day_only_where_the_ladder_was_used(db: Database) -> None:
    today = utcnow().date()
    quiet = db.read_sync(lambda s: daily_flags(s, GUILD, 7, today))
    confirmed(db, 300)
    before = db.read_sync(lambda s: daily_flags(s, GUILD, 7, today))
    assert sum(quiet.per_case["strikes"]) == 0 and figures_lines(before)[-1].startswith("Busiest day")
    set_ladder(db)
    flags = [confirmed(db, m) for m in (301, 302)]
    for flag in flags:
        strike(db, flag)
    db.write_sync(lambda s: file_appeal(s, GUILD, flags[0].id, ALICE, "it was a joke between friends", utcnow()))
    daily = db.read_sync(lambda s: daily_flags(s, GUILD, 7, utcnow().date()))
    assert {name: (len(counts), sum(counts)) for name, counts in daily.per_case.items()} == {
        "strikes": (7, 2), "appeals": (7, 1)}
    assert figures_lines(daily)[-1] == "Escalation ladder: 2 strikes, 1 appeals."
    # the third panel is drawn in the same picture size
    with_cases = render_png(daily, "g")
    assert with_cases != render_png(before, "g") and Image.open(io.BytesIO(with_cases)).size == (WIDTH, HEIGHT)
