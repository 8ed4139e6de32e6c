"""The product's label space: Jigsaw 2018's six labels, in their canonical order.

Every score vector, model head, CSV export and database row uses this order, so it lives in one place.
"""

LABELS: tuple[str, ...] = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")

# What a message does. `toxic` is the umbrella over every other label and `severe_toxic` a degree of it:
# neither tells a moderator what kind of harm a message is, so they are shown after any of these that fired.
SPECIFIC_LABELS: tuple[str, ...] = ("threat", "identity_hate", "insult", "obscene")
