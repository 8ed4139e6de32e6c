"""Fixtures shared by the bot's tests in more than one directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.model.classifier import ToxicityModel


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> ToxicityModel:
    """The tiny model loaded once per module, scored in 32-token windows with a stride of 8."""
    return ToxicityModel(tiny_model_dir, max_length=32, stride=8)
