"""`toxmod serve` under test: the tiny model, no database unless a test gives one, generous rate limits
unless a test sets its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.storage.database import Database
from tests.support.api_server import ServerThread

StartServer = Callable[..., str]


@pytest.fixture
def start_server(models_dir: Path, tmp_path: Path) -> Iterator[StartServer]:
    """`start_server(db=None, **settings)`: a running server's base URL (no trailing slash)."""
    servers: list[ServerThread] = []

    def start(db: Database | None = None, **overrides: object) -> str:
        options: dict[str, object] = {
            "models_dir": models_dir, "model_dir": None, "score_max_length": 32,
            "tuning_cache": tmp_path / "engines.json", "database_url": f"sqlite:///{tmp_path / 'none.db'}",
            "api_keys": "", "api_rate_limit": 1000.0, "api_rate_burst": 1000, **overrides}
        server = ServerThread(Settings.load(None, **options), db)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def api_url(start_server: StartServer) -> str:
    """A server open on loopback without keys."""
    return start_server()
