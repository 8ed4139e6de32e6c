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

# At most this many windows are scored per message: the first half of them and the last, so an insult
# that opens or closes a long message still counts. Without a cap one hostile message (2,000 × U+FDFA,
# 30,000 tokens) made 300+ windows and stalled scoring for every server for half a minute. With the
# default 128-token windows (32 overlapping), 4 cover about 420 tokens, some 1,700 characters of English:
# nearly every chat message is scored whole; only the middle of a longer one goes unseen. Measured on
# 2 idle cores (benchmarks/bench_hostile.py), a capped hostile message scored among 64 chat messages
# delays them by 65-80 ms (8 windows: 100-150 ms; uncapped: 18-37 s, issue 10).
MAX_WINDOWS = 4


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
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                model_dir, local_files_only=True, dtype=torch.float32
            )
        except Exception as exc:  # whatever the libraries raise for a corrupt file: one clear error for all
            raise ModelNotFoundError.unloadable(model_dir, exc) from exc
        self.model.eval()
        self.lexicon = Lexicon.from_vocab(self.tokenizer.get_vocab())
        log.info("loaded model %s from %s (bf16=%s)", self.info.version, model_dir, self.bf16)

    @property
    def version(self) -> str:
        return self.info.version

    def predict(self, texts: list[str]) -> np.ndarray:
        """Probabilities of shape (len(texts), 6).

        A text longer than one window is cut into overlapping windows and each label takes the max over
        its windows (see `windows`), so an insult at the end of a 4,000-character message still counts.
        Empty texts score zero without touching the model.
        """
        out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
        windows, owners = self.windows(texts)
        if not windows:
            return out
        probs = np.zeros((len(windows), len(LABELS)), dtype=np.float32)
        by_length = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        for start in range(0, len(by_length), BUCKET_ROWS):
            rows = by_length[start : start + BUCKET_ROWS]
            probs[rows] = self._forward([windows[i] for i in rows])
        np.maximum.at(out, owners, probs)  # probabilities are >= 0, so texts without windows stay zero
        return out

    def windows(self, texts: list[str]) -> tuple[list[list[int]], list[int]]:
        """The token windows `predict` scores, and the index of the text each belongs to.

        A text gets at most MAX_WINDOWS of them, its first and its last, whatever its length: the cost of
        one message is bounded (normalisation bounds the characters, this the forward passes). An empty
        text gets none.
        """
        normalized = [normalize(t, self.lexicon) for t in texts]
        live = [i for i, t in enumerate(normalized) if t]
        if not live:
            return [], []
        enc = self.tokenizer(
            [normalized[i] for i in live],
            max_length=self.max_length,
            truncation=True,
            stride=self.stride,
            return_overflowing_tokens=True,
        )
        per_text: dict[int, list[list[int]]] = {}
        for window, j in zip(enc["input_ids"], enc["overflow_to_sample_mapping"], strict=True):
            per_text.setdefault(live[j], []).append(window)
        windows: list[list[int]] = []
        owners: list[int] = []
        head = MAX_WINDOWS // 2
        for owner, own in per_text.items():
            kept = own if len(own) <= MAX_WINDOWS else own[:head] + own[len(own) - (MAX_WINDOWS - head) :]
            windows += kept
            owners += [owner] * len(kept)
        return windows, owners

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
