"""Shared fixtures: a tiny base BERT, a tiny model trained on synthetic chat (also as its 8-bit graph alone),
and a fresh database.

`db_url` (and so `db` and the bot's database) is parametrised: every test that takes it runs once on SQLite
and once on a real PostgreSQL server (tests/support/postgres.py). Tests of what only SQLite does (its lock,
its file, its WAL) take `sqlite_url` instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.storage.database import Database
from tests.support.mirror import Mirror, serving
from tests.support.postgres import PostgresServer, PostgresUnavailable
from tests.support.tiny_model import build_tiny_base, train_tiny

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_base(tmp_path_factory.mktemp("tiny-base"))


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path) -> Path:
    """A models/ directory holding `tiny-v1` (trained), with `current` naming it."""
    from bot.scoring.registry import set_current

    root = tmp_path_factory.mktemp("models")
    train_tiny(tiny_base, root, "tiny-v1", tmp_path_factory.mktemp("train-tiny"))
    set_current(root, "tiny-v1")
    return root


@pytest.fixture(scope="session")
def tiny_model_dir(models_dir: Path) -> Path:
    return models_dir / "tiny-v1"


@pytest.fixture(scope="session")
def graph_only_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model shipped the way the multilingual one is: its 8-bit graph, embeddings included, alone."""
    from bot.scoring.onnx_export import build_onnx

    out = tmp_path_factory.mktemp("graph-only") / "tiny-int8"
    shutil.copytree(tiny_model_dir, out)
    build_onnx(out, quantize_embeddings=True)
    (out / "model.safetensors").unlink()
    (out / "model.onnx").unlink()
    return out


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Started at the first test that needs it, stopped at the end of the run."""
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    yield server
    server.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'toxmod.db'}"


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty database on the test server; dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each backend in turn."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated database on `db_url` with its writer running; closed after the test."""
    database = Database(db_url).upgrade().start()
    yield database
    database.close()


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    """`db` on SQLite only, for what only SQLite does (its file, its WAL, its lock)."""
    database = Database(sqlite_url).upgrade().start()
    yield database
    database.close()


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    """A corpus mirror on 127.0.0.1 for `toxmod data fetch` (tests/support/mirror.py), with no proxy between."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with serving() as server:
        yield server
