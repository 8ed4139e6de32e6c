"""Adapters read each corpus in its original format and map it into the six labels as documented."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd
import pytest

from bot.labels import LABELS
from tests.support.paths import SOURCE_FIXTURES
from tests.support.sources import by_text, expect, expect_clean, load
from training.sources import SOURCES, file_sha256, load_jigsaw_csv, load_sources, load_ubuntu_irc


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


def test_jigsaw_keeps_all_six_labels_and_original_text() -> None:
    df = load("jigsaw")
    assert len(df) == 5  # the whitespace-only comment is dropped
    rows = by_text(df)
    expect_clean(
        rows['Thanks for fixing the citation on the bridge article.\n\nI had missed the "page" number.']
    )
    expect(
        rows["You are a clueless buffoon and everyone here knows it"],
        toxic=1,
        severe_toxic=0,
        obscene=0,
        threat=0,
        insult=1,
        identity_hate=0,
    )
    expect(rows["Every possible bad thing rolled into one made-up sentence"], **dict.fromkeys(LABELS, 1.0))
    expect_clean(rows["NA"])  # a message reading "NA" is text, not a missing value


def test_feedback_export_uses_row_source_and_masks_unscored_labels() -> None:
    df = load_jigsaw_csv(SOURCE_FIXTURES / "feedback" / "moderator_feedback.csv", source="feedback")
    assert list(df["source"]) == ["feedback:guild-a", "feedback", "feedback:guild-b"]
    rows = by_text(df)
    expect(
        rows["you absolute walnut"], toxic=1, severe_toxic=0, obscene=0, threat=0, insult=1, identity_hate=0
    )
    expect_clean(rows["see you at the raid tonight"])
    expect(rows["not sure about this one"], toxic=0, severe_toxic=0, obscene=0, threat=0, identity_hate=0)


def test_davidson_mapping_and_html_unescape() -> None:
    df = load("davidson")
    assert len(df) == 4  # the empty tweet is dropped
    rows = by_text(df)
    expect(
        rows["RT @someone: those people from over there should all leave & never come back"],
        toxic=1,
        identity_hate=1,
    )
    expect(rows["@pal you lazy lump get off the couch \U0001f602\U0001f602"], toxic=1)
    expect_clean(rows["\u201cSunny day at the park\u201d with the dog"])
    expect_clean(rows["rain again, 3 < 4 umbrellas needed"])


def test_olid_mapping_by_subtask() -> None:
    df = load("olid")
    assert len(df) == 5
    rows = by_text(df)
    expect_clean(rows["@USER What a lovely garden you have URL"])
    expect(
        rows["@USER this weather is so damn annoying"],
        toxic=1,
        obscene=1,
        threat=0,
        insult=0,
        identity_hate=0,
    )
    expect(rows["@USER You are a spineless clown"], toxic=1, insult=1)
    expect(rows["@USER That whole party is full of crooks & liars"], toxic=1)
    expect(rows['@USER The league office is a "joke" of an organisation'], toxic=1)


def test_gametox_mapping_drops_unlabelled_and_spreadsheet_errors() -> None:
    df = load("gametox")
    assert len(df) == 7
    rows = by_text(df)
    expect_clean(rows["gg"])
    expect_clean(rows["hello, team"])
    expect(rows["you drive like a potato"], toxic=1, insult=1)
    expect(rows["this map is trash"], toxic=1)
    expect(rows["go back to your country"], toxic=1)
    expect(rows["i will find your base and end you"], toxic=1, threat=1)
    expect(rows["glory to the iron empire"], toxic=1)
    assert "unlabelled line" not in rows
    assert "#ERROR!" not in rows


def test_conda_mapping_and_sepa_joins() -> None:
    df = load("conda")
    assert len(df) == 4  # empty and "#NAME?" utterances are dropped, and so is I (implicit)
    rows = by_text(df)
    expect_clean(rows["nice ward"])
    expect_clean(rows["report mid pls"])  # A: a request for a game action
    expect(rows["wtf was that"], severe_toxic=0, threat=0, identity_hate=0)  # O with a T-tagged token
    expect(rows["you useless feeder"], toxic=1)  # E, [SEPA] joins become single spaces
    assert "ez mid" not in rows  # I: gloating, toxic by CONDA's norms, banter by the product's


def test_hatexplain_mapping_keeps_quotes() -> None:
    df = load("hatexplain")
    assert len(df) == 4
    rows = by_text(df)
    expect_clean(rows["<user> congrats on the new job"])
    expect(rows["<user> shut your mouth you muppet"], toxic=1)
    expect(rows["all of those outsiders are vermin and should be banned"], toxic=1, identity_hate=1)
    expect_clean(rows['she said "hello" and left'])


def test_convabuse_majority_vote_and_types() -> None:
    df = load("convabuse")
    rows = by_text(df)
    assert len(df) == 7  # two rows without a majority dropped; the test split is never read
    assert "held out test line that must never be loaded" not in rows
    expect_clean(rows["what is your favourite colour"])
    expect(
        rows["you are a dim little machine and your kind disgusts me"],
        toxic=1,
        severe_toxic=1,
        insult=1,
        identity_hate=1,
    )
    # annotators 7 and 8, whose transphobic columns the published header misnames
    expect(rows["go away you freak of a bot"], toxic=1, identity_hate=1)
    expect_clean(rows["tell me a joke"])  # "1, 1" repeat annotations count as one "not abusive" vote
    expect(rows["shut up you silly girl"], toxic=1)  # sexist is not asserted as identity_hate
    expect(rows["you are so stupid it hurts"], toxic=1, insult=1)
    expect_clean(rows["yes"])
    assert "whatever you say robot" not in rows  # a 1:1 tie
    assert "do you dream" not in rows  # mostly "ambiguous"


def test_ubuntu_irc_parses_messages_and_leaves_out_abuse() -> None:
    df = load("ubuntu_irc")
    assert list(df["text"]) == [
        "how do I list installed packages?",
        "try dpkg -l | less",
        "thanks that worked",
        "ok, what about snaps",
        "bold and red text",
        "the kernel update broke my wifi again",
        "which chipset?",
        "an old broadcom one",
        "that explains it",
    ]
    for _, row in df.iterrows():
        expect_clean(row)


def test_ubuntu_irc_cap_is_a_deterministic_subset() -> None:
    directory = SOURCE_FIXTURES / "ubuntu_irc" / "train"
    full = list(load_ubuntu_irc(directory, cap=None)["text"])
    capped = list(load_ubuntu_irc(directory, cap=4)["text"])
    assert len(capped) == 4
    assert capped == list(load_ubuntu_irc(directory, cap=4)["text"])
    assert capped == [t for t in full if t in capped]  # a subset, in log order
    single = load_ubuntu_irc(directory / "2021-03-05.train-c.raw.txt", cap=None)
    assert len(single) == 4


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
