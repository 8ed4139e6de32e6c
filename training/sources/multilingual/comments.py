"""Comments and forum posts: COLD (zh), BAN-PL with HATE-WAR-PL (pl), BEEP! (ko), Inspection AI's texts (ja).

The mapping of each into the six labels, and why, is in training/LABEL_MAPPING.md ("Fourth wave").
"""

from __future__ import annotations

import csv
import logging
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
    WEIBO_HANDLE,
    Substitution,
    count_cell,
    finish_corpus,
    tidy,
    unescape_backslashes,
)
from training.sources.multilingual.xlsx import read_xlsx

log = logging.getLogger(__name__)



# -- COLD (zh) --------------------------------------------------------------------------------------------
COLD_FILES = ("train.csv", "dev.csv")  # the official test split is held back for evaluation
# Offensive covers attacks on a person as well as on a group: only `toxic` (identity attacks are many,
# not all). Safe includes anti-bias posts that name the same groups.
COLD = {"0": CLEAN, "1": label_vector(toxic=1)}
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def load_cold(path: Path) -> pd.DataFrame:
    r"""COLD train and dev: Weibo and Zhihu comments on race, gender and region, with a UTF-8 BOM.

    Some comments keep the scraper's escapes written out ("\r", '\"') and Zhihu's "<br>"; both are
    turned back into the line breaks and quotes they were.
    """
    frames = []
    for name in COLD_FILES:
        file = require(path / name)
        df = read_csv(file, encoding="utf-8-sig")
        check_columns(df, ["label", "TEXT"], file)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    texts = [tidy(unescape_backslashes(t), [(_HTML_BREAK, "\n")], WEIBO_HANDLE) for t in df["TEXT"]]
    return finish_corpus(texts, [COLD.get(v.strip(), UNKNOWN) for v in df["label"]], "cold")


# -- BAN-PL and HATE-WAR-PL (pl) --------------------------------------------------------------------------
BAN_PL_CSV = "BAN-PL_1/BAN-PL.csv"  # BAN-PL_2 holds the same posts with pseudonymised ban reasons
HATE_WAR_XLSX = "HATE-WAR-PL_1/BAN-PL_Hate-speech.xlsx"
BAN_PL = {
    # removed by Wykop's moderators (attacks on people, hatred, violence): a moderation decision
    "1": label_vector(toxic=1),
    # front-page content still up after 48 hours: not harmful by the site's rules, which tolerate swearing
    # (Wykop censors it as "k@%@a") and rudeness between users, so `obscene` and `insult` stay unknown,
    # and group prejudice is not always removed, so `identity_hate` stays unknown too
    "0": label_vector(toxic=0, severe_toxic=0, threat=0),
}
HATE_WAR = {
    "HS": label_vector(toxic=1, identity_hate=1),  # hate speech by the UN definition: attacks on who people are
    "W": label_vector(toxic=1, identity_hate=0),  # war-related abuse that stigmatises no nation or ethnicity
}
_BAN_PL_TAGS: list[Substitution] = [
    (re.compile(r"\{USERA?NAME\}"), MENTION),
    (re.compile(r"\{URL\}|\[link\]"), LINK),
]


def load_ban_pl(path: Path) -> pd.DataFrame:
    """BAN-PL's Wykop posts (harmful = banned), with HATE-WAR-PL's re-annotation of banned posts added.

    A BAN-PL post that HATE-WAR-PL re-annotated takes that finer label; HATE-WAR-PL posts that are not in
    the BAN-PL file are added as rows of their own. Anonymisation tags other than user names and links
    (``[surname]``, ``[pseudonym]``, ``[address]``) are kept as published: the scorer never produces them,
    and taking them out would break the sentences.
    """
    ban_file = require(path / BAN_PL_CSV)
    posts = read_csv(ban_file)
    check_columns(posts, ["Text", "Class"], ban_file)
    hate_file = path / HATE_WAR_XLSX
    hate = read_xlsx(hate_file)
    check_columns(hate, ["Content", "Label"], hate_file)
    texts = [tidy(t, _BAN_PL_TAGS) for t in posts["Text"]]
    labels = [BAN_PL.get(c.strip(), UNKNOWN) for c in posts["Class"]]
    refined: dict[str, dict[str, float]] = {}
    for content, label in zip(hate["Content"], hate["Label"], strict=True):
        text = tidy(content, _BAN_PL_TAGS)
        if text and label.strip() in HATE_WAR:
            refined[text] = HATE_WAR[label.strip()]
    contradicted = 0
    for i, text in enumerate(texts):
        if text in refined:
            # every HATE-WAR-PL post was banned; one BAN-PL calls neutral is a contradiction
            contradicted += labels[i]["toxic"] == 0.0
            labels[i] = refined[text] if labels[i]["toxic"] == 1.0 else UNKNOWN
    known = set(texts)
    added = [t for t in refined if t not in known]
    log.info(
        "ban_pl: HATE-WAR-PL refines %d BAN-PL posts, adds %d; %d contradict BAN-PL (dropped)",
        len(refined) - len(added),
        len(added),
        contradicted,
    )
    return finish_corpus(texts + added, labels + [refined[t] for t in added], "ban_pl")


