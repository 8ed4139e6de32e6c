"""The flag decision: per-label thresholds over the six scores.

Thresholds start as the model's calibrated defaults (metadata.json) and a guild may override any label;
the same Policy serves `toxmod score`, replay, `/scan` and live messages, so they always agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from bot.decision import Decision, Scores
from bot.labels import LABELS, shown_rank


def validate_threshold(label: str, value: float) -> float:
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; labels are {', '.join(LABELS)}")
    if not 0.0 < value <= 1.0:
        raise ValueError(f"threshold for {label} must be in (0, 1], got {value}")
    return float(value)


@dataclass(frozen=True)
class Policy:
    thresholds: Mapping[str, float]

    @classmethod
    def with_overrides(cls, defaults: Mapping[str, float], overrides: Mapping[str, float] | None) -> Policy:
        merged = dict(defaults)
        for label, value in (overrides or {}).items():
            merged[label] = validate_threshold(label, value)
        return cls(merged)

    def margin(self, label: str, probability: float) -> float:
        """How far a score passes its label's threshold, in log-odds: comparable across labels.

        Raw probabilities are not: `toxic` is high on anything rude, `threat` rarely is, so ranking by
        probability shows "toxic, severe_toxic" on a death threat. Ranking by margin shows the labels that
        stand out most against their own calibrated line.
        """
        return _logit(probability) - _logit(self.thresholds[label])

    def rank(self, label: str, probability: float) -> tuple[bool, bool, float]:
        """Where a label goes in the two shown (`shown_rank` of its margin)."""
        return shown_rank(label, self.margin(label, probability))

    def decide(self, scores: Scores) -> Decision:
        values = scores.as_dict()
        top = sorted(values.items(), key=lambda kv: self.rank(*kv), reverse=True)[:2]
        fired = tuple(label for label in LABELS if values[label] >= self.thresholds[label])
        return Decision(values, top, bool(fired), fired, scores.model_version, scores.latency_ms)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))
