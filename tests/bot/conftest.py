"""Fixtures shared by the bot's tests in more than one directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.scoring.classifier import ToxicityModel


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> ToxicityModel:
    """The tiny model loaded once per module, scored in 32-token windows with a stride of 8, by the reference
    engine (torch fp32: a message's scores never depend on what it is batched with; test_engines.py covers
    the others and the measured choice)."""
    return ToxicityModel(tiny_model_dir, max_length=32, stride=8, engine="torch-fp32")
