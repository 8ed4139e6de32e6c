"""A model's replay sample (`replay.csv.gz`): a few hundred training rows per corpus, shipped in the model's
folder so a retrain without the corpora still sees what the model was trained on, and does not forget it.

The file keeps the common layout (``text``, ``source``, one column per label: ``1``, ``0`` or empty for
unknown) and each row's own source name, so a retrain weighs and reports a replayed corpus as that corpus.
Written by ``training/replay.py``; read here, by the retrain that mixes it in.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
from collections.abc import Collection
from pathlib import Path

import pandas as pd

from bot.labels import LABELS
from training.sources._common import binary, check_columns, finish

log = logging.getLogger(__name__)

COLUMNS = ("text", "source", *LABELS)


def _cell(value: float) -> str:
    return "" if pd.isna(value) else str(int(value))


def replay_bytes(frame: pd.DataFrame) -> bytes:
    """The sample as gzip'd CSV bytes; the gzip header carries no time or name, so the same rows always give
    the same bytes (and the same sha256 in the model's metadata)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in frame[list(COLUMNS)].itertuples(index=False):
        writer.writerow([row[0], row[1], *(_cell(v) for v in row[2:])])
    return gzip.compress(text.getvalue().encode("utf-8"), compresslevel=9, mtime=0)


def load_replay(path: Path, skip: Collection[str] = ()) -> pd.DataFrame:
    """The sample's rows in the common layout, less those of the sources in ``skip`` (a retrain reads those
    corpora whole from the data directory, so their sample would only count them twice)."""
    # every cell as written: a message reading "NA" or "null" stays text, an empty label cell is unknown
    df = pd.read_csv(path, compression="gzip", dtype=str, keep_default_na=False)
    check_columns(df, list(COLUMNS), path)
    kept = df[~df["source"].isin(list(skip))].reset_index(drop=True)
    labels = pd.DataFrame({label: binary(kept[label]) for label in LABELS})
    log.info("replay sample %s: %d rows, %d of them from sources read whole instead", path, len(kept),
             len(df) - len(kept))
    return finish(kept["text"], labels, kept["source"].tolist(), "replay")


def replay_provenance(path: Path, frame: pd.DataFrame) -> dict:
    """The run's record of the replayed rows: the file, and how many rows of each corpus it gave."""
    return {"name": "replay", "path": str(path), "rows": len(frame),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "label_counts": {label: int((frame[label] == 1).sum()) for label in LABELS},
            "sources": {str(k): int(v) for k, v in frame["source"].value_counts().sort_index().items()}}
