"""The abuse adapters (Jigsaw, Davidson, OLID, GameTox, CONDA, HateXplain, ConvAbuse) map each corpus, read
in its original format, into the six labels as documented."""

from __future__ import annotations

from bot.labels import LABELS
from tests.support.paths import SOURCE_FIXTURES
from tests.support.sources import by_text, expect, expect_clean, load
from training.sources import load_jigsaw_csv


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
