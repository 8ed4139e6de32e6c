"""Training from a model shipped as its 8-bit graph alone (the multilingual one): the weights are read back
out of the graph, score like it, and a retrain starts from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from bot.scoring.classifier import ToxicityModel
from tests.support.paths import SOURCE_FIXTURES
from tests.support.tiny_model import CLEAN_MESSAGE, TOXIC_MESSAGE
from training.config import TrainConfig
from training.dequantize import DequantizeError, weights_from_graph
from training.evaluate import EvalSettings
from training.pipeline import run_training

TEXTS = [TOXIC_MESSAGE, CLEAN_MESSAGE, "you moron", "see you at the raid tonight", "i will hurt you"]



def test_weights_read_out_of_the_graph_score_like_the_graph(graph_only_model: Path, tmp_path: Path) -> None:
    recovered = weights_from_graph(graph_only_model, tmp_path / "recovered")
    torch_scores = ToxicityModel(recovered, max_length=32, engine="torch-fp32").predict(TEXTS)
    graph_scores = ToxicityModel(graph_only_model, max_length=32).predict(TEXTS)
    assert np.allclose(torch_scores, graph_scores, atol=0.03)
    assert torch_scores[0, 0] > 0.5 > torch_scores[1, 0]  # still tells the toxic message from the clean one


def test_a_missing_or_corrupt_graph_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(DequantizeError, match=r"cannot read .*model\.int8\.onnx"):
        weights_from_graph(tmp_path, tmp_path / "out")
    (tmp_path / "model.int8.onnx").write_bytes(b"not a graph \x00\x01" * 8)
    with pytest.raises(DequantizeError, match=r"cannot read .*model\.int8\.onnx"):
        weights_from_graph(tmp_path, tmp_path / "out")


def test_a_retrain_starts_from_a_graph_only_model(graph_only_model: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(data_dir=SOURCE_FIXTURES, run_dir=tmp_path / "run", epochs=1.0, batch_size=4, max_length=32,
                      samples_per_epoch=16, ubuntu_cap=None, threads=1, seed=7, val_percent=30)
    result = run_training(cfg, tmp_path / "models" / "again", "again-1", init_model=graph_only_model,
                          eval_settings=EvalSettings(obfuscation_rows=10), progress=False)
    assert (tmp_path / "run" / "init" / "model.safetensors").is_file()
    assert ToxicityModel(result.model_dir, max_length=32).predict(TEXTS).shape == (len(TEXTS), 6)


def test_the_command_line_says_in_one_line_when_the_init_model_has_no_weights(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text("{}")
    rows = ["id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate"]
    rows += [f"{i},hello there friend {i},0,0,0,0,0,0\n{100 + i},you idiot {i},1,0,0,0,1,0" for i in range(20)]
    (tmp_path / "chat.csv").write_text("\n".join(rows) + "\n")
    code = main(["train", "--name", "again", "--init", str(tmp_path / "empty"), "--no-data", "--extra-csv",
                 str(tmp_path / "chat.csv"), "--models-dir", str(tmp_path / "models"), "--run-dir",
                 str(tmp_path / "run")])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("toxmod: cannot read ")
