"""Training end to end on fixtures: train, checkpoint, resume, evaluate, export; calibration; device; base model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from bot.labels import LABELS
from bot.scoring.classifier import ToxicityModel
from bot.scoring.ranking import average_precision, roc_auc, threshold_for_precision
from tests.support.paths import SOURCE_FIXTURES
from training.config import TrainConfig
from training.dataset import prepare_data
from training.evaluate import EvalSettings
from training.pipeline import run_training
from training.train import Trainer, pick_device


def config(tiny_base: Path, run_dir: Path, **overrides: object) -> TrainConfig:
    settings = dict(data_dir=SOURCE_FIXTURES, base_model=tiny_base, run_dir=run_dir, epochs=2.0, batch_size=4,
                    max_length=32, samples_per_epoch=40, checkpoint_every=3, ubuntu_cap=None, threads=1, seed=7,
                    obfuscate_share=0.5, val_percent=30)
    settings.update(overrides)
    return TrainConfig(**settings)


def test_fixture_run_trains_evaluates_and_exports_a_complete_model_dir(tiny_base: Path, tmp_path: Path) -> None:
    result = run_training(config(tiny_base, tmp_path / "run"), tmp_path / "models" / "fx", "fx-1",
                          eval_settings=EvalSettings(obfuscation_rows=10), progress=False)
    out = result.model_dir
    assert {p.name for p in out.iterdir()} >= {
        "MODEL_CARD.md", "config.json", "metadata.json", "model.safetensors", "tokenizer.json",
        "tokenizer_config.json", "model.onnx", "model.int8.onnx"}  # the export step builds the ONNX engines
    assert not (tmp_path / "models" / "fx.partial").exists()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["id2label"] == {str(i): label for i, label in enumerate(LABELS)}
    with safe_open(out / "model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()}  # noqa: SIM118 - safe_open is not a dict == {torch.float16}
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["version"] == "fx-1" and meta["labels"] == list(LABELS)
    assert set(meta["thresholds"]) == set(LABELS) and all(0 < t <= 1 for t in meta["thresholds"].values())
    names = {s["name"] for s in meta["sources"]}
    assert {"jigsaw", "davidson", "olid", "gametox", "conda", "hatexplain", "convabuse", "ubuntu_irc"} <= names
    assert all(len(s["sha256"]) == 64 and s["rows"] > 0 for s in meta["sources"])
    assert meta["training"]["device"] == "cpu" and meta["training"]["seconds_per_epoch"] is not None
    assert meta["training_args"]["batch_size"] == 4 and "created" in meta
    for key in ("labels", "sources", "background_heldout", "obfuscation", "calibration"):
        assert key in meta["metrics"]
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Intended use" in card and "## Known limits" in card and "fx-1" in card
    assert ToxicityModel(out).predict(["hello"]).shape == (1, 6)
    assert "thresholds (target precision" in result.report_text


def test_interrupted_run_resumes_to_the_same_weights(tiny_base: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    whole_cfg = config(tiny_base, tmp_path / "whole")
    data = prepare_data(whole_cfg)
    whole = Trainer(whole_cfg, data)
    whole.train(progress=False)

    cut_cfg = config(tiny_base, tmp_path / "cut")
    first = Trainer(cut_cfg, data)
    real_batch, calls = Trainer._batch, {"n": 0}

    def dying_batch(self: Trainer, rows: np.ndarray, batch_no: int):
        calls["n"] += 1
        if calls["n"] > 8:
            raise KeyboardInterrupt("session ended")
        return real_batch(self, rows, batch_no)

    monkeypatch.setattr(Trainer, "_batch", dying_batch)
    with pytest.raises(KeyboardInterrupt):
        first.train(progress=False)
    monkeypatch.setattr(Trainer, "_batch", real_batch)
    assert first.checkpoint_path.is_file()

    resumed = Trainer(cut_cfg, data)
    assert resumed.load_checkpoint() and resumed.step == 6  # the last checkpoint before the interruption
    resumed.train(progress=False)
    assert resumed.step == whole.step
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-5), name


def test_resume_refuses_a_checkpoint_made_with_other_settings(tiny_base: Path, tmp_path: Path) -> None:
    cfg = config(tiny_base, tmp_path / "run", samples_per_epoch=8, epochs=1.0, checkpoint_every=1)
    data = prepare_data(cfg)
    trainer = Trainer(cfg, data)
    trainer.train(progress=False)
    trainer.save_checkpoint()
    other = Trainer(config(tiny_base, tmp_path / "run", samples_per_epoch=8, epochs=1.0, checkpoint_every=1,
                           lr=1e-3), data)
    with pytest.raises(ValueError, match="lr"):
        other.load_checkpoint()
    # when to stop may change: an interrupted run can be cut short and exported from its checkpoint
    shorter = Trainer(config(tiny_base, tmp_path / "run", samples_per_epoch=8, epochs=1.0, checkpoint_every=1,
                             max_steps=1), data)
    assert shorter.load_checkpoint() and shorter.step >= shorter.total_steps


def test_a_second_run_into_the_same_run_dir_needs_resume(tiny_base: Path, tmp_path: Path) -> None:
    cfg = config(tiny_base, tmp_path / "run", samples_per_epoch=8, epochs=1.0)
    run_training(cfg, tmp_path / "m" / "a", "a", eval_settings=EvalSettings(obfuscation_rows=4), progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        run_training(cfg, tmp_path / "m" / "a", "a", progress=False)


def test_masked_loss_ignores_unknown_labels() -> None:
    from training.train import masked_bce

    logits = torch.tensor([[5.0, -5.0, 9.0, 0.0, 0.0, 0.0]])
    nan = float("nan")
    labels = torch.tensor([[1.0, 0.0, nan, nan, nan, nan]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[0, :2], labels[0, :2])
    assert masked_bce(logits, labels).item() == pytest.approx(expected.item())


def test_device_choice_on_a_machine_without_cuda() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert pick_device("auto").type == "cpu"
    assert pick_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="no CUDA device"):
        pick_device("cuda")


def test_real_base_model_loads_from_its_package() -> None:
    from transformers import AutoModel, AutoTokenizer

    from training.train import default_base_model

    base = default_base_model()
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModel.from_pretrained(base, local_files_only=True)
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(22.7e6, rel=0.01)
    assert tokenizer("hello world")["input_ids"][0] == tokenizer.cls_token_id


def test_threshold_for_precision_on_hand_computed_scores() -> None:
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    s = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.55, 0.1])
    # precision by cut: .95→1, .9→1, .85→.67, .8→.75, .7→.6, .6→.5, .55→.57, .1→.5
    t, p, r = threshold_for_precision(y, s, target=0.75, floor=0.0)
    assert (t, p, r) == (0.8, 0.75, 0.75)
    t, p, r = threshold_for_precision(y, s, target=0.99, floor=0.0)
    assert (t, p, r) == (0.9, 1.0, 0.5)
    t, _, _ = threshold_for_precision(y, s, target=0.5, floor=0.3)
    assert t == 0.3  # never below the floor
    assert threshold_for_precision(np.zeros(3), s[:3], 0.9)[1:] == (None, None)


def test_ranking_metrics_match_hand_computed_values() -> None:
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert roc_auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)
    assert roc_auc(np.ones(3), np.arange(3)) is None
    assert average_precision(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx((1 + 2 / 3) / 2)


def test_background_budget_raises_the_label_that_flags_most_background_first() -> None:
    from training.evaluate import fit_background_budget

    background = np.zeros((100, 6))
    background[:5, 0] = [0.9, 0.8, 0.7, 0.6, 0.55]  # toxic flags five background messages at 0.5
    background[:2, 4] = [0.95, 0.6]  # insult flags two, one of them the same message as toxic
    start = dict.fromkeys(LABELS, 0.5)
    fitted = fit_background_budget(start, background, budget=0.02)  # two of 100 may be flagged
    # toxic (5 hits) is raised past 0.55, 0.6 and 0.7; it then flags messages 0 and 1, as insult does,
    # and the union {0, 1} is within budget, so insult never moves
    assert fitted["toxic"] == pytest.approx(0.7001, abs=1e-4)
    assert fitted["insult"] == 0.5
    assert ((background >= np.array([fitted[lb] for lb in LABELS])).any(axis=1)).sum() == 2
    assert fit_background_budget(start, background[:0], 0.0) == start
    capped = fit_background_budget(start, np.ones((10, 6)), budget=0.0)  # cannot be met: stop at the cap
    assert set(capped.values()) == {0.99}


def test_early_stopping_keeps_the_best_weights_and_stops_after_patience() -> None:
    from training.early_stopping import EarlyStopping

    model = torch.nn.Linear(2, 1)
    stopper = EarlyStopping(patience=2)
    with torch.no_grad():
        model.weight.fill_(1.0)
    assert stopper.update(0.80, 100, model) and stopper.best_step == 100
    with torch.no_grad():
        model.weight.fill_(2.0)
    assert not stopper.update(0.7999, 200, model)  # no real gain
    assert not stopper.should_stop
    assert not stopper.update(0.75, 300, model)
    assert stopper.should_stop
    assert torch.equal(stopper.best_weights["weight"], torch.ones(1, 2))  # the step-100 weights
    restored = EarlyStopping(patience=2)
    restored.load(stopper.state())
    assert (restored.best, restored.best_step, restored.should_stop) == (0.80, 100, True)


def test_run_with_validation_checks_stops_early_and_reports_its_best_step(tiny_base: Path, tmp_path: Path) -> None:
    cfg = config(tiny_base, tmp_path / "run", eval_every=2, patience=1, epochs=6.0)
    trainer = Trainer(cfg, prepare_data(cfg))
    planned = trainer.total_steps
    trainer.train(progress=False)
    assert trainer.stopper.best_step > 0
    assert trainer.step < planned or trainer.stopper.stale < 1  # stopped early, or kept improving to the end
    assert 0.0 <= trainer.validation_score() <= 1.0


def test_label_fidelity_counts_a_threat_shown_only_when_it_stands_out_against_its_threshold() -> None:
    import pandas as pd

    from bot.decision import Scores
    from bot.moderation.policy import Policy
    from training.evaluate import label_fidelity, top_two

    thresholds = {"toxic": 0.8, "severe_toxic": 0.7, "obscene": 0.7, "threat": 0.2, "insult": 0.7,
                  "identity_hate": 0.5}
    probs = np.array([
        [0.95, 0.90, 0.9, 0.60, 0.9, 0.1],  # a threat scored high on everything: threat margin still largest
        [0.95, 0.90, 0.9, 0.10, 0.9, 0.1],  # a threat the model did not see: flagged, threat not shown
        [0.10, 0.05, 0.1, 0.05, 0.1, 0.1],  # a threat not flagged at all
    ], dtype=np.float32)
    val = pd.DataFrame({label: [1.0, 1.0, 1.0] if label in ("toxic", "threat") else [np.nan] * 3
                        for label in LABELS})
    policy = Policy(thresholds)
    for row, top in zip(probs, top_two(probs, thresholds), strict=True):
        decided = policy.decide(Scores(tuple(float(p) for p in row), "m", 0.0))
        assert [LABELS[j] for j in top] == [label for label, _ in decided.top]
    fidelity = label_fidelity(val, probs, thresholds)
    threat = {"positives": 3, "flagged": pytest.approx(2 / 3, abs=1e-4), "shown_when_flagged": 0.5}
    assert fidelity["threat"] == {**threat, "named": threat}  # nothing outranks a threat
    assert fidelity["insult"]["positives"] == 0 and fidelity["insult"]["flagged"] is None


def test_label_fidelity_also_counts_a_label_only_where_a_moderator_would_name_it() -> None:
    import pandas as pd

    from training.evaluate import label_fidelity

    thresholds = dict.fromkeys(LABELS, 0.5)
    scored = [{"toxic": 0.9, "obscene": 0.4, "insult": 0.9},  # "you f***ing idiot": shown insult, toxic
              {"toxic": 0.9, "obscene": 0.9, "insult": 0.1}]  # "f*** this patch": shown obscene, toxic
    probs = np.array([[row.get(label, 0.1) for label in LABELS] for row in scored], dtype=np.float32)
    val = pd.DataFrame({"toxic": [1.0, 1.0], "severe_toxic": [0.0, 0.0], "obscene": [1.0, 1.0],
                        "threat": [0.0, 0.0], "insult": [1.0, np.nan], "identity_hate": [0.0, 0.0]})
    obscene = label_fidelity(val, probs, thresholds)["obscene"]
    assert (obscene["positives"], obscene["shown_when_flagged"]) == (2, 0.5)
    assert obscene["named"] == {"positives": 1, "flagged": 1.0, "shown_when_flagged": 1.0}
    assert label_fidelity(val, probs, thresholds)["insult"]["named"]["shown_when_flagged"] == 1.0


def test_a_model_measured_as_shipped_keeps_its_thresholds_and_its_files(tiny_base: Path, tmp_path: Path) -> None:
    from training.pipeline import measure_as_shipped

    out = run_training(config(tiny_base, tmp_path / "run"), tmp_path / "models" / "fx", "fx-1",
                       eval_settings=EvalSettings(obfuscation_rows=4), progress=False).model_dir
    before = (out / "metadata.json").read_text()
    shipped = json.loads(before)["thresholds"]
    result = measure_as_shipped(out, out, EvalSettings(obfuscation_rows=4, target_precision=0.5), progress=False)
    assert result.report["thresholds"] == shipped  # measured at its own thresholds, not recalibrated
    assert {d["threshold"] for d in result.report["calibration"].values()} == set(shipped.values())
    assert all(d["raised_for_background"] is None for d in result.report["calibration"].values())
    assert (out / "metadata.json").read_text() == before  # nothing rewritten


def test_background_budget_holds_for_each_source_on_its_own() -> None:
    from training.evaluate import fit_background_budget

    irc, topical = np.zeros((1000, 6)), np.zeros((100, 6))
    topical[:3, 5] = [0.9, 0.8, 0.7]  # identity_hate flags 3 % of the small source, 0.3 % of the two pooled
    start = dict.fromkeys(LABELS, 0.5)
    pooled = fit_background_budget(start, np.vstack([irc, topical]), budget=0.01)
    assert pooled == start  # a pooled budget lets the large source hide the small one
    fitted = fit_background_budget(start, {"ubuntu_irc": irc, "topical_chat": topical}, budget=0.01)
    assert fitted["identity_hate"] == pytest.approx(0.8001, abs=1e-4)  # one of 100 may be flagged
    assert {lb: v for lb, v in fitted.items() if lb != "identity_hate"} == {lb: 0.5 for lb in LABELS[:5]}


def test_hard_negatives_are_the_clean_background_rows_scored_nearest_the_lines(tiny_model_dir: Path,
                                                                               tmp_path: Path) -> None:
    import pandas as pd

    from training.hard_negatives import candidates, margins, mined_boost

    clean = dict.fromkeys(LABELS, 0.0)
    train = pd.DataFrame([
        {"text": "you are a stupid idiot and everyone hates you", "source": "topical_chat", **clean},
        {"text": "the meeting moved to tuesday", "source": "topical_chat", **clean},
        {"text": "sudo apt-get install vim", "source": "ubuntu_irc", **clean},
        {"text": "you are a stupid idiot", "source": "jigsaw", **{**clean, "toxic": 1.0, "insult": 1.0}},
        {"text": "i love this song", "source": "counterfactual", **clean},
    ])
    assert list(candidates(train)) == [0, 1, 2, 4]  # clean rows of background and counterfactual sources only
    cache = tmp_path / "hard_negatives.json"
    boost = mined_boost(train, tiny_model_dir, rows=1, boost=4.0, cache=cache, progress=False)
    model = ToxicityModel(tiny_model_dir, max_length=128, engine="torch-fp32")
    hardest = int(np.argmax(margins(model, train["text"].iloc[[0, 1, 2, 4]].tolist(), progress=False)))
    assert list(np.flatnonzero(boost == 4.0)) == [[0, 1, 2, 4][hardest]] and (boost[boost != 4.0] == 1.0).all()
    # a resumed run reads the mined rows back instead of scoring again
    again = mined_boost(train, tmp_path / "no-such-model", rows=1, boost=4.0, cache=cache, progress=False)
    assert list(again) == list(boost)
