"""`toxmod score` and `toxmod replay`: messages through the model, and chat logs through the pipeline."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from bot.cli.common import (
    CliError,
    add_database_url,
    cannot_write,
    check_database_url,
    database,
    load_settings,
    scoring,
    truncate,
)
from bot.cli.interrupts import exit_interrupted

if TYPE_CHECKING:
    from bot.moderation.replay import ChatLog
    from bot.storage.database import Database


def cmd_score(args: argparse.Namespace) -> int:
    """`toxmod score`: messages (arguments or stdin lines) through the model, as a table or JSON lines."""
    settings = load_settings(args)  # a bad setting fails before torch is imported
    from bot.moderation.languages import decide_texts
    from bot.moderation.policy import scorer_policy
    from bot.moderation.text_input import text_lines
    from bot.scoring.language import LanguageIdentifier

    # stdin is read as `replay` reads a file: the same UTF-8 and NUL checks, one message per line
    texts = args.text or [line.rstrip("\r\n") for line in text_lines(sys.stdin.buffer, "stdin")]
    if not texts:
        raise CliError("nothing to score: give TEXT arguments or lines on stdin")
    with scoring(settings) as scorer:
        policy = scorer_policy(scorer)
        decisions = decide_texts(scorer, LanguageIdentifier(), texts, policy)
    if args.jsonl:
        for text, d in zip(texts, decisions, strict=True):
            print(json.dumps(d.to_json(text), ensure_ascii=False))
        return 0
    from bot.labels import nearest_line

    print(f"{'message':<48}  {'lang':<4}  {'top label':<20}  {'second label':<20}  flagged")
    for text, d in zip(texts, decisions, strict=True):
        if not d.read:
            print(f"{truncate(text, 48):<48}  {d.language or '?':<4}  {'not read: language not supported':<42}  no")
            continue
        if not d.flagged:  # no ranking of labels that nothing came near: see nearest_line
            quiet = nearest_line(d.scores, policy.lines(d.language))
            print(f"{truncate(text, 48):<48}  {d.language or '?':<4}  {quiet:<42}  no")
            continue
        (l1, p1), (l2, p2) = d.top
        print(f"{truncate(text, 48):<48}  {d.language or '?':<4}  {l1 + f' {p1:.3f}':<20}  {l2 + f' {p2:.3f}':<20}  "
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
            exit_interrupted(self.stopped_at())
        self.requested = True


@contextmanager
def _ctrl_c(handler: _Interrupt) -> Iterator[None]:
    # asyncio.run replaces only Python's default SIGINT handler, so this one stays in force inside it
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _sole_replay(db: Database, log: ChatLog) -> Iterator[None]:
    """Be the only process replaying this log (by content) into this database, or refuse in one line: the
    position to resume from is read once, at the start, so two replays of one log would both write all of it."""
    from bot.storage.replays import claim_replay

    claim = claim_replay(db.engine, log.digest)
    if claim is None:
        raise CliError(f"another toxmod replay of {log.path} (the same content) is writing to this database: "
                       "wait for it to end, then run this again (it resumes where that one stopped)")
    try:
        yield
    finally:
        claim.release()


def cmd_replay(args: argparse.Namespace) -> int:
    """The live pipeline over a chat log, one transaction per chunk, resumable (see bot.moderation.replay)."""
    from tqdm import tqdm

    from bot.moderation.pipeline import Moderation
    from bot.moderation.replay import ChatLog, replay
    from bot.storage.errors import DatabaseUnavailable
    from bot.storage.replays import start_replay

    log = ChatLog.open(Path(args.file))  # the whole file is validated before anything is scored or written
    settings = load_settings(args)
    check_database_url(settings.database_url)  # a URL that cannot work fails before the model loads
    # a missing model fails here, before the database is touched
    with scoring(settings) as scorer, database(settings, create=True, writer=True) as db, _sole_replay(db, log):
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

            try:
                tally = asyncio.run(replay(Moderation(scorer, db), log, run, progress=advanced,
                                           stop=lambda: interrupt.requested))
            except DatabaseUnavailable as exc:  # nothing waits in memory: each chunk is written, or not at all
                done = interrupt.position
                raise CliError(f"{cannot_write(db.url, exc)}; the replay stopped after message {done} of "
                               f"{log.messages} (those {done} are saved, nothing is lost): once the database can "
                               "be written, run the same command again to resume") from exc
    if tally.done < log.messages:
        print(interrupt.stopped_at(), file=sys.stderr)
        return 130
    print(tally.summary())
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `toxmod score` and `toxmod replay` to the parser."""
    p = sub.add_parser("score", help="score messages (arguments, or one per line on stdin)")
    p.add_argument("text", nargs="*", help="messages to score; none: read stdin")
    p.add_argument("--jsonl", action="store_true", help="one JSON object per input line (stable contract)")
    p.add_argument("--model", help="model directory (default: the one models/current names)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("replay", help="run a chat log (CSV author,channel,content or plain lines) into the database; "
                                      "a rerun of the same file resumes where it stopped")
    p.add_argument("file")
    p.add_argument("--model", help="model directory (default: the one models/current names)")
    add_database_url(p)
    p.add_argument("--again", action="store_true",
                   help="replay a file replayed to its end before, from the start (an interrupted one resumes)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_replay)
