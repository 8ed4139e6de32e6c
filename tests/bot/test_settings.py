"""Settings come from the environment, parsed by type and checked, and a bad value names its variable."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT, Settings, SettingsError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SCORE_BATCH_MAX", "SCORE_THREADS", "BF16", "MODEL_DIR", "LOG_LEVEL", "RETRAIN_EPOCHS",
                 "DEV_GUILD_ID", "SCORE_MAX_LENGTH", "SHARD_COUNT", "SHARDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's is read


def load(tmp_path: Path) -> Settings:
    return Settings.load(env_file=tmp_path / "none.env")


def test_values_are_parsed_by_type(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCORE_BATCH_MAX", "32")
    monkeypatch.setenv("RETRAIN_EPOCHS", "2")
    monkeypatch.setenv("BF16", "false")
    monkeypatch.setenv("MODEL_DIR", "models/x")
    monkeypatch.setenv("SCORE_THREADS", "")
    settings = load(tmp_path)
    assert settings.score_batch_max == 32 and settings.retrain_epochs == 2.0
    assert settings.bf16 is False and settings.score_threads is None
    assert settings.model_dir == PROJECT_ROOT / "models" / "x"  # relative: the project's (no .env was found)


def test_auto_and_empty_mean_not_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BF16", "auto")
    monkeypatch.setenv("DEV_GUILD_ID", "")
    settings = load(tmp_path)
    assert settings.bf16 is None and settings.dev_guild_id is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SCORE_BATCH_MAX", "lots", "SCORE_BATCH_MAX must be a whole number, got 'lots'"),
        ("SCORE_BATCH_MAX", "0", "SCORE_BATCH_MAX must be at least 1, got 0"),
        ("SCORE_MAX_LENGTH", "4096", "SCORE_MAX_LENGTH must be between 8 and 512, got 4096"),
        ("BF16", "maybe", "BF16 must be true, false or auto, got 'maybe'"),
        ("SCORE_BATCH_WAIT_MS", "nan", "SCORE_BATCH_WAIT_MS must be a finite number, got nan"),
        ("RETRAIN_EPOCHS", "inf", "RETRAIN_EPOCHS must be a finite number, got inf"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of"),
        ("API_HEADER_TIMEOUT", "0", "API_HEADER_TIMEOUT must be at least 0.01, got 0.0"),
        ("API_MAX_CONNECTIONS", "0", "API_MAX_CONNECTIONS must be at least 1, got 0"),
        ("API_TRUSTED_PROXIES", "127.0.0.1, nginx", "API_TRUSTED_PROXIES must be comma-separated IP addresses, "
                                                    "got 'nginx'"),
        ("API_PUBLIC_URL", "toxmod.example.org", "API_PUBLIC_URL must start with http:// or https://"),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str,
                                        message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load(tmp_path)


def test_overrides_and_replace_are_validated_too(tmp_path: Path) -> None:
    settings = Settings.load(env_file=tmp_path / "none.env", models_dir=str(tmp_path))
    assert settings.models_dir == tmp_path
    with pytest.raises(SettingsError, match="RETENTION_DAYS must be at least 1"):
        replace(settings, retention_days=0)
    with pytest.raises(TypeError, match="unknown settings: colour"):
        Settings.load(env_file=tmp_path / "none.env", colour="red")


def forget_afterwards(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Unset `names` now and again after the test, whatever a .env loaded in between puts there."""
    for name in names:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_relative_paths_in_the_env_file_are_beside_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / ".env").write_text("DATABASE_URL=sqlite:///data/toxmod.db?timeout=5\nMODELS_DIR=models\n"
                                  "DATA_DIR=../shared/data\n")
    forget_afterwards(monkeypatch, "DATABASE_URL", "MODELS_DIR", "DATA_DIR")
    monkeypatch.chdir(elsewhere)
    settings = Settings.load(env_file=project / ".env")
    assert settings.database_url == f"sqlite:///{project / 'data' / 'toxmod.db'}?timeout=5"
    assert settings.models_dir == project / "models" and settings.data_dir == project / "../shared/data"


def test_the_default_database_is_in_the_project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    forget_afterwards(monkeypatch, "DATABASE_URL")
    assert load(tmp_path).database_url == f"sqlite:///{PROJECT_ROOT / 'toxmod.db'}"


@pytest.mark.parametrize("url", ["sqlite:////var/lib/toxmod/toxmod.db", "sqlite://", "sqlite:///:memory:",
                                 "sqlite:///file:toxmod.db?mode=ro&uri=true",
                                 "postgresql+psycopg://toxmod:pw@db:5432/toxmod"])
def test_other_database_urls_are_left_as_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert load(tmp_path).database_url == url


def test_a_relative_path_given_as_an_override_stays_where_the_user_stands(tmp_path: Path) -> None:
    """`--database-url sqlite:///x.db` and `--model models/x` are typed in a shell, relative to where it is."""
    settings = Settings.load(env_file=tmp_path / "none.env", database_url="sqlite:///x.db",
                             model_dir=Path("models/x"))
    assert settings.database_url == "sqlite:///x.db" and settings.model_dir == Path("models/x")


def test_the_cli_reports_a_bad_setting_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    monkeypatch.setenv("SCORE_BATCH_MAX", "lots")
    assert main(["score", "hello"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["toxmod: SCORE_BATCH_MAX must be a whole number, got 'lots'"]


@pytest.mark.parametrize(
    ("count", "shards", "expected"),
    [("", "", None), ("4", "", (0, 1, 2, 3)), ("4", "1, 3", (1, 3)), ("1", "0", (0,))],
)
def test_shards_default_to_all_of_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, count: str, shards: str,
                                       expected: tuple[int, ...] | None) -> None:
    monkeypatch.setenv("SHARD_COUNT", count)
    monkeypatch.setenv("SHARDS", shards)
    assert load(tmp_path).shard_ids == expected


@pytest.mark.parametrize(
    ("count", "shards", "message"),
    [("4", "4", "SHARDS must be distinct numbers from 0 to 3"), ("4", "1,1", "SHARDS must be distinct"),
     ("4", "a", "SHARDS must be comma-separated shard numbers"), ("", "0", "SHARDS needs SHARD_COUNT"),
     ("0", "", "SHARD_COUNT must be at least 1")],
)
def test_impossible_shards_are_refused_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, count: str,
                                               shards: str, message: str) -> None:
    monkeypatch.setenv("SHARD_COUNT", count)
    monkeypatch.setenv("SHARDS", shards)
    with pytest.raises(SettingsError, match=message):
        load(tmp_path)


def test_run_flags_make_a_sharded_bot_of_the_shards_named(tmp_path: Path) -> None:
    from bot import create_bot
    from bot.cli import build_parser
    from bot.cli.common import overrides
    from bot.discord.app import ShardedToxmodBot

    args = build_parser().parse_args(["run", "--shard-count", "8", "--shards", "2,3"])
    bot = create_bot(**overrides(args))
    assert isinstance(bot, ShardedToxmodBot) and bot.shard_count == 8 and bot.shard_ids == [2, 3]
    assert not isinstance(create_bot(), ShardedToxmodBot)
