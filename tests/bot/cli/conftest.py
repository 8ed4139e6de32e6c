"""Every CLI test runs as a user with a .env would: settings from the environment, in a scratch directory."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, models_dir: Path, db_url: str, tmp_path: Path) -> None:
    """Settings come from the environment, as for a user with a .env; no real .env is read."""
    monkeypatch.setenv("MODELS_DIR", str(models_dir))
    monkeypatch.setenv("MODEL_DIR", "")
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TUNING_CACHE", str(tmp_path / "engines.json"))
    monkeypatch.chdir(tmp_path)
