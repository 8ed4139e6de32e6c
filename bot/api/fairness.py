"""Turns at the scoring worker for the API's callers, what a request costs, and the rate limits it is charged to.

The scoring worker takes texts first come, first served. Without turns, a key that queues a few full batches
of long texts makes every other key's one message wait behind all of them. Here each caller (a key, or a
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
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from bot.decision import Scores
from bot.moderation.worker import ScoringWorker

COST_CHARS = 1000  # characters a token of the rate limit pays for: a chat message costs one


def cost(texts: Iterable[str]) -> int:
    """Tokens of the rate limit the texts cost: one each, one more per started COST_CHARS beyond the first
    (the model reads a long text in several windows)."""
    return sum(max(1, math.ceil(len(text) / COST_CHARS)) for text in texts)


Waiting = tuple[str, str | None, "asyncio.Future[Scores]"]  # text, language, its answer


class FairScheduler:
    """Callers' texts, handed to each scoring worker in turns, at most `window` in the worker at a time."""

    def __init__(self, window: int) -> None:
        self.window = window
        self._lines: dict[ScoringWorker, OrderedDict[str, deque[Waiting]]] = {}  # callers in turn order
        self._in_flight: dict[ScoringWorker, int] = {}

    def waiting(self, worker: ScoringWorker) -> int:
        """Texts waiting here for `worker` (its own queue holds the ones handed over)."""
        return sum(len(line) for line in self._lines.get(worker, {}).values())

    async def score(self, worker: ScoringWorker, caller: str, text: str, language: str | None = None) -> Scores:
        """`text` scored by `worker` (by its model for `language`), when `caller`'s turn comes."""
        future: asyncio.Future[Scores] = asyncio.get_running_loop().create_future()
        self._lines.setdefault(worker, OrderedDict()).setdefault(caller, deque()).append((text, language, future))
        self._pump(worker)
        return await future

    def _pump(self, worker: ScoringWorker) -> None:
        """Hand texts over, one per caller in turn, while the worker has room."""
        lines = self._lines.get(worker)
        while lines and self._in_flight.get(worker, 0) < self.window:
            caller, line = next(iter(lines.items()))
            text, language, future = line.popleft()
            if line:
                lines.move_to_end(caller)  # its next text after everyone else's
            else:
                del lines[caller]
            if future.done():  # its request is gone
                continue
            self._in_flight[worker] = self._in_flight.get(worker, 0) + 1
            job = asyncio.ensure_future(worker.score(text, language))
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


class RateLimiter:
    """A token bucket per caller: `rate` requests a second on average, `burst` at once."""

    PRUNE_AT = 10_000  # callers remembered before the full buckets (callers quiet long enough) are dropped

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, when counted)
        self._prune_at = self.PRUNE_AT

    def take(self, caller: str) -> float:
        """Spend one of `caller`'s requests: 0.0 when it may go ahead, else the seconds until it may."""
        now = self.clock()
        tokens = self._tokens(caller, now)
        if tokens < 1.0:
            self._buckets[caller] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[caller] = (tokens - 1.0, now)
        if len(self._buckets) > self._prune_at:
            self._prune(now)
        return 0.0

    def charge(self, caller: str, tokens: float) -> None:
        """Spend `tokens` more of `caller`'s, into debt if need be: what a request costs beyond the token it
        paid to get in. Its next requests wait until the debt is paid back."""
        if tokens > 0:
            now = self.clock()
            self._buckets[caller] = (self._tokens(caller, now) - tokens, now)

    def wait(self, caller: str) -> float:
        """Seconds until `caller` may make a request (0.0: now), spending nothing."""
        tokens = self._tokens(caller, self.clock())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _tokens(self, caller: str, now: float) -> float:
        tokens, then = self._buckets.get(caller, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - then) * self.rate)

    def _prune(self, now: float) -> None:
        """Forget the callers whose buckets have filled up again (they are as if never seen): one address a
        request must not cost memory for ever."""
        self._buckets = {c: b for c, b in self._buckets.items() if self._tokens(c, now) < self.burst}
        self._prune_at = max(self.PRUNE_AT, 2 * len(self._buckets))
