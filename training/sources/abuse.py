"""Abuse and offence, annotated: Wikipedia comments, tweets, game chat and people abusing chatbots.

Each adapter maps its corpus's own annotation into the six labels as argued in training/LABEL_MAPPING.md;
change both together.
"""

from __future__ import annotations

import csv
import html
import logging
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from bot.labels import LABELS
from training.sources._common import (
    CLEAN,
    NAN,
    UNKNOWN,
    binary,
    check_columns,
    finish,
    label_vector,
    matching_files,
    read_csv,
)

log = logging.getLogger(__name__)

# Matches the train and valid splits only: "tr"ain / "va"lid, never "te"st (kept for evaluation) or the
# per-annotator "fu"ll file, which has a different layout.
CONVABUSE_GLOB = "ConvAbuseEMNLP[tv][ra]*.csv"


def load_jigsaw_csv(path: Path, source: str = "jigsaw") -> pd.DataFrame:
    """Kaggle Jigsaw 2018 ``train.csv`` as published, or a moderator-feedback export in the same columns.

    Feedback exports add ``source,guild,decided_at``; a row's own ``source`` wins so one file can carry
    decisions from several origins.
    """
    df = read_csv(path)
    check_columns(df, ["comment_text", *LABELS], path)
    labels = pd.DataFrame({label: binary(df[label]) for label in LABELS})
    if "source" in df.columns:
        row_source = df["source"].str.strip()
        sources: str | list[str] = row_source.where(row_source != "", source).tolist()
    else:
        sources = source
    return finish(df["comment_text"], labels, sources, source)


DAVIDSON = {
    0: label_vector(toxic=1, identity_hate=1),  # hate speech: targets a group by its attributes
    1: label_vector(toxic=1),  # offensive but not hate
    2: CLEAN,  # neither
}


def load_davidson(path: Path) -> pd.DataFrame:
    """Davidson et al. 2017 tweets; ``class`` is the majority of the crowd votes."""
    df = read_csv(path)
    check_columns(df, ["tweet", "class"], path)
    classes = pd.to_numeric(df["class"], errors="coerce")
    # Tweets came from the API HTML-escaped (&amp;, &#8220;, &#128514;); users typed the characters.
    texts = df["tweet"].map(html.unescape)
    return finish(texts, [DAVIDSON.get(c, UNKNOWN) for c in classes], "davidson", "davidson")


OLID_OFFENSIVE = label_vector(toxic=1)
# Untargeted profanity: swearing, and by OLID's definitions not an insult, threat or group attack.
OLID_UNTARGETED = label_vector(toxic=1, obscene=1, threat=0, insult=0, identity_hate=0)
# Targeted insult/threat at a person: an insult in Jigsaw's sense (threats are the rare case).
OLID_AT_INDIVIDUAL = label_vector(toxic=1, insult=1)


def _olid_labels(a: str, b: str, c: str) -> dict[str, float]:
    if a == "NOT":
        return CLEAN
    if a != "OFF":
        return UNKNOWN
    if b == "UNT":
        return OLID_UNTARGETED
    if b == "TIN" and c == "IND":
        return OLID_AT_INDIVIDUAL
    return OLID_OFFENSIVE  # group/other targets, or subtasks B/C not given


def load_olid(path: Path) -> pd.DataFrame:
    """OLID / OffensEval 2019 training TSV with its three hierarchical subtasks."""
    df = read_csv(path, sep="\t")
    check_columns(df, ["tweet", "subtask_a", "subtask_b", "subtask_c"], path)
    labels = [
        _olid_labels(*abc) for abc in zip(df["subtask_a"], df["subtask_b"], df["subtask_c"], strict=True)
    ]
    # Same Twitter API escaping as Davidson (&amp;, &gt;, &lt;).
    return finish(df["tweet"].map(html.unescape), labels, "olid", "olid")


GAMETOX = {
    0: CLEAN,  # non-toxic
    1: label_vector(toxic=1, insult=1),  # insults and flaming
    2: label_vector(toxic=1),  # other offensive texts
    3: label_vector(toxic=1),  # hate and harassment: mixes identity slurs with generic harassment
    4: label_vector(toxic=1, threat=1),  # threats
    5: label_vector(toxic=1),  # extremism
}


def load_gametox(path: Path) -> pd.DataFrame:
    """GameTox (World of Tanks chat); labels are written as floats ("1.0"), a few are blank."""
    df = read_csv(path)
    check_columns(df, ["message", "label"], path)
    codes = pd.to_numeric(df["label"], errors="coerce")
    return finish(df["message"], [GAMETOX.get(c, UNKNOWN) for c in codes], "gametox", "gametox")


CONDA_TOXIC = label_vector(toxic=1)
# Non-toxic intent but a token the annotators tagged T (toxic word): "wtf", "holy shit". The intent label
# rules out threats and hate; Jigsaw would often still call such swearing toxic/obscene, so leave those.
CONDA_BENIGN_SWEARING = label_vector(severe_toxic=0, threat=0, identity_hate=0)


