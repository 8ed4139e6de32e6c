"""The file training reads, made from a corpus's published files where that takes more than placing them.

Four corpora are published in another shape than the one file their loader reads (``training/sources``): one
JSON object for the whole corpus (HateXplain), one JSON file per split (Topical-Chat), statements spread over
dozens of text files (ToxiGen's seeds), one text file per sentence beside a metadata table (Stormfront).
``toxmod data fetch`` downloads the published files into the corpus folder (``published/``, as the registry
names them) and then runs the corpus's conversion here, which repeats how the training copy was flattened:
the same columns, labels and text, so the loader reads a fetched corpus as it reads the training copy. The
rows are all the published files hold; the training copy had held-out rows taken out (docs/DATA.md).

Each conversion takes the corpus's downloads in registry order and writes its output through a ``.part``
file, so an interrupted or failed conversion never leaves a half-written file where training would read it.
Only the standard library is used: the registry imports this module to check a ``convert`` name, and
``toxmod data list`` should not pay for pandas.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from training.corpora.download import FetchError

log = logging.getLogger(__name__)

Row = Sequence[str | int]


@dataclass(frozen=True)
class Conversion:
    """One corpus's conversion: the file it writes under the corpus folder (the one its loader reads), and
    the function that writes it from the downloads, returning the rows written."""

    output: str
    write: Callable[[Sequence[Path], Path], int]


@contextmanager
def _replacing(out: Path) -> Iterator[TextIO]:
    """A text file written as ``out.part`` and put in place as ``out`` once complete; removed on failure."""
    part = out.with_name(out.name + ".part")
    try:
        with part.open("w", encoding="utf-8", newline="") as f:
            yield f
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, out)


def _write_csv(out: Path, header: Row, rows: Iterable[Row], *, lineterminator: str = "\n") -> int:
    """Write a CSV (quoted where a field needs it); the rows written, header not counted."""
    count = 0
    with _replacing(out) as f:
        writer = csv.writer(f, lineterminator=lineterminator)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FetchError(f"{path.name} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise FetchError(f"{path.name}: expected one JSON object keyed by id")
    return data


# -- HateXplain ------------------------------------------------------------------------------------------


def _majority(labels: Sequence[str]) -> str | None:
    """The label more than half the annotators gave; None when they split (the authors leave such posts out
    of their splits as "undecided")."""
    if not labels:
        return None
    label, votes = Counter(labels).most_common(1)[0]
    return label if votes * 2 > len(labels) else None


def _test_split(path: Path) -> set[str]:
    try:
        return {str(post_id) for post_id in _load_json(path)["test"]}
    except (KeyError, TypeError) as exc:
        raise FetchError(f"{path.name} has no test split ({exc!r})") from None


def _hatexplain_rows(path: Path, held_out: set[str]) -> Iterator[tuple[str, str]]:
    for post_id, post in _load_json(path).items():
        if post_id in held_out:
            continue
        try:
            label = _majority([annotator["label"] for annotator in post["annotators"]])
            # tokens joined by spaces, any whitespace inside a token collapsed: the loader reads the file
            # unquoted, so a tab or line break in the text would split the row
            text = " ".join(" ".join(post["post_tokens"]).split())
        except (KeyError, TypeError) as exc:
            raise FetchError(f"{path.name}: post {post_id} is not in HateXplain's layout ({exc!r})") from None
        if label is not None and text:
            yield label, text


def convert_hatexplain(inputs: Sequence[Path], out: Path) -> int:
    """``Data/dataset.json`` to ``posts.tsv`` (``label<TAB>text``, unquoted): one row per post with a majority
    label, in the file's order; posts whose three annotators all disagree are left out, and so is the official
    test split that ``Data/post_id_divisions.json`` names (held out for evaluation, as in the training copy)."""
    count = 0
    held_out = _test_split(inputs[1])
    with _replacing(out) as f:
        f.write("label\ttext\n")
        for label, text in _hatexplain_rows(inputs[0], held_out):
            f.write(f"{label}\t{text}\n")
            count += 1
    return count


# -- Topical-Chat ----------------------------------------------------------------------------------------


def _topical_rows(inputs: Sequence[Path]) -> Iterator[Row]:
    for path in inputs:
        for conversation_id, conversation in _load_json(path).items():
            try:
                turns = [(m["agent"], m["message"]) for m in conversation["content"]]
            except (KeyError, TypeError) as exc:
                raise FetchError(f"{path.name}: conversation {conversation_id} is not in Topical-Chat's layout "
                                 f"({exc!r})") from None
            for turn, (agent, message) in enumerate(turns):
                yield path.stem, conversation_id, turn, agent, message


def convert_topical_chat(inputs: Sequence[Path], out: Path) -> int:
    """``conversations/*.json`` to ``topical_chat.csv``: one row per message, its file's name (``valid_freq``),
    the conversation's id, the turn from 0 and the agent; the message exactly as published. Lines end in CRLF,
    as in the training copy (the csv module's default)."""
    header = ("file", "conversation_id", "turn", "agent", "message")
    return _write_csv(out, header, _topical_rows(inputs), lineterminator="\r\n")


# -- ToxiGen's seed statements ---------------------------------------------------------------------------

_TOXIGEN_NAME = re.compile(r"(hate|neutral)_(.+?)(?:_1k|_sentences)?\.txt")
_LEADING_DASHES = re.compile(r"^[\s-]+")
# A prompt file holds one prompt a line, its statements joined by a backslash, "n" and a dash written out as
# text ("- s1\n- s2\n-"). Some prompts lack a separator where a demonstration file lacked its last line
# break; the statements around it stay together, as they do in the training copy.
_PROMPT_SEPARATOR = "\\n-"


def _toxigen_statements(path: Path) -> list[str]:
    """The statements of one file: a prompt file (under a ``prompts`` folder) split at its separators, a
    demonstration file one statement a line."""
    text = path.read_text(encoding="utf-8")
    if path.parent.name == "prompts":
        pieces = [_LEADING_DASHES.sub("", piece) for piece in text.split(_PROMPT_SEPARATOR)]
    else:
        pieces = text.split("\n")
    return [piece.strip() for piece in pieces if piece.strip()]


def _toxigen_order(path: Path) -> tuple[bool, str]:
    """Prompt files first, then the demonstrations, each by path: the order the training copy was made in,
    whatever commit each file is fetched at."""
    return path.parent.name != "prompts", path.as_posix()


def _toxigen_rows(inputs: Sequence[Path]) -> Iterator[Row]:
    seen: set[str] = set()
    for path in sorted(inputs, key=_toxigen_order):
        match = _TOXIGEN_NAME.fullmatch(path.name)
        if match is None:
            raise FetchError(f"{path.name}: not a ToxiGen seed file (hate_GROUP... or neutral_GROUP...)")
        label, group = match.groups()
        for statement in _toxigen_statements(path):
            if statement not in seen:
                seen.add(statement)
                yield statement, label, group, path.name


def convert_toxigen(inputs: Sequence[Path], out: Path) -> int:
    """The seed files to ``toxigen_seeds.csv`` (``text,label,group,file``): every statement once, where it
    first appears (the prompt files repeat each statement many times over, and the demonstrations they were
    made from repeat them again); label and group from the file's name."""
    return _write_csv(out, ("text", "label", "group", "file"), _toxigen_rows(inputs))


# -- Stormfront ------------------------------------------------------------------------------------------

_STORMFRONT_COLUMNS = ("file_id", "user_id", "subforum_id", "num_contexts", "label")


def _stormfront_rows(archive: zipfile.ZipFile, name: str) -> Iterator[Row]:
    names = [n for n in archive.namelist() if not PurePosixPath(n).name.startswith("._")]
    metadata = [n for n in names if fnmatchcase(n, "*annotations_metadata.csv")]
    if len(metadata) != 1:
        raise FetchError(f"{name}: expected one annotations_metadata.csv, found {len(metadata)}")
    sentences = {PurePosixPath(n).stem: n for n in names if fnmatchcase(n, "*/all_files/*.txt")}
    with archive.open(metadata[0]) as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as f:
        table = csv.DictReader(f)
        if table.fieldnames is None or not set(_STORMFRONT_COLUMNS) <= set(table.fieldnames):
            raise FetchError(f"{name}: annotations_metadata.csv lacks the columns {', '.join(_STORMFRONT_COLUMNS)}")
        missing = 0
        for row in table:
            member = sentences.get(row["file_id"])
            if member is None:
                missing += 1
                continue
            # the sentences are UTF-8; a stray byte that is not costs one character, not the corpus
            text = archive.read(member).decode("utf-8", errors="replace").strip()
            yield *(row[column] for column in _STORMFRONT_COLUMNS), text
    if missing:
        log.warning("stormfront: %d annotated sentences have no file in all_files/ and are left out", missing)


def convert_stormfront(inputs: Sequence[Path], out: Path) -> int:
    """The repository's archive to ``stormfront_sentences.csv``: one row per line of
    ``annotations_metadata.csv``, in its order, with the sentence its ``all_files/FILE_ID.txt`` holds
    (surrounding whitespace stripped). The archive is read in place; nothing in it is written out."""
    try:
        with zipfile.ZipFile(inputs[0]) as archive:
            return _write_csv(out, (*_STORMFRONT_COLUMNS, "text"), _stormfront_rows(archive, inputs[0].name))
    except zipfile.BadZipFile as exc:
        raise FetchError(f"{inputs[0].name} is not a zip archive: {exc}") from None


CONVERSIONS: dict[str, Conversion] = {
    "hatexplain": Conversion("posts.tsv", convert_hatexplain),
    "topical_chat": Conversion("topical_chat.csv", convert_topical_chat),
    "toxigen": Conversion("toxigen_seeds.csv", convert_toxigen),
    "stormfront": Conversion("stormfront_sentences.csv", convert_stormfront),
}


def run(name: str, inputs: Sequence[Path], out: Path) -> int:
    """Run the conversion ``name`` on ``inputs`` into ``out``; the rows written. A published file that is not
    in the layout the conversion knows raises FetchError, in one line, rather than a traceback."""
    try:
        return CONVERSIONS[name].write(inputs, out)
    except (ValueError, csv.Error, zipfile.BadZipFile) as exc:
        raise FetchError(f"the published files could not be converted: {exc}") from None
