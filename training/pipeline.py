"""`toxmod train` end to end: data → fine-tune (checkpointed) → export → evaluate and calibrate → card."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from bot.scoring.classifier import ToxicityModel
from bot.scoring.info import WEIGHTS
from bot.scoring.normalize import match_key
from bot.scoring.onnx_export import build_onnx
from bot.scoring.report import Comparison, ModelReport, TrainingData, compare_reports
from training.config import TrainConfig
from training.dataset import Prepared, prepare_data
from training.evaluate import EvalSettings, evaluate, format_report
from training.export import save_model_dir, write_metadata, write_model_card
from training.recipe import MACHINE_FIELDS, Recipe
from training.replay import carry_over
from training.sources import SOURCES, load_ubuntu_irc
from training.sources.topical_chat import topical_messages
from training.train import Trainer, default_base_model, write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecipeStage:
    """A run as the last stage of a recipe: the file, what its earlier stages did, and this stage's note."""

    recipe: Path
    earlier: list[dict]
    note: str
    languages: tuple[str, ...] = ("en",)


@dataclass
class TrainResult:
    """A trained model: its folder, its evaluation report, and the report as text."""

    model_dir: Path
    report: dict
    report_text: str



def reference_scorer(model_dir: Path) -> ToxicityModel:
    """Evaluation and calibration score with torch in fp32, whatever engine serves later: the figures
    and thresholds stay the same on every machine, and faster engines are admitted only if they agree
    with this reference (benchmarks/engine_agreement.py). A model shipped as its 8-bit graph alone is
    measured as it ships, through ONNX Runtime."""
    engine = "torch-fp32" if (Path(model_dir) / WEIGHTS).is_file() else "onnx-int8"
    return ToxicityModel(model_dir, max_length=128, engine=engine, threads=torch.get_num_threads())

def heldout_background(cfg: TrainConfig, data: Prepared, rows: int = 8000) -> dict[str, list[str]]:
    """Background chat never used in training or calibration, per source, for the honest false-flag rate:
    IRC lines beyond the training cap, and Topical-Chat's held-out conversations. A line that also occurs
    in the training or validation data ("yes", "lol") is left out, so the measure is of unseen talk."""
    if cfg.data_dir is None:
        return {}
    seen = {match_key(t) for t in data.train["text"]} | {match_key(t) for t in data.val["text"]}
    read = {p["name"] for p in data.provenance}  # with --skip-missing, not every source named was there
    candidates = {
        "ubuntu_irc": lambda path: load_ubuntu_irc(path.parent, cap=None)["text"],
        "topical_chat": lambda path: topical_messages(path, "heldout"),
    }
    out = {}
    for source, load in candidates.items():
        if source not in read:
            continue
        unseen = {n: t for t in load(Path(cfg.data_dir) / SOURCES[source].relpath)
                  if (n := match_key(t)) and n not in seen}
        ranked = sorted(unseen, key=lambda n: hashlib.sha1(f"heldout:{n}".encode(), usedforsecurity=False).hexdigest())
        out[source] = [unseen[n] for n in ranked[:rows]]
    return out


