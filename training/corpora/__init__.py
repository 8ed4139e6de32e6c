"""Where the training corpora come from, and getting them: `toxmod data list` and `toxmod data fetch`.

The registry of origins is one data file, ``training/sources/corpora.toml`` (one entry per download: its
pinned URLs, checksums, licence and citation), read by ``registry``; ``download`` fetches one URL into a
``.part`` file, resuming with an HTTP Range request; ``archives`` takes named members out of a zip or tar
without ever writing outside the corpus folder; ``conversions`` makes the file training reads from the
published files where that takes more than placing them; ``fetch`` puts it together per corpus, checking
every file against its pinned sha256 or against the one recorded in the data directory's ``corpora.lock``.
docs/DATA.md describes every corpus for people.
"""

from __future__ import annotations

from training.corpora.download import FetchError
from training.corpora.registry import Corpus, CorpusFile, Member, load_registry

__all__ = ["Corpus", "CorpusFile", "FetchError", "Member", "load_registry"]
