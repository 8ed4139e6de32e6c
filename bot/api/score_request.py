"""A `POST /v1/score` body read and checked: toxmod's own batch endpoint, whose refusals take the API's one
error format, so a client reads them as it reads comments:analyze's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.api.perspective import COMMENT_MAX_BYTES, ApiError

MAX_DIGITS = 40  # a JSON integer longer than this is no id /v1/score reads (and Python refuses 4,300 digits)
TOO_LONG = object()  # stands for a JSON integer too long to read (`_bounded_int`)


@dataclass(frozen=True)
class ScoreRequest:
    """{"texts": [...], "guild_id": optional, "model": optional}, every field checked."""

    texts: list[str]
    guild_id: int | None
    model: str | None


def parse_score(raw: bytes, max_texts: int) -> ScoreRequest:
    """The body as a ScoreRequest, or the ApiError that says what is wrong with it."""
    body = _load_batch(raw)
    if not isinstance(body, dict):
        raise ApiError(400, "INVALID_ARGUMENT", "The request body must be a JSON object.")
    texts, guild_id, model = _checked_texts(body.get("texts"), max_texts), body.get("guild_id"), body.get("model")
    if guild_id is not None and (not isinstance(guild_id, int) or isinstance(guild_id, bool)
                                 or not 0 <= guild_id < 2**63):
        raise ApiError(400, "INVALID_ARGUMENT", "guild_id must be a Discord server id (a number).")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "INVALID_ARGUMENT", "model must be the name of a folder in models/.")
    return ScoreRequest(texts, guild_id, model)


def _checked_texts(texts: Any, limit: int) -> list[str]:
    """1 to `limit` texts, each with something to score and within Perspective's size; refused otherwise."""
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ApiError(400, "INVALID_ARGUMENT", "texts must be a non-empty list of strings.")
    if len(texts) > limit:
        raise ApiError(400, "INVALID_ARGUMENT", f"Too many texts: {len(texts)} (at most {limit} a request).")
    for i, text in enumerate(texts):
        if not text.strip():
            raise ApiError(400, "INVALID_ARGUMENT", f"texts[{i}] is empty.")
        if len(text.encode("utf-8", "surrogatepass")) > COMMENT_MAX_BYTES:
            raise ApiError(400, "INVALID_ARGUMENT", f"texts[{i}] is longer than {COMMENT_MAX_BYTES} bytes.")
    return texts


def _load_batch(raw: bytes) -> Any:
    """A /v1/score body as JSON, refused as comments:analyze refuses the same faults."""
    try:
        return json.loads(raw, parse_int=_bounded_int)
    except RecursionError:  # nested past the parser's stack
        raise ApiError.invalid_json("Message too deep.", "", None) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {exc}") from None


def _bounded_int(digits: str) -> object:
    """A JSON integer, or for one too long to be anything this endpoint reads, a value every check refuses
    (reading thousands of digits would fail with advice about `sys.set_int_max_str_digits`)."""
    return int(digits) if len(digits) <= MAX_DIGITS else TOO_LONG
