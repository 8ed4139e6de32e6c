"""Which language a message is in, decided before any model reads it.

A model trained on English scores Spanish as noise: it neither flags "eres un pendejo" nor says it cannot
read it. Every message therefore gets a language first, and only messages in a language the serving model
reads are scored; the rest follow the server's rule for unsupported languages.

The detector (py3langid: a bundled naive-Bayes model, BSD-3, no download, well under a millisecond a
message) is only trusted where it can be: chat is short, full of names, slang and emoji, and a toxic English
message misread as Latin or Maltese would escape scoring. So:

- homoglyph evasions are folded first ("уоu аrе" in Cyrillic letters is English, not Russian);
- a script that only one language of the candidates uses decides at once, however short the message
  (Hangul → ko, kana → ja, Han without kana → zh);
- a message mostly in another script that is not Latin (Cyrillic, Arabic, Devanagari) is whatever the
  detector says among the languages written in it, however short: it is certainly not English;
- a message in Latin letters is decided by the detector only when it has at least `min_words` words and the
  detector is at least `min_confidence` sure; shorter or less certain messages, and messages without letters
  (emoji, numbers, links), fall back to the server's first language.
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

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_DISCORD_MARKUP = re.compile(r"<a?:\w+:\d+>|<[@#][!&]?\d+>|<t:\d+(?::\w)?>|@\w+|#\w+")
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

    def __init__(self, min_words: int = 4, min_confidence: float = 0.8) -> None:
        self.min_words = min_words
        self.min_confidence = min_confidence
        self._lock = threading.Lock()
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        """Whether the detector's model is built: until then a call may take a noticeable moment."""
        return self._model is not None

    def _classify(self, text: str) -> tuple[str, float]:
        with self._lock:  # the model is built once, lazily (a noticeable moment); classification keeps no state
            if self._model is None:
                from py3langid.langid import MODEL_DIR, MODEL_FILE
                from py3langid.langid import LanguageIdentifier as Langid

                model = Langid.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
                model.set_languages(list(CANDIDATES))
                self._model = model
        language, probability = self._model.classify(text)
        return str(language), float(probability)

    def identify(self, text: str, fallback: Sequence[str]) -> Detected:
        """The language of one message; ``fallback`` is the server's languages, the first used when the
        message cannot decide."""
        fallback_language = fallback[0] if fallback else UNDETERMINED
        cleaned = _DISCORD_MARKUP.sub(" ", _URL.sub(" ", fold_look_alikes(text)))
        letters = [ch for ch in cleaned if ch.isalpha()]
        if not letters:
            return Detected(fallback_language, 0.0, False)
        by_script = _decisive_script(letters)
        if by_script is not None:
            return Detected(by_script, 1.0, True)
        if not _mostly_latin(letters):
            language, confidence = self._classify(cleaned)
            return Detected(language, confidence, True)
        if word_count(cleaned) < self.min_words:
            return Detected(fallback_language, 0.0, False)
        language, confidence = self._classify(cleaned)
        if confidence < self.min_confidence:
            return Detected(fallback_language, confidence, False)
        return Detected(language, confidence, True)

    async def identify_off_loop(self, texts: Sequence[str], fallbacks: Sequence[Sequence[str]]) -> list[Detected]:
        """Each text's language with its own fallback, for a caller on an event loop: a few short texts
        inline, a long list (each text costs a little) or any call before the model is built (the first one)
        in a thread, so the loop is never held."""
        def run() -> list[Detected]:
            return [self.identify(t, f) for t, f in zip(texts, fallbacks, strict=True)]

        if len(texts) <= 4 and sum(map(len, texts)) <= 4_000 and self.loaded:
            return run()
        return await asyncio.to_thread(run)


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
