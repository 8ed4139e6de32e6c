"""Helpers shared by the benchmark's processes: percentiles, a competing CPU load, child processes that
answer in one JSON line, and the rusage of one child.

Imports nothing heavy (no torch, no bot), so the parent process stays small and idle while it measures.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# The competing load: a second interpreter spinning on one core, at the same priority as the scorer, the
# way another bot, a game server or a build would share a small VPS.
SPIN = "while True: pass"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_figures(latencies_ms: list[float]) -> dict[str, float]:
    return {"p50": percentile(latencies_ms, 0.5), "p99": percentile(latencies_ms, 0.99)}


def wait_with_usage(proc: subprocess.Popen[Any]) -> resource.struct_rusage:
    """Wait for one child and return its own resource usage (RUSAGE_CHILDREN would mix every child's)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage


@dataclass
class Load:
    """What the competing process did: the share of one core it used while it ran (None: no load)."""

    core_share: float | None = None


@contextmanager
def competing_load(enabled: bool) -> Iterator[Load]:
    """While the block runs, another process burns one core in a tight loop; stopped after it."""
    load = Load()
    if not enabled:
        yield load
        return
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", SPIN])
    time.sleep(0.2)  # let the interpreter start and reach its loop before anything is timed
    try:
        yield load
    finally:
        proc.terminate()
        usage = wait_with_usage(proc)
        load.core_share = (usage.ru_utime + usage.ru_stime) / (time.perf_counter() - start)


def run_json(script: Path, spec: Mapping[str, object], env: Mapping[str, str]) -> dict[str, Any]:
    """Run `script SPEC_JSON` in a fresh interpreter and return the JSON object on its last stdout line.

    A child that dies without one (a crash, an abort inside a native library) becomes {"ok": False, ...}
    with the end of its stderr, so one broken configuration never stops the run.
    """
    proc = subprocess.run([sys.executable, str(script), json.dumps(spec)], cwd=ROOT, env=dict(env),
                          capture_output=True, text=True, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    tail = [line for line in proc.stderr.splitlines() if line.strip()][-1:] or [f"exit status {proc.returncode}"]
    return {"ok": False, "error": tail[0]}


def answer(measure: Any, spec: dict[str, Any]) -> None:
    """The child side of `run_json`: print measure(spec) as one JSON line, or why it failed."""
    try:
        result = {"ok": True, **measure(spec)}
    except Exception as exc:
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    print(json.dumps(result), flush=True)


def read_texts(path: str) -> list[str]:
    texts: list[str] = json.loads(Path(path).read_text())
    return texts


def package_version(name: str) -> str:
    """An installed package's version, for the header every benchmark prints."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


class Output:
    """Text for people on stdout; with --jsonl, one JSON object per measurement there and the text on stderr."""

    def __init__(self, jsonl: bool) -> None:
        self.jsonl = jsonl

    def say(self, line: str = "") -> None:
        print(line, file=sys.stderr if self.jsonl else sys.stdout, flush=True)

    def record(self, section: str, name: str, result: dict[str, Any]) -> dict[str, Any]:
        if self.jsonl:
            print(json.dumps({"section": section, "name": name, **result}), flush=True)
        return result
