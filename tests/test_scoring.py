"""The scoring engine: loading, windows over long messages, micro-batching, swaps, policy, JSON contract."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.decision import Scores
from bot.labels import LABELS
from bot.model.classifier import ModelNotFoundError, ToxicityModel
from bot.model.registry import current_name, resolve_model_dir, set_current
from bot.moderation.policy import Policy, validate_threshold
from bot.moderation.worker import ScoringWorker, WorkerStopped

TOXIC = "you are a stupid idiot"
CLEAN = "hello friend see you tonight"
FILLER = "hello friend thanks for the great game tonight see you at the raid "


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> ToxicityModel:
    return ToxicityModel(tiny_model_dir, max_length=32, stride=8)


@pytest.fixture
def worker(model: ToxicityModel):
    w = ScoringWorker(model, max_batch=16, max_wait_ms=20).start()
    yield w
    w.stop()


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


def test_registry_pointer_names_the_default_and_refuses_missing_targets(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="current"):
        current_name(tmp_path)
    shutil.copytree(tiny_model_dir, tmp_path / "a")
    set_current(tmp_path, "a")
    assert resolve_model_dir(tmp_path) == tmp_path / "a"
    assert resolve_model_dir(tmp_path, tmp_path / "elsewhere") == tmp_path / "elsewhere"
    with pytest.raises(ModelNotFoundError):
        set_current(tmp_path, "b")
    assert current_name(tmp_path) == "a"


async def test_concurrent_callers_are_micro_batched(worker: ScoringWorker) -> None:
    texts = [TOXIC if i % 3 == 0 else f"{CLEAN} {i}" for i in range(48)]
    results = await asyncio.gather(*(worker.score(t) for t in texts))
    assert worker.scored_total == 48
    assert worker.batches_total < 48 and worker.largest_batch > 1
    # each caller gets the answer for its own text, whatever batch it rode in
    expected = worker.model.predict(texts)
    got = np.array([r.values for r in results])
    assert np.allclose(got, expected, atol=1e-3)
    assert all(r.model_version == "tiny-v1" and r.latency_ms >= 0 for r in results)


def test_sync_batch_api_matches_async(worker: ScoringWorker) -> None:
    out = worker.score_many([TOXIC, CLEAN, ""])
    assert [round(s.values[0], 3) for s in out[:2]] == [round(p, 3) for p in worker.model.predict([TOXIC, CLEAN])[:, 0]]
    assert out[2].values == (0.0,) * 6


def test_stop_drains_queued_messages_and_refuses_new_ones(model: ToxicityModel) -> None:
    w = ScoringWorker(model, max_batch=4, max_wait_ms=1).start()
    futures = [w.submit(f"{CLEAN} {i}") for i in range(20)]
    w.stop()
    assert all(f.done() and f.exception() is None for f in futures)
    with pytest.raises(WorkerStopped):
        w.submit("late")


def test_swap_model_between_batches_keeps_every_message(worker: ScoringWorker, tmp_path: Path,
                                                        tiny_model_dir: Path) -> None:
    v2 = tmp_path / "tiny-v2"
    shutil.copytree(tiny_model_dir, v2)
    meta = json.loads((v2 / "metadata.json").read_text())
    meta["version"] = "tiny-v2"
    (v2 / "metadata.json").write_text(json.dumps(meta))
    before = [worker.submit(f"{CLEAN} {i}") for i in range(10)]
    swapped = worker.swap_model(lambda: ToxicityModel(v2, max_length=32))
    after = [worker.submit(f"{CLEAN} {i}") for i in range(10)]
    assert swapped.result(timeout=30) == "tiny-v1"
    assert {f.result().model_version for f in before} == {"tiny-v1"}
    assert {f.result().model_version for f in after} == {"tiny-v2"}


def test_failed_swap_keeps_the_old_model(worker: ScoringWorker, tmp_path: Path) -> None:
    fut = worker.swap_model(lambda: ToxicityModel(tmp_path / "missing"))
    with pytest.raises(ModelNotFoundError):
        fut.result(timeout=10)
    assert worker.score_many([CLEAN])[0].model_version == "tiny-v1"


def scores(**values: float) -> Scores:
    return Scores(tuple(values.get(label, 0.0) for label in LABELS), "m1", 1.5)


def test_policy_flags_when_any_label_passes_its_threshold() -> None:
    policy = Policy(dict.fromkeys(LABELS, 0.5) | {"threat": 0.3})
    quiet = policy.decide(scores(toxic=0.49, insult=0.2))
    assert not quiet.flagged and quiet.fired == ()
    threat = policy.decide(scores(toxic=0.2, threat=0.35))
    assert threat.flagged and threat.fired == ("threat",)
    assert threat.top == [("threat", 0.35), ("toxic", 0.2)]


def test_top_labels_are_those_most_above_their_own_thresholds_not_the_highest_scores() -> None:
    policy = Policy({"toxic": 0.8, "severe_toxic": 0.6, "obscene": 0.7, "threat": 0.2, "insult": 0.7,
                     "identity_hate": 0.5})
    decision = policy.decide(scores(toxic=0.9, severe_toxic=0.65, obscene=0.6, threat=0.6, insult=0.3))
    assert [label for label, _ in decision.top] == ["threat", "toxic"]  # 0.6 vs 0.2 beats 0.9 vs 0.8
    assert decision.top[0][1] == 0.6  # the probability is still what is shown
    assert set(decision.fired) == {"toxic", "severe_toxic", "threat"}


def test_guild_overrides_replace_model_defaults_and_are_validated() -> None:
    policy = Policy.with_overrides(dict.fromkeys(LABELS, 0.5), {"toxic": 0.9})
    assert not policy.decide(scores(toxic=0.8)).flagged
    with pytest.raises(ValueError, match="unknown label"):
        validate_threshold("spam", 0.5)
    with pytest.raises(ValueError, match="must be in"):
        validate_threshold("toxic", 1.5)


def test_json_contract_has_exactly_the_documented_shape() -> None:
    decision = Policy(dict.fromkeys(LABELS, 0.5)).decide(scores(toxic=0.91, insult=0.7))
    out = decision.to_json("you idiot")
    assert list(out) == ["text", "scores", "top", "flagged", "model"]
    assert list(out["scores"]) == list(LABELS)
    assert out["top"] == [["toxic", 0.91], ["insult", 0.7]]
    assert out["flagged"] is True and out["model"] == "m1" and out["text"] == "you idiot"
    json.dumps(out)


def test_real_base_model_loads_from_its_package() -> None:
    from transformers import AutoModel, AutoTokenizer

    from training.train import default_base_model

    base = default_base_model()
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModel.from_pretrained(base, local_files_only=True)
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(22.7e6, rel=0.01)
    assert tokenizer("hello world")["input_ids"][0] == tokenizer.cls_token_id
