"""Perspective's wire protocol as pure functions: what a request means, what the answer looks like, and every
refusal in Google's own words, so that a tool written for Perspective keeps working when its URL points here.

No I/O and no model: the server reads the body, calls `parse_analyze`, scores, and answers with
`analyze_response` or `ApiError.body()`. Where a message is Google's, the comment above it says where it was
seen; the few that are ours say so. The references, by short name:

- methods.md, limits.md, models.md: github.com/conversationai/perspectiveapi, folder 2-api/ (limits.md as of
  PR #103, the 20 KB limit and the ErrorType list).
- discovery: the commentanalyzer v1alpha1 discovery document (googleapis/google-api-go-client,
  commentanalyzer/v1alpha1/commentanalyzer-api.json, and its later revision in APIs-guru/openapi-directory).
- json_stream_parser.cc: protobuf's JSON parser (src/google/protobuf/util/internal/), which Google's front end
  uses to read request bodies; its messages come back prefixed with "Invalid JSON payload received. ".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

# Perspective attribute -> toxmod label (bot/labels.py). Only these six have a counterpart in our model.
ATTRIBUTES: dict[str, str] = {
    "TOXICITY": "toxic",
    "SEVERE_TOXICITY": "severe_toxic",
    "IDENTITY_ATTACK": "identity_hate",
    "INSULT": "insult",
    "PROFANITY": "obscene",
    "THREAT": "threat",
}

# limits.md: "The maximum text size per request is 20 KB"; the error (stanford-crfm/helm#1149) names 20480.
COMMENT_MAX_BYTES = 20480

SCORE_TYPE = "PROBABILITY"
LANGUAGE = "en"  # what a model reads when its metadata names no languages
SERVICE = "commentanalyzer.googleapis.com"  # the name Google's errors carry in their metadata

_PERSPECTIVE_ERROR = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"
_TYPES = "type.googleapis.com/google.commentanalyzer.v1alpha1."
_ATTRIBUTE_NAME = re.compile(r"([A-Z_]+)(?:@[0-9]+)?")  # models.md: NAME@VERSION picks a model version
_JSON_CONTEXT = 20  # characters either side of a JSON syntax error (json_stream_parser.cc, ReportFailure)
_MAX_DEPTH = 100  # json_stream_parser.cc, kDefaultMaxRecursionDepth


# -- errors --------------------------------------------------------------------------------------------------
class ApiError(Exception):
    """A refusal, raised anywhere and turned into Google's error body once, by the server.

    Clients written for Perspective match on `message` (e.g. "does not support request languages") and on
    `details[].errorType`, so both are reproduced as Perspective sends them, not paraphrased.
    """

    def __init__(self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.details = details or []
        self.headers: dict[str, str] = {}  # HTTP headers the answer carries besides the body

    def __repr__(self) -> str:
        return f"ApiError({self.code}, {self.status!r}, {self.message!r})"

    def retry_after(self, seconds: float) -> ApiError:
        """This refusal, telling the client when to try again (whole seconds, at least one, as HTTP writes it)."""
        self.headers["Retry-After"] = str(max(1, math.ceil(seconds)))
        return self

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = [dict(detail) for detail in self.details]
        return {"error": error}

    # The API key and the quota: Google's front end, not Perspective, answers these.
    @classmethod
    def missing_key(cls) -> ApiError:
        # GAM-team/got-your-back#219, BenFradet/gsheets4s#1: 403, no details.
        return cls(403, "PERMISSION_DENIED", "The request is missing a valid API key.")

    @classmethod
    def bad_key(cls) -> ApiError:
        # continuedev/continue#8516 (and conversationai/perspectiveapi#51 for the message on this API).
        message = "API key not valid. Please pass a valid API key."
        return cls(400, "INVALID_ARGUMENT", message, [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
             "domain": "googleapis.com", "metadata": {"service": SERVICE}},
            {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": message},
        ])

    @classmethod
    def quota(cls, requests_per_second: float | None = None) -> ApiError:
        """`requests_per_second`: the caller's limit, reported per minute as Google's quotas are."""
        # mlcommons/modelgauge#169: Perspective's own 429, minus the consumer's project number.
        metadata = {"service": SERVICE, "quota_metric": "CommentAnalyzerService/analyze_requests",
                    "quota_limit": "AnalyzeRequestsPerMinutePerProject"}
        if requests_per_second is not None:
            metadata["quota_limit_value"] = f"{requests_per_second * 60:g}"
        return cls(429, "RESOURCE_EXHAUSTED",
                   "Quota exceeded for quota metric 'Analysis requests (AnalyzeComment)' and limit "
                   f"'Analysis requests (AnalyzeComment) per minute' of service '{SERVICE}'.",
                   [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
                     "domain": "googleapis.com", "metadata": metadata}])

    @classmethod
    def body_too_large(cls, limit: int) -> ApiError:
        # The message: PsychoinformaticsLab/pliers#481, googleworkspace/dotnet-samples#23. Those saw it as a 400;
        # ours is 413, which says what went wrong to clients that read only the status (and to /metrics).
        return cls(413, "INVALID_ARGUMENT", f"Request payload size exceeds the limit: {limit} bytes.")

    @classmethod
    def internal(cls) -> ApiError:
        return cls(500, "INTERNAL", "Internal error encountered.")

    @classmethod
    def unavailable(cls) -> ApiError:
        return cls(503, "UNAVAILABLE", "The service is currently unavailable.")

    # The request's content: Perspective's own messages (limits.md), with the ErrorType it lists.
    @classmethod
    def _perspective(cls, message: str, error_type: str | None, **detail: Any) -> ApiError:
        details = [{"@type": _PERSPECTIVE_ERROR, "errorType": error_type, **detail}] if error_type else None
        return cls(400, "INVALID_ARGUMENT", message, details)

    @classmethod
    def comment_empty(cls) -> ApiError:
        # limits.md; the body, details and all: an Android client's test (streetworkapp,
        # PerspectiveAPIRepositoryTest.kt), which copies Perspective's answer.
        return cls._perspective("Comment must be non-empty.", "COMMENT_EMPTY")

    @classmethod
    def comment_too_long(cls, size: int) -> ApiError:
        # stanford-crfm/helm#1149: googleapiclient shows the message as its details, so the body had none.
        return cls._perspective(f"Comment text was too many bytes. Value ({size}) exceeded limit "
                                f"({COMMENT_MAX_BYTES}).", None)

    @classmethod
    def no_attributes(cls) -> ApiError:
        return cls._perspective("Missing requested_attributes", "NO_REQUESTED_ATTRIBUTES")  # limits.md

    @classmethod
    def unknown_attribute(cls, name: str) -> ApiError:
        return cls._perspective(f"Unknown requested attribute: {name}", "INVALID_REQUEST")  # limits.md

    @classmethod
    def unsupported_score_type(cls, score_type: str, attribute: str) -> ApiError:
        return cls._perspective(f"Requested score type {score_type} is not supported by attribute {attribute}",
                                "INVALID_REQUEST")  # limits.md

    @classmethod
    def bad_score_threshold(cls, threshold: float, attribute: str) -> ApiError:
        # Ours: Perspective documents no message for a threshold outside a probability's range.
        return cls._perspective(f"Score threshold {threshold:g} for attribute {attribute} is not in [0, 1].",
                                "INVALID_REQUEST")

    @classmethod
    def language_not_supported(cls, attribute: str, languages: list[str], detected: bool = False) -> ApiError:
        # The message: limits.md and atom/biohazard-alert#11 (for "it"). The details' shape: a googleapiclient
        # HttpError quoted in a script that filters data through Perspective; its languages were detected, hence
        # detectedLanguages there, so a request's own languages go in requestedLanguages (ours; unverified).
        key = "detectedLanguages" if detected else "requestedLanguages"
        return cls._perspective(f"Attribute {attribute} does not support request languages: {', '.join(languages)}",
                                "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
                                languageNotSupportedByAttributeError={key: list(languages), "attribute": attribute})

    @classmethod
    def plain_text_only(cls) -> ApiError:
        # limits.md; methods.md: comment.type "Currently only PLAIN_TEXT is supported".
        return cls._perspective("Currently, only 'PLAIN_TEXT' comments are supported", "INVALID_REQUEST")

    @classmethod
    def two_contexts(cls) -> ApiError:
        return cls._perspective("Context can have either entries or article_and_parent_comment, but both fields "
                                "were populated.", "INVALID_REQUEST")  # limits.md

    # The body as JSON, and as the request message it must encode: Google's front end answers these.
    @classmethod
    def invalid_json(cls, reason: str, text: str, position: int | None) -> ApiError:
        """`reason` at `position` in `text`, pointed at the way protobuf's parser points (json_stream_parser.cc,
        ReportFailure); seen whole in googlecodelabs/feedback#441."""
        message = f"Invalid JSON payload received. {reason}"
        if position is not None:
            begin = max(position - _JSON_CONTEXT, 0)
            segment = text[begin:position + _JSON_CONTEXT]
            message += f"\n{segment}\n{' ' * (position - begin)}^"
        return cls(400, "INVALID_ARGUMENT", message)

    @classmethod
    def _bad_request(cls, message: str, path: str) -> ApiError:
        violation = {"field": path, "description": message} if path else {"description": message}
        return cls(400, "INVALID_ARGUMENT", message,
                   [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}])

    @classmethod
    def not_a_message(cls) -> ApiError:
        # google-wallet/rest-samples#22.
        return cls._bad_request('Invalid JSON payload received. Unknown name "": Root element must be a message.',
                                "")

    @classmethod
    def unknown_field(cls, name: str, path: str) -> ApiError:
        # decolua/9router#1876 (top level), mnfst/llm-gateway#1858 (nested, with the field's path).
        at = f" at '{path}'" if path else ""
        return cls._bad_request(f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.',
                                path)

    @classmethod
    def not_repeating(cls, name: str, path: str) -> ApiError:
        at = f" at '{path}'" if path else ""
        return cls._bad_request(f'Invalid JSON payload received. Unknown name "{name}"{at}: Proto field is not '
                                "repeating, cannot start list.", path)

    @classmethod
    def invalid_value(cls, path: str, type_name: str, value: Any) -> ApiError:
        return cls._bad_request(f"Invalid value at '{path}' ({type_name}), {_json_repr(value)}", path)


