"""What a model directory says about itself (metadata.json), readable without loading torch.

`toxmod model list`, promotion and the thresholds a guild starts from only need this, so they stay fast.
It is also the one check of a directory's files that every loader goes through (the CLI, the bot at
start, `/model reload`, promotion), so a directory that cannot score is refused the same way everywhere,
before torch is asked to load it.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

from bot.labels import LABELS

# Every file ToxicityModel loads. tokenizer.json above all: without it transformers quietly builds a
# tokenizer from config.json alone whose ids do not match the weights, and every score is garbage.
# (tokenizer_config.json is optional: tokenizer.json holds the whole tokenizer.)
REQUIRED_FILES = ("config.json", "tokenizer.json", "metadata.json")
WEIGHTS = "model.safetensors"
# A sample of the corpora the model was trained on (training/replay.py), which a retrain mixes in so the
# candidate does not forget them; optional, and never loaded for scoring.
REPLAY_SAMPLE = "replay.csv.gz"
# A model may ship as its 8-bit ONNX graph alone (the multilingual one: its fp16 weights would be twice the
# size in git); it then serves through ONNX Runtime only and cannot be fine-tuned further.
ONNX_ONLY_WEIGHTS = "model.int8.onnx"


class ModelNotFoundError(FileNotFoundError):
    """The model directory is missing, incomplete or unreadable; the message names the path and what is wrong."""

    @classmethod
    def unloadable(cls, model_dir: Path, exc: BaseException) -> ModelNotFoundError:
        """A file the libraries refused (corrupt, or made for another model), as one line instead of their
        traceback; the first line of their message says which and why."""
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return cls(f"cannot load the model in {model_dir} (a corrupt or mismatched file?): {reason}")


@dataclass(frozen=True)
class ModelInfo:
    """What a model directory says about itself (metadata.json), kept beside the loaded weights."""

    path: Path
    version: str
    thresholds: dict[str, float]
    metrics: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    # the languages it reads (ISO 639-1); a model whose metadata names none was trained on English alone
    languages: tuple[str, ...] = ("en",)
    # a language's own lines where its validation set asked for them (see training/evaluate.py)
    language_thresholds: dict[str, dict[str, float]] = field(default_factory=dict)

    def thresholds_for(self, language: str | None) -> dict[str, float]:
        """The lines this model draws for a message in `language` (the shared ones where it has none)."""
        return {**self.thresholds, **self.language_thresholds.get(language or "", {})}


def read_model_info(model_dir: Path) -> ModelInfo:
    """A model folder's metadata and calibrated thresholds, refused with one clear error if a file is missing."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelNotFoundError(f"model directory not found: {model_dir}")
    missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
    has_weights = (model_dir / WEIGHTS).is_file()
    if not has_weights and not (model_dir / ONNX_ONLY_WEIGHTS).is_file():
        missing.append(WEIGHTS)
    if missing:
        raise ModelNotFoundError(f"model directory {model_dir} is missing {', '.join(missing)}")
    if has_weights:
        check_weights(model_dir / WEIGHTS)
    try:
        meta = json.loads((model_dir / "metadata.json").read_text())
    except json.JSONDecodeError as exc:
        raise ModelNotFoundError(f"{model_dir / 'metadata.json'} is not valid JSON: {exc}") from exc
    labels = tuple(meta.get("labels", LABELS))
    if labels != LABELS:
        raise ModelNotFoundError(f"{model_dir} predicts {labels}, toxmod needs {LABELS}")
    thresholds = {label: float(meta.get("thresholds", {}).get(label, 0.5)) for label in LABELS}
    return ModelInfo(
        path=model_dir,
        version=str(meta.get("version", model_dir.name)),
        thresholds=thresholds,
        metrics=meta.get("metrics", {}),
        metadata=meta,
        languages=tuple(str(code) for code in meta.get("languages", ["en"])),
        language_thresholds={str(language): {label: float(line) for label, line in lines.items() if label in LABELS}
                             for language, lines in (meta.get("language_thresholds") or {}).items()},
    )


def check_weights(path: Path) -> None:
    """Refuse a safetensors file that is cut short or is not one, from its header alone (a few KB read).

    The format is an 8-byte little-endian header length, a JSON header giving each tensor's byte range,
    then the data. A truncated download or a half-copied file fails here with a sentence naming the file,
    not deep inside safetensors with a Rust error.
    """
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if length > size - 8:
                raise ValueError("its header runs past the end of the file")
            header = json.loads(f.read(length))
        end = max(spec["data_offsets"][1] for name, spec in header.items() if name != "__metadata__")
    except (struct.error, ValueError, AttributeError, KeyError, IndexError, TypeError) as exc:
        raise ModelNotFoundError(f"{path} is not a readable safetensors file ({exc}): copy it again") from exc
    if 8 + length + end != size:
        raise ModelNotFoundError(f"{path} is truncated or padded: {size} bytes, its header says {8 + length + end}; "
                                 "copy it again")
