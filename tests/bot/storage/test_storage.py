"""Storage: migrations on a fresh SQLite file, the privacy rule, guild scoping, batched writes, bad databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select

from bot.decision import Scores
from bot.labels import LABELS
from bot.moderation.policy import Policy
from bot.storage.database import Database
from bot.storage.errors import DatabaseError
from bot.storage.flags import get_flag, list_flags, review_flag
from bot.storage.messages import MessageRef, record_score
from bot.storage.schema import upgrade
from bot.storage.tables import AuditEntry, Base, Flag, FlagStatus, ScoredMessage
from tests.support.faults import hold_lock

POLICY = Policy(dict.fromkeys(LABELS, 0.5))


def decision(toxic: float, insult: float = 0.0):
    return POLICY.decide(Scores((toxic, 0.0, 0.0, 0.0, insult, 0.0), "m1", 3.0))


def test_migrations_build_the_schema_the_models_describe(db_url: str) -> None:
    upgrade(db_url)
    engine = create_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        tables = set(inspect(conn).get_table_names())
    assert diff == []
    assert {"guild_settings", "exemptions", "scored_messages", "flags", "audit_log", "alembic_version"} <= tables
    upgrade(db_url)  # idempotent


def test_sqlite_runs_in_wal_mode(sqlite_db: Database, sqlite_url: str) -> None:
    sqlite_db.write_sync(lambda s: record_score(s, MessageRef(guild_id=1), decision(0.1), "hi"))
    assert sqlite3.connect(sqlite_url.removeprefix("sqlite:///")).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unflagged_messages_leave_no_text_and_flags_keep_a_snapshot(db: Database) -> None:
    ref = MessageRef(guild_id=10, channel_id=20, message_id=30, author_id=40)
    _, flag = db.write_sync(lambda s: record_score(s, ref, decision(0.1), "have a nice day"))
    assert flag is None
    _, flag2 = db.write_sync(lambda s: record_score(s, ref, decision(0.9, 0.7), "you idiot"))
    assert flag2 is not None and flag2.text == "you idiot" and flag2.labels == ["toxic", "insult"]
    with db.sessions() as s:
        scored = s.scalars(select(ScoredMessage)).all()
        assert [m.flagged for m in scored] == [False, True]
        assert not hasattr(ScoredMessage, "text")
        stored_text = [f.text for f in s.scalars(select(Flag))]
    assert stored_text == ["you idiot"]
    assert scored[0].toxic == pytest.approx(0.1) and scored[0].model_version == "m1"


def test_a_flag_of_another_guild_looks_missing(db: Database) -> None:
    _, flag = db.write_sync(lambda s: record_score(s, MessageRef(guild_id=1), decision(0.9), "x"))
    assert db.read_sync(lambda s: get_flag(s, 1, flag.id)) is not None
    assert db.read_sync(lambda s: get_flag(s, 2, flag.id)) is None
    assert db.write_sync(lambda s: review_flag(s, 2, flag.id, FlagStatus.CONFIRMED, 99)) is None
    flags, total = db.read_sync(lambda s: list_flags(s, 2))
    assert flags == [] and total == 0


def test_review_records_verdict_labels_and_audit(db: Database) -> None:
    _, flag = db.write_sync(lambda s: record_score(s, MessageRef(guild_id=1), decision(0.9, 0.8), "x"))
    db.write_sync(lambda s: review_flag(s, 1, flag.id, FlagStatus.DISMISSED, 7, note="banter"))
    with db.sessions() as s:
        stored = s.get(Flag, flag.id)
        entry = s.scalars(select(AuditEntry)).one()
    assert stored.status is FlagStatus.DISMISSED and stored.verdict_labels == [] and stored.reviewer_id == 7
    assert entry.actor_id == 7 and entry.action == "dismissed" and entry.details["note"] == "banter"


async def test_concurrent_writes_are_grouped_and_one_bad_job_sinks_no_other(db: Database) -> None:
    import asyncio

    def bad(session):
        raise ValueError("broken job")

    jobs = [db.write(lambda s, i=i: record_score(s, MessageRef(guild_id=1, message_id=i), decision(0.1), "t"))
            for i in range(50)]
    results = await asyncio.gather(*jobs, db.write(bad), return_exceptions=True)
    assert isinstance(results[-1], ValueError)
    assert all(not isinstance(r, Exception) for r in results[:-1])
    count = db.read_sync(lambda s: len(s.scalars(select(ScoredMessage)).all()))
    assert count == 50


def test_close_writes_everything_queued(db_url: str) -> None:
    database = Database(db_url).upgrade().start()
    futures = [database.submit(lambda s, i=i: record_score(s, MessageRef(message_id=i), decision(0.1), ""))
               for i in range(30)]
    database.close()
    assert all(f.done() and f.exception() is None for f in futures)
    again = Database(db_url)
    assert again.read_sync(lambda s: len(s.scalars(select(ScoredMessage)).all())) == 30
    again.close()


def test_missing_database_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        Database(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}")


def test_locked_database_fails_clearly_after_the_wait_budget_and_writes_nothing(db_url: str) -> None:
    database = Database(db_url, lock_timeout=0.2).upgrade().start()
    with hold_lock(database, seconds=10) as held:
        fut = database.submit(lambda s: record_score(s, MessageRef(guild_id=1), decision(0.9), "x"))
        with pytest.raises(DatabaseError, match="locked"):
            fut.result(timeout=60)
        assert database.health is None  # a lock is something to wait for, not an outage to spool through
        assert not held.released.is_set()
        held.release()
    assert database.read_sync(lambda s: s.scalars(select(Flag)).all()) == []
    database.close()


def _schema(url: str) -> dict[str, object]:
    """Tables, columns (kind of type, nullability), keys and indexes, as the database reports them."""
    engine = create_engine(url)
    try:
        found = inspect(engine)
        schema: dict[str, object] = {}
        for table in sorted(found.get_table_names()):
            columns = {c["name"]: (_kind(c["type"]), c["nullable"]) for c in found.get_columns(table)}
            indexes = sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(table)
                             if not i.get("duplicates_constraint"))  # PostgreSQL lists a UNIQUE's index too
            unique = sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(table))
            foreign = sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                             for f in found.get_foreign_keys(table))
            schema[table] = (columns, tuple(found.get_pk_constraint(table)["constrained_columns"]), indexes, unique,
                             foreign)
        return schema
    finally:
        engine.dispose()


def _kind(column_type: object) -> str:
    """A type as the application sees it: SQLite's INTEGER and PostgreSQL's BIGINT are both whole numbers."""
    python_type = getattr(column_type, "python_type", None)
    try:
        return python_type.__name__ if python_type is not None else type(column_type).__name__
    except NotImplementedError:
        return type(column_type).__name__


def test_the_migrations_build_the_same_schema_on_sqlite_and_postgresql(sqlite_url: str, postgres_url: str) -> None:
    upgrade(sqlite_url)
    upgrade(postgres_url)
    on_sqlite, on_postgres = _schema(sqlite_url), _schema(postgres_url)
    assert set(on_sqlite) == set(on_postgres)
    for table in on_sqlite:
        assert on_sqlite[table] == on_postgres[table], table
