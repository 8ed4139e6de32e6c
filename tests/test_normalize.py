"""Normalisation folds evasion tricks back to plain words and leaves ordinary text alone."""

from __future__ import annotations

import pytest

from bot.scoring.normalize import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ｓｈｕｔ ｕｐ", "shut up"),  # fullwidth
        ("i\u200bd\u200ci\u200do\u2060t", "idiot"),  # zero-width joiners and word joiners
        ("іdіоt", "idiot"),  # Cyrillic look-alikes
        ("ρоѕer", "poser"),  # Greek + Cyrillic mix
        ("soooooo baaaad", "soo baad"),  # floods collapse to two
        ("sh1t", "shit"),
        ("@$$hole", "asshole"),
        ("l0s3r", "loser"),
        ("f u c k off", "fuck off"),
        ("f.u.c.k", "fuck"),
        ("i\u0301d\u0308i\u0300o\u0303t", "idiot"),  # stacked combining marks
        ("hey <@123456789012345678> look", "hey @user look"),
        ("  lots \n\n of   space  ", "lots of space"),
    ],
)
def test_evasions_fold_to_plain_words(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        "install it on x86 with python 3.11",
        "win10 and mp3 files",
        "we won 2024 games",
        "hello!",
        "привет, как дела",  # real Russian keeps its letters
        "ελληνικά γράμματα",
        "meet at 9:30 in room 101",
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert normalize(text) == text


def test_empty_and_invisible_only_text_normalise_to_empty() -> None:
    assert normalize("") == ""
    assert normalize("\u200b\u200d\ufeff") == ""


def test_emoji_and_other_scripts_survive() -> None:
    assert normalize("gg 🎉 日本語") == "gg 🎉 日本語"
