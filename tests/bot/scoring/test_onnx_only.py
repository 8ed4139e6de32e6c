"""A model shipped as its 8-bit ONNX graph alone (the multilingual one): it loads, serves through ONNX Runtime
only, agrees with the weights it was built from, and `build-engines` leaves it alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from bot.scoring.classifier import ModelNotFoundError, ToxicityModel
from bot.scoring.engines import available
from tests.support.tiny_model import CLEAN_MESSAGE, TOXIC_MESSAGE


def test_it_serves_through_onnx_runtime_and_agrees_with_its_weights(graph_only_model: Path,
                                                                   model: ToxicityModel) -> None:
    assert available(graph_only_model) == ["onnx-int8"]
    served = ToxicityModel(graph_only_model, max_length=32, stride=8)
    assert served.choice.engine == "onnx-int8"
    texts = [TOXIC_MESSAGE, CLEAN_MESSAGE]
    assert np.allclose(served.predict(texts), model.predict(texts), atol=0.05)
    with pytest.raises(ModelNotFoundError, match="torch-fp32"):
        ToxicityModel(graph_only_model, max_length=32, engine="torch-fp32")


def test_a_folder_with_neither_weights_nor_graph_is_refused(graph_only_model: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(graph_only_model, broken)
    (broken / "model.int8.onnx").unlink()
    with pytest.raises(ModelNotFoundError, match=r"missing model\.safetensors"):
        ToxicityModel(broken, max_length=32)


def test_build_engines_skips_a_model_without_weights(graph_only_model: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELS_DIR", str(graph_only_model.parent))
    before = (graph_only_model / "model.int8.onnx").stat().st_mtime_ns
    assert main(["model", "build-engines"]) == 0
    assert (graph_only_model / "model.int8.onnx").stat().st_mtime_ns == before
    assert "tiny-int8" not in capsys.readouterr().out
