"""Paraphrase sets: RuParaDetox / RUSSE 2022 detoxification (ru), toxic sentences beside their neutral rewrites.

The mapping into the six labels, and why, is in training/LABEL_MAPPING.md ("Fourth wave").
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from training.sources._common import CLEAN, check_columns, label_vector, read_csv, require
from training.sources.multilingual.text import finish_corpus, tidy

log = logging.getLogger(__name__)



# -- RuParaDetox / RUSSE 2022 detoxification (ru) ---------------------------------------------------------
RUSSE_FILES = ("train.tsv", "dev.tsv", "test.tsv")  # test has the toxic sentences only
RUSSE_NEUTRAL = ("neutral_comment1", "neutral_comment2", "neutral_comment3")
RUSSE_TOXIC = label_vector(toxic=1)


def load_russe_detox(path: Path) -> pd.DataFrame:
    """Every toxic sentence is toxic; its crowd-written, crowd-checked neutral paraphrases are clean.

    The pairs teach what makes a sentence toxic while the content stays the same. A "paraphrase" that
    repeats a toxic sentence word for word (the worker did not rewrite it) is not used as clean.
    """
    toxic: list[str] = []
    neutral: list[str] = []
    for name in RUSSE_FILES:
        file = require(path / name)
        df = read_csv(file, sep="\t")
        check_columns(df, ["toxic_comment"], file)
        toxic += [tidy(t) for t in df["toxic_comment"]]
        for column in RUSSE_NEUTRAL:
            if column in df.columns:
                neutral += [tidy(t) for t in df[column]]
    known_toxic = set(toxic)
    rewritten = [t for t in neutral if t and t not in known_toxic]
    log.info("russe_detox: %d paraphrases repeat a toxic sentence, not used", sum(t in known_toxic for t in neutral))
    return finish_corpus(toxic + rewritten, [RUSSE_TOXIC] * len(toxic) + [CLEAN] * len(rewritten), "russe_detox")
