"""The `toxmod` command line, second round: Ctrl-C at any moment, a reader of stdout that goes away, a full
or read-only disk, odd database URLs, and several replays (or migrations) of one database at once.

Each test sets up its moment on purpose (a Ctrl-C raised inside a given import or `__del__`, a lock held by
the test while another process runs), so none of them depends on how fast this machine is.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import make_url
from sqlalchemy.orm import Session

from bot.cli import main
from bot.settings import PROJECT_ROOT
from bot.storage.database import Database
from bot.storage.locks import lock_file, wait_for_file_lock
from tests.bot.cli.test_broken_setups_and_bad_input import cli, one_error_line
from tests.support.faults import fill_database, hold_lock
from tests.support.rows import count, has_schema, rows
from tests.support.tiny_model import TOXIC_MESSAGE

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _no_progress_bars() -> Iterator[None]:
    """transformers' "Loading weights" bar on stderr: `main` turns it off before transformers is first
    imported, which in this process happened long before."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    yield
    hf_logging.enable_progress_bar()


def lines_until(stream: Any, marker: str) -> list[str]:
    """Lines read from a child's stream up to the first holding `marker` (all of them if it never comes)."""
    seen = []
    for line in stream:
        seen.append(line)
        if marker in line:
            break
    return seen


# -- Ctrl-C at any moment: one line, status 130 -----------------------------------------------------------------
CTRL_C_INSIDE = """
import signal, sys

class Swallows:
    def __del__(self):  # Python cannot pass on what is raised in here: it prints "Exception ignored"
        signal.raise_signal(signal.SIGINT)

class CtrlC:
    \"\"\"Ctrl-C pressed while `module` is being imported, in `where`: the import itself, or a __del__.\"\"\"
    def __init__(self, module, where):
        self.module, self.where = module, where
    def find_spec(self, name, path=None, target=None):
        if name == self.module:
            sys.meta_path.remove(self)
            if self.where == "import":
                signal.raise_signal(signal.SIGINT)
            else:
                Swallows()  # dropped at once: its __del__ runs now
        return None

sys.meta_path.insert(0, CtrlC(sys.argv.pop(1), sys.argv.pop(1)))
from bot.cli import main  # what the installed `toxmod` script runs
sys.exit(main())
"""


def ctrl_c_inside(module: str, where: str, *args: str, **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CTRL_C_INSIDE, module, where, *args], cwd=PROJECT_ROOT,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def test_ctrl_c_during_the_start_up_imports_is_one_line_and_status_130(tmp_path: Path) -> None:
    log = tmp_path / "chat.txt"
    log.write_text("hello friend\n")
    proc = ctrl_c_inside("sqlalchemy", "import", "replay", "-q", str(log))
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, err.splitlines(), out) == (130, ["toxmod: interrupted"], "")


def test_a_ctrl_c_that_lands_in_a_del_method_still_stops_the_command(tmp_path: Path) -> None:
    """Python swallows an exception raised in `__del__`: Ctrl-C there was ignored, and the command scored
    every line and exited 0."""
    lines = tmp_path / "many.txt"
    lines.write_text("you are a stupid idiot hello friend\n" * 2000)
    with lines.open() as stdin:
        proc = ctrl_c_inside("torch", "__del__", "score", "--jsonl", stdin=stdin)
        out, err = proc.communicate(timeout=120)
    assert (proc.returncode, err.splitlines(), out) == (130, ["toxmod: interrupted"], "")


# -- a reader of stdout that goes away (`| head`) -------------------------------------------------------------
def test_score_piped_into_head_stops_quietly() -> None:
    texts = "".join(f"hello friend {i}\n" for i in range(3000))  # far more output than a pipe holds
    toxmod = cli("score", "--jsonl", stdin=subprocess.PIPE)
    assert toxmod.stdin is not None and toxmod.stdout is not None and toxmod.stderr is not None
    head = subprocess.Popen(["head", "-1"], stdin=toxmod.stdout, stdout=subprocess.PIPE, text=True)
    toxmod.stdout.close()  # head holds the only reading end now
    toxmod.stdin.write(texts)
    toxmod.stdin.close()
    first, _ = head.communicate(timeout=120)
    err = toxmod.stderr.read()
    toxmod.wait(timeout=120)
    assert json.loads(first)["text"] == "hello friend 0"
    assert toxmod.returncode == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err


