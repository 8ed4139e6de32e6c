"""A corpus mirror served from the test process: stdlib http.server on 127.0.0.1, in a thread, so
`toxmod data fetch` runs its real download code with no network.

It answers Range requests, can cut a response off halfway once, and logs what it was asked. The `mirror`
fixture (tests/conftest.py) starts one per test.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Mirror(ThreadingHTTPServer):
    """Files by URL path; `cut_once` paths send half their body, then close the connection, the first time."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.cut_once: set[str] = set()
        self.ranges = True  # False: answer every request with the whole file, as some servers do
        self.requests: list[tuple[str, str | None]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Mirror

    def do_GET(self) -> None:
        mirror = self.server
        asked = self.headers.get("Range")
        mirror.requests.append((self.path, asked))
        body = mirror.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        asked = asked if mirror.ranges else None
        start = int(re.fullmatch(r"bytes=(\d+)-", asked).group(1)) if asked else 0
        if start >= len(body):
            self.send_error(416)
            return
        self.send_response(206 if asked else 200)
        if asked:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if self.path in mirror.cut_once:
            mirror.cut_once.discard(self.path)
            payload = payload[: len(payload) // 2]
            self.close_connection = True
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving() -> Iterator[Mirror]:
    """A mirror answering in a background thread until the block ends."""
    server = Mirror()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
