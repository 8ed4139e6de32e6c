"""The model registry: the `current` pointer names the default model and never points at nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.scoring.classifier import ModelNotFoundError
from bot.scoring.registry import current_name, resolve_model_dir, set_current


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
