"""A deployer's path through the CLI: the version, where the database is, what is in it, which setting is wrong,
and what a quiet message reads as."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from bot.cli import main
from bot.labels import nearest_line
from bot.scoring.info import read_model_info
from bot.scoring.registry import resolve_model_dir
from bot.storage.schema import MIGRATIONS, upgrade

HEAD = str(ScriptDirectory(str(MIGRATIONS)).get_current_head())
# tests that make their own database (or none): one run, not one per backend
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@sqlite_only
def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"toxmod {version('toxmod')}\n"


@sqlite_only
def test_the_default_database_is_the_projects_wherever_a_command_runs(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`cd /tmp && toxmod flags` used to look for toxmod.db in /tmp, not in the project the bot writes to."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / ".env").write_text("DATABASE_URL=sqlite:///toxmod.db\n")
    monkeypatch.setattr("bot.settings.PROJECT_ROOT", project)  # where `.env` is looked for
    monkeypatch.delenv("DATABASE_URL")  # restored after the test, with whatever the .env put there
    monkeypatch.chdir(project)
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()

    monkeypatch.chdir(elsewhere)
    assert main(["flags"]) == 0
    assert capsys.readouterr().out.strip() == "no flags"
    assert main(["db", "status"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(f"database  {project / 'toxmod.db'} (SQLite, ")
    assert not (elsewhere / "toxmod.db").exists()


def test_db_status_names_the_database_its_schema_and_its_rows(
        tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "chat.txt"
    log.write_text("hello friend\nyou are a stupid idiot\ngg\n")
    assert main(["replay", "-q", str(log)]) == 0
    capsys.readouterr()

    assert main(["db", "status"]) == 0
    database, schema, rows = capsys.readouterr().out.splitlines()
    if db_url.startswith("sqlite"):
        assert database.startswith(f"database  {tmp_path / 'toxmod.db'} (SQLite, ") and database.endswith("kB)")
    else:
        assert database.startswith("database  postgresql+psycopg://") and database.endswith("(PostgreSQL)")
    assert schema == f"schema    {HEAD}, the latest"
    assert rows.startswith("rows      scored_messages 3, flags 1, reports 0,")

    assert main(["db", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["revision"] == status["head"] == HEAD and status["rows"]["flags"] == 1
    assert (status["file_bytes"] is not None) == db_url.startswith("sqlite")


def test_db_status_says_the_schema_is_behind_and_changes_nothing(
        db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    previous = ScriptDirectory(str(MIGRATIONS)).get_revision(HEAD).down_revision
    assert isinstance(previous, str)
    upgrade(db_url, previous)
    for _ in range(2):  # the second look finds what the first did: nothing migrated
        assert main(["db", "status"]) == 0
        schema = capsys.readouterr().out.splitlines()[1]
        assert schema == f"schema    {previous}, behind the latest {HEAD}: run `toxmod db upgrade`"


@sqlite_only
def test_db_status_of_a_database_it_cannot_read_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.db"
    assert main(["db", "status", "--database-url", f"sqlite:///{missing}"]) == 2
    assert one_error_line(capsys) == f"toxmod: no database at {missing}; run `toxmod db upgrade` first"
    assert not missing.exists()  # looking did not create it

    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n")
    assert main(["db", "status", "--database-url", f"sqlite:///{junk}"]) == 2
    assert one_error_line(capsys) == f"toxmod: cannot read the database {junk}: file is not a database"

    assert main(["db", "status", "--database-url", "postgresql+psycopg://toxmod:s3cret@127.0.0.1:1/toxmod"]) == 2
    line = one_error_line(capsys)
    assert line.startswith("toxmod: cannot read the database postgresql+psycopg://toxmod:***@127.0.0.1:1/toxmod: ")
    assert "s3cret" not in line


@sqlite_only
@pytest.mark.parametrize("command", [["score", "hello"], ["replay", "chat.txt"], ["thresholds", "suggest",
                                                                                 "--guild", "1"]])
def test_a_model_setting_that_points_nowhere_is_named(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        command: list[str]) -> None:
    (tmp_path / "chat.txt").write_text("hello\n")
    nowhere = tmp_path / "nowhere"
    monkeypatch.setenv("MODEL_DIR", str(nowhere))
    assert main(command) == 2
    assert one_error_line(capsys).startswith(f"toxmod: MODEL_DIR is {nowhere}, which is not a directory: ")

    monkeypatch.setenv("MODEL_DIR", "")
    monkeypatch.setenv("MODELS_DIR", str(nowhere))
    assert main(command) == 2
    assert one_error_line(capsys).startswith(f"toxmod: MODELS_DIR is {nowhere}, which is not a directory: ")


@sqlite_only
@pytest.mark.parametrize("command", [["model", "list"], ["model", "rollback"], ["model", "promote", "x"]])
def test_model_commands_name_a_models_dir_that_points_nowhere(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        command: list[str]) -> None:
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "nowhere"))
    assert main(command) == 2
    assert one_error_line(capsys).startswith(f"toxmod: MODELS_DIR is {tmp_path / 'nowhere'}, which is not a ")


@sqlite_only
def test_replaying_one_message_says_one_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "one.txt"
    log.write_text("hello friend\n")
    assert main(["replay", "-q", str(log)]) == 0
    assert "replayed 1 message with model tiny-v1" in capsys.readouterr().out.splitlines()


@sqlite_only
def test_a_quiet_message_in_the_table_names_no_labels(capsys: pytest.CaptureFixture[str], models_dir: Path) -> None:
    """The ranking of a message below every line led with whichever label was least far below its own."""
    thresholds = read_model_info(resolve_model_dir(models_dir, None)).thresholds
    texts = ["you are a stupid idiot", "hello friend", "gg wp"]
    assert main(["score", "--jsonl", *texts]) == 0
    decisions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["flagged"] for d in decisions] == [True, False, False]
    assert all(len(d["top"]) == 2 for d in decisions)  # the --jsonl contract keeps the ranking

    assert main(["score", *texts]) == 0
    _, insult, hello, gg, _ = capsys.readouterr().out.splitlines()
    assert insult.split()[-1] == "YES" and decisions[0]["top"][0][0] in insult
    for row, decision in ((hello, decisions[1]), (gg, decisions[2])):
        shown = nearest_line(decision["scores"], thresholds)
        assert row.split("  ")[0].strip() in texts and shown in row and row.endswith("  no")
        assert decision["top"][0][0] not in row.replace(shown, "")  # no ranked label beside it
