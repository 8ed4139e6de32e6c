"""One scoring configuration, measured alone in this fresh process; prints one JSON line.

`bench_scoring.py` starts one of these per configuration, so each gets its own torch thread pool and its own
OMP_WAIT_POLICY (read once, when torch loads OpenMP), and nothing one configuration leaves behind (threads
still spinning, a process-wide torch.set_num_threads, allocator caches) touches the next. The burst is timed
twice, idle and then beside a process that burns one core (benchkit.competing_load); the low-load and
repeat-cache runs and the warm-up are idle.

Usage: `bench_worker.py SPEC_JSON`, where SPEC is
  {"mode": "toxmod", "texts": FILE, "models_dir": DIR, "engine": NAME | null, "threads": N | null,
   "messages": N, "single": N, "cache_messages": N}   (engine null: the engine toxmod chooses)
  {"mode": "baseline", "texts": FILE, "model_dir": DIR, "messages": N}
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchkit import ROOT, answer, competing_load, latency_figures, read_texts

if TYPE_CHECKING:
    from bot.moderation.worker import ScoringWorker
    from bot.scoring.classifier import ToxicityModel
    from bot.settings import Settings

WARMUP = 256  # messages scored before timing, so every batch shape has been seen once


def toxmod(spec: dict[str, Any]) -> dict[str, Any]:
    """A sustained burst (idle and loaded) through ScoringWorker with the cache off; optionally one message
    at a time at low load, and the repeat cache on the chat stream."""
    sys.path.insert(0, str(ROOT))
    from bot.scoring.classifier import load_model
    from bot.settings import Settings

    settings = Settings(models_dir=Path(spec["models_dir"]), score_engine=spec["engine"],
                        score_threads=spec["threads"])
    model = load_model(settings)
    texts = read_texts(spec["texts"])
    burst = texts[: spec["messages"]]
    worker = start_worker(model, settings, cache_size=0)
    worker.score_many(texts[-WARMUP:])
    out: dict[str, Any] = {"engine": model.choice.engine, "threads": model.choice.threads,
                           "choice": model.choice.describe(),
                           "idle": sustained(worker, burst, loaded=False),
                           "loaded": sustained(worker, burst, loaded=True)}
    if spec["single"]:
        out["single"] = one_at_a_time(worker, texts[: spec["single"]])
    worker.stop()
    if spec["cache_messages"]:
        out["cache"] = cache_stream(model, settings, texts[: spec["cache_messages"]])
    return out


def start_worker(model: ToxicityModel, settings: Settings, *, cache_size: int) -> ScoringWorker:
    """The worker as the bot configures it, with a repeat cache of `cache_size` (0: off)."""
    from bot.moderation.worker import ScoringWorker

    return ScoringWorker(model, max_batch=settings.score_batch_max, max_wait_ms=settings.score_batch_wait_ms,
                         cache_size=cache_size).start()


def sustained(worker: ScoringWorker, texts: list[str], *, loaded: bool) -> dict[str, Any]:
    """Every message queued at once, as a burst of chat arrives; latency is mostly time in the queue."""
    with competing_load(loaded) as load:
        start = time.perf_counter()
        results = worker.score_many(texts)
        elapsed = time.perf_counter() - start
    return {"msg_s": len(texts) / elapsed, **latency_figures([r.latency_ms for r in results]),
            "load_core_share": load.core_share}


def one_at_a_time(worker: ScoringWorker, texts: list[str]) -> dict[str, Any]:
    """Low load: send one message, wait for its answer, send the next."""
    latencies = []
    for text in texts:
        start = time.perf_counter()
        worker.submit(text).result()
        latencies.append((time.perf_counter() - start) * 1000)
    return {"msg_s": len(texts) / (sum(latencies) / 1000), **latency_figures(latencies)}


def cache_stream(model: ToxicityModel, settings: Settings, texts: list[str]) -> dict[str, Any]:
    """The chat stream in its original order, all queued at once, with the repeat cache off and then on."""
    off = start_worker(model, settings, cache_size=0)
    on = start_worker(model, settings, cache_size=settings.score_cache_size)
    out = {"messages": len(texts), "cache_size": settings.score_cache_size,
           "off": sustained(off, texts, loaded=False), "on": sustained(on, texts, loaded=False),
           "hit_rate": on.cache_hits / max(1, on.cache_lookups)}
    off.stop()
    on.stop()
    return out


def baseline(spec: dict[str, Any]) -> dict[str, Any]:
    """What most bots do: a BERT-base-sized model (Detoxify's `original` architecture, 110M parameters) in
    fp32 with torch's default threads, called once per message. Imports nothing of toxmod, whose package
    would set OMP_WAIT_POLICY for this process."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig()
    config.num_labels = 6  # Detoxify's six labels
    model = BertForSequenceClassification(config).eval()
    tokenizer = AutoTokenizer.from_pretrained(spec["model_dir"], local_files_only=True)
    texts = read_texts(spec["texts"])[: spec["messages"]]

    def call(text: str) -> None:
        torch.sigmoid(model(**tokenizer(text, return_tensors="pt", truncation=True)).logits)

    with torch.inference_mode():
        for text in texts[:5]:
            call(text)
        return {"engine": "BERT-base fp32", "threads": torch.get_num_threads(),
                "idle": per_call(call, texts, loaded=False), "loaded": per_call(call, texts, loaded=True)}


def per_call(call: Callable[[str], None], texts: list[str], *, loaded: bool) -> dict[str, Any]:
    latencies = []
    with competing_load(loaded) as load:
        for text in texts:
            start = time.perf_counter()
            call(text)
            latencies.append((time.perf_counter() - start) * 1000)
    return {"msg_s": len(texts) / (sum(latencies) / 1000), **latency_figures(latencies),
            "load_core_share": load.core_share}


if __name__ == "__main__":
    request = json.loads(sys.argv[1])
    answer({"toxmod": toxmod, "baseline": baseline}[request["mode"]], request)
