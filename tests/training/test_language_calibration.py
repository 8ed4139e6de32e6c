"""Per-language lines: a language's own `toxic` threshold keeps its clean posts quiet whatever the shared
(English) line is, the other labels are raised where they would flag its clean posts, and each language is
reported with its ROC-AUC and what it flags."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.labels import LABELS
from training.evaluate import LANGUAGE_CLEAN_BUDGET, calibrate_languages, language_metrics

TOXIC = LABELS.index("toxic")


def frame(source: str, clean: np.ndarray, toxic: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    rows = len(clean) + len(toxic)
    val = pd.DataFrame({"text": [f"{source} {i}" for i in range(rows)], "source": source,
                        "toxic": [0.0] * len(clean) + [1.0] * len(toxic)})
    probs = np.zeros((rows, len(LABELS)))
    probs[:, TOXIC] = np.concatenate([clean, toxic])
    return val, probs


def test_a_language_line_is_set_by_its_own_clean_posts() -> None:
    de_val, de_probs = frame("germeval2018", np.linspace(0.0, 0.6, 200), np.linspace(0.5, 1.0, 100))
    tr_val, tr_probs = frame("offenseval_tr", np.linspace(0.0, 0.1, 200), np.linspace(0.5, 1.0, 100))
    ar_val, ar_probs = frame("mlma_ar", np.linspace(0.0, 0.9, 20), np.linspace(0.5, 1.0, 10))  # too few clean
    en_val, en_probs = frame("jigsaw", np.linspace(0.0, 0.9, 200), np.linspace(0.5, 1.0, 100))
    val = pd.concat([de_val, tr_val, ar_val, en_val], ignore_index=True)
    probs = np.concatenate([de_probs, tr_probs, ar_probs, en_probs])
    shared = dict.fromkeys(LABELS, 0.5)

    lines = calibrate_languages(val, probs, shared)

    assert set(lines) == {"de", "tr"}  # English keeps the shared lines; Arabic has too few clean posts
    assert set(lines["de"]) == set(lines["tr"]) == {"toxic"}  # no other label flags their clean posts
    assert lines["tr"]["toxic"] < 0.1  # below the shared 0.5: its clean posts are quiet far lower
    assert lines["de"]["toxic"] > 0.5
    report = language_metrics(val, probs, shared, lines)
    assert report["de"]["clean_flagged"] <= LANGUAGE_CLEAN_BUDGET
    assert report["de"]["toxic_flagged"] < report["tr"]["toxic_flagged"]  # the higher line costs recall
    assert report["de"]["toxic_roc_auc"] < 1.0 == report["tr"]["toxic_roc_auc"]
    assert (report["en"]["rows"], report["en"]["toxic"]) == (300, 100)


def test_other_labels_are_raised_where_their_shared_lines_flag_a_languages_clean_posts() -> None:
    """A model that scores Polish forum posts high on `insult`: `toxic` alone is quiet on them, but the shared
    insult line would flag a third. The insult line is raised for Polish alone; `obscene`, which flags none
    of them, keeps the shared line."""
    val, probs = frame("ban_pl", np.linspace(0.0, 0.3, 300), np.linspace(0.5, 1.0, 300))
    insult, obscene = LABELS.index("insult"), LABELS.index("obscene")
    probs[:, insult] = np.concatenate([np.linspace(0.0, 0.9, 300), np.linspace(0.6, 1.0, 300)])
    shared = dict.fromkeys(LABELS, 0.6)

    lines = calibrate_languages(val, probs, shared)

    assert set(lines["pl"]) == {"toxic", "insult"} and lines["pl"]["insult"] > 0.85
    report = language_metrics(val, probs, shared, lines)
    assert report["pl"]["clean_flagged"] <= LANGUAGE_CLEAN_BUDGET
    assert report["pl"]["toxic_flagged"] > 0.9  # `toxic` still catches the abusive posts
    assert language_metrics(val, probs, shared, {"pl": {"toxic": lines["pl"]["toxic"]}})["pl"]["clean_flagged"] > 0.3
    assert probs[:, obscene].max() == 0.0
