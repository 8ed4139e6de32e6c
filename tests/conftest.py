"""Shared fixtures: a tiny base BERT, a tiny model trained on synthetic chat, and a fresh database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.labels import LABELS
from tests.support.tiny_model import build_tiny_base, synthetic_chat, write_jigsaw_csv


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_base(tmp_path_factory.mktemp("tiny-base"))


def train_tiny(base: Path, models_dir: Path, name: str, workdir: Path, **overrides: object) -> Path:
    """Fine-tune the tiny base on synthetic chat through the real pipeline; thresholds fixed at 0.5."""
    from training.evaluate import EvalSettings
    from training.pipeline import run_training
    from training.train import TrainConfig

    csv_path = write_jigsaw_csv(workdir / "synthetic.csv", synthetic_chat())
    settings = dict(
        extra_csv=[csv_path], base_model=base, run_dir=workdir / "run", epochs=25.0, batch_size=16, lr=2e-3,
        max_length=32, obfuscate_share=0.0, val_percent=20, freeze_embeddings=False, checkpoint_every=1000,
        threads=1,
    )
    init = overrides.pop("init", None)
    settings.update(overrides)
    result = run_training(TrainConfig(**settings), models_dir / name, name, init_model=init,
                          eval_settings=EvalSettings(obfuscation_rows=20), progress=False)
    meta_path = result.model_dir / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["thresholds"] = dict.fromkeys(LABELS, 0.5)
    meta_path.write_text(json.dumps(meta, indent=2))
    return result.model_dir


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> Path:
    """A models/ directory holding `tiny-v1` (trained), with `current` naming it."""
    from bot.model.registry import set_current

    root = tmp_path_factory.mktemp("models")
    train_tiny(tiny_base, root, "tiny-v1", tmp_path_factory.mktemp("train-tiny"))
    set_current(root, "tiny-v1")
    return root


@pytest.fixture(scope="session")
def tiny_model_dir(models_dir: Path) -> Path:
    return models_dir / "tiny-v1"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'toxmod.db'}"
