"""Issue 10, D5: an erased text leaves no copy behind, not in the database file, its WAL, or the feedback
export of a retrain. Each test fails while the defect exists."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from bot.decision import Scores
from bot.discord.admin import retrain
from bot.labels import LABELS
from bot.moderation.feedback.export import FEEDBACK_CSV, partial_path, write_feedback_csv
from bot.moderation.feedback.run_folders import remove_feedback_exports, runs_dir
from bot.moderation.policy import Policy
from bot.storage.database import Database
from bot.storage.messages import MessageRef, record_score
from bot.storage.tables import Flag, utcnow
from bot.storage.texts import erase_texts
from tests.support.faults import stored_bytes

POLICY = Policy(dict.fromkeys(LABELS, 0.5))


def marker(length: int = 40) -> str:
    """A text that cannot appear in the file by chance (long ones spill onto overflow pages)."""
    return ("secret-" + uuid.uuid4().hex + " ") * (length // 40 + 1)


def add_flag(db: Database, text: str, author_id: int) -> int:
    decision = POLICY.decide(Scores((0.9, 0.0, 0.0, 0.0, 0.0, 0.0), "m1", 1.0))
    _, flag = db.write_sync(lambda s: record_score(s, MessageRef(guild_id=1, author_id=author_id), decision, text))
    assert flag is not None
    return flag.id


def sealed(db: Database, flag_id: int) -> bytes:
    """The start of a flag's stored ciphertext (texts are stored encrypted: the plaintext is never there)."""
    with db.engine.connect() as conn:
        return bytes(conn.exec_driver_sql("SELECT sealed_text FROM flags WHERE id = ?", (flag_id,)).scalar_one())[:64]


@pytest.mark.parametrize("length", [40, 10_000], ids=["short", "overflow-pages"])
async def test_forgetting_a_member_leaves_no_copy_in_the_file_or_the_wal(sqlite_db: Database, length: int) -> None:
    db = sqlite_db
    with db.engine.connect() as conn:  # what is erased is zeroed in the file, not left in free space
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    secret, kept = marker(length), marker()
    erased_copy, kept_copy = sealed(db, add_flag(db, secret, author_id=5)), sealed(db, add_flag(db, kept, author_id=6))
    token = secret.split()[0].encode()  # a long text is split across pages: look for a piece of it
    stored = stored_bytes(db)
    assert erased_copy in stored and token not in stored  # the check below can see what is stored
    erased = await db.erase(lambda s: erase_texts(s, guild_id=1, author_id=5))
    assert erased == 1
    stored = stored_bytes(db)
    assert token not in stored and erased_copy not in stored
    assert kept_copy in stored  # only the erased text went
    assert db.read_sync(lambda s: [f.text for f in s.query(Flag).order_by(Flag.id)]) == [None, kept]


def test_the_cli_purge_erases_without_a_trace_too(sqlite_db: Database) -> None:
    db = sqlite_db
    secret = marker()
    flag_id = add_flag(db, secret, author_id=5)
    copy = sealed(db, flag_id)
    db.write_sync(lambda s: setattr(s.get(Flag, flag_id), "created_at", utcnow() - timedelta(days=100)))
    cli = Database(db.url)  # `toxmod db purge`: no writer thread, one transaction in its own thread
    try:
        assert cli.erase_sync(lambda s: erase_texts(s, before=utcnow() - timedelta(days=90))) == 1
    finally:
        cli.close()
    assert secret.split()[0].encode() not in stored_bytes(db) and copy not in stored_bytes(db)


def export(run_dir: Path, text: str) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    write_feedback_csv([{"id": "flag-1", "comment_text": text, **dict.fromkeys(LABELS, 0), "source": "feedback:1",
                         "guild": 1, "decided_at": ""}], run_dir / FEEDBACK_CSV)
    return run_dir / FEEDBACK_CSV


@pytest.mark.parametrize("exit_code", [0, 3])
async def test_the_retrain_export_goes_as_soon_as_the_training_child_exits(tmp_path: Path, exit_code: int) -> None:
    job = retrain.RetrainJob(name="candidate-1", guild_id=1, run_dir=tmp_path / "runs" / "candidate-1",
                             model_dir=tmp_path / "models" / "candidate-1", verdicts=1)
    csv_path = export(job.run_dir, marker())
    assert job.feedback_csv == csv_path
    child = f"import pathlib, sys; pathlib.Path(sys.argv[1]).read_text(); sys.exit({exit_code})"
    command = [sys.executable, "-c", child, str(csv_path)]
    await retrain.start_process(job, command, threads=1)
    await asyncio.wait_for(retrain.wait(job), timeout=60)
    assert job.returncode == exit_code and (job.error is not None) == (exit_code != 0)
    assert not csv_path.exists() and (job.run_dir / "train.log").exists()


async def test_a_retrain_that_cannot_start_leaves_no_export(tmp_path: Path) -> None:
    job = retrain.RetrainJob(name="candidate-1", guild_id=1, run_dir=tmp_path / "candidate-1",
                             model_dir=tmp_path / "models" / "candidate-1", verdicts=1)
    csv_path = export(job.run_dir, marker())
    with pytest.raises(OSError):
        await retrain.start_process(job, [str(tmp_path / "no-such-program")], threads=1)
    assert not csv_path.exists()


def test_erasure_removes_feedback_exports_left_in_run_folders(tmp_path: Path) -> None:
    models = tmp_path / "models"
    runs = runs_dir(models)
    assert runs == tmp_path / "runs"
    left = [export(runs / "candidate-1", marker()), export(runs / "candidate-2", marker())]
    partial = runs / "candidate-3" / f".{FEEDBACK_CSV}.tmp"
    partial.parent.mkdir()
    partial.write_text(marker())
    progress = runs / "candidate-1" / "progress.json"
    progress.write_text("{}")
    assert remove_feedback_exports(runs) == 3
    assert not any(path.exists() for path in [*left, partial]) and progress.exists()
    assert remove_feedback_exports(tmp_path / "nowhere") == 0


def test_the_cleanup_knows_the_name_an_unfinished_export_is_written_under(tmp_path: Path) -> None:
    """The export writes beside its target and renames; a bot killed in between leaves that file, which the
    cleanup (another module) must find by the same name."""
    target = runs_dir(tmp_path / "models") / "candidate-1" / FEEDBACK_CSV
    target.parent.mkdir(parents=True)
    partial_path(target).write_text(marker())
    assert remove_feedback_exports(target.parent.parent) == 1 and not partial_path(target).exists()
