"""`toxmod serve` under load: requests/s and latency at 1, 10 and 100 concurrent clients, beside the scorer
called directly, so that what HTTP costs shows as a ratio.

Run: `python benchmarks/bench_serve.py` (about 3 minutes on 2 cores; `--quick` for a smoke run of under a
minute whose numbers mean little; `--jsonl` for one JSON object per measurement on stdout, the text on
stderr; `--model DIR` for another model than the one models/current names).

What is measured, each as a closed loop (every client sends one request, waits for the answer, sends the
next, for a fixed time; every client finishes at least one request), after a short warm-up of the same loop:
- through the server: `POST /v1alpha1/comments:analyze` (Perspective's API: one chat message a request, all six
  attributes asked for) and `POST /v1/score` (toxmod's own: 32 messages a request), from an aiohttp client
  whose connector allows as many connections as there are clients (kept alive between requests);
- directly: the same number of asyncio tasks each awaiting `ScoringWorker.score(text)` (one message an await,
  or 32 gathered, as the /v1/score handler does), no HTTP. server/direct is the server's msg/s over the
  direct figure at the same concurrency: 1.00x would mean HTTP costs nothing.

The server is `python -m bot.cli serve` in its own process (the real CLI, its settings from the environment
and `.env` as always, except the rate limit raised so it never throttles, API_MAX_TEXTS at least 256, no API
keys and no bot database),
started once and stopped with SIGINT (Ctrl-C) at the end; the load generator is this process. On a small
machine both share the same cores, so the client's own CPU use is part of what limits the server: each line
says how many cores the server and this process used. The direct measurements run in this process after
the server has stopped, with the worker the server would build (`open_scorer`, the same settings: model,
engine and threads as toxmod chooses them, batch limit, repeat cache).

The texts are real chat (GameTox, in its original order; examples/chat.csv where GameTox is absent), each
with a counter appended so that no two are alike: the worker's repeat cache is defeated on purpose, so every
message costs a forward pass; every timed loop starts at the same line, so a server row and its direct
counterpart score the same messages. One row per side cycles the same 200 messages instead, to show the cache.
From run to run on a shared 2-core machine the figures move by about 10 %, and so do the ratios: read a
/v1/score ratio between 0.9x and 1.1x as "no measurable difference".
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import aiohttp
from benchkit import ROOT, Output, latency_figures, package_version

# the environment as launched, for the server's process: the bot package, imported below, sets
# OMP_WAIT_POLICY in its own process, and the server's must choose for itself
LAUNCH_ENV = dict(os.environ)
sys.path.insert(0, str(ROOT))

from bot.scoring.tuning import cores, cpu_name  # noqa: E402
from bot.settings import Settings  # noqa: E402

if TYPE_CHECKING:
    from bot.moderation.worker import ScoringWorker

FULL = {"duration": 10.0, "warmup": 1.0}
QUICK = {"duration": 1.5, "warmup": 0.3}
CONCURRENCY = "1,10,100"
BATCH = 32  # messages in one /v1/score request
REPEATS = 200  # distinct messages the repeats rows cycle through
REPEAT_CONCURRENCY = 10
ATTRIBUTES = ("TOXICITY", "SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT")
JSON_HEADERS = {"Content-Type": "application/json"}
START_TIMEOUT = 300.0  # seconds for the server to answer /healthz (a first start may time the engines)
STOP_TIMEOUT = 60.0
LABEL = 40  # width of a row's name in the table

# The rows, in the table's order: name, and the direct row each server row is compared with.
ANALYZE, SCORE, ANALYZE_REPEATS = "analyze", "score", "analyze-repeats"
DIRECT, DIRECT_BATCH, DIRECT_REPEATS = "direct", "direct-batch", "direct-repeats"
PATHS = {
    ANALYZE: "POST comments:analyze (1 msg)",
    SCORE: f"POST /v1/score ({BATCH} msgs)",
    ANALYZE_REPEATS: f"POST comments:analyze, {REPEATS} repeated",
    DIRECT: "direct worker.score (1 msg)",
    DIRECT_BATCH: f"direct, {BATCH} gathered per await",
    DIRECT_REPEATS: f"direct worker.score, {REPEATS} repeated",
}
COUNTERPART = {ANALYZE: DIRECT, SCORE: DIRECT_BATCH, ANALYZE_REPEATS: DIRECT_REPEATS}


# -- texts ---------------------------------------------------------------------------------------------------
def chat_lines() -> tuple[list[str], str]:
    """Real chat messages in their original order: GameTox, or the shipped example where it is absent."""
    gametox = Settings().data_dir / "gametox" / "gametox.csv"
    if gametox.is_file():
        with gametox.open(newline="", encoding="utf-8") as f:
            lines = [row["message"].strip() for row in csv.DictReader(f) if (row["message"] or "").strip()]
        return lines, f"GameTox in-game chat ({len(lines):,} messages, in their original order)"
    example = ROOT / "examples" / "chat.csv"
    with example.open(newline="", encoding="utf-8") as f:
        lines = [row["content"].strip() for row in csv.DictReader(f) if (row["content"] or "").strip()]
    return lines, f"examples/chat.csv ({len(lines)} messages; {gametox} not found)"


Source = Callable[[], str]  # the next message to send


class Texts:
    """Where each loop's messages come from.

    Unique: the chat lines in turn, each with a counter appended that is shared by the whole run, so that no two
    texts are alike and the repeat cache never answers (its cost is what is measured). Every timed loop starts
    at the first line, so a server row and its direct counterpart score the same messages (message lengths
    vary along the file, and with them the cost of a batch); warm-ups start half-way through the file. The
    counter starts at 100,000 so that every suffix has the same number of digits (and of tokens, nearly).
    """

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self._count = itertools.count(100_000)
        self.repeated = list(dict.fromkeys(lines))[:REPEATS]  # the first distinct lines, as they are

    def unique(self, *, warmup: bool) -> Source:
        position = itertools.count(len(self.lines) // 2 if warmup else 0)
        return lambda: f"{self.lines[next(position) % len(self.lines)]} {next(self._count)}"

    def repeats(self) -> Source:
        """The same REPEATS messages, cycled: once primed, every one is a cache hit."""
        cycle = itertools.cycle(self.repeated)
        return lambda: next(cycle)

    def source(self, row: str, *, warmup: bool) -> Source:
        return self.repeats() if row in (ANALYZE_REPEATS, DIRECT_REPEATS) else self.unique(warmup=warmup)


# -- the closed loop -----------------------------------------------------------------------------------------
Call = Callable[[], Awaitable[int]]  # one request (or await); returns the messages it scored


class Failed(Exception):
    """A request the server did not answer with 200."""


@dataclass
class Loop:
    """What `concurrency` clients did in one closed loop."""

    seconds: float
    latencies_ms: list[float]
    messages: int
    errors: int
    first_error: str | None


async def closed_loop(call: Call, concurrency: int, seconds: float) -> Loop:
    """`concurrency` clients, each calling again as soon as its call returns, until `seconds` have passed;
    every client completes at least one call, and the time runs until the last one returns."""
    latencies: list[float] = []
    messages = errors = 0
    first_error: str | None = None
    start = time.perf_counter()
    deadline = start + seconds

    async def client() -> None:
        nonlocal messages, errors, first_error
        while True:
            sent = time.perf_counter()
            try:
                scored = await call()  # not `messages += await call()`: that reads `messages` before the await
                latencies.append((time.perf_counter() - sent) * 1000)
                messages += scored
            except (TimeoutError, Failed, aiohttp.ClientError) as exc:
                errors += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"
            if time.perf_counter() >= deadline:
                return

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return Loop(time.perf_counter() - start, latencies, messages, errors, first_error)


class CpuMeter:
    """CPU seconds used by the server's process (all its threads) and by this one, over a measurement."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self._start = (self._server(), self._own())

    def _server(self) -> float:
        if self.server_pid is None:
            return 0.0
        # /proc/PID/stat: utime and stime are fields 14 and 15; split after the command name, which may hold spaces
        fields = Path(f"/proc/{self.server_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def cores(self, seconds: float) -> tuple[float | None, float]:
        server = (self._server() - self._start[0]) / seconds if self.server_pid is not None else None
        return server, (self._own() - self._start[1]) / seconds


async def measure(row: str, concurrency: int, make_call: Callable[[Source], Call], texts: Texts,
                  args: argparse.Namespace, server_pid: int | None) -> dict[str, Any]:
    """A warm-up loop (connections opened, batch shapes seen), then the timed one."""
    await closed_loop(make_call(texts.source(row, warmup=True)), concurrency, args.warmup)
    meter = CpuMeter(server_pid)
    loop = await closed_loop(make_call(texts.source(row, warmup=False)), concurrency, args.duration)
    server_cores, bench_cores = meter.cores(loop.seconds)
    requests = len(loop.latencies_ms)
    return {"row": row, "path": PATHS[row], "concurrency": concurrency, "ok": requests > 0 and not loop.errors,
            "requests": requests, "messages": loop.messages, "seconds": loop.seconds,
            "req_s": requests / loop.seconds, "msg_s": loop.messages / loop.seconds,
            **latency_figures(loop.latencies_ms), "errors": loop.errors, "error": loop.first_error,
            "server_cores": server_cores, "bench_cores": bench_cores}


# -- through the server ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def analyze_call(session: aiohttp.ClientSession, base: str, text: Source) -> Call:
    url = f"{base}/v1alpha1/comments:analyze"
    attributes: dict[str, dict[str, object]] = {name: {} for name in ATTRIBUTES}

    async def call() -> int:
        body = json.dumps({"comment": {"text": text()}, "requestedAttributes": attributes})
        async with session.post(url, data=body, headers=JSON_HEADERS) as response:
            payload = await response.read()
            if response.status != 200:
                raise Failed(f"HTTP {response.status}: {payload[:200]!r}")
        return 1

    return call


def score_call(session: aiohttp.ClientSession, base: str, text: Source, batch: int) -> Call:
    url = f"{base}/v1/score"

    async def call() -> int:
        body = json.dumps({"texts": [text() for _ in range(batch)]})
        async with session.post(url, data=body, headers=JSON_HEADERS) as response:
            payload = await response.read()
            if response.status != 200:
                raise Failed(f"HTTP {response.status}: {payload[:200]!r}")
        return batch

    return call


def server_calls(session: aiohttp.ClientSession, base: str, row: str, batch: int) -> Callable[[Source], Call]:
    if row == SCORE:
        return lambda text: score_call(session, base, text, batch)
    return lambda text: analyze_call(session, base, text)


def client_session(concurrency: int) -> aiohttp.ClientSession:
    """One connection per client at most, kept alive; no client-side timeout short of a stuck server."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max(1, concurrency)),
                                 timeout=aiohttp.ClientTimeout(total=600))


class Server:
    """`python -m bot.cli serve` on a free loopback port, its output in a log file."""

    def __init__(self, model: str | None, tmp: Path, batch: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "serve.log"
        env = {**LAUNCH_ENV, "API_RATE_LIMIT": "1000000", "API_RATE_BURST": "1000000", "API_KEYS": "",
               "API_MAX_TEXTS": str(max(batch, REPEATS, 256)),
               "DATABASE_URL": f"sqlite:///{tmp / 'no-bot-database.db'}"}  # absent: served without one
        command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if model:
            command += ["--model", model]
        self._log: IO[str] = self.log_path.open("w")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log_tail(self) -> str:
        lines = [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        return " | ".join(lines[-3:]) or f"exit status {self.proc.returncode}"

    async def wait_ready(self) -> dict[str, Any]:
        """/healthz's answer, once it gives one."""
        deadline = time.monotonic() + START_TIMEOUT
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited before it answered: {self.log_tail()}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no answer from {self.base}/healthz in {START_TIMEOUT:.0f} s")
                try:
                    async with session.get(f"{self.base}/healthz") as response:
                        if response.status == 200:
                            health: dict[str, Any] = await response.json()
                            return health
                except (TimeoutError, aiohttp.ClientError):
                    pass
                await asyncio.sleep(0.2)

    def stop(self) -> int | None:
        """Ctrl-C, as a person would stop it; killed if it does not end in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


async def check_answers(base: str, batch: int) -> None:
    """One request of each kind, its answer read in full: the loops below only check the status."""
    async with aiohttp.ClientSession() as session:
        body = {"comment": {"text": "gg wp all"}, "requestedAttributes": {name: {} for name in ATTRIBUTES}}
        async with session.post(f"{base}/v1alpha1/comments:analyze", json=body) as response:
            answer = await response.json()
            missing = set(ATTRIBUTES) - set(answer.get("attributeScores", {}))
            if response.status != 200 or missing:
                raise RuntimeError(f"comments:analyze answered {response.status}: {json.dumps(answer)[:300]}")
        async with session.post(f"{base}/v1/score", json={"texts": ["gg wp all"] * batch}) as response:
            answer = await response.json()
            if response.status != 200 or len(answer.get("results", [])) != batch:
                raise RuntimeError(f"/v1/score answered {response.status}: {json.dumps(answer)[:300]}")


async def prime_server(base: str, texts: list[str]) -> None:
    """Every repeated message scored once, so the repeats row starts with them all remembered."""
    async with aiohttp.ClientSession() as session, session.post(f"{base}/v1/score", json={"texts": texts}) as r:
        if r.status != 200:
            raise RuntimeError(f"priming the cache: HTTP {r.status}")


async def through_server(args: argparse.Namespace, texts: Texts, out: Output) -> tuple[list[dict[str, Any]], str]:
    with tempfile.TemporaryDirectory(prefix="toxmod-bench-serve-") as tmp:
        server = Server(args.model, Path(tmp), args.batch)
        try:
            health = await server.wait_ready()
            started = time.perf_counter() - server.started
            served = f"model {health['model']}, {health['engine']}"
            out.say(f"\nserver: `python -m bot.cli serve` (pid {server.proc.pid}), {served}; answered /healthz "
                    f"{started:.1f} s after it was started")
            await check_answers(server.base, args.batch)
            rows: list[dict[str, Any]] = []
            pid = server.proc.pid
            for row, concurrency in [*((ANALYZE, c) for c in args.concurrency),
                                     *((SCORE, c) for c in args.concurrency),
                                     (ANALYZE_REPEATS, args.repeat_concurrency)]:
                if row == ANALYZE_REPEATS:
                    await prime_server(server.base, texts.repeated)
                async with client_session(concurrency) as session:
                    calls = server_calls(session, server.base, row, args.batch)
                    rows.append(report(out, await measure(row, concurrency, calls, texts, args, pid)))
        finally:
            status = server.stop()
        if status not in (0, None):
            out.say(f"  (the server exited with status {status} after SIGINT: {server.log_tail()})")
        return rows, served


# -- the scorer directly -------------------------------------------------------------------------------------
def direct_call(worker: ScoringWorker, text: Source) -> Call:
    async def call() -> int:
        await worker.score(text())
        return 1

    return call


def direct_batch_call(worker: ScoringWorker, text: Source, batch: int) -> Call:
    async def call() -> int:
        await asyncio.gather(*(worker.score(text()) for _ in range(batch)))
        return batch

    return call


async def direct(args: argparse.Namespace, texts: Texts, out: Output) -> tuple[list[dict[str, Any]], str]:
    """The worker the server builds (`open_scorer` with the same settings), in this process, no HTTP."""
    from bot.moderation.worker import open_scorer

    overrides: dict[str, object] = {"model_dir": Path(args.model)} if args.model else {}
    settings = Settings.load(None, **overrides)
    loading = time.perf_counter()
    worker = await asyncio.to_thread(open_scorer, settings)
    scorer = f"model {worker.model.version}, {worker.model.choice.describe()}"
    out.say(f"\ndirect: ScoringWorker in this process, {scorer}; loaded in {time.perf_counter() - loading:.1f} s")
    rows: list[dict[str, Any]] = []
    try:
        def make_call(text: Source) -> Call:
            return direct_call(worker, text)

        def make_batch_call(text: Source) -> Call:
            return direct_batch_call(worker, text, args.batch)

        for concurrency in args.concurrency:
            rows.append(report(out, await measure(DIRECT, concurrency, make_call, texts, args, None)))
        for concurrency in args.concurrency:
            rows.append(report(out, await measure(DIRECT_BATCH, concurrency, make_batch_call, texts, args, None)))
        await asyncio.gather(*(worker.score(text) for text in texts.repeated))
        hits, lookups = worker.cache_hits, worker.cache_lookups
        result = await measure(DIRECT_REPEATS, args.repeat_concurrency, make_call, texts, args, None)
        result["cache_hit_rate"] = (worker.cache_hits - hits) / max(1, worker.cache_lookups - lookups)
        rows.append(report(out, result))
    finally:
        await asyncio.to_thread(worker.stop)
    return rows, scorer


# -- output --------------------------------------------------------------------------------------------------
def rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:,.1f}"


def ms(value: float) -> str:
    return f"{value:,.1f}"


def cores_used(row: dict[str, Any]) -> str:
    server = "" if row["server_cores"] is None else f"server {row['server_cores']:.2f} + "
    return f"{server}bench {row['bench_cores']:.2f} cores"


def report(out: Output, row: dict[str, Any]) -> dict[str, Any]:
    """The progress line for one measurement, as it finishes."""
    name = f"  {row['path']:<{LABEL}} x{row['concurrency']:<4}"
    if not row["requests"]:
        out.say(f"{name} failed: {row['error']}")
        return row
    errors = f"; {row['errors']:,} FAILED ({row['error']})" if row["errors"] else ""
    hits = f", cache hits {row['cache_hit_rate']:.0%}" if "cache_hit_rate" in row else ""
    out.say(f"{name} {rate(row['req_s']):>7} req/s {rate(row['msg_s']):>7} msg/s  p50 {ms(row['p50']):>7} ms  "
            f"p99 {ms(row['p99']):>7} ms  ({row['requests']:,} requests in {row['seconds']:.1f} s; "
            f"{cores_used(row)}{hits}){errors}")
    return row


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each server row with its msg/s over the direct row's at the same concurrency."""
    by_key = {(row["row"], row["concurrency"]): row for row in rows}
    for row in rows:
        other = by_key.get((COUNTERPART.get(row["row"], ""), row["concurrency"]))
        usable = other is not None and row["requests"] > 0 and other["msg_s"] > 0
        row["server_over_direct"] = row["msg_s"] / other["msg_s"] if other is not None and usable else None
    return rows


def table(rows: list[dict[str, Any]]) -> list[str]:
    head = (f"{'path':<{LABEL}} {'clients':>7} {'req/s':>8} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'server/direct':>13}")
    lines = [head, "-" * len(head)]
    order = list(PATHS)
    for row in sorted(rows, key=lambda r: (order.index(r["row"]), r["concurrency"])):
        name = f"{row['path']:<{LABEL}} {row['concurrency']:>7}"
        if not row["requests"]:
            lines.append(f"{name} failed: {row['error']}")
            continue
        ratio = "" if row["server_over_direct"] is None else f"{row['server_over_direct']:.2f}x"
        flag = f"  ({row['errors']:,} failed)" if row["errors"] else ""
        lines.append(f"{name} {rate(row['req_s']):>8} {rate(row['msg_s']):>8} {ms(row['p50']):>8} "
                     f"{ms(row['p99']):>8} {ratio:>13}{flag}")
    return lines


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short loops (under a minute): checks that it runs")
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per measurement on stdout")
    parser.add_argument("--model", metavar="DIR", help="model directory (default: the one models/current names)")
    parser.add_argument("--duration", type=float, help=f"seconds each timed loop runs (default {FULL['duration']:g})")
    parser.add_argument("--warmup", type=float, help=f"seconds of warm-up before each (default {FULL['warmup']:g})")
    parser.add_argument("--concurrency", default=CONCURRENCY, help=f"clients, comma-separated (default {CONCURRENCY})")
    parser.add_argument("--batch", type=int, default=BATCH, help=f"messages per /v1/score request (default {BATCH})")
    parser.add_argument("--repeat-concurrency", type=int, default=REPEAT_CONCURRENCY,
                        help=f"clients of the repeats rows (default {REPEAT_CONCURRENCY})")
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    try:
        args.concurrency = sorted({int(part) for part in args.concurrency.split(",") if part.strip()})
    except ValueError:
        parser.error(f"--concurrency must be numbers separated by commas, got {args.concurrency!r}")
    if not args.concurrency or min(args.concurrency) < 1 or args.batch < 1 or args.repeat_concurrency < 1:
        parser.error("concurrency and batch must be at least 1")
    return args


async def run(args: argparse.Namespace, out: Output) -> int:
    started = time.perf_counter()
    lines, source = chat_lines()
    texts = Texts(lines)
    header = {"cpu": cpu_name(), "cores": cores(), "python": sys.version.split()[0],
              "aiohttp": package_version("aiohttp"), "torch": package_version("torch"),
              "onnxruntime": package_version("onnxruntime"), "duration_s": args.duration, "warmup_s": args.warmup,
              "batch": args.batch, "texts": source}
    out.say(f"{header['cpu']}, {header['cores']} cores; Python {header['python']}, aiohttp {header['aiohttp']}, "
            f"torch {header['torch']}, onnxruntime {header['onnxruntime']}")
    out.say(f"server and load generator are separate processes on these same {header['cores']} cores: the "
            "client's CPU competes with the server's (each line says how many cores each used)")
    out.say(f"texts: {source}, each with a counter appended: the repeat cache is defeated on purpose, every "
            f"message is a forward pass (except the '{REPEATS} repeated' rows, which cycle {REPEATS} messages)")
    out.say(f"closed loop: each client sends one request, awaits the answer, sends the next; {args.warmup:g} s "
            f"warm-up, then {args.duration:g} s timed (each client finishes at least one request)")
    out.record("machine", "header", header)
    server_rows, served = await through_server(args, texts, out)
    direct_rows, scorer = await direct(args, texts, out)
    rows = with_ratios(server_rows + direct_rows)
    for row in rows:
        out.record("serve", f"{row['path']} x{row['concurrency']}", row)
    out.say(f"\nserver: {served}\ndirect: {scorer}")
    for line in table(rows):
        out.say(line)
    out.say(f"\nreq/s: requests (or direct awaits) answered over the loop's time; msg/s: messages scored; p50 / "
            f"p99: one request, sent to answer read (for /v1/score all {args.batch} of its messages). server/direct: "
            "msg/s through HTTP over msg/s of the worker called directly at the same concurrency (the 1-message "
            f"rows against `direct worker.score`, /v1/score against {args.batch} gathered). "
            f"(this run took {time.perf_counter() - started:.0f} s)")
    failed = [row for row in rows if not row["requests"] or row["errors"]]
    return 1 if failed else 0


def main() -> int:
    args = parse_args()
    return asyncio.run(run(args, Output(args.jsonl)))


if __name__ == "__main__":
    sys.exit(main())
