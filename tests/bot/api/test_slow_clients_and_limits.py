"""`toxmod serve` against clients that misbehave: slow and idle sockets, too many of them, key guessing, hostile
bodies and headers, a client that leaves mid-request, a database that goes down. Each test is a real server and
real sockets; waits are on what the server does (a socket it closes, a counter in /metrics), never on a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import http.client
import json
import logging
import math
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from bot.api.connections import ConnectionGuard, Episodes, GuardedHandler
from bot.api.fairness import FairScheduler, cost
from bot.api.listener import Listener
from bot.api.prometheus import Metrics
from bot.scoring.classifier import ToxicityModel
from bot.settings import PROJECT_ROOT
from bot.storage.database import Database
from bot.storage.guilds import update_guild_settings
from tests.bot.api.conftest import StartServer
from tests.bot.api.test_server import analyze, call
from tests.support.postgres import PostgresServer, PostgresUnavailable, free_port

HALF_REQUEST = b"POST /v1/score HTTP/1.1\r\nHost: toxmod\r\nContent-Le"  # headers that never end
UNFINISHED_BODY = (b"POST /v1/score HTTP/1.1\r\nHost: toxmod\r\nContent-Type: application/json\r\n"
                   b'Content-Length: 1000\r\n\r\n{"texts": ["hel')  # 985 bytes short
WAIT = 30.0  # the most a test waits for the server to do what it must (it does it in well under a second)


# -- raw sockets -----------------------------------------------------------------------------------------------
def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def open_socket(url: str, data: bytes = b"") -> socket.socket:
    sock = socket.create_connection(address(url), timeout=WAIT)
    if data:
        sock.sendall(data)
    return sock


@contextmanager
def sockets(url: str, count: int, data: bytes = HALF_REQUEST) -> Iterator[list[socket.socket]]:
    opened = [open_socket(url, data) for _ in range(count)]
    try:
        yield opened
    finally:
        for sock in opened:
            sock.close()


def closed_by_server(sock: socket.socket, timeout: float = WAIT) -> bool:
    """Whether the server closes `sock` within `timeout` (reading and dropping whatever it answers first)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))  # data waiting: open (or about to close); b"": closed
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False
    finally:
        sock.setblocking(True)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response from `sock`: status, headers (lower-cased names), body (by Content-Length)."""
    sock.settimeout(WAIT)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a whole response: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, value in (line.split(":", 1) for line in lines[1:])}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, "closed in the middle of a body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def metric(url: str, line_start: str, headers: dict[str, str] | None = None) -> int | None:
    """The value of the /metrics series whose line starts with `line_start`; None when it is not there."""
    status, _, text = call(f"{url}/metrics", headers=headers)
    assert status == 200, text
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return int(float(line.rsplit(" ", 1)[1]))
    return None


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    """Polls `condition` (a request to the server each time) until it holds; fails after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def healthy(url: str) -> bool:
    status, _, body = call(f"{url}/healthz")
    return status == 200 and body["status"] == "ok"


# -- slow and idle clients, and how many there may be ----------------------------------------------------------
def test_half_sent_headers_are_closed_after_the_header_timeout_and_health_still_answers(
        start_server: StartServer) -> None:
    url = start_server(api_header_timeout=0.5)
    with sockets(url, 50) as slow:
        assert healthy(url)  # while they hang
        assert all(closed_by_server(sock) for sock in slow)
    closed = 'toxmod_api_connections_closed_total{reason="header_timeout"}'
    assert metric(url, closed) == 50
    assert healthy(url)


def test_a_body_that_never_arrives_is_answered_408(start_server: StartServer) -> None:
    url = start_server(api_body_timeout=0.5)
    with sockets(url, 3, UNFINISHED_BODY) as slow:
        for sock in slow:
            status, got, body = read_response(sock)
            assert status == 408 and got["connection"] == "close"
            assert json.loads(body)["error"]["message"] == "The request body did not arrive within 0.5 seconds."
    assert metric(url, 'toxmod_api_requests_total{endpoint="/v1/score",code="408"}') == 3


