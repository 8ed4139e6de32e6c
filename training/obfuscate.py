"""Evasion tricks applied to training texts (labels kept) and to the robustness check.

Normalisation undoes the clean cases; what it cannot undo (partial leet, a flood inside a word, a
star for a vowel, mixed tricks) the model has to learn, so training shows it those forms.
"""

from __future__ import annotations

import random
import re

_LEET = {"a": "4@", "e": "3", "i": "1!", "o": "0", "s": "5$", "t": "7", "l": "1", "g": "9"}
_HOMOGLYPH = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "i": "і", "s": "ѕ"}
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
_WORD = re.compile(r"[A-Za-z]{3,}")


def _leet(word: str, rng: random.Random) -> str:
    return "".join(rng.choice(_LEET[c.lower()]) if c.lower() in _LEET and rng.random() < 0.5 else c for c in word)


def _leet_word(word: str, rng: random.Random) -> str:
    """Every letter that has a leet form takes one: "loser" -> "l053r"."""
    return "".join(rng.choice(_LEET[c.lower()]) if c.lower() in _LEET else c for c in word)


def _homoglyph(word: str, rng: random.Random) -> str:
    return "".join(_HOMOGLYPH[c] if c in _HOMOGLYPH and rng.random() < 0.6 else c for c in word)


def _zero_width(word: str, rng: random.Random) -> str:
    return rng.choice(_ZERO_WIDTH).join(word)


def _spaced(word: str, rng: random.Random) -> str:
    return rng.choice((" ", ".", "-", "  ", "_")).join(word)


def _flood(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word))
    return word[:i] + word[i] * rng.randint(3, 8) + word[i + 1 :]


def _star(word: str, rng: random.Random) -> str:
    vowels = [i for i, c in enumerate(word) if c.lower() in "aeiou"]
    if not vowels:
        return word
    i = rng.choice(vowels)
    return word[:i] + rng.choice("*#%") + word[i + 1 :]


TRICKS = {
    "leet": _leet,
    "leet_word": _leet_word,
    "homoglyph": _homoglyph,
    "zero_width": _zero_width,
    "spaced": _spaced,
    "flood": _flood,
    "star": _star,
}


def obfuscate(text: str, rng: random.Random, word_share: float = 0.5, tricks: tuple[str, ...] | None = None) -> str:
    """Apply one randomly chosen trick per word to about `word_share` of the words of three letters or more.

    `tricks` narrows the choice (the evaluation measures each trick alone); the default is all of them.
    """
    names = list(tricks or TRICKS)

    def swap(match: re.Match[str]) -> str:
        if rng.random() >= word_share:
            return match.group(0)
        return TRICKS[rng.choice(names)](match.group(0), rng)

    return _WORD.sub(swap, text)
