"""`toxmod flags`, `db`, `feedback export` and `thresholds suggest`: the moderation data, from a terminal.

None of these load the model or torch: they read the database and, for thresholds, the model's
metadata only, so they start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bot.cli.common import (
    CliError,
    add_database_url,
    check_database_url,
    database,
    iso_date,
    load_settings,
    migrate,
    truncate,
)


def cmd_flags(args: argparse.Namespace) -> int:
    """`toxmod flags`: the flagged messages in the database, newest first."""
    from bot.storage.flags import list_flags
    from bot.storage.tables import FlagStatus

    status = FlagStatus(args.status) if args.status else None
    with database(load_settings(args)) as db:
        flags, total = db.read_sync(lambda s: list_flags(s, args.guild, status=status, limit=args.limit))
    if not flags:
        print("no flags")
        return 0
    print(f"{'id':>6}  {'status':<10} {'labels':<28} {'guild':<20} text")
    for f in flags:
        text = "(text erased)" if f.text is None else truncate(f.text, 60)
        labels = ",".join(f.labels) or f.origin.value
        print(f"{f.id:>6}  {f.status.value:<10} {labels:<28} {f.guild_id or '-'!s:<20} {text}")
    print(f"{len(flags)} of {total} flags shown")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """`toxmod db upgrade`: create the database or migrate it to the latest schema."""
    url = load_settings(args).database_url
    migrate(url, create=True)
    print(f"database at {make_url(url).render_as_string()} is up to date")  # the password hidden
    return 0


# the tables whose sizes say what a database holds; the others (keys, secrets, replay progress) are bookkeeping
STATUS_TABLES = ("scored_messages", "flags", "reports", "guild_settings", "exemptions", "audit_log")


def cmd_db_status(args: argparse.Namespace) -> int:
    """`toxmod db status`: which database, its schema revision and row counts; changes nothing."""
    status = database_status(load_settings(args).database_url)
    if args.json:
        print(json.dumps(status))
        return 0
    kind = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(status["backend"], status["backend"])
    size = "" if status["file_bytes"] is None else f", {_size(status['file_bytes'])}"
    if status["wal_bytes"]:
        size += f" + {_size(status['wal_bytes'])} write-ahead log"
    print(f"database  {status['database']} ({kind}{size})")
    revision, head = status["revision"], status["head"]
    if revision is None:
        schema = f"none (the latest is {head}): run `toxmod db upgrade`"
    elif revision == head:
        schema = f"{revision}, the latest"
    elif status["revision_known"]:
        schema = f"{revision}, behind the latest {head}: run `toxmod db upgrade`"
    else:
        schema = f"{revision}, which this toxmod does not know (the latest it knows is {head}): a newer toxmod wrote it"
    print(f"schema    {schema}")
    rows = status["rows"]
    print("rows      " + (", ".join(f"{table} {count:,}" for table, count in rows.items()) or "no toxmod tables"))
    return 0


def database_status(url: str) -> dict[str, Any]:
    """Where the database is, its schema revision against the latest, and its main tables' row counts, read
    without changing anything: no migration runs, and no SQLite file is created where there was none."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.exc import DBAPIError

    from bot.storage.engine import sqlite_file
    from bot.storage.schema import MIGRATIONS

    check_database_url(url)
    parsed = make_url(url)
    shown = parsed.render_as_string()  # the password hidden
    path = sqlite_file(url)
    file_bytes = wal_bytes = None
    if path is not None:
        path = path.expanduser().resolve()
        if not path.is_file():
            raise CliError(f"no database at {path}; run `toxmod db upgrade` first")
        shown, file_bytes = str(path), path.stat().st_size
        wal = path.with_name(path.name + "-wal")
        wal_bytes = wal.stat().st_size if wal.is_file() else 0
    script = ScriptDirectory(str(MIGRATIONS))
    # a server that does not answer would otherwise hold the command for the system's TCP timeout (minutes)
    engine = create_engine(url, connect_args={"connect_timeout": 10} if parsed.get_backend_name() == "postgresql"
                           else {})
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            revision = (conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                        if "alembic_version" in tables else None)
            rows = {table: int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())  # noqa: S608 - names from STATUS_TABLES
                    for table in STATUS_TABLES if table in tables}
    except DBAPIError as exc:
        raise CliError(f"cannot read the database {shown}: {exc.orig}") from exc
    finally:
        engine.dispose()
    return {"database": shown, "backend": parsed.get_backend_name(), "file_bytes": file_bytes,
            "wal_bytes": wal_bytes, "revision": revision, "head": script.get_current_head(),
            "revision_known": revision in {rev.revision for rev in script.walk_revisions()}, "rows": rows}


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def cmd_db_purge(args: argparse.Namespace) -> int:
    """`toxmod db purge`: erase flag texts older than the retention period, and leftover feedback exports."""
    from bot.moderation.feedback.run_folders import remove_feedback_exports, runs_dir
    from bot.storage.tables import utcnow
    from bot.storage.texts import erase_texts

    settings = load_settings(args)
    days = settings.retention_days if args.days is None else args.days
    cutoff = utcnow() - timedelta(days=days)
    with database(settings) as db:
        erased = db.erase_sync(lambda s: erase_texts(s, before=cutoff))
    exports = remove_feedback_exports(runs_dir(settings.models_dir))
    print(f"erased the text of {erased} flags older than {days} days (verdicts and scores kept)"
          + (f"; removed {exports} leftover retrain feedback exports" if exports else ""))
    return 0


