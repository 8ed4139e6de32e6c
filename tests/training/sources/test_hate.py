"""The identity-hate and threat adapters (Implicit Hate, EDOS, Toxic Spans, ToxiGen, ToxiChat, SBIC, Stormfront)
on fixtures."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.support.sources import by_text, expect, expect_clean, load
from training.sources import SOURCES
from training.sources.hate import _toxichat_labels


def test_implicit_hate_joins_the_fine_class_from_stage_two() -> None:
    df = load("implicit_hate")
    assert set(df["source"]) == {"implicit_hate"}
    assert len(df) == 7  # the post with an undefined class is dropped
    rows = by_text(df)
    expect_clean(rows["had a lovely walk by the river today"])
    expect_clean(rows["the library stays open late on thursdays now"])
    expect(rows["they will regret it when our people finally come for them"], toxic=1, threat=1, identity_hate=1)
    # incitement may or may not call for violence
    expect(rows["join the movement and show them who really runs this town"], toxic=1, identity_hate=1)
    expect(rows["those newcomers will never be as capable as our own folk"], toxic=1, threat=0, identity_hate=1)
    # implicit hate without a stage-two row, and explicit hate (never in stage two): threat unknown
    expect(rows["we all know what the hill folk are really like"], toxic=1, identity_hate=1)
    expect(rows["the hill folk are a plague on this whole country"], toxic=1, identity_hate=1)
    assert "mystery post with a class nobody defined" not in rows


def test_edos_not_sexist_rules_out_only_toxic_severe_and_identity_hate() -> None:
    df = load("edos")
    assert set(df["source"]) == {"edos"}
    assert len(df) == 7
    rows = by_text(df)
    for text in ("Just finished my shift, time for a cup of tea.", "My sister beat me at chess again [USER]"):
        expect(rows[text], toxic=0, severe_toxic=0, identity_hate=0)
    expect(rows["Someone should teach her a lesson she will never forget"], toxic=1, threat=1, identity_hate=1)
    expect(rows["Women are useless at everything they try"], toxic=1, threat=0, identity_hate=1)
    expect(rows["Women should not be allowed to vote on this [URL]"], toxic=1, threat=0, identity_hate=1)
    # mild sub-vectors: a casual gendered slur is toxic but not group hate; a backhanded compliment only rules
    # out a threat
    expect(rows["Typical, she is just a nagging witch"], toxic=1, threat=0)
    expect(rows["Pretty smart for a girl, I guess"], threat=0)
    assert "Women in the test split are held out for evaluation" not in rows  # the official test split


def test_toxic_spans_majority_of_raters_and_of_toxic_raters_per_type() -> None:
    df = load("toxic_spans")
    assert set(df["source"]) == {"toxic_spans"}
    assert len(df) == 3
    rows = by_text(df)
    # one of three raters called it toxic: clean
    expect_clean(rows["What a thoughtful article, thank you. The fool in the title made me laugh."])
    # two of four: no majority, dropped
    assert "This council is a joke and the mayor is clueless." not in rows
    # three toxic raters: two marked a threat, one an insult (minority, unknown), none obscene or identity
    expect(
        rows["Keep talking and you will find out what happens to you, pal."],
        toxic=1,
        obscene=0,
        threat=1,
        identity_hate=0,
    )
    # three of four toxic: all three marked an insult, one profanity (unknown), none a threat
    expect(rows["You are a clueless buffoon, and a darn fool too."], toxic=1, threat=0, insult=1, identity_hate=0)


def test_toxigen_seeds_hate_and_neutral() -> None:
    df = load("toxigen")
    assert set(df["source"]) == {"toxigen"}
    assert len(df) == 4
    rows = by_text(df)
    expect(rows["immigrants are ruining every town they move into"], toxic=1, identity_hate=1)
    expect(rows["people in wheelchairs should just stay at home where they belong"], toxic=1, identity_hate=1)
    expect_clean(rows["many immigrants run the small shops on my street"])
    expect_clean(rows["my neighbour uses a wheelchair, and she organises the street party every summer"])


def test_toxichat_reads_human_turns_of_train_and_dev_only() -> None:
    df = load("toxichat")
    assert set(df["source"]) == {"toxichat"}
    assert list(df["text"]) == [
        "Best way to keep basil fresh on the windowsill?",  # " Title: " prefix removed
        "Women can't grow anything, stick to buying it.",
        "You are a clueless gardener and a crashing bore.",
        "Which route for the city marathon?",
        "This whole sub is garbage.",
        "Favourite film for a rainy day?",
        "Anything except the dreck those clowns in parliament like",
        "Paddington 2, no contest.",
    ]
    assert not df["text"].str.contains("generated").any()  # the chatbot replies are never loaded
    rows = by_text(df)
    for text in (
        "Best way to keep basil fresh on the windowsill?",
        "Which route for the city marathon?",
        "Favourite film for a rainy day?",
        "Paddington 2, no contest.",
    ):
        expect_clean(rows[text])
    expect(rows["Women can't grow anything, stick to buying it."], toxic=1, identity_hate=1)
    expect(rows["You are a clueless gardener and a crashing bore."], toxic=1, insult=1, identity_hate=0)
    expect(rows["This whole sub is garbage."], toxic=1)  # no target named
    expect(rows["Anything except the dreck those clowns in parliament like"], toxic=1)  # a political camp


def test_toxichat_targets_match_whole_words() -> None:
    assert _toxichat_labels("Offensive", ["comment author"])["identity_hate"] == 0.0  # not "men"
    assert math.isnan(_toxichat_labels("Offensive", ["harassment/assault victims"])["identity_hate"])
    assert _toxichat_labels("Offensive", ["native american/first nation folks"])["identity_hate"] == 1.0


def test_toxichat_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text('{"reddit_thread": []}\n{"no_thread": 1}\n', encoding="utf-8")
    (tmp_path / "dev.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=r"train\.jsonl:2"):
        SOURCES["toxichat"].load(tmp_path)


def test_sbic_averages_annotators_per_post() -> None:
    df = load("sbic")
    assert set(df["source"]) == {"sbic"}
    assert list(df["text"]) == [
        "those people from the hill towns are all thieves and liars",
        "Kevin you are the worst driver I have ever met, honestly",
        "off to the beach with the kids this weekend, wish us sun",
        "RT @user: the new bakery on the corner is terrible lol",
    ]  # one row per post, in first-seen order; the 0.5 split post is dropped
    rows = by_text(df)
    expect(rows["those people from the hill towns are all thieves and liars"], toxic=1, identity_hate=1)
    expect(rows["Kevin you are the worst driver I have ever met, honestly"], toxic=1, identity_hate=0)
    expect_clean(rows["off to the beach with the kids this weekend, wish us sun"])
    expect_clean(rows["RT @user: the new bakery on the corner is terrible lol"])  # mean 0.125
    assert "I mean, some of them are alright I suppose" not in rows


def test_stormfront_hate_and_no_hate_only() -> None:
    df = load("stormfront")
    assert set(df["source"]) == {"stormfront"}
    rows = by_text(df)
    assert len(df) == 3  # "relation" and "idk/skip" are dropped
    expect_clean(rows["Does anyone have tips for growing tomatoes in a cold climate?"])
    expect_clean(rows["Welcome to the forum, glad to have you here."])
    expect(rows["They are parasites and should be driven out of our land."], toxic=1, identity_hate=1)
    assert "They proved my point again." not in rows
    assert "Hmm." not in rows
