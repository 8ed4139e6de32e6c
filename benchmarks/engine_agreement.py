"""Do the faster scoring engines hold the shipped model's accuracy? (issue 11, item 3)

Every engine scores the shipped model's own validation split (rebuilt from its metadata with the training
code, the rows `recalibrate` and `--split-of` use) through the same ToxicityModel: normalisation, windows
and length buckets are shared, only the forward pass differs. Each is compared with the torch fp32
reference on the same rows:

- the largest absolute difference of any probability;
- the share of messages whose flag decision agrees at the thresholds the model ships with (a message is
  flagged when any label reaches its threshold), and the same per label (the labels that fire);
- ROC-AUC per label over the rows whose source annotates it, and the Jigsaw mean, with their deltas;
- rough messages per second (this script is not a benchmark: see bench_scoring.py for speed).

Adoption rule (issue 11): an engine may serve only if flag decisions agree on >= 99.5 % of the validation
messages and no AUC (each label's and the Jigsaw mean) moves by more than 0.002.

Besides the engines ToxicityModel serves (torch-fp32, torch-bf16, onnx-fp32, onnx-int8), it measures
candidate recipes that do not ship: other ONNX Runtime int8 quantisations (INT8_RECIPES) and torch's own
dynamic int8, so a recipe that passes can replace `onnx_export.quantize_int8`. The ONNX files are the
model folder's when built there, else `build_onnx` builds them in a temporary copy; the shipped folder is
never written to.

Run: `python benchmarks/engine_agreement.py` (the whole split, 19,075 messages: the default engines take
about 15 minutes on two cores, `--engines all` about 23), `--rows 2000` for a quick look (AUCs of rare labels
are noisy on a sample), `--engines onnx-int8,nbits8-b128` to choose, `--list` to see them all, `--jsonl`
for one JSON object per engine. The nbits8 recipes need the `onnx-ir` package (onnxruntime's MatMulNBits
quantiser imports it); without it they are reported as skipped.

What it found for toxmod-minilm-v2 (issue 11): dynamic int8 with per-tensor activation scales (onnx-int8,
torch's, and every quantize_dynamic option) fails, 96-99 % agreement: [CLS] carries activations near 28
where other tokens stay under 8, so one scale per tensor leaves ordinary tokens a few levels. MatMulNBits
int8 (per-row, per-block activation scales) passes.
"""

from __future__ import annotations

import argparse
import copy
import filecmp
import gc
import json
import logging
import re
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.labels import LABELS  # noqa: E402
from bot.scoring import engines  # noqa: E402
from bot.scoring.classifier import ToxicityModel  # noqa: E402
from bot.scoring.ranking import roc_auc  # noqa: E402
from bot.scoring.registry import resolve_model_dir  # noqa: E402
from training.evaluate import flagged, predict  # noqa: E402
from training.pipeline import _training_data  # noqa: E402

MIN_FLAG_AGREEMENT = 0.995
MAX_AUC_DELTA = 0.002
REFERENCE = "torch-fp32"
SHORT = {"toxic": "tox", "severe_toxic": "sev", "obscene": "obs", "threat": "thr", "insult": "ins",
         "identity_hate": "idh"}


