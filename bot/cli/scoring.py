"""`toxmod score` and `toxmod replay`: messages through the model, and chat logs through the pipeline."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from bot.cli.common import CliError, database, load_settings, scoring, truncate


def cmd_score(args: argparse.Namespace) -> int:
    settings = load_settings(args)  # a bad setting fails before torch is imported
    from bot.moderation.policy import Policy
    from bot.moderation.replay import text_lines

    # stdin is read as `replay` reads a file: the same UTF-8 and NUL checks, one message per line
    texts = args.text or [line.rstrip("\r\n") for line in text_lines(sys.stdin.buffer, "stdin")]
    if not texts:
        raise CliError("nothing to score: give TEXT arguments or lines on stdin")
    with scoring(settings) as scorer:
        policy = Policy(scorer.model.info.thresholds)
        decisions = [policy.decide(s) for s in scorer.score_many(texts)]
    if args.jsonl:
        for text, d in zip(texts, decisions, strict=True):
            print(json.dumps(d.to_json(text), ensure_ascii=False))
        return 0
    print(f"{'message':<48}  {'top label':<20}  {'second label':<20}  flagged")
    for text, d in zip(texts, decisions, strict=True):
        (l1, p1), (l2, p2) = d.top
        print(f"{truncate(text, 48):<48}  {l1 + f' {p1:.3f}':<20}  {l2 + f' {p2:.3f}':<20}  "
              f"{'YES' if d.flagged else 'no'}")
    print(f"model {decisions[0].model_version}")
    return 0


class _Interrupt:
    """Ctrl-C during a replay. The first stops it after the chunk being written; a second stops at once
    (committed chunks stay, each with its progress, so resuming starts after the last of them)."""

    def __init__(self, total: int, position: int) -> None:
        self.total = total
        self.position = position
        self.requested = False

    def stopped_at(self) -> str:
        return (f"toxmod: interrupted after message {self.position} of {self.total} (those {self.position} are "
                "saved); run the same command again to resume")

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        if self.requested:
            print(self.stopped_at(), file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(130)  # see main(): no interpreter shutdown under a thread that is still in torch
        self.requested = True


@contextmanager
def _ctrl_c(handler: _Interrupt) -> Iterator[None]:
    # asyncio.run replaces only Python's default SIGINT handler, so this one stays in force inside it
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def cmd_replay(args: argparse.Namespace) -> int:
    """The live pipeline over a chat log, one transaction per chunk, resumable (see bot.moderation.replay)."""
    from tqdm import tqdm

    from bot.moderation.pipeline import Moderation
    from bot.moderation.replay import ChatLog, replay
    from bot.storage.replays import start_replay

    log = ChatLog.open(Path(args.file))  # the whole file is validated before anything is scored or written
    settings = load_settings(args)
    # a missing model fails here, before the database is touched
    with scoring(settings) as scorer, database(settings, create=True, writer=True) as db:
        run = db.transaction(lambda s: start_replay(s, log.digest, str(log.path.resolve()), log.messages,
                                                    again=args.again))
        if run.finished_at is not None:
            print(f"{log.path} was already replayed ({run.lines_total} messages, finished "
                  f"{run.finished_at:%Y-%m-%d %H:%M} UTC); nothing written. Use --again to replay it anyway.")
            return 0
        if run.lines_done:
            print(f"resuming at message {run.lines_done + 1} of {run.lines_total}", flush=True)
        interrupt = _Interrupt(log.messages, run.lines_done)
        with _ctrl_c(interrupt), tqdm(total=log.messages, initial=run.lines_done, desc="scoring", unit="msg",
                                      disable=args.quiet) as bar:
            def advanced(position: int) -> None:
                bar.update(position - interrupt.position)
                interrupt.position = position

            tally = asyncio.run(replay(Moderation(scorer, db), log, run, progress=advanced,
                                       stop=lambda: interrupt.requested))
    if tally.done < log.messages:
        print(interrupt.stopped_at(), file=sys.stderr)
        return 130
    print(tally.summary())
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score messages (arguments, or one per line on stdin)")
    p.add_argument("text", nargs="*", help="messages to score; none: read stdin")
    p.add_argument("--jsonl", action="store_true", help="one JSON object per input line (stable contract)")
    p.add_argument("--model", help="model directory (default: the one models/current names)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("replay", help="run a chat log (CSV author,channel,content or plain lines) into the database; "
                                      "a rerun of the same file resumes where it stopped")
    p.add_argument("file")
    p.add_argument("--model", help="model directory (default: the one models/current names)")
    p.add_argument("--database-url", help="override DATABASE_URL")
    p.add_argument("--again", action="store_true", help="replay a file that was replayed before, from the start")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_replay)
