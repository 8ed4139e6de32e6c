"""Building the ONNX Runtime files of a model folder: `model.onnx` (fp32) and `model.int8.onnx`.

Built by the export step (`toxmod train` writes them with the weights, `toxmod model build-engines` adds them
to a folder that lacks them, `make setup` runs it for the shipped model), never at start-up: exporting takes
seconds and needs the `onnx` package, which scoring does not. The files are derived from
`model.safetensors`, so git ignores them.

The export uses eager attention and traces with a padded batch: with the default SDPA attention the
traced graph drops the attention mask, and padded rows then score up to 0.5 away from torch.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification

from bot.scoring.engines import ONNX_FILES
from bot.scoring.info import read_model_info

log = logging.getLogger(__name__)

OPSET = 17


class _Logits(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def build_onnx(model_dir: Path, *, quantize_embeddings: bool = False) -> list[Path]:
    """Write the ONNX files of `model_dir` (replacing older ones atomically); the paths written.

    `quantize_embeddings` stores the word embeddings in 8 bits too: for a model whose vocabulary is most of
    its parameters (the multilingual one), they would otherwise be most of its size."""
    model_dir = Path(model_dir)
    read_model_info(model_dir)  # refuses an incomplete folder with the usual one-line reason
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, local_files_only=True, dtype=torch.float32, attn_implementation="eager").eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 9:] = 0  # a padded row, so the mask is part of the traced graph
    fp32, int8 = model_dir / ONNX_FILES["onnx-fp32"], model_dir / ONNX_FILES["onnx-int8"]
    with tempfile.TemporaryDirectory(dir=model_dir, prefix=".onnx-") as tmp:
        staged_fp32, staged_int8 = Path(tmp) / fp32.name, Path(tmp) / int8.name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on Python control flow; the graph is checked below
            torch.onnx.export(
                _Logits(model), (ids, mask), str(staged_fp32), input_names=["input_ids", "attention_mask"],
                output_names=["logits"], opset_version=OPSET, dynamo=False,
                dynamic_axes={"input_ids": {0: "rows", 1: "tokens"}, "attention_mask": {0: "rows", 1: "tokens"},
                              "logits": {0: "rows"}})
        quantize_int8(staged_fp32, staged_int8, embeddings=quantize_embeddings)
        os.replace(staged_fp32, fp32)
        os.replace(staged_int8, int8)
    log.info("built %s and %s", fp32, int8)
    return [fp32, int8]


def quantize_int8(fp32: Path, int8: Path, *, embeddings: bool = False) -> None:
    """8-bit weights in blocks of 128 inputs, matrix products computed in int8 with activations quantised
    per row and block (ONNX Runtime's MatMulNBits, accuracy level 4).

    Plain dynamic quantisation (`quantize_dynamic`, one activation scale per tensor) fails the adoption rule
    (flag decisions agree on >= 99.5 % of validation messages, AUCs within 0.002): the [CLS] token carries
    activations far larger than every other token's, so [CLS] sets the scale and ordinary tokens get a few
    levels; neither it nor per-channel weights, nor any variant tried, reached the rule. Per-block activation
    scales pass it and run faster than fp32 (benchmarks/engine_agreement.py measures both; README,
    "Speed"); the word embeddings stay fp32 unless `embeddings`.
    """
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    logging.disable(logging.WARNING)  # its notes on skipped nodes are expected (only MatMul is quantised)
    try:
        quantizer = MatMulNBitsQuantizer(onnx.load(str(fp32)), bits=8, block_size=128, is_symmetric=True,
                                         accuracy_level=4, op_types_to_quantize=("MatMul",))
        quantizer.process()
        model = quantizer.model.model
        if embeddings:
            # ONNX Runtime looks rows up from 4-bit blocks only; blocks of 32 are the grid the multilingual
            # base's embeddings came in (Q4_0) and stay frozen in training, so little is lost again
            rows = MatMulNBitsQuantizer(model, bits=4, block_size=32, is_symmetric=True,
                                        op_types_to_quantize=("Gather",))
            rows.process()
            model = rows.model.model
        onnx.save_model(model, str(int8))
    finally:
        logging.disable(logging.NOTSET)
