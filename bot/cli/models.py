"""`toxmod model list|promote|rollback`: the models in models/, read from their metadata alone (no torch)."""

from __future__ import annotations

import argparse

from bot.cli.common import load_settings


def cmd_model_list(args: argparse.Namespace) -> int:
    from bot.model.registry import current_name, list_models
    from bot.model.report import ModelReport

    models_dir = load_settings(args).models_dir
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
    return 0


def cmd_model_promote(args: argparse.Namespace) -> int:
    from bot.model.registry import promote

    changes = promote(load_settings(args).models_dir, args.name, force=args.force, auc_tolerance=args.tolerance)
    for change in changes:
        mark = "worse" if change.worse else "ok"
        print(f"  {change.name:<28} {change.current:.4f} -> {change.candidate:.4f}  {mark}")
    print(f"models/current now names {args.name}; run /model reload in Discord to switch the running bot")
    return 0


def cmd_model_rollback(args: argparse.Namespace) -> int:
    from bot.model.registry import rollback

    name = rollback(load_settings(args).models_dir)
    print(f"models/current now names {name} again; run /model reload in Discord to switch the running bot")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="the models in models/: list, promote, roll back")
    msub = p.add_subparsers(dest="model_command", required=True)
    msub.add_parser("list", help="models with their validation figures; * marks the default").set_defaults(
        func=cmd_model_list)
    pr = msub.add_parser("promote", help="make NAME the default, unless it is worse on shared validation")
    pr.add_argument("name")
    pr.add_argument("--force", action="store_true", help="promote even if worse")
    pr.add_argument("--tolerance", type=float, default=0.01, help="ROC-AUC drop allowed (default 0.01)")
    pr.set_defaults(func=cmd_model_promote)
    msub.add_parser("rollback", help="point models/current back at the previous default").set_defaults(
        func=cmd_model_rollback)
