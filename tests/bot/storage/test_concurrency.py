"""Several OS processes writing one PostgreSQL database at once, as shards of one bot do.

Each phase starts real processes (tests/support/concurrent_writer.py), each with its own connections and its
own `Database` writer thread, lets them all start at the same instant (a file barrier), and then checks the
database from a fresh connection, not through the code under test:

- scoring from 4 processes at once loses no row, duplicates none, and every flag points to its own row;
- two moderators' verdicts on the same 2,000 flags, one ascending and one descending so that their
  transactions collide (and deadlock, which the writer retries): exactly one verdict per flag. Without the
  row lock in `review_flag`, both would read "pending" in the flags where their batches overlap, both
  would record, and the sums and the one-audit-entry-per-flag check fail;
- 4 processes patching different labels of the same guild's thresholds: none loses another's change (a
  stale copy of the mapping written back would), and the same exemption added by all 4 exists once.

PostgreSQL only: SQLite's writers are serial by construction (one write lock), so it has no such races.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from bot.labels import LABELS
from bot.storage.schema import upgrade
from bot.storage.tables import Flag, ScoredMessage

ROOT = Path(__file__).resolve().parents[3]
WORKER = "tests.support.concurrent_writer"
PROCESS_TIMEOUT = 300.0  # a hang guard for one phase (start to exit), never a speed target: CI may be loaded

WRITERS, PER_WRITER, FLAGGED_PER_WRITER = 4, 2500, 500
GUILD = 1


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    """The migrated database, seen from outside the code under test."""
    upgrade(postgres_url)
    eng = create_engine(postgres_url, poolclass=NullPool)
    yield eng
    eng.dispose()


def scalar(engine: Engine, sql: str, **params: object) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def run_together(tmp_path: Path, phase: str, url: str, commands: list[list[str]]) -> list[dict[str, Any]]:
    """Start one worker per command, let them all begin at once, and return each one's JSON line.

    Fails the test if any worker exits non-zero (its stderr line says why) or does not finish in time."""
    go = tmp_path / f"{phase}.go"
    procs: list[tuple[Path, subprocess.Popen[str]]] = []
    try:
        for k, argv in enumerate(commands):
            ready = tmp_path / f"{phase}.{k}.ready"
            cmd = [sys.executable, "-m", WORKER, argv[0], "--url", url, "--ready-file", str(ready),
                   "--go-file", str(go), *argv[1:]]
            procs.append((ready, subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                  text=True)))
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while not all(ready.exists() for ready, _ in procs):
            for _, proc in procs:
                if proc.poll() is not None:  # died before the barrier: its stderr says why
                    _, err = proc.communicate()
                    pytest.fail(f"{phase} worker exited {proc.returncode} before starting: {err.strip()}")
            assert time.monotonic() < deadline, f"{phase} workers not ready after {PROCESS_TIMEOUT:g} s"
            time.sleep(0.005)
        go.touch()
        finished = [proc.communicate(timeout=max(deadline - time.monotonic(), 1.0)) for _, proc in procs]
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    failures = [f"worker {k} exited {proc.returncode}: {err.strip()}"
                for k, ((_, proc), (_, err)) in enumerate(zip(procs, finished, strict=True)) if proc.returncode]
    assert not failures, f"{phase}: " + "; ".join(failures)
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in finished]


def test_scoring_and_reviewing_from_several_processes_loses_and_doubles_nothing(
        engine: Engine, postgres_url: str, tmp_path: Path) -> None:
    # (a) 4 processes score 2,500 messages each, 500 of them flagged, all at once
    writers = run_together(tmp_path, "write", postgres_url, [
        ["write", "--guild", str(GUILD), "--first-id", str(k * 1_000_000), "--count", str(PER_WRITER),
         "--flagged", str(FLAGGED_PER_WRITER)] for k in range(1, WRITERS + 1)])
    assert [(w["scored"], w["flags"]) for w in writers] == [(PER_WRITER, FLAGGED_PER_WRITER)] * WRITERS

    total, flags = WRITERS * PER_WRITER, WRITERS * FLAGGED_PER_WRITER
    with engine.connect() as conn:
        ids = list(conn.execute(text("SELECT message_id FROM scored_messages")).scalars())
    assert len(ids) == total
    assert sorted(ids) == [k * 1_000_000 + i for k in range(1, WRITERS + 1) for i in range(PER_WRITER)]
    assert scalar(engine, "SELECT count(*) FROM scored_messages WHERE flagged") == flags
    assert scalar(engine, "SELECT count(*) FROM flags") == flags
    assert scalar(engine, "SELECT count(DISTINCT message_id) FROM flags") == flags
    with Session(engine) as session:  # texts are stored encrypted: read them as the bot does
        pairs = session.execute(select(Flag, ScoredMessage)
                                .join(ScoredMessage, ScoredMessage.id == Flag.scored_message_id))
        assert sum(m.message_id == f.message_id and m.guild_id == f.guild_id and m.flagged
                   and f.text == f"you idiot #{m.message_id}" for f, m in pairs) == flags

    # (b) two moderators give opposite verdicts on the same flags at once, in opposite orders
    confirm, dismiss = run_together(tmp_path, "review", postgres_url, [
        ["review", "--guild", str(GUILD), "--status", "confirmed", "--order", "asc", "--reviewer", "7"],
        ["review", "--guild", str(GUILD), "--status", "dismissed", "--order", "desc", "--reviewer", "8"]])
    print(f"review: confirm {confirm}, dismiss {dismiss}")  # reruns > 0: the writer retried a deadlock
    assert confirm["flags"] == dismiss["flags"] == flags
    assert confirm["recorded"] + dismiss["recorded"] == flags
    assert confirm["already"] + dismiss["already"] == flags
    assert scalar(engine, "SELECT count(*) FROM flags WHERE status = 'confirmed'") == confirm["recorded"]
    assert scalar(engine, "SELECT count(*) FROM flags WHERE status = 'dismissed'") == dismiss["recorded"]
    assert scalar(engine, "SELECT count(*) FROM flags WHERE status NOT IN ('confirmed', 'dismissed')") == 0
    with engine.connect() as conn:
        per_flag: dict[int, int] = dict(conn.execute(text("""SELECT flag_id, count(*) FROM audit_log
                                             WHERE action IN ('confirmed', 'dismissed') GROUP BY flag_id""")).all())
        flag_ids = set(conn.execute(text("SELECT id FROM flags")).scalars())
    assert set(per_flag) == flag_ids
    assert {flag_id: n for flag_id, n in per_flag.items() if n != 1} == {}
    # the one audit entry is the verdict that stands, by the moderator who gave it
    assert scalar(engine, """SELECT count(*) FROM audit_log a JOIN flags f ON f.id = a.flag_id
                             WHERE a.action = f.status AND a.actor_id = f.reviewer_id""") == flags


def test_settings_patched_from_several_processes_keep_every_change(engine: Engine, postgres_url: str,
                                                                    tmp_path: Path) -> None:
    labels, times = LABELS[:4], 50
    guild = 9
    workers = run_together(tmp_path, "settings", postgres_url, [
        ["settings", "--guild", str(guild), "--label", label, "--times", str(times),
         "--value-base", str(0.3 + 0.1 * k), "--actor", str(100 + k), "--exempt-channel", "42"]
        for k, label in enumerate(labels)])
    assert [w["stale"] for w in workers] == [0] * len(labels), workers

    with engine.connect() as conn:
        stored = conn.execute(text("SELECT thresholds FROM guild_settings WHERE guild_id = :g"), {"g": guild}).scalar()
    thresholds = json.loads(stored) if isinstance(stored, str) else stored
    assert thresholds == {w["label"]: w["last"] for w in workers}
    assert thresholds == {label: round(0.3 + 0.1 * k + times / 1000, 6) for k, label in enumerate(labels)}
    assert scalar(engine, "SELECT count(*) FROM audit_log WHERE guild_id = :g AND action = 'thresholds'",
                  g=guild) == len(labels) * times

    assert scalar(engine, "SELECT count(*) FROM exemptions") == 1
    assert scalar(engine, "SELECT count(*) FROM exemptions WHERE guild_id = :g AND kind = 'channel' "
                          "AND target_id = 42", g=guild) == 1
    assert sum(w["exemption_added"] for w in workers) == 1
    assert scalar(engine, "SELECT count(*) FROM audit_log WHERE action = 'exempt_add'") == 1


def test_one_message_scored_by_two_processes_at_once_gets_one_flag(db_url: str) -> None:
    """A shard hand-over can have two processes score the same message. The first holds its transaction
    open after reading that the message has no flag; the second must wait and then join that flag, not
    open a second one (on SQLite the write lock serialises them; on PostgreSQL a per-message lock does)."""
    from bot.decision import Scores
    from bot.moderation.pipeline import Incoming, record
    from bot.moderation.policy import Policy
    from bot.storage.database import Database
    from bot.storage.messages import MessageRef
    from bot.storage.tables import Flag, ScoredMessage

    upgrade(db_url)
    decision = Policy(dict.fromkeys(LABELS, 0.5)).decide(Scores((0.9, 0.0, 0.0, 0.0, 0.9, 0.0), "m1", 1.0))
    item = Incoming(MessageRef(guild_id=1, channel_id=2, message_id=3, author_id=4), "you stupid idiot")
    first, second = Database(db_url, lock_timeout=30), Database(db_url, lock_timeout=30)
    recorded = threading.Event()

    def slow(session: Any) -> Any:  # records, then keeps its transaction open for a while
        outcome = record(session, item, decision)
        recorded.set()
        time.sleep(1.5)
        return outcome

    try:
        with ThreadPoolExecutor(1) as pool:
            opened = pool.submit(first.transaction, slow)
            assert recorded.wait(30)
            joined = second.transaction(lambda s: record(s, item, decision))
            assert opened.result(30).opened and opened.result().flag is not None
        assert joined.flag is None and not joined.opened  # nothing new to post
        flags = first.read_sync(lambda s: s.query(Flag).count())
        rows = first.read_sync(lambda s: s.query(ScoredMessage).count())
        assert (flags, rows) == (1, 2)
    finally:
        first.close()
        second.close()