@contextmanager
def reader_gone() -> Iterator[int]:
    """The writing end of a pipe whose reader has gone, as `head`'s has once it printed its lines."""
    read, write = os.pipe()
    os.close(read)
    try:
        yield write
    finally:
        os.close(write)


def test_flags_and_replay_into_a_closed_pipe_stop_quietly_and_keep_what_they_wrote(tmp_path: Path,
                                                                                  db_url: str) -> None:
    log = tmp_path / "chat.csv"
    log.write_text("author,channel,content\n" + "".join(f"{i},9,you are a stupid idiot\n" for i in range(300)))
    for command in (["replay", "-q", str(log)], ["flags", "--limit", "1000"]):
        with reader_gone() as stdout:
            result = subprocess.run([sys.executable, "-m", "bot.cli", *command], cwd=PROJECT_ROOT, stdout=stdout,
                                    stderr=subprocess.PIPE, text=True, timeout=120)
        assert result.returncode == 141, result.stderr
        assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert rows(db_url, "scored_messages") == 300 and rows(db_url, "flags") == 300


# -- a read-only or full disk: one line, status 2 ---------------------------------------------------------------
@contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A filesystem of `size` of its own at `where` (a tmpfs), to fill or to make read-only for real."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a filesystem here (needs root with CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(disk: Path) -> None:
    ballast = os.open(disk / "ballast", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(ballast, bytes(4096))
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(ballast)


# a process that wrote to the database and died: its WAL and shared-memory files stay beside the database
WROTE_AND_DIED = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("CREATE TABLE scratch (x)")
conn.execute("DROP TABLE scratch")
os._exit(0)
"""


def test_db_purge_on_a_read_only_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The WAL checkpoint after the erasure ended in a traceback (sqlite3.OperationalError, status 1)."""
    with small_disk(tmp_path / "disk", "16m") as disk:
        url = f"sqlite:///{disk / 'toxmod.db'}"
        assert main(["db", "upgrade", "--database-url", url]) == 0
        assert main(["db", "purge", "--database-url", url]) == 0  # in WAL mode from now on
        subprocess.run([sys.executable, "-c", WROTE_AND_DIED, str(disk / "toxmod.db")], check=True)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)  # then its disk went read-only
        capsys.readouterr()
        assert main(["db", "purge", "--database-url", url]) == 2
        assert one_error_line(capsys) == (f"toxmod: cannot write the database {url}: database is read-only (SQLite "
                                          "needs to write both the file and the directory it is in)")


