"""Tweets: GermEval 2018 (de), ToLD-Br (pt), MLMA (fr, ar), OffensEval 2020 (tr, ar), Ibrohim & Budi (id).

The mapping of each into the six labels, and why, is in training/LABEL_MAPPING.md ("Fourth wave").
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from training.sources._common import (
    CLEAN,
    NAN,
    UNKNOWN,
    check_columns,
    label_vector,
    read_csv,
    require,
)
from training.sources.multilingual.text import (
    LINK,
    MENTION,
    TWITTER_HANDLE,
    count_cell,
    finish_corpus,
    tidy,
    unescape_backslashes,
)

# -- GermEval 2018 (de) -----------------------------------------------------------------------------------
GERMEVAL_FINE = {
    "OTHER": CLEAN,
    # degrades a person or a group for a social identity or as a whole (media, parties, refugees): only
    # `toxic`, since its targets are not always what `identity_hate` means
    "ABUSE": label_vector(toxic=1),
    "INSULT": label_vector(toxic=1, insult=1),
    # swearing that insults or abuses no one (GermEval's definition): obscene, and by it not an insult
    "PROFANITY": label_vector(toxic=1, obscene=1, insult=0, identity_hate=0),
}
# the coarse class each fine class belongs to
_GERMEVAL_COARSE = {"OTHER": "OTHER", "ABUSE": "OFFENSE", "INSULT": "OFFENSE", "PROFANITY": "OFFENSE"}
_LINE_BREAK_MARK = re.compile(r"[ \t]*\|LBR\|[ \t]*")


def load_germeval2018(path: Path) -> pd.DataFrame:
    """GermEval 2018 training tweets: ``tweet<TAB>coarse<TAB>fine``, no header, ``|LBR|`` for line breaks.

    Read with quoting off: a tweet may begin with a quotation mark. A row whose fine class does not belong
    to its coarse class is dropped rather than guessed.
    """
    df = read_csv(path, sep="\t", header=None, names=["tweet", "coarse", "fine"], quoting=csv.QUOTE_NONE)
    labels = [
        GERMEVAL_FINE[fine] if _GERMEVAL_COARSE.get(fine) == coarse else UNKNOWN
        for coarse, fine in zip(df["coarse"], df["fine"], strict=True)
    ]
    texts = [tidy(t, [(_LINE_BREAK_MARK, "\n")], TWITTER_HANDLE) for t in df["tweet"]]
    return finish_corpus(texts, labels, "germeval2018")


# -- ToLD-Br (pt) -----------------------------------------------------------------------------------------
# Each category's vote count (0-3 annotators) and the label it speaks to.
TOLD_CATEGORIES = {
    "homophobia": "identity_hate",
    "obscene": "obscene",
    "insult": "insult",
    "racism": "identity_hate",
    "misogyny": "identity_hate",
    "xenophobia": "identity_hate",
}
# Votes of the three annotators a category needs to count: a majority.
TOLD_AGREEMENT = 2


def _told_labels(votes: Mapping[str, float]) -> dict[str, float]:
    """Toxic when a majority flagged some category; clean only when nobody flagged anything.

    Within a toxic tweet a label is 1 when a majority flagged one of its categories, 0 when nobody flagged
    any of them, and unknown when only a minority did. A tweet one annotator alone found toxic is dropped.
    """
    if any(math.isnan(v) for v in votes.values()):
        return UNKNOWN
    if max(votes.values()) == 0:
        return CLEAN
    if max(votes.values()) < TOLD_AGREEMENT:
        return UNKNOWN
    out = label_vector(toxic=1)
    for label in set(TOLD_CATEGORIES.values()):
        most = max(v for category, v in votes.items() if TOLD_CATEGORIES[category] == label)
        out[label] = 1.0 if most >= TOLD_AGREEMENT else 0.0 if most == 0 else NAN
    return out


_HAN = re.compile(r"[\u3400-\u9fff]")


def undo_gbk_mojibake(text: str) -> str:
    """Portuguese text whose UTF-8 bytes were once read as GB18030 ("n茫o" for "não", about 870 ToLD-Br tweets).

    Encoding back to GB18030 and reading UTF-8 restores it. Where a character's bytes were lost on the way
    (the text holds U+FFFD) each piece between the losses is restored alone; a text that fails otherwise
    holds genuine Chinese characters (a "卐" in a name) and is kept as it is.
    """
    if not _HAN.search(text):
        return text
    try:
        return text.encode("gb18030").decode("utf-8")
    except UnicodeError:
        pass
    if "\ufffd" not in text:
        return text
    return "".join(part.encode("gb18030").decode("utf-8", errors="ignore") for part in text.split("\ufffd"))


def load_told_br(path: Path) -> pd.DataFrame:
    """ToLD-Br: Brazilian Portuguese tweets with, per category, how many of three annotators flagged it."""
    df = read_csv(path)
    check_columns(df, ["text", *TOLD_CATEGORIES], path)
    counts = {category: df[category].map(count_cell) for category in TOLD_CATEGORIES}
    labels = [
        _told_labels({category: counts[category].iat[i] for category in TOLD_CATEGORIES}) for i in range(len(df))
    ]
    texts = [tidy(undo_gbk_mojibake(t), mentions=TWITTER_HANDLE) for t in df["text"]]
    return finish_corpus(texts, labels, "told_br")


# -- MLMA (fr, ar) ----------------------------------------------------------------------------------------
MLMA_HOSTILE = frozenset({"abusive", "hateful", "offensive", "disrespectful", "fearful"})
# Target groups that are people by a protected identity; "individual", "other" and "left_wing_people" are not.
MLMA_IDENTITY_GROUPS = frozenset({
    "african_descent", "arabs", "asians", "christian", "gay", "hispanics", "immigrants", "indian/hindu", "jews",
    "muslims", "refugees", "special_needs", "women",
})  # fmt: skip
_MLMA_URL = re.compile(r"@url\b", re.IGNORECASE)


def _mlma_labels(sentiment: str, group: str) -> dict[str, float]:
    """Hostility types on which at least two annotators agreed, joined by "_".

    Only "normal" is clean. "normal" together with a hostile type means the annotators split, so the tweet
    is dropped. Hateful towards an identity group is identity hate; other hostility is only `toxic`.
    """
    kinds = set(sentiment.strip().split("_")) - {""}
    if kinds == {"normal"}:
        return CLEAN
    if not kinds or not kinds <= MLMA_HOSTILE:
        return UNKNOWN
    identity = 1.0 if "hateful" in kinds and group.strip() in MLMA_IDENTITY_GROUPS else NAN
    return label_vector(toxic=1, identity_hate=identity)


def _load_mlma(path: Path, name: str) -> pd.DataFrame:
    df = read_csv(path)
    check_columns(df, ["tweet", "sentiment", "group"], path)
    labels = [_mlma_labels(s, g) for s, g in zip(df["sentiment"], df["group"], strict=True)]
    return finish_corpus([tidy(t, [(_MLMA_URL, LINK)], TWITTER_HANDLE) for t in df["tweet"]], labels, name)


def load_mlma_fr(path: Path) -> pd.DataFrame:
    """MLMA's French tweets (``fr_dataset.csv``)."""
    return _load_mlma(path, "mlma_fr")


