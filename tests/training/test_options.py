"""`toxmod train` and `toxmod evaluate` options come from the training dataclasses: defaults only there."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.cli.train import train_config
from training.evaluate import EvalSettings
from training.options import OptionError, add_options, flag, from_args, option_fields
from training.train import TrainConfig


@pytest.fixture(autouse=True)
def _cwd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)


def parse_train(*argv: str) -> TrainConfig:
    return train_config(build_parser().parse_args(["train", "--name", "x", *argv]), Path("data"))


def test_train_without_options_is_the_dataclass_defaults() -> None:
    cfg, defaults = parse_train(), TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        if f.name not in ("data_dir", "run_dir"):
            assert getattr(cfg, f.name) == getattr(defaults, f.name), f.name
    # the two defaults only the command line knows
    assert cfg.data_dir == Path("data")
    assert cfg.run_dir == Path("runs/x")


def test_evaluate_without_options_is_the_dataclass_defaults() -> None:
    args = build_parser().parse_args(["evaluate", "models/x"])
    assert from_args(EvalSettings, args) == EvalSettings()


def test_train_options_reach_the_config() -> None:
    cfg = parse_train("--source-weight", "jigsaw=2", "--source-weight", "contrast=2", "--sources", "a,b",
                      "--extra-csv", "one.csv", "--extra-csv", "two.csv", "--feedback", "fb.csv",
                      "--run-dir", "elsewhere", "--base-model", "base", "--threads", "2", "--device", "cpu",
                      "--epochs", "0.5", "--samples-per-epoch", "100", "--ubuntu-cap", "5", "--no-freeze-embeddings",
                      "--bf16")
    assert cfg.source_weight == {"jigsaw": 2.0, "contrast": 2.0}
    assert cfg.sources == ["a", "b"]
    assert cfg.extra_csv == [Path("one.csv"), Path("two.csv")]
    assert cfg.feedback == [Path("fb.csv")]
    assert cfg.run_dir == Path("elsewhere")
    assert cfg.base_model == Path("base")
    assert (cfg.threads, cfg.device, cfg.epochs, cfg.samples_per_epoch, cfg.ubuntu_cap) == (2, "cpu", 0.5, 100, 5)
    assert cfg.freeze_embeddings is False and cfg.bf16 is True


def test_no_data_wins_over_data_dir() -> None:
    assert parse_train("--no-data", "--data-dir", "corpora").data_dir is None
    assert parse_train("--data-dir", "corpora").data_dir == Path("corpora")


def test_calibration_options_reach_eval_settings() -> None:
    args = build_parser().parse_args(["train", "--name", "x", "--target-precision", "0.9",
                                      "--background-budget", "0.01", "--batch-size", "8"])
    # --batch-size is the run's; EvalSettings keeps its own
    assert from_args(EvalSettings, args) == EvalSettings(target_precision=0.9, background_budget=0.01)


@pytest.mark.parametrize("item", ["x", "x=", "=2", "x=-1", "x=nan", "x=two"])
def test_bad_source_weight_fails_in_one_line(item: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--name", "x", "--source-weight", item]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"toxmod: --source-weight wants NAME=FACTOR with FACTOR >= 0, got {item!r}"]


def test_train_help_lists_every_option_with_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # help wraps lines
    for cls in (TrainConfig, EvalSettings):
        for f in option_fields(cls):
            assert flag(f.name) in out
            assert " ".join(str(f.metadata["help"]).split()) in out, f.name
    assert "(default: 32)" in out and "(default: runs/NAME)" in out and "(default: DATA_DIR setting)" in out


def test_evaluate_help_lists_the_calibration_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    out = capsys.readouterr().out
    assert "--target-precision" in out and "--background-budget" in out and "--batch-size" not in out


@dataclass
class Knobs:
    rate: float = field(default=0.5, metadata={"help": "a rate"})
    names: list[str] | None = field(default=None, metadata={"help": "names", "separator": ","})
    files: list[Path] = field(default_factory=list, metadata={"help": "files"})
    limit: int | None = field(default=None, metadata={"help": "a limit"})
    loud: bool = field(default=False, metadata={"help": "be loud"})
    factors: dict[str, int] = field(default_factory=dict, metadata={"help": "factors"})
    hidden: int = field(default=3, metadata={"cli": False})


def knobs(*argv: str) -> Knobs:
    parser = argparse.ArgumentParser()
    add_options(parser, Knobs)
    return from_args(Knobs, parser.parse_args(list(argv)))


def test_generator_follows_the_type_hints() -> None:
    assert knobs() == Knobs()
    assert knobs("--rate", "2", "--names", "a, b,", "--files", "f", "--files", "g", "--limit", "4", "--loud",
                 "--factors", "a=1") == Knobs(rate=2.0, names=["a", "b"], files=[Path("f"), Path("g")], limit=4,
                                              loud=True, factors={"a": 1})
    assert knobs("--names", "").names is None


def test_generator_leaves_out_cli_false_and_excluded_fields() -> None:
    parser = argparse.ArgumentParser()
    add_options(parser, Knobs, exclude={"rate"})
    with pytest.raises(SystemExit):
        parser.parse_args(["--hidden", "1"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--rate", "1"])


def test_generator_reports_a_bad_pair_without_usage() -> None:
    with pytest.raises(OptionError, match=r"^--factors wants NAME=VALUE, got 'a=1.5'$"):
        knobs("--factors", "a=1.5")


def test_generator_wants_help_text() -> None:
    @dataclass
    class Undocumented:
        size: int = 1

    with pytest.raises(TypeError, match="without help"):
        add_options(argparse.ArgumentParser(), Undocumented)
