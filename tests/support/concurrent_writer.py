"""One of several OS processes writing to the same PostgreSQL database at once, for test_concurrency.py.

Shards of one bot share a database, so the guarantees that make their writes correct (transactions, row
locks, `ON CONFLICT`, the writer's deadlock retries) can only be tested by real processes with their own
connections and their own writer threads; threads in one process would share the GIL, the pool and the
timing, and miss exactly the races that matter.

Run from the project root: `python -m tests.support.concurrent_writer SUBCOMMAND --url URL --ready-file R
--go-file G ...`. Each worker connects first, then touches its ready file and waits for the go file, so all
of them start writing within a millisecond or two of each other (the test creates the go file once every
worker is ready). It prints one JSON line with what it did, or, on any exception, one line on stderr and
exits with status 1.

Subcommands:
  write     score messages `first_id ... first_id + count - 1` through `Database.submit` (batched), opening a
            flag on `flagged` of them spread evenly.
  review    give every flag of a guild the same verdict with `only_pending=True`, ascending or descending
            ids, all submitted at once; counts verdicts recorded and `AlreadyReviewed` answers.
  settings  add one exemption and patch one label's threshold `times` times, one transaction each (what
            moderators' commands do), checking that every patched mapping it gets back is never older than
            one it saw before.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bot.decision import Decision, Scores
from bot.labels import LABELS
from bot.moderation.policy import Policy
from bot.storage.database import Database
from bot.storage.flags import AlreadyReviewed, review_flag
from bot.storage.guilds import add_exemption, update_guild_settings
from bot.storage.messages import MessageRef, record_score
from bot.storage.tables import Flag, FlagStatus

POLICY = Policy(dict.fromkeys(LABELS, 0.5))
FLAGGED = POLICY.decide(Scores((0.9, 0.0, 0.0, 0.0, 0.0, 0.0), "m1", 1.0))
CLEAN = POLICY.decide(Scores((0.1, 0.0, 0.0, 0.0, 0.0, 0.0), "m1", 1.0))
BARRIER_TIMEOUT = 60.0  # seconds a worker waits for the go file before giving up


def wait_for_go(ready: Path, go: Path) -> None:
    """Say this worker is ready, then wait until the test says go: the start line every worker shares."""
    ready.touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while not go.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no go file {go} after {BARRIER_TIMEOUT:g} s")
        time.sleep(0.001)


def warm_up(db: Database) -> None:
    """Open the writer's connection before the barrier, so connecting is not part of the race (a session
    connects at its first statement, not before)."""
    db.write_sync(lambda session: session.execute(text("SELECT 1")))


def flagged_positions(count: int, flagged: int) -> set[int]:
    """`flagged` distinct positions in range(count), spread evenly (so flags interleave with clean rows)."""
    if not 0 <= flagged <= count:
        raise ValueError(f"cannot flag {flagged} of {count} messages")
    return {j * count // flagged for j in range(flagged)}


def _score(ref: MessageRef, decision: Decision, text: str, session: Session) -> bool:
    """One scored message as the bot logs it; whether a flag was opened."""
    _, flag = record_score(session, ref, decision, text)
    return flag is not None


def write(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    positions = flagged_positions(args.count, args.flagged)
    wait_for_go(args.ready_file, args.go_file)
    started = time.perf_counter()
    futures: list[Future] = []
    for i in range(args.count):
        ref = MessageRef(guild_id=args.guild, channel_id=args.guild * 10 + i % 3, message_id=args.first_id + i,
                         author_id=100 + i % 50)
        flagged = i in positions
        content = f"you idiot #{args.first_id + i}" if flagged else f"hello #{args.first_id + i}"
        futures.append(db.submit(partial(_score, ref, FLAGGED if flagged else CLEAN, content)))
    flags = sum(bool(future.result()) for future in futures)  # the first failed write raises here
    return {"scored": len(futures), "flags": flags, "seconds": round(time.perf_counter() - started, 3)}


def review(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    status = FlagStatus(args.status)
    ids: list[int] = db.read_sync(lambda s: list(s.scalars(
        select(Flag.id).where(Flag.guild_id == args.guild).order_by(Flag.id))))
    if args.order == "desc":
        ids.reverse()
    calls = 0

    def verdict(flag_id: int, session: Session) -> bool:
        nonlocal calls
        calls += 1  # only the writer thread runs jobs: no lock needed
        return review_flag(session, args.guild, flag_id, status, args.reviewer, only_pending=True) is not None

    wait_for_go(args.ready_file, args.go_file)
    started = time.perf_counter()
    futures = [db.submit(partial(verdict, flag_id)) for flag_id in ids]
    recorded = already = 0
    for flag_id, future in zip(ids, futures, strict=True):
        try:
            found = future.result()
        except AlreadyReviewed:
            already += 1
            continue
        if not found:
            raise LookupError(f"flag #{flag_id} of guild {args.guild} not found")
        recorded += 1
    # jobs run more than once when the writer retried their transaction (a deadlock, a lock wait)
    return {"flags": len(ids), "recorded": recorded, "already": already, "reruns": calls - len(ids),
            "seconds": round(time.perf_counter() - started, 3)}


def _patch(guild_id: int, actor_id: int, label: str, value: float, session: Session) -> dict[str, float]:
    settings = update_guild_settings(session, guild_id, actor_id, "thresholds", patch={"thresholds": {label: value}})
    return dict(settings.thresholds)


def settings(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    wait_for_go(args.ready_file, args.go_file)
    started = time.perf_counter()
    exemption = db.submit(partial(add_exemption, guild_id=args.guild, kind="channel", target_id=args.exempt_channel,
                                  actor_id=args.actor))
    seen: dict[str, float] = {}
    stale = 0  # mappings older than one seen before: a change written back over a newer one
    value = args.value_base
    for i in range(args.times):
        value = round(args.value_base + (i + 1) / 1000, 6)
        thresholds = db.write_sync(partial(_patch, args.guild, args.actor, args.label, value))
        if thresholds.get(args.label) != value:
            stale += 1
        for label, got in thresholds.items():
            if got < seen.get(label, 0.0):
                stale += 1
            seen[label] = max(got, seen.get(label, 0.0))
    return {"label": args.label, "last": value, "stale": stale, "exemption_added": bool(exemption.result()),
            "seconds": round(time.perf_counter() - started, 3)}


COMMANDS: dict[str, Callable[[argparse.Namespace, Database], dict[str, Any]]] = {
    "write": write, "review": review, "settings": settings}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", required=True, help="database URL (migrated already)")
    common.add_argument("--ready-file", type=Path, required=True, help="touched once connected")
    common.add_argument("--go-file", type=Path, required=True, help="writing starts when it exists")
    common.add_argument("--guild", type=int, default=1)
    parser = argparse.ArgumentParser(prog="python -m tests.support.concurrent_writer",
                                     description=(__doc__ or "").split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", parents=[common], help="score messages, some flagged")
    w.add_argument("--first-id", type=int, required=True, help="message id of the first message")
    w.add_argument("--count", type=int, default=2500)
    w.add_argument("--flagged", type=int, default=500)
    r = sub.add_parser("review", parents=[common], help="the same verdict on every flag of the guild")
    r.add_argument("--status", choices=[FlagStatus.CONFIRMED.value, FlagStatus.DISMISSED.value], required=True)
    r.add_argument("--order", choices=["asc", "desc"], default="asc")
    r.add_argument("--reviewer", type=int, default=7)
    s = sub.add_parser("settings", parents=[common], help="patch one label's threshold, add one exemption")
    s.add_argument("--label", choices=LABELS, required=True)
    s.add_argument("--times", type=int, default=50)
    s.add_argument("--value-base", type=float, default=0.5, help="the i-th patch sets value-base + i/1000")
    s.add_argument("--actor", type=int, default=7)
    s.add_argument("--exempt-channel", type=int, default=42)
    return parser.parse_args(argv)


LOCK_WAIT_S = 240.0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        # the test is about what is lost or doubled, not how fast: on a busy machine a writer may wait long
        # for another process's write lock, and should wait rather than fail (the test's own deadline holds)
        db = Database(args.url, lock_timeout=LOCK_WAIT_S).start()
        try:
            warm_up(db)
            result = COMMANDS[args.command](args, db)
        finally:
            db.close()
    except Exception as exc:
        print(f"{args.command}: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr, flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
