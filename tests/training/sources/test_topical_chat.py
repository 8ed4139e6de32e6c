"""Topical-Chat as clean background: a training part, and held-out conversations nobody trains on."""

from __future__ import annotations

from bot.labels import LABELS
from tests.support.paths import SOURCE_FIXTURES
from tests.support.sources import expect_clean, load
from training.sources.topical_chat import heldout_conversation, topical_messages

CSV = SOURCE_FIXTURES / "topical_chat" / "topical_chat.csv"


def test_training_part_is_clean_everyday_chat_without_the_held_out_conversations() -> None:
    df = load("topical_chat")
    assert set(df["source"]) == {"topical_chat"}
    for _, row in df.iterrows():
        expect_clean(row)
    texts = list(df["text"])
    assert "I left the car at the house so we walked to the theater." in texts
    assert "The Muslim players on that team fast during Ramadan." not in texts  # its conversation is held out
    assert "That shit is crazy but true" not in texts  # swearing is not taught as clean: nobody annotated it
    assert all(t.strip() for t in texts)


def test_held_out_part_is_whole_conversations_disjoint_from_training() -> None:
    held, train = topical_messages(CSV, "heldout"), topical_messages(CSV, "train")
    assert held == ["The Muslim players on that team fast during Ramadan.",
                    "Interesting! Many people do not know that.", "Have you been to Mexico City?"]
    assert not set(held) & set(train)
    assert heldout_conversation("t_fixture-2") and not heldout_conversation("t_fixture-0")
    assert sum(heldout_conversation(f"t_{i}") for i in range(2000)) in range(300, 500)  # about a fifth
    assert list(load("topical_chat").columns) == ["text", "source", *LABELS]
