"""Messages from bytes: a chat log's lines for `toxmod replay`, and stdin's for `toxmod score`.

One reader for both, so a message that one command refuses the other refuses too: UTF-8 (a leading BOM
dropped), one message a line. Invalid UTF-8 fails naming the byte offset; a NUL byte fails naming the line
(it means a binary file or a UTF-16 export, and no database text column should hold one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["ChatLogError", "text_lines"]


class ChatLogError(ValueError):
    """The chat log (or stdin) cannot be used; the message says which file and why."""


def text_lines(raw: Iterable[bytes], name: str) -> Iterator[str]:
    r"""Each line of `raw` (bytes split after b"\n", as a binary file iterates) as text, its line ending kept.

    Line by line is safe for UTF-8: the byte of "\n" never occurs inside a multi-byte character.
    """
    offset = 0
    for number, line in enumerate(raw, start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ChatLogError(f"{name} is not UTF-8 text ({exc.reason} at byte {offset + exc.start})") from exc
        if "\0" in text:
            raise ChatLogError(f"{name} has a NUL byte on line {number} (at byte {offset + line.index(0)}): "
                               "a binary file, or text saved as UTF-16?")
        yield text.removeprefix("\ufeff") if number == 1 else text
        offset += len(line)
