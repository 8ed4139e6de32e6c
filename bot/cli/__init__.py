"""The `toxmod` command line (bot/cli/app.py has the parser and the dispatch).

This package's own module stays light: `main` installs the handling of Ctrl-C (bot/cli/interrupts.py)
before anything heavy is imported, so that a Ctrl-C at any moment, the imports included, ends the command
with one line and status 130.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from bot.cli.interrupts import exit_interrupted, interrupts_handled

if TYPE_CHECKING:
    import argparse

    from bot.cli.common import CliError

__all__ = ["CliError", "build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run `toxmod` with `argv` (the process's arguments when None); the exit status."""
    with interrupts_handled():
        try:
            from bot.cli.app import run_command

            return run_command(argv)
        except KeyboardInterrupt:
            exit_interrupted()


def build_parser() -> argparse.ArgumentParser:
    """The `toxmod` argument parser (for documentation and tests; importing it loads every command group)."""
    from bot.cli.app import build_parser as build

    return build()


def __getattr__(name: str) -> object:
    if name == "CliError":
        from bot.cli.common import CliError

        return CliError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    sys.exit(main())
