"""Ctrl-C and a closed stdout, for every `toxmod` command: one line, a conventional exit status, never a
traceback, and never a Ctrl-C that is ignored.

Python's own SIGINT handler raises KeyboardInterrupt wherever the main thread happens to be. Where that is
a `__del__` method or a weakref callback, the interpreter prints "Exception ignored" and carries on, and
the command then runs to its end as if nobody had pressed anything. So `main` installs this handling before
it imports anything heavy (a Ctrl-C during those imports is handled like any other), and:

- the first Ctrl-C is recorded and raised as KeyboardInterrupt, so that `finally` blocks run;
- if a `__del__` or a callback swallows it, the unraisable-exception hook ends the process at once;
- a second Ctrl-C ends the process at once, wherever the first one went;
- a command that returns although Ctrl-C was pressed still ends with status 130.

This module imports nothing but the standard library: it is loaded before everything else.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

INTERRUPTED = 130  # what a shell reports for a process that Ctrl-C (SIGINT) ended
STDOUT_CLOSED = 141  # what a shell reports for a process that a closed pipe (SIGPIPE) ended

_requested = False
_ending = threading.Lock()  # held by whoever is ending the process: the line is printed once


def exit_interrupted(message: str = "toxmod: interrupted") -> NoReturn:
    """End the process now: `message` on stderr, status 130.

    Without the interpreter's shutdown: a scoring thread still inside a torch forward pass is killed mid-C++
    there, and the process aborts ("terminate called without an active exception", status 134). What
    matters is already done: `finally` blocks have run, commits are on disk."""
    if _ending.acquire(blocking=False):
        _quietly(lambda: print(message, file=sys.stderr, flush=True))
        _quietly(sys.stdout.flush)
    os._exit(INTERRUPTED)


def stdout_closed() -> int:
    """The reader of stdout went away (`toxmod flags | head -1`): the status to stop quietly with.

    What is still buffered goes to /dev/null instead, or the interpreter's own flush at exit would fail
    again, print "Exception ignored" and exit with status 120."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # not a file descriptor (a test's captured stdout): nothing to flush at exit
        pass
    return STDOUT_CLOSED


def _quietly(write: Callable[[], object]) -> None:
    with contextlib.suppress(OSError, ValueError):  # a closed pipe or file: there is nobody to tell
        write()


def _on_sigint(_signum: int, _frame: FrameType | None) -> None:
    global _requested
    if _ending.locked():  # already on the way out
        return
    if _requested:  # the first one was swallowed, or its clean-up is taking too long: stop now
        exit_interrupted()
    _requested = True
    raise KeyboardInterrupt


def _on_unraisable(previous: Callable[[sys.UnraisableHookArgs], object], unraisable: sys.UnraisableHookArgs) -> None:
    if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
        exit_interrupted()  # Ctrl-C landed in a __del__ or a callback, which cannot pass it on
    previous(unraisable)


@contextmanager
def interrupts_handled() -> Iterator[None]:
    """Ctrl-C handled as this module says, for the duration of a command; the previous handling is back
    afterwards (a test calls `main` in its own process). Python lets only the main thread install a
    signal handler, so elsewhere this changes nothing."""
    global _requested
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested = False
    previous = signal.signal(signal.SIGINT, _on_sigint)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = functools.partial(_on_unraisable, previous_hook)
    try:
        yield
        if _requested:  # swallowed somewhere that left no trace, and the command went on to its end
            exit_interrupted()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
        sys.unraisablehook = previous_hook


def hand_ctrl_c_to_asyncio() -> None:
    """Give SIGINT back to Python's default handler, which `asyncio.run` replaces with its own: that one
    cancels the main task alone, so that a long-running service (the bot) stops cleanly, draining what is
    in flight, instead of being interrupted wherever it is."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