def run_training(
    cfg: TrainConfig,
    out_dir: Path,
    version: str,
    *,
    init_model: Path | None = None,
    resume: bool = False,
    eval_settings: EvalSettings | None = None,
    progress: bool = True,
    within: RecipeStage | None = None,
) -> TrainResult:
    """Train, export, evaluate and calibrate one model. As a recipe's last stage (`within`), the recipe and
    every stage are recorded in the metadata, and the model is not compared with the earlier stage it
    continued from, since that intermediate model is never served."""
    data = prepare_data(cfg)
    trainer = _trained(cfg, data, init_model, resume, progress)

    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    save_model_dir(trainer.model, trainer.tokenizer, staging)
    continued = within is not None and bool(within.earlier)
    metadata = _metadata(cfg, data, trainer, version, init_model, within)
    if cfg.replay is not None and (sample := carry_over(cfg.replay, staging)):
        metadata["replay_sample"] = sample
    write_metadata(staging, metadata)

    settings = eval_settings or EvalSettings()
    scorer = reference_scorer(staging)
    background = heldout_background(cfg, data)
    report = evaluate(scorer, data.val, background, settings, progress=progress)
    report_text = format_report(report)
    metadata["thresholds"] = report.pop("thresholds")
    metadata["language_thresholds"] = report.pop("language_thresholds")
    metadata["metrics"] = report
    if init_model is not None and not continued:
        report_text += f"\ntrained on {TrainingData.from_sources(data.provenance).describe()}\n"
        metadata["comparison"] = compare_with_init(init_model, data.val, background, settings, report, progress)
        comparison = Comparison.from_json(metadata["comparison"])
        report_text += "\n" + (comparison.format() if comparison else "")
    write_metadata(staging, metadata)
    write_model_card(staging, metadata, report_text)
    build_onnx(staging)
    write_json(cfg.run_dir / "report.json", metadata)
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    log.info("exported %s to %s", version, out_dir)
    return TrainResult(out_dir, metadata, report_text)


def _metadata(cfg: TrainConfig, data: Prepared, trainer: Trainer, version: str, init_model: Path | None,
              within: RecipeStage | None) -> dict[str, Any]:
    """What metadata.json says before evaluation: what the model is, what it was trained on and how."""
    # a recipe's later stages start from its own earlier ones: the base is still what stage 1 started from
    continued = within is not None and bool(within.earlier)
    base = (None if continued else init_model) or cfg.base_model or default_base_model()
    metadata: dict[str, Any] = {
        "version": version,
        "base_model": "sentence-transformers/all-MiniLM-L6-v2" if base == default_base_model() else str(base),
        "sources": data.provenance,
        "training_args": cfg.to_json(),
        "training": trainer.summary(),
        "thresholds": {},
    }
    if within is not None:
        metadata["languages"] = list(within.languages)
        metadata["training"]["recipe"] = str(within.recipe)
        metadata["training"]["stages"] = [*within.earlier,
                                          stage_record(len(within.earlier) + 1, cfg, trainer, within.note)]
    return metadata


def _trained(cfg: TrainConfig, data: Prepared, init_model: Path | None, resume: bool, progress: bool) -> Trainer:
    trainer = Trainer(cfg, data, init_model=init_model)
    if resume:
        trainer.load_checkpoint()
    elif trainer.checkpoint_path.exists():
        raise FileExistsError(
            f"{trainer.checkpoint_path} exists: pass --resume to continue it or choose another --run-dir"
        )
    trainer.train(progress=progress)
    trainer.save_checkpoint()
    return trainer


def stage_record(number: int, cfg: TrainConfig, trainer: Trainer, note: str = "") -> dict:
    """What metadata.json says about one stage of a recipe: its settings and how it went."""
    summary = trainer.summary()
    return {"stage": number, "note": note, "training_args": cfg.to_json(),
            **{k: summary[k] for k in ("steps", "best_step", "seconds")}}


