"""The product's label space: Jigsaw 2018's six labels, in their canonical order.

Every score vector, model head, CSV export and database row uses this order, so it lives in one place.
"""

LABELS: tuple[str, ...] = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
