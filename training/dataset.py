"""Turning the loaded sources into training data: dedupe, a stable split, per-row sampling weights, and
the whole run's batches planned up front from the seed.

Works on the frame layout produced by training.sources (``text``, ``source``, one float column per label
with NaN for labels a source does not annotate).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bot.labels import LABELS
from bot.scoring.normalize import match_key
from training import counterfactual
from training.config import TrainConfig
from training.corpora.status import present_sources
from training.sources import SOURCES, file_sha256, load_jigsaw_csv, load_sources
from training.sources.replay import load_replay, replay_provenance

log = logging.getLogger(__name__)

# Rare labels get this much more sampling mass within their source (the largest applies when a row has
# several); thresholds and loss weighting are tuned elsewhere, this only makes sure they are seen.
DEFAULT_RARE_BOOST: Mapping[str, float] = {"threat": 4.0, "severe_toxic": 3.0, "identity_hate": 2.0}


def dedupe(df: pd.DataFrame, normalize: Callable[[str], str]) -> pd.DataFrame:
    """Merge rows whose normalised text is equal, first within each source, then across sources.

    Within a source a label is 1 when at least half of the rows that know it say 1, else 0; NaN if none
    know it. For two copies that is the same as taking the max, but a chat line repeated thousands of
    times ("gg" appears thousands of times in GameTox) is not turned toxic by one stray annotation.

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
    return int(hashlib.sha1(normalize(text).encode("utf-8"), usedforsecurity=False).hexdigest(), 16) % 100


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
    row_boost: np.ndarray | None = None,
) -> np.ndarray:
    """Per-row probabilities (summing to 1) for drawing an epoch with replacement.

    By default each source gets a share of the epoch proportional to the square root of its row count:
    the large corpora still contribute most, but a 3k-row corpus is not drowned by a 40k-row one (linear
    shares) nor inflated to equal it (uniform shares). ``source_share`` overrides the shares; it must name
    every source present and is renormalised over them. Within a source, rows positive for a label in
    ``rare_boost`` weigh that factor more (the largest factor when several apply); the source's share is
    unchanged, the boost only moves mass towards its rare-label rows. ``row_boost`` (one factor a row, such
    as mined hard negatives) multiplies in the same way, within the source's share.
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
    if row_boost is not None:
        boost = boost * row_boost
    per_source_total = pd.Series(boost).groupby(sources).transform("sum").to_numpy()
    weights = boost / per_source_total * shares.reindex(sources).to_numpy()
    return weights / weights.sum()


@dataclass
class Prepared:
    """The deduplicated, split data and where each piece came from."""

    train: pd.DataFrame
    val: pd.DataFrame
    provenance: list[dict]


def prepare_data(cfg: TrainConfig) -> Prepared:
    """The corpora a run names (and any extra CSV and feedback), deduplicated and split into train and validation, with
    where each came from."""
    frames, provenance = [], []
    if cfg.data_dir is not None:
        names = cfg.sources or list(SOURCES)
        if cfg.skip_missing:
            names = present_sources(cfg.data_dir, names)
        df, prov = load_sources(cfg.data_dir, names, ubuntu_cap=cfg.ubuntu_cap)
        frames.append(df)
        provenance += prov
    if cfg.replay is not None:
        df = load_replay(cfg.replay, skip={p["name"] for p in provenance})
        frames.append(df)
        provenance.append(replay_provenance(cfg.replay, df))
    for path, kind in [(p, "jigsaw_csv") for p in cfg.extra_csv] + [(p, "feedback") for p in cfg.feedback]:
        df = load_jigsaw_csv(Path(path), source=kind if kind == "feedback" else Path(path).stem)
        frames.append(df)
        provenance.append({"name": kind, "path": str(path), "rows": len(df), "sha256": file_sha256(Path(path)),
                           "label_counts": {lb: int((df[lb] == 1).sum()) for lb in LABELS}})
    if not frames:
        raise ValueError("no training data: give a data directory, --replay, --extra-csv or --feedback")
    data = dedupe(pd.concat(frames, ignore_index=True), match_key)
    train, val = split(data, match_key, cfg.val_percent)
    if cfg.counterfactual_rows:
        made = counterfactual.generate(train, cfg.seed, cfg.counterfactual_rows)
        held = {match_key(t) for t in val["text"]}
        made = made[~made["text"].map(match_key).isin(held)]
        log.info("counterfactual: %d clean rows (%s)", len(made), made["rule"].value_counts().to_dict())
        provenance.append({"name": counterfactual.SOURCE, "path": "training/counterfactual.py", "rows": len(made),
                           "sha256": hashlib.sha256("\n".join(made["text"]).encode()).hexdigest(),
                           "label_counts": dict.fromkeys(LABELS, 0),
                           "rules": made["rule"].value_counts().to_dict()})
        train = pd.concat([train, made.drop(columns="rule")], ignore_index=True)
    log.info("data: %d train rows, %d validation rows from %d sources", len(train), len(val), len(provenance))
    return Prepared(train.reset_index(drop=True), val.reset_index(drop=True), provenance)


def plan_batches(train: pd.DataFrame, lengths: np.ndarray, cfg: TrainConfig,
                 row_boost: np.ndarray | None = None) -> list[np.ndarray]:
    """Weighted sample of rows for the whole run, grouped by length into batches, in a seeded order.

    Rows are drawn with replacement by `sampling_weights` (square-root source balance, times any
    `source_weight` factor, and the rare-label boost); within
    windows of 64 batches, rows are sorted by length so padding stays small, then the batches shuffled.
    """
    rng = np.random.default_rng(cfg.seed)
    per_epoch = cfg.samples_per_epoch or len(train)
    total = int(per_epoch * cfg.epochs)
    sizes = train["source"].astype(str).value_counts()
    # a weight for "feedback" covers every "feedback:<guild>" source
    shares = {name: math.sqrt(n) * cfg.source_weight.get(name, cfg.source_weight.get(name.split(":")[0], 1.0))
              for name, n in sizes.items()}
    weights = sampling_weights(train, source_share=shares, row_boost=row_boost)
    rows = rng.choice(len(train), size=total, replace=True, p=weights)
    window = cfg.batch_size * 64
    batches: list[np.ndarray] = []
    for start in range(0, total, window):
        chunk = rows[start : start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        group = [chunk[i : i + cfg.batch_size] for i in range(0, len(chunk), cfg.batch_size)]
        rng.shuffle(group)
        batches += group
    return batches
