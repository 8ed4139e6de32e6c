"""The classifier: loading a model directory, windows over long messages, obfuscation, clear load errors."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer

from bot.labels import LABELS
from bot.scoring.classifier import MAX_WINDOWS, ModelNotFoundError, ToxicityModel
from bot.scoring.normalize import MAX_EXPANDED_CHARS, normalize
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


_RNG = random.Random(0)
# One Discord message each (at most 4,000 characters), built to cost as much as possible to score.
HOSTILE = {
    "ligatures": "\ufdfa" * 2000,  # NFKC expands each to 18 characters: 36,000 characters, 30,000 tokens
    "zalgo": ("z" + "\u0301\u0302\u0303\u0304" * 20) * 48,
    "zalgo on Cyrillic": ("ж" + "\u0301\u0302\u0303\u0304" * 20) * 48,  # marks on non-Latin letters stay
    "emoji": "🖕🔪" * 1000,
    "CJK": "".join(chr(_RNG.randrange(0x4E00, 0xA000)) for _ in range(4000)),  # one token per character
}


def test_ligature_flood_is_capped_in_characters_and_windows(model: ToxicityModel) -> None:
    text = "\ufdfa" * 2000
    assert len(normalize(text, model.lexicon)) <= MAX_EXPANDED_CHARS
    windows, owners = model.windows([text])
    assert 0 < len(windows) <= MAX_WINDOWS and set(owners) == {0}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_message_costs_at_most_max_windows(model: ToxicityModel, text: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Scored among 63 chat messages, a hostile one adds at most MAX_WINDOWS rows to the forward passes."""
    forwarded: list[int] = []
    forward = model._forward

    def counting_forward(windows: list[list[int]]) -> np.ndarray:
        forwarded.append(len(windows))
        return forward(windows)

    monkeypatch.setattr(model, "_forward", counting_forward)
    probs = model.predict([CLEAN] * 63 + [text])
    assert probs.shape == (64, len(LABELS))
    assert 63 < sum(forwarded) <= 63 + MAX_WINDOWS


def test_insult_at_either_end_of_a_hostile_message_counts(model: ToxicityModel) -> None:
    insults = " ".join([TOXIC] * 3)  # the tiny model needs most of a 32-token window to be insult
    flood = "\ufdfa" * 2000
    opening, closing, neither = model.predict([insults + " " + flood, flood + " " + insults, flood])
    assert opening[0] > 0.5 and closing[0] > 0.5 and neither[0] < 0.5


def hf_windows(model: ToxicityModel, text: str) -> list[list[int]]:
    """Every window of a text as transformers' tokenizer cuts them (ToxicityModel uses the Rust tokenizer
    directly, so this checks it cuts the same windows)."""
    tokenizer = AutoTokenizer.from_pretrained(model.path, local_files_only=True)
    return tokenizer([normalize(text, model.lexicon)], max_length=model.max_length, truncation=True,
                     stride=model.stride, return_overflowing_tokens=True)["input_ids"]


def test_windows_are_cut_as_transformers_cuts_them(model: ToxicityModel) -> None:
    for text in (CLEAN, "ｙｏｕ аrе а ѕtuрid idiot 🖕", FILLER * 3, (FILLER * 60)[:3980], "x" * 300):
        windows, _ = model.windows([text])
        every = hf_windows(model, text)
        head = MAX_WINDOWS // 2
        assert windows == (every if len(every) <= MAX_WINDOWS else every[:head] + every[-head:])


def test_message_within_the_window_cap_is_scored_whole(model: ToxicityModel) -> None:
    text = FILLER * 4
    every = hf_windows(model, text)
    assert 1 < len(every) <= MAX_WINDOWS
    assert model.windows([text])[0] == every


def test_longer_message_keeps_its_first_and_last_windows(model: ToxicityModel) -> None:
    text = (FILLER * 60)[:3980]
    every = hf_windows(model, text)
    kept, owners = model.windows(["", text, CLEAN])
    assert len(every) > MAX_WINDOWS
    assert kept[:MAX_WINDOWS] == every[: MAX_WINDOWS // 2] + every[-(MAX_WINDOWS - MAX_WINDOWS // 2) :]
    assert owners == [1] * MAX_WINDOWS + [2]


def test_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=re.escape(str(tmp_path / "nope"))):
        ToxicityModel(tmp_path / "nope")


def test_incomplete_model_directory_names_what_is_missing(tmp_path: Path, tiny_model_dir: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").unlink()
    for graph in broken.glob("*.onnx"):  # the 8-bit graph alone would still serve (an ONNX-only model)
        graph.unlink()
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
