"""Evaluation and threshold calibration of an exported model, through the same code the bot scores with.

Evaluating the exported directory (fp16 weights, normalisation, windows) rather than the in-memory
training model means the figures in metadata.json describe exactly what ships.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Mapping

import numpy as np
import pandas as pd
from tqdm import tqdm

from bot.labels import LABELS, SPECIFIC_LABELS, shown_order
from bot.scoring.classifier import ToxicityModel
from bot.scoring.ranking import average_precision, roc_auc, threshold_for_precision
from training.config import EvalSettings
from training.obfuscate import TRICKS, obfuscate
from training.sources import REGISTRY, language_of

log = logging.getLogger(__name__)

# Clean everyday chat: the validation rows of each calibrate the background budget, and a held-out part of
# each (never trained or calibrated on) measures it.
BACKGROUND_SOURCES = ("ubuntu_irc", "topical_chat")
MAX_THRESHOLD = 0.99
# Share of a language's clean validation posts its own thresholds may flag. The non-English corpora are
# tweets and forum posts sampled to be a fifth to a half abusive, so a precision target there would be set
# by each corpus's sampling; the clean rows' flag rate does not depend on it.
LANGUAGE_CLEAN_BUDGET = 0.02


def _language(source: str) -> str:
    """A validation row's language: its corpus's, English for moderators' feedback and extra CSVs."""
    return language_of(source) if source in REGISTRY else "en"



def predict(model: ToxicityModel, texts: list[str], batch_size: int, desc: str, progress: bool) -> np.ndarray:
    """The model's probabilities (rows, labels) for `texts`, in batches, with a progress bar named `desc`."""
    out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
    for start in tqdm(range(0, len(texts), batch_size), desc=desc, disable=not progress, unit="batch"):
        out[start : start + batch_size] = model.predict(texts[start : start + batch_size])
    return out


def label_metrics(frame: pd.DataFrame, probs: np.ndarray) -> dict[str, dict]:
    """ROC-AUC, PR-AUC and support per label over the rows whose source annotates that label."""
    result = {}
    for j, label in enumerate(LABELS):
        known = frame[label].notna().to_numpy()
        y = frame[label].to_numpy()[known] == 1
        result[label] = {
            "roc_auc": _round(roc_auc(y, probs[known, j])),
            "pr_auc": _round(average_precision(y, probs[known, j])),
            "positives": int(y.sum()),
            "rows": int(known.sum()),
        }
    return result


def calibrate(
    val: pd.DataFrame, probs: np.ndarray, background: Mapping[str, np.ndarray], cfg: EvalSettings
) -> tuple[dict[str, float], dict[str, dict]]:
    """Per-label thresholds: the lowest that reaches the target precision on validation, then raised where
    needed so that all six together flag at most `background_budget` of each background source's chat."""
    by_precision = precision_thresholds(val, probs, cfg)
    thresholds = fit_background_budget(by_precision, background, cfg.background_budget)
    return thresholds, threshold_detail(val, probs, thresholds, by_precision)


def precision_thresholds(val: pd.DataFrame, probs: np.ndarray, cfg: EvalSettings) -> dict[str, float]:
    """Each label's lowest threshold reaching its precision target, over the rows whose source knows it."""
    out = {}
    for j, label in enumerate(LABELS):
        known = val[label].notna().to_numpy()
        target = cfg.label_precision.get(label, cfg.target_precision)
        t, _, _ = threshold_for_precision(val[label].to_numpy()[known] == 1, probs[known, j], target,
                                          cfg.threshold_floor)
        out[label] = round(min(t, MAX_THRESHOLD), 4)
    return out


