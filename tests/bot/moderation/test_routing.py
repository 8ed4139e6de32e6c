"""Routing by language: the multilingual model reads the languages the main one does not, with its own lines
per language, and a server's override of a label still holds in every language."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.moderation.languages import decide_texts
from bot.moderation.policy import scorer_policy
from bot.moderation.worker import ScoringWorker
from bot.scoring.classifier import ModelNotFoundError, ToxicityModel, load_multilingual
from bot.scoring.language import LanguageIdentifier
from bot.settings import Settings
from tests.support.tiny_model import TOXIC_MESSAGE

GERMAN = "du bist wirklich ein stupid idiot und das weiss jeder hier"


@pytest.fixture
def multilingual_dir(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """The tiny model again, saying it reads German and French and draws German's `toxic` line high."""
    out = tmp_path / "tiny-multi"
    shutil.copytree(tiny_model_dir, out)
    meta = json.loads((out / "metadata.json").read_text())
    meta.update(version="tiny-multi", languages=["de", "fr"], language_thresholds={"de": {"toxic": 0.999}})
    (out / "metadata.json").write_text(json.dumps(meta))
    return out


@pytest.fixture
def routed(model: ToxicityModel, multilingual_dir: Path) -> Iterator[ScoringWorker]:
    multilingual = ToxicityModel(multilingual_dir, max_length=32, stride=8, engine="torch-fp32")
    worker = ScoringWorker(model, multilingual=multilingual, max_batch=16, max_wait_ms=20).start()
    yield worker
    worker.stop()


def test_each_language_goes_to_the_model_that_reads_it(routed: ScoringWorker) -> None:
    assert routed.languages == ("en", "de", "fr")
    versions = [s.model_version for s in routed.score_many([TOXIC_MESSAGE] * 4, ["de", "en", "fr", None])]
    assert versions == ["tiny-multi", "tiny-v1", "tiny-multi", "tiny-v1"]


def test_the_same_text_is_remembered_per_model(routed: ScoringWorker) -> None:
    routed.score_many([TOXIC_MESSAGE], ["en"])
    [german] = routed.score_many([TOXIC_MESSAGE], ["de"])
    assert german.model_version == "tiny-multi"  # not the English model's cached answer
    assert routed.cache_hits == 0


def test_a_language_is_decided_by_its_own_lines_and_overrides_hold_everywhere(routed: ScoringWorker) -> None:
    policy = scorer_policy(routed)
    assert policy.lines("de")["toxic"] == 0.999
    assert policy.lines("fr")["toxic"] == policy.lines("en")["toxic"] == routed.model.info.thresholds["toxic"]
    [en, de] = routed.score_many([TOXIC_MESSAGE] * 2, ["en", "de"])
    assert policy.decide(en, "en").flagged
    assert "toxic" not in policy.decide(de, "de").fired
    overridden = scorer_policy(routed, {"toxic": 0.3})
    assert overridden.lines("de")["toxic"] == overridden.lines("en")["toxic"] == 0.3


def test_a_message_in_a_routed_language_is_read_and_shown_with_it(routed: ScoringWorker, model: ToxicityModel) -> None:
    [decision] = decide_texts(routed, LanguageIdentifier(), [GERMAN], scorer_policy(routed))
    assert (decision.language, decision.read, decision.model_version) == ("de", True, "tiny-multi")
    english_only = ScoringWorker(model).start()
    try:
        [unread] = decide_texts(english_only, LanguageIdentifier(), [GERMAN], scorer_policy(english_only))
    finally:
        english_only.stop()
    assert (unread.language, unread.read, unread.scores) == ("de", False, {})


def test_the_multilingual_model_is_the_one_models_multilingual_names(tmp_path: Path, multilingual_dir: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(multilingual_dir, models / "tiny-multi")
    assert load_multilingual(Settings(models_dir=models)) is None  # no pointer: English only
    (models / "multilingual").write_text("tiny-multi\n")
    loaded = load_multilingual(Settings(models_dir=models, score_engine="torch-fp32"))
    assert loaded is not None and loaded.info.languages == ("de", "fr")
    assert load_multilingual(Settings(models_dir=models, multilingual=False)) is None
    (models / "multilingual").write_text("gone\n")
    with pytest.raises(ModelNotFoundError, match="gone"):
        load_multilingual(Settings(models_dir=models))
