"""Hard-negative mining: the clean everyday messages the starting model comes closest to flagging.

A continuation that samples clean chat uniformly mostly shows the model lines it already scores near zero;
the few it gets wrong ("your apartment", a city's name) are what it needs to see more often. The starting
model scores every clean background and counterfactual row of the training split, and the rows nearest
its own thresholds (largest log-odds margin over any label) are drawn more often within their source.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from bot.labels import LABELS
from bot.scoring.classifier import ToxicityModel
from bot.scoring.normalize import match_key
from training.counterfactual import SOURCE as COUNTERFACTUAL
from training.evaluate import BACKGROUND_SOURCES, predict

log = logging.getLogger(__name__)

MINED_SOURCES = (*BACKGROUND_SOURCES, COUNTERFACTUAL)


def candidates(train: pd.DataFrame) -> np.ndarray:
    """Indices of the clean rows of the background and counterfactual sources."""
    base = train["source"].astype(str).str.split(":").str[0]
    clean = (train[list(LABELS)].fillna(0.0) == 0.0).all(axis=1)
    return np.flatnonzero((base.isin(MINED_SOURCES) & clean).to_numpy())


def margins(model: ToxicityModel, texts: list[str], batch_size: int = 64, progress: bool = True) -> np.ndarray:
    """Each text's largest log-odds margin over the model's own threshold for that label."""
    probs = np.clip(predict(model, texts, batch_size, "mining hard negatives", progress).astype(np.float64),
                    1e-6, 1 - 1e-6)
    t = np.array([model.info.thresholds[label] for label in LABELS], dtype=np.float64)
    return (np.log(probs / (1 - probs)) - np.log(t / (1 - t))).max(axis=1)


def mined_boost(train: pd.DataFrame, model_dir: Path, rows: int, boost: float, cache: Path,
                progress: bool = True) -> np.ndarray:
    """One sampling factor per training row: ``boost`` for the ``rows`` hardest negatives, 1 elsewhere.

    The mined texts are kept in ``cache`` so a resumed run plans the same batches without scoring again.
    """
    if cache.is_file():
        keys = set(json.loads(cache.read_text())["keys"])
    else:
        idx = candidates(train)
        texts = train["text"].iloc[idx].astype(str).tolist()
        model = ToxicityModel(model_dir, max_length=128, engine="torch-fp32")
        hardest = idx[np.argsort(-margins(model, texts, progress=progress), kind="stable")[:rows]]
        keys = {match_key(t) for t in train["text"].iloc[hardest]}
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"model": str(model_dir), "keys": sorted(keys)}))
        log.info("hard negatives: %d of %d clean background rows mined with %s", len(keys), len(idx), model_dir)
    factor = np.ones(len(train))
    factor[train["text"].map(match_key).isin(keys).to_numpy()] = boost
    return factor
