"""Stopping a run when validation stops improving, and keeping the best weights it reached."""

from __future__ import annotations

import math

import pandas as pd
import torch


def probe_rows(val: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """A fixed sample of validation for early stopping; all of it when small."""
    if len(val) <= rows:
        return val
    return val.sample(n=rows, random_state=seed).reset_index(drop=True)


class EarlyStopping:
    """Keeps the best weights seen and says when `patience` evaluations in a row brought no gain."""

    def __init__(self, patience: int, min_delta: float = 5e-4) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best = -math.inf
        self.best_step = 0
        self.stale = 0
        self.best_weights: dict[str, torch.Tensor] | None = None

    @property
    def should_stop(self) -> bool:
        """Whether `patience` evaluations in a row brought no gain."""
        return self.stale >= self.patience

    def update(self, score: float, step: int, model: torch.nn.Module) -> bool:
        """Record an evaluation; True when it is the best so far (and its weights are kept)."""
        if score > self.best + self.min_delta:
            self.best, self.best_step, self.stale = score, step, 0
            self.best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return True
        self.stale += 1
        return False

    def state(self) -> dict:
        """What a checkpoint stores of it, best weights included."""
        return {"best": self.best, "best_step": self.best_step, "stale": self.stale,
                "best_weights": self.best_weights}

    def load(self, state: dict) -> None:
        """Restore the state `state()` returned, on resuming from a checkpoint."""
        self.best, self.best_step, self.stale = state["best"], state["best_step"], state["stale"]
        self.best_weights = state["best_weights"]
