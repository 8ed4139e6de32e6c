"""The clean-up every corpus in another language goes through, so that its texts read like Discord messages.

- Placeholders are brought to the form the scorer produces for the same thing in a Discord message
  (``bot/scoring/normalize.py`` turns a mention into ``@user`` and a link into ``URL``, which is also how
  OLID's ``@USER``/``URL`` already read to the uncased model): ``USER``, ``{USERNAME}``, real Twitter and
  Weibo handles become ``@user``; ``@url``, ``{URL}`` and real links become ``URL``. A run of mentions
  ("@USER @USER @USER", the reply chain of a tweet) becomes one, and a leading retweet marker is dropped,
  because how many people a tweet replied to is an artefact of Twitter that correlates with the label
  and Discord has no such thing.
- HTML entities left by the Twitter and Weibo APIs are unescaped, as for Davidson and OLID.
- Texts that hold nothing but placeholders and punctuation are dropped (nothing to learn from), and so are
  exact repeats within a corpus: one copy is kept when every copy has the same labels, none when the copies
  contradict each other (the corpus's own annotation disagrees with itself).
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from bot.labels import LABELS
from training.sources._common import NAN, finish

log = logging.getLogger(__name__)

# What bot/scoring/normalize.py makes of a Discord mention and of a link.
MENTION = "@user"
LINK = "URL"

Substitution = tuple[re.Pattern[str], str]

# A link ends where printable ASCII ends, so a link glued to Chinese or Korean text keeps the text after it;
# a link the tweet's length limit cut short ("https:/…", "http…") is a link too.
_LINK = re.compile(r"\bhttps?(?::/{0,2}[\x21-\x7e]*)?…|https?://[\x21-\x7e]*")
# OffensEval's and OLID's placeholder, even where it is glued to the word before it.
_USER_PLACEHOLDER = re.compile(r"@USER\b")
# Twitter handles are ASCII letters, digits and underscores ("@spdde", ".@spdbt"). Not after a letter or
# "@": e-mail addresses stay as written.
TWITTER_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]+")
# Weibo nicknames may be Chinese and follow Chinese text directly ("回@name"); they run to the next space or
# punctuation mark. Not after an ASCII letter (e-mail) and not "@_@" (an emoticon).
WEIBO_HANDLE = re.compile(r"(?<![A-Za-z0-9_@])@(?!_)[\w\-]+")
_RETWEET = re.compile(rf"\b[Rr][Tt]\s+(?={MENTION}\b)")
_MENTION_RUN = re.compile(rf"{MENTION}(?:[\s,:;]*{MENTION}\b)+")
_LINK_RUN = re.compile(rf"\b{LINK}(?:\s*{LINK}\b)+")
_PLACEHOLDER = re.compile(rf"{MENTION}\b|\b{LINK}\b")
# Backslash escapes written out as text (a Python bytes repr, or JSON escapes kept by a scraper): UTF-8 bytes
# as \xNN runs, \uNNNN (an emoji as a pair of surrogates), and \n, \r, \t, quotes, "/" and the backslash
# itself. One pass, left to right, so "\\x41" stays as it is.
_BACKSLASH_ESCAPE = re.compile(
    r"((?:\\x[0-9a-fA-F]{2})+)"
    r"|\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
    r"|\\u((?![dD][89a-fA-F])[0-9a-fA-F]{4})"
    r"|\\([nrt'\"/\\])"
)
_ESCAPED_CHARACTER = {"n": "\n", "r": "\n", "t": "\t", "'": "'", '"': '"', "/": "/", "\\": "\\"}


def tidy(text: str, substitutions: Sequence[Substitution] = (), mentions: re.Pattern[str] | None = None) -> str:
    """One published text as the model should see it; "" when nothing but placeholders is left.

    ``substitutions`` undo a corpus's own markup (line-break marks, its placeholder spelling) before links
    and ``mentions`` (the handle pattern of the platform, if its handles were left in) are replaced.
    """
    text = html.unescape(text).replace("\ufffd", "")  # a replacement character stands for nothing now
    for pattern, replacement in substitutions:
        text = pattern.sub(replacement, text)
    text = _USER_PLACEHOLDER.sub(MENTION, _LINK.sub(LINK, text))
    if mentions is not None:
        text = mentions.sub(MENTION, text)
    text = _RETWEET.sub("", text)
    text = _MENTION_RUN.sub(MENTION, _LINK_RUN.sub(LINK, text)).strip()
    rest = _PLACEHOLDER.sub("", text)
    if not any(not unicodedata.category(ch).startswith(("P", "Z", "C")) for ch in rest):
        return ""
    return text


def unescape_backslashes(text: str) -> str:
    """Turn escapes that were written out as text back into the characters they stand for."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return bytes.fromhex(match.group(1).replace("\\x", "")).decode("utf-8", errors="ignore")
        if match.group(2):
            high, low = int(match.group(2), 16), int(match.group(3), 16)
            return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        if match.group(4):
            return chr(int(match.group(4), 16))
        return _ESCAPED_CHARACTER[match.group(5)]

    return _BACKSLASH_ESCAPE.sub(replace, text)


def drop_repeats(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Keep one copy of a text whose copies agree on every label; drop a text whose copies disagree.

    Exact repeats would weigh one text several times; copies with different labels are the corpus
    contradicting itself, and the dedupe after loading would settle that as a tie in favour of "toxic".
    """
    variants = pd.concat([frame["text"], frame[list(LABELS)].fillna(-1.0)], axis=1).drop_duplicates()
    contradicted = set(variants.loc[variants["text"].duplicated(keep=False), "text"])
    keep = ~frame["text"].duplicated() & ~frame["text"].isin(contradicted)
    if (~keep).any():
        log.info(
            "%s: dropped %d repeated rows (%d texts whose copies disagree on a label)",
            name,
            int((~keep).sum()),
            len(contradicted),
        )
    return frame[keep].reset_index(drop=True)


def finish_corpus(texts: Iterable[str], labels: Iterable[Mapping[str, float]], name: str) -> pd.DataFrame:
    """The common layout for a corpus, with repeats dropped (`drop_repeats`)."""
    return drop_repeats(finish(list(texts), list(labels), name, name), name)


def count_cell(value: str) -> float:
    """A vote count or a 0/1 flag as a number; NaN when the cell holds anything else."""
    try:
        number = float(value)
    except ValueError:
        return NAN
    return number if number >= 0 and number.is_integer() else NAN
