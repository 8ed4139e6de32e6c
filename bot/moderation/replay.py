"""Chat logs for `toxmod replay`: read, validated, replayed through the pipeline chunk by chunk, summarised.

Reading. The bytes become lines of text through `text_lines` (bot/moderation/text_input.py), the one
reader of messages from bytes, which `toxmod score` uses on stdin too.

Validation before writing. `ChatLog.open` streams the whole file once before anything is scored: it
checks every line and row, counts the messages and takes the sha256 of the bytes. A malformed log fails
there with one clear message and the database is never touched; no row is held in memory, so a log of
any size costs the same few MB.

Replaying. `replay` reads the file a second time, in chunks of CHUNK messages, each scored while the one
before is written. A chunk's rows and the run's new position in `replay_runs` are one transaction, so
what is written and what a resume skips always agree, even after a hard kill. The run is keyed by the
file's digest, so running the same file again resumes after the last chunk written, and a finished file
is not replayed twice. The CLI honours Ctrl-C between chunks.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import hashlib
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from bot.decision import Decision
from bot.labels import LABELS
from bot.moderation.pipeline import CHUNK, Incoming, Moderation, record
from bot.moderation.text_input import ChatLogError, text_lines
from bot.storage.messages import MessageRef
from bot.storage.replays import ReplayProgress, advance_replay


@dataclass(frozen=True)
class ChatLine:
    """One message of a chat log: its text, and its author and channel as written (ids, when they are digits)."""

    content: str
    author: str = ""
    channel: str = ""

    @property
    def author_id(self) -> int | None:
        """The author as a Discord id, when the log gives one."""
        return int(self.author) if self.author.isdigit() else None

    @property
    def channel_id(self) -> int | None:
        """The channel as a Discord id, when the log gives one."""
        return int(self.channel) if self.channel.isdigit() else None


@dataclass(frozen=True)
class ChatLog:
    """A chat log that has been read through once and found usable: a CSV with a `content` column (and
    optional `author`, `channel`), or plain text, one message a line."""

    path: Path
    is_csv: bool
    messages: int
    digest: str  # sha256 of the file's bytes: which replay run this log is

    @classmethod
    def open(cls, path: Path) -> ChatLog:
        """Read the whole log once to validate and count it; ChatLogError names the problem if it cannot be used."""
        if path.is_dir():
            raise ChatLogError(f"{path} is a directory: give the chat log file itself (CSV, or one message a line)")
        if not path.is_file():
            raise ChatLogError(f"chat log not found: {path}")
        first = next(text_lines(_raw_lines(path, limit=1), str(path)), "")
        is_csv = path.suffix.lower() == ".csv" or "content" in [c.strip() for c in first.lower().split(",")]
        digest = hashlib.sha256()
        messages = sum(1 for _ in _messages(path, is_csv, digest.update))
        if not messages:
            problem = "has no messages with content" if is_csv and first.strip() else "is empty"
            raise ChatLogError(f"{path} {problem}")
        return cls(path, is_csv, messages, digest.hexdigest())

    def lines(self, skip: int = 0) -> Iterator[ChatLine]:
        """The messages in order, after the first `skip` of them."""
        return itertools.islice(_messages(self.path, self.is_csv), skip, None)


def _raw_lines(path: Path, seen: Callable[[bytes], None] | None = None, limit: int | None = None) -> Iterator[bytes]:
    try:
        with path.open("rb") as f:
            for line in itertools.islice(f, limit):
                if seen is not None:
                    seen(line)
                yield line
    except OSError as exc:
        raise ChatLogError(f"cannot read {path}: {exc.strerror}") from exc


def _messages(path: Path, is_csv: bool, seen: Callable[[bytes], None] | None = None) -> Iterator[ChatLine]:
    lines = text_lines(_raw_lines(path, seen), str(path))
    if is_csv:
        yield from _csv_messages(path, lines)
        return
    for line in lines:
        text = line.rstrip("\r\n")
        if text.strip():
            yield ChatLine(text)


def _csv_messages(path: Path, lines: Iterator[str]) -> Iterator[ChatLine]:
    reader = csv.DictReader(lines, strict=True)
    try:
        if reader.fieldnames is None:
            raise ChatLogError(f"{path} is empty")
        columns = [c.strip().lower() for c in reader.fieldnames]
        if "content" not in columns:
            found = ", ".join(filter(None, columns)) or "none"
            raise ChatLogError(f"{path}: CSV needs a 'content' column (found: {found})")
        reader.fieldnames = columns
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                given = sum(v is not None for k, v in row.items() if k is not None) + len(row.get(None) or [])
                raise ChatLogError(f"{path}: line {reader.line_num} has {given} fields, expected {len(columns)}")
            content = row["content"]
            if content.strip():
                yield ChatLine(content, row.get("author", "").strip(), row.get("channel", "").strip())
    except csv.Error as exc:
        raise ChatLogError(f"{path}: malformed CSV at line {reader.line_num}: {exc}") from exc


def _chunks(lines: Iterator[ChatLine], size: int) -> Iterator[list[ChatLine]]:
    while chunk := list(itertools.islice(lines, size)):
        yield chunk


@dataclass
class Tally:
    """What the policy made of the messages this replay wrote (after `start`, up to `done`)."""

    start: int
    done: int
    model_version: str = ""
    flagged: int = 0
    per_label: Counter[str] = field(default_factory=Counter)
    authors: Counter[str] = field(default_factory=Counter)

    def add(self, lines: list[ChatLine], decisions: list[Decision]) -> None:
        """Count one chunk's decisions."""
        self.done += len(lines)
        self.model_version = decisions[-1].model_version
        for line, decision in zip(lines, decisions, strict=True):
            if decision.flagged:
                self.flagged += 1
                self.per_label.update(decision.fired)
                if line.author:
                    self.authors[line.author] += 1

    def summary(self) -> str:
        """The report printed at the end of a replay: messages, flags per label, the most flagged authors."""
        replayed = self.done - self.start
        out = [
            f"replayed {replayed} message{'' if replayed == 1 else 's'} with model {self.model_version}",
            f"flagged {self.flagged} ({100 * self.flagged / max(replayed, 1):.2f}%)",
        ]
        out += [f"  {label:<14} {self.per_label[label]}" for label in LABELS if self.per_label[label]]
        if self.authors:
            out.append("most flagged authors: " + ", ".join(f"{a} ({n})" for a, n in self.authors.most_common(5)))
        return "\n".join(out)


