"""What scoring produces and what the flag decision says about it: plain values, no model, no database.

Kept apart from the worker and the policy so that storage can record a decision without importing
the scoring engine (and torch) that made it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.labels import LABELS


@dataclass(frozen=True)
class Scores:
    """Six probabilities in LABELS order, with the model that produced them and how long the caller waited."""

    values: tuple[float, ...]
    model_version: str
    latency_ms: float

    def as_dict(self) -> dict[str, float]:
        return dict(zip(LABELS, self.values, strict=True))


@dataclass(frozen=True)
class Decision:
    scores: dict[str, float]
    top: list[tuple[str, float]]
    flagged: bool
    fired: tuple[str, ...]
    model_version: str
    latency_ms: float

    def to_json(self, text: str) -> dict:
        """The stable `toxmod score --jsonl` contract."""
        return {
            "text": text,
            "scores": {label: round(self.scores[label], 6) for label in LABELS},
            "top": [[label, round(p, 6)] for label, p in self.top],
            "flagged": self.flagged,
            "model": self.model_version,
        }
