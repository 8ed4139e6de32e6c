"""Scoring speed: messages/s and latency of the toxmod scorer vs a Detoxify-sized baseline, on this CPU.

Run: `make bench` (or `python benchmarks/bench_scoring.py --help`). It prints one table; nothing is timed
inside the test suite. The toxmod rows go through the real ScoringWorker (normalisation, tokenising,
micro-batching, windows); "sustained" queues every message at once, as a burst of chat would, and
"low load" sends one message at a time and waits for its answer. The baseline is what most bots do
today: a BERT-base-sized model (Detoxify's `original` architecture) in fp32, called once per message.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.labels import LABELS  # noqa: E402
from bot.model.classifier import ToxicityModel, cpu_has_fast_bf16  # noqa: E402
from bot.model.registry import resolve_model_dir  # noqa: E402
from bot.moderation.worker import ScoringWorker  # noqa: E402

WORDS = ("gg", "anyone", "up", "for", "a", "raid", "tonight", "lol", "that", "was", "wild", "my", "mic", "keeps",
         "cutting", "out", "did", "you", "see", "the", "patch", "notes", "they", "nerfed", "sniper", "again",
         "thanks", "carry", "brb", "dinner", "what", "time", "event", "ends", "server", "lag", "is", "bad",
         "today", "nice", "shot", "team", "push", "mid", "need", "heals", "idiot", "trash", "play")


def chat_messages(n: int, seed: int = 0) -> list[str]:
    """Chat-length messages (2 to 24 words, most under 12), as seen in busy Discord channels."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(min(24, max(2, int(rng.expovariate(1 / 8))))))
            for _ in range(n)]


