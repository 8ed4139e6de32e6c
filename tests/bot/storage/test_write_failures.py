"""Issue 10, the write path under trouble: a lock held elsewhere (D1), one bad job in a batch (D1), a full
or read-only database (D8). Each test fails while its defect exists."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bot.decision import Scores
from bot.labels import LABELS
from bot.moderation.policy import Policy
from bot.storage.audit import audit
from bot.storage.database import Database
from bot.storage.errors import DatabaseUnavailable, unavailable_reason
from bot.storage.flags import review_flag
from bot.storage.messages import MessageRef, record_score
from bot.storage.tables import AuditEntry, Flag, FlagStatus, Report
from bot.storage.writer import Spooled
from tests.support.faults import db_file, fill_database, hold_lock, make_read_only, restore
from tests.support.postgres import PostgresServer

POLICY = Policy(dict.fromkeys(LABELS, 0.5))
LOGGER = "bot.storage.writer"


def add_flag(db: Database) -> int:
    decision = POLICY.decide(Scores((0.9, 0.0, 0.0, 0.0, 0.0, 0.0), "m1", 1.0))
    _, flag = db.transaction(lambda s: record_score(s, MessageRef(guild_id=1, author_id=5), decision, "you idiot"))
    assert flag is not None
    return flag.id


def audits(db: Database) -> int:
    return db.read_sync(lambda s: s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.fixture
def quick_db(db_url: str) -> Iterator[Database]:
    """A database whose spool is retried every few tens of milliseconds, so recoveries are quick to see."""
    database = Database(db_url, retry_initial=0.02, retry_max=0.1).upgrade().start()
    yield database
    restore(database)
    database.close()


# -- D1: a lock held elsewhere delays a write, never loses it ---------------------------------------------------
def test_a_read_then_write_waits_for_a_lock_held_elsewhere_and_runs_once(db_url: str) -> None:
    db = Database(db_url, lock_timeout=20).upgrade().start()
    flag_id = add_flag(db)
    calls = 0

    def confirm(session: Session) -> Flag | None:
        nonlocal calls
        calls += 1  # a deferred transaction fails at the UPDATE (SQLITE_BUSY, no wait) and is run again
        return review_flag(session, 1, flag_id, FlagStatus.CONFIRMED, 7)

    try:
        with hold_lock(db, seconds=3):
            started = time.monotonic()
            reviewed = db.write_sync(confirm)
            waited = time.monotonic() - started
        assert reviewed is not None and reviewed.status is FlagStatus.CONFIRMED
        assert waited > 2.0 and calls == 1
        assert db.read_sync(lambda s: s.get_one(Flag, flag_id).status) is FlagStatus.CONFIRMED
    finally:
        db.close()


def test_a_bulk_transaction_waits_for_a_lock_held_elsewhere_too(db_url: str) -> None:
    db = Database(db_url, lock_timeout=20).upgrade()  # no writer thread: transactions run in this one
    flag_id = add_flag(db)
    calls = 0

    def confirm(session: Session) -> Flag | None:
        nonlocal calls
        calls += 1
        return review_flag(session, 1, flag_id, FlagStatus.DISMISSED, 7)

    with hold_lock(db, seconds=2):
        assert db.transaction(confirm) is not None
    assert calls == 1
    db.engine.dispose()


def test_the_default_lock_wait_comfortably_exceeds_a_ten_second_lock(db: Database) -> None:
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            assert conn.exec_driver_sql("SELECT setting::int FROM pg_settings WHERE name = 'lock_timeout'"
                                        ).scalar_one() >= 30_000
        else:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 30_000


def test_reads_take_no_write_lock(sqlite_db: Database) -> None:
    db = sqlite_db
    add_flag(db)
    with hold_lock(db, seconds=2):  # another process writing does not hold up reads
        started = time.monotonic()
        assert db.read_sync(lambda s: s.scalar(select(func.count()).select_from(Flag))) == 1
        assert time.monotonic() - started < 1.0

    def read_while_another_process_writes(session: Session) -> None:  # nor does a read hold up a write
        session.scalars(select(Flag)).all()  # the read transaction is open from here
        other = sqlite3.connect(db_file(db), timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once ("database is locked") if the read took the lock
            other.execute("ROLLBACK")
        finally:
            other.close()

    db.read_sync(read_while_another_process_writes)


def test_one_failing_job_fails_alone_in_a_batch_of_many(db_url: str) -> None:
    db = Database(db_url, max_wait_ms=300).upgrade().start()  # a long wait: everything below is one batch

    def no_such_table(session: Session) -> None:  # an OperationalError that concerns this job only
        session.execute(text("INSERT INTO no_such_table VALUES (1)"))

    def dangling_report(session: Session) -> None:  # on SQLite it breaks the commit (deferred foreign key)
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text("PRAGMA defer_foreign_keys = ON"))
        session.add(Report(guild_id=1, message_id=1, reporter_id=2, flag_id=999_999))

    def broken(_session: Session) -> None:
        raise ValueError("broken job")

    def good(i: int) -> Callable[[Session], object]:
        return lambda s: audit(s, 1, i, "good").id

    try:
        futures = [db.submit(good(i)) for i in range(25)]
        bad = [db.submit(no_such_table), db.submit(dangling_report), db.submit(broken)]
        futures += [db.submit(good(i)) for i in range(25, 50)]
        assert all(f.exception(timeout=30) is None for f in futures)
        errors = [f.exception(timeout=30) for f in bad]
        assert isinstance(errors[0], DBAPIError) and "no_such_table" in str(errors[0])
        assert "foreign key" in str(errors[1]).lower()
        assert isinstance(errors[2], ValueError)
        assert audits(db) == 50
        assert db.read_sync(lambda s: s.scalar(select(func.count()).select_from(Report))) == 0
        assert db.health is None
    finally:
        db.close()


# -- D8: a full or read-only database ---------------------------------------------------------------------------
FAULTS = [pytest.param(fill_database, "database is full", id="disk-full"),
          pytest.param(make_read_only, "database is read-only", id="read-only")]


@pytest.mark.parametrize(("fault", "reason"), FAULTS)
async def test_writes_wait_in_the_spool_until_the_database_can_be_written_again(
        quick_db: Database, fault: Callable[[Database], None], reason: str, caplog: pytest.LogCaptureFixture) -> None:
    db = quick_db
    caplog.set_level(logging.INFO, logger=LOGGER)
    fault(db)
    results = await asyncio.gather(*[db.write_or_spool(lambda s, i=i: audit(s, 1, i, "spooled").id) for i in range(50)])
    assert all(isinstance(r, Spooled) and r.reason == reason for r in results)
    await asyncio.sleep(0.3)  # several failed retries: none of them logs a warning
    assert db.health == f"{reason}; 50 writes waiting in memory"
    assert audits(db) == 0

    restore(db)
    spooled = [r for r in results if isinstance(r, Spooled)]
    ids = await asyncio.wait_for(asyncio.gather(*[r.saved for r in spooled]), timeout=10)
    assert db.health is None
    assert ids == sorted(ids) and audits(db) == 50  # written, in the order they were made
    later = await db.write_or_spool(lambda s: audit(s, 1, 99, "later").id)
    assert later > max(ids)
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and reason in warnings[0].getMessage() and warnings[0].exc_info is None
    infos = [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.INFO]
    assert len(infos) == 1 and "50 spooled writes saved" in infos[0]


async def test_a_plain_write_fails_at_once_while_the_database_cannot_be_written(quick_db: Database) -> None:
    db = Database(quick_db.url, retry_initial=30, retry_max=30).start()  # no retry during this test
    try:
        fill_database(db)
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable) as caught:
                await db.write(lambda s: audit(s, 1, 1, "plain"))
            assert caught.value.reason == "database is full" and time.monotonic() - started < 1.0
        assert db.health == "database is full; 0 writes waiting in memory"
    finally:
        restore(db)
        db.close()


async def test_a_spooled_job_that_raises_fails_only_its_own_future(quick_db: Database) -> None:
    db = quick_db

    def broken(_session: Session) -> None:
        raise ValueError("broken job")

    fill_database(db)
    results = await asyncio.gather(db.write_or_spool(lambda s: audit(s, 1, 1, "a").id), db.write_or_spool(broken),
                                   db.write_or_spool(lambda s: audit(s, 1, 2, "b").id))
    assert all(isinstance(r, Spooled) for r in results)
    restore(db)
    outcomes = await asyncio.gather(*[r.saved for r in results if isinstance(r, Spooled)], return_exceptions=True)
    assert isinstance(outcomes[1], ValueError) and audits(db) == 2


async def test_a_full_spool_drops_the_oldest_and_says_how_many_once(
        db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    db = Database(db_url, spool_capacity=5, retry_initial=0.02, retry_max=0.1).upgrade().start()
    caplog.set_level(logging.INFO, logger=LOGGER)
    try:
        fill_database(db)
        results = [await db.write_or_spool(lambda s, i=i: audit(s, 1, i, "x").actor_id) for i in range(8)]
        assert db.health == "database is full; 5 writes waiting in memory"
        restore(db)
        outcomes = await asyncio.gather(*[r.saved for r in results if isinstance(r, Spooled)], return_exceptions=True)
        assert [type(o) for o in outcomes[:3]] == [DatabaseUnavailable] * 3 and outcomes[3:] == [3, 4, 5, 6, 7]
        dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
        assert len(dropped) == 2 and "dropped the 1 oldest" in dropped[0] and "3 dropped" in dropped[1]
    finally:
        db.close()


async def test_writes_still_spooled_at_close_fail_with_the_reason(
        quick_db: Database, caplog: pytest.LogCaptureFixture) -> None:
    db = Database(quick_db.url, retry_initial=30, retry_max=30).start()
    fill_database(db)
    result = await db.write_or_spool(lambda s: audit(s, 1, 1, "x"))
    assert isinstance(result, Spooled)
    db.close()
    with pytest.raises(DatabaseUnavailable, match="database is full"):
        await asyncio.wait_for(result.saved, timeout=5)
    restore(db)


async def test_a_database_whose_directory_is_gone_spools_too(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = Database(f"sqlite:///{data / 'toxmod.db'}", retry_initial=0.02, retry_max=0.1).upgrade().start()
    try:
        data.rename(tmp_path / "elsewhere")
        db.engine.dispose()  # connections open before keep writing to the moved file; new ones cannot open it
        result = await db.write_or_spool(lambda s: audit(s, 1, 1, "x").id)
        assert isinstance(result, Spooled) and result.reason == "database file cannot be opened"
        (tmp_path / "elsewhere").rename(data)
        assert await asyncio.wait_for(result.saved, timeout=10) == 1
        assert db.health is None
    finally:
        db.close()


def test_a_lost_connection_to_a_database_server_counts_as_unavailable() -> None:
    lost = DBAPIError("INSERT ...", {}, Exception("server closed the connection"), connection_invalidated=True)
    assert unavailable_reason(lost) == "database connection lost"
    assert unavailable_reason(DBAPIError("INSERT ...", {}, Exception("duplicate key"))) is None


async def test_writes_wait_in_memory_while_the_postgresql_server_is_down(postgres_server: PostgresServer) -> None:
    server = PostgresServer()  # a server of this test's own, to stop
    try:
        db = Database(server.create_database(), retry_initial=0.05, retry_max=0.1).upgrade().start()
        await db.write(lambda s: audit(s, 1, 7, "before"))
        server.stop()
        spooled = await db.write_or_spool(lambda s: audit(s, 1, 7, "while down"))
        assert isinstance(spooled, Spooled) and spooled.reason == "database server cannot be reached"
        assert db.health == "database server cannot be reached; 1 write waiting in memory"
        with pytest.raises(DatabaseUnavailable, match="cannot be reached"):
            await db.write(lambda s: audit(s, 1, 7, "plain"))
        db.close(timeout=5)
    finally:
        server.stop()


async def test_writes_wait_in_memory_while_the_sqlite_file_is_deleted_and_land_in_the_file_put_back(
        sqlite_url: str, tmp_path: Path) -> None:
    db = Database(sqlite_url, retry_initial=0.02, retry_max=0.1).upgrade().start()
    try:
        path = db_file(db)
        await db.write(lambda s: audit(s, 1, 1, "before the backup").id)
        backup = tmp_path / "backup.db"
        with sqlite3.connect(path) as live, sqlite3.connect(backup) as copy:
            live.backup(copy)
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        # SQLite's open connections would write on into the unlinked file, and that write would be lost
        result = await db.write_or_spool(lambda s: audit(s, 1, 2, "while the file is gone").id)
        assert isinstance(result, Spooled)
        assert db.health == f"database file {path.resolve()} is missing (deleted or moved); 1 write waiting in memory"
        backup.rename(path)  # the operator puts the backup back: a new file, so new connections
        await result.saved
        assert db.health is None
        with sqlite3.connect(path) as restored:
            actions = [row[0] for row in restored.execute("SELECT action FROM audit_log ORDER BY id")]
        assert actions == ["before the backup", "while the file is gone"]
    finally:
        db.close()