def run_recipe(recipe: Recipe, models_dir: Path, *, data_dir: Path | None, runs_dir: Path = Path("runs"),
               resume: bool = False, progress: bool = True, **machine: Any) -> TrainResult:
    """Every stage of a recipe in order; each stage but the last exports plain weights into its run
    directory, for the next stage to start from, and the last is trained, evaluated and exported as usual.

    A stage whose weights are already exported with the same settings is not run again, so an interrupted
    recipe picks up where it stopped (with `resume`, inside the stage it stopped in too).
    """
    records: list[dict] = []
    init: Path | None = None
    for stage in recipe.stages:
        run_dir = runs_dir / recipe.name / f"stage-{stage.number}"
        cfg = stage.config(run_dir, data_dir=data_dir, **machine)
        if stage.number == len(recipe.stages):
            log.info("recipe %s: stage %d of %d (final)", recipe.name, stage.number, len(recipe.stages))
            return run_training(cfg, models_dir / recipe.name, recipe.version, init_model=init, resume=resume,
                                eval_settings=recipe.eval_settings(), progress=progress,
                                within=RecipeStage(recipe.path, records, stage.note, recipe.languages))
        done = run_dir / "stage.json"
        if done.is_file():
            record = json.loads(done.read_text())
            # through TrainConfig: an option added since the stage ran reads as its default, not as a change
            trained = TrainConfig.from_json(record["training_args"]).to_json()
            if _recipe_settings(trained) != _recipe_settings(cfg.to_json()):
                raise FileExistsError(f"{run_dir} holds stage {stage.number} trained with other settings: "
                                      "remove it or give the recipe another name")
            log.info("recipe %s: stage %d already trained (%s)", recipe.name, stage.number, run_dir)
        else:
            log.info("recipe %s: stage %d of %d", recipe.name, stage.number, len(recipe.stages))
            trainer = _trained(cfg, prepare_data(cfg), init, resume, progress)
            save_model_dir(trainer.model, trainer.tokenizer, run_dir / "model")
            record = stage_record(stage.number, cfg, trainer, stage.note)
            write_json(done, record)
        records.append(record)
        init = run_dir / "model"
    raise AssertionError("a recipe has at least one stage")  # load_recipe refuses an empty one


def _recipe_settings(args: dict) -> dict:
    """A stage's settings without where things are on the machine, which may change between runs."""
    return {k: v for k, v in args.items() if k not in MACHINE_FIELDS}


def compare_with_init(init_model: Path, val: pd.DataFrame, background: dict[str, list[str]], settings: EvalSettings,
                      report: dict, progress: bool) -> dict:
    """The model we started from, evaluated on exactly the same validation rows and background chat."""
    current = reference_scorer(init_model)
    before = evaluate(current, val, background, settings, progress=progress)
    before.pop("thresholds")
    return compare_reports(ModelReport.from_metrics(before), ModelReport.from_metrics(report), current.version)


def _training_data(meta: dict[str, Any], data_dir: Path | None) -> tuple[TrainConfig, Prepared]:
    """The data a model was trained with, split the same way, from its metadata (corpora maybe moved)."""
    cfg = TrainConfig.from_json(meta.get("training_args", {}))
    if data_dir is not None:
        cfg.data_dir = data_dir
    return cfg, prepare_data(cfg)


def recalibrate(model_dir: Path, settings: EvalSettings, data_dir: Path | None = None,
                progress: bool = True) -> TrainResult:
    """Evaluate an exported model again on the validation split it was trained with and choose new
    thresholds (another target precision or background budget); metadata and card are rewritten in place."""
    meta = json.loads((model_dir / "metadata.json").read_text())
    cfg, data = _training_data(meta, data_dir)
    report = evaluate(reference_scorer(model_dir), data.val, heldout_background(cfg, data), settings,
                      progress=progress)
    report_text = format_report(report)
    meta["thresholds"] = report.pop("thresholds")
    meta["language_thresholds"] = report.pop("language_thresholds")
    meta["metrics"] = report
    meta["calibration_settings"] = dataclasses.asdict(settings)
    write_metadata(model_dir, meta)
    write_model_card(model_dir, meta, report_text)
    log.info("recalibrated %s", model_dir)
    return TrainResult(model_dir, meta, report_text)


def measure_as_shipped(model_dir: Path, split_of: Path, settings: EvalSettings, data_dir: Path | None = None,
                       progress: bool = True) -> TrainResult:
    """Evaluate a model with the thresholds it ships with on another model's validation split.

    This is how two models are compared fairly: the same rows, each model as users would run it. Nothing
    is written to either model directory.
    """
    cfg, data = _training_data(json.loads((split_of / "metadata.json").read_text()), data_dir)
    scorer = reference_scorer(model_dir)
    report = evaluate(scorer, data.val, heldout_background(cfg, data), settings, progress=progress,
                      thresholds=scorer.info.thresholds, language_thresholds=scorer.info.language_thresholds)
    return TrainResult(model_dir, report, format_report(report))
