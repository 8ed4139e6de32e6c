"""A request body read as Google's front end reads it: protobuf's JSON parser, which accepts more than JSON
(Perspective's own curl sample sends unquoted keys) and words its refusals its own way, each pointing at where
it stopped. Clients that send what the standard parser reads get its speed; the rest go to `_ProtobufJson`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, ClassVar

from bot.api.perspective.errors import ApiError

_MAX_DEPTH = 100  # json_stream_parser.cc, kDefaultMaxRecursionDepth


def load_json(raw: bytes) -> Any:
    """The body as protobuf's parser reads it. The standard parser reads valid JSON fast; what it refuses
    (protobuf accepts more) or accepts wrongly (lone surrogates, NaN, 1e999: protobuf refuses them) goes to
    `_ProtobufJson`, which also words the refusal."""
    if not raw:
        return {}  # Google's front end reads an empty body as the empty message
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        shown = raw.decode("utf-8", "replace")
        position = len(raw[:exc.start].decode("utf-8", "replace"))
        raise ApiError.invalid_json("Encountered non UTF-8 code points.", shown, position) from None
    try:
        document = json.loads(text, parse_constant=_refuse, parse_float=_finite)
        json.dumps(document, ensure_ascii=False).encode("utf-8")  # fails on a lone surrogate
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return _ProtobufJson(text).parse()
    return document


def _refuse(constant: str) -> Any:
    raise ValueError(constant)


def _finite(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):
        raise ValueError(number)
    return value


class _ProtobufJson:
    """protobuf's JsonStreamParser (json_stream_parser.cc), read in one go: what it accepts beyond JSON
    (unquoted keys, single-quoted strings, trailing commas, unknown escapes as the character itself) and
    its refusals word for word, each pointing at where it stopped."""

    _WHITESPACE: ClassVar[str] = " \t\n\r\v\f"
    _ESCAPES: ClassVar[dict[str, str]] = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
    _KEY: ClassVar[re.Pattern[str]] = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
    _STOPS: ClassVar[dict[str, re.Pattern[str]]] = {'"': re.compile(r'[\\"]'), "'": re.compile(r"[\\']")}
    _NUMBER: ClassVar[re.Pattern[str]] = re.compile(r"[0-9.eE+\-x]*")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def parse(self) -> Any:
        value = self._value("Expected a value.")
        self._skip()
        if self.pos < len(self.text):
            raise self._fail("Parsing terminated before end of input.")
        return value

    def _fail(self, reason: str) -> ApiError:
        return ApiError.invalid_json(reason, self.text, self.pos)

    def _unknown(self, reason: str) -> ApiError:
        """Nothing it can read here: at the end of the body protobuf says so first."""
        at_end = self.pos >= len(self.text)
        return self._fail(f"Unexpected end of string. {reason}" if at_end else reason)

    def _skip(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in self._WHITESPACE:
            pos += 1
        self.pos = pos

    def _literal(self) -> str | None:
        for word in ("true", "false", "null"):
            if self.text.startswith(word, self.pos):
                return word
        return None

    def _value(self, unknown: str, key: str = "") -> Any:
        self._skip()
        if self.pos >= len(self.text):
            raise self._unknown(unknown)
        char = self.text[self.pos]
        if char in "\"'":
            return self._string()
        if char == "-" or "0" <= char <= "9":
            return self._number()
        word = self._literal()
        if word is not None:
            self.pos += len(word)
            return {"true": True, "false": False, "null": None}[word]
        if char == "{":
            return self._object(key)
        if char == "[":
            return self._array(key)
        if char in "}]:," or self._KEY.match(self.text, self.pos):
            raise self._fail("Unexpected token.")
        raise self._unknown(unknown)

    def _enter(self, key: str) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise ApiError.invalid_json(f"Message too deep. Max recursion depth reached for key '{key}'", "", None)

    def _object(self, key: str) -> dict[str, Any]:
        self.pos += 1
        self._enter(key)
        result: dict[str, Any] = {}
        while True:
            self._skip()
            if self.pos >= len(self.text):
                raise self._unknown("Expected an object key or }.")
            char = self.text[self.pos]
            if char == "}":  # also after a comma: protobuf allows trailing commas
                self.pos += 1
                self.depth -= 1
                return result
            match = self._KEY.match(self.text, self.pos)
            if char in "\"'":
                name = self._string()
            elif match and self._literal() is None:
                name = match.group()
                self.pos = match.end()
            else:
                raise self._fail("Expected an object key or }.")
            self._skip()
            if self.pos >= len(self.text) or self.text[self.pos] != ":":
                raise self._unknown("Expected : between key:value pair.")
            self.pos += 1
            result[name] = self._value("Expected a value.", name)
            self._separator("}", "Expected , or } after key:value pair.")

    def _array(self, key: str) -> list[Any]:
        self.pos += 1
        self._enter(key)
        result: list[Any] = []
        while True:
            self._skip()
            if self.pos < len(self.text) and self.text[self.pos] == "]":  # also after a comma, as protobuf
                self.pos += 1
                self.depth -= 1
                return result
            result.append(self._value("Expected a value or ] within an array.", key))
            self._separator("]", "Expected , or ] after array value.")

    def _separator(self, closer: str, message: str) -> None:
        """After an object member or array element: step over a comma, or stop at the closer (the loop
        consumes it), or refuse with protobuf's words (at the end of the body prefixed as protobuf does)."""
        self._skip()
        if self.pos >= len(self.text):
            raise self._unknown(message)
        if self.text[self.pos] == ",":
            self.pos += 1
        elif self.text[self.pos] != closer:
            raise self._fail(message)

    def _string(self) -> str:
        stop = self._STOPS[self.text[self.pos]]
        self.pos += 1
        parts: list[str] = []
        while True:
            found = stop.search(self.text, self.pos)
            if found is None:
                self.pos = len(self.text)
                raise self._fail("Closing quote expected in string.")
            parts.append(self.text[self.pos:found.start()])
            self.pos = found.start()
            if self.text[self.pos] != "\\":
                self.pos += 1
                return "".join(parts)
            if self.pos + 1 >= len(self.text):
                raise self._fail("Closing quote expected in string.")
            escape = self.text[self.pos + 1]
            if escape == "u":
                parts.append(self._unicode_escape())
            else:
                parts.append(self._ESCAPES.get(escape, escape))
                self.pos += 2

    def _hex(self, at: int) -> int:
        digits = self.text[at:at + 4]
        if len(digits) < 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise self._fail("Invalid escape sequence.")
        return int(digits, 16)

    def _unicode_escape(self) -> str:
        if len(self.text) - self.pos < 6:
            raise self._fail("Illegal hex string.")
        code = self._hex(self.pos + 2)
        if 0xD800 <= code <= 0xDBFF:
            if len(self.text) - self.pos < 12 or self.text[self.pos + 6:self.pos + 8] != "\\u":
                raise self._fail("Missing low surrogate.")
            low = self._hex(self.pos + 8)
            if not 0xDC00 <= low <= 0xDFFF:
                raise self._fail("Invalid low surrogate.")
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            self.pos += 6
        elif 0xDC00 <= code <= 0xDFFF:
            raise self._fail("Invalid unicode code point.")
        self.pos += 6
        return chr(code)

    def _number(self) -> int | float:
        match = self._NUMBER.match(self.text, self.pos)
        assert match is not None  # noqa: S101 - narrows for mypy: the pattern matches the empty string
        number = match.group()
        negative = number.startswith("-")
        if "." not in number and "e" not in number and "E" not in number:
            if len(number) >= (3 if negative else 2) and number[1 if negative else 0] == "0":
                raise self._fail("Octal/hex numbers are not valid JSON values.")
            try:
                value: int | float = int(number)
            except ValueError:
                value = self._double(number)
            else:
                if not -(2**63) <= value < 2**64:  # beyond int64/uint64 protobuf reads a double
                    value = self._double(number)
        else:
            value = self._double(number)
        self.pos = match.end()
        return value

    def _double(self, number: str) -> float:
        try:
            value = float(number)
        except ValueError:
            raise self._fail("Unable to parse number.") from None
        if not math.isfinite(value):
            raise self._fail("Number exceeds the range of double.")
        return value
