"""Shared fixtures: a tiny base BERT, a tiny model trained on synthetic chat, and a fresh database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.storage.database import Database
from tests.support.tiny_model import build_tiny_base, train_tiny


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_base(tmp_path_factory.mktemp("tiny-base"))


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


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated database on `db_url` with its writer running; closed after the test."""
    database = Database(db_url).upgrade().start()
    yield database
    database.close()
