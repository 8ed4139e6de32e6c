"""Forward passes: the same token windows through torch (fp32, or bf16 autocast) or ONNX Runtime (fp32, int8).

Which is fastest depends on the machine, not on its CPU flags: bf16 autocast runs faster than fp32 on one
CPU with AVX512-BF16 and slower on another, and ONNX Runtime's kernels beat torch's eager ones by
different margins on each (README, "Speed"; benchmarks/bench_scoring.py). So every engine the model folder
can feed is timed (tuning.py) and the fastest serves. The ONNX files are built beside the weights by
`build_onnx` (onnx_export.py), never at start-up.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from bot.scoring.info import WEIGHTS
from bot.settings import ENGINE_NAMES

if TYPE_CHECKING:  # torch is imported only where a torch engine runs: an ONNX start skips its seconds
    import torch

__all__ = ["ENGINE_NAMES", "Engine", "OnnxEngine", "TorchEngine", "available", "make_engine"]

log = logging.getLogger(__name__)

ONNX_FILES = {"onnx-fp32": "model.onnx", "onnx-int8": "model.int8.onnx"}


class Engine(Protocol):
    """A forward pass: token windows in, logits out, on a fixed number of threads."""

    name: str
    threads: int

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Logits (rows, labels) for int64 token ids and their 0/1 attention mask."""
        ...


class TorchEngine:
    """The Hugging Face model in eager torch; the path training uses, and the fallback for every machine."""

    def __init__(self, model: torch.nn.Module, *, bf16: bool, threads: int) -> None:
        self.model, self.bf16, self.threads = model, bf16, threads
        self.name = "torch-bf16" if bf16 else "torch-fp32"

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Logits (rows, labels) from eager torch, under bf16 autocast if this engine is the bf16 one."""
        import torch

        if torch.get_num_threads() != self.threads:  # process-wide in torch: set where it is used
            torch.set_num_threads(self.threads)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else nullcontext()
        with torch.inference_mode(), autocast:
            out = self.model(input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask))
        return out.logits.float().numpy()


class OnnxEngine:
    """An ONNX Runtime session over `model.onnx` or `model.int8.onnx`, with its own thread pool that sleeps
    when idle instead of spinning against other processes."""

    def __init__(self, path: Path, *, name: str, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # its warnings about unused initialisers are not ours to act on
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.name, self.threads = name, threads

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Logits (rows, labels) from the ONNX Runtime session."""
        [logits] = self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": attention_mask})
        return np.asarray(logits, dtype=np.float32)


def available(model_dir: Path) -> list[str]:
    """The engines this model folder can feed: torch where it has its weights, ONNX where its file was built."""
    names = ["torch-fp32", "torch-bf16"] if (Path(model_dir) / WEIGHTS).is_file() else []
    return names + [name for name, file in ONNX_FILES.items() if (Path(model_dir) / file).is_file()]


def fingerprint(model_dir: Path) -> list[str]:
    """The engines available, each ONNX one with its file's size: what a measured choice depends on."""
    return [f"{name}:{(Path(model_dir) / ONNX_FILES[name]).stat().st_size}" if name in ONNX_FILES else name
            for name in available(model_dir)]


def make_engine(name: str, model_dir: Path, torch_model: torch.nn.Module | None, threads: int) -> Engine:
    """The engine called `name` over the model folder (the torch ones need the loaded torch model)."""
    if name in ONNX_FILES:
        return OnnxEngine(Path(model_dir) / ONNX_FILES[name], name=name, threads=threads)
    if torch_model is None:
        raise ValueError(f"engine {name} needs the torch model")
    return TorchEngine(torch_model, bf16=name == "torch-bf16", threads=threads)
