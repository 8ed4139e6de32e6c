"""Helpers for the corpus adapter tests: load a source from the fixtures and check rows label by label."""

from __future__ import annotations

import math

import pandas as pd

from bot.labels import LABELS
from tests.support.paths import SOURCE_FIXTURES
from training.sources import SOURCES


def expect(row: pd.Series, **known: float) -> None:
    """Labels given must match; every label not given must be unknown (NaN)."""
    for label in LABELS:
        if label in known:
            assert row[label] == known[label], (label, row["text"])
        else:
            assert math.isnan(row[label]), (label, row["text"])


def expect_clean(row: pd.Series) -> None:
    expect(row, **dict.fromkeys(LABELS, 0.0))


def by_text(df: pd.DataFrame) -> dict[str, pd.Series]:
    return {row["text"]: row for _, row in df.iterrows()}


def load(name: str) -> pd.DataFrame:
    source = SOURCES[name]
    path = SOURCE_FIXTURES / source.relpath  # an absolute relpath (the contrast set) replaces SOURCE_FIXTURES
    return source.load(path.parent if "*" in source.relpath else path)
