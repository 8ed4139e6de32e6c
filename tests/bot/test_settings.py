"""Settings come from the environment, parsed by type and checked, and a bad value names its variable."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError


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
    assert settings.bf16 is False and settings.model_dir == Path("models/x") and settings.score_threads is None


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
