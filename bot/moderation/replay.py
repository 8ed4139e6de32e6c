"""Reading chat logs for `toxmod replay` and summarising what the policy made of them.

The whole file is read and validated before anything is scored or written, so a malformed log fails
with one clear message and leaves the database untouched.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bot.decision import Decision
from bot.labels import LABELS


class ChatLogError(ValueError):
    """The chat log cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class ChatLine:
    content: str
    author: str = ""
    channel: str = ""

    @property
    def author_id(self) -> int | None:
        return int(self.author) if self.author.isdigit() else None

    @property
    def channel_id(self) -> int | None:
        return int(self.channel) if self.channel.isdigit() else None


def read_chat_log(path: Path) -> list[ChatLine]:
    """A CSV with a `content` column (and optional `author`, `channel`), or plain text, one message a line."""
    if not path.is_file():
        raise ChatLogError(f"chat log not found: {path}")
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ChatLogError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise ChatLogError(f"cannot read {path}: {exc.strerror}") from exc
    if not raw.strip():
        raise ChatLogError(f"{path} is empty")
    first = raw.splitlines()[0].lower()
    if path.suffix.lower() == ".csv" or "content" in [c.strip() for c in first.split(",")]:
        return _read_csv(path, raw)
    return [ChatLine(line) for line in raw.splitlines() if line.strip()]


def _read_csv(path: Path, raw: str) -> list[ChatLine]:
    reader = csv.DictReader(raw.splitlines(), strict=True)
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    if "content" not in columns:
        raise ChatLogError(f"{path}: CSV needs a 'content' column (found: {', '.join(columns) or 'none'})")
    reader.fieldnames = columns
    lines = []
    try:
        for number, row in enumerate(reader, start=2):
            if None in row or any(v is None for v in row.values()):
                given = sum(v is not None for k, v in row.items() if k is not None) + len(row.get(None) or [])
                raise ChatLogError(f"{path}: line {number} has {given} fields, expected {len(columns)}")
            content = row["content"]
            if content.strip():
                lines.append(ChatLine(content, row.get("author", "").strip(), row.get("channel", "").strip()))
    except csv.Error as exc:
        raise ChatLogError(f"{path}: malformed CSV at line {reader.line_num}: {exc}") from exc
    if not lines:
        raise ChatLogError(f"{path} has no messages with content")
    return lines


def replay_summary(lines: list[ChatLine], decisions: list[Decision]) -> str:
    flagged = [(line, d) for line, d in zip(lines, decisions, strict=True) if d.flagged]
    per_label = Counter(label for _, d in flagged for label in d.fired)
    authors = Counter(line.author for line, _ in flagged if line.author)
    out = [
        f"replayed {len(lines)} messages with model {decisions[0].model_version}",
        f"flagged {len(flagged)} ({100 * len(flagged) / len(lines):.2f}%)",
    ]
    out += [f"  {label:<14} {per_label[label]}" for label in LABELS if per_label[label]]
    if authors:
        out.append("most flagged authors: " + ", ".join(f"{a} ({n})" for a, n in authors.most_common(5)))
    return "\n".join(out)
