"""A model shipped as its 8-bit ONNX graph alone, turned back into fp32 weights that training can start from.

The multilingual model ships as `model.int8.onnx` only (models/README.md says why), so `toxmod train
--init` on it, a retrain from moderators' verdicts included, has no `model.safetensors` to load. The
graph holds every weight: matrix products as 8-bit blocks with a scale each (MatMulNBits, named after the
module they came from), embeddings as 4-bit blocks (GatherBlockQuantized, named after their parameter),
and biases and norms in fp32 under their parameter names. Each is multiplied back out; what the blocks
rounded away stays lost (the model scores within a few hundredths of the graph), and the run fine-tunes
from there.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from bot.scoring.engines import ONNX_FILES
from bot.scoring.info import WEIGHTS

__all__ = ["DequantizeError", "weights_from_graph"]

log = logging.getLogger(__name__)

PREFIX = "model."  # the export wraps the model in a module of its own (bot.scoring.onnx_export._Logits)
MODULE_NODE = re.compile(r"^/model/(?P<module>.+)/MatMul(_Q\d+)?$")
KEPT_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
              "sentencepiece.bpe.model", "metadata.json")


class DequantizeError(ValueError):
    """The graph is missing, unreadable, or holds a weight in a form this module does not know."""


def weights_from_graph(model_dir: Path, out_dir: Path) -> Path:
    """Write `out_dir`: `model_dir`'s configuration and tokenizer with fp32 weights read out of its 8-bit
    graph, a directory `from_pretrained` loads. Returns `out_dir`."""
    import onnx
    from google.protobuf.message import DecodeError
    from safetensors.numpy import save_file

    graph_path = Path(model_dir) / ONNX_FILES["onnx-int8"]
    try:
        graph = onnx.load(str(graph_path)).graph
    except (OSError, DecodeError) as exc:
        raise DequantizeError(f"cannot read {graph_path}: {exc}") from exc
    tensors = _weights(graph)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out_dir / WEIGHTS), metadata={"format": "pt"})
    for name in KEPT_FILES:
        if (Path(model_dir) / name).is_file():
            shutil.copy2(Path(model_dir) / name, out_dir / name)
    config = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
    config["dtype"] = "float32"
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    log.info("read %d tensors out of %s into %s", len(tensors), graph_path, out_dir)
    return out_dir


def _weights(graph: Any) -> dict[str, np.ndarray]:
    from onnx import TensorProto, helper, numpy_helper

    initializers = {init.name: init for init in graph.initializer}

    def array(name: str) -> np.ndarray:
        return numpy_helper.to_array(initializers[name]).astype(np.float32)

    quantized = {name for node in graph.node if node.op_type in ("MatMulNBits", "GatherBlockQuantized")
                 for name in node.input}  # blocks and their scales, multiplied out below
    tensors = {name[len(PREFIX):]: array(name) for name, init in initializers.items()
               if name.startswith(PREFIX) and init.data_type == TensorProto.FLOAT and name not in quantized}
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "MatMulNBits":
            match = MODULE_NODE.match(node.name)
            if match is None or (len(node.input) > 3 and node.input[3]):
                raise DequantizeError(f"{node.name}: not a symmetric block-quantised module weight")
            blocks = array(node.input[1])  # [outputs, blocks, block_size], offset by 2^(bits-1)
            weight = (blocks - 2 ** (attrs["bits"] - 1)) * array(node.input[2])[:, :, None]
            name = match["module"].replace("/", ".") + ".weight"
            tensors[name] = weight.reshape(attrs["N"], -1)[:, : attrs["K"]]
        elif node.op_type == "GatherBlockQuantized":
            init = initializers[node.input[0]]
            if attrs.get("quantize_axis", 1) != 1 or (len(node.input) > 3 and node.input[3]):
                raise DequantizeError(f"{node.name}: not a symmetric row-quantised embedding")
            rows = numpy_helper.to_array(init).astype(np.float32)
            offset = 0.0 if init.data_type == TensorProto.INT4 else 8.0  # uint4 stores its zero at 8
            scales = array(node.input[2])
            width, block = rows.shape[1], attrs["block_size"]
            padded = np.pad(rows - offset, ((0, 0), (0, scales.shape[1] * block - width)))
            weight = (padded.reshape(rows.shape[0], -1, block) * scales[:, :, None]).reshape(rows.shape[0], -1)
            name = node.input[0].removesuffix("_Q4")
            tensors[name[len(PREFIX):]] = weight[:, :width]
    return {name: np.ascontiguousarray(value) for name, value in tensors.items()}
