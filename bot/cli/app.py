"""The `toxmod` parser and dispatch, behind `bot.cli.main`: one module per command group, each a thin call
into the library, and each failing with one clear line on stderr (exit status 2)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from bot.cli import data, model, moderation, report, run, scoring, serve, train
from bot.cli.common import CliError
from bot.cli.interrupts import stdout_closed
from bot.storage.errors import DatabaseError

BUILDERS: list[Callable[[argparse._SubParsersAction], None]] = [
    scoring.add_commands, moderation.add_commands, report.add_commands, model.add_commands, run.add_commands,
    serve.add_commands, train.add_commands, data.add_commands]


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command: each command group module adds its own subcommands."""
    parser = argparse.ArgumentParser(prog="toxmod", description="Self-hosted Discord moderation with its own model.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"toxmod {installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for build in BUILDERS:
        build(sub)
    return parser


def installed_version() -> str:
    """The version pip installed (pyproject.toml's), what a bug report needs; "unknown" when toxmod runs from a
    copy of the source that was never installed."""
    try:
        return version("toxmod")
    except PackageNotFoundError:
        return "unknown"


def run_command(argv: list[str] | None) -> int:
    """Parse `argv`, run the command, and turn what a user can fix into one line and status 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("transformers", "httpx", "filelock"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    # nor transformers' "Loading weights" bar on stderr at every model load (read when it is first imported)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        status: int = args.func(args)
        sys.stdout.flush()  # a reader that went away shows here, not in the interpreter's flush at exit
        return status
    except BrokenPipeError:
        return stdout_closed()
    except (CliError, DatabaseError, FileNotFoundError, ValueError, PermissionError) as exc:
        print(f"toxmod: {one_line(exc)}", file=sys.stderr)
        return 2


def one_line(exc: BaseException) -> str:
    """An error's message on one line: some libraries' messages (a database server's) run over several."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
