"""Write throughput of the database path, PostgreSQL beside SQLite, from one process and from several at once.

Run: `python benchmarks/bench_storage.py` (about 70 s on 2 cores; `--quick` for a smoke run of
about 20 s whose numbers mean little; `--jsonl` for one JSON object per measurement on stdout, the text on
stderr). PostgreSQL is a throwaway cluster of its own (tests/support/postgres.py: Debian's `postgresql`
package) unless `--postgres-url` names a server; that URL is an admin URL (`postgresql+psycopg://user@host:
port/postgres`) on which each measurement creates a scratch database and drops it afterwards.

The workload is what the bot writes: `record_score` for each message, a flag (with its text) for one in
ten, through the real `Database` writer thread. Two ways of arriving:
- batched: every message submitted at once (`Database.submit`), as a burst of chat arrives; the writer
  groups what is queued into one transaction per batch, each message in its own savepoint;
- one per transaction: `write_sync` for each message, waiting for it before the next, as on a quiet
  server where nothing else is queued. The writer still waits up to `max_wait_ms` for company before it
  writes, so this measures mostly that wait, which is the latency a quiet server's writes see.

Each is run from 1 process and from several at once (shards sharing one database; for SQLite, several
processes on one file in WAL mode, taking turns at its one write lock), each process with its own
connections and writer, started together at a file barrier. msg/s is every message of every process over
the wall time from the first start to the last finish; p50/p99 are per message, submit to written.

Durability is not what is compared: the throwaway cluster runs with fsync and synchronous_commit off, and
SQLite in WAL mode with synchronous=NORMAL does not sync at each commit either. On a server of your own
(`--postgres-url`) the PostgreSQL figures include its own commit durability.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchkit import ROOT, Output, answer, latency_figures, package_version

sys.path.insert(0, str(ROOT))

from bot.storage.schema import upgrade

# messages per process: batched, and one per transaction (slow by design: see the module docstring)
FULL = {"messages": 4000, "sync_messages": 300, "processes": 4}
QUICK = {"messages": 300, "sync_messages": 25, "processes": 4}
FLAG_EVERY = 10  # one message in ten is flagged
BARRIER_TIMEOUT = 120.0  # seconds for the processes of one measurement to get ready, and then to finish
BACKENDS = ("sqlite", "postgres")
WORKLOADS = {"batched": "batched (submit all)", "sync": "one per transaction"}


# -- the child side: one writer process ------------------------------------------------------------------------
def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Write `messages` scored messages to `url` as `mode` says; what it took, in wall-clock stamps that the
    parent can line up with the other processes'."""
    from functools import partial

    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from bot.decision import Decision, Scores
    from bot.labels import LABELS
    from bot.moderation.policy import Policy
    from bot.storage.database import Database
    from bot.storage.messages import MessageRef, record_score

    policy = Policy(dict.fromkeys(LABELS, 0.5))
    flagged = policy.decide(Scores((0.9, 0.0, 0.7, 0.0, 0.6, 0.0), "bench", 5.0))
    clean = policy.decide(Scores((0.1, 0.0, 0.05, 0.0, 0.02, 0.0), "bench", 5.0))

    def write(ref: MessageRef, decision: Decision, content: str, session: Session) -> None:
        record_score(session, ref, decision, content)

    jobs = []
    for i in range(spec["messages"]):
        message_id = spec["first_id"] + i
        ref = MessageRef(guild_id=1, channel_id=10 + i % 5, message_id=message_id, author_id=100 + i % 200)
        is_flagged = i % FLAG_EVERY == 0
        content = (f"you absolute idiot, message {message_id}" if is_flagged
                   else f"gg anyone up for a raid {message_id}")
        jobs.append(partial(write, ref, flagged if is_flagged else clean, content))

    db = Database(spec["url"]).start()
    try:
        # connect before the barrier (at a statement: a session connects no sooner); connecting is not timed
        db.write_sync(lambda session: session.execute(text("SELECT 1")))
        Path(spec["ready"]).touch()
        deadline = time.monotonic() + BARRIER_TIMEOUT
        while not Path(spec["go"]).exists():
            if time.monotonic() > deadline:
                raise TimeoutError("no go signal")
            time.sleep(0.001)
        started_wall, started = time.time(), time.perf_counter()
        latencies: list[float] = []
        if spec["mode"] == "batched":
            submitted = []
            for job in jobs:
                submitted.append((time.perf_counter(), db.submit(job)))
            for at, future in submitted:
                future.result()
                # completion order follows submission order (one writer, FIFO), so this is when it was written
                # to within the time it takes this loop to reach it
                latencies.append((time.perf_counter() - at) * 1000)
        else:
            for job in jobs:
                at = time.perf_counter()
                db.write_sync(job)
                latencies.append((time.perf_counter() - at) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        db.close()
    return {"messages": len(jobs), "start": started_wall, "end": started_wall + elapsed, "seconds": elapsed,
            "latencies": latencies}


# -- the parent side --------------------------------------------------------------------------------------------
@dataclass
class Run:
    """One measurement: a backend, a workload, a number of processes."""

    backend: str
    workload: str
    processes: int
    messages: int  # per process


def run_together(url: str, run: Run, tmp: Path, first_id: int) -> dict[str, Any]:
    """`run.processes` writers started at once on `url`; throughput over all of them, and latency percentiles."""
    go = tmp / f"go-{first_id}"
    procs: list[tuple[Path, subprocess.Popen[str]]] = []
    try:
        for k in range(run.processes):
            ready = tmp / f"ready-{first_id}-{k}"
            spec = {"url": url, "mode": run.workload, "messages": run.messages,
                    "first_id": first_id + k * 10_000_000, "ready": str(ready), "go": str(go)}
            procs.append((ready, subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(spec)], cwd=ROOT,
                                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
        deadline = time.monotonic() + BARRIER_TIMEOUT
        while not all(ready.exists() for ready, _ in procs):
            if any(proc.poll() is not None for _, proc in procs) or time.monotonic() > deadline:
                break  # one died before the barrier (its JSON line says why) or never got ready
            time.sleep(0.005)
        go.touch()
        outputs = [proc.communicate(timeout=BARRIER_TIMEOUT) for _, proc in procs]
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    results = [last_json(out, err) for out, err in outputs]
    failed = [r for r in results if not r.get("ok")]
    if failed:
        return {"ok": False, "error": failed[0].get("error", "failed")}
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    total = sum(r["messages"] for r in results)
    latencies = [ms for r in results for ms in r["latencies"]]
    return {"ok": True, "messages": total, "wall_s": wall, "msg_s": total / wall,
            "per_process_msg_s": [r["messages"] / r["seconds"] for r in results], **latency_figures(latencies)}


def last_json(stdout: str, stderr: str) -> dict[str, Any]:
    """The child's JSON line (benchkit.answer), or its last stderr line if it died without one."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    tail = [line for line in stderr.splitlines() if line.strip()][-1:] or ["no output"]
    return {"ok": False, "error": tail[0]}


class Backends:
    """Where each measurement writes: a new SQLite file, or a new database on the PostgreSQL server."""

    def __init__(self, tmp: Path, postgres: bool, postgres_url: str | None) -> None:
        self.tmp = tmp
        self.postgres_error: str | None = "not asked for"
        self._server: Any = None
        self._count = 0
        if not postgres:
            return
        self.postgres_error = None
        try:
            if postgres_url:
                os.environ["TOXMOD_TEST_POSTGRES_URL"] = postgres_url  # PostgresServer's "a server of your own"
            from tests.support.postgres import PostgresServer, PostgresUnavailable

            try:
                self._server = PostgresServer()
            except PostgresUnavailable as exc:
                self.postgres_error = str(exc)
        except ImportError as exc:
            self.postgres_error = f"cannot import tests.support.postgres: {exc}"

    @contextmanager
    def database(self, backend: str) -> Iterator[str]:
        """A fresh, migrated database's URL; dropped (PostgreSQL) or deleted (SQLite) afterwards."""
        self._count += 1
        if backend == "sqlite":
            path = self.tmp / f"bench-{self._count}.db"
            url = f"sqlite:///{path}"
            upgrade(url)
            try:
                yield url
            finally:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            return
        if self._server is None:
            raise RuntimeError(self.postgres_error or "PostgreSQL unavailable")
        url = self._server.create_database()
        try:
            upgrade(url)
            yield url
        finally:
            self._server.drop_database(url)

    def postgres_version(self) -> str:
        if self._server is None:
            return f"unavailable ({self.postgres_error})"
        from sqlalchemy import create_engine, text

        engine = create_engine(self._server.admin_url)
        try:
            with engine.connect() as conn:
                return str(conn.execute(text("SHOW server_version")).scalar())
        finally:
            engine.dispose()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


def rate(value: float) -> str:
    return f"{value:,.0f}"


def ms(value: float) -> str:
    return f"{value / 1000:,.2f} s" if value >= 1000 else f"{value:,.1f} ms"


def ratio(pg: dict[str, Any] | None, sqlite_: dict[str, Any] | None) -> str:
    if not pg or not sqlite_ or not pg["ok"] or not sqlite_["ok"]:
        return "n/a"
    return f"{pg['msg_s'] / sqlite_['msg_s']:.2f}x"


def cell(result: dict[str, Any] | None) -> str:
    if result is None:
        return "not run"
    if not result["ok"]:
        return "failed"
    return f"{rate(result['msg_s'])} ({ms(result['p50'])} / {ms(result['p99'])})"


def table(runs: list[Run], results: dict[tuple[str, str, int], dict[str, Any]]) -> list[str]:
    """One row per workload and process count, the two backends side by side."""
    keys = sorted({(r.workload, r.processes, r.messages) for r in runs}, key=lambda k: (list(WORKLOADS).index(k[0]),
                                                                                      k[1]))
    head = (f"{'workload':<22} {'procs':>5} {'messages':>9}   {'SQLite msg/s (p50 / p99)':>30}   "
            f"{'PostgreSQL msg/s (p50 / p99)':>30}   {'PG/SQLite':>9}")
    lines = [head, "-" * len(head)]
    for workload, processes, messages in keys:
        lite, pg = results.get(("sqlite", workload, processes)), results.get(("postgres", workload, processes))
        lines.append(f"{WORKLOADS[workload]:<22} {processes:>5} {processes * messages:>9,}   {cell(lite):>30}   "
                     f"{cell(pg):>30}   {ratio(pg, lite):>9}")
    return lines


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (about 20 s): checks that everything runs")
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per measurement on stdout")
    parser.add_argument("--postgres-url", help="admin URL of a PostgreSQL server to create scratch databases on "
                                               "(default: a throwaway cluster of its own)")
    parser.add_argument("--messages", type=int, help=f"batched messages per process (default {FULL['messages']:,})")
    parser.add_argument("--sync-messages", type=int,
                        help=f"one-per-transaction messages per process (default {FULL['sync_messages']:,})")
    parser.add_argument("--processes", type=int, help=f"processes of the concurrent runs (default "
                                                      f"{FULL['processes']})")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="sqlite,postgres (default: both)")
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.backends = [b for b in args.backends.split(",") if b]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    return args


def main() -> int:
    args = parse_args()
    out = Output(args.jsonl)
    started = time.perf_counter()
    runs = [Run(backend, workload, processes, args.messages if workload == "batched" else args.sync_messages)
            for workload in WORKLOADS for processes in sorted({1, args.processes}) for backend in args.backends]
    results: dict[tuple[str, str, int], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="toxmod-bench-storage-") as tmp_name:
        tmp = Path(tmp_name)
        backends = Backends(tmp, "postgres" in args.backends, args.postgres_url)
        try:
            header = {"cores": os.cpu_count(), "sqlite": sqlite3.sqlite_version,
                      "postgres": backends.postgres_version(), "sqlalchemy": package_version("sqlalchemy"),
                      "psycopg": package_version("psycopg"),
                      "postgres_server": "given" if args.postgres_url else "throwaway cluster, fsync off"}
            out.say(f"{header['cores']} cores, SQLite {header['sqlite']}, PostgreSQL {header['postgres']} "
                    f"({header['postgres_server']}), SQLAlchemy {header['sqlalchemy']}, psycopg {header['psycopg']}")
            out.say(f"workload: record_score per message, one in {FLAG_EVERY} flagged, through Database's writer")
            out.record("machine", "header", header)
            for n, run in enumerate(runs):
                label = f"{run.backend:<8} {WORKLOADS[run.workload]:<22} x{run.processes}"
                try:
                    with backends.database(run.backend) as url:
                        result = run_together(url, run, tmp, first_id=(n + 1) * 100_000_000)
                except Exception as exc:
                    result = {"ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
                results[(run.backend, run.workload, run.processes)] = result
                if result["ok"]:
                    out.say(f"  {label} {rate(result['msg_s']):>8} msg/s  {result['messages']:>6,} messages in "
                            f"{result['wall_s']:.2f} s, p50 {ms(result['p50'])}, p99 {ms(result['p99'])}")
                else:
                    out.say(f"  {label} failed: {result['error']}")
                out.record("storage", label, {"backend": run.backend, "workload": run.workload,
                                              "processes": run.processes, "messages_per_process": run.messages,
                                              **result})
        finally:
            backends.stop()
    out.say()
    for line in table(runs, results):
        out.say(line)
    out.say(f"\nmsg/s: all processes' messages over the wall time from the first start to the last finish; p50 / "
            f"p99: one message, submitted to written. (this run took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        answer(measure, json.loads(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
