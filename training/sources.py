"""Adapters that map each public corpus into the product's six labels.

Every corpus annotates a different slice of the label space, so every adapter returns the same layout:
``text``, ``source`` and one float column per label holding 1.0, 0.0 or NaN, where NaN means "this source
says nothing about this label" and is masked out of the loss. The mapping decisions (and why) are written
down in training/LABEL_MAPPING.md; change both together.
"""

from __future__ import annotations

import csv
import hashlib
import html
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from bot.labels import LABELS

log = logging.getLogger(__name__)

NAN = float("nan")

# Spreadsheet round-trips replaced some messages with formula errors; the original text is lost.
SPREADSHEET_ERRORS = frozenset(
    {"#ERROR!", "#NAME?", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NULL!", "#N/A"}
)

UBUNTU_GLOB = "*.raw.txt"
# Matches the train and valid splits only: "tr"ain / "va"lid, never "te"st (kept for evaluation) or the
# per-annotator "fu"ll file, which has a different layout.
CONVABUSE_GLOB = "ConvAbuseEMNLP[tv][ra]*.csv"


def _labels(**known: float) -> dict[str, float]:
    """A label vector where everything the annotation does not speak to stays unknown (NaN)."""
    stray = set(known) - set(LABELS)
    if stray:
        raise ValueError(f"not labels: {sorted(stray)}")
    return {label: float(known.get(label, NAN)) for label in LABELS}


CLEAN = _labels(**dict.fromkeys(LABELS, 0.0))
UNKNOWN = _labels()


@dataclass(frozen=True)
class Source:
    """One corpus: where it lives under a data root and how to read it."""

    name: str
    relpath: str
    load: Callable[[Path], pd.DataFrame]
    description: str


def _require(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"data source not found: {path}")
    return path


def _matching_files(path: Path, pattern: str) -> list[Path]:
    """The files a multi-file source reads: ``path`` itself if it is a file, else its glob matches."""
    _require(path)
    if path.is_file():
        return [path]
    files = sorted(p for p in path.glob(pattern) if p.is_file())
    if not files:
        raise FileNotFoundError(f"no files matching {pattern!r} in {path}")
    return files


def _read_csv(path: Path, **kwargs: object) -> pd.DataFrame:
    """Read every cell as text so values like "NA", "null" or "None" stay messages, not missing values."""
    return pd.read_csv(_require(path), dtype=str, keep_default_na=False, **kwargs)


def _check_columns(df: pd.DataFrame, required: Iterable[str], path: Path) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; is this the original file?")


def _finish(
    texts: Iterable[str],
    labels: pd.DataFrame | Iterable[Mapping[str, float]],
    source: str | Iterable[str],
    name: str,
) -> pd.DataFrame:
    """Assemble the common layout and drop rows that cannot teach anything (no text or no label)."""
    if not isinstance(labels, pd.DataFrame):
        labels = pd.DataFrame.from_records(list(labels), columns=list(LABELS))
    frame = labels[list(LABELS)].astype("float64").reset_index(drop=True)
    frame.insert(0, "source", list(source) if not isinstance(source, str) else source)
    frame.insert(0, "text", pd.Series(list(texts), dtype="object").fillna(""))
    stripped = frame["text"].str.strip()
    keep = (stripped != "") & ~stripped.isin(SPREADSHEET_ERRORS) & frame[list(LABELS)].notna().any(axis=1)
    if (~keep).any():
        log.info(
            "%s: dropped %d of %d rows without usable text or label", name, int((~keep).sum()), len(frame)
        )
    return frame[keep].reset_index(drop=True)


def _binary(values: pd.Series) -> pd.Series:
    """0/1 cells as floats; anything else (blank, -1 "not scored") becomes unknown."""
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers.where(numbers.isin([0.0, 1.0])).astype("float64")


def load_jigsaw_csv(path: Path, source: str = "jigsaw") -> pd.DataFrame:
    """Kaggle Jigsaw 2018 ``train.csv`` as published, or a moderator-feedback export in the same columns.

    Feedback exports add ``source,guild,decided_at``; a row's own ``source`` wins so one file can carry
    decisions from several origins.
    """
    df = _read_csv(path)
    _check_columns(df, ["comment_text", *LABELS], path)
    labels = pd.DataFrame({label: _binary(df[label]) for label in LABELS})
    if "source" in df.columns:
        row_source = df["source"].str.strip()
        sources: str | list[str] = row_source.where(row_source != "", source).tolist()
    else:
        sources = source
    return _finish(df["comment_text"], labels, sources, source)


DAVIDSON = {
    0: _labels(toxic=1, identity_hate=1),  # hate speech: targets a group by its attributes
    1: _labels(toxic=1),  # offensive but not hate
    2: CLEAN,  # neither
}


def load_davidson(path: Path) -> pd.DataFrame:
    """Davidson et al. 2017 tweets; ``class`` is the majority of the crowd votes."""
    df = _read_csv(path)
    _check_columns(df, ["tweet", "class"], path)
    classes = pd.to_numeric(df["class"], errors="coerce")
    # Tweets came from the API HTML-escaped (&amp;, &#8220;, &#128514;); users typed the characters.
    texts = df["tweet"].map(html.unescape)
    return _finish(texts, [DAVIDSON.get(c, UNKNOWN) for c in classes], "davidson", "davidson")


OLID_OFFENSIVE = _labels(toxic=1)
# Untargeted profanity: swearing, and by OLID's definitions not an insult, threat or group attack.
OLID_UNTARGETED = _labels(toxic=1, obscene=1, threat=0, insult=0, identity_hate=0)
# Targeted insult/threat at a person: an insult in Jigsaw's sense (threats are the rare case).
OLID_AT_INDIVIDUAL = _labels(toxic=1, insult=1)


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
    df = _read_csv(path, sep="\t")
    _check_columns(df, ["tweet", "subtask_a", "subtask_b", "subtask_c"], path)
    labels = [
        _olid_labels(*abc) for abc in zip(df["subtask_a"], df["subtask_b"], df["subtask_c"], strict=True)
    ]
    # Same Twitter API escaping as Davidson (&amp;, &gt;, &lt;).
    return _finish(df["tweet"].map(html.unescape), labels, "olid", "olid")


GAMETOX = {
    0: CLEAN,  # non-toxic
    1: _labels(toxic=1, insult=1),  # insults and flaming
    2: _labels(toxic=1),  # other offensive texts
    3: _labels(toxic=1),  # hate and harassment: mixes identity slurs with generic harassment
    4: _labels(toxic=1, threat=1),  # threats
    5: _labels(toxic=1),  # extremism
}


def load_gametox(path: Path) -> pd.DataFrame:
    """GameTox (World of Tanks chat); labels are written as floats ("1.0"), a few are blank."""
    df = _read_csv(path)
    _check_columns(df, ["message", "label"], path)
    codes = pd.to_numeric(df["label"], errors="coerce")
    return _finish(df["message"], [GAMETOX.get(c, UNKNOWN) for c in codes], "gametox", "gametox")


CONDA_TOXIC = _labels(toxic=1)
# Non-toxic intent but a token the annotators tagged T (toxic word): "wtf", "holy shit". The intent label
# rules out threats and hate; Jigsaw would often still call such swearing toxic/obscene, so leave those.
CONDA_BENIGN_SWEARING = _labels(severe_toxic=0, threat=0, identity_hate=0)


def _conda_labels(intent: str, slots: str) -> dict[str, float]:
    if intent in ("E", "I"):
        return CONDA_TOXIC
    if intent in ("O", "A"):
        return CONDA_BENIGN_SWEARING if "T" in slots.split() else CLEAN
    return UNKNOWN


def load_conda(path: Path) -> pd.DataFrame:
    """CONDA (Dota 2 chat). Intent E/I are toxic, O (other) and A (game-action requests) are not."""
    df = _read_csv(path)
    _check_columns(df, ["utterance", "intentClass", "slotClasses"], path)
    # A chat turn's consecutive lines were joined with [SEPA]; a space is what a reader would see.
    texts = [" ".join(p.strip() for p in u.split("[SEPA]") if p.strip()) for u in df["utterance"]]
    labels = [_conda_labels(i, s) for i, s in zip(df["intentClass"], df["slotClasses"], strict=True)]
    return _finish(texts, labels, "conda", "conda")


HATEXPLAIN = {
    "normal": CLEAN,
    "offensive": _labels(toxic=1),
    "hatespeech": _labels(toxic=1, identity_hate=1),
}


def load_hatexplain(path: Path) -> pd.DataFrame:
    """HateXplain posts as ``label<TAB>text`` (already lowercased and tokenised by the authors)."""
    df = _read_csv(path, sep="\t", quoting=csv.QUOTE_NONE)
    _check_columns(df, ["label", "text"], path)
    return _finish(df["text"], [HATEXPLAIN.get(v, UNKNOWN) for v in df["label"]], "hatexplain", "hatexplain")


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
        return _labels(
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
    for file in _matching_files(path, CONVABUSE_GLOB):
        names = _convabuse_columns(file)
        frames.append(
            pd.read_csv(file, dtype=str, keep_default_na=False, header=None, skiprows=1, names=names)
        )
    df = pd.concat(frames, ignore_index=True)
    _check_columns(df, ["user"], path)
    annotators = sorted({m.group(1) for c in df.columns if (m := _ANNOTATOR_COLUMN.fullmatch(c))}, key=int)
    labels = [_convabuse_row(row, annotators) for row in df.to_dict("records")]
    return _finish(df["user"], labels, "convabuse", "convabuse")


_IRC_MESSAGE = re.compile(r"\[\d{1,2}:\d{2}\] <([^>\s]+)> ?(.*)")
_IRC_ADDRESSEE = re.compile(r"([^\s:,]+)([:,])(?:\s+|$)")
# mIRC colour codes, then the remaining C0 controls (bold, underline, reverse, stray backspaces).
_IRC_FORMATTING = re.compile(r"\x03\d{0,2}(?:,\d{1,2})?|[\x00-\x08\x0b-\x1f\x7f\ufeff]")
# "Presumed clean" does not hold for every line: the channel has trolls and slur floods. Labelling those
# clean would teach the opposite of what we want, so any message with strong profanity, a slur or a
# death wish is left out of the background (about 0.3% of messages; also costs a few "BitchX" mentions).
_UBUNTU_NOT_BACKGROUND = re.compile(
    r"\b(?:fuck|fuk|shit|bitch|cunt|asshole|nigg|fag|retard|whore|slut|dick|cock|pussy|twat|wank|bastard"
    r"|kys\b|stfu\b|gtfo\b|kill\s+(?:yo)?urself|kill\s+you|hope\s+(?:yo)?u\s+(?:all\s+)?die|go\s+die\b)",
    re.IGNORECASE,
)


def _ubuntu_messages(file: Path) -> list[str]:
    """Spoken messages of one log, without the addressee prefix IRC uses and Discord does not."""
    parsed = []
    for line in file.read_text(encoding="utf-8", errors="replace").split("\n"):
        match = _IRC_MESSAGE.fullmatch(line.rstrip("\r"))
        if match is not None:  # joins, parts, notices, /me actions have no <nick>
            parsed.append((match.group(1), _IRC_FORMATTING.sub("", match.group(2)).strip()))
    speakers = {nick.lower() for nick, _ in parsed}
    messages = []
    for _, text in parsed:
        prefix = _IRC_ADDRESSEE.match(text)
        # "nick: ..." is always an addressee; "word, ..." only when that word is someone in the log.
        if prefix and (prefix.group(2) == ":" or prefix.group(1).lower() in speakers):
            text = text[prefix.end() :]
        messages.append(text)
    return messages


def _stable_order_key(text: str) -> str:
    """Salted so the subsample is independent of the sha1-based train/validation split."""
    return hashlib.sha256(b"ubuntu-cap\0" + text.encode("utf-8")).hexdigest()


def load_ubuntu_irc(path: Path, cap: int | None = 30000) -> pd.DataFrame:
    """Ubuntu IRC support chat as clean background; ``cap`` keeps it from outweighing the labelled data.

    The cap keeps the messages with the smallest text hashes, so the choice is reproducible without a
    seed and identical messages are kept or dropped together.
    """
    messages = [m for file in _matching_files(path, UBUNTU_GLOB) for m in _ubuntu_messages(file)]
    messages = [m for m in messages if m]
    background = [m for m in messages if not _UBUNTU_NOT_BACKGROUND.search(m)]
    log.info(
        "ubuntu_irc: %d messages, %d left out as not clean", len(messages), len(messages) - len(background)
    )
    if cap is not None and len(background) > cap:
        ranked = sorted(range(len(background)), key=lambda i: (_stable_order_key(background[i]), i))
        background = [background[i] for i in sorted(ranked[:cap])]
    return _finish(background, [CLEAN] * len(background), "ubuntu_irc", "ubuntu_irc")


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
    )
}


def _files_sha256(files: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as f:
            for chunk in iter(partial(f.read, 1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """Content hash for provenance; a directory hashes its files' contents in sorted path order."""
    _require(path)
    if path.is_dir():
        return _files_sha256(sorted(p for p in path.rglob("*") if p.is_file()))
    return _files_sha256([path])


def load_sources(
    data_root: Path, names: Iterable[str] | None = None, ubuntu_cap: int | None = 30000
) -> tuple[pd.DataFrame, list[dict]]:
    """Load the named sources (all by default) into one frame, with a provenance record per source."""
    selected = list(SOURCES) if names is None else list(names)
    unknown = [n for n in selected if n not in SOURCES]
    if unknown:
        raise ValueError(f"unknown sources {unknown}; known: {list(SOURCES)}")
    frames, provenance = [], []
    for name in selected:
        source = SOURCES[name]
        resolved = Path(data_root) / source.relpath
        if any(ch in source.relpath for ch in "*?["):
            target = resolved.parent
            sha256 = _files_sha256(_matching_files(target, resolved.name))
        else:
            target = _require(resolved)
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
