"""Where the test data lives, independent of which test module asks."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SOURCE_FIXTURES = FIXTURES / "sources"  # a data root laid out like data/ (see training.sources.SOURCES)
