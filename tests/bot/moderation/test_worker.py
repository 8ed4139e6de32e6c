"""The scoring worker: micro-batching concurrent callers, the sync API, draining on stop, model swaps."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.moderation.worker import ScoringWorker, WorkerStopped
from bot.scoring.classifier import ModelNotFoundError, ToxicityModel
from tests.support.tiny_model import CLEAN_MESSAGE as CLEAN
from tests.support.tiny_model import TOXIC_MESSAGE as TOXIC


@pytest.fixture
def worker(model: ToxicityModel):
    w = ScoringWorker(model, max_batch=16, max_wait_ms=20).start()
    yield w
    w.stop()


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


def test_repeats_are_answered_from_the_cache_until_the_model_changes(
        model: ToxicityModel, tiny_model_dir: Path) -> None:
    worker = ScoringWorker(model, max_batch=64, max_wait_ms=0, cache_size=2).start()
    try:
        first = worker.score_many([TOXIC, CLEAN])
        assert worker.cache_hits == 0 and worker.cache_lookups == 2
        # the same text, and one that normalises to it (fullwidth letters): both hits, same scores
        again = worker.score_many([TOXIC, "ｙｏｕ аrе а ѕtuрid idiot"])
        assert worker.cache_hits == 2 and again[0].values == first[0].values == again[1].values
        worker.score_many(["gg", "lol"])  # the cache holds two texts: TOXIC and CLEAN are forgotten
        worker.score_many([TOXIC])
        assert worker.cache_hits == 2 and worker.cache_hit_rate == pytest.approx(2 / 7)
        worker.swap_model(lambda: ToxicityModel(tiny_model_dir, max_length=32, stride=8)).result()
        worker.score_many([TOXIC])
        assert worker.cache_hits == 2  # the new model's scores are computed afresh
    finally:
        worker.stop()


def test_a_cache_of_size_zero_is_off(model: ToxicityModel) -> None:
    worker = ScoringWorker(model, cache_size=0).start()
    try:
        worker.score_many([TOXIC, TOXIC])
        assert worker.cache_hits == 0 and worker.cache_hit_rate is None
    finally:
        worker.stop()
