"""What does a model key on when it flags ordinary conversation? Leave-one-word-out over background chat.

Every message of the background corpora (Topical-Chat, Ubuntu IRC: talk nobody annotated as abusive) is
scored; the messages standing furthest above a line (largest log-odds margin over the model's own
threshold, any label) are read word by word: each word is dropped in turn and the message scored again,
and the word whose removal lowers the margin most is the one the flag rests on. Words are then counted
over the top messages, with the label they drive and an example, so a shortcut ("Chinese" → identity_hate,
"your" → threat) shows up as a word that recurs across unrelated messages.

Run: `python benchmarks/shortcuts.py [MODEL_DIR ...] [--data-dir ../shared/data] [--top 300]`; `--jsonl` for
one JSON object per model and word.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.labels import LABELS  # noqa: E402
from bot.scoring.classifier import ToxicityModel  # noqa: E402
from bot.scoring.registry import resolve_model_dir  # noqa: E402
from training.evaluate import predict  # noqa: E402
from training.sources import load_ubuntu_irc  # noqa: E402
from training.sources.topical_chat import topical_messages  # noqa: E402


def margins(model: ToxicityModel, texts: list[str]) -> np.ndarray:
    """(messages, labels) log-odds margins over the model's own thresholds."""
    probs = np.clip(predict(model, texts, 64, "scoring", False).astype(np.float64), 1e-6, 1 - 1e-6)
    t = np.array([model.info.thresholds[label] for label in LABELS], dtype=np.float64)
    return np.log(probs / (1 - probs)) - np.log(t / (1 - t))


def key_word(model: ToxicityModel, text: str, label: int) -> tuple[str, float]:
    """The word whose removal lowers `label`'s margin most, and by how much."""
    words = text.split()
    if len(words) < 2:
        return text, 0.0
    variants = [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))]
    scores = margins(model, [text, *variants])[:, label]
    drops = scores[0] - scores[1:]
    best = int(np.argmax(drops))
    return words[best].strip(".,!?;:\"'()").lower(), float(drops[best])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", type=Path, help="model directories (default: models/current)")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--top", type=int, default=300, help="background messages read word by word")
    parser.add_argument("--irc", type=int, default=10000, help="Ubuntu IRC messages scored beside Topical-Chat")
    parser.add_argument("--jsonl", action="store_true")
    args = parser.parse_args()
    background = {
        "topical_chat": topical_messages(args.data_dir / "topical_chat/topical_chat.csv", "train")
        + topical_messages(args.data_dir / "topical_chat/topical_chat.csv", "heldout"),
        "ubuntu_irc": list(load_ubuntu_irc(args.data_dir / "ubuntu_irc/train", cap=args.irc)["text"]),
    }
    texts = [t for source in background.values() for t in source]
    for model_dir in args.models or [resolve_model_dir(ROOT / "models", None)]:
        model = ToxicityModel(model_dir.resolve(), max_length=128, engine="torch-fp32")
        m = margins(model, texts)
        best = m.max(axis=1)
        flagged = int((best >= 0).sum())
        order = np.argsort(-best)[: args.top]
        words: Counter[tuple[str, str]] = Counter()
        examples: dict[tuple[str, str], str] = {}
        drops: dict[tuple[str, str], list[float]] = defaultdict(list)
        for i in order:
            label = int(np.argmax(m[i]))
            word, drop = key_word(model, texts[i], label)
            key = (word, LABELS[label])
            words[key] += 1
            drops[key].append(drop)
            examples.setdefault(key, texts[i])
        if not args.jsonl:
            print(f"{model.info.version}: {flagged} of {len(texts)} background messages flagged "
                  f"({100 * flagged / len(texts):.2f}%); key words of the {len(order)} nearest the lines:")
        for (word, label_name), n in words.most_common(40):
            drop = round(float(np.mean(drops[(word, label_name)])), 2)
            example = examples[(word, label_name)]
            if args.jsonl:
                print(json.dumps({"model": model.info.version, "word": word, "label": label_name, "messages": n,
                                  "mean_margin_drop": drop, "example": example}, ensure_ascii=False))
            else:
                print(f"  {word!r:<16} {label_name:<14} {n:>3}  drop {drop:>5.2f}  e.g. {example[:90]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
