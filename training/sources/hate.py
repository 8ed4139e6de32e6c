"""Identity hate and threats: explicit and implicit hate, sexism, typed toxic spans, and benign mentions of groups.

These are what the corpora in abuse.py lack: threats and incitements, hate against many groups, and
posts that name the same groups harmlessly. Each annotates a narrow slice of the six labels; the mapping
and its reasons are in training/LABEL_MAPPING.md, change both together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from training.sources._common import (
    CLEAN,
    NAN,
    UNKNOWN,
    check_columns,
    finish,
    label_vector,
    read_csv,
    require,
)

# -- Implicit Hate (ElSherief et al. 2021) ----------------------------------------------------------------
IMPLICIT_STG1 = "implicit_hate_v1_stg1_posts.tsv"
IMPLICIT_STG2 = "implicit_hate_v1_stg2_posts.tsv"
IMPLICIT_NOT_HATE = CLEAN
# The fine classes that say a post is not a threat; "incitement" (flaunting in-group power, promoting
# hate groups) may or may not call for violence, so it leaves `threat` unknown.
IMPLICIT_NOT_THREAT = frozenset({"white_grievance", "stereotypical", "inferiority", "irony", "other"})


def _implicit_labels(coarse: str, fine: set[str]) -> dict[str, float]:
    if coarse == "not_hate":
        return IMPLICIT_NOT_HATE
    if coarse not in ("implicit_hate", "explicit_hate"):
        return UNKNOWN
    threat = 1.0 if "threatening" in fine else 0.0 if fine and fine <= IMPLICIT_NOT_THREAT else NAN
    return label_vector(toxic=1, threat=threat, identity_hate=1)


def load_implicit_hate(path: Path) -> pd.DataFrame:
    """Stage 1 gives not/implicit/explicit hate; stage 2 repeats the implicit posts with their fine class."""
    coarse = read_csv(path / IMPLICIT_STG1, sep="\t")
    check_columns(coarse, ["post", "class"], path / IMPLICIT_STG1)
    fine = read_csv(path / IMPLICIT_STG2, sep="\t")
    check_columns(fine, ["post", "implicit_class"], path / IMPLICIT_STG2)
    # same post text as stage 1; a second ("extra") class counts too
    fine_by_post = {p: {a, b} - {""} for p, a, b in zip(fine["post"], fine["implicit_class"],
                                                        fine.get("extra_implicit_class", fine["implicit_class"]),
                                                        strict=True)}
    labels = [_implicit_labels(c, fine_by_post.get(p, set())) for p, c in zip(coarse["post"], coarse["class"],
                                                                                strict=True)]
    return finish(coarse["post"], labels, "implicit_hate", "implicit_hate")


# -- EDOS, Explainable Detection of Online Sexism (SemEval 2023 task 10) ---------------------------------
# A post not sexist says nothing about insults or swearing (Gab and Reddit posts often swear), nor about
# threats against men; it does say the post is not hate against women, the group it was sampled about.
EDOS_NOT_SEXIST = label_vector(toxic=0, severe_toxic=0, identity_hate=0)
EDOS_CATEGORY = {
    # threats, plans to harm and incitement (of harm to women)
    "1": label_vector(toxic=1, threat=1, identity_hate=1),
    # derogation, and animosity: attacks on women as a group
    "2": label_vector(toxic=1, threat=0, identity_hate=1),
    "3": label_vector(toxic=1, threat=0, identity_hate=1),
    # prejudiced discussion: supporting discrimination or mistreatment of women
    "4": label_vector(toxic=1, threat=0, identity_hate=1),
}
# Sub-vectors too mild or too individual to call hate against a group: gendered slurs used casually (an
# insult at a person), backhanded compliments and condescending advice. Sexist, but only `threat` is known.
EDOS_MILD_VECTORS = {"3.1": label_vector(toxic=1, threat=0), "3.3": label_vector(threat=0),
                     "3.4": label_vector(threat=0)}


def _edos_labels(sexist: str, category: str, vector: str) -> dict[str, float]:
    if sexist == "not sexist":
        return EDOS_NOT_SEXIST
    if sexist != "sexist":
        return UNKNOWN
    sub = vector.split(" ", 1)[0]
    if sub in EDOS_MILD_VECTORS:
        return EDOS_MILD_VECTORS[sub]
    return EDOS_CATEGORY.get(category.split(".", 1)[0], label_vector(toxic=1))


def load_edos(path: Path) -> pd.DataFrame:
    """EDOS's aggregated labels: sexist or not, the category and the finer vector. The published file holds the
    official test split too (a fetched copy); it is held out for evaluation and never read."""
    df = read_csv(path)
    check_columns(df, ["text", "label_sexist", "label_category", "label_vector"], path)
    if "split" in df.columns:
        df = df[df["split"].astype(str) != "test"].reset_index(drop=True)
    labels = [_edos_labels(*row) for row in zip(df["label_sexist"], df["label_category"], df["label_vector"],
                                                strict=True)]
    return finish(df["text"], labels, "edos", "edos")


# -- Toxic Spans (SemEval 2021 task 5, on Civil Comments) -------------------------------------------------
TOXIC_SPAN_TYPES = {
    "Insult": "insult",
    "Profane/Obscene": "obscene",
    "Identity based Attack": "identity_hate",
    "Threat": "threat",
}


def _span_labels(raters: int, toxic_votes: int, typed: Mapping[str, int]) -> dict[str, float]:
    """Majority of the raters for toxicity; among those who called it toxic, at least half for each type.

    A type no rater marked is ruled out (0); one marked by a minority stays unknown, since raters often
    mark only the most salient span.
    """
    if raters == 0:
        return UNKNOWN
    if 2 * toxic_votes <= raters:
        return CLEAN if 2 * (raters - toxic_votes) > raters else UNKNOWN
    out = label_vector(toxic=1)
    for label in TOXIC_SPAN_TYPES.values():
        votes = typed.get(label, 0)
        out[label] = 1.0 if 2 * votes >= toxic_votes else 0.0 if votes == 0 else NAN
    return out


def load_toxic_spans(path: Path) -> pd.DataFrame:
    """Each rater votes toxic (marked a span, or "all toxic" alone) or clean ("not toxic" alone, no span).

    The published flags contradict each other on a third of the rows ("all toxic" and "not toxic" both
    set, no span): those raters abstain rather than count either way, as do raters who marked nothing.
    """
    comments = read_csv(require(path / "comments.csv"))
    annotations = read_csv(require(path / "annotations.csv"))
    spans = read_csv(require(path / "spans.csv"))
    check_columns(comments, ["comment_id", "comment_text"], path / "comments.csv")
    check_columns(annotations, ["annotation", "comment_id", "all toxic", "not toxic"], path / "annotations.csv")
    check_columns(spans, ["annotation", "type"], path / "spans.csv")
    marked = set(spans["annotation"])
    spans = spans.assign(label=spans["type"].map(TOXIC_SPAN_TYPES)).dropna(subset=["label"])
    typed_by_annotation = spans.groupby("annotation")["label"].agg(set).to_dict()
    raters: dict[str, int] = {}
    toxic_votes: dict[str, int] = {}
    typed: dict[str, dict[str, int]] = {}
    for annotation, comment, all_toxic, not_toxic in zip(
        annotations["annotation"], annotations["comment_id"], annotations["all toxic"], annotations["not toxic"],
        strict=True,
    ):
        all_toxic_flag, not_toxic_flag = _true(all_toxic), _true(not_toxic)
        toxic = annotation in marked or (all_toxic_flag and not not_toxic_flag)
        if not toxic and not (not_toxic_flag and not all_toxic_flag):
            continue  # contradictory flags, or nothing marked: abstains
        raters[comment] = raters.get(comment, 0) + 1
        if not toxic:
            continue
        toxic_votes[comment] = toxic_votes.get(comment, 0) + 1
        counts = typed.setdefault(comment, {})
        for label in typed_by_annotation.get(annotation, ()):
            counts[label] = counts.get(label, 0) + 1
    labels = [_span_labels(raters.get(c, 0), toxic_votes.get(c, 0), typed.get(c, {}))
              for c in comments["comment_id"]]
    return finish(comments["comment_text"], labels, "toxic_spans", "toxic_spans")


def _true(cell: str) -> bool:
    return cell.strip().lower() == "true"


# -- ToxiGen seed statements (Hartvigsen et al. 2022) -----------------------------------------------------
TOXIGEN = {"hate": label_vector(toxic=1, identity_hate=1), "neutral": CLEAN}


def load_toxigen_seeds(path: Path) -> pd.DataFrame:
    """Human-written statements about 13 groups; "neutral" ones name the same groups harmlessly."""
    df = read_csv(path)
    check_columns(df, ["text", "label"], path)
    labels = [TOXIGEN.get(v.strip().lower(), UNKNOWN) for v in df["label"]]
    return finish(df["text"], labels, "toxigen", "toxigen")


# -- ToxiChat (Baheti et al. 2021) ------------------------------------------------------------------------
# Offence targets that are people by a protected identity; anything else (a redditor, a celebrity,
# political camps, "Not in the list") says nothing about identity hate.
TOXICHAT_IDENTITY_WORDS = frozenset({
    "women", "men", "lgbtq", "black", "muslim", "jewish", "christian", "religious", "asian", "color",
    "immigrants", "region", "disability", "latino", "latinx", "hispanic", "white", "arab", "indian", "trans",
    "gay", "native", "nation", "mental", "poc",
})  # fmt: skip
TOXICHAT_PERSON_TARGETS = frozenset({"individual/redditor", "celebrity/personality", "comment author"})


def _toxichat_labels(label: str, targets: Iterable[str]) -> dict[str, float]:
    if label == "Safe":
        return CLEAN
    if label != "Offensive":
        return UNKNOWN
    targets = [t.lower() for t in targets]
    if any(TOXICHAT_IDENTITY_WORDS.intersection(re.findall(r"[a-z]+", t)) for t in targets):
        return label_vector(toxic=1, identity_hate=1)
    if targets and all(t in TOXICHAT_PERSON_TARGETS for t in targets):
        return label_vector(toxic=1, insult=1, identity_hate=0)
    return label_vector(toxic=1)


def load_toxichat(path: Path) -> pd.DataFrame:
    """Human Reddit turns only: the generated bot replies at the end of each thread are not people's chat."""
    texts, labels = [], []
    for file in (require(path / "train.jsonl"), require(path / "dev.jsonl")):
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                thread = json.loads(line)["reddit_thread"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{file}:{number}: not a ToxiChat thread ({exc})") from exc
            for turn in thread:
                texts.append(str(turn.get("text", "")).strip().removeprefix("Title:").strip())
                labels.append(_toxichat_labels(turn.get("offense_label", ""), turn.get("offense_targets") or []))
    return finish(texts, labels, "toxichat", "toxichat")


# -- Social Bias Frames (Sap et al. 2020) -----------------------------------------------------------------
# Target categories that are identities; "victim", "body" and "social" groups are not what identity hate means.
SBIC_IDENTITY_CATEGORIES = frozenset({"race", "gender", "culture", "disabled"})


def load_sbic(path: Path) -> pd.DataFrame:
    """One row per annotator; the post's labels are the mean of its annotators' answers.

    Offensive when the mean is above one half, clean below a quarter, unknown between (raters split).
    An offensive post aimed at a group (``whoTarget``) whose raters name an identity category (race,
    gender, culture, disability) more often than another is identity hate; one aimed at a person is not.
    """
    df = read_csv(path)
    check_columns(df, ["post", "offensiveYN", "whoTarget", "targetCategory"], path)
    numbers = df.assign(off=pd.to_numeric(df["offensiveYN"], errors="coerce"),
                        group=pd.to_numeric(df["whoTarget"], errors="coerce"),
                        identity=df["targetCategory"].isin(SBIC_IDENTITY_CATEGORIES).astype(float),
                        other=(~df["targetCategory"].isin(SBIC_IDENTITY_CATEGORIES)
                               & (df["targetCategory"] != "")).astype(float))
    posts = numbers.groupby("post", sort=False).agg(off=("off", "mean"), group=("group", "mean"),
                                                    identity=("identity", "sum"), other=("other", "sum"))
    labels = []
    for off, group, identity, other in zip(posts["off"], posts["group"], posts["identity"], posts["other"],
                                           strict=True):
        if np.isnan(off) or 0.25 <= off <= 0.5:
            labels.append(UNKNOWN)
        elif off < 0.25:
            labels.append(CLEAN)
        elif np.isnan(group) or (group >= 0.5 and identity <= other):
            labels.append(label_vector(toxic=1))  # aimed at a group that is not an identity (victims, bodies)
        else:
            labels.append(label_vector(toxic=1, identity_hate=1.0 if group >= 0.5 else 0.0))
    return finish(posts.index.tolist(), labels, "sbic", "sbic")


# -- Stormfront (de Gibert et al. 2018) -------------------------------------------------------------------
STORMFRONT = {"hate": label_vector(toxic=1, identity_hate=1), "noHate": CLEAN}


def load_stormfront(path: Path) -> pd.DataFrame:
    """Sentences; "relation" (hateful only with its context) and "idk/skip" teach nothing alone."""
    df = read_csv(path)
    check_columns(df, ["text", "label"], path)
    return finish(df["text"], [STORMFRONT.get(v, UNKNOWN) for v in df["label"]], "stormfront", "stormfront")