@dataclass(frozen=True)
class Int8Recipe:
    """Options of `onnxruntime.quantization.quantize_dynamic` (int8 weights, activations quantised per
    tensor at run time); `keep_fp32` are regular expressions over node names (as `build_onnx` exports them,
    e.g. /model/bert/encoder/layer.5/output/dense/MatMul) whose nodes stay fp32 (`nodes_to_exclude`)."""

    about: str
    per_channel: bool = False
    reduce_range: bool = False
    uint8_weights: bool = False
    op_types: tuple[str, ...] = ()
    keep_fp32: tuple[str, ...] = ()

    def kwargs(self, fp32: Path) -> dict[str, Any]:
        from onnxruntime.quantization import QuantType

        excluded = matching_nodes(fp32, self.keep_fp32) if self.keep_fp32 else []
        return {
            "per_channel": self.per_channel,
            "reduce_range": self.reduce_range,
            "weight_type": QuantType.QUInt8 if self.uint8_weights else QuantType.QInt8,
            "op_types_to_quantize": list(self.op_types) or None,
            "nodes_to_exclude": excluded or None,
        }

    def build(self, fp32: Path, out: Path) -> None:
        from onnxruntime.quantization import quantize_dynamic

        logging.disable(logging.WARNING)  # its advice to pre-process first is about convolutional models
        try:
            quantize_dynamic(str(fp32), str(out), **self.kwargs(fp32))
        finally:
            logging.disable(logging.NOTSET)

    def describe(self, fp32: Path) -> str:
        kw = {k: v for k, v in self.kwargs(fp32).items() if v}
        kw["weight_type"] = "QUInt8" if self.uint8_weights else "QInt8"
        if self.keep_fp32:
            kw["nodes_to_exclude"] = f"{len(kw.get('nodes_to_exclude') or [])} nodes matching {list(self.keep_fp32)}"
        return "quantize_dynamic(" + ", ".join(f"{k}={v}" for k, v in kw.items()) + ")"


@dataclass(frozen=True)
class NBitsRecipe:
    """ONNX Runtime's MatMulNBits: weights int8 in blocks of `block_size` along the input dimension, each
    with its own scale; with accuracy_level 4 the activations are quantised to int8 per row and block at
    run time (so one token's outliers set no other token's scale) and the products run in int8. Needs the
    `onnx-ir` package (onnxruntime's quantiser imports it)."""

    about: str
    block_size: int = 32
    accuracy_level: int = 4

    def build(self, fp32: Path, out: Path) -> None:
        import onnx

        try:
            from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
        except ImportError as exc:
            raise Skipped(f"needs the onnx-ir package ({exc})") from exc
        logging.disable(logging.WARNING)
        try:
            quantizer = MatMulNBitsQuantizer(onnx.load(str(fp32)), bits=8, block_size=self.block_size,
                                             is_symmetric=True, accuracy_level=self.accuracy_level,
                                             op_types_to_quantize=("MatMul",))
            quantizer.process()
            quantizer.model.save_model_to_file(str(out), False)
        finally:
            logging.disable(logging.NOTSET)

    def describe(self, fp32: Path) -> str:
        return (f"MatMulNBitsQuantizer(model, bits=8, block_size={self.block_size}, is_symmetric=True, "
                f"accuracy_level={self.accuracy_level}, op_types_to_quantize=('MatMul',)).process()")


class Skipped(Exception):
    """An engine this machine cannot build (a missing optional package)."""


FFN_OUT = r"/layer\.\d+/output/dense/"  # the second FFN matmul, fed by GELU
INT8_RECIPES: dict[str, Int8Recipe | NBitsRecipe] = {
    "int8-per-channel": Int8Recipe("weights quantised per output channel", per_channel=True),
    "int8-reduce-range": Int8Recipe("7-bit weights (no u8s8 saturation on CPUs without VNNI)", reduce_range=True),
    "int8-per-channel-reduce-range": Int8Recipe("per channel, 7-bit weights", per_channel=True, reduce_range=True),
    "int8-uint8-weights": Int8Recipe("QUInt8 weights", uint8_weights=True),
    "int8-matmul-only": Int8Recipe("matmuls only: embeddings stay fp32", op_types=("MatMul",)),
    "int8-fp32-ffn-out": Int8Recipe("FFN output matmuls stay fp32", keep_fp32=(FFN_OUT,)),
    "int8-per-channel-fp32-ffn-out": Int8Recipe("per channel, FFN output matmuls fp32", per_channel=True,
                                                keep_fp32=(FFN_OUT,)),
    "int8-fp32-first-last": Int8Recipe("first and last encoder layers stay fp32",
                                       keep_fp32=(r"/layer\.0/", r"/layer\.5/")),
    "nbits8-b32": NBitsRecipe("MatMulNBits int8, blocks of 32, int8 compute", block_size=32),
    "nbits8-b64": NBitsRecipe("MatMulNBits int8, blocks of 64, int8 compute", block_size=64),
    "nbits8-b128": NBitsRecipe("MatMulNBits int8, blocks of 128, int8 compute", block_size=128),
}
TORCH_INT8 = {
    "torch-int8-dynamic": "torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)",
    "torch-int8-encoder": "the same, encoder Linear layers only (pooler and classifier stay fp32)",
}
SHIPPED = ("torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8")
ALL = (*SHIPPED, *TORCH_INT8, *INT8_RECIPES)
# what runs without --engines: the shipped engines, torch's int8, the best plain quantize_dynamic option and
# the per-row (MatMulNBits) recipes; --engines all adds the other quantize_dynamic options
DEFAULT = (*SHIPPED, "torch-int8-dynamic", "int8-per-channel", "nbits8-b32", "nbits8-b64", "nbits8-b128")


