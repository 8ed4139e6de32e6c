"""Counters for `GET /metrics`, in Prometheus' text exposition format (written by hand: a few series do not
need a client library)."""

from __future__ import annotations

import threading
from collections import defaultdict

# request latency buckets, seconds: from a cached answer's to a batch of long texts' on a busy CPU
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """The API's counters and latency histograms, rendered in Prometheus's text format for /metrics.

    Thread-safe: handlers record from the event loop, scoring counts from the worker's callbacks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(BUCKETS))
        self._sum: dict[str, float] = defaultdict(float)
        self._count: dict[str, int] = defaultdict(int)
        self._scored = 0
        self._closed: dict[str, int] = defaultdict(int)  # connections the server closed, by why

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request of `endpoint` with its status and how long it took."""
        with self._lock:
            self._requests[endpoint, status] += 1
            counts = self._buckets[endpoint]
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            self._sum[endpoint] += seconds
            self._count[endpoint] += 1

    def scored(self, messages: int) -> None:
        """Count `messages` scored."""
        with self._lock:
            self._scored += messages

    def closed(self, reason: str) -> None:
        """A connection the server closed before its client was done: "header_timeout", "evicted", "refused"."""
        with self._lock:
            self._closed[reason] += 1

    def render(self, *, queue_depth: int, model_version: str, open_connections: int = 0) -> str:
        """Everything counted so far, with the gauges given, as the text /metrics answers."""
        with self._lock:
            lines = ["# HELP toxmod_api_requests_total API requests by endpoint and HTTP status.",
                     "# TYPE toxmod_api_requests_total counter"]
            lines += [f'toxmod_api_requests_total{{endpoint="{_label(e)}",code="{code}"}} {n}'
                      for (e, code), n in sorted(self._requests.items())]
            lines += ["# HELP toxmod_api_request_duration_seconds Time to answer a request.",
                      "# TYPE toxmod_api_request_duration_seconds histogram"]
            for endpoint in sorted(self._count):
                name = _label(endpoint)
                for bound, n in zip(BUCKETS, self._buckets[endpoint], strict=True):
                    lines.append(f'toxmod_api_request_duration_seconds_bucket{{endpoint="{name}",le="{bound}"}} {n}')
                lines.append(f'toxmod_api_request_duration_seconds_bucket{{endpoint="{name}",le="+Inf"}} '
                             f"{self._count[endpoint]}")
                lines.append(f'toxmod_api_request_duration_seconds_sum{{endpoint="{name}"}} {self._sum[endpoint]:.6f}')
                lines.append(f'toxmod_api_request_duration_seconds_count{{endpoint="{name}"}} {self._count[endpoint]}')
            lines += ["# HELP toxmod_messages_scored_total Texts scored for API requests.",
                      "# TYPE toxmod_messages_scored_total counter", f"toxmod_messages_scored_total {self._scored}",
                      "# HELP toxmod_scoring_queue_depth Texts waiting for the scoring worker.",
                      "# TYPE toxmod_scoring_queue_depth gauge", f"toxmod_scoring_queue_depth {queue_depth}",
                      "# HELP toxmod_model_info The model serving requests.", "# TYPE toxmod_model_info gauge",
                      f'toxmod_model_info{{version="{_label(model_version)}"}} 1',
                      "# HELP toxmod_api_open_connections Client connections open now.",
                      "# TYPE toxmod_api_open_connections gauge", f"toxmod_api_open_connections {open_connections}",
                      "# HELP toxmod_api_connections_closed_total Connections the server closed on a slow or idle "
                      "client, or to stay under API_MAX_CONNECTIONS.",
                      "# TYPE toxmod_api_connections_closed_total counter"]
            lines += [f'toxmod_api_connections_closed_total{{reason="{_label(reason)}"}} {n}'
                      for reason, n in sorted(self._closed.items())]
        return "\n".join(lines) + "\n"
