"""The registry of where each corpus comes from (``training/sources/corpora.toml``), read and checked.

Everything a user-supplied registry could get wrong is refused here, before anything is downloaded: an
unknown field (a typo would otherwise be ignored), a destination that would land outside the corpus folder,
a URL that is not http(s), a checksum that is not 64 hex digits. The file's own header says what each field
means.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from training.corpora.conversions import CONVERSIONS

REGISTRY_FILE = Path(__file__).resolve().parents[1] / "sources" / "corpora.toml"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CORPUS_FIELDS = frozenset({"name", "sources", "folder", "title", "licence", "homepage", "citation", "size",
                            "notes", "account", "how", "convert", "files"})
_REQUIRED = ("name", "folder", "title", "licence", "homepage", "citation", "size")
_FILE_FIELDS = frozenset({"url", "sha256", "dest", "extract", "names"})


@dataclass(frozen=True)
class Member:
    """One file taken out of an archive: the first member whose path matches ``pattern`` (fnmatch), written to
    ``dest`` under the corpus folder. The member's own name is never used as a path."""

    pattern: str
    dest: str


@dataclass(frozen=True)
class CorpusFile:
    """One download: a URL, its sha256 ("" where none is pinned), and where it goes under the corpus folder:
    ``dest`` for a plain file, ``extract`` for an archive (the archive itself is not kept)."""

    url: str
    sha256: str = ""
    dest: str = ""
    extract: tuple[Member, ...] = ()

    @property
    def targets(self) -> tuple[str, ...]:
        """The paths under the corpus folder this download puts in place."""
        return tuple(m.dest for m in self.extract) if self.extract else (self.dest,)


@dataclass(frozen=True)
class Corpus:
    """One corpus as its authors publish it: what it is, its licence and citation, and how to get it."""

    name: str
    sources: tuple[str, ...]
    folder: str
    title: str
    licence: str
    homepage: str
    citation: str
    size: str
    files: tuple[CorpusFile, ...] = ()
    notes: str = ""
    account: str = ""  # what it needs: "a Kaggle account"
    how: str = ""
    convert: str = ""  # the conversion (training.corpora.conversions) that makes what training reads

    @property
    def access(self) -> str:
        """How a user gets it: "public" (fetch downloads it, and converts it where it must), "account" (it
        needs one), "manual" (by hand, for another reason)."""
        if self.account:
            return "account"
        if self.how:
            return "manual"
        return "public"

    def where_from(self) -> str:
        """One line on how to get it, for a corpus fetch does not download."""
        if self.account:
            return f"needs {self.account}: {self.how}"
        return f"by hand: {self.how}"


def load_registry(path: Path | None = None) -> list[Corpus]:
    """Every corpus in the registry file (the package's own by default), checked; ValueError names what is
    wrong and where."""
    path = path or REGISTRY_FILE
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"no corpus registry at {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
    entries = data.get("corpus")
    if not isinstance(entries, list) or set(data) != {"corpus"}:
        raise ValueError(f"{path}: expected [[corpus]] tables and nothing else")
    corpora = [_corpus(entry, path) for entry in entries]
    _check_unique(corpora, path)
    return corpora


def _check_unique(corpora: list[Corpus], path: Path) -> None:
    seen: dict[str, str] = {}
    for corpus in corpora:
        for name in {corpus.name, *corpus.sources}:
            if seen.get(name, corpus.name) != corpus.name:
                raise ValueError(f"{path}: {name!r} names both {seen[name]!r} and {corpus.name!r}")
            seen[name] = corpus.name


def _corpus(entry: Any, path: Path) -> Corpus:
    where = f"{path}: corpus {entry.get('name', '?')!r}" if isinstance(entry, dict) else str(path)
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: a [[corpus]] must be a table")
    _check_fields(entry, _CORPUS_FIELDS, where)
    missing = [key for key in _REQUIRED if not _text(entry, key, where)]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    _relative(entry["folder"], where)
    files = tuple(f for raw in _tables(entry, "files", where) for f in _files(raw, where))
    if bool(files) == bool(entry.get("how")):
        raise ValueError(f"{where}: needs either files to fetch, or how (by hand)")
    if entry.get("account") and not entry.get("how"):
        raise ValueError(f"{where}: account needs how: the steps that get it with one")
    convert = _text(entry, "convert", where)
    if convert and (convert not in CONVERSIONS or not files):
        raise ValueError(f"{where}: convert names a conversion of the files fetched, one of "
                         f"{', '.join(sorted(CONVERSIONS))}")
    sources = entry.get("sources", [entry["name"]])
    if not isinstance(sources, list) or not all(isinstance(v, str) and v for v in sources):
        raise ValueError(f"{where}: sources must be a list of strings")
    return Corpus(name=entry["name"], sources=tuple(sources), folder=entry["folder"], title=entry["title"],
                  licence=entry["licence"], homepage=entry["homepage"], citation=entry["citation"],
                  size=entry["size"], files=files, notes=_text(entry, "notes", where),
                  account=_text(entry, "account", where), how=_text(entry, "how", where), convert=convert)


def _files(raw: Mapping[str, Any], where: str) -> list[CorpusFile]:
    """One [[corpus.files]] table: a file, an archive, or (with ``names``) one file per name."""
    _check_fields(raw, _FILE_FIELDS, where)
    url, sha256, dest = _text(raw, "url", where), _text(raw, "sha256", where).lower(), _text(raw, "dest", where)
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"{where}: {url!r} is not an http(s) URL")
    if sha256 and not _SHA256.fullmatch(sha256):
        raise ValueError(f"{where}: sha256 of {url} must be 64 hex digits or empty")
    extract = tuple(_member(m, where) for m in _tables(raw, "extract", where))
    if bool(extract) == bool(dest):
        raise ValueError(f"{where}: {url} needs either dest (a file) or extract (an archive)")
    names = raw.get("names")
    if names is None:
        return [CorpusFile(url, sha256, _relative(dest, where) if dest else "", extract)]
    named = isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)
    if not named or extract or sha256 or "{name}" not in url + dest:
        raise ValueError(f"{where}: names expands {{name}} in url and dest of a plain file without one sha256")
    return [CorpusFile(url.replace("{name}", n), "", _relative(dest.replace("{name}", n), where)) for n in names]


def _member(raw: Any, where: str) -> Member:
    if not isinstance(raw, dict) or set(raw) != {"member", "dest"}:
        raise ValueError(f"{where}: each extract entry is {{ member = PATTERN, dest = PATH }}")
    return Member(_text(raw, "member", where), _relative(_text(raw, "dest", where), where))


def _tables(entry: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"{where}: {key} must be a list of tables")
    return value


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{where}: {key} must be a string")
    return value


def _check_fields(entry: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ValueError(f"{where}: unknown field {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def _relative(path: str, where: str) -> str:
    """A path the registry names under the data directory: relative, and never climbing out of it."""
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path or ":" in path:
        raise ValueError(f"{where}: {path!r} must be a relative path inside the data directory")
    return path
