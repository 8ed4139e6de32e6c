"""The hand-written contrast set loads from the repository, every label state kept."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bot.labels import LABELS
from training.sources import CONTRAST_CSV, SOURCES


def test_contrast_set_loads_from_the_repository() -> None:
    assert Path(SOURCES["contrast"].relpath) == CONTRAST_CSV and CONTRAST_CSV.is_file()
    df = SOURCES["contrast"].load(CONTRAST_CSV)
    assert list(df.columns) == ["text", "source", *LABELS]
    assert set(df["source"]) == {"contrast"}
    assert len(df) == len(pd.read_csv(CONTRAST_CSV, dtype=str, keep_default_na=False))  # nothing dropped
    values = df[list(LABELS)]
    assert (values.dtypes == "float64").all()
    assert set(pd.unique(values.to_numpy().ravel()[~values.isna().to_numpy().ravel()])) <= {0.0, 1.0}
    assert (values["threat"] == 1.0).any()
    assert (values == 0.0).all(axis=1).any()
    assert values.isna().any().any()  # blank cells stay unknown rather than 0
