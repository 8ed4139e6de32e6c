"""Loading a toxmod model directory and turning texts into six probabilities.

This is the one place where text meets weights, used by the live bot, the CLI, the evaluation of a
freshly trained model and the benchmark, so all of them score exactly the same way.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tokenizers import Tokenizer

from bot.labels import LABELS
from bot.scoring import engines, tuning
from bot.scoring.engines import ENGINE_NAMES
from bot.scoring.info import WEIGHTS, ModelNotFoundError, read_model_info
from bot.scoring.normalize import Lexicon, normalize
from bot.scoring.registry import multilingual_model_dir, resolve_model_dir
from bot.scoring.tuning import Choice
from bot.settings import Settings, check_engine

if TYPE_CHECKING:
    import torch

__all__ = ["ENGINE_NAMES", "ModelNotFoundError", "ToxicityModel", "load_model"]

log = logging.getLogger(__name__)

# Windows are sorted by length and run in groups of this many, so a burst of short messages is not padded
# to its longest one. Sorted groups of 16 scored chat-length messages fastest of the sizes tried, well ahead
# of whole batches in arrival order; worth trying again when the model's size changes.
BUCKET_ROWS = 16

# At most this many windows are scored per message: the first half of them and the last, so an insult
# that opens or closes a long message still counts. Without a cap one hostile message (a few thousand
# characters that expand into tens of thousands of tokens) made hundreds of windows and stalled scoring for
# every server. With the default 128-token windows (32 overlapping), 4 cover about 420 tokens, some 1,700
# characters of English: nearly every chat message is scored whole; only the middle of a longer one goes
# unseen. What a capped hostile message costs the chat scored beside it is measured by
# benchmarks/bench_hostile.py.
MAX_WINDOWS = 4


class ToxicityModel:
    """A loaded classifier: normalisation, windowed tokenisation, forward pass (the measured engine), sigmoid.

    Not thread-safe by design: one worker thread owns an instance (see worker.py).
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        max_length: int = 128,
        stride: int = 32,
        engine: str | None = None,
        threads: int | None = None,
        bf16: bool | None = None,
        tuning_cache: Path | None = None,
    ) -> None:
        """`engine` (one of ENGINE_NAMES), `threads` and `bf16` pin what they name; what is left open is
        measured on this machine (cached in `tuning_cache`), see tuning.py."""
        self.info = read_model_info(model_dir)
        self.path = Path(model_dir)
        self.max_length = max_length
        # overlap between windows; never more than half a window, so every window still moves forward
        self.stride = min(stride, (max_length - 2) // 2)
        try:
            # the Rust tokenizer itself, not transformers' wrapper around it: the same windows, and a start
            # without importing transformers (or torch, when an ONNX engine serves) takes a fraction of the time
            self.tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        except Exception as exc:  # whatever the libraries raise for a corrupt file: one clear error for all
            raise ModelNotFoundError.unloadable(model_dir, exc) from exc
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length, stride=self.stride)
        self.pad_id = _pad_id(self.path, self.tokenizer)
        self.lexicon = Lexicon.from_vocab(self.tokenizer.get_vocab())
        self._torch_model: torch.nn.Module | None = None
        candidates = self._candidates(engine, threads, bf16)
        if len(candidates) == 1:
            self.choice = Choice(*candidates[0], source="set")
        else:
            key = tuning.cache_key(self.version, max_length, engines.fingerprint(self.path))
            self.choice = tuning.choose(candidates, self._time_one, key=key, cache_path=tuning_cache)
        self.engine = self._engine(self.choice.engine, self.choice.threads)
        log.info("loaded model %s from %s: %s", self.version, model_dir, self.choice.describe())

    def _candidates(self, engine: str | None, threads: int | None, bf16: bool | None) -> list[tuple[str, int]]:
        check_engine(engine, named="the scoring engine")
        available = engines.available(self.path)
        names = [engine] if engine else available
        if bf16 is not None and engine is None:  # BF16 picks within torch: on, or never
            names = ["torch-bf16"] if bf16 else [n for n in names if n != "torch-bf16"]
        missing = [n for n in names if n not in available]
        if missing:
            if missing[0] not in engines.ONNX_FILES:  # a model shipped as its ONNX graph alone
                raise ModelNotFoundError(f"engine {missing[0]} needs {WEIGHTS} in {self.path}, which ships "
                                         "its ONNX graph alone: use onnx-int8")
            raise ModelNotFoundError(f"engine {missing[0]} needs {engines.ONNX_FILES[missing[0]]} in {self.path} "
                                     "(build it with `toxmod model build-engines`)")
        return [(name, n) for name in names for n in tuning.thread_options(threads)]

    def _engine(self, name: str, threads: int) -> engines.Engine:
        torch_model = self._load_torch() if name.startswith("torch") else None
        try:
            return engines.make_engine(name, self.path, torch_model, threads)
        except Exception as exc:
            raise ModelNotFoundError.unloadable(self.path, exc) from exc

    def _load_torch(self) -> torch.nn.Module:
        if self._torch_model is None:
            import torch
            from transformers import AutoModelForSequenceClassification

            try:
                model = AutoModelForSequenceClassification.from_pretrained(
                    self.path, local_files_only=True, dtype=torch.float32)
            except Exception as exc:
                raise ModelNotFoundError.unloadable(self.path, exc) from exc
            self._torch_model = model.eval()
        return self._torch_model

    def _time_one(self, name: str, threads: int, first: bool) -> float:
        """Seconds for one pass of the timing sample through one candidate engine (tuning.choose)."""
        if first:
            self.engine = self._engine(name, threads)
        start = time.perf_counter()
        self.predict(tuning.SAMPLE_BATCH)
        return time.perf_counter() - start

    @property
    def version(self) -> str:
        """The model's version, as its metadata names it (shown with every decision)."""
        return self.info.version

    def normalize(self, text: str) -> str:
        """What the model reads of a text (see normalize.py); equal outputs score equally, which is what
        the worker's repeat cache keys on."""
        return normalize(text, self.lexicon)

    def predict(self, texts: list[str]) -> np.ndarray:
        """Probabilities of shape (len(texts), 6).

        A text longer than one window is cut into overlapping windows and each label takes the max over
        its windows (see `windows`), so an insult at the end of a 4,000-character message still counts.
        Empty texts score zero without touching the model.
        """
        return self.predict_normalized([self.normalize(t) for t in texts])

    def predict_normalized(self, normalized: list[str]) -> np.ndarray:
        """`predict` for texts already through `normalize`."""
        out = np.zeros((len(normalized), len(LABELS)), dtype=np.float32)
        windows, owners = self._windows(normalized)
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
        return self._windows([self.normalize(t) for t in texts])

    def _windows(self, normalized: list[str]) -> tuple[list[list[int]], list[int]]:
        live = [i for i, t in enumerate(normalized) if t]
        if not live:
            return [], []
        windows: list[list[int]] = []
        owners: list[int] = []
        head = MAX_WINDOWS // 2
        for owner, enc in zip(live, self.tokenizer.encode_batch([normalized[i] for i in live]), strict=True):
            own = [enc.ids] + [more.ids for more in enc.overflowing]
            kept = own if len(own) <= MAX_WINDOWS else own[:head] + own[len(own) - (MAX_WINDOWS - head) :]
            windows += kept
            owners += [owner] * len(kept)
        return windows, owners

    def _forward(self, windows: list[list[int]]) -> np.ndarray:
        width = max(len(w) for w in windows)
        input_ids = np.full((len(windows), width), self.pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(windows), width), dtype=np.int64)
        for row, window in enumerate(windows):
            input_ids[row, : len(window)] = window
            attention_mask[row, : len(window)] = 1
        logits = self.engine.logits(input_ids, attention_mask)
        return 1.0 / (1.0 + np.exp(-logits))


