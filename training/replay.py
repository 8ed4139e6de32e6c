"""`toxmod model replay-sample`: a shipped model's replay sample, so `/model retrain` does not forget.

A retrain from a server's verdicts alone moves the model towards a few hundred messages and away from the
corpora it learned from. A few hundred training rows per corpus, kept in the model's folder, let a
deployer without the corpora (or with only some) mix the original distribution back in. Only corpora whose
licence lets anyone pass rows on go in; the rows come from the model's own training split (the same
dedupe and hash split as training), so none of its validation rows is in the sample and a candidate's
validation figures stay honest. The model's metadata and card say what the sample holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bot.labels import LABELS
from bot.scoring.info import REPLAY_SAMPLE
from bot.scoring.normalize import match_key
from training.config import TrainConfig
from training.corpora import Corpus, load_registry
from training.dataset import prepare_data
from training.export import REPLAY_NOTE_START, replay_note
from training.sources import REGISTRY
from training.sources.replay import replay_bytes

log = logging.getLogger(__name__)

# every label stratum of a corpus keeps at least this many rows (or all it has), so rare labels are replayed
STRATUM_FLOOR = 20
# a licence that says any of these does not let us pass rows on to every deployer
_NOT_REDISTRIBUTABLE = ("none stated", "not stated", "non-commercial", "-nc", "research use")
# licensed openly, but handed out by the authors only through a gate of their own: not ours to open
_GATED = {"implicit_hate": "its authors hand it out only through their data access form"}
# the most specific label first: a row is in the stratum of the first label it is positive for
_STRATA = ("threat", "identity_hate", "severe_toxic", "insult", "obscene", "toxic")


@dataclass(frozen=True)
class ReplaySample:
    """What was written: the file, and the record metadata.json keeps of it."""

    path: Path
    record: dict


def exclusion(source: str, corpora: Mapping[str, Corpus]) -> str | None:
    """Why ``source``'s rows may not go into a sample that ships with a model, or None if they may."""
    if source in _GATED:
        return _GATED[source]
    corpus = corpora.get(source)
    if corpus is None:
        # the hand-written contrast set is this repository's own; anything else has no licence on record
        in_repository = source in REGISTRY and Path(REGISTRY[source].relpath).is_absolute()
        return None if in_repository else "no licence on record (made in training, or a user's own file)"
    if any(marker in corpus.licence.lower() for marker in _NOT_REDISTRIBUTABLE):
        return f"licence: {corpus.licence}"
    return None


def _stratum(train: pd.DataFrame) -> np.ndarray:
    out = np.where(train[list(LABELS)].eq(0.0).all(axis=1), "clean", "unknown").astype(object)
    for label in reversed(_STRATA):
        out = np.where(train[label].eq(1.0).to_numpy(), label, out)
    return out


def stratified(train: pd.DataFrame, rows_per_source: int) -> pd.DataFrame:
    """About ``rows_per_source`` rows of each source, shared among its label strata by their size with a
    floor, picked by a hash of the text: no seed, and the same data always gives the same sample."""
    order = train["text"].map(lambda t: hashlib.sha1(f"replay:{match_key(t)}".encode(),
                                                     usedforsecurity=False).hexdigest())
    frame = train.assign(_stratum=_stratum(train), _order=order).sort_values("_order", kind="stable")
    picked = []
    for _source, rows in frame.groupby("source", sort=False):
        for _label, stratum in rows.groupby("_stratum", sort=False):
            share = round(rows_per_source * len(stratum) / len(rows))
            picked.append(stratum.head(max(share, STRATUM_FLOOR)))
    sample = pd.concat(picked) if picked else frame.head(0)
    return sample.drop(columns=["_stratum", "_order"]).sort_values(["source", "text"]).reset_index(drop=True)


