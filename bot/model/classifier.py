"""Loading a toxmod model directory and turning texts into six probabilities.

This is the one place where text meets weights, used by the live bot, the CLI, the evaluation of a
freshly trained model and the benchmark, so all of them score exactly the same way.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from functools import cache
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from bot.labels import LABELS
from bot.model.info import ModelNotFoundError, read_model_info
from bot.model.normalize import Lexicon, normalize
from bot.model.registry import resolve_model_dir
from bot.settings import Settings

__all__ = ["ModelNotFoundError", "ToxicityModel", "cpu_has_fast_bf16", "load_model"]

log = logging.getLogger(__name__)

# Windows are sorted by length and run in groups of this many, so a burst of short messages is not padded
# to its longest one. Measured on this machine's 2 cores (bf16, chat-length messages): groups of 64 in
# arrival order 390 msg/s, sorted groups of 32 630, of 16 690, of 8 620.
BUCKET_ROWS = 16


@cache
def cpu_has_fast_bf16() -> bool:
    """True where the CPU computes bf16 natively (AMX or AVX512-BF16).

    Elsewhere PyTorch emulates bf16 matmuls and they run hundreds of times slower than fp32 (measured on
    an AMD EPYC without AVX512: 0.0003 vs 0.14 TFLOP/s), so autocast must be chosen, not assumed.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


class ToxicityModel:
    """A loaded classifier: normalisation, windowed tokenisation, forward pass, sigmoid.

    Not thread-safe by design: one worker thread owns an instance (see worker.py).
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        max_length: int = 128,
        stride: int = 32,
        bf16: bool | None = None,
        threads: int | None = None,
    ) -> None:
        self.info = read_model_info(model_dir)
        if threads:
            torch.set_num_threads(threads)
        self.max_length = max_length
        # overlap between windows; never more than half a window, so every window still moves forward
        self.stride = min(stride, (max_length - 2) // 2)
        self.bf16 = cpu_has_fast_bf16() if bf16 is None else bf16
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, local_files_only=True, dtype=torch.float32
        )
        self.model.eval()
        self.lexicon = Lexicon.from_vocab(self.tokenizer.get_vocab())
        log.info("loaded model %s from %s (bf16=%s)", self.info.version, model_dir, self.bf16)

    @property
    def version(self) -> str:
        return self.info.version

    def predict(self, texts: list[str]) -> np.ndarray:
        """Probabilities of shape (len(texts), 6).

        A text longer than one window is cut into overlapping windows and each label takes the max over
        its windows, so an insult at the end of a 4,000-character message still counts. Empty texts
        score zero without touching the model.
        """
        out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
        normalized = [normalize(t, self.lexicon) for t in texts]
        live = [i for i, t in enumerate(normalized) if t]
        if not live:
            return out
        enc = self.tokenizer(
            [normalized[i] for i in live],
            max_length=self.max_length,
            truncation=True,
            stride=self.stride,
            return_overflowing_tokens=True,
        )
        windows, owners = enc["input_ids"], np.asarray(enc["overflow_to_sample_mapping"])
        probs = np.zeros((len(windows), len(LABELS)), dtype=np.float32)
        by_length = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        for start in range(0, len(by_length), BUCKET_ROWS):
            rows = by_length[start : start + BUCKET_ROWS]
            probs[rows] = self._forward([windows[i] for i in rows])
        per_text = np.zeros((len(live), len(LABELS)), dtype=np.float32)
        np.maximum.at(per_text, owners, probs)
        out[live] = per_text
        return out

    def _forward(self, windows: list[list[int]]) -> np.ndarray:
        width = max(len(w) for w in windows)
        input_ids = torch.full((len(windows), width), self.tokenizer.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(windows), width), dtype=torch.long)
        for row, window in enumerate(windows):
            input_ids[row, : len(window)] = torch.tensor(window)
            attention_mask[row, : len(window)] = 1
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else nullcontext()
        with torch.inference_mode(), autocast:
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
        return torch.sigmoid(logits.float()).numpy()


def load_model(settings: Settings) -> ToxicityModel:
    """The model the settings name (MODEL_DIR, else the one `models/current` points at)."""
    return ToxicityModel(
        resolve_model_dir(settings.models_dir, settings.model_dir),
        max_length=settings.score_max_length,
        bf16=settings.bf16,
        threads=settings.score_threads,
    )
