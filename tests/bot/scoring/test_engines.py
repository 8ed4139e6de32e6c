"""Engines and the measured choice among them: same scores whatever serves, the fastest chosen and
remembered, pins honoured, a folder without an engine's files refused with what to run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.scoring import engines, tuning
from bot.scoring.classifier import ModelNotFoundError, ToxicityModel
from bot.scoring.onnx_export import build_onnx
from bot.settings import ENGINE_NAMES, PROJECT_ROOT, Settings, SettingsError
from tests.support.tiny_model import CLEAN_MESSAGE as CLEAN
from tests.support.tiny_model import TOXIC_MESSAGE as TOXIC

TEXTS = [TOXIC, CLEAN, "", "gg wp", f"{CLEAN} " * 20 + TOXIC]


@pytest.fixture(scope="module")
def onnx_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("onnx") / "tiny-v1"
    shutil.copytree(tiny_model_dir, folder)
    build_onnx(folder)
    return folder


def test_every_engine_scores_like_torch_fp32(onnx_model: Path) -> None:
    reference = ToxicityModel(onnx_model, max_length=32, stride=8, engine="torch-fp32", threads=1).predict(TEXTS)
    onnx = ToxicityModel(onnx_model, max_length=32, stride=8, engine="onnx-fp32", threads=1).predict(TEXTS)
    assert np.abs(onnx - reference).max() < 1e-4  # the same graph: only float rounding differs
    for engine in ("torch-bf16", "onnx-int8"):
        approx = ToxicityModel(onnx_model, max_length=32, stride=8, engine=engine, threads=1).predict(TEXTS)
        assert np.abs(approx - reference).max() < 0.05, engine
        assert not approx[2].any()  # an empty text still never reaches the model


def test_the_fastest_candidate_is_chosen_and_remembered(tmp_path: Path) -> None:
    seconds = {("slow", 1): 0.4, ("fast", 2): 0.1, ("hopeless", 1): 50.0}
    calls: list[tuple[str, int, bool]] = []

    def time_one(engine: str, threads: int, first: bool) -> float:
        calls.append((engine, threads, first))
        if engine == "broken":
            raise RuntimeError("no such kernel here")
        return seconds[(engine, threads)]

    candidates = [("slow", 1), ("fast", 2), ("broken", 1), ("hopeless", 1)]
    cache = tmp_path / "engines.json"
    choice = tuning.choose(candidates, time_one, key="cpu|model", cache_path=cache)
    assert (choice.engine, choice.threads, choice.source) == ("fast", 2, "measured")
    assert set(choice.measured) == {"slow/1", "fast/2"}  # broken raised, hopeless was dropped after one call
    assert calls.count(("hopeless", 1, False)) == 0
    again = tuning.choose(candidates, time_one, key="cpu|model", cache_path=cache)
    assert (again.engine, again.threads, again.source) == ("fast", 2, "cached") and len(calls) == 8
    assert json.loads(cache.read_text())["cpu|model|candidates slow/1,fast/2,broken/1,hopeless/1"]["engine"] == "fast"
    other = tuning.choose([("slow", 1)], time_one, key="cpu|model", cache_path=cache)  # "fast" not offered
    assert other.engine == "slow" and other.source == "measured"
    # that narrowed measurement does not answer for the full set later: "fast" still serves
    full = tuning.choose(candidates, time_one, key="cpu|model", cache_path=cache)
    assert (full.engine, full.source) == ("fast", "cached")


def test_a_model_measures_its_engine_once_per_machine(onnx_model: Path, tmp_path: Path) -> None:
    cache = tmp_path / "engines.json"
    first = ToxicityModel(onnx_model, max_length=32, stride=8, tuning_cache=cache)
    assert first.choice.source == "measured" and len(first.choice.measured) >= 4
    assert first.choice.engine in {"torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8"}
    second = ToxicityModel(onnx_model, max_length=32, stride=8, tuning_cache=cache)
    assert (second.choice.engine, second.choice.threads, second.choice.source) == (
        first.choice.engine, first.choice.threads, "cached")
    assert [c.engine for c in tuning.cached_choices(cache, "tiny-v1")] == [first.choice.engine]


def test_a_pinned_engine_does_not_decide_for_later_unpinned_loads(onnx_model: Path, tmp_path: Path) -> None:
    cache = tmp_path / "engines.json"
    # SCORE_ENGINE pinned, threads left to measure: the measurement covers that engine's thread counts only
    pinned = ToxicityModel(onnx_model, max_length=32, stride=8, engine="torch-fp32", tuning_cache=cache)
    assert pinned.choice.engine == "torch-fp32"
    free = ToxicityModel(onnx_model, max_length=32, stride=8, tuning_cache=cache)
    assert free.choice.source == "measured" and len(free.choice.measured) >= 4
    [listed] = tuning.cached_choices(cache, "tiny-v1")  # `toxmod model list` shows the full measurement
    assert (listed.engine, listed.threads) == (free.choice.engine, free.choice.threads)


def test_pins_are_honoured(onnx_model: Path, tmp_path: Path) -> None:
    pinned = ToxicityModel(onnx_model, max_length=32, engine="onnx-fp32", threads=1)
    assert (pinned.choice.engine, pinned.choice.threads, pinned.choice.source) == ("onnx-fp32", 1, "set")
    assert ToxicityModel(onnx_model, max_length=32, bf16=True, threads=1).choice.engine == "torch-bf16"
    bare = shutil.copytree(onnx_model, tmp_path / "bare", ignore=shutil.ignore_patterns("*.onnx"))
    with pytest.raises(ModelNotFoundError, match="toxmod model build-engines"):
        ToxicityModel(bare, max_length=32, engine="onnx-int8")


def test_a_bad_engine_setting_names_its_variable() -> None:
    with pytest.raises(SettingsError, match="SCORE_ENGINE"):
        Settings(score_engine="tpu")


def test_the_engine_names_settings_accept_are_the_engines_a_model_folder_feeds(onnx_model: Path) -> None:
    """ENGINE_NAMES (checked with the settings, before anything loads) and what engines.py builds agree, and
    a model loaded directly refuses the names the settings refuse."""
    assert engines.available(onnx_model) == list(ENGINE_NAMES)
    with pytest.raises(SettingsError, match="tpu"):
        ToxicityModel(onnx_model, max_length=32, engine="tpu")


def test_importing_toxmod_makes_idle_threads_sleep() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import bot, os; print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"  # the user's choice wins
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "ACTIVE"
