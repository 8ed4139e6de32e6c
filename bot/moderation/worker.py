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

from bot.batching import drain, take_batch
from bot.decision import Scores
from bot.scoring.classifier import ToxicityModel, load_model, load_multilingual
from bot.settings import Settings

log = logging.getLogger(__name__)


class WorkerStopped(RuntimeError):
    """Scoring was asked of a worker that has been stopped."""


@dataclass
class _Job:
    text: str
    future: Future
    queued_at: float
    language: str | None = None


class _Swap:
    """A queue marker: replace the model between two batches, so no queued message is dropped or split."""

    def __init__(self, loader: Callable[[], ToxicityModel],
                 multilingual: Callable[[], ToxicityModel | None] | None) -> None:
        self.loader = loader
        self.multilingual = multilingual
        self.future: Future = Future()


_STOP = object()


class ScoringWorker:
    """`cache_size` distinct normalised texts are remembered with their scores (least recently used go
    first): in live chat "gg", "lol" and "ez" come back all day (benchmarks/bench_worker.py measures the
    cache on a game-chat stream), and a repeat costs a dictionary lookup instead of a forward pass. The cache
    empties when the model changes.

    `model` reads English (and whatever else its metadata names); `multilingual`, where one is installed,
    reads the other languages it names. Both live on this one thread, so a non-English message never
    competes with an English one for the cores, and a batch is split by model, not queued twice.
    """

    def __init__(self, model: ToxicityModel, *, multilingual: ToxicityModel | None = None, max_batch: int = 64,
                 max_wait_ms: float = 2.0, cache_size: int = 10_000) -> None:
        self.model = model
        self.multilingual = multilingual
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
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
        """Start the scoring thread; returns the worker, to chain."""
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
        """Whether the thread is up and not stopping."""
        return self._thread.is_alive() and not self._stopped.is_set()

    # -- routing ---------------------------------------------------------------------------------------
    @property
    def languages(self) -> tuple[str, ...]:
        """Every language some model here reads, the main model's first."""
        extra = self.multilingual.info.languages if self.multilingual is not None else ()
        return tuple(dict.fromkeys((*self.model.info.languages, *extra)))

    def model_for(self, language: str | None) -> ToxicityModel:
        """The model that reads `language`: the main model where it reads it (or nothing is known), else the
        multilingual one where that reads it, else the main model."""
        if (language is not None and language not in self.model.info.languages and self.multilingual is not None
                and language in self.multilingual.info.languages):
            return self.multilingual
        return self.model

    def thresholds_by_language(self) -> dict[str, dict[str, float]]:
        """Each language's lines where they differ from the main model's shared ones: the multilingual
        model's own for every language routed to it, and any the main model sets per language."""
        out = {language: dict(lines) for language, lines in self.model.info.language_thresholds.items()}
        for language in self.languages:
            model = self.model_for(language)
            if model is not self.model:
                out[language] = model.info.thresholds_for(language)
        return out

    # -- submitting ------------------------------------------------------------------------------------
    def submit(self, text: str, language: str | None = None) -> Future:
        """Queue one text to score; the future resolves with its Scores (or the error), from the scoring thread."""
        if self._stopped.is_set():
            raise WorkerStopped("the scoring worker has been stopped")
        fut: Future = Future()
        self._queue.put(_Job(text, fut, time.perf_counter(), language))
        return fut

    async def score(self, text: str, language: str | None = None) -> Scores:
        """Score from the event loop: the loop only waits on a future, never on the model."""
        return await asyncio.wrap_future(self.submit(text, language))

    def score_many(self, texts: list[str], languages: list[str | None] | None = None) -> list[Scores]:
        """Synchronous batch API (CLI, replay): everything queued at once so the worker batches it fully."""
        futures = [self.submit(t, lang) for t, lang in zip(texts, languages or [None] * len(texts), strict=True)]
        return [f.result() for f in futures]

    def swap_model(self, loader: Callable[[], ToxicityModel],
                   multilingual: Callable[[], ToxicityModel | None] | None = None) -> Future:
        """Load a new model (and, given its loader, a new multilingual one) on the worker thread, between
        batches; the future yields the old main model's version."""
        marker = _Swap(loader, multilingual)
        self._queue.put(marker)
        return marker.future

    # -- stats -----------------------------------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        """How many texts wait to be scored."""
        return self._queue.qsize()

    def messages_per_second(self, window: float = 60.0) -> float:
        """Throughput over the last `window` seconds (0 with fewer than two texts scored in it)."""
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
        """The share of texts answered from the repeat cache (None before any lookup)."""
        return self.cache_hits / self.cache_lookups if self.cache_lookups else None

    def _predict(self, model: ToxicityModel, texts: list[str]) -> np.ndarray:
        """Scores for a batch: remembered ones from the cache, the rest (each distinct text once) from the model.
        The cache is keyed by model as well, since the two models read the same text differently."""
        keys = [(model.version, model.normalize(text)) for text in texts]
        if not self.cache_size:
            return model.predict_normalized([key for _, key in keys])
        distinct = dict.fromkeys(keys)
        found = {key: self._cache[key] for key in distinct if key in self._cache}
        for key in found:
            self._cache.move_to_end(key)
        todo = [key for key in distinct if key not in found]
        if todo:
            for key, row in zip(todo, model.predict_normalized([text for _, text in todo]), strict=True):
                found[key] = self._cache[key] = row
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        self.cache_lookups += len(keys)
        self.cache_hits += len(keys) - len(todo)
        return np.stack([found[key] for key in keys])

    def _score(self, batch: list[_Job]) -> None:
        by_model: dict[int, tuple[ToxicityModel, list[_Job]]] = {}
        for job in batch:
            model = self.model_for(job.language)
            by_model.setdefault(id(model), (model, []))[1].append(job)
        # counters first: a caller woken by its future may read them at once
        self.scored_total += len(batch)
        self.batches_total += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        for model, jobs in by_model.values():
            self._score_with(model, jobs)

    def _score_with(self, model: ToxicityModel, jobs: list[_Job]) -> None:
        try:
            probs = self._predict(model, [job.text for job in jobs])
        except Exception as exc:
            log.exception("scoring a batch of %d failed", len(jobs))
            for job in jobs:
                job.future.set_exception(exc)
            return
        now = time.perf_counter()
        self._done_times.extend([now] * len(jobs))
        for job, row in zip(jobs, np.asarray(probs, dtype=float), strict=True):
            job.future.set_result(Scores(tuple(round(float(p), 6) for p in row), model.version,
                                         (now - job.queued_at) * 1000.0))

    def _swap(self, marker: _Swap) -> None:
        try:
            new = marker.loader()
            multilingual = marker.multilingual() if marker.multilingual is not None else self.multilingual
        except Exception as exc:
            log.exception("model swap failed; keeping %s", self.model.version)
            marker.future.set_exception(exc)
            return
        old, self.model, self.multilingual = self.model, new, multilingual
        self._cache.clear()  # scores of the old model
        log.info("model swapped: %s -> %s", old.version, new.version)
        marker.future.set_result(old.version)

    def _run(self) -> None:
        pending: object | None = None
        while True:
            item = pending if pending is not None else self._queue.get()
            pending = None
            if item is _STOP:
                # score whatever is still queued; a swap still queued never happens
                jobs, markers = drain(self._queue, lambda queued: isinstance(queued, _Job))
                for start in range(0, len(jobs), self.max_batch):
                    self._score(jobs[start : start + self.max_batch])
                for marker in (m for m in markers if isinstance(m, _Swap)):
                    marker.future.set_exception(WorkerStopped("worker stopped before the swap"))
                return
            if isinstance(item, _Swap):
                self._swap(item)
                continue
            assert isinstance(item, _Job)  # noqa: S101 - narrows for mypy: the queue holds jobs, swaps and the stop marker
            batch, pending = self._collect(item)
            self._score(batch)


def open_scorer(settings: Settings) -> ScoringWorker:
    """A started worker around the models the settings name."""
    return ScoringWorker(load_model(settings), multilingual=load_multilingual(settings),
                         max_batch=settings.score_batch_max,
                         max_wait_ms=settings.score_batch_wait_ms, cache_size=settings.score_cache_size).start()