def test_db_purge_on_a_full_disk_says_the_disk_is_full(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    made = tmp_path / "made.db"
    assert main(["db", "upgrade", "--database-url", f"sqlite:///{made}"]) == 0
    with closing(sqlite3.connect(made)) as conn:  # everything in the one file, as a copied database is
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with small_disk(tmp_path / "disk", f"{made.stat().st_size + 64 * 1024}") as disk:
        shutil.copy(made, disk / "toxmod.db")
        fill(disk)
        url = f"sqlite:///{disk / 'toxmod.db'}"
        capsys.readouterr()
        assert main(["db", "purge", "--database-url", url]) == 2
        err = one_error_line(capsys)
        assert err == f"toxmod: cannot write the database {url}: the disk holding it is full"


# -- replay on a full disk: it stops, says so, and resumes later ------------------------------------------------
class FullAfterTheFirstChunk(Database):
    """A database whose disk fills up once the replay's first chunk is written."""

    async def write(self, fn: Callable[[Session], T]) -> T:
        result = await super().write(fn)
        fill_database(self)
        return result


def test_replay_on_a_full_disk_says_it_stopped_and_a_rerun_resumes(
        tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    log = tmp_path / "chat.txt"
    log.write_text("".join(f"hello friend {i}\n" for i in range(600)))  # three chunks
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("bot.cli.common.Database", FullAfterTheFirstChunk)
        assert main(["replay", "-q", str(log)]) == 2
    where = make_url(db_url).render_as_string()
    assert one_error_line(capsys) == (
        f"toxmod: cannot write the database {where}: database is full; the replay stopped after message 256 of "
        "600 (those 256 are saved, nothing is lost): once the database can be written, run the same command "
        "again to resume")
    assert "kept in memory" not in caplog.text  # nothing is: each chunk is written, or not at all
    assert count(db_url, "SELECT count(*) FROM scored_messages") == 256

    assert main(["replay", "-q", str(log)]) == 0
    assert "resuming at message 257 of 600" in capsys.readouterr().out
    assert count(db_url, "SELECT count(*) FROM scored_messages") == 600


# -- database URLs -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["sqlite:///", "sqlite://", "sqlite:///:memory:"])
def test_a_sqlite_url_without_a_file_is_refused_by_every_command_alike(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str) -> None:
    """`db upgrade` said "up to date" (of a database in memory, gone at once) and `replay` "no such table"."""
    log = tmp_path / "chat.txt"
    log.write_text("hello friend\n")
    monkeypatch.setenv("DATABASE_URL", url)
    for command in (["db", "upgrade"], ["replay", "-q", str(log)], ["flags"]):
        assert main(command) == 2
        assert one_error_line(capsys) == (f"toxmod: DATABASE_URL {url!r} names no database file: what a command "
                                          "wrote would be gone when it ends; name a file, for example "
                                          "sqlite:///toxmod.db")


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgresql_urls_as_hosts_print_them_are_accepted(monkeypatch: pytest.MonkeyPatch, postgres_url: str,
                                                          capsys: pytest.CaptureFixture[str], scheme: str) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url.replace("postgresql+psycopg://", f"{scheme}://", 1))
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["flags"]) == 0
    assert capsys.readouterr().out.strip() == "no flags"
    assert has_schema(postgres_url)


def test_replaying_a_directory_says_it_is_one(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path)]) == 2
    assert one_error_line(capsys) == (f"toxmod: {tmp_path} is a directory: give the chat log file itself (CSV, or "
                                      "one message a line)")
    assert not has_schema(db_url)


