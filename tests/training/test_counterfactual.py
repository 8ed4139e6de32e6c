"""Counterfactual rows: each rule keeps the cue a shortcut keys on and drops the harm, from corpus sentences."""

from __future__ import annotations

import random

import pandas as pd

from bot.labels import LABELS
from training.counterfactual import (
    IDIOM_VERBS,
    PLACES,
    SOURCE,
    TERMS,
    YOUR_KINDS,
    generate,
    group_subject,
    group_swap,
    idiom_verb,
    negated,
    place_swap,
    quoted,
    your_noun,
)

RNG = random.Random(3)


def frame(rows: list[tuple[str, str, dict[str, float]]]) -> pd.DataFrame:
    return pd.DataFrame([{"text": t, "source": s, **{lb: labels.get(lb, 0.0) for lb in LABELS}}
                         for t, s, labels in rows])


def test_group_swap_puts_another_term_of_the_same_kind_in_the_same_place() -> None:
    out = group_swap("The Chinese team played well last year", RNG)
    assert out is not None and out.startswith("The ") and out.endswith(" team played well last year")
    assert out.split(" team")[0][4:] in TERMS["demonym"] and "Chinese" not in out
    assert group_swap("we walked to the station", RNG) is None


def test_group_subject_tells_a_sentence_about_people_about_a_group() -> None:
    out = group_subject("a lot of people watch it on sunday", RNG)
    assert out is not None and out.startswith("a lot of ") and out.endswith(" watch it on sunday")
    assert out[len("a lot of "):-len(" watch it on sunday")] in TERMS["people"]


def test_your_noun_makes_everyday_nouns_someones_and_swaps_homes_and_relatives_within_their_kind() -> None:
    homes, relatives = YOUR_KINDS
    assert your_noun("I reinstalled the system yesterday", RNG) == "I reinstalled your system yesterday"
    out = your_noun("I left the car at the house", RNG)
    assert out is not None and out.startswith("I left your ") and out.endswith(" at the house")
    assert out.split()[3] in homes
    out = your_noun("The apartment is big", RNG)
    assert out is not None and out.startswith("Your ") and out.split()[1] in homes
    out = your_noun("my dad fixed it", RNG)
    assert out is not None and out.split()[1] in relatives and out.endswith(" fixed it")
    assert your_noun("nothing to see here", RNG) is None


def test_your_noun_rows_are_balanced_across_nouns() -> None:
    chat = [f"did you play the game number {i} yesterday" for i in range(50)] + ["we painted the house blue"]
    train = frame([(t, "topical_chat", {}) for t in chat])
    made = generate(train, seed=5, per_rule=8).query("rule == 'your_noun'")["text"]
    homes = made[made.str.extract(r"your (\w+)")[0].isin(YOUR_KINDS[0])]
    assert len(made) == 8 and len(homes) >= 3  # one sentence about a house, rewritten several ways, holds its own


def test_place_swap_names_a_place_from_elsewhere_and_leaves_pronouns_alone() -> None:
    out = place_swap("we flew to Denver last week", RNG)
    assert out is not None and out.startswith("we flew to ") and out.endswith(" last week")
    assert out[len("we flew to "):-len(" last week")] in PLACES
    assert place_swap("I went to The store", RNG) is None and place_swap("nothing here", RNG) is None


def test_idiom_verb_aims_a_violent_verb_at_a_thing() -> None:
    out = idiom_verb("I'm going to finish this essay tonight", RNG)
    assert out is not None and out.startswith("I'm going to ") and out.endswith(" this essay tonight")
    assert out.split()[3] in IDIOM_VERBS
    assert idiom_verb("I'll kill this essay", RNG) is None  # already violent: nothing to contrast
    assert idiom_verb("I'll see you later", RNG) is None  # aimed at a person: never made clean
    out = idiom_verb("just restart the server and try again", RNG)
    assert out is not None and out.split()[1] in IDIOM_VERBS and out.endswith(" the server and try again")
    assert idiom_verb("restart him", RNG) is None


def test_negation_only_of_one_clause_group_claims() -> None:
    assert negated("women are evil", RNG) == "women are not evil"
    assert negated("muslims are not terrorists", RNG) is None  # already negated
    assert negated("mexicans are cockroaches, they get in everywhere", RNG) is None  # the rest stays hateful
    assert negated("women are all gold diggers", RNG) is None
    assert negated("the weather is nice", RNG) is None  # no group


def test_quoting_frames_the_text_as_a_report_or_a_condemnation() -> None:
    out = quoted('"go back to your country"', RNG)
    assert out is not None and '"go back to your country"' in out and out.count('"') == 2


def test_generate_makes_clean_rows_from_the_training_split_only() -> None:
    train = frame([
        ("Are you a fan of women's basketball?", "topical_chat", {}),
        ("a lot of people watch football on sunday", "topical_chat", {}),
        ("a lot of people are lazy and stupid", "topical_chat", {}),  # judging: never told about a group
        ("I left the car at the house so we walked", "ubuntu_irc", {}),
        ("we flew to Denver last week", "topical_chat", {}),
        ("I'm going to finish this essay tonight", "topical_chat", {}),
        ("immigrants are parasites", "toxigen", {"toxic": 1.0, "identity_hate": 1.0}),
        ("i will stab you tonight", "jigsaw", {"toxic": 1.0, "threat": 1.0}),
        ("the Chinese team won", "stormfront", {}),  # not a corpus whose clean rows are plainly benign
    ])
    made = generate(train, seed=5, per_rule=10)
    assert set(made["source"]) == {SOURCE} and (made[list(LABELS)] == 0.0).all().all()
    assert set(made["rule"]) == {"group_swap", "group_subject", "your_noun", "place_swap", "idiom_verb", "negated",
                                 "quoted"}
    assert "immigrants are not parasites" in set(made["text"])
    assert not made["text"].str.contains("lazy").any() and not made["text"].str.contains("team won").any()
    assert not set(made["text"]) & set(train["text"])
    again = generate(train, seed=5, per_rule=10)
    assert list(again["text"]) == list(made["text"])  # seeded: a resumed run plans the same rows
    assert len(generate(train, seed=5, per_rule=1).query("rule == 'quoted'")) == 1
