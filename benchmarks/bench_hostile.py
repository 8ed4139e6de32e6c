"""The delay one hostile message imposes on everyone else's messages, with the shipped model on this CPU.

Run: `python benchmarks/bench_hostile.py` (`--help` for options). The scoring worker scores a batch of up
to 64 messages in one `ToxicityModel.predict` call, and every message in the batch waits for the whole
batch; so this times `predict` on 64 chat messages alone, then on the same 64 plus one message built to
be expensive (each fits in one Discord message), and prints the delay and the ratio. Normalisation and
the window cap (MAX_INPUT_CHARS, MAX_EXPANDED_CHARS, MAX_WINDOWS) are what keep the ratio small.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_scoring import chat_messages  # noqa: E402

from bot.scoring.classifier import ToxicityModel  # noqa: E402
from bot.scoring.registry import resolve_model_dir  # noqa: E402
from bot.settings import Settings  # noqa: E402

_RNG = random.Random(0)
HOSTILE = {
    "U+FDFA x 2000": "\ufdfa" * 2000,  # NFKC: 18 characters each, 36,000 in all
    "zalgo x 48": ("z" + "\u0301\u0302\u0303\u0304" * 20) * 48,
    "zalgo on Cyrillic x 48": ("ж" + "\u0301\u0302\u0303\u0304" * 20) * 48,
    "emoji x 2000": "🖕🔪" * 1000,
    "random CJK x 4000": "".join(chr(_RNG.randrange(0x4E00, 0xA000)) for _ in range(4000)),
    "channel mentions x 1000": "<#1>" * 1000,
}


def timed(model: ToxicityModel, texts: list[str]) -> float:
    start = time.perf_counter()
    model.predict(texts)
    return time.perf_counter() - start


def paired(model: ToxicityModel, chat: list[str], hostile: str, repeats: int) -> tuple[float, float]:
    """Best seconds of the batch alone and with `hostile`: timed in alternation, and the fastest of each
    kept, so that other load on the machine (a shared CI box) weighs on neither."""
    alone, together = [], []
    for _ in range(repeats):
        alone.append(timed(model, chat))
        together.append(timed(model, [*chat, hostile]))
    return min(alone), min(together)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64, help="chat messages in the batch")
    parser.add_argument("--repeats", type=int, default=5, help="timings per figure (the fastest is shown)")
    parser.add_argument("--engine", help="pin an engine (default: the one measured fastest here)")
    parser.add_argument("--threads", type=int, help="pin the threads (default: measured)")
    args = parser.parse_args()
    model_dir = resolve_model_dir(ROOT / "models")
    model = ToxicityModel(model_dir, engine=args.engine, threads=args.threads, tuning_cache=Settings().tuning_cache)
    chat = chat_messages(args.batch)
    for _ in range(2):  # warm up
        timed(model, chat)
    print(f"model {model.version} ({model_dir.name}), engine {model.choice.describe()}, "
          f"{model.max_length}-token windows; {args.batch} chat messages of "
          f"{statistics.mean(len(t.split()) for t in chat):.1f} words, best of {args.repeats}\n")
    print(f"{'one hostile message':<24} {'chars':>6} {'windows':>8} {'alone ms':>9} {'with it ms':>11} "
          f"{'delay ms':>9} {'ratio':>6}")
    for name, text in HOSTILE.items():
        windows, _ = model.windows([text])
        alone, together = paired(model, chat, text, args.repeats)
        print(f"{name:<24} {len(text):>6} {len(windows):>8} {alone * 1000:>9.0f} {together * 1000:>11.0f} "
              f"{(together - alone) * 1000:>9.0f} {together / alone:>5.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
