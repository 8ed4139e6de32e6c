"""The product's label space: Jigsaw 2018's six labels, in their canonical order.

Every score vector, model head, CSV export and database row uses this order, so it lives in one place.
"""

from collections.abc import Mapping

LABELS: tuple[str, ...] = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")

# What a message does. `toxic` is the umbrella over every other label and `severe_toxic` a degree of it:
# neither tells a moderator what kind of harm a message is, so they are shown after any of these that fired.
SPECIFIC_LABELS: tuple[str, ...] = ("threat", "identity_hate", "insult", "obscene")


def shown_rank(label: str, margin: float) -> tuple[bool, bool, float]:
    """Where a label goes among those shown to moderators, from its log-odds margin over its own threshold
    (higher first): the specific labels that fired, then the umbrella `toxic` and the degree `severe_toxic`
    if they fired, then the rest; by margin within each group. A death threat that passes `threat` shows
    "threat, ..." even when `toxic`, high on anything rude, stands further above its own line; "toxic"
    alone would not tell a threat from a swear word. The Policy and the evaluation's label fidelity both
    rank with this, so what is measured is what is shown."""
    return margin >= 0 and label in SPECIFIC_LABELS, margin >= 0, margin


def shown_order(margins: Mapping[str, float]) -> list[str]:
    """The labels of `margins` by `shown_rank`, ties in the mapping's order."""
    return sorted(margins, key=lambda label: shown_rank(label, margins[label]), reverse=True)


# a score at least this share of its label's threshold is near that line: worth a moderator's glance
NEAR_A_LINE = 0.5


def nearest_line(scores: Mapping[str, float], thresholds: Mapping[str, float]) -> str:
    """What people read for a message that is not flagged, in place of the two labels ranked by margin.

    Below every line that ranking still names two labels, the ones least far below their lines in log-odds,
    and on "gg wp" it leads with `threat 0.001`: alarming, and meaningless. So a quiet message says so, unless
    a score has come within reach of its line (half of it), when that label is named with its line. The
    `--jsonl` contract keeps the ranking: a program can tell a quiet message by `flagged`.
    """
    label = max(scores, key=lambda name: scores[name] / thresholds[name])
    if scores[label] < NEAR_A_LINE * thresholds[label]:
        return "nothing near a line"
    return f"nearest: {label} {scores[label]:.3f} (line {thresholds[label]:.2f})"