def threshold_detail(val: pd.DataFrame, probs: np.ndarray, thresholds: dict[str, float],
                     by_precision: dict[str, float]) -> dict[str, dict]:
    """Precision and recall at the thresholds in force, beside the thresholds precision alone asked for."""
    detail = {}
    for j, label in enumerate(LABELS):
        known = val[label].notna().to_numpy()
        y = val[label].to_numpy()[known] == 1
        at = probs[known, j] >= thresholds[label]
        detail[label] = {
            "threshold": thresholds[label],
            "precision_threshold": by_precision[label],
            "raised_for_background": thresholds[label] > by_precision[label],
            "precision": _round(float(y[at].mean()) if at.any() else None),
            "recall": _round(float(y[at].sum() / y.sum()) if y.sum() else None),
            # what the background budget cost: the recall the precision target alone would have given
            "recall_at_precision_threshold": _round(
                float(y[probs[known, j] >= by_precision[label]].sum() / y.sum()) if y.sum() else None),
        }
    return detail


def fit_background_budget(
    thresholds: dict[str, float], background: Mapping[str, np.ndarray] | np.ndarray, budget: float
) -> dict[str, float]:
    """Raise thresholds until the labels together flag at most `budget` of each background source's messages.

    One step at a time, in the source furthest over its budget, the label that flags the most of its
    messages moves just above the lowest score it still flags there. Each source has its own budget because
    they fail differently (technical IRC trips `threat` on "kill the process", topic chat trips
    `identity_hate` on groups and places), and a pooled budget would let the larger one hide the other.
    Splitting a budget evenly across six labels would waste it: the labels are correlated (an insult is
    usually also toxic), so the union needs far less than the sum.
    """
    sets = [np.asarray(b) for b in (background.values() if isinstance(background, Mapping) else [background])]
    sets = [b for b in sets if len(b)]
    t = np.array([thresholds[label] for label in LABELS], dtype=np.float64)
    allowed = [int(budget * len(b)) for b in sets]
    while sets:
        hits = [b >= t for b in sets]
        excess = [(h.any(axis=1).sum() - a) / len(h) for h, a in zip(hits, allowed, strict=True)]
        worst = int(np.argmax(excess))
        if excess[worst] <= 0:
            break
        counts = np.where(t < MAX_THRESHOLD, hits[worst].sum(axis=0), -1)
        j = int(counts.argmax())
        if counts[j] <= 0:
            break  # every label that still flags background is at the cap
        t[j] = min(float(np.nextafter(sets[worst][hits[worst][:, j], j].min(), 2.0)), MAX_THRESHOLD)
    return {label: rounded_up(float(v)) for label, v in zip(LABELS, t, strict=True)}


def rounded_up(line: float) -> float:
    """A line to four decimals, rounded up: rounded to nearest, it could fall back below the score it was
    raised past."""
    return round(float(np.ceil(line * 1e4) / 1e4), 4)