def _json_repr(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 100 else text[:97] + "..."


# -- the request -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AttributeRequest:
    score_type: str = SCORE_TYPE
    score_threshold: float | None = None


@dataclass(frozen=True)
class AnalyzeRequest:
    """An AnalyzeComment request that passed every check Perspective makes.

    `attributes` is keyed by the names as requested ("TOXICITY", or "TOXICITY@6"): the response mirrors them.
    `languages` is as requested, empty when the client left the detection to us.
    """

    text: str
    attributes: dict[str, AttributeRequest]
    languages: list[str]
    span_annotations: bool
    client_token: str | None
    do_not_store: bool
    drop_unsupported: bool = False


def attribute_label(name: str) -> str:
    """The toxmod label an accepted attribute name ("INSULT", "INSULT@2") is scored by."""
    match = _ATTRIBUTE_NAME.fullmatch(name)
    if match is None or match.group(1) not in ATTRIBUTES:
        raise KeyError(name)
    return ATTRIBUTES[match.group(1)]


def parse_analyze(raw: bytes, supported: Sequence[str] = (LANGUAGE,)) -> AnalyzeRequest:
    """Read an AnalyzeComment body the way Perspective does, or raise the ApiError Perspective would answer.

    In order: the body as JSON (protobuf's lenient parser: unquoted keys and single quotes are fine, as in
    Perspective's own curl sample), as the request message (unknown fields and wrong types are refused), then
    Perspective's checks: the comment, its size in UTF-8 bytes, the attributes, their score types and
    thresholds, the languages. Only the `supported` languages (those the model reads) are served: a request that
    names another language is refused as Perspective refuses a language an attribute lacks, unless it set
    dropUnsupportedAttributes, which then gets no scores. Without languages the server detects one.
    """
    document = _load_json(raw)
    if not isinstance(document, dict):
        raise ApiError.not_a_message()
    fields = _decode(document, "AnalyzeCommentRequest", "")

    comment = fields.get("comment", {})
    text: str = comment.get("text", "")
    if not text:
        raise ApiError.comment_empty()
    if comment.get("type") == "HTML":
        raise ApiError.plain_text_only()
    size = len(text.encode("utf-8"))
    if size > COMMENT_MAX_BYTES:
        raise ApiError.comment_too_long(size)
    context = fields.get("context", {})
    if context.get("entries") and context.get("article_and_parent_comment"):
        raise ApiError.two_contexts()

    requested: dict[str, dict[str, Any]] = fields.get("requested_attributes", {})
    if not requested:
        raise ApiError.no_attributes()
    attributes: dict[str, AttributeRequest] = {}
    for name, params in requested.items():
        try:
            attribute_label(name)
        except KeyError:
            raise ApiError.unknown_attribute(name) from None
        score_type = params.get("score_type", "SCORE_TYPE_UNSPECIFIED")
        if score_type not in _SCORE_TYPES[:2]:
            raise ApiError.unsupported_score_type(score_type, name)
        threshold: float | None = params.get("score_threshold")
        if threshold is not None and not 0.0 <= threshold <= 1.0:  # NaN fails this too
            raise ApiError.bad_score_threshold(threshold, name)
        attributes[name] = AttributeRequest(score_threshold=threshold)

    languages: list[str] = fields.get("languages", [])
    if not all(language_code(language) in supported for language in languages):
        if not fields.get("drop_unsupported_attributes", False):
            raise ApiError.language_not_supported(next(iter(attributes)), languages)
        attributes = {}

    return AnalyzeRequest(text=text, attributes=attributes, languages=languages,
                          span_annotations=fields.get("span_annotations", False),
                          client_token=fields.get("client_token") or None,
                          do_not_store=fields.get("do_not_store", False),
                          drop_unsupported=fields.get("drop_unsupported_attributes", False))


def language_code(language: str) -> str:
    """ISO and BCP-47 codes are both accepted (discovery, `languages`): "en", "EN", "en-US", "en_GB" are "en"."""
    return language.replace("_", "-").split("-")[0].lower()


# -- the body as JSON ------------------------------------------------------------------------------------------
def _load_json(raw: bytes) -> Any:
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
        assert match is not None  # the pattern matches the empty string
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


# -- the body as the request message -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Field:
    """One field of a request message: its proto name (what Google's errors call it) and how it decodes."""

    proto: str
    kind: str  # "string", "bool", "float", "enum", "message" or "map" (of messages)
    type: str = ""  # the message's or the enum's name
    values: tuple[str, ...] = ()  # an enum's values, in number order
    repeated: bool = False


_TEXT_TYPES = ("TEXT_TYPE_UNSPECIFIED", "PLAIN_TEXT", "HTML")
_SCORE_TYPES = ("SCORE_TYPE_UNSPECIFIED", SCORE_TYPE, "STD_DEV_SCORE", "PERCENTILE", "RAW")
_MESSAGES: dict[str, list[tuple[str, _Field]]] = {
    "AnalyzeCommentRequest": [
        ("comment", _Field("comment", "message", "TextEntry")),
        ("context", _Field("context", "message", "Context")),
        ("requestedAttributes", _Field("requested_attributes", "map", "AttributeParameters")),
        ("languages", _Field("languages", "string", repeated=True)),
        ("doNotStore", _Field("do_not_store", "bool")),
        ("clientToken", _Field("client_token", "string")),
        ("sessionId", _Field("session_id", "string")),
        ("communityId", _Field("community_id", "string")),
        ("spanAnnotations", _Field("span_annotations", "bool")),
        ("dropUnsupportedAttributes", _Field("drop_unsupported_attributes", "bool")),
    ],
    "TextEntry": [
        ("text", _Field("text", "string")),
        ("type", _Field("type", "enum", "TextEntry.TextType", _TEXT_TYPES)),
    ],
    "Context": [
        ("entries", _Field("entries", "message", "TextEntry", repeated=True)),
        ("articleAndParentComment", _Field("article_and_parent_comment", "message", "ArticleAndParentComment")),
    ],
    "ArticleAndParentComment": [
        ("article", _Field("article", "message", "TextEntry")),
        ("parentComment", _Field("parent_comment", "message", "TextEntry")),
    ],
    "AttributeParameters": [
        ("scoreType", _Field("score_type", "enum", "ScoreType", _SCORE_TYPES)),
        ("scoreThreshold", _Field("score_threshold", "float")),
    ],
}
# Proto3's JSON mapping accepts a field by its JSON name or by its proto name (the perspectiveapi-simple-server
# types send requested_attributes).
_FIELDS: dict[str, dict[str, _Field]] = {
    message: {name: f for json_name, f in fields for name in (json_name, f.proto)}
    for message, fields in _MESSAGES.items()
}
_SCALAR_TYPES = {"string": "TYPE_STRING", "bool": "TYPE_BOOL", "float": "TYPE_FLOAT"}


def _decode(document: dict[str, Any], message: str, path: str) -> dict[str, Any]:
    """A JSON object as `message`, keyed by proto names; null is the field left out, as in proto3."""
    decoded: dict[str, Any] = {}
    for name, value in document.items():
        spec = _FIELDS[message].get(name)
        if spec is None:
            raise ApiError.unknown_field(name, path)
        if value is None:
            continue
        where = f"{path}.{spec.proto}" if path else spec.proto
        if spec.kind == "map":
            decoded[spec.proto] = _decode_map(name, value, spec, path, where)
        elif spec.repeated:
            if not isinstance(value, list):
                raise ApiError.invalid_value(where, _type_name(spec), value)
            decoded[spec.proto] = [_decode_one(item, spec, f"{where}[{i}]") for i, item in enumerate(value)]
        elif isinstance(value, list):
            raise ApiError.not_repeating(name, path)
        else:
            decoded[spec.proto] = _decode_one(value, spec, where)
    return decoded


def _decode_map(name: str, value: Any, spec: _Field, path: str, where: str) -> dict[str, dict[str, Any]]:
    if isinstance(value, list):
        raise ApiError.not_repeating(name, path)
    if not isinstance(value, dict):
        raise ApiError.invalid_value(where, _type_name(spec), value)
    entries: dict[str, dict[str, Any]] = {}
    for i, (key, item) in enumerate(value.items()):
        entry = f"{where}[{i}].value"
        if item is None:
            entries[key] = {}
        elif isinstance(item, dict):
            entries[key] = _decode(item, spec.type, entry)
        else:
            raise ApiError.invalid_value(entry, _type_name(spec), item)
    return entries


def _decode_one(value: Any, spec: _Field, where: str) -> Any:
    """One value of `spec`'s type, with the conversions proto3's JSON mapping allows: numbers as strings for a
    float, an enum by name or number, "true"/"false" for a bool."""
    if spec.kind == "message" and isinstance(value, dict):
        return _decode(value, spec.type, where)
    if spec.kind == "string" and isinstance(value, str):
        return value
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
    if spec.kind == "float" and not isinstance(value, bool):
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
    if spec.kind == "enum":
        if isinstance(value, str) and value in spec.values:
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(spec.values):
            return spec.values[value]
    raise ApiError.invalid_value(where, _type_name(spec), value)


def _type_name(spec: _Field) -> str:
    return _SCALAR_TYPES.get(spec.kind) or f"{_TYPES}{spec.type}"


# -- spans -------------------------------------------------------------------------------------------------------
# A sentence ends at a run of . ! ? (with any closing quotes or brackets) followed by whitespace or the end, or
# at a line break: Discord messages put one thought a line.
# (The look-behind starts a match only where a run of punctuation starts: without it the engine retries inside
# the run, and 20,000 dots took 6 s.)
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


def _utf16_offsets(text: str) -> Callable[[int], int]:
    """str index -> UTF-16 code unit index, which is what Perspective's spans count (discovery, SpanScore:
    "The values are the UTF-16 codepoint range"): JavaScript, Java and C# clients slice with them. They differ
    from str indices only after a character outside the BMP, which Discord's emoji often are."""
    if not any(ord(char) > 0xFFFF for char in text):
        return _same
    prefix = [0]
    for char in text:
        prefix.append(prefix[-1] + (2 if ord(char) > 0xFFFF else 1))
    return prefix.__getitem__


# -- the response --------------------------------------------------------------------------------------------------
def analyze_response(request: AnalyzeRequest, summary: dict[str, float],
                     spans: list[tuple[int, int, dict[str, float]]] | None,
                     detected: Sequence[str] = (LANGUAGE,)) -> dict[str, Any]:
    """The AnalyzeComment response, from scores keyed by toxmod label.

    `spans` are (begin, end, scores) with str indices, as `sentence_spans` gives them; they are answered in
    UTF-16 code units, as Perspective counts. A scoreThreshold leaves out what is below it: the attribute
    whole when its summary is (methods.md), single spans otherwise; with nothing left, attributeScores itself
    is left out, as Perspective does (sloria/perspective-api-client#175). Empty lists are left out too: the
    response is a proto3 message.
    """
    to_utf16 = _utf16_offsets(request.text)
    scores: dict[str, Any] = {}
    for name, wanted in request.attributes.items():
        label = attribute_label(name)
        value = float(summary[label])
        threshold = wanted.score_threshold
        if threshold is not None and value < threshold:
            continue
        entry: dict[str, Any] = {}
        if request.span_annotations and spans:
            kept = [{"begin": to_utf16(begin), "end": to_utf16(end),
                     "score": {"value": float(values[label]), "type": wanted.score_type}}
                    for begin, end, values in spans if threshold is None or values[label] >= threshold]
            if kept:
                entry["spanScores"] = kept
        entry["summaryScore"] = {"value": value, "type": wanted.score_type}
        scores[name] = entry
    response: dict[str, Any] = {}
    if scores:
        response["attributeScores"] = scores
    response["languages"] = list(request.languages) or list(detected)
    response["detectedLanguages"] = list(detected)
    if request.client_token:
        response["clientToken"] = request.client_token
    return response


# -- the discovery document ------------------------------------------------------------------------------------
def _parameter(description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "location": "query", "type": "string", **extra}


def _schema(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"id": name, "description": description, "type": "object", "properties": properties}


_SCORE_TYPE_ENUM = {"type": "string", "enum": list(_SCORE_TYPES)}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def discovery_document(root_url: str) -> dict[str, Any]:
    """The commentanalyzer v1alpha1 REST discovery document, serving from `root_url`, for clients that build
    themselves from it (googleapiclient's `discovery.build`, Node's `googleapis.discoverAPI`).

    Google's structure, field for field where a client reads it (discovery, revision 20190414 and its later
    one), less what toxmod does not serve: suggestscore, OAuth scopes (without them a client given no key
    does not go looking for Google credentials) and the mTLS root. Descriptions say what toxmod does.
    """
    root = root_url if root_url.endswith("/") else root_url + "/"
    text_entry = {"$ref": "TextEntry"}
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": "commentanalyzer:v1alpha1",
        "name": "commentanalyzer",
        "canonicalName": "Comment Analyzer",
        "version": "v1alpha1",
        "version_module": True,
        "title": "Perspective Comment Analyzer API (toxmod)",
        "description": "Perspective's AnalyzeComment, served by toxmod's own multilabel toxicity model: "
                       "TOXICITY, SEVERE_TOXICITY, IDENTITY_ATTACK, INSULT, PROFANITY and THREAT, in English.",
        "documentationLink": "https://github.com/conversationai/perspectiveapi/blob/main/2-api/methods.md",
        "protocol": "rest",
        "rootUrl": root,
        "servicePath": "",
        "baseUrl": root,
        "basePath": "",
        "batchPath": "batch",
        "parameters": {
            "$.xgafv": _parameter("V1 error format.", enum=["1", "2"],
                                  enumDescriptions=["v1 error format", "v2 error format"]),
            "access_token": _parameter("OAuth access token."),
            "alt": _parameter("Data format for response.", default="json", enum=["json", "media", "proto"],
                              enumDescriptions=["Responses with Content-Type of application/json",
                                                "Media download with context-dependent Content-Type",
                                                "Responses with Content-Type of application/x-protobuf"]),
            "callback": _parameter("JSONP"),
            "fields": _parameter("Selector specifying which fields to include in a partial response."),
            "key": _parameter("API key. Your API key identifies your project and provides you with API access, "
                              "quota, and reports. Required unless you provide an OAuth 2.0 token."),
            "oauth_token": _parameter("OAuth 2.0 token for the current user."),
            "prettyPrint": {"description": "Returns response with indentations and line breaks.",
                            "location": "query", "type": "boolean", "default": "true"},
            "quotaUser": _parameter("Available to use for quota purposes for server-side applications. Can be any "
                                    "arbitrary string assigned to a user, but should not exceed 40 characters."),
            "uploadType": _parameter('Legacy upload protocol for media (e.g. "media", "multipart").'),
            "upload_protocol": _parameter('Upload protocol for media (e.g. "raw", "multipart").'),
        },
        "resources": {
            "comments": {
                "methods": {
                    "analyze": {
                        "id": "commentanalyzer.comments.analyze",
                        "description": "Analyzes the provided text and returns scores for requested attributes.",
                        "httpMethod": "POST",
                        "path": "v1alpha1/comments:analyze",
                        "flatPath": "v1alpha1/comments:analyze",
                        "parameterOrder": [],
                        "parameters": {},
                        "request": {"$ref": "AnalyzeCommentRequest"},
                        "response": {"$ref": "AnalyzeCommentResponse"},
                    },
                },
            },
        },
        "schemas": {
            "AnalyzeCommentRequest": _schema("AnalyzeCommentRequest", "The comment analysis request message.", {
                "comment": {"$ref": "TextEntry", "description": "The comment to analyze."},
                "context": {"$ref": "Context", "description": "The context of the comment (not used in scoring)."},
                "requestedAttributes": {
                    "type": "object", "additionalProperties": {"$ref": "AttributeParameters"},
                    "description": "The attributes to score, each with its parameters ({} for the defaults). "
                                   "Served: " + ", ".join(ATTRIBUTES) + "; NAME@VERSION is accepted."},
                "languages": {**_STRINGS,
                              "description": "The language(s) of the comment; if none, it is detected. "
                                             "Only the languages the served model reads are supported (the "
                                             "shipped model: English, \"en\", \"en-US\", ...)."},
                "doNotStore": {"type": "boolean", "description": "Do not store the comment (toxmod never does)."},
                "clientToken": {"type": "string",
                                "description": "Opaque token that is echoed from the request to the response."},
                "sessionId": {"type": "string", "description": "Session ID (accepted, not used)."},
                "communityId": {"type": "string", "description": "Community ID (accepted, not used)."},
                "spanAnnotations": {"type": "boolean",
                                    "description": "Also return a score for each sentence of the comment."},
                "dropUnsupportedAttributes": {
                    "type": "boolean",
                    "description": "Drop the attributes the comment's language lacks instead of failing."},
            }),
            "AnalyzeCommentResponse": _schema("AnalyzeCommentResponse", "The comment analysis response message.", {
                "attributeScores": {"type": "object", "additionalProperties": {"$ref": "AttributeScores"},
                                    "description": "Scores for the requested attributes, keyed as requested."},
                "languages": {**_STRINGS, "description": "The languages requested, or the one assumed."},
                "detectedLanguages": {**_STRINGS, "description": "The languages detected in the comment."},
                "clientToken": {"type": "string",
                                "description": "Same token from the original AnalyzeCommentRequest."},
            }),
            "ArticleAndParentComment": _schema(
                "ArticleAndParentComment", "The article a comment was left on, and the comment it replies to.", {
                    "article": {**text_entry, "description": "The source content the comment was made about."},
                    "parentComment": {**text_entry, "description": "The comment this comment replies to."},
                }),
            "AttributeParameters": _schema("AttributeParameters", "Configurable parameters for attribute scoring.", {
                "scoreThreshold": {"type": "number", "format": "float",
                                   "description": "Don't return scores for this attribute that are below this "
                                                  "threshold, in [0, 1]."},
                "scoreType": {**_SCORE_TYPE_ENUM,
                              "description": "What type of scores to return; only PROBABILITY is supported."},
            }),
            "AttributeScores": _schema("AttributeScores", "Score values for a single attribute.", {
                "spanScores": {"type": "array", "items": {"$ref": "SpanScore"}, "description": "Per-span scores."},
                "summaryScore": {"$ref": "Score", "description": "Overall score for comment as a whole."},
            }),
            "Context": _schema("Context", "What a comment references or replies to: one of the two fields.", {
                "articleAndParentComment": {"$ref": "ArticleAndParentComment",
                                            "description": "The article, and any parent comment."},
                "entries": {"type": "array", "items": text_entry,
                            "description": "A list of messages, e.g. a linear comments section."},
            }),
            "Score": _schema("Score", "Analysis scores are described by a value and a ScoreType.", {
                "type": {**_SCORE_TYPE_ENUM, "description": "The type of the value."},
                "value": {"type": "number", "format": "float", "description": "Score value."},
            }),
            "SpanScore": _schema("SpanScore", "This is a single score for a given span of text.", {
                "begin": {"type": "integer", "format": "int32",
                          "description": "\"begin\" and \"end\" describe the span of the original text that the "
                                         "score applies to, in UTF-16 code units; \"end\" is exclusive."},
                "end": {"type": "integer", "format": "int32"},
                "score": {"$ref": "Score", "description": "The score value."},
            }),
            "TextEntry": _schema("TextEntry", "Represents a body of text.", {
                "text": {"type": "string", "description": "UTF-8 encoded text, at most 20480 bytes."},
                "type": {"type": "string", "enum": list(_TEXT_TYPES),
                         "description": "Type of the text field; only plain text is supported."},
            }),
        },
    }

