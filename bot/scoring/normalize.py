"""Text normalisation applied before tokenising, at training and at scoring time alike.

Evasion tricks (fullwidth or Cyrillic look-alikes, zero-width joiners, `sh1t`, `f u c k`, `sooooo`) are
cheap for a member and expensive for a model that never saw them; folding them back to plain ASCII
words here means the model only has to learn the word once. The original text is always kept by the
caller for display: this output is for the model only.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping

import emoji

# Cyrillic and Greek letters that render like Latin ones (Unicode confusables, the common subset).
_HOMOGLYPHS: dict[str, str] = {
    # Cyrillic lower / upper
    "а": "a", "в": "b", "г": "r", "е": "e", "ё": "e", "з": "3", "і": "i", "ї": "i", "ј": "j", "к": "k",
    "м": "m", "н": "h", "о": "o", "п": "n", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ь": "b", "ц": "u",
    "А": "A", "В": "B", "Е": "E", "Ё": "E", "З": "3", "І": "I", "Ј": "J", "К": "K", "М": "M", "Н": "H",
    "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "Ԛ": "Q", "Ԝ": "W", "Ӏ": "I",
    # Greek lower / upper
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ς": "c",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Latin extensions that survive NFKC
    "ı": "i", "ɡ": "g", "ɑ": "a", "ł": "l", "ø": "o", "đ": "d",
}  # fmt: skip

# Leetspeak digits and symbols, undone only inside words (see _unleet).
_LEET_DIGITS: dict[str, str] = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g"}
_LEET_SYMBOLS: dict[str, str] = {"@": "a", "$": "s", "!": "i", "|": "l", "+": "t"}

_DISCORD_TOKENS = [
    (re.compile(r"<@!?\d+>"), "@user"),
    (re.compile(r"<@&\d+>"), "@role"),
    (re.compile(r"<#\d+>"), "#channel"),
    (re.compile(r"<a?:(\w+):\d+>"), r":\1:"),
    (re.compile(r"https?://\S+"), "URL"),
]
# Combining marks stacked on a Latin letter (accents, "zalgo" noise); the uncased tokenizer drops accents anyway.
_COMBINING_ON_LATIN = re.compile(
    r"(?<=[\x00-\u024f\u1e00-\u1eff])[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+"
)
# The lookbehind tries only the start of each digit run: plain "\d+$" retried every digit of a long run.
_TRAILING_DIGITS = re.compile(r"(?<!\d)\d+$")
_WORDISH = re.compile(r"[^\s]+")
_FLOOD = re.compile(r"(.)\1{2,}", re.DOTALL)
# Three or more single letters separated by one space, dot, dash, underscore or asterisk: "f u c k", "f.u.c.k".
_SPACED = re.compile(r"(?<![\w])(?:[A-Za-z][ .\-_*]){2,}[A-Za-z](?![\w])")
# The same with two spaces between letters ("f  u  c  k"); one-space runs were joined first, so
# "y o u  a r e" has become "you are" before this sees it.
_SPACED_WIDE = re.compile(r"(?<![\w ])(?:[A-Za-z] {2}){2,}[A-Za-z](?![\w])")
_WHITESPACE = re.compile(r"\s+")
# A letter repeated three or more times inside a word ("fuuuuck", "stuuupid"). Looked for word by word: one
# pattern spanning the word ("\S*(x)\1{2,}\S*") backtracked quadratically, seconds for one very long word.
_STRETCHED = re.compile(r"([A-Za-z])\1{2,}")
_LETTER_RUN = re.compile(r"([A-Za-z])\1*")
_EDGE_PUNCTUATION = ".,;:?!\"'()[]{}"
# Emoji modifiers say nothing about meaning ("thumbs up, medium skin tone" is "thumbs up").
_EMOJI_MODIFIERS = re.compile(r"_(?:(?:light|medium-light|medium|medium-dark|dark)_skin_tone|selector)")
# Each emoji's name is bracketed by NUL while runs of one emoji are collapsed, so the run is found by one
# linear scan; matching the names themselves ("( [a-z ]+ )(?:\s*\1)+") backtracked quadratically, for
# seconds on a message of thousands of different emoji. NUL is removed from the text first (as a control
# character the model never sees it anyway).
_EMOJI_MARK = "\x00"
_REPEATED_EMOJI = re.compile(r"(\x00[^\x00]*\x00)(?:\s*\1)+")

# What normalising one message may produce: bounded, so that no message can cost the scorer more than a
# long ordinary one. Discord caps a message at 2,000 characters (4,000 with Nitro), but NFKC expands a
# single character up to 18-fold (U+FDFA), emoji become names of 10 to 40 letters and channel mentions
# "#channel", so 2,000 characters could become 36,000 and stall scoring for every server. Longer input
# keeps its head and its tail (an insult that closes a long message still counts); each expanding step
# may grow the text to twice the longest message, room for the emoji and ligatures of real chat.
MAX_INPUT_CHARS = 4_000
MAX_EXPANDED_CHARS = 8_000


_WORD_START = "\u2581"  # SentencePiece's "▁"


class Lexicon:
    """Known words ranked by frequency, to decide between readings of a stretched or leet word.

    Built from the model's own WordPiece vocabulary (whose whole-word entries are in rough frequency
    order), so a repair only ever produces a word the model has a token for; `extra` adds words the
    vocabulary splits into pieces (many slurs and insults), ranked after every vocabulary word.
    """

    def __init__(self, ranked_words: Iterable[str], extra: Iterable[str] = ()) -> None:
        extra = tuple(extra)
        self._rank: dict[str, int] = {}
        self._extra = frozenset(w.lower() for w in extra)
        for word in itertools.chain(ranked_words, extra):
            if word.isascii() and word.isalpha() and len(word) > 1:
                self._rank.setdefault(word.lower(), len(self._rank))

    @classmethod
    def from_vocab(cls, vocab: Mapping[str, int]) -> Lexicon:
        """WordPiece marks continuations ("##ing") and SentencePiece marks word starts ("▁word"): either way,
        the lexicon keeps only pieces that are whole words."""
        ranked = sorted(vocab, key=vocab.__getitem__)
        if any(piece.startswith(_WORD_START) for piece in ranked):
            ranked = [piece[1:] for piece in ranked if piece.startswith(_WORD_START)]
        return cls(ranked, EXTRA_WORDS)

    def rank(self, word: str) -> int | None:
        """How common `word` is in the vocabulary (0: the most common); None for a word it does not hold."""
        return self._rank.get(word.lower())

    def segment(self, letters: str) -> str:
        """Letters that were spaced out one by one, read back as words: "youaredumb" is "you are dumb".

        Spacing every letter with the same separator erases the word boundaries; the commonest split
        into known words (each word costs the log of its frequency rank, as in Zipf's law) restores them.
        A run that is itself a known word, or that cannot be split into known words, stays joined.
        """
        if len(letters) > 60 or letters in self:
            return letters
        lowered = letters.lower()
        best: list[tuple[float, int]] = [(0.0, 0)] + [(math.inf, 0)] * len(lowered)
        for end in range(1, len(lowered) + 1):
            for start in range(max(0, end - 20), end):
                piece = lowered[start:end]
                rank = _SHORT_WORDS.get(piece) if len(piece) < 3 else self._rank.get(piece)
                if rank is not None and rank > _SEGMENT_MAX_RANK and piece not in self._extra:
                    continue
                if rank is not None and best[start][0] + math.log(rank + 2) < best[end][0]:
                    best[end] = (best[start][0] + math.log(rank + 2), start)
        if math.isinf(best[-1][0]):
            return letters
        words, end = [], len(lowered)
        while end > 0:
            start = best[end][1]
            words.append(letters[start:end])
            end = start
        return " ".join(reversed(words))

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word.lower() in self._rank


# Splitting spaced letters into words trusts only words of three letters or more that are common, and a
# few short words; otherwise a plural or a slur the vocabulary lacks ("faggots", "whores") would be read
# as junk ("fag go ts", "who res") instead of staying one word the model can still piece together.
_SHORT_WORDS = {w: rank for rank, w in enumerate((
    "a", "i", "u", "an", "am", "is", "it", "in", "of", "on", "to", "up", "we", "me", "my", "no", "so", "go",
    "be", "by", "do", "he", "if", "or", "us", "ur", "at", "as", "ok", "im", "ya", "yo", "ez", "gg"))}
_SEGMENT_MAX_RANK = 15000

# Words BERT's uncased vocabulary splits into pieces but that evasions target most.
EXTRA_WORDS = (
    "cunt", "slut", "faggot", "fag", "retard", "retarded", "moron", "hoe", "nigger", "nigga", "twat", "wanker",
    "dumbass", "jackass", "asshole", "bullshit", "motherfucker", "kys", "stfu", "gtfo", "idiots", "tranny",
    "dyke", "spic", "chink", "kike", "wetback", "thot", "simp", "noob", "trash", "bitches",
)  # fmt: skip


# "kys" is read as what it abbreviates: the vocabulary splits it into "ky ##s", which no corpus teaches as
# the death wish it is, while "kill yourself" is well learned. Only this one: "stfu" is as often banter.
_KYS = re.compile(r"(?<![\w'])kys(?![\w'])", re.IGNORECASE)


def _drop_format_chars(text: str) -> str:
    """Remove zero-width and other invisible format characters (category Cf) and control characters."""
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cf", "Cc", "Co", "Cs")
    )


def _fold_homoglyphs(token: str, mixed_only: bool) -> str:
    """Map look-alikes to Latin only when every non-Latin letter of the token is a look-alike.

    A genuine Russian or Greek word almost always holds a letter with no Latin twin and is left alone;
    a word built to slip past a filter is made of twins only. In a message that is genuinely Cyrillic or
    Greek elsewhere (`mixed_only`), a twins-only word ("как") is real too, and only words that mix in
    ASCII letters ("іdiоt") are folded.
    """
    non_ascii_letters = [ch for ch in token if ch.isalpha() and not ch.isascii()]
    if not non_ascii_letters or not all(ch in _HOMOGLYPHS for ch in non_ascii_letters):
        return token
    if mixed_only and not any(ch.isascii() and ch.isalpha() for ch in token):
        return token
    return "".join(_HOMOGLYPHS.get(ch, ch) for ch in token)


def _has_genuine_foreign_word(text: str) -> bool:
    return any(
        any(ch.isalpha() and not ch.isascii() and ch not in _HOMOGLYPHS for ch in word)
        for word in _WORDISH.findall(text)
    )


def _letters_ahead(token: str) -> list[bool]:
    """For each position, whether a letter follows it, looking past a run of leet substitutes ("@$$hole").

    Computed from the right in one pass, so a long run of substitutes is not rescanned from every symbol.
    """
    ahead = [False] * len(token)
    for i in range(len(token) - 2, -1, -1):
        nxt = token[i + 1]
        ahead[i] = nxt.isalpha() or ((nxt in _LEET_DIGITS or nxt in _LEET_SYMBOLS) and ahead[i + 1])
    return ahead


def _map_leet(token: str) -> str:
    core = token.strip(".,;:?\"'()[]{}")
    letters = sum(ch.isalpha() for ch in core)
    subs = sum(ch in _LEET_DIGITS or ch in _LEET_SYMBOLS for ch in core)
    if letters < 2 or subs == 0 or subs > letters:
        return token
    out = []
    letter_ahead = _letters_ahead(token)
    for i, ch in enumerate(token):
        nxt = token[i + 1] if i + 1 < len(token) else ""
        prv = token[i - 1] if i > 0 else ""
        if ch in _LEET_DIGITS and (nxt.isalpha() or prv.isalpha()):
            out.append(_LEET_DIGITS[ch])
        elif ch == "@" and i == 0 and nxt.isalpha():
            out.append(ch)  # a mention ("@everyone"), not leet
        elif ch in _LEET_SYMBOLS and letter_ahead[i] and (prv.isalpha() or ch in "@$"):
            out.append(_LEET_SYMBOLS[ch])
        else:
            out.append(ch)
    return "".join(out)


def _unleet_word(token: str, lexicon: Lexicon) -> str:
    """Whole-word leetspeak ("l053r", "4r3", "@$$") that the in-word rule leaves alone.

    Every digit and symbol is read as the letter it stands for, and the reading is kept only if it is a
    known word: numbers never become words by accident ("2024", "101" stay), "y0u 4r3 4 l053r" folds.
    """
    core = token.strip(_EDGE_PUNCTUATION)
    if not core or core.isdigit() or not any(ch.isalpha() for ch in core):
        return token
    if not any(ch in _LEET_DIGITS or ch in _LEET_SYMBOLS for ch in core):
        return token
    reading = "".join(_LEET_DIGITS.get(ch) or _LEET_SYMBOLS.get(ch) or ch for ch in core)
    if reading.isalpha() and reading in lexicon:
        start = token.index(core)
        return token[:start] + reading + token[start + len(core) :]
    return token


def _destretch(word: str, lexicon: Lexicon) -> str:
    """Fold every run of three or more letters to one or two, whichever reading is the commoner word.

    "sooooo" is "so", "gooood" is "good", "fuuuuck" is "fuck"; with no known reading, runs fold to two
    as they always did ("baaaad" stays "baad" only if "bad" is not known).
    """
    runs = [m.group(0) for m in _LETTER_RUN.finditer(word)]
    prefix_end = word.find(runs[0]) if runs else 0
    core = "".join(runs)
    if core != word[prefix_end : prefix_end + len(core)] or not core:
        return _FLOOD.sub(r"\1\1", word)
    stretched = [i for i, run in enumerate(runs) if len(run) >= 3][:4]
    best: tuple[int, str] | None = None
    for lengths in itertools.product((1, 2), repeat=len(stretched)):
        parts = list(runs)
        for i, n in zip(stretched, lengths, strict=True):
            parts[i] = runs[i][0] * n
        candidate = "".join(parts)
        rank = lexicon.rank(candidate)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, candidate)
    if best is None:
        return _FLOOD.sub(r"\1\1", word)
    return word[:prefix_end] + best[1] + word[prefix_end + len(core) :]


def _repair_word(word: str, lexicon: Lexicon) -> str:
    """Whole-word leetspeak, then stretched letters, read back as the known words they stand for."""
    word = _unleet_word(word, lexicon)
    return _destretch(word, lexicon) if _STRETCHED.search(word) else word


def _emoji_to_words(text: str) -> str:
    """Emoji become their English names ("🖕" -> "middle finger"), which the tokenizer has words for.

    A run of the same emoji counts once: "😂😂😂" carries no more meaning than "😂".
    """

    def name(chars: str, data: dict) -> str:
        words = _EMOJI_MODIFIERS.sub("", data["en"].strip(":")).replace("_", " ").replace("-", " ")
        return f"{_EMOJI_MARK}{words.lower()}{_EMOJI_MARK}"

    if text.isascii():  # no emoji possible: skip the scan, the costliest step of normalising chat
        return text
    text = emoji.replace_emoji(text.replace(_EMOJI_MARK, ""), replace=name)
    return _REPEATED_EMOJI.sub(r"\1", text).replace(_EMOJI_MARK, " ")


def _unleet(token: str) -> str:
    """Undo leetspeak where digits or symbols stand for letters inside a word.

    The token must carry at least two letters and no more substitutes than letters, so numbers and
    versions ("x86", "2024") and punctuation runs are kept; a symbol is replaced only when a letter
    follows it, so "hello!" keeps its "!". A number closing a word ("win10", "mp3") stays a number
    unless the word is leet elsewhere too ("sh1t3").
    """
    trailing = _TRAILING_DIGITS.search(token)
    if trailing and trailing.start() > 0:
        head = token[: trailing.start()]
        if _map_leet(head) == head:
            return token
    return _map_leet(token)


def _keep_ends(text: str, limit: int) -> str:
    """At most `limit` characters: the text's head and tail, so an insult at either end still counts.

    The halves are joined by a space so that no word is glued together from two cut ends.
    """
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + " " + text[len(text) - (limit - 1 - head) :]


def _fold(text: str, join: Callable[[str], str] = lambda letters: letters) -> str:
    """Undo the character-level evasions: width, invisible characters, accents, look-alikes, in-word
    leetspeak, chat markup and letters spaced out with single separators (`join` reads those letters)."""
    text = unicodedata.normalize("NFKC", text)
    text = _drop_format_chars(text)
    text = unicodedata.normalize("NFC", _COMBINING_ON_LATIN.sub("", unicodedata.normalize("NFD", text)))
    mixed_only = _has_genuine_foreign_word(text)
    text = _WORDISH.sub(lambda m: _unleet(_fold_homoglyphs(m.group(0), mixed_only)), text)
    for pattern, repl in _DISCORD_TOKENS:
        text = pattern.sub(repl, text)
    return _SPACED.sub(lambda m: join(re.sub(r"[ .\-_*]", "", m.group(0))), text)


def fold_look_alikes(text: str) -> str:
    """Only the evasions that change a message's script (fullwidth letters, invisible characters, Cyrillic
    or Greek twins of Latin letters), keeping accents: what language identification should read."""
    text = _drop_format_chars(unicodedata.normalize("NFKC", text))
    mixed_only = _has_genuine_foreign_word(text)
    return _WORDISH.sub(lambda m: _fold_homoglyphs(m.group(0), mixed_only), text)


def match_key(text: str) -> str:
    """Stable keys for dedupe and the train/validation split: the folding of model v1, never changed.

    Kept apart from `normalize` so that improving what the model sees (emoji names, word repairs) never
    moves a message across the split, and models stay comparable on the same validation rows.
    """
    return _WHITESPACE.sub(" ", _FLOOD.sub(r"\1\1", _fold(text))).strip()


def normalize(text: str, lexicon: Lexicon | None = None) -> str:
    """Fold a chat message into the plain form the model is trained and scored on.

    With a `lexicon` (the model's vocabulary) whole-word leetspeak and stretched letters are repaired to
    the words they stand for; without one they fold by the rules alone. The result is at most
    MAX_EXPANDED_CHARS long whatever the input (see there why); ordinary messages are never cut.
    """
    text = _keep_ends(_emoji_to_words(_keep_ends(text, MAX_INPUT_CHARS)), MAX_EXPANDED_CHARS)
    # NFKC once here, capped, so _fold's own pass is a no-op; _fold itself stays uncapped for match_key
    text = _keep_ends(unicodedata.normalize("NFKC", text), MAX_EXPANDED_CHARS)
    join = lexicon.segment if lexicon is not None else lambda letters: letters
    text = _keep_ends(_fold(text, join=join), MAX_EXPANDED_CHARS)
    text = _SPACED_WIDE.sub(lambda m: re.sub(r"\s+", "", m.group(0)), text)
    if lexicon is not None:
        text = _WORDISH.sub(lambda m: _repair_word(m.group(0), lexicon), text)
    text = _FLOOD.sub(r"\1\1", text)
    text = _KYS.sub("kill yourself", text)
    return _WHITESPACE.sub(" ", text).strip()
