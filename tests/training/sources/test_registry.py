"""The registry of the default selection: its order, its fixtures, the common layout, provenance and hashes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd
import pytest

from bot.labels import LABELS
from tests.support.paths import SOURCE_FIXTURES
from tests.support.sources import load
from training.sources import SOURCES, file_sha256, load_sources


def test_sources_registry_order_and_fixture_layout() -> None:
    assert list(SOURCES) == [
        "jigsaw",
        "davidson",
        "olid",
        "gametox",
        "conda",
        "hatexplain",
        "convabuse",
        "ubuntu_irc",
        "topical_chat",
        "implicit_hate",
        "edos",
        "toxic_spans",
        "toxigen",
        "toxichat",
        "sbic",
        "stormfront",
        "contrast",
    ]
    for source in SOURCES.values():
        if Path(source.relpath).is_absolute():  # lives in the repository (the contrast set), not the data root
            assert Path(source.relpath).is_file(), source.relpath
            continue
        matches = list(SOURCE_FIXTURES.glob(source.relpath))
        assert matches, f"fixture layout does not mirror {source.relpath}"


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_adapter_returns_the_common_layout(name: str) -> None:
    df = load(name)
    assert list(df.columns) == ["text", "source", *LABELS]
    assert (df["source"] == name).all()
    assert all(isinstance(t, str) and t.strip() for t in df["text"])
    values = df[list(LABELS)].to_numpy()
    assert values.dtype == "float64"
    assert set(pd.unique(values[~pd.isna(values)])) <= {0.0, 1.0}
    assert df[list(LABELS)].notna().any(axis=1).all()


@pytest.mark.parametrize("name", list(SOURCES))
def test_missing_path_raises_naming_it(name: str, tmp_path: Path) -> None:
    missing = tmp_path / "not-there"
    with pytest.raises(FileNotFoundError, match="not-there"):
        SOURCES[name].load(missing)


def test_load_sources_missing_root_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "davidson2017"))):
        load_sources(tmp_path, ["davidson"])
    with pytest.raises(FileNotFoundError, match="ubuntu_irc"):
        load_sources(tmp_path, ["ubuntu_irc"])


def test_load_sources_concatenates_with_provenance() -> None:
    combined, provenance = load_sources(SOURCE_FIXTURES, ubuntu_cap=3)
    assert [p["name"] for p in provenance] == list(SOURCES)
    assert list(combined.columns) == ["text", "source", *LABELS]
    assert len(combined) == sum(p["rows"] for p in provenance)
    by_name = {p["name"]: p for p in provenance}
    assert by_name["ubuntu_irc"]["rows"] == 3
    assert by_name["jigsaw"]["label_counts"] == {
        "toxic": 3,
        "severe_toxic": 1,
        "obscene": 1,
        "threat": 2,
        "insult": 2,
        "identity_hate": 1,
    }
    jigsaw_file = SOURCE_FIXTURES / "jigsaw2018" / "train.csv"
    assert by_name["jigsaw"]["path"] == str(jigsaw_file)
    assert by_name["jigsaw"]["sha256"] == hashlib.sha256(jigsaw_file.read_bytes()).hexdigest()
    train_valid = [SOURCE_FIXTURES / "convabuse" / f"ConvAbuseEMNLP{s}.csv" for s in ("train", "valid")]
    expected = hashlib.sha256(b"".join(p.read_bytes() for p in train_valid)).hexdigest()
    assert by_name["convabuse"]["sha256"] == expected  # the files read, not the held-out test split


def test_load_sources_subset_and_unknown_name() -> None:
    combined, provenance = load_sources(SOURCE_FIXTURES, ["olid", "gametox"])
    assert [p["name"] for p in provenance] == ["olid", "gametox"]
    assert set(combined["source"]) == {"olid", "gametox"}
    with pytest.raises(ValueError, match="nope"):
        load_sources(SOURCE_FIXTURES, ["nope"])


def test_file_sha256_for_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_bytes(b"second")
    (tmp_path / "a.txt").write_bytes(b"first")
    assert file_sha256(tmp_path / "a.txt") == hashlib.sha256(b"first").hexdigest()
    assert file_sha256(tmp_path) == hashlib.sha256(b"firstsecond").hexdigest()
    with pytest.raises(FileNotFoundError, match="gone"):
        file_sha256(tmp_path / "gone")
