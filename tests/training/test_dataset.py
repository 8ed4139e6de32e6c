"""Dedupe, split and sampling behave as training relies on: stable, per source, rare labels visible."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bot.labels import LABELS
from training.dataset import dedupe, sampling_weights, split

NAN = math.nan


def frame(rows: list[tuple[str, str, dict[str, float]]]) -> pd.DataFrame:
    """Rows of (text, source, known labels); labels not given are unknown."""
    return pd.DataFrame(
        [
            {"text": t, "source": s, **{label: known.get(label, NAN) for label in LABELS}}
            for t, s, known in rows
        ]
    )


CLEAN = dict.fromkeys(LABELS, 0.0)


def test_dedupe_merges_within_then_across_sources_keeping_the_first_text_and_source() -> None:
    df = frame(
        [
            ("GG", "gametox", CLEAN),
            ("gg", "gametox", CLEAN),
            ("gg", "conda", CLEAN),
            ("well done", "conda", CLEAN),
        ]
    )
    out = dedupe(df, str.lower)
    assert list(zip(out["text"], out["source"], strict=True)) == [("GG", "gametox"), ("well done", "conda")]
    assert list(out.columns) == ["text", "source", *LABELS]


def test_dedupe_across_sources_keeps_every_label_any_source_knows() -> None:
    df = frame(
        [
            ("they are vermin", "stormfront", {"toxic": 1.0, "identity_hate": 1.0}),
            ("They are vermin", "sbic", {"toxic": 1.0, "identity_hate": 1.0, "threat": 0.0}),
            ("They are vermin", "sbic", {"toxic": 1.0, "identity_hate": 1.0, "threat": 0.0}),
        ]
    )
    out = dedupe(df, str.lower)
    assert len(out) == 1
    row = out.iloc[0]
    assert (row["text"], row["source"]) == ("they are vermin", "stormfront")
    assert (row["toxic"], row["identity_hate"], row["threat"]) == (1.0, 1.0, 0.0)
    assert math.isnan(row["insult"])


def test_dedupe_label_is_positive_when_at_least_half_the_known_votes_are() -> None:
    df = frame(
        [
            ("you clown", "s", {"toxic": 0.0, "insult": 1.0}),
            ("You Clown", "s", {"toxic": 1.0}),  # insult unknown here: does not vote
            ("gg", "s", CLEAN),
            ("gg", "s", CLEAN),
            ("gg", "s", {**CLEAN, "toxic": 1.0}),
        ]
    )
    out = dedupe(df, str.lower).set_index("text")
    clown = out.loc["you clown"]
    assert clown["toxic"] == 1.0  # one of two: a tie counts as positive, as max would for a pair
    assert clown["insult"] == 1.0  # the only row that knows it says 1
    assert all(math.isnan(clown[label]) for label in ("severe_toxic", "obscene", "threat", "identity_hate"))
    assert out.loc["gg", "toxic"] == 0.0  # one stray positive among three does not flip a common line
    assert (out.loc["gg", list(LABELS)] == 0.0).all()


def test_split_is_deterministic_under_shuffling_and_roughly_val_percent() -> None:
    df = frame([(f"message number {i}", "a" if i % 2 else "b", CLEAN) for i in range(4000)])
    train, val = split(df, str.lower, val_percent=10)
    assert len(train) + len(val) == len(df)
    assert 0.08 < len(val) / len(df) < 0.12
    for source in ("a", "b"):
        share = (val["source"] == source).sum() / (df["source"] == source).sum()
        assert 0.07 < share < 0.13

    shuffled = df.sample(frac=1.0, random_state=7)
    train2, val2 = split(shuffled, str.lower, val_percent=10)
    assert set(val2["text"]) == set(val["text"])
    assert set(train2["text"]) == set(train["text"])


def test_split_uses_the_normalised_text() -> None:
    df = frame(
        [(f"Hello {i}", "a", CLEAN) for i in range(300)] + [(f"HELLO {i}", "b", CLEAN) for i in range(300)]
    )
    _, val = split(df, str.lower, val_percent=30)
    texts = set(val["text"].str.lower())
    assert set(val.loc[val["source"] == "a", "text"].str.lower()) == texts
    assert set(val.loc[val["source"] == "b", "text"].str.lower()) == texts


def test_split_bounds() -> None:
    df = frame([(f"m{i}", "a", CLEAN) for i in range(50)])
    assert len(split(df, str.lower, val_percent=0)[1]) == 0
    assert len(split(df, str.lower, val_percent=100)[0]) == 0
    with pytest.raises(ValueError, match="val_percent"):
        split(df, str.lower, val_percent=101)


def shares(df: pd.DataFrame, weights: np.ndarray) -> dict[str, float]:
    return pd.Series(weights).groupby(df["source"].to_numpy()).sum().to_dict()


def test_sampling_weights_default_sqrt_shares() -> None:
    df = frame([("x", "big", CLEAN)] * 400 + [("y", "small", CLEAN)] * 100)
    weights = sampling_weights(df, rare_boost={})
    assert weights.shape == (500,)
    assert weights.sum() == pytest.approx(1.0)
    got = shares(df, weights)
    assert got["big"] == pytest.approx(20 / 30)  # sqrt(400) : sqrt(100)
    assert got["small"] == pytest.approx(10 / 30)


def test_sampling_weights_explicit_shares() -> None:
    df = frame([("x", "big", CLEAN)] * 400 + [("y", "small", CLEAN)] * 100)
    got = shares(df, sampling_weights(df, source_share={"big": 1, "small": 3, "absent": 5}))
    assert got["big"] == pytest.approx(0.25)
    assert got["small"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="small"):
        sampling_weights(df, source_share={"big": 1.0})


def test_rare_boost_moves_mass_within_a_source_only() -> None:
    threat = {**CLEAN, "toxic": 1.0, "threat": 1.0}
    both = {**CLEAN, "toxic": 1.0, "threat": 1.0, "severe_toxic": 1.0}
    df = frame(
        [("plain", "a", CLEAN)] * 8
        + [("threat", "a", threat), ("both", "a", both)]
        + [("other", "b", {"toxic": 1.0})] * 10
    )
    weights = sampling_weights(df, source_share={"a": 1, "b": 1})
    assert weights.sum() == pytest.approx(1.0)
    assert shares(df, weights) == pytest.approx({"a": 0.5, "b": 0.5})
    by_text = dict(zip(df["text"], weights, strict=False))
    assert by_text["threat"] == pytest.approx(4 * by_text["plain"])  # default threat boost
    assert by_text["both"] == pytest.approx(4 * by_text["plain"])  # largest boost, not the product

    unboosted = sampling_weights(df, source_share={"a": 1, "b": 1}, rare_boost={})
    assert np.allclose(unboosted[df["source"] == "a"], 0.5 / 10)


def test_sampling_weights_rejects_bad_input() -> None:
    df = frame([("x", "a", CLEAN)])
    with pytest.raises(ValueError, match="rare_boost"):
        sampling_weights(df, rare_boost={"not_a_label": 2.0})
    with pytest.raises(ValueError, match="zero"):
        sampling_weights(df, source_share={"a": 0.0})
    with pytest.raises(ValueError, match="no rows"):
        sampling_weights(df.iloc[:0])


def test_row_boost_moves_mass_within_a_source_without_changing_its_share() -> None:
    df = frame([(f"x{i}", "big", CLEAN) for i in range(400)] + [(f"y{i}", "small", CLEAN) for i in range(100)])
    boost = np.ones(500)
    boost[:10] = 4.0  # ten hard negatives of "big"
    weights = sampling_weights(df, rare_boost={}, row_boost=boost)
    assert shares(df, weights) == pytest.approx(shares(df, sampling_weights(df, rare_boost={})))
    assert weights[0] == pytest.approx(4 * weights[10])