def matching_nodes(onnx_path: Path, patterns: tuple[str, ...]) -> list[str]:
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    return [n.name for n in graph.node if any(re.search(p, n.name) for p in patterns)]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- the data


def validation_split(model_dir: Path, data_dir: Path | None, rows: int | None) -> tuple[pd.DataFrame, int]:
    """The model's validation split, rebuilt from its metadata, or `rows` of it chosen by a fixed seed; and
    the size of the whole split."""
    meta = json.loads((model_dir / "metadata.json").read_text())
    if data_dir is None:
        recorded = Path(meta.get("training_args", {}).get("data_dir") or "../shared/data")
        data_dir = recorded if recorded.is_absolute() else ROOT / recorded
    _, data = _training_data(meta, data_dir)
    val = data.val
    if rows and rows < len(val):
        picked = np.sort(np.random.default_rng(0).choice(len(val), rows, replace=False))
        return val.iloc[picked].reset_index(drop=True), len(val)
    return val, len(val)


# ------------------------------------------------------------------------------------------- the engines


class Engines:
    """Builds each engine's scorer: ToxicityModel(engine=...) for the shipped ones, the same model with
    another `engine` object for the candidates."""

    def __init__(self, model_dir: Path, work: Path, threads: int) -> None:
        self.model_dir, self.work, self.threads = model_dir, work, threads
        self._onnx_dir: Path | None = None
        self._base: ToxicityModel | None = None
        self.onnx_source = ""

    def scorer(self, name: str) -> tuple[ToxicityModel, str]:
        """The scorer of one engine and how it was made."""
        if name in ("torch-fp32", "torch-bf16"):
            return ToxicityModel(self.model_dir, engine=name, threads=self.threads), f"ToxicityModel(engine={name!r})"
        if name in engines.ONNX_FILES:
            d = self.onnx_dir()
            return (ToxicityModel(d, engine=name, threads=self.threads),
                    f"ToxicityModel(engine={name!r}), {engines.ONNX_FILES[name]} {self.onnx_source}")
        if name in TORCH_INT8:
            return self._with(self._torch_int8(encoder_only=name == "torch-int8-encoder")), TORCH_INT8[name]
        recipe = INT8_RECIPES[name]
        fp32 = self.onnx_dir() / engines.ONNX_FILES["onnx-fp32"]
        path = self.work / "variants" / f"{name}.onnx"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            recipe.build(fp32, path)
        engine = engines.OnnxEngine(path, name=name, threads=self.threads)
        return self._with(engine), f"{recipe.about}: {recipe.describe(fp32)}"

    def onnx_dir(self) -> Path:
        """The model folder if its ONNX files are built, else a copy of it where `build_onnx` built them."""
        if self._onnx_dir is not None:
            return self._onnx_dir
        if all((self.model_dir / f).is_file() for f in engines.ONNX_FILES.values()):
            self._onnx_dir, self.onnx_source = self.model_dir, f"as built in {self.model_dir}"
            return self._onnx_dir
        from bot.scoring.onnx_export import build_onnx

        copy_dir = self.work / "model"
        weights = "model.safetensors"
        fresh = (copy_dir / weights).is_file() and filecmp.cmp(self.model_dir / weights, copy_dir / weights, False)
        if not (fresh and all((copy_dir / f).is_file() for f in engines.ONNX_FILES.values())):
            shutil.rmtree(copy_dir, ignore_errors=True)
            shutil.copytree(self.model_dir, copy_dir, ignore=shutil.ignore_patterns("*.onnx", ".onnx-*"))
            log(f"building the ONNX files with build_onnx in {copy_dir} (the model folder has none)")
            build_onnx(copy_dir)
        self._onnx_dir, self.onnx_source = copy_dir, "built by build_onnx in a copy of the model folder"
        return copy_dir

    def _with(self, engine: engines.Engine) -> ToxicityModel:
        """The shipped scorer (normalisation, windows, buckets) with another forward pass."""
        if self._base is None:
            self._base = ToxicityModel(self.model_dir, engine="torch-fp32", threads=self.threads)
        scorer = copy.copy(self._base)
        scorer.engine = engine
        return scorer

    def _torch_int8(self, encoder_only: bool) -> engines.Engine:
        import torch
        from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained(
            self.model_dir, local_files_only=True, dtype=torch.float32).eval()
        spec: Any = {"bert.encoder": default_dynamic_qconfig} if encoder_only else {torch.nn.Linear}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
            quantized = quantize_dynamic(model, spec, dtype=torch.qint8)
        return engines.TorchEngine(quantized, bf16=False, threads=self.threads)