def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(start_server: StartServer) -> None:
    url = start_server(api_keepalive_timeout=0.5)
    with sockets(url, 1, b"GET /healthz HTTP/1.1\r\nHost: toxmod\r\n\r\n") as (sock,):
        status, got, _ = read_response(sock)
        assert status == 200 and got.get("connection", "keep-alive").lower() == "keep-alive"
        assert closed_by_server(sock)


def test_past_the_connection_limit_the_longest_waiting_are_closed_and_health_answers(
        start_server: StartServer) -> None:
    url = start_server(api_max_connections=10, api_header_timeout=600)
    with sockets(url, 30) as slow:
        assert healthy(url)  # a newcomer with a whole request is answered: the oldest waiting one made room
        # accepted in order, 30 and the health check made 21 too many: the oldest 21 are closed, the rest open
        assert all(closed_by_server(sock) for sock in slow[:21])
        assert all(still_open(sock) for sock in slow[21:])
        assert metric(url, "toxmod_api_open_connections") <= 10  # type: ignore[operator]
    assert metric(url, 'toxmod_api_connections_closed_total{reason="evicted"}') >= 21  # type: ignore[operator]


def test_more_slow_sockets_than_file_descriptors_cannot_stop_the_server(models_dir: Path, tmp_path: Path) -> None:
    """`toxmod serve` with few file descriptors and a connection limit far above them: the limit is fitted
    under them, health keeps answering, and the log says so in a line or two instead of a traceback a second."""
    port = free_port()
    env = {**os.environ, "MODELS_DIR": str(models_dir), "MODEL_DIR": "", "TUNING_CACHE": str(tmp_path / "e.json"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}", "SCORE_MAX_LENGTH": "32",
           "API_MAX_CONNECTIONS": "100000", "API_HEADER_TIMEOUT": "600", "API_KEEPALIVE_TIMEOUT": "600"}

    def few_files() -> None:  # soft and hard: the server cannot raise it back
        resource.setrlimit(resource.RLIMIT_NOFILE, (400, 400))

    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], cwd=PROJECT_ROOT,
                            env=env, stderr=subprocess.PIPE, text=True, preexec_fn=few_files)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _reachable(url) or proc.poll() is not None, "the server to listen")
        assert proc.poll() is None
        slow = []
        try:
            for _ in range(600):
                slow.append(open_socket(url, HALF_REQUEST))
            status, _, health = call(f"{url}/healthz")
            assert status == 200 and health["status"] == "ok"
        finally:
            for sock in slow:
                sock.close()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Too many open files" not in err and "Traceback" not in err, err
    limit_lines = [line for line in err.splitlines() if "API_MAX_CONNECTIONS" in line]
    assert len(limit_lines) == 2, err  # the limit fitted at start; the first connection closed for room
    assert "does not fit under the open-file limit (400" in limit_lines[0]


def _reachable(url: str) -> bool:
    try:
        return healthy(url)
    except (urllib.error.URLError, ConnectionError):
        return False


class _Starved:
    """A listening socket whose accept() has no file descriptor to give: readable (its peer wrote), never
    accepting."""

    def __init__(self, readable: socket.socket) -> None:
        self.readable, self.calls = readable, 0

    def fileno(self) -> int:
        return self.readable.fileno()

    def accept(self) -> tuple[socket.socket, Any]:
        self.calls += 1
        raise OSError(errno.EMFILE, "Too many open files")

    def close(self) -> None:
        self.readable.close()


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_running_out_of_file_descriptors_is_one_log_line_an_episode(caplog: pytest.LogCaptureFixture) -> None:
    guard = ConnectionGuard(header_timeout=1, keepalive_timeout=1, limit=1, metrics=Metrics())
    readable, peer = socket.socketpair()
    peer.send(b"x")
    starved = _Starved(readable)
    listener = Listener(guard, lambda: pytest.fail("nothing was accepted"), budget=10, retry=0.001)
    with caplog.at_level(logging.INFO, logger="bot.api"):
        listener.accept_on([starved])  # type: ignore[list-item] - accept() and fileno() are all it uses
        await _until(lambda: starved.calls >= 100, "accept() to be tried 100 times")
        listener.close()
    peer.close()
    assert [r.getMessage().split(" (more")[0] for r in caplog.records] == [
        "cannot accept connections: Too many open files (open: 0)"]
    assert f'toxmod_api_connections_closed_total{{reason="accept_failed"}} {starved.calls}' in guard.metrics.render(
        queue_depth=0, model_version="v")


