"""An AnalyzeComment request read the way Perspective reads it: the body as JSON, as the request message, then
Perspective's own checks, each failing with the refusal Perspective would answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.api.perspective.errors import ApiError
from bot.api.perspective.protobuf_json import load_json
from bot.api.perspective.schema import SCORE_TYPES, decode
from bot.api.perspective.vocabulary import COMMENT_MAX_BYTES, SCORE_TYPE, attribute_label

LANGUAGE = "en"  # what a model reads when its metadata names no languages


@dataclass(frozen=True)
class AttributeRequest:
    """One requested attribute's options: its score type and the threshold below which it is left out."""

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


def parse_analyze(raw: bytes, supported: Sequence[str] = (LANGUAGE,)) -> AnalyzeRequest:
    """Read an AnalyzeComment body the way Perspective does, or raise the ApiError Perspective would answer.

    In order: the body as JSON (protobuf's lenient parser: unquoted keys and single quotes are fine, as in
    Perspective's own curl sample), as the request message (unknown fields and wrong types are refused), then
    Perspective's checks: the comment, its size in UTF-8 bytes, the attributes, their score types and
    thresholds, the languages. Only the `supported` languages (those the model reads) are served: a request that
    names another language is refused as Perspective refuses a language an attribute lacks, unless it set
    dropUnsupportedAttributes, which then gets no scores. Without languages the server detects one.
    """
    document = load_json(raw)
    if not isinstance(document, dict):
        raise ApiError.not_a_message()
    fields = decode(document, "AnalyzeCommentRequest", "")
    text = _comment_text(fields)
    attributes = _requested_attributes(fields)
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


def _comment_text(fields: dict[str, Any]) -> str:
    """The comment's text, once Perspective's checks on the comment and its context pass."""
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
    return text


def _requested_attributes(fields: dict[str, Any]) -> dict[str, AttributeRequest]:
    """The requested attributes, each one served, in a score type we answer, with a threshold in [0, 1]."""
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
        if score_type not in SCORE_TYPES[:2]:
            raise ApiError.unsupported_score_type(score_type, name)
        threshold: float | None = params.get("score_threshold")
        if threshold is not None and not 0.0 <= threshold <= 1.0:  # NaN fails this too
            raise ApiError.bad_score_threshold(threshold, name)
        attributes[name] = AttributeRequest(score_threshold=threshold)
    return attributes


def language_code(language: str) -> str:
    """ISO and BCP-47 codes are both accepted (discovery, `languages`): "en", "EN", "en-US", "en_GB" are "en"."""
    return language.replace("_", "-").split("-")[0].lower()
