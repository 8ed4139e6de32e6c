"""`toxmod data fetch` for one corpus: its licence first, then each missing file downloaded, checked and put
in place, the file training reads made from them where the corpus needs a conversion, and the checksums
nobody pinned recorded in the data directory's lock file.

A file is checked against the sha256 the registry pins, or else the one ``corpora.lock`` recorded when it was
first fetched with ``trust_unpinned``; a file with neither is refused unless the caller trusts it, and then
its checksum is printed and recorded, so every later fetch of it must match. A file that does not match is
deleted, ``.part`` included: resuming bytes known to be wrong would only repeat the failure. Nothing is put
in place before it is checked, so a failed fetch leaves the corpus folder as it was.

A corpus with a ``convert`` is present once the file its conversion writes is (however it got there: the
training copy put in place by hand counts); until then its published files are fetched as any others, kept
in the corpus folder, and converted. A conversion that failed is run again by the next fetch, without
downloading again what is already in place.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from training.corpora.archives import extract, inside
from training.corpora.conversions import CONVERSIONS, run
from training.corpora.download import FetchError, download, sha256_of
from training.corpora.registry import Corpus, CorpusFile
from training.corpora.status import sources_present

LOCK_NAME = "corpora.lock"
_LOCK_NOTE = ("sha256 of files `toxmod data fetch --trust-unpinned` downloaded without a pinned checksum: "
              "later fetches of the same URL must match. Copy a verified one into training/sources/corpora.toml.")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")

Say = Callable[[str], None]


class Lock:
    """The checksums recorded in ``DATA_DIR/corpora.lock`` (JSON), by URL."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files = self._read()

    def _read(self) -> dict[str, dict[str, str]]:
        if not self.path.exists():
            return {}
        try:
            files = json.loads(self.path.read_text(encoding="utf-8"))["files"]
            if not all(isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in files.values()):
                raise TypeError("an entry without its sha256")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{self.path} is not a lock file toxmod wrote ({exc}): move it away to "
                             "record the checksums again") from None
        return dict(files)

    def sha256(self, url: str) -> str:
        """The checksum recorded for ``url``; "" when none is."""
        return self.files.get(url, {}).get("sha256", "")

    def record(self, url: str, sha256: str) -> None:
        """Record ``url``'s checksum, and write the file at once (atomically): a later failure keeps it."""
        self.files[url] = {"sha256": sha256, "recorded": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        text = json.dumps({"note": _LOCK_NOTE, "files": self.files}, indent=2, sort_keys=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(text + "\n", encoding="utf-8")
        os.replace(temporary, self.path)


def missing_files(corpus: Corpus, folder: Path) -> list[CorpusFile]:
    """The downloads of ``corpus`` with something not yet in place under ``folder``."""
    return [f for f in corpus.files if not all((folder / target).is_file() for target in f.targets)]


def fetch_corpus(corpus: Corpus, data_dir: Path, lock: Lock, say: Say, *, trust_unpinned: bool = False,
                 progress: bool = True) -> str:
    """Fetch what ``corpus`` lacks under ``data_dir``; "present", "fetched" or "not fetched" (a corpus fetch
    cannot download and nobody put in place, explained in one line). A failure raises FetchError, saying why in
    one line."""
    folder = inside(data_dir, corpus.folder)
    if corpus.access != "public":
        if sources_present(corpus, data_dir):
            say(f"{corpus.name}: present in {folder}")
            return "present"
        say(f"{corpus.name}: not fetched: {corpus.where_from()}")
        return "not fetched"
    if _in_place(corpus, folder):
        say(f"{corpus.name}: present in {folder}")
        return "present"
    missing = missing_files(corpus, folder)
    unpinned = [f.url for f in missing if not (f.sha256 or lock.sha256(f.url))]
    if unpinned and not trust_unpinned:
        raise FetchError(f"{_how_many(len(unpinned), len(missing))} no pinned sha256 ({unpinned[0]}); if you trust "
                         f"where it comes from, run again with --trust-unpinned to download it and record its "
                         f"checksum in {lock.path}")
    say(f"{corpus.name}: {corpus.title}. Licence: {corpus.licence}. Cite: {corpus.citation}")
    if corpus.notes:
        say(f"  note: {corpus.notes}")
    for file in missing:
        _fetch_file(file, folder, lock, say, progress)
    if missing:
        say(f"{corpus.name}: {len(missing)} download{'s' if len(missing) > 1 else ''} checked and in place in "
            f"{folder}")
    if corpus.convert:
        _convert(corpus, folder, say)
    return "fetched"


def _in_place(corpus: Corpus, folder: Path) -> bool:
    """Whether training finds what fetch would put in ``folder``: the converted file, or else every download."""
    if corpus.convert:
        return _converted(corpus, folder).is_file()
    return not missing_files(corpus, folder)


def _converted(corpus: Corpus, folder: Path) -> Path:
    """Where ``corpus``'s conversion writes the file training reads."""
    return inside(folder, CONVERSIONS[corpus.convert].output)


def _convert(corpus: Corpus, folder: Path, say: Say) -> None:
    """Make the file training reads from the downloads in place, in registry order."""
    inputs = [inside(folder, target) for file in corpus.files for target in file.targets]
    output = _converted(corpus, folder)
    rows = run(corpus.convert, inputs, output)
    say(f"{corpus.name}: {rows:,} rows converted from the published files into {output}")


def _how_many(unpinned: int, missing: int) -> str:
    if missing == 1:
        return "its download has"
    if unpinned == missing:
        return f"none of its {missing} downloads has"
    return f"{unpinned} of its {missing} downloads have"


def _fetch_file(file: CorpusFile, folder: Path, lock: Lock, say: Say, progress: bool) -> None:
    """Download one file (resuming its ``.part``), check it, then put it (or the members it holds) in place."""
    part = _part_path(file, folder)
    expected = file.sha256 or lock.sha256(file.url)
    say(f"  {file.url}" + ("" if not part.exists() else f" (resuming after {part.stat().st_size:,} bytes)"))
    download(file.url, part, progress=progress)
    digest = sha256_of(part)
    if expected and digest != expected:
        part.unlink()
        pinned = "pinned" if file.sha256 else f"recorded in {lock.path}"
        raise FetchError(f"{file.url} downloaded with sha256 {digest}, not the {pinned} {expected}: "
                         "refused, nothing kept")
    if not expected:
        lock.record(file.url, digest)
        say(f"  not pinned: it downloaded with sha256 {digest}, now recorded in {lock.path}")
    if file.extract:
        extract(part, file.extract, folder)
        part.unlink()
    else:
        target = inside(folder, file.dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        part.replace(target)


def _part_path(file: CorpusFile, folder: Path) -> Path:
    """Where a download accumulates: beside its destination, or for an archive, hidden in the corpus folder."""
    if not file.extract:
        return inside(folder, file.dest + ".part")
    name = _SAFE_NAME.sub("_", file.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]) or "archive"
    return inside(folder, f".{name}.part")
