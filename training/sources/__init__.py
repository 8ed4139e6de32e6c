"""Adapters that map each public corpus into the product's six labels, and the registry that loads them.

Every corpus annotates a different slice of the label space, so every adapter returns the same layout:
``text``, ``source`` and one float column per label holding 1.0, 0.0 or NaN, where NaN means "this source
says nothing about this label" and is masked out of the loss. The mapping decisions (and why) are written
down in training/LABEL_MAPPING.md; change both together.

Two registries: ``SOURCES`` is the default selection, what a run without ``sources`` trains on (the
English corpora the shipped models were trained on; ``training/dataset.py`` reads "all" as
``list(SOURCES)``, so the English recipes reproduce unchanged). ``REGISTRY`` adds the opt-in corpora in
other languages (``training/sources/multilingual/``), loaded only when a recipe names them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from functools import partial
from pathlib import Path

import pandas as pd

from bot.labels import LABELS
from training.sources import hate
from training.sources._common import Source, matching_files, require
from training.sources.abuse import (
    CONVABUSE_GLOB,
    load_conda,
    load_convabuse,
    load_davidson,
    load_gametox,
    load_hatexplain,
    load_jigsaw_csv,
    load_olid,
)
from training.sources.background import UBUNTU_GLOB, load_ubuntu_irc
from training.sources.contrast import CONTRAST_CSV, load_contrast
from training.sources.multilingual import MULTILINGUAL_SOURCES
from training.sources.topical_chat import load_topical_chat

__all__ = [
    "CONTRAST_CSV",
    "OPT_IN_SOURCES",
    "REGISTRY",
    "SOURCES",
    "Source",
    "file_sha256",
    "language_of",
    "load_jigsaw_csv",
    "load_sources",
    "load_ubuntu_irc",
    "sources_for_languages",
]

log = logging.getLogger(__name__)


# The default selection: every source a run loads when it names none.
SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("jigsaw", "jigsaw2018/train.csv", load_jigsaw_csv, "Wikipedia talk comments, all six labels"),
        Source("davidson", "davidson2017/labeled_data.csv", load_davidson, "tweets: hate/offensive/neither"),
        Source("olid", "olid/olid-training-v1.0.tsv", load_olid, "tweets: OffensEval 2019 subtasks A-C"),
        Source("gametox", "gametox/gametox.csv", load_gametox, "World of Tanks chat, six intent classes"),
        Source("conda", "conda/CONDA_train.csv", load_conda, "Dota 2 chat, utterance intent + token slots"),
        Source("hatexplain", "hatexplain/posts.tsv", load_hatexplain, "Twitter/Gab: normal/offensive/hate"),
        Source(
            "convabuse",
            f"convabuse/{CONVABUSE_GLOB}",
            load_convabuse,
            "users abusing chatbots, annotator votes",
        ),
        Source(
            "ubuntu_irc",
            f"ubuntu_irc/train/{UBUNTU_GLOB}",
            load_ubuntu_irc,
            "technical chat, clean background",
        ),
        Source("topical_chat", "topical_chat/topical_chat.csv", load_topical_chat,
               "casual topic chat (sports, films, places, people), clean background"),
        Source("implicit_hate", "implicit_hate", hate.load_implicit_hate,
               "extremist-adjacent tweets: implicit/explicit hate, threatening"),
        Source("edos", "edos/edos_labelled_aggregated.csv", hate.load_edos,
               "Reddit/Gab: sexism with threats, derogation, animosity"),
        Source("toxic_spans", "toxic_spans", hate.load_toxic_spans,
               "news comments with typed toxic spans (insult, obscene, identity, threat)"),
        Source("toxigen", "toxigen_seeds/toxigen_seeds.csv", hate.load_toxigen_seeds,
               "statements about 13 groups: hate vs neutral"),
        Source("toxichat", "toxichat", hate.load_toxichat, "Reddit thread turns: safe/offensive, targets"),
        Source("sbic", "sbic/SBFv2.dev.csv", hate.load_sbic, "Social Bias Frames: offensive, group-targeted"),
        Source("stormfront", "stormfront/stormfront_sentences.csv", hate.load_stormfront,
               "white-supremacist forum sentences: hate/noHate"),
        Source("contrast", str(CONTRAST_CSV), load_contrast,
               "hand-written chat contrast set (banter, homonyms, counter-speech, threats)"),
    )
}

# Loaded only when named: the corpora in other languages.
OPT_IN_SOURCES: dict[str, Source] = dict(MULTILINGUAL_SOURCES)

# Every source a run may name, default selection first.
REGISTRY: dict[str, Source] = {**SOURCES, **OPT_IN_SOURCES}
if len(REGISTRY) != len(SOURCES) + len(OPT_IN_SOURCES):
    raise RuntimeError("a source name is registered twice")


def language_of(name: str) -> str:
    """The ISO 639-1 language of a registered source, for reporting evaluation per language."""
    try:
        return REGISTRY[name].language
    except KeyError:
        raise ValueError(f"unknown source {name!r}; known: {list(REGISTRY)}") from None


def sources_for_languages(languages: Iterable[str], *, include_non_commercial: bool = True) -> list[str]:
    """Names of every registered source written in one of ``languages``, in registry order.

    ``include_non_commercial=False`` leaves out sources whose licence forbids commercial use, which is what a
    recipe for a model that ships needs.
    """
    wanted = set(languages)
    return [
        name
        for name, source in REGISTRY.items()
        if source.language in wanted and (include_non_commercial or not source.non_commercial)
    ]


def _files_sha256(files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as f:
            for chunk in iter(partial(f.read, 1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """Content hash for provenance; a directory hashes its files' contents in sorted path order."""
    require(path)
    if path.is_dir():
        return _files_sha256(sorted(p for p in path.rglob("*") if p.is_file()))
    return _files_sha256([path])


def load_sources(
    data_root: Path, names: Iterable[str] | None = None, ubuntu_cap: int | None = 30000
) -> tuple[pd.DataFrame, list[dict]]:
    """Load the named sources (the default selection, ``SOURCES``, when none are named) into one frame, with a
    provenance record per source; any source in ``REGISTRY`` may be named."""
    selected = list(SOURCES) if names is None else list(names)
    unknown = [n for n in selected if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown sources {unknown}; known: {list(REGISTRY)}")
    frames, provenance = [], []
    for name in selected:
        source = REGISTRY[name]
        resolved = Path(data_root) / source.relpath
        if any(ch in source.relpath for ch in "*?["):
            target = resolved.parent
            sha256 = _files_sha256(matching_files(target, resolved.name))
        else:
            target = require(resolved)
            sha256 = file_sha256(target)
        load = partial(load_ubuntu_irc, cap=ubuntu_cap) if name == "ubuntu_irc" else source.load
        frame = load(target)
        counts = {label: int((frame[label] == 1.0).sum()) for label in LABELS}
        log.info("%s: %d rows from %s; positives %s", name, len(frame), resolved, counts)
        frames.append(frame)
        provenance.append(
            {
                "name": name,
                "path": str(resolved),
                "rows": len(frame),
                "sha256": sha256,
                "label_counts": counts,
            }
        )
    columns = ["text", "source", *LABELS]
    combined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return combined[columns], provenance