def load_mlma_ar(path: Path) -> pd.DataFrame:
    """MLMA's Arabic tweets (``ar_dataset.csv``)."""
    return _load_mlma(path, "mlma_ar")


# -- OffensEval 2020 (tr, ar) -----------------------------------------------------------------------------
# NOT: "contains neither offense nor profanity", clean on all six as for OLID; OFF says nothing finer.
OFFENSEVAL = {"NOT": CLEAN, "OFF": label_vector(toxic=1)}
OFFENSEVAL_AR_FILES = ("offenseval-ar-training-v1.tsv", "offenseval-ar-dev-v1.tsv")
_ARABIC_LINE_BREAK = re.compile(r"[ \t]*<LF>[ \t]*")


def _read_offenseval(file: Path) -> pd.DataFrame:
    """Quoting off: a tweet that opens with a quotation mark would otherwise swallow the lines after it
    (read with quoting, the Turkish file loses hundreds of its rows)."""
    df = read_csv(file, sep="\t", quoting=csv.QUOTE_NONE)
    check_columns(df, ["tweet", "subtask_a"], file)
    return df


def load_offenseval_tr(path: Path) -> pd.DataFrame:
    """OffensEval 2020 Turkish training tweets, sub-task A."""
    df = _read_offenseval(path)
    texts = [tidy(t, mentions=TWITTER_HANDLE) for t in df["tweet"]]
    return finish_corpus(texts, [OFFENSEVAL.get(v.strip(), UNKNOWN) for v in df["subtask_a"]], "offenseval_tr")