async def test_the_listener_holds_no_more_sockets_than_its_budget() -> None:
    """Ten clients at once against a budget of three sockets (two connections and one spare): each is accepted
    as an evicted one closes, never while three are held."""
    guard = ConnectionGuard(header_timeout=WAIT, keepalive_timeout=WAIT, limit=2, metrics=Metrics())
    seen: list[int] = []

    def handler() -> GuardedHandler:
        seen.append(listener.held)  # the socket being connected is already counted
        return guard.factory(web.Server(lambda _: web.Response()), asyncio.get_running_loop())()

    listener = Listener(guard, handler, budget=3)
    port = free_port()
    await listener.start("127.0.0.1", port)
    clients = []
    try:
        for _ in range(10):
            client = socket.socket()
            client.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                client.connect(("127.0.0.1", port))
            clients.append(client)
        await _until(lambda: len(seen) == 10, "all ten clients to be accepted")
        await _until(lambda: listener.held == 2, "the evicted sockets to close")
    finally:
        listener.close()
        for client in clients:
            client.close()
    assert max(seen) == 3 and guard.open_connections == 2
    assert 'toxmod_api_connections_closed_total{reason="evicted"} 8' in guard.metrics.render(
        queue_depth=0, model_version="v")


def test_an_episode_ends_after_a_quiet_spell(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    episodes = Episodes(logging.WARNING, quiet=60, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="bot.api"):
        for t in (0, 1, 30, 89, 150, 151):  # two episodes: 0-89, and 150- after 61 quiet seconds
            now[0] = t
            episodes.event("trouble %d", t)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["trouble 0", "trouble 150"]


# -- keys ------------------------------------------------------------------------------------------------------
def test_guessing_keys_is_rate_limited_per_address(start_server: StartServer) -> None:
    url = start_server(api_keys="right-key", api_auth_failure_burst=5, api_auth_failure_rate=0.05)
    body = {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}}

    def guess(i: int) -> tuple[int, dict[str, str]]:
        status, headers, _ = call(f"{url}/v1alpha1/comments:analyze?key=guess-{i}", body)
        return status, headers

    started = time.monotonic()
    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(guess, range(300)))
    elapsed = time.monotonic() - started
    statuses = [status for status, _ in answers]
    assert set(statuses) == {400, 429}
    assert statuses.count(400) <= 5 + math.ceil(0.05 * elapsed)  # the burst, and what refilled meanwhile
    assert all(int(headers["Retry-After"]) >= 1 for status, headers in answers if status == 429)
    assert analyze(url, body, key="right-key")[0] == 429  # the address is held off: a guess cannot tell a hit
    missing = call(f"{url}/v1/score", {"texts": ["hi"]})  # nor does leaving the key out help
    assert missing[0] == 429 and "invalid API key" in missing[2]["error"]["message"]


