"""`toxmod score` and `toxmod replay`: messages through the model, and chat logs through the pipeline."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bot.cli.common import CliError, database, load_settings, truncate


def cmd_score(args: argparse.Namespace) -> int:
    from bot.moderation.policy import Policy
    from bot.moderation.worker import open_scorer

    texts = args.text or [line.rstrip("\r\n") for line in sys.stdin]
    if not texts:
        raise CliError("nothing to score: give TEXT arguments or lines on stdin")
    scorer = open_scorer(load_settings(args))
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
        print(f"{truncate(text, 48):<48}  {l1 + f' {p1:.3f}':<20}  {l2 + f' {p2:.3f}':<20}  "
              f"{'YES' if d.flagged else 'no'}")
    print(f"model {decisions[0].model_version}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """The live pipeline over a chat log; every row is written in one transaction, or none is."""
    from tqdm import tqdm

    from bot.moderation.pipeline import Incoming, Moderation
    from bot.moderation.replay import read_chat_log, replay_summary
    from bot.moderation.worker import open_scorer
    from bot.storage.repository import MessageRef

    rows = read_chat_log(Path(args.file))
    settings = load_settings(args)
    scorer = open_scorer(settings)  # a missing model fails here, before the database is touched
    items = [Incoming(MessageRef(channel_id=r.channel_id, author_id=r.author_id), r.content) for r in rows]
    try:
        with database(settings, writer=True) as db, \
                tqdm(total=len(rows), desc="scoring", unit="msg", disable=args.quiet) as bar:
            outcomes = asyncio.run(Moderation(scorer, db).moderate(items, progress=bar.update))
    finally:
        scorer.stop()
    print(replay_summary(rows, [o.decision for o in outcomes]))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
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
