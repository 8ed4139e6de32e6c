"""`toxmod data list|fetch`: the corpora the shipped models were trained on, which are present under the data
directory (DATA_DIR, or `--dir`), and downloading the public ones from where their authors publish them.

The registry of origins is training/sources/corpora.toml; docs/DATA.md describes every corpus. `fetch` exits
with status 1 when a corpus could not be fetched (each failure one line on stderr), after trying the others.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import CliError, load_settings, truncate

if TYPE_CHECKING:
    from training.corpora.status import SourceStatus


def data_dir(args: argparse.Namespace) -> Path:
    """`--dir`, else the DATA_DIR setting."""
    return Path(args.dir) if args.dir else load_settings(args).data_dir


def cmd_data_list(args: argparse.Namespace) -> int:
    """`toxmod data list`: one line per training source: present or not, licence, size, where it comes from."""
    from training.corpora import load_registry
    from training.corpora.status import source_status

    root = data_dir(args)
    rows = source_status(root, load_registry(args.registry))
    if args.jsonl:
        for row in rows:
            print(json.dumps(row.as_json(), ensure_ascii=False))
        return 0
    for row in rows:
        print(list_line(row))
    present = sum(row.present for row in rows)
    print(f"{present} of {len(rows)} sources present under {root}; `toxmod data fetch` downloads the public ones "
          "(docs/DATA.md describes each)")
    return 0


def list_line(row: SourceStatus) -> str:
    """A source's line in `toxmod data list`: present or not, then its corpus's licence, size and origin."""
    state = "present" if row.present else "absent"
    head = f"{'+' if row.present else '-'} {row.source:<15} {row.language:<3} {state:<8}"
    corpus = row.corpus
    if corpus is None:
        origin = "in this repository" if row.in_repository else "no entry in the corpus registry"
        return f"{head} {origin:<30} {row.path}"
    size = ("" if corpus.access == "public" else f"[{corpus.access}] ") + corpus.size
    homepage = corpus.homepage.removeprefix("https://")
    return f"{head} {truncate(corpus.licence, 30):<30} {truncate(size, 58):<58} {homepage}"


def cmd_data_fetch(args: argparse.Namespace) -> int:
    """`toxmod data fetch`: download each public corpus (or those named), checked against its sha256."""
    from training.corpora import FetchError, load_registry
    from training.corpora.fetch import LOCK_NAME, Lock, fetch_corpus

    corpora = load_registry(args.registry)
    if args.only:
        known = {name for corpus in corpora for name in (corpus.name, *corpus.sources)}
        unknown = [name for name in args.only if name not in known]
        if unknown:
            raise CliError(f"no corpus named {', '.join(unknown)}; known: {', '.join(c.name for c in corpora)}")
        corpora = [c for c in corpora if {c.name, *c.sources} & set(args.only)]
    root = data_dir(args)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the data directory {root}: {exc.strerror}") from exc
    lock = Lock(root / LOCK_NAME)
    outcomes: dict[str, list[str]] = {}
    for corpus in corpora:
        try:
            outcome = fetch_corpus(corpus, root, lock, print, trust_unpinned=args.trust_unpinned,
                                   progress=not args.quiet)
        except (FetchError, OSError) as exc:
            print(f"toxmod: {corpus.name}: {exc}", file=sys.stderr)
            outcome = "failed"
        outcomes.setdefault(outcome, []).append(corpus.name)
        sys.stdout.flush()
    print("; ".join(f"{outcome}: {', '.join(names)}" for outcome, names in outcomes.items()))
    return 1 if "failed" in outcomes else 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `toxmod data` and its subcommands to the parser."""
    p = sub.add_parser("data", help="the training corpora: which are present, and fetching the public ones")
    dsub = p.add_subparsers(dest="data_command", required=True)
    ls = dsub.add_parser("list", help="every corpus the models were trained on: present or not, licence, size, origin")
    ls.add_argument("--jsonl", action="store_true", help="one JSON object per source, for machines")
    fe = dsub.add_parser("fetch", help="download the public corpora from where their authors publish them, "
                                       "checked against their sha256")
    fe.add_argument("--only", nargs="+", metavar="NAME", help="these corpora or sources only (default: every one)")
    fe.add_argument("--trust-unpinned", action="store_true",
                    help="download files the registry pins no sha256 for, and record the one they arrive with in "
                         "DATA_DIR/corpora.lock (later fetches must match it)")
    fe.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    for parser, func in ((ls, cmd_data_list), (fe, cmd_data_fetch)):
        parser.add_argument("--dir", help="the data directory (default: the DATA_DIR setting)")
        # tests and mirrors point the registry elsewhere; not for everyday use
        parser.add_argument("--registry", type=Path, help=argparse.SUPPRESS)
        parser.set_defaults(func=func)
