"""The `toxmod` command line: one module per command group, each a thin call into the library, and each
failing with one clear line on stderr (exit status 2)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

from bot.cli import models, moderation, run, scoring, serve, train
from bot.cli.common import CliError

__all__ = ["CliError", "build_parser", "main"]


BUILDERS: list[Callable[[argparse._SubParsersAction], None]] = [
    scoring.add_commands, moderation.add_commands, models.add_commands, run.add_commands, serve.add_commands,
    train.add_commands]


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
    # nor transformers' "Loading weights" bar on stderr at every model load (read when it is first imported)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from bot.storage.database import DatabaseError

    try:
        return args.func(args)
    except (CliError, DatabaseError, FileNotFoundError, ValueError, PermissionError) as exc:
        print(f"toxmod: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Exit without the interpreter's shutdown: a scoring thread still inside a torch forward pass is
        # killed mid-C++ there, and the process aborts ("terminate called without an active exception",
        # status 134). What matters is already done: `finally` blocks have run, commits are on disk.
        print("toxmod: interrupted", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(130)


def one_line(exc: BaseException) -> str:
    """An error's message on one line: some libraries' messages (a database server's) run over several."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