async def replay(moderation: Moderation, log: ChatLog, run: ReplayProgress, *,
                 progress: Callable[[int], None], stop: Callable[[], bool]) -> Tally:
    """The log's messages after `run.lines_done` through the pipeline, one transaction per chunk holding its
    rows and the run's new position (so what is written and what a resume skips always agree); `progress`
    gets the position after each, and `stop()` is asked between chunks whether to end early.

    A chunk is scored while the one before it is written: the writer thread and the scoring engine run
    side by side instead of taking turns.
    """
    tally = Tally(start=run.lines_done, done=run.lines_done)
    writing: asyncio.Future[int] | None = None

    async def written() -> None:
        if writing is not None:
            progress(await writing)

    for chunk in _chunks(log.lines(skip=run.lines_done), CHUNK):
        items = [Incoming(MessageRef(channel_id=line.channel_id, author_id=line.author_id), line.content)
                 for line in chunk]
        decisions = await moderation.decide(items)
        await written()
        tally.add(chunk, decisions)
        writing = asyncio.ensure_future(moderation.db.write(
            functools.partial(_write_chunk, items=items, decisions=decisions, run=run, lines_done=tally.done)))
        if stop():
            break
    await written()
    return tally


def _write_chunk(session: Session, items: list[Incoming], decisions: list[Decision], run: ReplayProgress,
                 lines_done: int) -> int:
    for item, decision in zip(items, decisions, strict=True):
        record(session, item, decision)
    advance_replay(session, run, lines_done)
    return lines_done
