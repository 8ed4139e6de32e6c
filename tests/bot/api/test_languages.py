"""`toxmod serve` and languages: what it detects, what it reads, and how it refuses what it cannot."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.bot.api.conftest import StartServer

SPANISH = "eres un pendejo de mierda y nadie te quiere aqui"
FRENCH = "ta gueule espèce de connard, personne ne t'aime ici"


def post(url: str, body: dict) -> tuple[int, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_a_comment_without_languages_is_detected_and_refused_as_perspective_refuses_a_language(
        api_url: str) -> None:
    status, answer = post(f"{api_url}/v1alpha1/comments:analyze",
                          {"comment": {"text": FRENCH}, "requestedAttributes": {"TOXICITY": {}}})
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"
    assert answer["error"]["message"] == "Attribute TOXICITY does not support request languages: fr"
    [detail] = answer["error"]["details"]
    assert detail["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
    assert detail["languageNotSupportedByAttributeError"]["detectedLanguages"] == ["fr"]


def test_drop_unsupported_attributes_answers_the_detected_language_without_scores(api_url: str) -> None:
    status, answer = post(f"{api_url}/v1alpha1/comments:analyze",
                          {"comment": {"text": FRENCH}, "requestedAttributes": {"TOXICITY": {}},
                           "dropUnsupportedAttributes": True})
    assert status == 200 and "attributeScores" not in answer
    assert answer["detectedLanguages"] == ["fr"] and answer["languages"] == ["fr"]


def test_english_is_detected_and_scored(api_url: str) -> None:
    status, answer = post(f"{api_url}/v1alpha1/comments:analyze",
                          {"comment": {"text": "you are a stupid idiot"}, "requestedAttributes": {"TOXICITY": {}}})
    assert status == 200 and answer["detectedLanguages"] == ["en"]
    assert answer["attributeScores"]["TOXICITY"]["summaryScore"]["value"] > 0.5


def test_batch_scoring_marks_what_it_cannot_read_instead_of_scoring_it_as_english(api_url: str) -> None:
    status, answer = post(f"{api_url}/v1/score", {"texts": [SPANISH, "you are a stupid idiot", "gg"]})
    assert status == 200
    spanish, english, short = answer["results"]
    assert (spanish["language"], spanish["read"], spanish["scores"], spanish["flagged"]) == ("es", False, None, False)
    assert english["language"] == "en" and english["read"] and english["flagged"]
    assert short["language"] == "en" and short["read"]  # too short to tell: the model's language is assumed


def test_a_language_the_multilingual_model_reads_is_scored_by_it(start_server: StartServer, models_dir: Path,
                                                                  tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(models_dir / "tiny-v1", models / "tiny-v1")
    shutil.copytree(models_dir / "tiny-v1", models / "tiny-multi")
    meta = json.loads((models / "tiny-multi" / "metadata.json").read_text())
    (models / "tiny-multi" / "metadata.json").write_text(json.dumps({**meta, "version": "tiny-multi",
                                                                     "languages": ["es", "fr"]}))
    (models / "current").write_text("tiny-v1\n")
    (models / "multilingual").write_text("tiny-multi\n")
    url = start_server(models_dir=models)

    status, answer = post(f"{url}/v1alpha1/comments:analyze",
                          {"comment": {"text": FRENCH}, "requestedAttributes": {"TOXICITY": {}}})
    assert status == 200 and answer["detectedLanguages"] == ["fr"]
    assert 0 <= answer["attributeScores"]["TOXICITY"]["summaryScore"]["value"] <= 1
    status, answer = post(f"{url}/v1/score", {"texts": [SPANISH, "you are a stupid idiot"]})
    spanish, english = answer["results"]
    assert (spanish["language"], spanish["read"], spanish["model"]) == ("es", True, "tiny-multi")
    assert (english["language"], english["model"]) == ("en", "tiny-v1")