def model_dir_for_bench(tmp: Path) -> Path:
    """The shipped model if present, else the base model with an untrained head (identical compute)."""
    try:
        return resolve_model_dir(ROOT / "models")
    except FileNotFoundError:
        from training.train import default_base_model

        base = default_base_model()
        out = tmp / "bench-model"
        model = BertForSequenceClassification.from_pretrained(base, num_labels=len(LABELS), local_files_only=True)
        model.half().save_pretrained(out)
        AutoTokenizer.from_pretrained(base, local_files_only=True).save_pretrained(out)
        (out / "metadata.json").write_text(json.dumps({"labels": list(LABELS), "version": "base-untrained-head"}))
        return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_sustained(model: ToxicityModel, texts: list[str], batch: int) -> dict:
    worker = ScoringWorker(model, max_batch=batch, max_wait_ms=2.0).start()
    worker.score_many(texts[: batch * 2])  # warm up the kernels for this batch size
    start = time.perf_counter()
    results = worker.score_many(texts)
    elapsed = time.perf_counter() - start
    worker.stop()
    latencies = [r.latency_ms for r in results]
    return {"msg_s": len(texts) / elapsed, "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99)}


def bench_low_load(model: ToxicityModel, texts: list[str]) -> dict:
    worker = ScoringWorker(model, max_batch=64, max_wait_ms=2.0).start()
    worker.score_many(texts[:8])
    latencies = []
    for text in texts:
        start = time.perf_counter()
        worker.submit(text).result()
        latencies.append((time.perf_counter() - start) * 1000)
    worker.stop()
    return {"msg_s": len(texts) / (sum(latencies) / 1000), "p50": percentile(latencies, 0.5),
            "p99": percentile(latencies, 0.99)}


def bench_loop_lag(model: ToxicityModel, texts: list[str]) -> dict:
    """How late a 5 ms heartbeat-like timer fires on the event loop while a burst is scored from it."""
    import asyncio

    async def run() -> dict:
        worker = ScoringWorker(model, max_batch=64, max_wait_ms=2.0).start()
        lags: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            while not done.is_set():
                start = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append((time.perf_counter() - start - 0.005) * 1000)

        tick = asyncio.create_task(ticker())
        start = time.perf_counter()
        pending = []
        for i, text in enumerate(texts):  # as a gateway delivers them: one event per loop turn, in bursts
            pending.append(asyncio.ensure_future(worker.score(text)))
            if i % 20 == 19:
                await asyncio.sleep(0)
        await asyncio.gather(*pending)
        elapsed = time.perf_counter() - start
        done.set()
        await tick
        worker.stop()
        return {"msg_s": len(texts) / elapsed, "p50": percentile(lags, 0.5), "p99": percentile(lags, 0.99),
                "max": max(lags)}

    return asyncio.run(run())


def bench_baseline(texts: list[str], tokenizer_dir: Path) -> dict:
    """BERT-base (12 layers, 768 wide, 110M parameters) in fp32, one message per call: Detoxify in on_message."""
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(num_labels=len(LABELS))).eval()
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    latencies = []
    with torch.inference_mode():
        model(**tokenizer(texts[0], return_tensors="pt"))
        for text in texts:
            start = time.perf_counter()
            torch.sigmoid(model(**tokenizer(text, return_tensors="pt", truncation=True)).logits)
            latencies.append((time.perf_counter() - start) * 1000)
    return {"msg_s": len(texts) / (sum(latencies) / 1000), "p50": percentile(latencies, 0.5),
            "p99": percentile(latencies, 0.99)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=4000, help="messages per sustained run")
    parser.add_argument("--batches", default="1,2,4,8,16,32,64", help="batch limits to try")
    parser.add_argument("--baseline-messages", type=int, default=150)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    texts = chat_messages(args.messages)
    rows: list[tuple[str, str, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = model_dir_for_bench(Path(tmp))
        print(f"model {model_dir.name}, {args.threads} threads, native bf16: {cpu_has_fast_bf16()}, "
              f"{len(texts)} messages of {statistics.mean(len(t.split()) for t in texts):.1f} words on average",
              flush=True)
        for precision in ("bf16", "fp32"):
            model = ToxicityModel(model_dir, bf16=precision == "bf16")
            for batch in (int(b) for b in args.batches.split(",")):
                n = len(texts) if batch >= 8 else len(texts) // 4
                figures = bench_sustained(model, texts[:n], batch)
                rows.append((f"toxmod {precision}", f"sustained, batch ≤{batch}", figures))
                print(_row(*rows[-1]), flush=True)
            rows.append((f"toxmod {precision}", "low load, 1 at a time", bench_low_load(model, texts[:300])))
            print(_row(*rows[-1]), flush=True)
            if precision == "bf16":
                lag = bench_loop_lag(model, texts)
                print(f"{'event loop':<16} {'5 ms timer lateness':<26} during a {lag['msg_s']:,.0f} msg/s burst: "
                      f"p50 {lag['p50']:.2f} ms, p99 {lag['p99']:.2f} ms, max {lag['max']:.2f} ms", flush=True)
        rows.append(("BERT-base fp32", "1 at a time (baseline)",
                     bench_baseline(texts[: args.baseline_messages], model_dir)))
        print(_row(*rows[-1]), flush=True)
    best = max(r[2]["msg_s"] for r in rows if r[0].startswith("toxmod"))
    baseline = rows[-1][2]["msg_s"]
    low = next(r[2] for r in rows if r[0] == "toxmod bf16" and r[1].startswith("low load"))
    print(f"\nbest sustained: {best:,.0f} msg/s = {best / baseline:.0f}x the baseline; "
          f"low-load latency p50 {low['p50']:.1f} ms, p99 {low['p99']:.1f} ms")
    if args.json:
        args.json.write_text(json.dumps([{"scorer": a, "mode": b, **c} for a, b, c in rows], indent=2))
    return 0


def _row(scorer: str, mode: str, figures: dict) -> str:
    return (f"{scorer:<16} {mode:<26} {figures['msg_s']:>9,.0f} msg/s   p50 {figures['p50']:>8.1f} ms"
            f"   p99 {figures['p99']:>8.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
