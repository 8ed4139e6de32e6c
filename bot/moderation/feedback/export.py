"""Verdicts as a training CSV, in the Kaggle Jigsaw columns.

`toxmod train --feedback FILE` reads the export with the same loader as Jigsaw itself (plus
`source,guild,decided_at`, which the loader keeps). A verdict fixes all six labels: Confirm means "these
labels apply and the others do not", Dismiss means clean on all six.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from bot.labels import LABELS
from bot.storage.tables import Flag

COLUMNS = ["id", "comment_text", *LABELS, "source", "guild", "decided_at"]
FEEDBACK_CSV = "feedback.csv"  # the export `/model retrain` writes into its run folder for the training child


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


def partial_path(out: Path) -> Path:
    """Where an export is written before it is renamed to `out` (a name the run-folder cleanup knows too)."""
    return out.with_name(f".{out.name}.tmp")


def write_feedback_csv(rows: list[dict[str, object]], out: Path) -> None:
    """Written beside the target and renamed, so a reader never sees half a file."""
    tmp = partial_path(out)
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out)