def cmd_feedback_export(args: argparse.Namespace) -> int:
    """`toxmod feedback export`: moderator verdicts as a CSV that `toxmod train --feedback` reads."""
    from bot.moderation.feedback.export import feedback_rows, write_feedback_csv
    from bot.moderation.feedback.verdicts import reviewed_flags

    out = Path(args.out)
    if not out.parent.is_dir():
        raise CliError(f"output directory does not exist: {out.parent}")
    with database(load_settings(args)) as db:
        flags = db.read_sync(lambda s: reviewed_flags(s, args.guild, args.since))
    rows = feedback_rows(flags)
    write_feedback_csv(rows, out)
    erased = len(flags) - len(rows)
    print(f"wrote {len(rows)} verdicts to {out}" + (f" ({erased} skipped: text erased)" if erased else ""))
    return 0


def cmd_thresholds_suggest(args: argparse.Namespace) -> int:
    """`toxmod thresholds suggest`: per label, the threshold a guild's verdicts support."""
    from bot.moderation.feedback.thresholds import suggest_thresholds
    from bot.moderation.feedback.verdicts import reviewed_flags
    from bot.moderation.guild_config import load_guild_config
    from bot.moderation.policy import Policy
    from bot.scoring.info import read_model_info
    from bot.scoring.registry import resolve_model_dir

    config = load_settings(args)
    defaults = read_model_info(resolve_model_dir(config.models_dir, config.model_dir)).thresholds
    with database(config) as db:
        flags = db.read_sync(lambda s: reviewed_flags(s, args.guild))
        guild = db.read_sync(lambda s: load_guild_config(s, args.guild))
    current = dict(Policy.with_overrides(defaults, guild.thresholds).thresholds)
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


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `toxmod flags`, `db`, `feedback` and `thresholds` to the parser."""
    p = sub.add_parser("flags", help="list flagged messages in the database")
    p.add_argument("--status", choices=["pending", "confirmed", "dismissed"])
    p.add_argument("--guild", type=int, help="only this guild id")
    p.add_argument("--limit", type=int, default=50)
    add_database_url(p)
    p.set_defaults(func=cmd_flags)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help="run migrations up to the latest schema")
    add_database_url(up)
    up.set_defaults(func=cmd_db_upgrade)
    st = dbsub.add_parser("status", help="which database, its schema revision, row counts (changes nothing)")
    st.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    add_database_url(st)
    st.set_defaults(func=cmd_db_status)
    pg = dbsub.add_parser("purge", help="erase flag texts older than the retention period")
    pg.add_argument("--days", type=int, help="override RETENTION_DAYS")
    add_database_url(pg)
    pg.set_defaults(func=cmd_db_purge)

    p = sub.add_parser("feedback", help="moderator verdicts as training data")
    fsub = p.add_subparsers(dest="feedback_command", required=True)
    ex = fsub.add_parser("export", help="write verdicts as a Jigsaw-format CSV for `toxmod train --feedback`")
    ex.add_argument("--out", required=True, help="CSV file to write")
    ex.add_argument("--guild", type=int, help="only this guild's verdicts")
    ex.add_argument("--since", type=iso_date, help="only verdicts made on or after this date")
    add_database_url(ex)
    ex.set_defaults(func=cmd_feedback_export)

    p = sub.add_parser("thresholds", help="per-guild thresholds")
    tsub = p.add_subparsers(dest="thresholds_command", required=True)
    sg = tsub.add_parser("suggest", help="thresholds from a guild's confirm/dismiss history")
    sg.add_argument("--guild", type=int, required=True)
    sg.add_argument("--target-precision", type=float, default=0.9)
    add_database_url(sg)
    sg.add_argument("--model", help="model directory whose thresholds are the defaults")
    sg.set_defaults(func=cmd_thresholds_suggest)
