"""`toxmod train` and `toxmod evaluate`: thin calls into the training package."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot.cli.common import CliError, load_settings
from training.config import EvalSettings, TrainConfig
from training.options import OptionError, add_options, flag, from_args, option_fields

if TYPE_CHECKING:
    from training.pipeline import TrainResult

T = TypeVar("T")


def cmd_train(args: argparse.Namespace) -> int:
    """`toxmod train`: fine-tune a model (from options, or the stages of a recipe) into the models directory."""
    settings = load_settings(args)
    models_dir = Path(args.models_dir or settings.models_dir)
    if args.recipe:
        result = _train_recipe(args, models_dir, settings.data_dir)
    elif not args.name:
        raise CliError("toxmod train needs --name NAME or --recipe FILE")
    else:
        from training.pipeline import run_training

        cfg = train_config(args, settings.data_dir)
        _check_data_dir(cfg.data_dir)
        result = run_training(
            cfg,
            models_dir / args.name,
            args.version or args.name,
            init_model=Path(args.init) if args.init else None,
            resume=args.resume,
            eval_settings=_settings(EvalSettings, args),
        )
    print(result.report_text)
    print(f"model written to {result.model_dir}")
    if args.set_current:
        from bot.scoring.registry import set_current

        set_current(models_dir, result.model_dir.name)
        print(f"models/current now names {result.model_dir.name}")
    return 0


# what the command line may still say with --recipe: where things are on this machine
_WITH_RECIPE = ("base_model", "data_dir", "device", "threads")


def _train_recipe(args: argparse.Namespace, models_dir: Path, default_data_dir: Path) -> TrainResult:
    """The recipe decides everything about the run; the command line only says where things are on this
    machine. Any other option is refused rather than silently ignored or silently changing the recipe."""
    from training.pipeline import run_recipe
    from training.recipe import RecipeError, load_recipe

    given = [name for name in ("name", "version", "init", "no_data") if getattr(args, name)]
    given += [f.name for f in option_fields(TrainConfig) + option_fields(EvalSettings)
              if getattr(args, f.name, None) is not None and f.name not in _WITH_RECIPE]
    if given:
        raise CliError(f"--recipe sets {', '.join(flag(n) for n in given)} itself; "
                       "only --data-dir, --base-model, --device, --threads, --models-dir and --resume go with it")
    try:
        recipe = load_recipe(Path(args.recipe))
    except RecipeError as exc:
        raise CliError(str(exc)) from exc
    data_dir = Path(args.data_dir or default_data_dir)
    _check_data_dir(data_dir)
    machine: dict[str, Any] = {"device": args.device, "threads": args.threads,
                               "base_model": Path(args.base_model) if args.base_model else None}
    return run_recipe(recipe, models_dir, data_dir=data_dir, resume=args.resume,
                      **{k: v for k, v in machine.items() if v is not None})


def _check_data_dir(data_dir: Path | None) -> None:
    if data_dir is not None and not data_dir.is_dir():
        raise CliError(f"data directory not found: {data_dir} (set TOXMOD data with --data-dir or DATA_DIR)")


def train_config(args: argparse.Namespace, default_data_dir: Path) -> TrainConfig:
    """The run `toxmod train` asks for: the options given, the dataclass defaults for the rest, except the
    defaults only the command line knows (the DATA_DIR setting, a run directory named after the model, and
    the --init model's replay sample)."""
    data_dir = None if args.no_data else Path(args.data_dir or default_data_dir)
    return _settings(TrainConfig, args, data_dir=data_dir, run_dir=args.run_dir or Path("runs") / args.name,
                     replay=_replay(args))


def _replay(args: argparse.Namespace) -> Path | None:
    """The replay sample a run mixes in: --replay, else the sample of the --init model when it ships one."""
    from bot.scoring.info import REPLAY_SAMPLE

    if args.replay:
        return Path(args.replay)
    own = Path(args.init) / REPLAY_SAMPLE if args.init else None
    return own if own is not None and own.is_file() else None


def _settings(cls: type[T], args: argparse.Namespace, **given: Any) -> T:

    try:
        return from_args(cls, args, **given)
    except OptionError as exc:
        raise CliError(str(exc)) from exc


def cmd_evaluate(args: argparse.Namespace) -> int:
    """`toxmod evaluate`: measure a model on its validation split again and recalibrate its thresholds."""
    from training.pipeline import measure_as_shipped, recalibrate

    model_dir = Path(args.model)
    if not (model_dir / "metadata.json").is_file():
        raise CliError(f"not a model directory: {model_dir} (no metadata.json)")
    settings = _settings(EvalSettings, args)
    data_dir = Path(args.data_dir) if args.data_dir else None
    if args.split_of:
        split_of = Path(args.split_of)
        if not (split_of / "metadata.json").is_file():
            raise CliError(f"not a model directory: {split_of} (no metadata.json)")
        result = measure_as_shipped(model_dir, split_of, settings, data_dir)
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(result.report, indent=2) + "\n")
        print(result.report_text)
        print(f"{model_dir} measured with its own thresholds on the validation split of {split_of}")
        return 0
    result = recalibrate(model_dir, settings, data_dir)
    print(result.report_text)
    print(f"thresholds and metrics of {model_dir} rewritten")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `toxmod train` and `toxmod evaluate` to the parser."""
    p = sub.add_parser("evaluate", help="re-evaluate a model on its validation split and recalibrate thresholds")
    p.add_argument("model", help="model directory")
    p.add_argument("--data-dir", help="root of the corpora, if not where the model was trained")
    p.add_argument("--split-of", metavar="MODEL",
                   help="measure MODEL as shipped (its own thresholds, nothing rewritten) on this other model's "
                        "validation split: a side-by-side comparison")
    p.add_argument("--json-out", metavar="FILE", help="with --split-of: also write the report as JSON")
    add_options(p.add_argument_group("calibration options"), EvalSettings)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train", help="fine-tune a model from the data sources and export it to models/NAME")
    p.add_argument("--recipe", metavar="FILE",
                   help="run every stage of a recipe (training/recipes/*.toml): how a shipped model is reproduced")
    p.add_argument("--name", help="model directory name under models/ (required without --recipe)")
    p.add_argument("--version", help="version string recorded in metadata (default: NAME)")
    p.add_argument("--no-data", action="store_true", help="use no corpora, only --extra-csv/--feedback files")
    p.add_argument("--init", help="start from this toxmod model directory instead of the base model")
    p.add_argument("--models-dir", help="where models live (default: MODELS_DIR setting)")
    p.add_argument("--resume", action="store_true", help="continue from the run directory's checkpoint")
    p.add_argument("--set-current", action="store_true", help="point models/current at the result")
    add_options(p.add_argument_group("run options"), TrainConfig,
                caller_defaults={"data_dir": "DATA_DIR setting", "run_dir": "runs/NAME",
                                 "replay": "the --init model's, if it has one"})
    add_options(p.add_argument_group("calibration options"), EvalSettings)
    p.set_defaults(func=cmd_train)
