"""`toxmod serve` for tests: the real server on a free loopback port, in a thread with its own event loop,
so that blocking clients (Google's API client, a browser driven by Selenium) can call it from the test."""

from __future__ import annotations

import asyncio
import threading

from bot.api.server import serve
from bot.settings import Settings
from bot.storage.database import Database
from tests.support.postgres import free_port


class ServerThread:
    """Started by `start()` (which returns the base URL once it listens), stopped by `stop()`."""

    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self.settings, self.db = settings, db
        self.url = ""
        self._ready = threading.Event()
        self._failure: list[BaseException] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="toxmod-serve-test", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()

            def ready(url: str) -> None:
                self.url = url.rstrip("/")
                self._ready.set()

            await serve(self.settings, self.db, "127.0.0.1", free_port(), ready, self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._failure.append(exc)
        finally:
            self._ready.set()

    def start(self, timeout: float = 120.0) -> str:
        self._thread.start()
        self._ready.wait(timeout)
        if self._failure:
            raise RuntimeError(f"the server did not start: {self._failure[0]!r}") from self._failure[0]
        if not self.url:
            raise TimeoutError("the server did not start in time")
        return self.url

    def stop(self, timeout: float = 60.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
