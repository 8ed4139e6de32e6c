"""The shipped multilingual model, as a deployer gets it: its 8-bit graph alone, small enough for git, reading
the languages it names and routed to for them."""

from __future__ import annotations

from pathlib import Path

from bot.moderation.languages import decide_texts
from bot.moderation.policy import scorer_policy
from bot.moderation.worker import ScoringWorker
from bot.scoring.classifier import ToxicityModel, load_multilingual
from bot.scoring.engines import available
from bot.scoring.language import LanguageIdentifier
from bot.settings import PROJECT_ROOT, Settings

MODELS = PROJECT_ROOT / "models"
MAX_BYTES = 60_000_000  # what the multilingual model may add to the repository


def test_it_ships_as_its_8_bit_graph_alone_within_its_size() -> None:
    folder = MODELS / (MODELS / "multilingual").read_text().strip()
    assert available(folder) == ["onnx-int8"]
    assert sum(f.stat().st_size for f in Path(folder).iterdir()) <= MAX_BYTES


def test_a_german_insult_is_read_by_it_and_flagged_with_its_language(tmp_path: Path) -> None:
    settings = Settings(models_dir=MODELS, score_engine="onnx-int8", tuning_cache=tmp_path / "engines.json")
    multilingual = load_multilingual(settings)
    assert multilingual is not None and "de" in multilingual.info.languages and "en" not in multilingual.info.languages
    english = ToxicityModel(MODELS / (MODELS / "current").read_text().strip(), engine="onnx-int8"
                            if "onnx-int8" in available(MODELS / (MODELS / "current").read_text().strip())
                            else "torch-fp32")
    worker = ScoringWorker(english, multilingual=multilingual).start()
    try:
        texts = ["halt die fresse du dummer wichser", "wie war dein Wochenende? wir waren wandern"]
        insult, greeting = decide_texts(worker, LanguageIdentifier(), texts, scorer_policy(worker))
    finally:
        worker.stop()
    assert (insult.language, insult.read, insult.flagged) == ("de", True, True)
    assert insult.model_version == multilingual.version
    assert (greeting.language, greeting.flagged) == ("de", False)
