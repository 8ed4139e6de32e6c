"""Turns at the scoring worker for the API's callers, and what a request costs.

The scoring worker takes texts first come, first served. Without turns, a key that queues a few batches of
256 long texts makes every other key's one message wait behind all of them. Here each caller (a key, or a
client address without keys) has its own line; texts go to the worker one at a time, from the callers in
turn, and never more than `window` (one batch) at once. Another caller's message then waits behind at most
about one batch, however long the first caller's backlog.

A request is charged to its caller's rate limit by the work it queues, not one token whatever its size
(`cost`), so a key cannot buy a backlog of thousands of texts with a handful of requests.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections import OrderedDict, deque
from collections.abc import Iterable

from bot.decision import Scores
from bot.moderation.worker import ScoringWorker

COST_CHARS = 1000  # characters a token of the rate limit pays for: a chat message costs one


def cost(texts: Iterable[str]) -> int:
    """Tokens of the rate limit the texts cost: one each, one more per started COST_CHARS beyond the first
    (the model reads a long text in several windows)."""
    return sum(max(1, math.ceil(len(text) / COST_CHARS)) for text in texts)


Waiting = tuple[str, "asyncio.Future[Scores]"]


class FairScheduler:
    """Callers' texts, handed to each scoring worker in turns, at most `window` in the worker at a time."""

    def __init__(self, window: int) -> None:
        self.window = window
        self._lines: dict[ScoringWorker, OrderedDict[str, deque[Waiting]]] = {}  # callers in turn order
        self._in_flight: dict[ScoringWorker, int] = {}

    def waiting(self, worker: ScoringWorker) -> int:
        """Texts waiting here for `worker` (its own queue holds the ones handed over)."""
        return sum(len(line) for line in self._lines.get(worker, {}).values())

    async def score(self, worker: ScoringWorker, caller: str, text: str) -> Scores:
        """`text` scored by `worker`, when `caller`'s turn comes."""
        future: asyncio.Future[Scores] = asyncio.get_running_loop().create_future()
        self._lines.setdefault(worker, OrderedDict()).setdefault(caller, deque()).append((text, future))
        self._pump(worker)
        return await future

    def _pump(self, worker: ScoringWorker) -> None:
        """Hand texts over, one per caller in turn, while the worker has room."""
        lines = self._lines.get(worker)
        while lines and self._in_flight.get(worker, 0) < self.window:
            caller, line = next(iter(lines.items()))
            text, future = line.popleft()
            if line:
                lines.move_to_end(caller)  # its next text after everyone else's
            else:
                del lines[caller]
            if future.done():  # its request is gone
                continue
            self._in_flight[worker] = self._in_flight.get(worker, 0) + 1
            job = asyncio.ensure_future(worker.score(text))
            job.add_done_callback(functools.partial(self._finished, worker, future))
        if not lines:
            self._lines.pop(worker, None)

    def _finished(self, worker: ScoringWorker, future: asyncio.Future[Scores], job: asyncio.Future[Scores]) -> None:
        self._in_flight[worker] -= 1
        if not self._in_flight[worker]:
            del self._in_flight[worker]
        if future.done():
            pass
        elif job.cancelled():
            future.cancel()
        elif (error := job.exception()) is not None:
            future.set_exception(error)
        else:
            future.set_result(job.result())
        self._pump(worker)
