"""`toxmod train --recipe`: a shipped model's stages reproduced by one command; per-label loss weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from bot.cli import main
from tests.support.paths import SOURCE_FIXTURES
from training.pipeline import run_recipe
from training.recipe import RecipeError, load_recipe
from training.train import label_weights, masked_bce

# the shipped recipe must stay loadable: a typo in it would only show hours into a real run
SHIPPED_RECIPES = sorted((Path(__file__).parents[2] / "training" / "recipes").glob("*.toml"))

TWO_STAGES = """
name = "fx"
version = "fx-2"
languages = ["de", "en"]

[calibration]
obfuscation_rows = 4

[[stage]]
note = "first pass"
epochs = 1.0
samples_per_epoch = 16
batch_size = 4
max_length = 32
checkpoint_every = 2
ubuntu_cap = 50
val_percent = 30
seed = 7
freeze_layers = 1

[[stage]]
note = "a short continuation that weighs threats more"
epochs = 1.0
samples_per_epoch = 8
batch_size = 4
max_length = 32
lr = 3e-5
ubuntu_cap = 50
val_percent = 30
seed = 7
label_weight = { threat = 3 }
source_weight = { contrast = 2 }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", SHIPPED_RECIPES, ids=lambda p: p.name)
def test_the_shipped_recipes_load(path: Path) -> None:
    recipe = load_recipe(path)
    assert recipe.stages and all(stage.note for stage in recipe.stages)


def test_a_two_stage_recipe_trains_each_stage_from_the_last_and_records_them(tiny_base: Path,
                                                                          tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, TWO_STAGES))
    runs = tmp_path / "runs"
    result = run_recipe(recipe, tmp_path / "models", data_dir=SOURCE_FIXTURES, runs_dir=runs, progress=False,
                        base_model=tiny_base, threads=1)
    assert result.model_dir == tmp_path / "models" / "fx"
    meta = json.loads((result.model_dir / "metadata.json").read_text())
    assert meta["version"] == "fx-2" and meta["base_model"] == str(tiny_base)
    assert meta["languages"] == ["de", "en"]  # what the bot routes to it
    assert set(meta["metrics"]["languages"]) == {"en"} and meta["language_thresholds"] == {}
    stages = meta["training"]["stages"]
    assert [(s["stage"], s["note"], s["steps"]) for s in stages] == [
        (1, "first pass", 4), (2, "a short continuation that weighs threats more", 2)]
    assert stages[1]["training_args"]["label_weight"] == {"threat": 3}
    assert "comparison" not in meta  # the intermediate stage is never served, so it is not compared with
    assert meta["training"]["recipe"] == str(recipe.path)
    card = (result.model_dir / "MODEL_CARD.md").read_text()
    assert f"`toxmod train --recipe {recipe.path}`" in card
    assert "1. 4 steps" in card and "2. 2 steps" in card and "weighs threats more" in card
    # stage 2 started from stage 1's exported weights, not from the base model
    assert (runs / "fx" / "stage-1" / "model" / "model.safetensors").is_file()
    # stage 1 kept its lowest layer as the base had it and trained the one above
    base = load_file(tiny_base / "model.safetensors")
    stage1 = load_file(runs / "fx" / "stage-1" / "model" / "model.safetensors")
    kept = "encoder.layer.0.attention.self.query.weight"
    above = kept.replace(".0.", ".1.")
    assert torch.equal(stage1[f"bert.{kept}"], base[kept].half())  # exported in fp16
    assert not torch.equal(stage1[f"bert.{above}"], base[above].half())

    # run again: stage 1 is not trained again, stage 2 continues from its (finished) checkpoint
    first = (runs / "fx" / "stage-1" / "model" / "model.safetensors").stat().st_mtime_ns
    again = run_recipe(recipe, tmp_path / "models", data_dir=SOURCE_FIXTURES, runs_dir=runs, resume=True,
                       progress=False, base_model=tiny_base, threads=1)
    assert (runs / "fx" / "stage-1" / "model" / "model.safetensors").stat().st_mtime_ns == first
    assert json.loads((again.model_dir / "metadata.json").read_text())["training"]["stages"] == stages

    # without --resume a stage's checkpoint is not silently reused
    with pytest.raises(FileExistsError, match="--resume"):
        run_recipe(recipe, tmp_path / "models", data_dir=SOURCE_FIXTURES, runs_dir=runs, progress=False,
                   base_model=tiny_base, threads=1)
    # a stage recorded before an option existed reads it as its default: it is not trained again
    record_path = runs / "fx" / "stage-1" / "stage.json"
    record = json.loads(record_path.read_text())
    del record["training_args"]["skip_missing"]
    record_path.write_text(json.dumps(record))
    run_recipe(recipe, tmp_path / "models", data_dir=SOURCE_FIXTURES, runs_dir=runs, resume=True,
               progress=False, base_model=tiny_base, threads=1)
    assert (runs / "fx" / "stage-1" / "model" / "model.safetensors").stat().st_mtime_ns == first
    # nor is a stage trained with other settings
    changed = load_recipe(write(tmp_path, TWO_STAGES.replace("seed = 7", "seed = 8", 1)))
    with pytest.raises(FileExistsError, match="other settings"):
        run_recipe(changed, tmp_path / "models", data_dir=SOURCE_FIXTURES, runs_dir=runs, resume=True,
                   progress=False, base_model=tiny_base, threads=1)


