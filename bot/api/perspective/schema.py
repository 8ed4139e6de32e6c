"""The request messages' fields, and a JSON object read as one of them the way proto3's JSON mapping reads it:
unknown fields and wrong types are refused, naming the field's path as Google's errors name it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.api.perspective.errors import ApiError
from bot.api.perspective.vocabulary import SCORE_TYPE, TYPE_PREFIX


@dataclass(frozen=True)
class _Field:
    """One field of a request message: its proto name (what Google's errors call it) and how it decodes."""

    proto: str
    kind: str  # "string", "bool", "float", "enum", "message" or "map" (of messages)
    type: str = ""  # the message's or the enum's name
    values: tuple[str, ...] = ()  # an enum's values, in number order
    repeated: bool = False


TEXT_TYPES = ("TEXT_TYPE_UNSPECIFIED", "PLAIN_TEXT", "HTML")
SCORE_TYPES = ("SCORE_TYPE_UNSPECIFIED", SCORE_TYPE, "STD_DEV_SCORE", "PERCENTILE", "RAW")
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
        ("type", _Field("type", "enum", "TextEntry.TextType", TEXT_TYPES)),
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
        ("scoreType", _Field("score_type", "enum", "ScoreType", SCORE_TYPES)),
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


def decode(document: dict[str, Any], message: str, path: str) -> dict[str, Any]:
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
            entries[key] = decode(item, spec.type, entry)
        else:
            raise ApiError.invalid_value(entry, _type_name(spec), item)
    return entries


def _decode_one(value: Any, spec: _Field, where: str) -> Any:
    """One value of `spec`'s type, with the conversions proto3's JSON mapping allows: numbers as strings for a
    float, an enum by name or number, "true"/"false" for a bool."""
    if spec.kind == "message" and isinstance(value, dict):
        return decode(value, spec.type, where)
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
    return _SCALAR_TYPES.get(spec.kind) or f"{TYPE_PREFIX}{spec.type}"