# ------------------------------------------------------------------------------------------- the metrics


def aucs(val: pd.DataFrame, probs: np.ndarray) -> dict[str, float | None]:
    """ROC-AUC per label over the rows whose source annotates it, and the Jigsaw mean as evaluate.py has it."""
    out: dict[str, float | None] = {}
    for j, label in enumerate(LABELS):
        known = val[label].notna().to_numpy()
        out[label] = roc_auc(val[label].to_numpy()[known] == 1, probs[known, j])
    jigsaw = (val["source"] == "jigsaw").to_numpy()
    jig = []
    for j, label in enumerate(LABELS):
        known = jigsaw & val[label].notna().to_numpy()
        if (a := roc_auc(val[label].to_numpy()[known] == 1, probs[known, j])) is not None:
            jig.append(a)
    out["jigsaw_mean"] = float(np.mean(jig)) if jig else None
    return out


def compare(name: str, how: str, val: pd.DataFrame, probs: np.ndarray, ref: np.ndarray,
            thresholds: dict[str, float], seconds: float, ref_aucs: dict[str, float | None]) -> dict[str, Any]:
    t = np.array([thresholds[lb] for lb in LABELS])
    fired, ref_fired = probs >= t, ref >= t
    flags, ref_flags = flagged(probs, thresholds), flagged(ref, thresholds)
    agree = flags == ref_flags
    own = aucs(val, probs)
    delta = {k: (v - r if v is not None and (r := ref_aucs[k]) is not None else None) for k, v in own.items()}
    moved = [abs(d) for d in delta.values() if d is not None]
    flag_agreement = float(agree.mean())
    max_auc_delta = max(moved) if moved else 0.0
    diff = np.abs(probs - ref)
    worst = np.unravel_index(int(diff.argmax()), diff.shape)
    sources = val["source"].to_numpy()
    by_source = pd.Series(sources[~agree]).value_counts().head(5).to_dict() if (~agree).any() else {}
    reasons = []
    if flag_agreement < MIN_FLAG_AGREEMENT:
        reasons.append(f"flags agree {100 * flag_agreement:.2f}% < {100 * MIN_FLAG_AGREEMENT:.1f}%")
    if max_auc_delta > MAX_AUC_DELTA:
        reasons.append(f"max |dAUC| {max_auc_delta:.4f} > {MAX_AUC_DELTA}")
    return {
        "engine": name,
        "how": how,
        "reference": name == REFERENCE,
        "rows": len(val),
        "max_abs_diff": float(diff.max()),
        "max_abs_diff_at": {"row": int(worst[0]), "label": LABELS[int(worst[1])]},
        "mean_abs_diff": float(diff.mean()),
        "flag_agreement": flag_agreement,
        "flags": int(flags.sum()),
        "flags_gained": int((flags & ~ref_flags).sum()),
        "flags_lost": int((~flags & ref_flags).sum()),
        "disagreements_by_source": {str(k): int(v) for k, v in by_source.items()},
        "label_agreement": {lb: float((fired[:, j] == ref_fired[:, j]).mean()) for j, lb in enumerate(LABELS)},
        "label_disagreements": {lb: int((fired[:, j] != ref_fired[:, j]).sum()) for j, lb in enumerate(LABELS)},
        "roc_auc": own,
        "auc_delta": delta,
        "max_auc_delta": max_auc_delta,
        "msg_s": len(val) / seconds if seconds > 0 else None,
        "seconds": seconds,
        "pass": not reasons,
        "verdict": "PASS" if not reasons else "FAIL: " + "; ".join(reasons),
    }


