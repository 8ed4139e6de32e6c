"""Language identification in front of the models: what a message is read as, and when the server decides."""

from __future__ import annotations

import pytest

from bot.scoring.language import LanguageIdentifier, clean, word_count

IDENTIFY = LanguageIdentifier()
# A server that has not set its languages: every language a model reads, English first.
DEFAULT_SERVER = ("en", "ar", "de", "fr", "ko", "pl", "pt", "ru", "tr", "zh")


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


def test_cleaning_leaves_only_words_in_lower_case_with_repeats_cut() -> None:
    assert clean("KKKKKK vai tomar no cu @fulano https://t.co/x #partiu 😂😂 123!!!") == "kk vai tomar no cu partiu"
    assert clean("<@123456> ÓTIMO jogo <:pog:998877>") == "ótimo jogo"


@pytest.mark.parametrize(("text", "language"), [
    # shouting and laughter: the capitals once read as Serbian or Bulgarian, the "kkkk" as nothing at all
    ("МЫ ЧЁ УЖЕ НА СТАНЦИИ? о_О /ЯТУПЛЮ/", "ru"),
    ("бля ((((((я наказана же бля сука бля", "ru"),
    ("ага.Я ТОТ ЛОХ,КОТОРЫЙ УЧИТСЯ ПО СУББОТАМ :(((((", "ru"),
    ("zoeira trocaram meus exames kkkkkkkkkkkkkkkkkkk", "pt"),
    ("que povo invejoso socorro!!!", "pt"),
    ("ferme la gros mongol retourne tweeter de la merde", "fr"),
])
def test_chat_in_a_moderated_language_is_read_as_such(text: str, language: str) -> None:
    detected = IDENTIFY.identify(text, fallback=DEFAULT_SERVER)
    assert detected.language == language and detected.decided


def test_the_cyrillic_alphabet_rules_out_what_cannot_be() -> None:
    # і and ї are Ukrainian; a Russian message without them is never Ukrainian
    assert IDENTIFY.identify("Блядь...., та скільки можна мені брехати....(", DEFAULT_SERVER).language == "uk"
    assert IDENTIFY.identify("нет( ну прости блять сука", DEFAULT_SERVER).language == "ru"


@pytest.mark.parametrize("text", [
    "ez mid ez morph", "ez hook ez ff", "gg noobs im tbd rank", "u r such a noob lol stfu",
    "hey everyone, raid starts at 9 tonight so bring potions", "you are a worthless piece of garbage",
])
def test_english_game_chat_stays_english(text: str) -> None:
    for server in (DEFAULT_SERVER, ("en",), ("pt", "en")):
        assert IDENTIFY.identify(text, fallback=server).language == "en"


def test_a_close_call_leans_to_the_servers_languages() -> None:
    # Portuguese or Spanish? A server that moderates Portuguese reads it as Portuguese
    text = "que veneno cara toma no cú"
    assert IDENTIFY.identify(text, fallback=("pt", "en")).language == "pt"
