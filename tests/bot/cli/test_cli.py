"""The `toxmod` command line as a user runs it: the JSON contract, tables, replay into SQLite, bad input."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.cli.app import build_parser
from bot.cli.common import overrides
from bot.labels import LABELS
from bot.moderation.policy import Policy
from bot.scoring.info import read_model_info
from bot.scoring.registry import resolve_model_dir
from tests.support.rows import has_schema, rows


def test_score_jsonl_contract(capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    rank = Policy(read_model_info(resolve_model_dir(models_dir, None)).thresholds).rank
    assert main(["score", "--jsonl", "you are a stupid idiot", "hello friend", ""]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == ["you are a stupid idiot", "hello friend", ""]
    for line in lines:
        assert list(line) == ["text", "language", "read", "scores", "top", "flagged", "model"]
        assert line["language"] == "en" and line["read"] is True
        assert list(line["scores"]) == list(LABELS) and all(0 <= p <= 1 for p in line["scores"].values())
        assert len(line["top"]) == 2
        assert rank(*line["top"][0]) >= rank(*line["top"][1])  # ranked against each label's threshold
        assert line["model"] == "tiny-v1"
    assert [line["flagged"] for line in lines] == [True, False, False]


def test_score_reads_stdin_one_message_per_line(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    stdin = "i will kill you\nsee you at the raid\nｓｔｕｐｉｄ ｌｏｓｅｒ\n".encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))  # read as bytes, as replay reads
    assert main(["score", "--jsonl"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["flagged"] for o in out] == [True, False, True]
    assert out[0]["top"][0][0] in ("toxic", "threat")


def test_score_table_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", "you are a stupid idiot", "hello friend"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["message", "lang", "top", "label", "second", "label", "flagged"]
    assert out[1].endswith("YES") and out[2].endswith("no")
    assert out[-1] == "model tiny-v1"


def test_score_never_reads_another_language_as_english(capsys: pytest.CaptureFixture[str]) -> None:
    texts = ["eres un pendejo de mierda y nadie te quiere", "du bist so ein dummer hurensohn, echt jetzt",
             "Ты тупой идиот", "傻逼滚开", "you are a stupid idiot"]
    assert main(["score", "--jsonl", *texts]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["language"] for o in out] == ["es", "de", "ru", "zh", "en"]
    assert [o["read"] for o in out] == [False, False, False, False, True]
    assert all(o["scores"] is None and not o["flagged"] for o in out[:4])
    assert main(["score", texts[0]]) == 0
    assert "not read: language not supported" in capsys.readouterr().out


def test_replay_csv_logs_every_message_and_flags_with_text(tmp_path: Path, db_url: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "chat.csv"
    log.write_text('author,channel,content\n1,9,hello friend\n2,9,"you are a stupid idiot"\n3,9,\n4,9,gg\n')
    assert main(["replay", "-q", str(log)]) == 0
    out = capsys.readouterr().out
    assert "replayed 3 messages" in out and "flagged 1" in out
    assert rows(db_url, "scored_messages") == 3 and rows(db_url, "flags") == 1
    assert main(["flags"]) == 0
    assert "you are a stupid idiot" in capsys.readouterr().out


def test_replay_plain_lines(tmp_path: Path, db_url: str) -> None:
    log = tmp_path / "chat.txt"
    log.write_text("hello friend\n\ni will hurt you\n")
    assert main(["replay", "-q", str(log)]) == 0
    assert rows(db_url, "scored_messages") == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("", "is empty"),
        ("author,channel,content\n1,2\n", "has 2 fields"),
        ("author,channel,text\n1,2,hi\n", "needs a 'content' column"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
    ],
)
def test_replay_bad_input_is_one_clear_line_and_writes_nothing(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], content: str | bytes | None, message: str
) -> None:
    log = tmp_path / "chat.csv"
    if isinstance(content, bytes):
        log.write_bytes(content)
    elif content is not None:
        log.write_text(content)
    assert main(["replay", str(log)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("toxmod: ") and message in err[0]
    assert rows(db_url, "scored_messages") == 0


def test_missing_model_is_one_clear_line_and_touches_no_database(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "chat.txt"
    log.write_text("hello\n")
    assert main(["replay", "--model", str(tmp_path / "gone"), str(log)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"toxmod: model directory not found: {tmp_path / 'gone'}"
    assert not has_schema(db_url)
    assert main(["score", "--model", str(tmp_path / "gone"), "hi"]) == 2


def test_missing_database_directory_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--database-url", f"sqlite:///{tmp_path}/nope/x.db"]) == 2
    assert "database directory does not exist" in capsys.readouterr().err


def test_db_upgrade_creates_the_schema(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert rows(db_url, "flags") == 0 and rows(db_url, "alembic_version") == 1


@pytest.mark.parametrize("command", ["run", "sync"])
def test_bot_commands_without_a_token_point_at_env_example(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "")
    assert main([command]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("toxmod: DISCORD_TOKEN is not set") and ".env.example" in err


def test_model_list_shows_the_engine_measured_at_first_load(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "list"]) == 0
    assert "engine: not measured on this machine yet" in capsys.readouterr().out
    assert main(["score", "hello"]) == 0  # the first load measures and remembers
    capsys.readouterr()
    assert main(["model", "list"]) == 0
    listed = capsys.readouterr().out
    assert "engine: not measured" not in listed and "measured earlier on this machine" in listed


def test_every_database_url_option_lands_where_overrides_reads_it() -> None:
    """`--database-url` is added by one helper: each command's option has the dest `overrides` reads."""
    found: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if "--database-url" in action.option_strings:
                found.append(path)
                assert action.dest == "database_url", path
                assert (action.help or "").startswith("override DATABASE_URL"), path
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])

    walk(build_parser(), [])
    assert ["db", "upgrade"] in found and ["serve"] in found and ["replay"] in found and ["report"] in found
    assert len(found) == 11
    assert overrides(argparse.Namespace(database_url="sqlite:///x.db")) == {"database_url": "sqlite:///x.db"}
