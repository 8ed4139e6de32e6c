"""The names and limits every part of Perspective's protocol shares: the attributes toxmod serves under
Perspective's names, the one score type it answers in, the comment size limit, the type URLs of its messages."""

from __future__ import annotations

import re

# Perspective attribute -> toxmod label (bot/labels.py). Only these six have a counterpart in our model.
ATTRIBUTES: dict[str, str] = {
    "TOXICITY": "toxic",
    "SEVERE_TOXICITY": "severe_toxic",
    "IDENTITY_ATTACK": "identity_hate",
    "INSULT": "insult",
    "PROFANITY": "obscene",
    "THREAT": "threat",
}

# limits.md: "The maximum text size per request is 20 KB"; the error (stanford-crfm/helm#1149) names 20480.
COMMENT_MAX_BYTES = 20480

SCORE_TYPE = "PROBABILITY"
TYPE_PREFIX = "type.googleapis.com/google.commentanalyzer.v1alpha1."  # of the messages' type URLs

_ATTRIBUTE_NAME = re.compile(r"([A-Z_]+)(?:@[0-9]+)?")  # models.md: NAME@VERSION picks a model version


def attribute_label(name: str) -> str:
    """The toxmod label an accepted attribute name ("INSULT", "INSULT@2") is scored by."""
    match = _ATTRIBUTE_NAME.fullmatch(name)
    if match is None or match.group(1) not in ATTRIBUTES:
        raise KeyError(name)
    return ATTRIBUTES[match.group(1)]
