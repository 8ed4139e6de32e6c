"""Turning the loaded sources into training data: dedupe, a stable split, and per-row sampling weights.

Works on the frame layout produced by training.sources (``text``, ``source``, one float column per label
with NaN for labels a source does not annotate).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from bot.labels import LABELS

log = logging.getLogger(__name__)

# Rare labels get this much more sampling mass within their source (the largest applies when a row has
# several); thresholds and loss weighting are tuned elsewhere, this only makes sure they are seen.
DEFAULT_RARE_BOOST: Mapping[str, float] = {"threat": 4.0, "severe_toxic": 3.0, "identity_hate": 2.0}


def dedupe(df: pd.DataFrame, normalize: Callable[[str], str]) -> pd.DataFrame:
    """Merge rows whose normalised text is equal, first within each source, then across sources.

    Within a source a label is 1 when at least half of the rows that know it say 1, else 0; NaN if none
    know it. For two copies that is the same as taking the max, but a chat line repeated thousands of
    times ("gg" appears 3,342 times in GameTox) is not turned toxic by one stray annotation.

    Across sources (corpora share posts: Social Bias Frames re-annotates Stormfront and Gab) each source
    then has one vote per label, the row keeps the first source's name and text, and every label any of
    them knows is known. A message therefore appears once, on one side of the split, with everything its
    annotators said about it.
    """
    keyed = df.assign(_key=df["text"].map(normalize))
    within = _merge(keyed, ["source", "_key"])
    merged = _merge(within, ["_key"]).drop(columns="_key")
    log.info("dedupe: %d rows -> %d within sources -> %d across sources", len(df), len(within), len(merged))
    return merged


def _merge(keyed: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    groups = keyed.groupby(by, sort=False, dropna=False)
    first = groups[["text", "source", "_key"]].first().reset_index(drop=True)
    share = groups[list(LABELS)].mean().reset_index(drop=True)
    return pd.concat([first, (share >= 0.5).astype("float64").where(share.notna())], axis=1)


def _bucket(text: str, normalize: Callable[[str], str]) -> int:
    return int(hashlib.sha1(normalize(text).encode("utf-8")).hexdigest(), 16) % 100


def split(
    df: pd.DataFrame, normalize: Callable[[str], str], val_percent: int = 10
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train/validation split by a hash of the normalised text.

    The hash, not row order or a seed, decides, so reloading or reshuffling the data never moves a message
    across the split, and the same message from two sources lands on the same side.
    """
    if not 0 <= val_percent <= 100:
        raise ValueError(f"val_percent must be within 0..100, got {val_percent}")
    in_val = np.fromiter((_bucket(t, normalize) < val_percent for t in df["text"]), dtype=bool, count=len(df))
    return df[~in_val].reset_index(drop=True), df[in_val].reset_index(drop=True)


def _source_shares(sizes: pd.Series, source_share: Mapping[str, float] | None) -> pd.Series:
    if source_share is None:
        shares = sizes.map(math.sqrt)
    else:
        missing = sorted(set(sizes.index) - set(source_share))
        if missing:
            raise ValueError(f"source_share has no share for sources {missing}")
        shares = pd.Series({s: float(source_share[s]) for s in sizes.index})
        if (shares < 0).any():
            raise ValueError("source shares must be >= 0")
    if shares.sum() <= 0:
        raise ValueError("source shares must not all be zero")
    return shares / shares.sum()


def sampling_weights(
    df: pd.DataFrame,
    source_share: Mapping[str, float] | None = None,
    rare_boost: Mapping[str, float] | None = None,
) -> np.ndarray:
    """Per-row probabilities (summing to 1) for drawing an epoch with replacement.

    By default each source gets a share of the epoch proportional to the square root of its row count:
    the large corpora still contribute most, but a 3k-row corpus is not drowned by a 40k-row one (linear
    shares) nor inflated to equal it (uniform shares). ``source_share`` overrides the shares; it must name
    every source present and is renormalised over them. Within a source, rows positive for a label in
    ``rare_boost`` weigh that factor more (the largest factor when several apply); the source's share is
    unchanged, the boost only moves mass towards its rare-label rows.
    """
    if df.empty:
        raise ValueError("no rows to weight")
    boosts = DEFAULT_RARE_BOOST if rare_boost is None else rare_boost
    stray = sorted(set(boosts) - set(LABELS))
    if stray or any(f <= 0 for f in boosts.values()):
        raise ValueError(f"rare_boost needs known labels and positive factors, got {dict(boosts)}")
    sources = df["source"].astype(str).to_numpy()
    shares = _source_shares(pd.Series(sources).value_counts(), source_share)

    boost = np.ones(len(df))
    for label, factor in boosts.items():
        positive = df[label].to_numpy() == 1.0
        boost[positive] = np.maximum(boost[positive], factor)
    per_source_total = pd.Series(boost).groupby(sources).transform("sum").to_numpy()
    weights = boost / per_source_total * shares.reindex(sources).to_numpy()
    return weights / weights.sum()