def flagged(probs: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """For each row, whether any label reaches its threshold."""
    return np.asarray((probs >= np.array([thresholds[lb] for lb in LABELS])).any(axis=1))


def obfuscation_check(
    model: ToxicityModel, val: pd.DataFrame, probs: np.ndarray, thresholds: dict[str, float], cfg: EvalSettings,
    progress: bool,
) -> dict:
    """How often a toxic validation message is still flagged once obfuscated, relative to its clean form.

    Once with the tricks mixed at random (one per word, as members mix them), then with each trick alone
    over the same messages, so a weak spot (whole-word leet, spaced or stretched letters) cannot hide in
    the average.
    """
    toxic = np.flatnonzero((val["toxic"] == 1).to_numpy())
    picked = sorted(toxic, key=lambda i: hashlib.sha1(val["text"].iat[i].encode(), usedforsecurity=False).hexdigest())[
        : cfg.obfuscation_rows
    ]
    if not picked:
        return {"rows": 0}
    clean_flags = flagged(probs[picked], thresholds)

    def flag_rate(tricks: tuple[str, ...] | None, desc: str) -> float:
        texts = [obfuscate(val["text"].iat[i], random.Random(int(i)), word_share=0.6, tricks=tricks)  # noqa: S311 - seeded
                 for i in picked]
        return float(flagged(predict(model, texts, cfg.batch_size, desc, progress), thresholds).mean())

    mixed = flag_rate(None, "obfuscated")
    clean = float(clean_flags.mean())
    by_trick = {trick: _round(flag_rate((trick,), trick) / clean if clean else None) for trick in TRICKS}
    return {
        "rows": len(picked),
        "clean_flag_rate": _round(clean),
        "obfuscated_flag_rate": _round(mixed),
        "ratio": _round(mixed / clean if clean else None),
        "ratio_by_trick": by_trick,
    }


def label_fidelity(val: pd.DataFrame, probs: np.ndarray, thresholds: dict[str, float]) -> dict[str, dict]:
    """For each specific label: of the validation messages annotated with it, how many are flagged, and of
    those how often it is among the two labels shown to moderators (ranked as the Policy ranks them).

    The same again (`named`) for the messages where it is the label a moderator would name: the first
    annotated label in SPECIFIC_LABELS' order (threat, identity_hate, insult, obscene). "You f***ing idiot"
    is annotated obscene and insult; a moderator names the insult, and showing "insult, toxic" for it is
    right, though the first reading counts it as obscene missing.
    """
    policy_top = top_two(probs, thresholds)
    is_flagged = flagged(probs, thresholds)
    annotated = {label: (val[label] == 1).to_numpy() for label in SPECIFIC_LABELS}
    outranked = np.zeros(len(val), dtype=bool)
    out = {}
    for label in SPECIFIC_LABELS:
        shown_here = (policy_top == LABELS.index(label)).any(axis=1)
        out[label] = _fidelity(annotated[label], is_flagged, shown_here)
        out[label]["named"] = _fidelity(annotated[label] & ~outranked, is_flagged, shown_here)
        outranked |= annotated[label]
    return out


def _fidelity(positive: np.ndarray, is_flagged: np.ndarray, shown: np.ndarray) -> dict:
    hit = positive & is_flagged
    return {
        "positives": int(positive.sum()),
        "flagged": _round(hit.sum() / positive.sum() if positive.any() else None),
        "shown_when_flagged": _round((hit & shown).sum() / hit.sum() if hit.any() else None),
    }


def top_two(probs: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """Column indices of the two labels shown for each row, ranked by `shown_order` as the Policy ranks
    them (margins in log-odds over each label's threshold, computed for the whole set at once)."""
    clipped = np.clip(probs.astype(np.float64), 1e-6, 1 - 1e-6)
    t = np.array([thresholds[lb] for lb in LABELS], dtype=np.float64)
    margins = np.log(clipped / (1 - clipped)) - np.log(t / (1 - t))
    column = {label: j for j, label in enumerate(LABELS)}
    return np.array([[column[label] for label in shown_order(dict(zip(LABELS, row, strict=True)))[:2]]
                     for row in margins.tolist()], dtype=np.int64).reshape(-1, 2)


def evaluate(
    model: ToxicityModel,
    val: pd.DataFrame,
    heldout_background: Mapping[str, list[str]],
    cfg: EvalSettings,
    progress: bool = True,
    thresholds: dict[str, float] | None = None,
    language_thresholds: dict[str, dict[str, float]] | None = None,
) -> dict:
    """The full report: thresholds, per-label, per-source and per-language metrics, background flag rate,
    robustness.

    Thresholds are calibrated on this validation split unless given (to measure a model as it ships).
    """
    probs = predict(model, val["text"].tolist(), cfg.batch_size, "validation", progress)
    calibrating = thresholds is None
    if thresholds is None:
        background = {s: probs[(val["source"] == s).to_numpy()] for s in BACKGROUND_SOURCES}
        thresholds, calibration = calibrate(val, probs, background, cfg)
    else:  # as shipped: nothing is raised here, only measured
        calibration = threshold_detail(val, probs, thresholds, precision_thresholds(val, probs, cfg))
        for detail in calibration.values():
            detail["raised_for_background"] = None
    if language_thresholds is None:  # calibrated with the shared thresholds, or none shipped
        language_thresholds = calibrate_languages(val, probs, thresholds) if calibrating else {}
    jigsaw = (val["source"] == "jigsaw").to_numpy()
    jigsaw_metrics = label_metrics(val[jigsaw], probs[jigsaw]) if jigsaw.any() else {}
    jig_aucs = [m["roc_auc"] for m in jigsaw_metrics.values() if m["roc_auc"] is not None]
    bg_flags = {source: flagged(predict(model, texts, cfg.batch_size, f"background {source}", progress), thresholds)
                for source, texts in heldout_background.items()}
    pooled = np.concatenate(list(bg_flags.values())) if bg_flags else np.zeros(0, dtype=bool)
    return {
        "thresholds": thresholds,
        "language_thresholds": language_thresholds,
        "target_precision": cfg.target_precision,
        "label_precision": dict(cfg.label_precision),
        "calibration": calibration,
        "labels": label_metrics(val, probs),
        "jigsaw_labels": jigsaw_metrics,
        "jigsaw_mean_roc_auc": _round(float(np.mean(jig_aucs)) if jig_aucs else None),
        "sources": source_metrics(val, probs, thresholds),
        "background_heldout": {
            "rows": len(pooled),
            "flag_rate": _round(float(pooled.mean()) if len(pooled) else None),
            "by_source": {source: {"rows": len(f), "flag_rate": _round(float(f.mean()) if len(f) else None)}
                          for source, f in bg_flags.items()},
        },
        "languages": language_metrics(val, probs, thresholds, language_thresholds),
        "label_fidelity": label_fidelity(val, probs, thresholds),
        "obfuscation": obfuscation_check(model, val, probs, thresholds, cfg, progress),
    }


def source_metrics(val: pd.DataFrame, probs: np.ndarray, thresholds: dict[str, float]) -> dict[str, dict]:
    """Per source: its rows, its toxic rows, how well `toxic` ranks them, and how often it is flagged."""
    per_source = {}
    for source, idx in val.groupby("source").indices.items():
        sub = val.iloc[idx]
        known = sub["toxic"].notna().to_numpy()
        per_source[source] = {
            "rows": len(sub),
            "toxic": int((sub["toxic"] == 1).sum()),
            "toxic_roc_auc": _round(roc_auc(sub["toxic"].to_numpy()[known] == 1, probs[idx][known, 0])),
            "flag_rate": _round(float(flagged(probs[idx], thresholds).mean())),
        }
    return per_source


def calibrate_languages(val: pd.DataFrame, probs: np.ndarray,
                        thresholds: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Each non-English language's own lines, set so that at most LANGUAGE_CLEAN_BUDGET of its clean
    validation posts are flagged. `toxic`, the one label every language annotates, gets the lowest line that
    alone keeps within it: the shared lines are calibrated on English chat, which a model's other languages
    never see, so they neither raise nor lower it. Should the other labels at their shared lines still flag
    more than that, they are raised as the background budget raises them for English (fit_background_budget,
    with the language's clean posts as its background); only lines that differ from the shared ones are kept."""
    toxic = LABELS.index("toxic")
    languages = val["source"].map(_language).to_numpy()
    out: dict[str, dict[str, float]] = {}
    for language in sorted(set(languages) - {"en"}):
        clean = probs[(languages == language) & (val["toxic"] == 0).to_numpy()]
        if len(clean) < 50:  # too few clean posts to set a line on: the shared ones hold
            continue
        alone = float(np.quantile(clean[:, toxic], 1 - LANGUAGE_CLEAN_BUDGET)) + 1e-6
        start = {**thresholds, "toxic": min(MAX_THRESHOLD, alone)}
        lines = fit_background_budget(start, clean, LANGUAGE_CLEAN_BUDGET)
        out[language] = {label: line for label, line in lines.items()
                         if label == "toxic" or line != rounded_up(thresholds[label])}
    return out


def language_metrics(val: pd.DataFrame, probs: np.ndarray, thresholds: Mapping[str, float],
                     language_thresholds: Mapping[str, Mapping[str, float]]) -> dict[str, dict]:
    """Per language: toxic-vs-clean ROC-AUC over its rows, and with its own thresholds the share of its
    toxic posts flagged (recall) and of its clean posts flagged."""
    languages = val["source"].map(_language).to_numpy()
    out: dict[str, dict] = {}
    for language in sorted(set(languages)):
        rows = languages == language
        known = rows & val["toxic"].notna().to_numpy()
        y = (val["toxic"].to_numpy()[known] == 1)
        lines = {**thresholds, **language_thresholds.get(language, {})}
        hit = flagged(probs[known], lines)
        out[language] = {
            "rows": int(known.sum()),
            "toxic": int(y.sum()),
            "toxic_roc_auc": _round(roc_auc(y, probs[known, LABELS.index("toxic")])),
            "toxic_flagged": _round(float(hit[y].mean()) if y.any() else None),
            "clean_flagged": _round(float(hit[~y].mean()) if (~y).any() else None),
        }
    return out


def format_report(report: dict) -> str:
    """A readable plain-text table of the report, for the terminal and the model card."""
    own = ", ".join(f"{k} {v}" for k, v in (report.get("label_precision") or {}).items())
    lines = [f"thresholds (target precision {report['target_precision']}" + (f"; {own}" if own else "") + "):"]
    lines.append(f"  {'label':<14}{'thr':>7}{'ROC-AUC':>9}{'PR-AUC':>8}{'pos':>7}{'rows':>8}{'prec':>7}{'recall':>8}"
                 f"{'recall before background budget':>33}")
    for label in LABELS:
        m, c = report["labels"][label], report["calibration"][label]
        lines.append(
            f"  {label:<14}{c['threshold']:>7.3f}{_fmt(m['roc_auc']):>9}{_fmt(m['pr_auc']):>8}{m['positives']:>7}"
            f"{m['rows']:>8}{_fmt(c['precision']):>7}{_fmt(c['recall']):>8}"
            f"{_fmt(c.get('recall_at_precision_threshold')):>33}"
        )
    lines.append(f"Jigsaw validation mean ROC-AUC over six labels: {_fmt(report['jigsaw_mean_roc_auc'])}")
    for label, m in report["jigsaw_labels"].items():
        lines.append(f"  jigsaw {label:<14} ROC-AUC {_fmt(m['roc_auc'])}  (positives {m['positives']}/{m['rows']})")
    lines.append("per source (toxic vs clean):")
    for source, m in report["sources"].items():
        lines.append(
            f"  {source:<12} ROC-AUC {_fmt(m['toxic_roc_auc'])}  rows {m['rows']:>6}  toxic {m['toxic']:>5}"
            f"  flagged {_pct(m['flag_rate'])}"
        )
    if report.get("languages"):
        lines.append("per language (toxic vs clean, with the language's own thresholds):")
        for language, m in report["languages"].items():
            lines.append(
                f"  {language:<4} ROC-AUC {_fmt(m['toxic_roc_auc'])}  rows {m['rows']:>6}  toxic {m['toxic']:>5}"
                f"  toxic flagged {_pct(m['toxic_flagged'])}  clean flagged {_pct(m['clean_flagged'])}"
            )
    bg = report["background_heldout"]
    lines.append(f"held-out background chat flagged: {_pct(bg['flag_rate'])} of {bg['rows']} messages")
    for source, m in bg.get("by_source", {}).items():
        lines.append(f"  {source:<12} flagged {_pct(m['flag_rate'])} of {m['rows']} messages")
    lines.append("label fidelity (messages annotated with the label: flagged, and the label among the two shown):")
    for label, m in report.get("label_fidelity", {}).items():
        line = (f"  {label:<14} flagged {_pct(m['flagged'])}  shown {_pct(m['shown_when_flagged'])}"
                f"  (positives {m['positives']})")
        if "named" in m:  # reports written before the second reading was added lack it
            line += (f"; as the label a moderator would name: flagged {_pct(m['named']['flagged'])}"
                     f"  shown {_pct(m['named']['shown_when_flagged'])}  ({m['named']['positives']})")
        lines.append(line)
    ob = report["obfuscation"]
    lines.append(
        f"obfuscated toxic messages flagged {_pct(ob.get('obfuscated_flag_rate'))} vs clean "
        f"{_pct(ob.get('clean_flag_rate'))} (ratio {_fmt(ob.get('ratio'))}, {ob['rows']} rows)"
    )
    if ob.get("ratio_by_trick"):
        lines.append("  by trick: " + ", ".join(f"{k} {_fmt(v)}" for k, v in ob["ratio_by_trick"].items()))
    return "\n".join(lines)


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"
