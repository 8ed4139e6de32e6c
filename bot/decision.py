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
        """The scores by label name."""
        return dict(zip(LABELS, self.values, strict=True))


@dataclass(frozen=True)
class Decision:
    """What happened to one message. `language` is the language it was read in; a message in a language no
    model here reads is not scored at all (`read` False, no scores): it is flagged only where the server
    sends such messages to review."""

    scores: dict[str, float]
    top: list[tuple[str, float]]
    flagged: bool
    fired: tuple[str, ...]
    model_version: str
    latency_ms: float
    language: str | None = None
    read: bool = True

    @classmethod
    def unread(cls, language: str, model_version: str, review: bool) -> Decision:
        """The decision for a message in a language the model does not read: not scored, sent to review or not."""
        return cls({}, [], review, (), model_version, 0.0, language, read=False)

    def to_json(self, text: str) -> dict:
        """The stable `toxmod score --jsonl` contract; an unread message has `scores` null and `read` false."""
        return {
            "text": text,
            "language": self.language,
            "read": self.read,
            "scores": {label: round(self.scores[label], 6) for label in LABELS} if self.read else None,
            "top": [[label, round(p, 6)] for label, p in self.top],
            "flagged": self.flagged,
            "model": self.model_version,
        }