def test_behind_a_trusted_proxy_each_client_address_is_limited_on_its_own(start_server: StartServer) -> None:
    url = start_server(api_keys="right-key", api_auth_failure_burst=2, api_auth_failure_rate=0.001,
                       api_trusted_proxies="127.0.0.1")
    body = {"texts": ["hi"]}
    attacker = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7", "X-Goog-Api-Key": "guess"}
    assert [call(f"{url}/v1/score", body, attacker)[0] for _ in range(3)] == [400, 400, 429]
    other = {"X-Forwarded-For": "203.0.113.8", "X-Goog-Api-Key": "right-key"}
    assert call(f"{url}/v1/score", body, other)[0] == 200
    # without a trusted proxy the header is the client's to write, and changes nothing
    direct = start_server(api_keys="right-key", api_auth_failure_burst=2, api_auth_failure_rate=0.001)
    spoofed = [call(f"{direct}/v1/score", body, {"X-Forwarded-For": f"203.0.113.{i}", "X-Goog-Api-Key": "guess"})[0]
               for i in range(3)]
    assert spoofed == [400, 400, 429]


def test_every_429_says_when_to_retry_and_means_it(start_server: StartServer) -> None:
    url = start_server(api_keys="k", api_rate_limit=0.5, api_rate_burst=1)
    body = {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}}
    assert analyze(url, body, key="k")[0] == 200
    status, headers, answer = call(f"{url}/v1alpha1/comments:analyze?key=k", body)
    assert status == 429 and answer["error"]["status"] == "RESOURCE_EXHAUSTED"
    retry = int(headers["Retry-After"])
    assert 1 <= retry <= 2  # a token every 2 s
    time.sleep(retry)  # the behaviour under test is the clock: after Retry-After, the request goes through
    assert analyze(url, body, key="k")[0] == 200
    keyless = start_server(api_rate_limit=0.01, api_rate_burst=1)  # per address, without keys
    assert call(f"{keyless}/v1/score", {"texts": ["hi"]})[0] == 200
    status, headers, _ = call(f"{keyless}/v1/score", {"texts": ["hi"]})
    assert status == 429 and int(headers["Retry-After"]) == 100


def test_a_key_that_is_not_utf8_is_an_invalid_key(start_server: StartServer) -> None:
    url = start_server(api_keys="right-key")
    host, port = address(url)
    conn = http.client.HTTPConnection(host, port, timeout=WAIT)
    conn.putrequest("POST", "/v1/score")
    conn.putheader("X-Goog-Api-Key", b"\xff\xfe\x80key")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", "15")
    conn.endheaders(b'{"texts":["a"]}')
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    assert response.status == 400 and answer["error"]["message"] == "API key not valid. Please pass a valid API key."


def test_metrics_need_a_key_once_keys_are_set(start_server: StartServer) -> None:
    url = start_server(api_keys="right-key")
    assert call(f"{url}/metrics")[0] == 403
    assert call(f"{url}/metrics", headers={"Authorization": "Bearer wrong"})[0] == 400
    status, _, text = call(f"{url}/metrics", headers={"Authorization": "Bearer right-key"})
    assert status == 200 and "toxmod_api_requests_total" in text
    assert healthy(url)  # health checks stay open


