"""A model's replay sample, and a retrain from verdicts alone that replays it and does not forget.

The current model is the tiny one trained on two corpora laid out as training reads them: synthetic chat
as Jigsaw's `train.csv` (a licence that lets rows be passed on) and as GameTox's `gametox.csv` (no licence
stated). The verdicts are a server's gaming talk ("i will kill the raid tonight"), dismissed: trained on
them alone the model unlearns threats, which is what the replay sample is for.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.labels import LABELS
from bot.scoring.info import REPLAY_SAMPLE
from bot.scoring.normalize import match_key
from tests.support.tiny_model import CLEAN_WORDS, synthetic_chat, train_tiny, write_jigsaw_csv
from training.config import EvalSettings
from training.corpora import load_registry
from training.dataset import split
from training.pipeline import measure_as_shipped
from training.replay import exclusion, write_replay_sample
from training.sources import REGISTRY
from training.sources.replay import load_replay

# how far a retrain may move the current model's validation ROC-AUC and still count as not forgetting; the
# retrain without the sample must move it further, or the test could not tell the two apart
TOLERANCE = 0.02
VAL_PERCENT = 20  # train_tiny's split


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    (root / "jigsaw2018").mkdir()
    write_jigsaw_csv(root / "jigsaw2018" / "train.csv", synthetic_chat())
    (root / "gametox").mkdir()
    with (root / "gametox" / "gametox.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["message", "label"])
        for row in synthetic_chat(80)[::2]:  # insults (GameTox class 1) and clean chat
            writer.writerow([f"{row['comment_text']} gg", 1 if row["insult"] else 0])
    return root


@pytest.fixture(scope="module")
def current(tiny_base: Path, corpora: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model trained on the two corpora, with its replay sample written."""
    work = tmp_path_factory.mktemp("current")
    model = train_tiny(tiny_base, work / "models", "tiny-corpora", work, extra_csv=[], data_dir=corpora,
                       sources=["jigsaw", "gametox"])
    write_replay_sample(model, None, rows_per_source=60)
    return model


def test_the_sample_holds_only_training_rows_of_redistributable_corpora(
        current: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    meta = json.loads((current / "metadata.json").read_text())
    record = meta["replay_sample"]
    sample = load_replay(current / REPLAY_SAMPLE)
    assert set(sample["source"]) == {"jigsaw"} and record["sources"]["jigsaw"]["rows"] == len(sample)
    assert record["excluded"] == {"gametox": "licence: none stated"}
    assert split(sample, match_key, VAL_PERCENT)[1].empty  # no validation row: the same hash puts all in train
    # about 60 rows, each label stratum by its share of the corpus, none under the floor of 20
    training_rows = record["sources"]["jigsaw"]["training_rows"]
    assert 55 <= len(sample) < training_rows
    assert (sample["threat"] == 1).sum() >= 20 and (sample["insult"] == 1).sum() >= 20
    assert record["sha256"] == hashlib.sha256((current / REPLAY_SAMPLE).read_bytes()).hexdigest()
    card = (current / "MODEL_CARD.md").read_text()
    assert f"holds {len(sample):,} rows of the training split" in card and "gametox (licence: none stated)" in card
    # again, from the command line: the same bytes, one paragraph in the card
    monkeypatch.setenv("MODELS_DIR", str(current.parent))
    assert main(["model", "replay-sample", current.name, "--rows-per-source", "60"]) == 0
    out = capsys.readouterr().out
    assert f"{len(sample)} rows" in out and "gametox        left out: licence: none stated" in out
    assert json.loads((current / "metadata.json").read_text())["replay_sample"]["sha256"] == record["sha256"]
    assert (current / "MODEL_CARD.md").read_text() == card


def test_only_corpora_whose_licence_lets_rows_be_passed_on_are_sampled() -> None:
    corpora = {source: corpus for corpus in load_registry() for source in corpus.sources}
    left_out = {name for name in [*REGISTRY, "feedback", "counterfactual"] if exclusion(name, corpora)}
    assert left_out == {"gametox", "conda", "russe_detox", "offenseval_tr", "offenseval_ar",  # none stated
                        "id_abusive", "ban_pl",  # non-commercial, research use only
                        "implicit_hate",  # CC-BY, but the authors hand it out through a form
                        "feedback", "counterfactual"}  # a server's verdicts; rows made in training
    assert exclusion("contrast", corpora) is None  # this repository's own


def _verdicts(path: Path) -> Path:
    """A server's dismissed flags of gaming talk, as `toxmod feedback export` writes them."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "comment_text", *LABELS, "source", "guild", "decided_at"])
        writer.writeheader()
        for i in range(40):
            words = " ".join(CLEAN_WORDS[(i * k) % len(CLEAN_WORDS)] for k in (1, 5))
            writer.writerow({"id": i, "comment_text": f"i will {('kill', 'hurt')[i % 2]} the raid {words}",
                             **dict.fromkeys(LABELS, 0), "source": "feedback:1", "guild": 1,
                             "decided_at": "2026-11-01T00:00:00"})
    return path


def _retrain(init: Path, name: str, feedback: Path, models: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["train", "--name", name, "--init", str(init), "--feedback", str(feedback), "--no-data",
                 "--models-dir", str(models), "--run-dir", str(models.parent / "runs" / name),
                 "--samples-per-epoch", "1600", "--batch-size", "16", "--lr", "2e-3", "--max-length", "32",
                 "--obfuscate-share", "0", "--val-percent", str(VAL_PERCENT), "--no-freeze-embeddings",
                 "--threads", "1", "--source-weight", "feedback=4"]) == 0
    return capsys.readouterr().out


def _auc_on_current_split(model: Path, current: Path, corpora: Path) -> float:
    report = measure_as_shipped(model, current, EvalSettings(obfuscation_rows=20), corpora, progress=False).report
    return float(report["jigsaw_mean_roc_auc"])


def test_a_verdict_only_retrain_replays_the_sample_and_keeps_the_validation_figures(
        current: Path, corpora: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MODEL_DIR", "")
    monkeypatch.chdir(tmp_path)
    models, feedback = tmp_path / "models", _verdicts(tmp_path / "feedback.csv")
    out = _retrain(current, "with-replay", feedback, models, capsys)
    replayed = len(load_replay(current / REPLAY_SAMPLE))
    assert f"trained on 40 verdicts; replay sample {replayed} rows (jigsaw {replayed}); no corpora read whole" in out

    # the same retrain from a copy of the model without its sample: the control that shows forgetting
    bare = tmp_path / "bare"
    shutil.copytree(current, bare, ignore=shutil.ignore_patterns(REPLAY_SAMPLE))
    out = _retrain(bare, "without-replay", feedback, models, capsys)
    assert "no replay sample" in out

    before = float(json.loads((current / "metadata.json").read_text())["metrics"]["jigsaw_mean_roc_auc"])
    kept = _auc_on_current_split(models / "with-replay", current, corpora)
    forgot = _auc_on_current_split(models / "without-replay", current, corpora)
    assert before > 0.9, before  # a model with something to forget
    assert forgot < before - TOLERANCE, (before, forgot)
    assert abs(kept - before) <= TOLERANCE, (before, kept)
    candidate = json.loads((models / "with-replay" / "metadata.json").read_text())
    assert candidate["replay_sample"]["inherited_from"] == "tiny-corpora"  # the next retrain replays it too
    assert (models / "with-replay" / REPLAY_SAMPLE).read_bytes() == (current / REPLAY_SAMPLE).read_bytes()