# -- several replays of one log, and --again ------------------------------------------------------------------
def test_a_second_replay_of_a_log_being_replayed_is_refused(tmp_path: Path, db_url: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Both used to write every row: twice the rows, twice the flags."""
    log = tmp_path / "chat.csv"
    log.write_text("author,channel,content\n" + "".join(f"{i},9,{TOXIC_MESSAGE}\n{i},9,hello friend\n"
                                                         for i in range(300)))
    earlier = tmp_path / "earlier.txt"
    earlier.write_text("hello friend\n")
    assert main(["replay", "-q", str(earlier)]) == 0  # a database in use (SQLite: in WAL mode, as toxmod sets it)
    with hold_lock(db_url, seconds=120) as held:
        # the first replay claims the log, then waits for the database lock the test holds
        first = cli("-v", "replay", "-q", str(log))
        assert first.stderr is not None
        seen = lines_until(first.stderr, "no other process writes this log now")
        assert seen and "no other process writes this log now" in seen[-1], "".join(seen)
        capsys.readouterr()
        assert main(["replay", "-q", str(log)]) == 2
        assert one_error_line(capsys) == (f"toxmod: another toxmod replay of {log} (the same content) is writing to "
                                          "this database: wait for it to end, then run this again (it resumes "
                                          "where that one stopped)")
        held.release()
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert "replayed 600 messages" in out
    assert rows(db_url, "scored_messages") == 601 and rows(db_url, "flags") == 300


def test_ctrl_c_during_replay_again_resumes_it_without_duplicates(
        tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The message said "run the same command again to resume", and that command started over."""
    import bot.moderation.replay as replay_module

    log = tmp_path / "chat.csv"
    log.write_text("author,channel,content\n" + "".join(f"{i},9,{TOXIC_MESSAGE}\n{i},9,hello friend\n"
                                                         for i in range(300)))
    assert main(["replay", "-q", str(log)]) == 0
    flags = rows(db_url, "flags")
    assert flags == 300

    advance = replay_module.advance_replay
    pressed = []

    def ctrl_c_once_the_first_chunk_is_written(*args: Any, **kwargs: Any) -> None:
        advance(*args, **kwargs)
        if not pressed:
            pressed.append(True)
            signal.raise_signal(signal.SIGINT)

    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(replay_module, "advance_replay", ctrl_c_once_the_first_chunk_is_written)
        assert main(["replay", "-q", "--again", str(log)]) == 130
    done = count(db_url, "SELECT lines_done FROM replay_runs")
    assert 0 < done < 600
    assert one_error_line(capsys) == (f"toxmod: interrupted after message {done} of 600 (those {done} are saved); "
                                      "run the same command again to resume")

    assert main(["replay", "-q", "--again", str(log)]) == 0
    out = capsys.readouterr().out
    assert f"resuming at message {done + 1} of 600" in out and f"replayed {600 - done} messages" in out
    assert rows(db_url, "scored_messages") == 1200  # two whole runs, nothing twice
    assert rows(db_url, "flags") == flags  # every pending flag was joined, none opened beside it


def test_replay_again_joins_pending_flags_and_flags_anew_what_was_reviewed(
        tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "chat.csv"
    log.write_text("author,channel,content\n" + "".join(f"{i},9,{TOXIC_MESSAGE}\n" for i in range(6))
                   + "1,9,hello friend\n")
    assert main(["replay", "-q", str(log)]) == 0
    assert rows(db_url, "flags") == 6
    assert main(["replay", "-q", "--again", str(log)]) == 0
    assert rows(db_url, "flags") == 6 and rows(db_url, "scored_messages") == 14

    db = Database(db_url)
    try:
        db.transaction(lambda s: s.execute(make_confirmed(author=3)))
    finally:
        db.close()
    assert main(["replay", "-q", "--again", str(log)]) == 0
    capsys.readouterr()
    assert main(["flags", "--status", "pending"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "6 of 6 flags shown"  # author 3's line flagged anew
    assert rows(db_url, "flags") == 7


def make_confirmed(author: int) -> Any:
    from sqlalchemy import update

    from bot.storage.tables import Flag, FlagStatus

    return update(Flag).where(Flag.author_id == author).values(status=FlagStatus.CONFIRMED, reviewer_id=1)


# -- migrations started together ---------------------------------------------------------------------------------
def test_a_migration_waits_for_one_running_in_another_process(db_url: str) -> None:
    """Two replays started together on a new SQLite file migrated on top of each other: one failed with
    "table exemptions already exists"."""
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL: migrations/env.py holds an advisory lock while it migrates")
    path = Path(make_url(db_url).database or "")
    other = wait_for_file_lock(lock_file(path, "migrate"), lambda: None)  # another process is migrating...
    try:
        with closing(sqlite3.connect(path, isolation_level=None)) as conn:  # ...and has made its first table
            conn.execute("CREATE TABLE exemptions (id INTEGER PRIMARY KEY)")
        upgrading = cli("-v", "db", "upgrade")
        assert upgrading.stderr is not None
        seen = lines_until(upgrading.stderr, "another process is migrating")
        assert seen and "another process is migrating" in seen[-1], "".join(seen)
        with closing(sqlite3.connect(path, isolation_level=None)) as conn:  # the other process rolls back, say
            conn.execute("DROP TABLE exemptions")
    finally:
        other.release()
    out, err = upgrading.communicate(timeout=120)
    assert upgrading.returncode == 0, err
    assert "up to date" in out and has_schema(db_url)

