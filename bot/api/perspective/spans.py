"""Where a comment's sentences are, for spanAnnotations, and their offsets counted as Perspective counts them.

Spans are found on str indices (what the server slices the text with to score each sentence) and answered in
UTF-16 code units (`utf16_offsets`), which is what clients slice with.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# A sentence ends at a run of . ! ? (with any closing quotes or brackets) followed by whitespace or the end, or
# at a line break: Discord messages put one thought a line.
# (The look-behind starts a match only where a run of punctuation starts: without it the engine retries inside
# the run, and a long run of dots takes time quadratic in its length.)
_SENTENCE_END = re.compile(r"(?<![.!?])[.!?]+[\"'”’)\]]*(?=\s|$)|[\r\n\u2028\u2029]")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Per-sentence [begin, end) offsets into `text` (str indices), in order, never empty, trimmed of the
    whitespace around them; together they hold every non-whitespace character of `text`.

    methods.md: spans are "currently done at per-sentence level", and its example text
    "What kind of idiot name is foo? Sorry, I like your name." is [0, 31) and [32, 56).
    """
    spans: list[tuple[int, int]] = []
    begin = 0
    for match in _SENTENCE_END.finditer(text):
        _add_span(spans, text, begin, match.end())
        begin = match.end()
    _add_span(spans, text, begin, len(text))
    return spans


def _add_span(spans: list[tuple[int, int]], text: str, begin: int, end: int) -> None:
    while begin < end and text[begin].isspace():
        begin += 1
    while end > begin and text[end - 1].isspace():
        end -= 1
    if begin < end:
        spans.append((begin, end))


def _same(index: int) -> int:
    return index


def utf16_offsets(text: str) -> Callable[[int], int]:
    """Map a str index to a UTF-16 code unit index, which is what Perspective's spans count (discovery, SpanScore:
    "The values are the UTF-16 codepoint range"): JavaScript, Java and C# clients slice with them. They differ
    from str indices only after a character outside the BMP, which Discord's emoji often are."""
    if not any(ord(char) > 0xFFFF for char in text):
        return _same
    prefix = [0]
    for char in text:
        prefix.append(prefix[-1] + (2 if ord(char) > 0xFFFF else 1))
    return prefix.__getitem__

