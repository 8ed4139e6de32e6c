"""`toxmod report`: a guild's flags per day as one self-contained HTML page, for admins.

The page (bot/moderation/report_page.py) holds the same chart as `/stats`, embedded, and its figures as a
table; it reads the database only, never the model.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bot.cli.common import CliError, add_database_url, database, load_settings

MAX_DAYS = 3660  # ten years of daily bars is already more than a chart can show apart


def check_days(days: int) -> None:
    """Refuse a window of no days, of minus some, or of more than a chart can show apart."""
    if not 1 <= days <= MAX_DAYS:
        raise CliError(f"--days must be 1 to {MAX_DAYS}, not {days}")


def check_writable(out: Path) -> None:
    """Refuse, before the database is read, a path the page could not be written to."""
    if out.is_dir():
        raise CliError(f"cannot write the report to {out}: it is a directory; name a file, e.g. {out / 'report.html'}")
    if not out.parent.is_dir():
        raise CliError(f"cannot write the report to {out}: the directory {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise CliError(f"cannot write the report to {out}: permission denied")


def cmd_report(args: argparse.Namespace) -> int:
    """`toxmod report`: write the page for one guild over the last N days."""
    from bot.moderation.charts import render_png
    from bot.moderation.report_page import report_html
    from bot.storage.stats import daily_flags
    from bot.storage.tables import utcnow

    out = Path(args.out)
    check_days(args.days)
    check_writable(out)
    today = utcnow().date()
    with database(load_settings(args)) as db:
        daily = db.read_sync(lambda s: daily_flags(s, args.guild, args.days, today))
    png = render_png(daily, f"Guild {args.guild}, last {args.days} days") if daily.flags else None
    page = report_html(args.guild, args.days, daily, png, today)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write the report to {out}: {exc.strerror or exc}") from exc
    print(f"wrote {out}: {daily.flags} flags over {args.days} days" + ("" if daily.flags else " (no data)"))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `toxmod report` to the parser."""
    p = sub.add_parser("report", help="a guild's flags per day as one self-contained HTML page")
    p.add_argument("--guild", type=int, required=True, help="the guild id")
    p.add_argument("--days", type=int, default=30, help="how many days back, today included (30)")
    p.add_argument("--out", required=True, help="HTML file to write")
    add_database_url(p)
    p.set_defaults(func=cmd_report)