def write_replay_sample(model_dir: Path, data_dir: Path | None, rows_per_source: int) -> ReplaySample:
    """Rebuild the model's training split from its metadata (corpora from ``data_dir`` if they moved), write
    the sample of its redistributable sources into the model's folder, and record it in metadata.json and
    the card."""
    meta_path = model_dir / "metadata.json"
    meta = json.loads(meta_path.read_text())
    cfg = TrainConfig.from_json(meta.get("training_args", {}))
    # the corpora alone: no rows made in training, and never a server's verdicts or a user's files
    cfg.data_dir, cfg.extra_csv, cfg.feedback, cfg.counterfactual_rows = (
        data_dir or cfg.data_dir, [], [], 0)
    if cfg.data_dir is None:
        raise ValueError(f"{model_dir} was trained without a data directory: nothing to sample")
    data = prepare_data(cfg)
    corpora = {source: corpus for corpus in load_registry() for source in corpus.sources}
    trained = {s["name"]: s for s in meta.get("sources", [])}
    excluded = {name: why for name in sorted(set(data.train["source"]))
                if (why := exclusion(name, corpora)) is not None}
    sample = stratified(data.train[~data.train["source"].isin(list(excluded))], rows_per_source)
    payload = replay_bytes(sample)
    path = model_dir / REPLAY_SAMPLE
    path.write_bytes(payload)
    counts = sample["source"].value_counts()
    sources = {}
    for prov in data.provenance:
        if prov["name"] not in counts:
            continue
        same = trained.get(prov["name"], {}).get("sha256") == prov["sha256"]
        if not same:
            log.warning("%s: its files differ from those %s was trained on", prov["name"], model_dir.name)
        sources[prov["name"]] = {"rows": int(counts[prov["name"]]),
                                 "training_rows": int((data.train["source"] == prov["name"]).sum()),
                                 "same_files_as_training": same,
                                 "licence": corpora[prov["name"]].licence if prov["name"] in corpora
                                 else "MIT, as the toxmod repository"}
    meta["replay_sample"] = {
        "file": REPLAY_SAMPLE, "rows": len(sample), "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(), "rows_per_source": rows_per_source,
        "split": f"training split only (val_percent {cfg.val_percent}, the same dedupe and hash as training)",
        "sources": sources, "excluded": excluded,
    }
    meta_path.write_text(json.dumps(meta, indent=2, default=str) + "\n")
    _note_in_card(model_dir / "MODEL_CARD.md", meta)
    log.info("replay sample: %d rows, %d bytes in %s", len(sample), len(payload), path)
    return ReplaySample(path, meta["replay_sample"])


def carry_over(replay: Path, model_dir: Path) -> dict | None:
    """A retrained candidate keeps the sample its retrain replayed (never the verdicts), so that once it is
    promoted the next retrain replays the same corpora; returns the record for its metadata, or None when
    ``replay`` is not a model's own recorded sample."""
    owner = replay.parent / "metadata.json"
    meta = json.loads(owner.read_text()) if owner.is_file() else {}
    record = meta.get("replay_sample")
    if not record or record.get("sha256") != hashlib.sha256(replay.read_bytes()).hexdigest():
        return None
    shutil.copyfile(replay, model_dir / REPLAY_SAMPLE)
    return {**record, "file": REPLAY_SAMPLE, "inherited_from": record.get("inherited_from", meta.get("version"))}


def _note_in_card(card: Path, meta: dict) -> None:
    """Put the sample's paragraph after the card's list of sources, in place of an earlier one."""
    if not card.is_file():
        return
    lines = card.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(REPLAY_NOTE_START):
            del lines[i - 1 if i and not lines[i - 1] else i : i + 1]
            break
    heading = "## Training data and licences"
    at = lines.index(heading) + 1 if heading in lines else len(lines)
    while at < len(lines) and lines[at].startswith("- "):
        at += 1
    lines[at:at] = ["", replay_note(meta)]
    card.write_text("\n".join(lines) + "\n")
