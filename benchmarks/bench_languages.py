"""What reading other languages costs: English throughput with and without the multilingual model beside the
English one (routing must not slow English chat), and a non-English message against an English one, each
idle and beside a process spinning one core.

Run: `python benchmarks/bench_languages.py [--data-dir ../shared/data] [--messages 600] [--jsonl]`. Both sides
go through `decide_texts`, the path `toxmod score` and `/scan` take: language identification, routing, the
model, the policy. The repeat cache is off, so every message costs a forward pass. English messages are
GameTox chat in its original order; the other languages are posts from the fourth-wave corpora, which are
longer than chat (tweets), so their cost per message is an upper bound for chat.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from benchkit import ROOT, Output, competing_load

sys.path.insert(0, str(ROOT))

from bench_scoring import chat_stream
from language_id import CORPORA

from bot.moderation.languages import decide_texts
from bot.moderation.policy import scorer_policy
from bot.moderation.worker import ScoringWorker
from bot.scoring.classifier import ToxicityModel, load_model, load_multilingual
from bot.scoring.language import LanguageIdentifier
from bot.settings import Settings

REPEATS = 3  # each figure is the median of this many passes


def other_languages(data_dir: Path, languages: tuple[str, ...], count: int) -> list[str]:
    """`count` posts spread evenly over the languages the multilingual model reads."""
    rng = random.Random(7)
    per = max(1, count // max(1, len(languages)))
    out: list[str] = []
    for _name, (language, load) in CORPORA.items():
        if language in languages and language != "en":
            texts = [t for t in load(data_dir) if t.strip()]
            rng.shuffle(texts)
            out += texts[:per]
    rng.shuffle(out)
    return out[:count]


def rate(worker: ScoringWorker, texts: list[str]) -> float:
    """Messages a second through identification, routing, the model and the policy (median of REPEATS)."""
    identifier, policy = LanguageIdentifier(), scorer_policy(worker)
    decide_texts(worker, identifier, texts[:16], policy)  # warm-up: first-batch allocations
    seconds = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        decide_texts(worker, identifier, texts, policy)
        seconds.append(time.perf_counter() - start)
    return len(texts) / statistics.median(seconds)


def model_rate(worker: ScoringWorker, texts: list[str], language: str) -> float:
    """Messages a second through one model alone (no identification): `language` picks the model, so the
    same texts can be timed through each."""
    worker.score_many(texts[:16], [language] * 16)
    seconds = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        worker.score_many(texts, [language] * len(texts))
        seconds.append(time.perf_counter() - start)
    return len(texts) / statistics.median(seconds)


def measure(out: Output, name: str, run: Callable[[], float], loaded: bool) -> float:
    with competing_load(loaded) as load:
        value = run()
    label = f"{name}{' (beside a busy core)' if loaded else ''}"
    out.record("languages", label, {"messages_per_second": round(value, 1), "core_share": load.core_share})
    out.say(f"  {label:<58} {value:8.1f} msg/s")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--jsonl", action="store_true")
    args = parser.parse_args()
    out = Output(args.jsonl)
    settings = Settings.load()
    english_model: ToxicityModel = load_model(settings)
    multilingual = load_multilingual(settings)
    if multilingual is None:
        out.say("no multilingual model installed (models/multilingual): nothing to compare")
        return 1
    english, _ = chat_stream(args.messages)
    others = other_languages(args.data_dir, multilingual.info.languages, args.messages)
    out.say(f"{english_model.version} ({english_model.choice.describe()}) and {multilingual.version} "
            f"({multilingual.choice.describe()}); {len(english)} English and {len(others)} other messages")
    alone = ScoringWorker(english_model, cache_size=0).start()
    both = ScoringWorker(english_model, multilingual=multilingual, cache_size=0).start()
    try:
        for loaded in (False, True):
            before = measure(out, "English chat, English model alone", lambda: rate(alone, english), loaded)
            after = measure(out, "English chat, multilingual model beside it", lambda: rate(both, english), loaded)
            foreign = measure(out, "other languages, multilingual model", lambda: rate(both, others), loaded)
            out.say(f"  routing costs English {100 * (1 - after / before):+.1f}% of its throughput; a non-English "
                    f"post costs {after / foreign:.2f}x an English chat line")
            # the posts are tweets, longer than chat lines: the same texts through each model say what the
            # model itself costs
            other = next(code for code in multilingual.info.languages if code != "en")
            for name, texts in (("the other-language posts", others), ("the English chat", english)):
                own = measure(out, f"{name} through the English model", partial(model_rate, both, texts, "en"),
                              loaded)
                routed = measure(out, f"{name} through the multilingual model",
                                 partial(model_rate, both, texts, other), loaded)
                out.say(f"  on {name}, the multilingual model costs {own / routed:.2f}x the English one")
    finally:
        alone.stop()
        both.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