def _pad_id(model_dir: Path, tokenizer: Tokenizer) -> int:
    """The padding token's id, as tokenizer_config.json names it (BERT's [PAD] if it does not)."""
    try:
        pad = json.loads((model_dir / "tokenizer_config.json").read_text()).get("pad_token", "[PAD]")
    except (OSError, json.JSONDecodeError):
        pad = "[PAD]"
    token_id = tokenizer.token_to_id(pad["content"] if isinstance(pad, dict) else str(pad))
    return 0 if token_id is None else token_id


def load_model(settings: Settings, model_dir: Path | None = None) -> ToxicityModel:
    """The model the settings name (MODEL_DIR, else the one `models/current` points at), or `model_dir`."""
    return ToxicityModel(
        model_dir or resolve_model_dir(settings.models_dir, settings.model_dir),
        max_length=settings.score_max_length,
        engine=settings.score_engine,
        threads=settings.score_threads,
        bf16=settings.bf16,
        tuning_cache=settings.tuning_cache,
    )


def load_multilingual(settings: Settings) -> ToxicityModel | None:
    """The model for the languages the main one does not read (see `multilingual_model_dir`), if one is
    installed and MULTILINGUAL is on."""
    if not settings.multilingual:
        return None
    model_dir = multilingual_model_dir(settings.models_dir, settings.multilingual_model_dir)
    return None if model_dir is None else load_model(settings, model_dir)
