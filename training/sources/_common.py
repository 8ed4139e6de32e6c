"""What every source adapter shares: the label vector, file reading, and the common output layout."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bot.labels import LABELS

log = logging.getLogger(__name__)

NAN = float("nan")

# Spreadsheet round-trips replaced some messages with formula errors; the original text is lost.
SPREADSHEET_ERRORS = frozenset(
    {"#ERROR!", "#NAME?", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NULL!", "#N/A"}
)

# Background corpora are presumed clean; a line that swears or attacks is left out rather than taught as
# clean, since nobody annotated it.
NOT_BACKGROUND = re.compile(
    r"\b(?:fuck|fuk|shit|bitch|cunt|asshole|nigg|fag|retard|whore|slut|dick|cock|pussy|twat|wank|bastard"
    r"|kys\b|stfu\b|gtfo\b|kill\s+(?:yo)?urself|kill\s+you|hope\s+(?:yo)?u\s+(?:all\s+)?die|go\s+die\b)",
    re.IGNORECASE,
)


def label_vector(**known: float) -> dict[str, float]:
    """A label vector where everything the annotation does not speak to stays unknown (NaN)."""
    stray = set(known) - set(LABELS)
    if stray:
        raise ValueError(f"not labels: {sorted(stray)}")
    return {label: float(known.get(label, NAN)) for label in LABELS}


CLEAN = label_vector(**dict.fromkeys(LABELS, 0.0))
UNKNOWN = label_vector()


@dataclass(frozen=True)
class Source:
    """One corpus: where it lives under a data root, how to read it, and in which language it is written.

    ``language`` (ISO 639-1) lets evaluation report each language on its own and lets a recipe pick the
    corpora of the languages it trains for. ``non_commercial`` marks a corpus whose licence forbids
    commercial use, so that a recipe for a model that ships can be checked to leave it out.
    """

    name: str
    relpath: str
    load: Callable[[Path], pd.DataFrame]
    description: str
    language: str = "en"
    non_commercial: bool = False

    def __post_init__(self) -> None:
        if not _ISO_639_1.fullmatch(self.language):
            raise ValueError(f"{self.name}: language {self.language!r} is not an ISO 639-1 code like 'en'")


_ISO_639_1 = re.compile(r"[a-z]{2}")


def require(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"data source not found: {path}")
    return path


def matching_files(path: Path, pattern: str) -> list[Path]:
    """The files a multi-file source reads: ``path`` itself if it is a file, else its glob matches."""
    require(path)
    if path.is_file():
        return [path]
    files = sorted(p for p in path.glob(pattern) if p.is_file())
    if not files:
        raise FileNotFoundError(f"no files matching {pattern!r} in {path}")
    return files


def read_csv(path: Path, **kwargs: object) -> pd.DataFrame:
    """Read every cell as text so values like "NA", "null" or "None" stay messages, not missing values."""
    return pd.read_csv(require(path), dtype=str, keep_default_na=False, **kwargs)


def check_columns(df: pd.DataFrame, required: Iterable[str], path: Path) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; is this the original file?")


def finish(
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


def binary(values: pd.Series) -> pd.Series:
    """0/1 cells as floats; anything else (blank, -1 "not scored") becomes unknown."""
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers.where(numbers.isin([0.0, 1.0])).astype("float64")


