"""The policy: which labels flag a message, which are shown first, per-guild overrides, the JSON contract."""

from __future__ import annotations

import json

import pytest

from bot.decision import Decision, Scores
from bot.labels import LABELS
from bot.moderation.policy import Policy, validate_threshold


def scores(**values: float) -> Scores:
    return Scores(tuple(values.get(label, 0.0) for label in LABELS), "m1", 1.5)


def test_policy_flags_when_any_label_passes_its_threshold() -> None:
    policy = Policy(dict.fromkeys(LABELS, 0.5) | {"threat": 0.3})
    quiet = policy.decide(scores(toxic=0.49, insult=0.2))
    assert not quiet.flagged and quiet.fired == ()
    threat = policy.decide(scores(toxic=0.2, threat=0.35))
    assert threat.flagged and threat.fired == ("threat",)
    assert threat.top == [("threat", 0.35), ("toxic", 0.2)]


def test_top_labels_are_those_most_above_their_own_thresholds_not_the_highest_scores() -> None:
    policy = Policy({"toxic": 0.8, "severe_toxic": 0.6, "obscene": 0.7, "threat": 0.2, "insult": 0.7,
                     "identity_hate": 0.5})
    decision = policy.decide(scores(toxic=0.9, severe_toxic=0.65, obscene=0.6, threat=0.6, insult=0.3))
    assert [label for label, _ in decision.top] == ["threat", "toxic"]  # 0.6 vs 0.2 beats 0.9 vs 0.8
    assert decision.top[0][1] == 0.6  # the probability is still what is shown
    assert set(decision.fired) == {"toxic", "severe_toxic", "threat"}


def test_a_specific_label_that_fired_is_shown_before_the_umbrella_toxic() -> None:
    policy = Policy(dict.fromkeys(LABELS, 0.5))
    # toxic stands furthest above its line, but "threat, insult" says what the message does
    threat = policy.decide(scores(toxic=0.999, severe_toxic=0.99, threat=0.6, insult=0.55, obscene=0.45))
    assert [label for label, _ in threat.top] == ["threat", "insult"]
    # one specific label fired: the umbrella that fired comes next, not a specific label that did not
    swear = policy.decide(scores(toxic=0.9, obscene=0.7, insult=0.49))
    assert [label for label, _ in swear.top] == ["obscene", "toxic"]
    # nothing specific fired: the umbrella labels in margin order, as before
    rude = policy.decide(scores(toxic=0.9, severe_toxic=0.95, insult=0.4))
    assert [label for label, _ in rude.top] == ["severe_toxic", "toxic"]
    # nothing fired: the labels nearest their lines
    quiet = policy.decide(scores(toxic=0.3, insult=0.45, threat=0.1))
    assert [label for label, _ in quiet.top] == ["insult", "toxic"]


def test_guild_overrides_replace_model_defaults_and_are_validated() -> None:
    policy = Policy.with_overrides(dict.fromkeys(LABELS, 0.5), {"toxic": 0.9})
    assert not policy.decide(scores(toxic=0.8)).flagged
    with pytest.raises(ValueError, match="unknown label"):
        validate_threshold("spam", 0.5)
    with pytest.raises(ValueError, match="must be in"):
        validate_threshold("toxic", 1.5)


def test_json_contract_has_exactly_the_documented_shape() -> None:
    decision = Policy(dict.fromkeys(LABELS, 0.5)).decide(scores(toxic=0.91, insult=0.7))
    out = decision.to_json("you idiot")
    assert list(out) == ["text", "language", "read", "scores", "top", "flagged", "model"]
    assert list(out["scores"]) == list(LABELS) and out["read"] is True
    assert out["top"] == [["insult", 0.7], ["toxic", 0.91]]  # what the message does first, then the umbrella
    assert out["flagged"] is True and out["model"] == "m1" and out["text"] == "you idiot"
    json.dumps(out)


def test_a_message_in_a_language_the_model_cannot_read_has_no_scores_in_the_json_contract() -> None:
    out = Decision.unread("es", "m1", review=False).to_json("eres un pendejo")
    assert out["language"] == "es" and out["read"] is False and out["scores"] is None
    assert out["top"] == [] and out["flagged"] is False
    assert Decision.unread("es", "m1", review=True).flagged is True  # the server sends such messages to review
    json.dumps(out)
