"""A tiny BERT and tokenizer made on the spot, so tests exercise the real loading and scoring code offline.

`build_tiny_base` writes a randomly initialised base model directory (what `--base-model` takes);
`train_tiny` fine-tunes it through the real training pipeline on a synthetic chat set where a few
words are toxic, so tests that need "this is flagged, that is not" get a model that behaves that way.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch
from transformers import BertConfig, BertModel, BertTokenizer

from bot.labels import LABELS

TOXIC_WORDS = ("idiot", "moron", "loser", "trash", "stupid")
THREAT_WORDS = ("kill", "hurt")
CLEAN_WORDS = (
    "hello", "friend", "thanks", "game", "raid", "tonight", "see", "you", "at", "the", "good", "nice", "play",
    "team", "help", "please", "update", "server", "ubuntu", "install", "what", "is", "are", "a", "i", "will",
    "we", "win", "lunch", "music", "great", "job", "everyone", "welcome", "ok", "lol", "gg", "your", "this",
)  # fmt: skip
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Two messages the trained tiny model scores on either side of 0.5.
TOXIC_MESSAGE = "you are a stupid idiot"
CLEAN_MESSAGE = "hello friend see you tonight"


def build_tiny_base(out_dir: Path, seed: int = 0) -> Path:
    """A 2-layer, 32-wide BERT with a word-level vocabulary plus letters, saved like a hub checkpoint."""
    out_dir.mkdir(parents=True, exist_ok=True)
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789.,!?@#:'")
    vocab = SPECIAL + list(TOXIC_WORDS + THREAT_WORDS + CLEAN_WORDS) + letters + [f"##{c}" for c in letters]
    tokenizer = BertTokenizer(vocab={token: i for i, token in enumerate(dict.fromkeys(vocab))}, do_lower_case=True)
    tokenizer.model_max_length = 512
    tokenizer.save_pretrained(out_dir)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        # Hub checkpoints use 0.02; at width 32 that leaves the pooled output nearly input-independent and
        # a few dozen steps learn nothing. A wider spread makes the tiny model trainable in a second.
        initializer_range=0.2,
    )
    BertModel(config).save_pretrained(out_dir, safe_serialization=True)
    return out_dir


def write_model_metadata(model_dir: Path, version: str, thresholds: dict[str, float] | None = None) -> None:
    meta = {"labels": list(LABELS), "version": version, "thresholds": thresholds or dict.fromkeys(LABELS, 0.5)}
    (model_dir / "metadata.json").write_text(json.dumps(meta))


def synthetic_chat(rows: int = 240) -> list[dict[str, object]]:
    """Deterministic labelled chat: clean sentences, insults and threats built from the tiny vocabulary."""
    out = []
    for i in range(rows):
        a, b, c = (CLEAN_WORDS[(i * k + 3) % len(CLEAN_WORDS)] for k in (1, 5, 7))
        kind = i % 4
        if kind == 0:
            text, labels = f"you are a {TOXIC_WORDS[i % len(TOXIC_WORDS)]} {a}", {"toxic": 1, "insult": 1}
        elif kind == 1:
            text, labels = f"i will {THREAT_WORDS[i % 2]} you {b}", {"toxic": 1, "threat": 1}
        else:
            text, labels = f"{a} {b} {c} {CLEAN_WORDS[i % len(CLEAN_WORDS)]}", {}
        out.append({"id": f"s{i}", "comment_text": text, **{lb: labels.get(lb, 0) for lb in LABELS}})
    return out


def write_jigsaw_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "comment_text", *LABELS])
        writer.writeheader()
        writer.writerows(rows)
    return path


def train_tiny(base: Path, models_dir: Path, name: str, workdir: Path, **overrides: object) -> Path:
    """Fine-tune the tiny base on synthetic chat through the real pipeline; thresholds fixed at 0.5."""
    from training.evaluate import EvalSettings
    from training.pipeline import run_training
    from training.train import TrainConfig

    csv_path = write_jigsaw_csv(workdir / "synthetic.csv", synthetic_chat())
    settings = dict(
        extra_csv=[csv_path], base_model=base, run_dir=workdir / "run", epochs=25.0, batch_size=16, lr=2e-3,
        max_length=32, obfuscate_share=0.0, val_percent=20, freeze_embeddings=False, checkpoint_every=1000,
        threads=1,
    )
    init = overrides.pop("init", None)
    settings.update(overrides)
    result = run_training(TrainConfig(**settings), models_dir / name, name, init_model=init,
                          eval_settings=EvalSettings(obfuscation_rows=20), progress=False)
    meta_path = result.model_dir / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["thresholds"] = dict.fromkeys(LABELS, 0.5)
    meta_path.write_text(json.dumps(meta, indent=2))
    return result.model_dir
