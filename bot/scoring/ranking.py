"""Ranking metrics and threshold calibration, in NumPy so evaluation needs no extra dependency."""

from __future__ import annotations

import numpy as np


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve via the rank-sum statistic (ties get mid-ranks); None if one class is absent."""
    y = np.asarray(y, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = np.asarray(scores)[order]
    # mid-ranks for ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    mid = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(mid, counts)
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def average_precision(y: np.ndarray, scores: np.ndarray) -> float | None:
    """PR-AUC as average precision (the step-wise sum scikit-learn reports); None without positives."""
    y = np.asarray(y, dtype=bool)
    if y.sum() == 0:
        return None
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    hits = y[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].sum() / hits.sum())


def threshold_for_precision(
    y: np.ndarray, scores: np.ndarray, target: float, floor: float = 0.5
) -> tuple[float, float | None, float | None]:
    """The lowest threshold whose precision reaches `target`, with the precision and recall it gives.

    Lowest, because among thresholds that meet the precision target it keeps the most recall. When no
    threshold reaches the target (or there are no positives) the answer is the highest-scoring cut that
    comes closest, never below `floor`, so a label with thin support cannot end up flagging everything.
    """
    y = np.asarray(y, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    if y.sum() == 0:
        return max(floor, 0.9), None, None
    order = np.argsort(-scores, kind="mergesort")
    s, hits = scores[order], y[order]
    tp = np.cumsum(hits)
    k = np.arange(1, len(s) + 1)
    # only cut where the next score differs, so a threshold never splits tied scores
    cut = np.r_[s[1:] != s[:-1], True]
    precision = tp / k
    ok = np.flatnonzero(cut & (precision >= target))
    i = ok[-1] if len(ok) else np.flatnonzero(cut)[np.argmax(precision[cut])]
    threshold = max(float(s[i]), floor)
    at = scores >= threshold
    p = float(y[at].mean()) if at.any() else None
    r = float(y[at].sum() / y.sum())
    return threshold, p, r
