"""Moderator verdicts as training data, and thresholds suggested from them.

A verdict fixes all six labels: Confirm means "these labels apply and the others do not", Dismiss means
clean on all six. The export uses the Kaggle Jigsaw columns so `toxmod train --feedback FILE` reads it
with the same loader as Jigsaw itself (plus `source,guild,decided_at`, which the loader keeps).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.labels import LABELS
from bot.model.metrics import threshold_for_precision
from bot.storage.models import Flag, FlagStatus

COLUMNS = ["id", "comment_text", *LABELS, "source", "guild", "decided_at"]
FEEDBACK_CSV = "feedback.csv"  # the export `/model retrain` writes into its run folder for the training child


def reviewed_flags(session: Session, guild_id: int | None = None, since: datetime | None = None) -> list[Flag]:
    q = select(Flag).where(Flag.status.in_([FlagStatus.CONFIRMED, FlagStatus.DISMISSED]),
                           Flag.verdict_labels.isnot(None)).order_by(Flag.id)
    if guild_id is not None:
        q = q.where(Flag.guild_id == guild_id)
    if since is not None:
        q = q.where(Flag.reviewed_at >= since)
    return list(session.scalars(q))


def feedback_rows(flags: list[Flag]) -> list[dict[str, object]]:
    """One Jigsaw-format row per verdict whose text is still retained (erased texts cannot teach)."""
    rows: list[dict[str, object]] = []
    for flag in flags:
        if flag.text is None or not flag.text.strip():
            continue
        verdict = set(flag.verdict_labels or [])
        rows.append({
            "id": f"flag-{flag.id}",
            "comment_text": flag.text,
            **{label: int(label in verdict) for label in LABELS},
            "source": f"feedback:{flag.guild_id}",
            "guild": flag.guild_id,
            "decided_at": flag.reviewed_at.isoformat() if flag.reviewed_at else "",
        })
    return rows


def _partial(out: Path) -> Path:
    return out.with_name(f".{out.name}.tmp")


def write_feedback_csv(rows: list[dict[str, object]], out: Path) -> None:
    """Written beside the target and renamed, so a reader never sees half a file."""
    tmp = _partial(out)
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out)


@dataclass(frozen=True)
class Suggestion:
    label: str
    threshold: float | None  # None: not enough verdicts to say
    current: float
    positives: int
    negatives: int
    precision: float | None
    recall: float | None


def suggest_thresholds(flags: list[Flag], current: dict[str, float], target_precision: float = 0.9,
                       min_verdicts: int = 10, floor: float = 0.05) -> list[Suggestion]:
    """Per label, the lowest threshold at which this guild's verdicts reach the target precision.

    A verdict is a positive for a label when the moderator kept that label, a negative when the flag was
    dismissed or the label was removed. Only flagged (or reported) messages get verdicts, so the history
    says little about scores far below today's thresholds; with fewer than `min_verdicts` the label keeps
    its threshold and the suggestion says so.
    """
    out = []
    for label in LABELS:
        scored = [(f.scores.get(label, 0.0), label in (f.verdict_labels or [])) for f in flags if f.scores]
        y = np.array([pos for _, pos in scored], dtype=bool)
        s = np.array([score for score, _ in scored], dtype=float)
        positives, negatives = int(y.sum()), int((~y).sum())
        if positives + negatives < min_verdicts or positives == 0:
            out.append(Suggestion(label, None, current[label], positives, negatives, None, None))
            continue
        threshold, precision, recall = threshold_for_precision(y, s, target_precision, floor=floor)
        out.append(Suggestion(label, round(threshold, 4), current[label], positives, negatives, precision, recall))
    return out


def runs_dir(models_dir: str | Path) -> Path:
    """Where `/model retrain` puts its run folders: `runs/` beside the models directory."""
    return Path(models_dir).resolve().parent / "runs"


def remove_feedback_exports(runs: Path) -> int:
    """Delete the feedback exports left in retrain run folders; how many files went.

    An export holds message texts, so it must not outlive their erasure (privacy, retention). A retrain
    deletes its own when the training child exits; this takes what a killed bot left behind, and the
    export of a retrain still running (its child reads the file once, as it starts).
    """
    names = (FEEDBACK_CSV, _partial(Path(FEEDBACK_CSV)).name)
    exports = [path for name in names for path in runs.glob(f"*/{name}")]
    for export in exports:
        export.unlink(missing_ok=True)
    return len(exports)
