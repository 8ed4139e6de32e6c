"""Which model is the default: `models/current` is a one-line text file naming a directory in `models/`.

A text file rather than a symlink, so it works on every OS and git checkout, and so promotion is an atomic
rename of one small file.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.scoring.model import ModelNotFoundError

POINTER = "current"


def current_name(models_dir: Path) -> str:
    pointer = Path(models_dir) / POINTER
    if not pointer.is_file():
        raise ModelNotFoundError(f"no default model: {pointer} does not exist (train one with `toxmod train`)")
    name = pointer.read_text().strip()
    if not name:
        raise ModelNotFoundError(f"{pointer} is empty; it should name a directory in {models_dir}")
    return name


def resolve_model_dir(models_dir: Path, model_dir: Path | None = None) -> Path:
    """An explicit model directory wins; otherwise the one `models/current` names."""
    if model_dir is not None:
        return Path(model_dir)
    return Path(models_dir) / current_name(models_dir)


def set_current(models_dir: Path, name: str) -> None:
    target = Path(models_dir) / name
    if not target.is_dir():
        raise ModelNotFoundError(f"cannot point {POINTER} at {target}: no such model directory")
    tmp = Path(models_dir) / f".{POINTER}.tmp"
    tmp.write_text(name + "\n")
    os.replace(tmp, Path(models_dir) / POINTER)
