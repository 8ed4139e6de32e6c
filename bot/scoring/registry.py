"""Which model is the default: `models/current` is a one-line text file naming a directory in `models/`.

A text file rather than a symlink, so it works on every OS and git checkout, and so promotion is an atomic
rename of one small file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.scoring.info import ModelInfo, ModelNotFoundError, read_model_info
from bot.scoring.report import ModelReport

POINTER = "current"
MULTILINGUAL_POINTER = "multilingual"  # names the model for the languages the default one does not read


def current_name(models_dir: Path) -> str:
    """The name of the default model: what models/current holds."""
    pointer = Path(models_dir) / POINTER
    if not pointer.is_file():
        raise ModelNotFoundError(f"no default model: {pointer} does not exist (train one with `toxmod train`)")
    name = pointer.read_text().strip()
    if not name:
        raise ModelNotFoundError(f"{pointer} is empty; it should name a directory in {models_dir}")
    return name


def resolve_model_dir(models_dir: Path, model_dir: Path | None = None) -> Path:
    """An explicit model directory wins; otherwise the one `models/current` names."""
    if model_dir is not None:
        return Path(model_dir)
    return Path(models_dir) / current_name(models_dir)


def multilingual_model_dir(models_dir: Path, model_dir: Path | None = None) -> Path | None:
    """An explicit directory wins; otherwise the one `models/multilingual` names, or None where there is none
    (a model set that reads only what the default model reads)."""
    if model_dir is not None:
        return Path(model_dir)
    pointer = Path(models_dir) / MULTILINGUAL_POINTER
    if not pointer.is_file():
        return None
    name = pointer.read_text().strip()
    if not name:
        raise ModelNotFoundError(f"{pointer} is empty; it should name a directory in {models_dir}")
    return Path(models_dir) / name


def set_current(models_dir: Path, name: str) -> None:
    """Point models/current at model `name`, atomically (a reader sees the old name or the new, never none)."""
    target = Path(models_dir) / name
    if not target.is_dir():
        raise ModelNotFoundError(f"cannot point {POINTER} at {target}: no such model directory")
    tmp = Path(models_dir) / f".{POINTER}.tmp"
    tmp.write_text(name + "\n")
    os.replace(tmp, Path(models_dir) / POINTER)


HISTORY = ".history"  # earlier defaults, newest last, for rollback


@dataclass(frozen=True)
class MetricChange:
    """One figure of the current model and the candidate, and whether the candidate is worse beyond `tolerance`."""

    name: str
    current: float
    candidate: float
    higher_is_better: bool
    tolerance: float

    @property
    def worse(self) -> bool:
        """Whether the candidate is worse than the current model by more than the tolerance."""
        delta = self.candidate - self.current
        return -delta > self.tolerance if self.higher_is_better else delta > self.tolerance


def list_models(models_dir: Path) -> list[ModelInfo]:
    """Every complete model directory, oldest first."""
    infos = []
    for path in sorted(Path(models_dir).iterdir()) if Path(models_dir).is_dir() else []:
        if path.is_dir() and not path.name.endswith(".partial"):
            try:
                infos.append(read_model_info(path))
            except ModelNotFoundError:
                continue
    return sorted(infos, key=lambda info: str(info.metadata.get("created", "")))


def compare(current: ModelInfo, candidate: ModelInfo, auc_tolerance: float = 0.01,
            rate_tolerance: float = 0.002) -> list[MetricChange]:
    """The figures both models report, current against candidate: what `promote` refuses on."""
    mine = ModelReport.from_metrics(current.metrics).shared_figures()
    theirs = ModelReport.from_metrics(candidate.metrics).shared_figures()
    return [MetricChange(name, fig.value, theirs[name].value, fig.higher_is_better,
                         auc_tolerance if fig.higher_is_better else rate_tolerance)
            for name, fig in mine.items() if name in theirs]


class PromotionRefused(ValueError):
    """The candidate is worse than the current default beyond the tolerance (promote with force to override)."""


def promote(models_dir: Path, name: str, *, force: bool = False, auc_tolerance: float = 0.01) -> list[MetricChange]:
    """Make `name` the default unless it is worse on the shared validation figures; remember the old one."""
    models_dir = Path(models_dir)
    candidate = read_model_info(models_dir / name)
    try:
        previous = current_name(models_dir)
    except ModelNotFoundError:
        previous = None
    changes = compare(read_model_info(models_dir / previous), candidate, auc_tolerance) if previous else []
    worse = [c for c in changes if c.worse]
    if worse and not force:
        listing = "; ".join(f"{c.name} {c.current:.4f} -> {c.candidate:.4f}" for c in worse)
        raise PromotionRefused(f"{name} is worse than {previous} on {listing} (use --force to promote anyway)")
    if previous == name:
        return changes
    set_current(models_dir, name)
    if previous:
        with (models_dir / HISTORY).open("a") as f:
            f.write(previous + "\n")
    return changes


def rollback(models_dir: Path) -> str:
    """Point `current` back at the model it named before the last promotion."""
    history_file = Path(models_dir) / HISTORY
    history = history_file.read_text().split() if history_file.is_file() else []
    if not history:
        raise ModelNotFoundError("nothing to roll back to: no earlier default recorded")
    previous = history.pop()
    set_current(models_dir, previous)
    history_file.write_text("".join(f"{n}\n" for n in history))
    return previous
