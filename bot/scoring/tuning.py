"""Which engine and how many threads: measured once per machine and model, then remembered.

At the first load of a model on a machine every candidate (each engine the folder can feed, with one
thread and with every core) scores the same short sample of chat and the fastest is kept. The choice is
cached in a small JSON file keyed by the CPU, the library versions, the model version and the window
length, so later starts (and `toxmod model list`, which never imports torch) read it instead of timing
again. SCORE_ENGINE / SCORE_THREADS / BF16 override it.

A candidate that is far slower than the best so far on its first call (bf16 where the CPU emulates it runs
hundreds of times slower) is dropped after that one call, so measuring never costs more than a few seconds.
"""

from __future__ import annotations

import json
import logging
import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)

# chat-like messages for the timing sample; what matters is their length mix, not their words
SAMPLE = (
    "gg", "anyone up for a raid tonight", "lol that was wild", "my mic keeps cutting out",
    "did you see the patch notes they nerfed sniper again", "thanks for the carry", "brb dinner",
    "what time does the event end", "server lag is bad today", "nice shot", "push mid we need heals",
    "can someone explain how the new crafting system works because i am completely lost",
    "ok", "who wants to queue ranked after this match", "lmao", "i think the boss has a second phase",
)
SAMPLE_BATCH = list(SAMPLE) * 4  # one timed pass: a full micro-batch of 64
SLOWER_THAN_BEST = 4.0  # a candidate this many times slower than the best on its first call is dropped
_CANDIDATES = "|candidates "  # separates what a measurement depends on from what it timed, in cache keys


@dataclass(frozen=True)
class Choice:
    """The engine that serves, its threads, and why: "measured", "cached" or "set" (by settings)."""

    engine: str
    threads: int
    source: str
    measured: dict[str, float] = field(default_factory=dict)  # "engine/threads" -> messages per second

    def describe(self) -> str:
        """The choice in words for the log and `toxmod model list`: engine, threads, and how it was chosen."""
        how = {"set": "set in settings", "cached": "measured earlier on this machine", "measured": "measured now"}
        speed = self.measured.get(f"{self.engine}/{self.threads}")
        return (f"{self.engine}, {self.threads} thread{'s' if self.threads > 1 else ''} ({how[self.source]}"
                + (f", {speed:.0f} msg/s on the timing sample)" if speed else ")"))


def cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_options(threads: int | None) -> list[int]:
    """One thread, and every core: a busy machine often prefers the first, an idle one the second."""
    return [threads] if threads else sorted({1, cores()})


def cpu_name() -> str:
    """The CPU's model name, part of the cache key: a measurement holds for one kind of CPU."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_key(version: str, max_length: int, engines: list[str]) -> str:
    """What a measurement depends on. `engines` names each engine with its file's size, so rebuilding the
    ONNX files (a new quantisation recipe) measures again."""
    # versions from the installed metadata: importing torch just to read its version costs two seconds
    libraries = [f"{name} {metadata.version(name)}" for name in ("torch", "onnxruntime")]
    return "|".join([cpu_name(), f"{cores()} cores", *libraries, version, f"window {max_length}", ",".join(engines)])


def read_cache(path: Path) -> dict[str, dict]:
    """The measured choices cached on this machine; {} when there is no readable cache."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def cached_choices(path: Path, version: str) -> list[Choice]:
    """The choice remembered for a model version on each machine and window, for `toxmod model list`: of
    the measurements made for it, the one over the most candidates (not one narrowed by a pin)."""
    best: dict[str, tuple[int, Choice]] = {}
    for key, entry in read_cache(path).items():
        base, _, offered = key.partition(_CANDIDATES)
        if f"|{version}|" in base and offered:
            size = len(offered.split(","))
            if size > best.get(base, (0, None))[0]:
                best[base] = (size, Choice(entry["engine"], entry["threads"], "cached", entry.get("measured", {})))
    return [choice for _, choice in best.values()]


def choose(candidates: list[tuple[str, int]], time_one: Callable[[str, int, bool], float], *, key: str,
           cache_path: Path | None) -> Choice:
    """The fastest candidate, from the cache when it knows this key, else measured (and remembered).

    `time_one(engine, threads, first)` returns seconds for one pass over the sample (`first`: the call
    that also warms up, timed only to drop hopeless candidates).
    """
    # A measurement stands only for the candidates it timed: one narrowed by SCORE_ENGINE or BF16 must not
    # answer for the full set (it did, and a pinned `toxmod score` left torch serving instead of int8).
    key += _CANDIDATES + ",".join(f"{engine}/{threads}" for engine, threads in candidates)
    cache = read_cache(cache_path) if cache_path is not None else {}
    hit = cache.get(key)
    if hit and (hit.get("engine"), hit.get("threads")) in candidates:
        return Choice(hit["engine"], hit["threads"], "cached", hit.get("measured", {}))
    measured: dict[str, float] = {}
    best_first = float("inf")
    for engine, threads in candidates:
        try:
            first = time_one(engine, threads, True)
        except Exception as exc:  # an engine this machine cannot run is simply not a candidate
            log.warning("engine %s/%d unavailable: %s", engine, threads, exc)
            continue
        if first > SLOWER_THAN_BEST * best_first:
            log.info("engine %s/%d dropped: %.2f s on its first call", engine, threads, first)
            continue
        best_first = min(best_first, first)
        seconds = min(time_one(engine, threads, False) for _ in range(2))
        measured[f"{engine}/{threads}"] = round(len(SAMPLE_BATCH) / seconds, 1)
    if not measured:
        raise RuntimeError("no scoring engine could run on this machine")
    best = max(measured, key=measured.__getitem__)
    engine, threads = best.rsplit("/", 1)[0], int(best.rsplit("/", 1)[1])
    choice = Choice(engine, threads, "measured", measured)
    if cache_path is not None:
        _remember(cache_path, key, choice)
    log.info("scoring engine measured: %s", ", ".join(f"{k} {v:.0f} msg/s" for k, v in measured.items()))
    return choice


def _remember(path: Path, key: str, choice: Choice) -> None:
    cache = read_cache(path)
    cache[key] = {**asdict(choice), "at": datetime.now(UTC).isoformat(timespec="seconds")}
    cache[key].pop("source")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home: measure again next time, nothing worse
        log.warning("could not remember the engine choice in %s: %s", path, exc)