def _conda_labels(intent: str, slots: str) -> dict[str, float]:
    if intent == "E":
        return CONDA_TOXIC
    if intent in ("O", "A"):
        return CONDA_BENIGN_SWEARING if "T" in slots.split() else CLEAN
    return UNKNOWN


def load_conda(path: Path) -> pd.DataFrame:
    """CONDA (Dota 2 chat). Intent E is toxic, O (other) and A (game-action requests) are not; I (implicit:
    mostly "ez" gloating, which the product treats as banter) is dropped."""
    df = read_csv(path)
    check_columns(df, ["utterance", "intentClass", "slotClasses"], path)
    # A chat turn's consecutive lines were joined with [SEPA]; a space is what a reader would see.
    texts = [" ".join(p.strip() for p in u.split("[SEPA]") if p.strip()) for u in df["utterance"]]
    labels = [_conda_labels(i, s) for i, s in zip(df["intentClass"], df["slotClasses"], strict=True)]
    return finish(texts, labels, "conda", "conda")


HATEXPLAIN = {
    "normal": CLEAN,
    "offensive": label_vector(toxic=1),
    "hatespeech": label_vector(toxic=1, identity_hate=1),
}


def load_hatexplain(path: Path) -> pd.DataFrame:
    """HateXplain posts as ``label<TAB>text`` (already lowercased and tokenised by the authors)."""
    df = read_csv(path, sep="\t", quoting=csv.QUOTE_NONE)
    check_columns(df, ["label", "text"], path)
    return finish(df["text"], [HATEXPLAIN.get(v, UNKNOWN) for v in df["label"]], "hatexplain", "hatexplain")


CONVABUSE_VOTES = ("1", "0", "-1", "-2", "-3")
CONVABUSE_IDENTITY = ("racist", "homophobic", "transphobic")
_ANNOTATOR_COLUMN = re.compile(r"Annotator(\d+)_(.+)")


def _ticked(cell: str) -> bool:
    """A cell is "1", or "1, 1" / "0, 1" when the annotator saw the item more than once."""
    return any(part.strip() == "1" for part in cell.split(","))


def _convabuse_columns(path: Path) -> list[str]:
    """Column names with each annotator field attributed to its block.

    The published header names Annotator7's and Annotator8's transphobic columns "Annotator6_transphobic";
    attributing each field to the annotator whose ``is_abuse.1`` column opened the block fixes that.
    """
    with path.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    names: list[str] = []
    annotator = None
    for raw in header:
        match = _ANNOTATOR_COLUMN.fullmatch(raw)
        if match is None:
            names.append(raw)
            continue
        if match.group(2) == "is_abuse.1":
            annotator = match.group(1)
        names.append(f"Annotator{annotator}_{match.group(2)}")
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: unexpected ConvAbuse header layout")
    return names


def _convabuse_row(row: Mapping[str, str], annotators: list[str]) -> dict[str, float]:
    """Aggregate the annotators who labelled this row into one label vector (UNKNOWN = drop)."""
    votes: list[int] = []
    identity = severe = intellectual = 0
    for a in annotators:
        chosen = [v for v in CONVABUSE_VOTES if _ticked(row[f"Annotator{a}_is_abuse.{v}"])]
        if len(chosen) != 1:  # did not annotate, or repeat annotations disagree
            continue
        vote = int(chosen[0])
        votes.append(vote)
        if vote < 0:  # types are only asked for when the annotator called it abusive
            identity += any(_ticked(row[f"Annotator{a}_{t}"]) for t in CONVABUSE_IDENTITY)
            intellectual += _ticked(row[f"Annotator{a}_intellectual"])
            severe += vote == -3
    abusive = sum(v < 0 for v in votes)
    if 2 * abusive > len(votes):
        return label_vector(
            toxic=1,
            severe_toxic=1 if 2 * severe > abusive else NAN,
            insult=1 if 2 * intellectual > abusive else NAN,
            identity_hate=1 if 2 * identity > abusive else NAN,
        )
    if 2 * votes.count(1) > len(votes):
        return CLEAN
    return UNKNOWN  # no majority, or mostly "ambiguous"


def load_convabuse(path: Path) -> pd.DataFrame:
    """ConvAbuse (users talking to chatbots): majority of the annotators present on each row."""
    frames = []
    for file in matching_files(path, CONVABUSE_GLOB):
        names = _convabuse_columns(file)
        frames.append(
            pd.read_csv(file, dtype=str, keep_default_na=False, header=None, skiprows=1, names=names)
        )
    df = pd.concat(frames, ignore_index=True)
    check_columns(df, ["user"], path)
    annotators = sorted({m.group(1) for c in df.columns if (m := _ANNOTATOR_COLUMN.fullmatch(c))}, key=int)
    labels = [_convabuse_row(row, annotators) for row in df.to_dict("records")]
    return finish(df["user"], labels, "convabuse", "convabuse")
