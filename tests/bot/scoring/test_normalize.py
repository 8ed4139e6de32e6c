"""Normalisation folds evasion tricks back to plain words and leaves ordinary text alone."""

from __future__ import annotations

import random
import re
import time

import emoji
import pytest

from bot.scoring.normalize import EXTRA_WORDS, MAX_EXPANDED_CHARS, MAX_INPUT_CHARS, Lexicon, match_key, normalize


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


def test_emoji_become_words_and_other_scripts_survive() -> None:
    assert normalize("gg 🎉 日本語") == "gg party popper 日本語"
    assert normalize("🖕") == "middle finger"
    assert normalize("🔪🔪🔪 tonight") == "kitchen knife tonight"  # a run of one emoji counts once
    assert normalize("👍🏽") == "thumbs up"  # skin tones carry no meaning
    assert normalize("😂") != normalize("🖕")


def test_a_run_of_one_emoji_counts_once_however_long() -> None:
    assert normalize("🔪" * 5) == "kitchen knife"
    assert normalize("😂 😂 😂 😂") == "face with tears of joy"
    assert normalize("😂" * 2000) == "face with tears of joy"
    assert normalize("🖕🔪🖕 ok") == "middle finger kitchen knife middle finger ok"  # different emoji all count


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    """A small ranked vocabulary, most frequent first, as the model's WordPiece vocabulary would be."""
    return Lexicon(["the", "so", "good", "you", "are", "cool", "god", "kill", "soo", "col", "loser", "idiot",
                    "stupid", "shit", "fuck", "bad", "love"], extra=EXTRA_WORDS)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("y0u 4r3 4 l053r", "you are 4 loser"),  # whole-word leet, only where the reading is a word
        ("1d10t", "idiot"),
        ("5h17", "shit"),
        ("sooooo gooood", "so good"),  # stretched letters: the commoner of the one- and two-letter readings
        ("coooool", "cool"),
        ("killlll", "kill"),
        ("stuuuupid", "stupid"),
        ("fuuuuuck", "fuck"),
        ("cuuuunt", "cunt"),  # a word the vocabulary splits, from the extra list
        ("f  u  c  k off", "fuck off"),  # letters spaced with two spaces
        ("y o u  a r e  b a d", "you are bad"),  # one space inside words, two between them
        ("y o u a r e b a d", "you are bad"),  # one space everywhere: the word boundaries are read back
        ("f.u.c.k y.o.u", "fuck you"),
        ("s t u p i d", "stupid"),  # a run that is one known word stays one word
    ],
)
def test_lexicon_repairs_whole_word_leet_and_stretched_letters(lexicon: Lexicon, raw: str, expected: str) -> None:
    assert normalize(raw, lexicon) == expected


@pytest.mark.parametrize("text", ["we won 2024 games", "room 101 at 9:30", "x86 and win10", "1337 people", "hello!!"])
def test_lexicon_never_turns_numbers_into_words(lexicon: Lexicon, text: str) -> None:
    assert normalize(text, lexicon) == text


def test_match_key_is_stable_for_the_split() -> None:
    """Keys ignore emoji names and word repairs, so better normalisation never moves a row across the split."""
    assert match_key("soooooo 🎉") == "soo 🎉"


def test_spaced_letters_split_only_into_common_words() -> None:
    """A plural or a word the vocabulary lacks stays one word rather than becoming junk ("fag go ts")."""
    small = Lexicon(["you", "are", "bad", "go", "fag"])
    assert small.segment("youarebad") == "you are bad"
    assert small.segment("faggots") == "faggots"
    assert small.segment("xyzzy") == "xyzzy"


def _different_emoji(n: int) -> str:
    """n emoji with the longest all-letter names, never the same one twice in a row (the costliest kind)."""
    plain = [e for e, data in emoji.EMOJI_DATA.items() if len(e) == 1 and re.fullmatch(r":[a-z_]+:", data["en"])]
    names = sorted(plain, key=lambda e: -len(emoji.EMOJI_DATA[e]["en"]))
    rng = random.Random(0)
    return "".join(names[i % 2 * 100 + rng.randrange(100)] for i in range(n))


# Messages built to be expensive: each fits in one Discord message (4,000 characters with Nitro).
HOSTILE = {
    "ligatures": "\ufdfa" * 2000,  # NFKC expands each to 18 characters
    "zalgo": ("z" + "\u0301\u0302\u0303\u0304" * 20) * 48,
    "one emoji": "😂" * 2000,
    "different emoji": _different_emoji(4000),  # names of 20 to 40 letters each
    "channel mentions": "<#1>" * 1000,  # each becomes "#channel"
    "one long word": "ab" * 2000,
    "leet run": "a" * 2000 + "$" * 1999 + "a",
    "digit run": "1" * 3999 + "a",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_no_message_normalises_past_the_cap(text: str, lexicon: Lexicon) -> None:
    assert len(normalize(text, lexicon)) <= MAX_EXPANDED_CHARS
    assert len(normalize(text * 10, lexicon)) <= MAX_EXPANDED_CHARS  # longer than Discord allows, too


def test_hostile_messages_normalise_in_bounded_time(lexicon: Lexicon) -> None:
    """Every step is linear in the capped text: before, 4,000 different emoji took 10 s, 1,000 channel
    mentions 1 s (patterns that backtracked quadratically). The bound is loose for shared CI machines."""
    start = time.perf_counter()
    for text in HOSTILE.values():
        normalize(text, lexicon)
    assert time.perf_counter() - start < 3.0


def test_text_longer_than_a_message_keeps_its_head_and_tail() -> None:
    out = normalize("idiot " + "hello friend " * 1000 + "moron")
    assert len(out) <= MAX_INPUT_CHARS
    assert out.startswith("idiot hello") and out.endswith("hello friend moron")


def test_the_longest_ordinary_message_is_not_cut() -> None:
    sentence = "hello friend, thanks for the great game 🎉 see you at the raid! "
    repeats = MAX_INPUT_CHARS // len(sentence)
    out = normalize(sentence * repeats)
    assert out == " ".join([normalize(sentence)] * repeats)
    assert len(out) > MAX_INPUT_CHARS  # the emoji names grew it, and it was kept whole


def test_match_key_is_not_capped() -> None:
    """Keys of long dataset rows (Jigsaw has 5,000-character comments) must not move across the split."""
    assert len(match_key("hello friend " * 1000)) == len("hello friend " * 1000) - 1


def test_kys_is_read_as_what_it_abbreviates_and_nothing_else_is() -> None:
    assert normalize("kys") == "kill yourself"
    assert normalize("just KYS lol") == "just kill yourself lol"
    assert normalize("k y s") == "kill yourself"
    assert normalize("my keys and kysa") == "my keys and kysa"
    assert match_key("kys") == "kys"  # the split key never changes