# -------------------------------------------------------------------------------------------- the report


def _f(x: float | None, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


def print_table(results: list[dict[str, Any]], thresholds: dict[str, float], sample: bool) -> None:
    rows = results[0]["rows"]
    print(f"\n{rows} validation messages; thresholds as shipped: "
          + ", ".join(f"{SHORT[k]} {v}" for k, v in thresholds.items()))
    if sample:
        print("a sample (--rows): AUCs of rare labels are far noisier than on the whole split; judge on that")
    print(f"rule: flags agree >= {100 * MIN_FLAG_AGREEMENT:.1f}% and every |dAUC| (6 labels + Jigsaw mean) "
          f"<= {MAX_AUC_DELTA}\n")
    w = max(len(r["engine"]) for r in results) + 2
    print(f"{'engine':<{w}}{'max|dp|':>8}{'mean|dp|':>10}{'flags agree':>12}{'+/-':>11}{'jigsaw AUC':>11}"
          f"{'d':>8}{'max|dAUC|':>10}{'msg/s':>8}  rule")
    for r in results:
        jig, d = r["roc_auc"]["jigsaw_mean"], r["auc_delta"]["jigsaw_mean"]
        print(f"{r['engine']:<{w}}{r['max_abs_diff']:>8.4f}{r['mean_abs_diff']:>10.5f}"
              f"{100 * r['flag_agreement']:>11.2f}%{'+' + str(r['flags_gained']) + '/-' + str(r['flags_lost']):>11}"
              f"{_f(jig, '.4f'):>11}{_f(d, '+.4f'):>8}{r['max_auc_delta']:>10.4f}{_f(r['msg_s'], '.0f'):>8}"
              f"  {'reference' if r['reference'] else r['verdict'].split(':')[0]}")
    print("\nper label: fired-label agreement % | validation ROC-AUC (delta x1e4)")
    print(f"{'engine':<{w}}" + "".join(f"{SHORT[lb]:>8}" for lb in LABELS) + " |"
          + "".join(f"{SHORT[lb]:>13}" for lb in LABELS))
    for r in results:
        agree = "".join(f"{100 * r['label_agreement'][lb]:>8.2f}" for lb in LABELS)
        auc = "".join(f"{_f(r['roc_auc'][lb], '.4f'):>7}"
                      + (f"({r['auc_delta'][lb] * 1e4:+4.0f})" if r["auc_delta"][lb] is not None else "      ")
                      for lb in LABELS)
        print(f"{r['engine']:<{w}}{agree} |{auc}")
    print()
    for r in results:
        if r["reference"]:
            print(f"{r['engine']}: reference ({r['how']})")
            continue
        where = ""
        if r["disagreements_by_source"]:
            where = "; flag disagreements by source: " + ", ".join(
                f"{k} {v}" for k, v in r["disagreements_by_source"].items())
        print(f"{r['engine']}: {r['verdict']} ({r['how']}){where}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--model-dir", type=Path, help="model folder (default: the one models/current names)")
    ap.add_argument("--data-dir", type=Path, help="training corpora (default: as the model's metadata records)")
    ap.add_argument("--rows", type=int, help="score a fixed random sample of this many validation messages")
    ap.add_argument("--engines", help="comma-separated names, or 'all' (default: those --list marks *); "
                    "the torch-fp32 reference always runs first")
    ap.add_argument("--threads", type=int, default=2, help="threads per engine (default 2)")
    ap.add_argument("--batch-size", type=int, default=64, help="messages per predict() call (default 64)")
    ap.add_argument("--work-dir", type=Path, help="keep the built ONNX files here and reuse them; empty it "
                    "after changing the model or a recipe (default: a temporary folder)")
    ap.add_argument("--jsonl", action="store_true", help="one JSON object per engine on stdout, no table")
    ap.add_argument("--list", action="store_true", help="list the engines and recipes, then exit")
    args = ap.parse_args(argv)

    if args.list:
        for name in ALL:
            about = (TORCH_INT8.get(name) or (INT8_RECIPES[name].about if name in INT8_RECIPES else "shipped engine"))
            print(f"{'*' if name in DEFAULT else ' '} {name:<32}{about}")
        return 0
    if args.engines == "all":
        names = list(ALL)
    else:
        names = [n.strip() for n in args.engines.split(",") if n.strip()] if args.engines else list(DEFAULT)
    unknown = [n for n in names if n not in ALL]
    if unknown:
        ap.error(f"unknown engine {unknown[0]!r}; --list shows them")
    names = [REFERENCE] + [n for n in names if n != REFERENCE]

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model_dir = resolve_model_dir(ROOT / "models", args.model_dir).resolve()
    started = time.perf_counter()
    log(f"rebuilding the validation split of {model_dir.name} ...")
    val, full_rows = validation_split(model_dir, args.data_dir, args.rows)
    texts = val["text"].tolist()
    log(f"{len(val)} of {full_rows} validation messages ({time.perf_counter() - started:.0f} s)")

    with tempfile.TemporaryDirectory(prefix="engine-agreement-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        build = Engines(model_dir, work, args.threads)
        ref: np.ndarray | None = None
        ref_aucs: dict[str, float | None] = {}
        thresholds: dict[str, float] = {}
        results: list[dict[str, Any]] = []
        skipped: list[dict[str, str]] = []
        for name in names:
            log(f"{name}: loading")
            try:
                scorer, how = build.scorer(name)
            except Skipped as exc:
                log(f"{name}: skipped, {exc}")
                skipped.append({"engine": name, "skipped": str(exc)})
                if args.jsonl:
                    print(json.dumps(skipped[-1]), flush=True)
                continue
            thresholds = thresholds or scorer.info.thresholds
            scorer.predict(texts[: args.batch_size])  # warm-up: first-call allocations are not throughput
            log(f"{name}: scoring {len(texts)} messages")
            start = time.perf_counter()
            probs = predict(scorer, texts, args.batch_size, name, progress=False)
            seconds = time.perf_counter() - start
            if ref is None:
                ref, ref_aucs = probs, aucs(val, probs)
            result = compare(name, how, val, probs, ref, thresholds, seconds, ref_aucs)
            log(f"{name}: {seconds:.0f} s, max|dp| {result['max_abs_diff']:.4f}, flags agree "
                f"{100 * result['flag_agreement']:.2f}%, max|dAUC| {result['max_auc_delta']:.4f}")
            if args.jsonl:
                print(json.dumps(result), flush=True)
            results.append(result)
            del scorer
            gc.collect()
    if not args.jsonl:
        print_table(results, thresholds, sample=len(val) < full_rows)
        for skip in skipped:
            print(f"{skip['engine']}: skipped, {skip['skipped']}")
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
