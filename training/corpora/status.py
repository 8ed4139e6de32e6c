"""Which of the training sources are present under a data directory, each with where its corpus comes from.

The list is the training registry's (``training.sources.REGISTRY``: the default selection, then the opt-in
corpora in other languages), read where training reads it (``Source.relpath``), so "present" means what
``toxmod train`` would find, not what ``toxmod data fetch`` would download.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.corpora.registry import Corpus
from training.sources import REGISTRY

_GLOB = frozenset("*?[")


@dataclass(frozen=True)
class SourceStatus:
    """One training source: its corpus's origin (None for a source kept in this repository), the path
    training reads, and what is there."""

    source: str
    language: str
    corpus: Corpus | None
    path: Path
    files: int
    bytes: int
    in_repository: bool = False

    @property
    def present(self) -> bool:
        """Whether training finds something to read there."""
        return self.files > 0

    def as_json(self) -> dict[str, Any]:
        """The row `toxmod data list --jsonl` writes: the status, then the corpus's registry entry."""
        row: dict[str, Any] = {"source": self.source, "language": self.language, "present": self.present,
                               "path": str(self.path), "files": self.files, "bytes": self.bytes}
        corpus = self.corpus
        if corpus is None:
            return row | {"corpus": None, "access": "repository" if self.in_repository else None}
        return row | {
            "corpus": corpus.name, "title": corpus.title, "licence": corpus.licence, "size": corpus.size,
            "homepage": corpus.homepage, "citation": corpus.citation, "access": corpus.access,
            "account": corpus.account or None, "how": corpus.how or None, "convert": corpus.convert or None,
            "notes": corpus.notes or None,
            "downloads": [{"url": f.url, "sha256": f.sha256 or None, "targets": list(f.targets)}
                          for f in corpus.files],
        }


def source_status(data_dir: Path, corpora: Iterable[Corpus]) -> list[SourceStatus]:
    """Every registered training source, in registry order, as found under ``data_dir``."""
    by_source = {source: corpus for corpus in corpora for source in corpus.sources}
    rows = []
    for name, source in REGISTRY.items():
        path = data_dir / source.relpath  # an absolute relpath (a file in this repository) wins
        files = _files_read(path)
        rows.append(SourceStatus(name, source.language, by_source.get(name), path, len(files),
                                 sum(f.stat().st_size for f in files), Path(source.relpath).is_absolute()))
    return rows


def sources_present(corpus: Corpus, data_dir: Path) -> bool:
    """Whether every training source ``corpus`` feeds finds what it reads under ``data_dir`` (however it got
    there: a corpus fetch cannot download may have been put in place by hand)."""
    sources = [REGISTRY[name] for name in corpus.sources if name in REGISTRY]
    return bool(sources) and all(_files_read(data_dir / source.relpath) for source in sources)


def present_sources(data_dir: Path, names: Iterable[str]) -> list[str]:
    """The sources of ``names`` that find what they read under ``data_dir``, in the order given."""
    return [name for name in names if _files_read(data_dir / REGISTRY[name].relpath)]


def _files_read(path: Path) -> list[Path]:
    """The files a source reads at ``path``: the file, the glob's matches, or every file in the folder."""
    if _GLOB & set(path.name):
        return sorted(p for p in path.parent.glob(path.name) if p.is_file()) if path.parent.is_dir() else []
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.endswith(".part"))
    return []
