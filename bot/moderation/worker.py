"""The scoring worker: one thread owns the model and micro-batches whatever callers have queued.

The gateway's event loop only ever enqueues a text and awaits a future, so a burst of messages costs it
nothing; the thread takes everything queued (up to the batch limit, waiting a few milliseconds for more)
and runs one padded forward pass for all of it, which is where the throughput comes from.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from bot.batching import take_batch
from bot.decision import Scores
from bot.model.classifier import ToxicityModel, load_model
from bot.settings import Settings

log = logging.getLogger(__name__)


class WorkerStopped(RuntimeError):
    """Scoring was asked of a worker that has been stopped."""


@dataclass
class _Job:
    text: str
    future: Future
    queued_at: float


class _Swap:
    """A queue marker: replace the model between two batches, so no queued message is dropped or split."""

    def __init__(self, loader: Callable[[], ToxicityModel]) -> None:
        self.loader = loader
        self.future: Future = Future()


_STOP = object()


class ScoringWorker:
    """`cache_size` distinct normalised texts are remembered with their scores (least recently used go
    first): in live chat "gg", "lol" and "ez" come back all day (36 % of GameTox's stream repeats one of the
    previous 10,000 messages), and a repeat costs a dictionary lookup instead of a forward pass. The cache
    empties when the model changes."""

    def __init__(self, model: ToxicityModel, *, max_batch: int = 64, max_wait_ms: float = 2.0,
                 cache_size: int = 10_000) -> None:
        self.model = model
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.cache_hits = 0
        self.cache_lookups = 0
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="toxmod-scoring", daemon=True)
        self._stopped = threading.Event()
        self._done_times: deque[float] = deque(maxlen=4096)
        self.scored_total = 0
        self.batches_total = 0
        self.largest_batch = 0

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> ScoringWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        """Finish everything already queued, then end the thread."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._queue.put(_STOP)
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stopped.is_set()

    # -- submitting ------------------------------------------------------------------------------------
    def submit(self, text: str) -> Future:
        if self._stopped.is_set():
            raise WorkerStopped("the scoring worker has been stopped")
        fut: Future = Future()
        self._queue.put(_Job(text, fut, time.perf_counter()))
        return fut

    async def score(self, text: str) -> Scores:
        """Score from the event loop: the loop only waits on a future, never on the model."""
        return await asyncio.wrap_future(self.submit(text))

    def score_many(self, texts: list[str]) -> list[Scores]:
        """Synchronous batch API (CLI, replay): everything queued at once so the worker batches it fully."""
        futures = [self.submit(t) for t in texts]
        return [f.result() for f in futures]

    def swap_model(self, loader: Callable[[], ToxicityModel]) -> Future:
        """Load a new model on the worker thread, between batches; the future yields the old model's version."""
        marker = _Swap(loader)
        self._queue.put(marker)
        return marker.future

    # -- stats -----------------------------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def messages_per_second(self, window: float = 60.0) -> float:
        now = time.perf_counter()
        recent = [t for t in list(self._done_times) if now - t <= window]
        if len(recent) < 2:
            return 0.0
        return len(recent) / max(now - recent[0], 1e-3)

    # -- the thread ------------------------------------------------------------------------------------
    def _collect(self, first: _Job) -> tuple[list[_Job], object | None]:
        """The first job plus whatever else is queued, up to max_batch, waiting at most max_wait for more
        when others are already queued (a burst is arriving); a lone message is scored at once.

        A swap or stop marker ends the batch and is handed back, to be acted on after the batch is scored.
        """
        if self._queue.empty():
            return [first], None  # nobody else is waiting: under low load, waiting would only add latency
        return take_batch(self._queue, first, self.max_batch, self.max_wait, lambda item: isinstance(item, _Job))

    @property
    def cache_hit_rate(self) -> float | None:
        return self.cache_hits / self.cache_lookups if self.cache_lookups else None

    def _predict(self, texts: list[str]) -> np.ndarray:
        """Scores for a batch: remembered ones from the cache, the rest (each distinct text once) from the model."""
        keys = [self.model.normalize(text) for text in texts]
        if not self.cache_size:
            return self.model.predict_normalized(keys)
        distinct = dict.fromkeys(keys)
        found = {key: self._cache[key] for key in distinct if key in self._cache}
        for key in found:
            self._cache.move_to_end(key)
        todo = [key for key in distinct if key not in found]
        if todo:
            for key, row in zip(todo, self.model.predict_normalized(todo), strict=True):
                found[key] = self._cache[key] = row
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        self.cache_lookups += len(keys)
        self.cache_hits += len(keys) - len(todo)
        return np.stack([found[key] for key in keys])

    def _score(self, batch: list[_Job]) -> None:
        try:
            probs = self._predict([job.text for job in batch])
        except Exception as exc:
            log.exception("scoring a batch of %d failed", len(batch))
            for job in batch:
                job.future.set_exception(exc)
            return
        now = time.perf_counter()
        version = self.model.version
        # counters first: a caller woken by its future may read them at once
        self.scored_total += len(batch)
        self.batches_total += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        self._done_times.extend([now] * len(batch))
        for job, row in zip(batch, np.asarray(probs, dtype=float), strict=True):
            job.future.set_result(Scores(tuple(round(float(p), 6) for p in row), version,
                                         (now - job.queued_at) * 1000.0))

    def _swap(self, marker: _Swap) -> None:
        try:
            new = marker.loader()
        except Exception as exc:
            log.exception("model swap failed; keeping %s", self.model.version)
            marker.future.set_exception(exc)
            return
        old, self.model = self.model, new
        self._cache.clear()  # scores of the old model
        log.info("model swapped: %s -> %s", old.version, new.version)
        marker.future.set_result(old.version)

    def _run(self) -> None:
        pending: object | None = None
        while True:
            item = pending if pending is not None else self._queue.get()
            pending = None
            if item is _STOP:
                # drain whatever was queued before the stop
                leftovers = []
                while True:
                    try:
                        leftovers.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                jobs = [j for j in leftovers if isinstance(j, _Job)]
                for start in range(0, len(jobs), self.max_batch):
                    self._score(jobs[start : start + self.max_batch])
                for marker in (m for m in leftovers if isinstance(m, _Swap)):
                    marker.future.set_exception(WorkerStopped("worker stopped before the swap"))
                return
            if isinstance(item, _Swap):
                self._swap(item)
                continue
            assert isinstance(item, _Job)  # the queue holds jobs, swap markers and the stop marker, nothing else
            batch, pending = self._collect(item)
            self._score(batch)


def open_scorer(settings: Settings) -> ScoringWorker:
    """A started worker around the model the settings name."""
    return ScoringWorker(load_model(settings), max_batch=settings.score_batch_max,
                         max_wait_ms=settings.score_batch_wait_ms, cache_size=settings.score_cache_size).start()
