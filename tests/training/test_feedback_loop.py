"""Verdicts → export → training source → retrain → promote/rollback; threshold suggestions; retention."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.decision import Scores
from bot.labels import LABELS
from bot.moderation.feedback.thresholds import suggest_thresholds
from bot.moderation.policy import Policy
from bot.scoring.registry import PromotionRefused, current_name, promote, rollback, set_current
from bot.storage.database import Database
from bot.storage.flags import review_flag
from bot.storage.messages import MessageRef, record_score
from bot.storage.tables import Flag, FlagStatus, utcnow
from tests.support.tiny_model import train_tiny
from training.sources import load_jigsaw_csv

POLICY = Policy(dict.fromkeys(LABELS, 0.5))


def add_flag(db: Database, guild: int, text: str, **scores: float) -> int:
    decision = POLICY.decide(Scores(tuple(scores.get(label, 0.0) for label in LABELS), "m1", 1.0))
    _, flag = db.write_sync(lambda s: record_score(s, MessageRef(guild_id=guild, author_id=5), decision, text))
    return flag.id


def test_verdicts_export_as_fully_labelled_training_rows(db: Database, db_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    a = add_flag(db, 1, "you absolute idiot", toxic=0.9, insult=0.8)
    b = add_flag(db, 1, "gg you got rekt", toxic=0.7)
    c = add_flag(db, 2, "other guild's insult", toxic=0.9)
    d = add_flag(db, 1, "erased later", toxic=0.9)
    add_flag(db, 1, "still pending", toxic=0.9)
    db.write_sync(lambda s: review_flag(s, 1, a, FlagStatus.CONFIRMED, 7, verdict_labels=["toxic", "insult"]))
    db.write_sync(lambda s: review_flag(s, 1, b, FlagStatus.DISMISSED, 7))
    db.write_sync(lambda s: review_flag(s, 2, c, FlagStatus.CONFIRMED, 8))
    db.write_sync(lambda s: review_flag(s, 1, d, FlagStatus.CONFIRMED, 7))
    db.write_sync(lambda s: setattr(s.get(Flag, d), "text", None))
    monkeypatch.setenv("DATABASE_URL", db_url)
    out = tmp_path / "feedback.csv"
    assert main(["feedback", "export", "--guild", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote 2 verdicts" in printed and "1 skipped: text erased" in printed
    rows = list(csv.DictReader(out.open()))
    assert [r["comment_text"] for r in rows] == ["you absolute idiot", "gg you got rekt"]
    assert [rows[0][label] for label in LABELS] == ["1", "0", "0", "0", "1", "0"]
    assert [rows[1][label] for label in LABELS] == ["0"] * 6
    assert {r["source"] for r in rows} == {"feedback:1"} and all(r["decided_at"] for r in rows)

    frame = load_jigsaw_csv(out, source="feedback")
    assert not frame[list(LABELS)].isna().any().any()  # a verdict fixes all six labels
    assert list(frame["source"]) == ["feedback:1", "feedback:1"]
    assert main(["feedback", "export", "--out", str(out)]) == 0
    assert "wrote 3 verdicts" in capsys.readouterr().out  # every guild
    assert main(["feedback", "export", "--since", "2999-01-01", "--out", str(out)]) == 0
    assert "wrote 0 verdicts" in capsys.readouterr().out
    assert main(["feedback", "export", "--out", str(tmp_path / "no" / "dir.csv")]) == 2


def test_retrain_from_feedback_reports_candidate_against_current(tiny_base: Path, tiny_model_dir: Path,
                                                                 tmp_path: Path) -> None:
    feedback = tmp_path / "feedback.csv"
    with feedback.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "comment_text", *LABELS, "source", "guild", "decided_at"])
        writer.writeheader()
        for i in range(40):
            toxic = i % 2
            writer.writerow({"id": i, "comment_text": f"{'loser trash' if toxic else 'nice game'} {i}",
                             **{lb: int(toxic and lb in ("toxic", "insult")) for lb in LABELS},
                             "source": "feedback:1", "guild": 1, "decided_at": "2026-11-01T00:00:00"})
    cand = train_tiny(tiny_base, tmp_path / "models", "cand", tmp_path, epochs=2.0, feedback=[feedback],
                      init=tiny_model_dir, source_weight={"feedback": 2.0})
    meta = json.loads((cand / "metadata.json").read_text())
    comparison = meta["comparison"]
    assert comparison["current_version"] == "tiny-v1"
    assert {"current", "candidate"} <= set(next(iter(comparison["metrics"].values())))
    assert "feedback:1" in comparison["feedback_heldout"]
    assert any(s["name"] == "feedback" for s in meta["sources"])


def with_metrics(src: Path, dst: Path, version: str, jigsaw: float, bg: float) -> Path:
    shutil.copytree(src, dst)
    meta = json.loads((dst / "metadata.json").read_text())
    meta.update(version=version, metrics={"jigsaw_mean_roc_auc": jigsaw, "background_heldout": {"flag_rate": bg},
                                          "sources": {"gametox": {"toxic_roc_auc": jigsaw - 0.02}}})
    (dst / "metadata.json").write_text(json.dumps(meta))
    return dst


def test_promote_refuses_worse_accepts_better_and_rolls_back(tmp_path: Path, tiny_model_dir: Path,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    models.mkdir()
    with_metrics(tiny_model_dir, models / "v1", "v1", 0.95, 0.004)
    with_metrics(tiny_model_dir, models / "worse", "worse", 0.90, 0.004)
    with_metrics(tiny_model_dir, models / "better", "better", 0.96, 0.003)
    set_current(models, "v1")
    with pytest.raises(PromotionRefused, match=re.escape("jigsaw mean ROC-AUC 0.9500 -> 0.9000")):
        promote(models, "worse")
    assert current_name(models) == "v1"
    changes = promote(models, "better")
    assert current_name(models) == "better" and not any(c.worse for c in changes)
    monkeypatch.setenv("MODELS_DIR", str(models))
    assert main(["model", "promote", "worse"]) == 2
    assert "use --force" in capsys.readouterr().err
    assert main(["model", "promote", "worse", "--force"]) == 0
    assert current_name(models) == "worse"
    assert main(["model", "list"]) == 0
    listing = capsys.readouterr().out
    assert "* worse" in listing and "  better" in listing
    assert rollback(models) == "better" and rollback(models) == "v1"
    assert main(["model", "rollback"]) == 2
    assert "nothing to roll back" in capsys.readouterr().err


class _Flag:
    def __init__(self, toxic: float, kept: bool) -> None:
        self.scores = {label: 0.0 for label in LABELS} | {"toxic": toxic}
        self.verdict_labels = ["toxic"] if kept else []


def test_threshold_suggestion_matches_a_hand_computed_answer() -> None:
    # scores of reviewed flags, and whether the moderator kept "toxic"
    history = [(0.95, True), (0.9, True), (0.85, False), (0.8, True), (0.75, True), (0.7, False),
               (0.65, False), (0.6, True), (0.55, False), (0.5, False)]
    flags = [_Flag(s, k) for s, k in history]
    current = dict.fromkeys(LABELS, 0.5)
    [toxic, *others] = suggest_thresholds(flags, current, target_precision=0.8)
    # precision at each cut: .95 1/1, .9 2/2, .85 2/3, .8 3/4, .75 4/5=.8, .7 4/6, ... -> lowest with >= .8 is .75
    assert (toxic.threshold, toxic.precision, toxic.recall) == (0.75, 0.8, 0.8)
    assert (toxic.positives, toxic.negatives) == (5, 5)
    assert all(s.threshold is None for s in others)  # no kept verdicts for those labels
    assert suggest_thresholds(flags[:4], current)[0].threshold is None  # too few verdicts


def test_thresholds_suggest_cli_prints_the_table(db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                 models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i, (score, kept) in enumerate([(0.95, True), (0.9, True), (0.85, False), (0.8, True), (0.75, True),
                                       (0.7, False), (0.65, False), (0.6, True), (0.55, False), (0.5, False)]):
        flag_id = add_flag(db, 3, f"message {i}", toxic=score)
        status = FlagStatus.CONFIRMED if kept else FlagStatus.DISMISSED
        db.write_sync(lambda s, f=flag_id, st=status: review_flag(s, 3, f, st, 1, verdict_labels=["toxic"]))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("MODELS_DIR", str(models_dir))
    assert main(["thresholds", "suggest", "--guild", "3", "--target-precision", "0.8"]) == 0
    out = capsys.readouterr().out
    toxic_line = next(line for line in out.splitlines() if line.startswith("toxic "))
    assert toxic_line.split()[:5] == ["toxic", "0.500", "0.750", "5", "5"]


def test_purge_erases_only_old_texts_and_keeps_verdicts(db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    old = add_flag(db, 1, "old insult", toxic=0.9)
    new = add_flag(db, 1, "new insult", toxic=0.9)
    db.write_sync(lambda s: review_flag(s, 1, old, FlagStatus.CONFIRMED, 7))
    db.write_sync(lambda s: setattr(s.get(Flag, old), "created_at", utcnow() - timedelta(days=100)))
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["db", "purge", "--days", "90"]) == 0
    assert "erased the text of 1 flags" in capsys.readouterr().out
    with db.sessions() as s:
        by_id = {f.id: f for f in s.scalars(select(Flag))}
    assert by_id[old].text is None and by_id[old].verdict_labels == ["toxic"]
    assert by_id[old].scores["toxic"] == pytest.approx(0.9) and not math.isnan(by_id[old].scores["toxic"])
    assert by_id[new].text == "new insult"
