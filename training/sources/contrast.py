"""The hand-written chat contrast set (training/contrast/chat_contrast.csv, in this repository).

Chat messages written here for cases no public corpus covers: banter, homonyms, counter-speech, threats.
Why each category exists is in training/LABEL_MAPPING.md and the model card.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from training.sources.abuse import load_jigsaw_csv

# The hand-written contrast set lives in this repository, not under the data root (an absolute path wins
# over the data root when joined).
CONTRAST_CSV = Path(__file__).resolve().parents[1] / "contrast" / "chat_contrast.csv"


def load_contrast(path: Path) -> pd.DataFrame:
    """Chat messages written here for cases no public corpus covers; see LABEL_MAPPING.md and the model card.

    The file is in Jigsaw's columns (plus `category`), with an empty cell for a label left unknown.
    """
    return load_jigsaw_csv(path, source="contrast")
