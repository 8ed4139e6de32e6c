"""Taking work off a queue: what the scoring worker and the database writer both do.

Whatever is already queued joins the first item, up to a limit, waiting a few milliseconds for more; a
control marker (stop, model swap) ends the batch and is handed back so the owner acts on it afterwards.
After the stop marker, whatever is still queued is drained and answered too, so that no caller is left
waiting on a future nobody will complete.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable


def take_batch(work: queue.Queue, first: object, limit: int, wait: float,
               is_work: Callable[[object], bool]) -> tuple[list, object | None]:
    """`first` plus up to `limit - 1` queued items within `wait` seconds; (batch, marker that ended it)."""
    batch = [first]
    deadline = time.perf_counter() + wait
    while len(batch) < limit:
        remaining = deadline - time.perf_counter()
        try:
            item = work.get_nowait() if remaining <= 0 else work.get(timeout=remaining)
        except queue.Empty:
            break
        if not is_work(item):
            return batch, item
        batch.append(item)
    return batch, None


def drain(work: queue.Queue, is_work: Callable[[object], bool]) -> tuple[list, list]:
    """Everything queued now, without waiting, in queue order: (work items, markers)."""
    items: list = []
    markers: list = []
    while True:
        try:
            item = work.get_nowait()
        except queue.Empty:
            return items, markers
        (items if is_work(item) else markers).append(item)