# -- hostile bodies and headers --------------------------------------------------------------------------------
def test_json_nested_too_deep_is_refused_by_both_endpoints_alike(api_url: str) -> None:
    deep = b'{"texts": ["hi"], "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, _, answer = call(f"{api_url}/v1/score", deep)
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"
    assert answer["error"]["message"].startswith("Invalid JSON payload received. Message too deep.")
    status, theirs = analyze(api_url, b'{"comment": {"text": "hi"}, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    assert status == 400 and theirs["error"]["message"].startswith("Invalid JSON payload received. Message too deep.")


@pytest.mark.parametrize("name", ["tiny\x00v1", "tiny-v1\n", "../tiny-v1", "tiny-v1/"])
def test_a_model_name_is_checked_before_it_becomes_a_path(api_url: str, name: str) -> None:
    status, _, answer = call(f"{api_url}/v1/score", {"texts": ["hi"], "model": name})
    assert status == 400 and answer["error"]["message"].startswith("Unknown model:")


def test_a_guild_id_of_thousands_of_digits_is_one_clear_error(api_url: str) -> None:
    status, _, answer = call(f"{api_url}/v1/score", b'{"texts": ["hi"], "guild_id": ' + b"9" * 5000 + b"}")
    assert status == 400
    assert answer["error"]["message"] == "guild_id must be a Discord server id (a number)."


def test_headers_over_8_kb_get_the_apis_json_error_without_a_traceback(
        api_url: str, caplog: pytest.LogCaptureFixture) -> None:
    request = (b"POST /v1/score HTTP/1.1\r\nHost: toxmod\r\nX-Big: " + b"a" * 9000 +
               b"\r\nContent-Length: 2\r\n\r\n{}")
    with caplog.at_level(logging.INFO), sockets(api_url, 1, request) as (sock,):
        status, headers, body = read_response(sock)
    assert status == 431 and headers["content-type"].startswith("application/json")
    assert json.loads(body) == {"error": {"code": 431, "status": "INVALID_ARGUMENT",
                                          "message": "A request line or header is longer than 8190 bytes."}}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_a_client_that_leaves_mid_body_is_one_quiet_line_and_no_500(
        api_url: str, caplog: pytest.LogCaptureFixture) -> None:
    series = 'toxmod_api_requests_total{endpoint="/v1/score",code="%s"}'
    with caplog.at_level(logging.INFO):
        with sockets(api_url, 1, UNFINISHED_BODY):
            pass  # closed with 985 bytes unsent
        wait_for(lambda: metric(api_url, series % 499) or metric(api_url, series % 500), "the request to be counted")
    assert metric(api_url, series % 499) == 1 and metric(api_url, series % 500) is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    left = [r.getMessage() for r in caplog.records if "left before its request was read" in r.getMessage()]
    assert len(left) == 1 and "\n" not in left[0]


# -- the discovery document ------------------------------------------------------------------------------------
def test_the_discovery_document_never_points_where_a_host_header_says(start_server: StartServer) -> None:
    url = start_server()
    host, port = address(url)
    conn = http.client.HTTPConnection(host, port, timeout=WAIT)
    conn.request("GET", "/$discovery/rest?version=v1alpha1", headers={"Host": "evil.example"})
    document = json.loads(conn.getresponse().read())
    conn.close()
    assert document["rootUrl"] == document["baseUrl"] == f"{url}/"
    public = start_server(api_public_url="https://toxmod.example/perspective/")
    _, _, document = call(f"{public}/$discovery/rest?version=v1alpha1", headers={"Host": "evil.example"})
    assert document["rootUrl"] == "https://toxmod.example/perspective/"


# -- the bot's database ----------------------------------------------------------------------------------------
def test_a_guild_id_while_postgresql_is_down_is_503(start_server: StartServer) -> None:
    try:
        postgres = PostgresServer()  # its own server, to stop: the shared one serves other tests
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    try:
        url = postgres.create_database()
        db = Database(url).upgrade().start()
        db.write_sync(lambda s: update_guild_settings(s, 42, 1, "thresholds_set", {"thresholds": {"toxic": 0.01}}))
        db.close()
        api = start_server(db=Database(url), database_url=url)
        assert call(f"{api}/v1/score", {"texts": ["hello friend"], "guild_id": 42})[0] == 200
        postgres.stop()
        status, headers, answer = call(f"{api}/v1/score", {"texts": ["hello friend"], "guild_id": 7})
        assert status == 503 and answer["error"]["status"] == "UNAVAILABLE" and int(headers["Retry-After"]) >= 1
        assert re.match(r"The bot's database cannot be read now \(.+\): try again later, or leave out guild_id\.$",
                        answer["error"]["message"])
        assert call(f"{api}/v1/score", {"texts": ["hello friend"]})[0] == 200  # scoring itself goes on
    finally:
        postgres.stop()


# -- cost and turns --------------------------------------------------------------------------------------------
def test_what_a_request_costs_is_the_work_it_queues() -> None:
    assert cost(["gg"]) == 1 and cost(["x" * 1000]) == 1 and cost(["x" * 1001]) == 2
    assert cost(["gg"] * 256) == 256 and cost(["x" * 20_000, "gg"]) == 21


def test_a_batch_is_charged_by_its_texts_not_as_one_request(start_server: StartServer) -> None:
    url = start_server(api_keys="k", api_rate_limit=1, api_rate_burst=10)
    key = {"X-Goog-Api-Key": "k"}
    texts = [f"hello friend see you at the raid tonight {i}" for i in range(30)]
    assert call(f"{url}/v1/score", {"texts": texts}, key)[0] == 200  # let in: the bucket was not empty
    status, headers, _ = call(f"{url}/v1/score", {"texts": ["hello friend"]}, key)
    assert status == 429 and int(headers["Retry-After"]) >= 15  # 30 tokens spent of 10: 20 owed, at 1 a second


async def test_turns_hand_another_callers_text_over_within_one_window() -> None:
    loop = asyncio.get_running_loop()
    handed: list[str] = []
    pending: list[tuple[str, asyncio.Future[str]]] = []

    class Worker:  # hands each text back as its "scores" when the test says so
        async def score(self, text: str, language: str | None = None) -> str:
            handed.append(text)
            answer: asyncio.Future[str] = loop.create_future()
            pending.append((text, answer))
            return await answer

    async def settle() -> None:  # let every ready task run (one thread: no timing involved)
        for _ in range(10):
            await asyncio.sleep(0)

    worker, scheduler = Worker(), FairScheduler(window=4)
    backlog = [asyncio.ensure_future(scheduler.score(worker, "a", f"a{i}")) for i in range(100)]  # type: ignore[arg-type]
    await settle()
    assert handed == ["a0", "a1", "a2", "a3"] and scheduler.waiting(worker) == 96  # type: ignore[arg-type]
    single = asyncio.ensure_future(scheduler.score(worker, "b", "b0"))  # type: ignore[arg-type]
    await settle()
    while not single.done():
        text, answer = pending.pop(0)
        answer.set_result(text.upper())
        await settle()
    assert await single == "B0"
    assert handed.index("b0") <= 4 + 1  # behind the window it found, and at most one more of a's
    while pending:  # a's backlog goes on, each answer to its own text
        text, answer = pending.pop(0)
        answer.set_result(text.upper())
        await settle()
    assert [task.result() for task in backlog] == [f"A{i}" for i in range(100)]


def test_one_keys_backlog_does_not_hold_up_anothers_message(start_server: StartServer,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    forward = ToxicityModel.predict_normalized

    def slow_forward(self: ToxicityModel, normalized: list[str]) -> Any:  # a quarter second a batch, however small
        time.sleep(0.25)
        return forward(self, normalized)

    monkeypatch.setattr(ToxicityModel, "predict_normalized", slow_forward)
    url = start_server(api_keys="a,b", api_rate_burst=100_000)
    with ThreadPoolExecutor(1) as pool:  # 256 texts: four batches at least
        backlog = pool.submit(call, f"{url}/v1/score", {"texts": [f"hello friend number {i}" for i in range(256)]},
                              {"X-Goog-Api-Key": "a"})
        # two batches still waiting behind the one being scored
        wait_for(lambda: call(f"{url}/healthz")[2]["queue_depth"] >= 128, "the backlog to be queued")
        status, _, answer = call(f"{url}/v1/score", {"texts": ["hello friend"]}, {"X-Goog-Api-Key": "b"})
        assert status == 200 and answer["results"][0]["text"] == "hello friend"
        # answered in the middle of a's backlog, not behind it (first come, first served left nothing queued)
        assert call(f"{url}/healthz")[2]["queue_depth"] > 0 and not backlog.done()
        assert backlog.result()[0] == 200
