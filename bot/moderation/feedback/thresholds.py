"""Thresholds suggested from a guild's verdicts: per label, the lowest that reaches a target precision."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.labels import LABELS
from bot.scoring.ranking import threshold_for_precision
from bot.storage.tables import Flag


@dataclass(frozen=True)
class Suggestion:
    """One label's suggested threshold (None: too few verdicts), beside the current one, with the verdicts behind it
    and the precision and recall it would reach on them."""

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