# -- Korean Hate Speech / BEEP! (ko) ----------------------------------------------------------------------
KOREAN_HATE = frozenset({"hate", "offensive", "none"})
KOREAN_BIAS = frozenset({"gender", "others", "none"})
# Neither hateful nor offensive, but holding a social prejudice: not toxic, not rude, and nothing said
# about identity hate (a biased statement is exactly what `identity_hate` must not be taught 0 on).
KOREAN_BIASED_BUT_CIVIL = label_vector(toxic=0, severe_toxic=0, obscene=0, threat=0, insult=0)


def _korean_labels(hate: str, bias: str) -> dict[str, float]:
    if hate not in KOREAN_HATE or bias not in KOREAN_BIAS:
        return UNKNOWN
    if hate == "none":
        return CLEAN if bias == "none" else KOREAN_BIASED_BUT_CIVIL
    # no social bias: aimed at a person, not at a group; hate (strong hate or insult) with gender bias:
    # hostility to people for their gender or sexuality; "others" mixes protected groups with politics,
    # age, looks and jobs, so it says nothing certain
    identity = 0.0 if bias == "none" else 1.0 if hate == "hate" and bias == "gender" else NAN
    return label_vector(toxic=1, identity_hate=identity)


def load_korean_hate(path: Path) -> pd.DataFrame:
    """BEEP! training comments on entertainment news: ``hate`` level and ``bias`` (the titles are unused)."""
    df = read_csv(path, sep="\t", quoting=csv.QUOTE_NONE)
    check_columns(df, ["comments", "bias", "hate"], path)
    labels = [_korean_labels(h.strip(), b.strip()) for h, b in zip(df["hate"], df["bias"], strict=True)]
    return finish_corpus([tidy(t) for t in df["comments"]], labels, "korean_hate")


# -- Japanese toxic dataset, Inspection AI (ja) -----------------------------------------------------------
JAPANESE_LEVELS = ("Not Toxic", "Hard to Say", "Toxic", "Very Toxic")
# vulgar (dignity) and obscenity (sexual): both are what Jigsaw calls obscene
JAPANESE_OBSCENE = ("category_卑語", "category_猥褻")
# discrimination and biased expression: their sub-categories mix protected groups with jobs, looks and
# politics, so a vote for them says nothing certain; no vote at all rules identity hate out
JAPANESE_PREJUDICE = ("category_差別", "category_偏向表現")


def _japanese_labels(votes: Mapping[str, float]) -> dict[str, float]:
    """Toxic when Toxic + Very Toxic votes outnumber Not Toxic + Hard to Say; clean when Not Toxic has a
    majority of all votes; otherwise dropped (most texts have two annotators, so a split is common)."""
    if any(math.isnan(v) for v in votes.values()):
        return UNKNOWN
    not_toxic, unsure, toxic, very = (votes[level] for level in JAPANESE_LEVELS)
    if toxic + very > not_toxic + unsure:
        obscene = max(votes[c] for c in JAPANESE_OBSCENE)
        prejudice = max(votes[c] for c in JAPANESE_PREJUDICE)
        return label_vector(
            toxic=1,
            obscene=1.0 if 2 * obscene >= toxic + very else 0.0 if obscene == 0 else NAN,
            identity_hate=0.0 if prejudice == 0 else NAN,
        )
    if 2 * not_toxic > not_toxic + unsure + toxic + very:
        return CLEAN
    return UNKNOWN


def load_japanese_toxic(path: Path) -> pd.DataFrame:
    """Short Japanese texts with vote counts per toxicity level and per category."""
    df = read_csv(path)
    columns = [*JAPANESE_LEVELS, *JAPANESE_OBSCENE, *JAPANESE_PREJUDICE]
    check_columns(df, ["text", *columns], path)
    counts = {c: df[c].map(count_cell) for c in columns}
    labels = [_japanese_labels({c: counts[c].iat[i] for c in columns}) for i in range(len(df))]
    return finish_corpus([tidy(t) for t in df["text"]], labels, "japanese_toxic")