@pytest.mark.parametrize(("text", "message"), [
    ('name = "x"', "no [[stage]] tables"),
    ('name = "x"\n[[stage]]\nlearning_rate = 1e-4', "stage 1 has unknown keys learning_rate"),
    ('name = "x"\n[[stage]]\nepochs = "two"', "stage 1: epochs = 'two' does not fit"),
    ('name = "x"\n[[stage]]\nrun_dir = "elsewhere"', "stage 1 has unknown keys run_dir"),
    ('name = "x"\n[[stage]]\nlabel_weight = { threats = 2 }', "unknown labels threats"),
    ('name = "x"\n[[stage]]\nsource_weight = { a = "b" }', "does not fit"),
    ('name = "x"\n[calibration]\nprecision = 0.9\n[[stage]]', "[calibration] has unknown keys precision"),
    ('name = "a/b"\n[[stage]]', "`name` must be a model directory name"),
    ('name = "x"\nlanguages = ["deu"]\n[[stage]]', "two-letter language codes"),
    ('name = "x"\n[[stage]\n', "not valid TOML"),
])
def test_a_bad_recipe_is_refused_in_one_line_before_training(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RecipeError, match=r"recipe .*recipe\.toml") as error:
        load_recipe(write(tmp_path, text))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_command_line_refuses_run_options_beside_a_recipe(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, TWO_STAGES)
    assert main(["train", "--recipe", str(path), "--lr", "1e-4", "--name", "y"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "toxmod: --recipe sets --name, --lr itself; only --data-dir, --base-model, --device, --threads, "
        "--models-dir and --resume go with it"]
    assert main(["train", "--recipe", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read recipe" in capsys.readouterr().err
    assert main(["train"]) == 2
    assert capsys.readouterr().err.strip() == "toxmod: toxmod train needs --name NAME or --recipe FILE"


def test_a_label_weight_scales_only_that_labels_positive_rows() -> None:
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    nan = float("nan")
    positive = torch.tensor([[nan, nan, nan, 1.0, nan, nan]])
    negative = torch.tensor([[nan, nan, nan, 0.0, nan, nan]])
    weights = label_weights({"threat": 3.0})
    assert weights is not None and weights.tolist() == [1, 1, 1, 3, 1, 1]
    assert masked_bce(logits, positive, weights).item() == pytest.approx(3 * masked_bce(logits, positive).item())
    assert masked_bce(logits, negative, weights).item() == pytest.approx(masked_bce(logits, negative).item())
    assert label_weights({}) is None


def test_a_label_weight_for_an_unknown_label_fails_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--name", "x", "--label-weight", "threats=2"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "toxmod: --label-weight names unknown labels threats "
        "(labels: toxic, severe_toxic, obscene, threat, insult, identity_hate)"]
