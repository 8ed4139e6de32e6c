"""What a model directory says about itself (metadata.json), readable without loading torch.

`toxmod model list`, promotion and the thresholds a guild starts from only need this, so they stay fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bot.labels import LABELS

REQUIRED_FILES = ("config.json", "model.safetensors", "metadata.json")


class ModelNotFoundError(FileNotFoundError):
    """The model directory is missing or incomplete; the message names the path and what is absent."""


@dataclass(frozen=True)
class ModelInfo:
    """What a model directory says about itself (metadata.json), kept beside the loaded weights."""

    path: Path
    version: str
    thresholds: dict[str, float]
    metrics: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)


def read_model_info(model_dir: Path) -> ModelInfo:
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelNotFoundError(f"model directory not found: {model_dir}")
    missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        raise ModelNotFoundError(f"model directory {model_dir} is missing {', '.join(missing)}")
    try:
        meta = json.loads((model_dir / "metadata.json").read_text())
    except json.JSONDecodeError as exc:
        raise ModelNotFoundError(f"{model_dir / 'metadata.json'} is not valid JSON: {exc}") from exc
    labels = tuple(meta.get("labels", LABELS))
    if labels != LABELS:
        raise ModelNotFoundError(f"{model_dir} predicts {labels}, toxmod needs {LABELS}")
    thresholds = {label: float(meta.get("thresholds", {}).get(label, 0.5)) for label in LABELS}
    return ModelInfo(
        path=model_dir,
        version=str(meta.get("version", model_dir.name)),
        thresholds=thresholds,
        metrics=meta.get("metrics", {}),
        metadata=meta,
    )
