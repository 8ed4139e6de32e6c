"""`toxmod model list|build-engines|promote|rollback`: the models in models/, read from their metadata alone
(no torch), except `build-engines`, which exports the ONNX files."""

from __future__ import annotations

import argparse

from bot.cli.common import CliError, check_models_dir, load_settings


def cmd_model_list(args: argparse.Namespace) -> int:
    """`toxmod model list`: every model folder with its validation figures and measured engines."""
    from bot.scoring.registry import current_name, list_models
    from bot.scoring.report import ModelReport
    from bot.scoring.tuning import cached_choices

    settings = load_settings(args)
    models_dir = check_models_dir(settings)
    try:
        current = current_name(models_dir)
    except FileNotFoundError:
        current = None
    infos = list_models(models_dir)
    if not infos:
        print(f"no models in {models_dir}")
        return 0
    for info in infos:
        report = ModelReport.from_metrics(info.metrics)
        jig, bg = report.jigsaw_mean_roc_auc, report.background_flag_rate
        print(f"{'*' if info.path.name == current else ' '} {info.path.name:<28} {info.version:<28} "
              f"{str(info.metadata.get('created', '?'))[:19]:<20} jigsaw AUC {jig if jig is not None else 'n/a'}  "
              f"background flagged {'n/a' if bg is None else f'{100 * bg:.2f}%'}")
        engines = "; ".join(choice.describe() for choice in cached_choices(settings.tuning_cache, info.version))
        print(f"    engine: {engines or 'not measured on this machine yet (chosen at its first load)'}")
    return 0


def cmd_model_build_engines(args: argparse.Namespace) -> int:
    """`toxmod model build-engines`: build the ONNX Runtime files of the named models (default: all)."""
    from bot.scoring.info import WEIGHTS
    from bot.scoring.onnx_export import build_onnx
    from bot.scoring.registry import list_models

    models_dir = check_models_dir(load_settings(args))
    # a model shipped as its ONNX graph alone has nothing to build from
    names = args.names or [info.path.name for info in list_models(models_dir) if (info.path / WEIGHTS).is_file()]
    for name in names:
        for path in build_onnx(models_dir / name, quantize_embeddings=args.int8_embeddings):
            print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def cmd_model_promote(args: argparse.Namespace) -> int:
    """`toxmod model promote`: make a model the default if its figures are not worse than the current one's."""
    from bot.scoring.registry import promote

    changes = promote(check_models_dir(load_settings(args)), args.name, force=args.force, auc_tolerance=args.tolerance)
    for change in changes:
        mark = "worse" if change.worse else "ok"
        print(f"  {change.name:<28} {change.current:.4f} -> {change.candidate:.4f}  {mark}")
    print(f"models/current now names {args.name}; {tell_running_bots(args, args.name)}")
    return 0


def cmd_model_rollback(args: argparse.Namespace) -> int:
    """`toxmod model rollback`: point models/current back at the model it named before."""
    from bot.scoring.registry import rollback

    name = rollback(check_models_dir(load_settings(args)))
    print(f"models/current now names {name} again; {tell_running_bots(args, name)}")
    return 0


def cmd_model_replay_sample(args: argparse.Namespace) -> int:
    """`toxmod model replay-sample`: write a model's replay sample of its training corpora into its folder."""
    from pathlib import Path

    from training.replay import write_replay_sample

    model_dir = check_models_dir(load_settings(args)) / args.name
    if not (model_dir / "metadata.json").is_file():
        raise CliError(f"not a model directory: {model_dir} (no metadata.json)")
    try:
        sample = write_replay_sample(model_dir, Path(args.data_dir) if args.data_dir else None, args.rows_per_source)
    except (OSError, ValueError) as exc:
        raise CliError(f"no replay sample written: {exc}") from exc
    record = sample.record
    print(f"wrote {sample.path}: {record['rows']:,} rows, {record['bytes'] / 1e6:.2f} MB, sha256 {record['sha256']}")
    for name, source in record["sources"].items():
        print(f"  {name:<14} {source['rows']:>5,} of {source['training_rows']:>6,} training rows  {source['licence']}")
    for name, why in record["excluded"].items():
        print(f"  {name:<14} left out: {why}")
    print(f"recorded in {model_dir / 'metadata.json'} and its MODEL_CARD.md")
    return 0


def tell_running_bots(args: argparse.Namespace, name: str) -> str:
    """Announce the new current model to the bot processes sharing a PostgreSQL database; what happens next."""
    from bot.storage.changes import Change, announce, listens
    from bot.storage.database import Database

    settings = load_settings(args)
    if not listens(settings.database_url):
        return "run /model reload in Discord to switch the running bot"
    db = Database(settings.database_url)
    try:
        db.transaction(lambda s: announce(s, Change(model=name)))
    finally:
        db.close()
    return "every bot process on this database switches to it now"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `toxmod model` and its subcommands to the parser."""
    p = sub.add_parser("model", help="the models in models/: list, promote, roll back")
    msub = p.add_subparsers(dest="model_command", required=True)
    msub.add_parser("list", help="models with their validation figures; * marks the default").set_defaults(
        func=cmd_model_list)
    be = msub.add_parser("build-engines", help="build the ONNX Runtime files of models (default: every model)")
    be.add_argument("names", nargs="*", metavar="NAME")
    be.add_argument("--int8-embeddings", action="store_true",
                    help="store the word embeddings in 8 bits too (for a model whose vocabulary is most of its size)")
    be.set_defaults(func=cmd_model_build_engines)
    pr = msub.add_parser("promote", help="make NAME the default, unless it is worse on shared validation")
    pr.add_argument("name")
    pr.add_argument("--force", action="store_true", help="promote even if worse")
    pr.add_argument("--tolerance", type=float, default=0.01, help="ROC-AUC drop allowed (default 0.01)")
    pr.set_defaults(func=cmd_model_promote)
    rs = msub.add_parser("replay-sample", help="write NAME's replay sample of its training corpora (replay.csv.gz), "
                                               "which a retrain from it mixes in so it does not forget them")
    rs.add_argument("name")
    rs.add_argument("--data-dir", help="root of the corpora, if not where the model was trained")
    rs.add_argument("--rows-per-source", type=int, default=500,
                    help="about this many rows of each corpus (default 500)")
    rs.set_defaults(func=cmd_model_replay_sample)
    msub.add_parser("rollback", help="point models/current back at the previous default").set_defaults(
        func=cmd_model_rollback)
