"""The classifier: loading a model directory, windows over long messages, obfuscation, clear load errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bot.labels import LABELS
from bot.model.classifier import ModelNotFoundError, ToxicityModel
from tests.support.tiny_model import CLEAN_MESSAGE as CLEAN
from tests.support.tiny_model import TOXIC_MESSAGE as TOXIC

FILLER = "hello friend thanks for the great game tonight see you at the raid "


def test_model_scores_toxic_above_clean(model: ToxicityModel) -> None:
    probs = model.predict([TOXIC, CLEAN])
    assert probs.shape == (2, len(LABELS))
    assert probs[0, 0] > 0.5 > probs[1, 0]


def test_empty_and_invisible_messages_score_zero_without_the_model(model: ToxicityModel) -> None:
    probs = model.predict(["", "   ", "\u200b\u200b"])
    assert not probs.any()


def test_obfuscated_toxic_message_scores_like_its_clean_form(model: ToxicityModel) -> None:
    plain, tricked = model.predict([TOXIC, "ｙｏｕ аrе а ѕtuрid i\u200bd\u200bi\u200bo\u200bt"])
    assert tricked[0] == pytest.approx(plain[0], abs=1e-3)


def test_insult_at_the_end_of_a_long_message_is_not_lost(model: ToxicityModel) -> None:
    long_clean = (FILLER * 60)[:3980]
    long_toxic = long_clean + " " + TOXIC
    assert len(long_toxic) > 4000
    clean_p, toxic_p = model.predict([long_clean, long_toxic])
    assert toxic_p[0] > 0.5 > clean_p[0]
    # the first window alone (what plain truncation would score) does not see it
    first_window_only = ToxicityModel(model.info.path, max_length=512).predict([long_toxic[:200]])
    assert first_window_only[0, 0] < 0.5


def test_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=re.escape(str(tmp_path / "nope"))):
        ToxicityModel(tmp_path / "nope")


def test_incomplete_model_directory_names_what_is_missing(tmp_path: Path, tiny_model_dir: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelNotFoundError, match=re.escape("model.safetensors")):
        ToxicityModel(broken)


def test_model_with_other_labels_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    meta = json.loads((other / "metadata.json").read_text())
    meta["labels"] = ["spam", "ham"]
    (other / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelNotFoundError, match="predicts"):
        ToxicityModel(other)
