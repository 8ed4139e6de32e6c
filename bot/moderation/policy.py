"""The flag decision: per-label thresholds over the six scores.

Thresholds start as the model's calibrated defaults (metadata.json) and a guild may override any label;
the same Policy serves `toxmod score`, replay, `/scan` and live messages, so they always agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.decision import Decision, Scores
from bot.labels import LABELS, shown_rank

if TYPE_CHECKING:
    from bot.moderation.worker import ScoringWorker


def validate_threshold(label: str, value: float) -> float:
    """A threshold for `label` as a float, refused unless the label exists and 0 < value <= 1."""
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; labels are {', '.join(LABELS)}")
    if not 0.0 < value <= 1.0:
        raise ValueError(f"threshold for {label} must be in (0, 1], got {value}")
    return float(value)


@dataclass(frozen=True)
class Policy:
    """`thresholds` are the lines shared by every language; `by_language` holds a language's own lines where
    the model that reads it draws them elsewhere. A guild's override of a label holds in every language."""

    thresholds: Mapping[str, float]
    by_language: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @classmethod
    def with_overrides(cls, defaults: Mapping[str, float], overrides: Mapping[str, float] | None,
                       by_language: Mapping[str, Mapping[str, float]] | None = None) -> Policy:
        """A policy of the model's `defaults` (and its per-language lines), with a guild's `overrides` over both."""
        checked = {label: validate_threshold(label, value) for label, value in (overrides or {}).items()}
        return cls({**defaults, **checked},
                   {language: {**defaults, **lines, **checked} for language, lines in (by_language or {}).items()})

    def lines(self, language: str | None = None) -> Mapping[str, float]:
        """The thresholds a message in `language` is decided by."""
        return self.by_language.get(language or "", self.thresholds)

    def margin(self, label: str, probability: float, language: str | None = None) -> float:
        """How far a score passes its label's threshold, in log-odds: comparable across labels.

        Raw probabilities are not: `toxic` is high on anything rude, `threat` rarely is, so ranking by
        probability shows "toxic, severe_toxic" on a death threat. Ranking by margin shows the labels that
        stand out most against their own calibrated line.
        """
        return _logit(probability) - _logit(self.lines(language)[label])

    def rank(self, label: str, probability: float, language: str | None = None) -> tuple[bool, bool, float]:
        """Where a label goes in the two shown (`shown_rank` of its margin)."""
        return shown_rank(label, self.margin(label, probability, language))

    def decide(self, scores: Scores, language: str | None = None) -> Decision:
        """Flag the message when any label reaches its line (the language's own, if it has one); rank the top two."""
        values = scores.as_dict()
        lines = self.lines(language)
        top = sorted(values.items(), key=lambda kv: self.rank(kv[0], kv[1], language), reverse=True)[:2]
        fired = tuple(label for label in LABELS if values[label] >= lines[label])
        return Decision(values, top, bool(fired), fired, scores.model_version, scores.latency_ms, language)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def scorer_policy(scorer: ScoringWorker, overrides: Mapping[str, float] | None = None) -> Policy:
    """The lines the worker's models were calibrated to, per language, with a guild's `overrides` on top."""
    return Policy.with_overrides(scorer.model.info.thresholds, overrides, scorer.thresholds_by_language())