def load_offenseval_ar(path: Path) -> pd.DataFrame:
    """OffensEval 2020 Arabic training and dev tweets, sub-task A; ``<LF>`` marks a line break."""
    df = pd.concat([_read_offenseval(require(path / name)) for name in OFFENSEVAL_AR_FILES], ignore_index=True)
    texts = [tidy(t, [(_ARABIC_LINE_BREAK, "\n")], TWITTER_HANDLE) for t in df["tweet"]]
    return finish_corpus(texts, [OFFENSEVAL.get(v.strip(), UNKNOWN) for v in df["subtask_a"]], "offenseval_ar")


# -- Indonesian hate speech and abusive language, Ibrohim & Budi 2019 (id) --------------------------------
# hate speech about religion, race or ethnicity, gender or sexual orientation; "physical" mixes disability
# with looks and "other" is slander of any kind, so neither says identity hate
ID_IDENTITY = ("HS_Religion", "HS_Race", "HS_Gender")
_ID_USER = re.compile(r"(?<![\w@])USER\b")
# What is left of an escape that the corpus cut in the middle ("\xa", "\x", a lone "\" before a space).
_CUT_ESCAPE = re.compile(r"\\x[0-9a-fA-F]?(?![0-9a-fA-F])|\\(?=\s|$)")
# Bytes that were not valid UTF-8, read with "surrogateescape"; the "?" right after them stand for the bytes
# of the same character that a tool before us had already replaced.
_BROKEN_BYTES = re.compile(r"[\udc80-\udcff][\udc80-\udcff?]*")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _id_labels(hs: float, abusive: float, identity: bool) -> dict[str, float]:
    if hs not in (0.0, 1.0) or abusive not in (0.0, 1.0):
        return UNKNOWN
    if hs == 0.0 and abusive == 0.0:
        return CLEAN
    if hs == 0.0:  # abusive language that its annotators found no hate speech in
        return label_vector(toxic=1, identity_hate=0)
    return label_vector(toxic=1, identity_hate=1.0 if identity else NAN)


def _strip_repr_quote(text: str) -> str:
    """Drop the closing quote of a Python bytes repr whose ``b'`` was cut off when the file was made.

    Python closes with ``"`` only when the text holds a ``'`` and no ``"``; otherwise with ``'``.
    """
    if text.endswith("'"):
        return text[:-1]
    body = text[:-1]
    if text.endswith('"') and "'" in body and '"' not in body:
        return body
    return text


def _id_text(raw: str) -> str:
    """A tweet as written: broken bytes dropped, then the bytes-repr escaping undone."""
    text = _LONE_SURROGATE.sub("", _BROKEN_BYTES.sub("", raw))
    text = _CUT_ESCAPE.sub("", unescape_backslashes(_strip_repr_quote(text)))
    return tidy(text, [(_ID_USER, MENTION)], TWITTER_HANDLE)


def load_id_abusive(path: Path) -> pd.DataFrame:
    r"""``re_dataset.csv``: some lines are not valid UTF-8 and most tweets are Python bytes reprs.

    Invalid bytes are read with ``surrogateescape`` and dropped with the "?" that replaced the rest of
    their character; ``\xNN`` runs are decoded back into the emoji and punctuation they were.
    """
    df = read_csv(path, encoding="utf-8", encoding_errors="surrogateescape")
    check_columns(df, ["Tweet", "HS", "Abusive", *ID_IDENTITY], path)
    flags = {c: df[c].map(count_cell) for c in ("HS", "Abusive", *ID_IDENTITY)}
    identity = pd.concat([flags[c] == 1.0 for c in ID_IDENTITY], axis=1).any(axis=1)
    labels = [
        _id_labels(hs, abusive, bool(group))
        for hs, abusive, group in zip(flags["HS"], flags["Abusive"], identity, strict=True)
    ]
    return finish_corpus([_id_text(t) for t in df["Tweet"]], labels, "id_abusive")
