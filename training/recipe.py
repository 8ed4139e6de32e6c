"""A model's whole training as one file: `toxmod train --recipe FILE` runs its stages in order, so a shipped
model is reproduced by one command even when it was trained in several passes (a long first pass, then
short continuations at a lower learning rate that fix what the first one got wrong).

A recipe is TOML::

    name = "toxmod-minilm-v2"            # models/NAME, runs/NAME/stage-K
    version = "toxmod-minilm-v2.2"       # recorded in metadata (default: name)
    languages = ["en"]                   # what the bot routes to it (default: English)

    [calibration]                        # EvalSettings fields for the final evaluation
    background_budget = 0.003

    [[stage]]
    note = "why this stage exists"
    epochs = 1.5                         # any TrainConfig field
    source_weight = { jigsaw = 2.0 }

Each stage after the first starts from the weights the stage before it exported. Keys are checked against
the dataclasses here, so a typo fails in one line before hours of training, not after.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from training.config import EvalSettings, TrainConfig
from training.options import without_none

# Where the data, the base model and the checkpoints live is the machine's business, not the recipe's.
MACHINE_FIELDS = frozenset({"data_dir", "base_model", "run_dir", "device", "threads", "extra_csv", "feedback"})


class RecipeError(ValueError):
    """A recipe that cannot be run as written; the message is one line naming the file and the key."""


@dataclass(frozen=True)
class Stage:
    """One stage of a recipe: its position, what it is for, and its training options."""

    number: int
    note: str
    options: dict[str, Any]

    def config(self, run_dir: Path, **machine: Any) -> TrainConfig:
        """The TrainConfig of this stage, with what only the machine knows (paths, device, threads) added."""
        return TrainConfig(**self.options, run_dir=run_dir, **machine)


@dataclass(frozen=True)
class Recipe:
    """A recipe file read and checked: its model name and version, its stages in order, and how to calibrate."""

    path: Path
    name: str
    version: str
    stages: list[Stage]
    calibration: dict[str, Any] = field(default_factory=dict)
    languages: tuple[str, ...] = ("en",)

    def eval_settings(self) -> EvalSettings:
        """The calibration settings the recipe names (the defaults for the rest)."""
        return EvalSettings(**self.calibration)


def load_recipe(path: Path) -> Recipe:
    """Read and check a recipe file; RecipeError names the file and the key for anything wrong."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"recipe {path} is not valid TOML: {exc}") from exc
    _only(path, "the recipe", raw, {"name", "version", "languages", "calibration", "stage"})
    name = raw.get("name")
    if not isinstance(name, str) or not name or "/" in name:
        raise RecipeError(f"recipe {path}: `name` must be a model directory name")
    stages_raw = raw.get("stage")
    if not isinstance(stages_raw, list) or not stages_raw:
        raise RecipeError(f"recipe {path}: no [[stage]] tables")
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)} - MACHINE_FIELDS
    stages = []
    for number, table in enumerate(stages_raw, start=1):
        where = f"stage {number}"
        _only(path, where, table, train_fields | {"note"})
        options = {k: v for k, v in table.items() if k != "note"}
        _check_types(path, where, TrainConfig, options)
        try:
            TrainConfig(**options)
        except ValueError as exc:
            raise RecipeError(f"recipe {path}: {where}: {exc}") from exc
        stages.append(Stage(number, str(table.get("note", "")), options))
    calibration = raw.get("calibration", {})
    _only(path, "[calibration]", calibration, {f.name for f in dataclasses.fields(EvalSettings)})
    _check_types(path, "[calibration]", EvalSettings, calibration)
    languages = raw.get("languages", ["en"])
    if not isinstance(languages, list) or not languages or not all(
            isinstance(code, str) and code.isascii() and code.isalpha() and len(code) == 2 for code in languages):
        raise RecipeError(f"recipe {path}: `languages` must be a list of two-letter language codes")
    return Recipe(path, name, str(raw.get("version") or name), stages, calibration, tuple(languages))


def _only(path: Path, where: str, table: Any, allowed: set[str] | frozenset[str]) -> None:
    if not isinstance(table, dict):
        raise RecipeError(f"recipe {path}: {where} must be a table")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise RecipeError(f"recipe {path}: {where} has unknown keys {', '.join(unknown)}")


def _check_types(path: Path, where: str, cls: type, values: dict[str, Any]) -> None:
    hints = get_type_hints(cls)
    for key, value in values.items():
        if not _fits(value, hints[key]):
            raise RecipeError(f"recipe {path}: {where}: {key} = {value!r} does not fit {hints[key]}")


def _fits(value: Any, hint: Any) -> bool:
    """TOML's values against a field's type hint (ints are welcome where floats are)."""
    hint = without_none(hint)
    origin = get_origin(hint)
    if origin is dict:
        return isinstance(value, dict) and all(_fits(v, get_args(hint)[1]) for v in value.values())
    if origin is list:
        return isinstance(value, list) and all(_fits(v, get_args(hint)[0]) for v in value)
    if hint is bool or isinstance(value, bool):
        return hint is bool and isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float))
    return isinstance(value, hint)
