"""Language identification in front of the models: what a message is read as, and when the server decides."""

from __future__ import annotations

import pytest

from bot.scoring.language import LanguageIdentifier, word_count

IDENTIFY = LanguageIdentifier()


@pytest.mark.parametrize(("text", "language"), [
    ("eres un pendejo de mierda y nadie te quiere aqui", "es"),
    ("du bist so ein dummer hurensohn, echt jetzt", "de"),
    ("ta gueule espèce de connard, personne ne t'aime", "fr"),
    ("siema co tam u was słychać dzisiaj wieczorem", "pl"),
    ("hey everyone, raid starts at 9 tonight so bring potions", "en"),
])
def test_messages_of_four_words_or_more_are_read_in_their_language(text: str, language: str) -> None:
    detected = IDENTIFY.identify(text, fallback=("en",))
    assert detected.language == language and detected.decided


@pytest.mark.parametrize(("text", "language"), [
    ("바보야", "ko"), ("ばかじゃないの", "ja"), ("傻逼", "zh"), ("Ты дурак", "ru"),
])
def test_a_script_decides_however_short_the_message(text: str, language: str) -> None:
    assert IDENTIFY.identify(text, fallback=("en",)).language == language


@pytest.mark.parametrize("text", ["gg ez", "lol", "kys", "😂😂😂", "https://example.com/x", "<@123456> ok", "", "   "])
def test_short_or_letterless_messages_fall_back_to_the_servers_first_language(text: str) -> None:
    assert IDENTIFY.identify(text, fallback=("en", "es")) == IDENTIFY.identify(text, fallback=("en",))
    detected = IDENTIFY.identify(text, fallback=("es", "en"))
    assert detected.language == "es" and not detected.decided


def test_look_alike_letters_do_not_hide_english_as_russian() -> None:
    # Cyrillic and fullwidth twins of Latin letters: an evasion, not Russian
    for text in ("уоu аrе а wоrthlеss lоsеr", "ｙｏｕ ａｒｅ ａ ｗｏｒｔｈｌｅｓｓ ｌｏｓｅｒ"):
        assert IDENTIFY.identify(text, fallback=("en",)).language == "en"


def test_word_count_counts_characters_of_scripts_written_without_spaces() -> None:
    assert word_count("you are a loser") == 4
    assert word_count("你是个大傻逼") == 3
    assert word_count("😂 !!! 123") == 0
