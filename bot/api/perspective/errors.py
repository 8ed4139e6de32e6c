"""Every refusal the API answers, in Google's own words and error format: Perspective's for the request's
content, Google's front end's for keys, quotas and bodies it cannot read as the request message.

Clients written for Perspective match on the message and on `details[].errorType`, so each is reproduced as
it was seen, not paraphrased: the comment above each says where (the references are listed in the package's
docstring); the few that are ours say so.
"""

from __future__ import annotations

import json
import math
from typing import Any

from bot.api.perspective.vocabulary import COMMENT_MAX_BYTES, TYPE_PREFIX

SERVICE = "commentanalyzer.googleapis.com"  # the name Google's errors carry in their metadata

_PERSPECTIVE_ERROR = f"{TYPE_PREFIX}Error"
_JSON_CONTEXT = 20  # characters either side of a JSON syntax error (json_stream_parser.cc, ReportFailure)


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
        """The JSON body of the answer, in Google's error layout (`error.code`, `status`, `details`)."""
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = [dict(detail) for detail in self.details]
        return {"error": error}

    # The API key and the quota: Google's front end, not Perspective, answers these.
    @classmethod
    def missing_key(cls) -> ApiError:
        """403 PERMISSION_DENIED: the request has no API key."""
        # GAM-team/got-your-back#219, BenFradet/gsheets4s#1: 403, no details.
        return cls(403, "PERMISSION_DENIED", "The request is missing a valid API key.")

    @classmethod
    def bad_key(cls) -> ApiError:
        """400 INVALID_ARGUMENT: the API key is not one this server accepts."""
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
        """413: the request body is larger than `limit` bytes."""
        # The message: PsychoinformaticsLab/pliers#481, googleworkspace/dotnet-samples#23. Those saw it as a 400;
        # ours is 413, which says what went wrong to clients that read only the status (and to /metrics).
        return cls(413, "INVALID_ARGUMENT", f"Request payload size exceeds the limit: {limit} bytes.")

    @classmethod
    def internal(cls) -> ApiError:
        """500 INTERNAL: something failed that the client cannot fix."""
        return cls(500, "INTERNAL", "Internal error encountered.")

    @classmethod
    def unavailable(cls) -> ApiError:
        """503 UNAVAILABLE: the server cannot answer now (shutting down, or the model not loaded)."""
        return cls(503, "UNAVAILABLE", "The service is currently unavailable.")

    # The request's content: Perspective's own messages (limits.md), with the ErrorType it lists.
    @classmethod
    def _perspective(cls, message: str, error_type: str | None, **detail: Any) -> ApiError:
        details = [{"@type": _PERSPECTIVE_ERROR, "errorType": error_type, **detail}] if error_type else None
        return cls(400, "INVALID_ARGUMENT", message, details)

    @classmethod
    def comment_empty(cls) -> ApiError:
        """400 COMMENT_EMPTY: the comment's text is empty."""
        # limits.md; the body, details and all: an Android client's test (streetworkapp,
        # PerspectiveAPIRepositoryTest.kt), which copies Perspective's answer.
        return cls._perspective("Comment must be non-empty.", "COMMENT_EMPTY")

    @classmethod
    def comment_too_long(cls, size: int) -> ApiError:
        """400: the comment is longer than Perspective accepts, `size` bytes."""
        # stanford-crfm/helm#1149: googleapiclient shows the message as its details, so the body had none.
        return cls._perspective(f"Comment text was too many bytes. Value ({size}) exceeded limit "
                                f"({COMMENT_MAX_BYTES}).", None)

    @classmethod
    def no_attributes(cls) -> ApiError:
        """400 NO_REQUESTED_ATTRIBUTES: the request asks for no attribute."""
        return cls._perspective("Missing requested_attributes", "NO_REQUESTED_ATTRIBUTES")  # limits.md

    @classmethod
    def unknown_attribute(cls, name: str) -> ApiError:
        """400 INVALID_REQUEST: an attribute that this server does not score."""
        return cls._perspective(f"Unknown requested attribute: {name}", "INVALID_REQUEST")  # limits.md

    @classmethod
    def unsupported_score_type(cls, score_type: str, attribute: str) -> ApiError:
        """400 INVALID_REQUEST: a score type the attribute does not have."""
        return cls._perspective(f"Requested score type {score_type} is not supported by attribute {attribute}",
                                "INVALID_REQUEST")  # limits.md

    @classmethod
    def bad_score_threshold(cls, threshold: float, attribute: str) -> ApiError:
        """400 INVALID_REQUEST: a score threshold outside [0, 1]."""
        # Ours: Perspective documents no message for a threshold outside a probability's range.
        return cls._perspective(f"Score threshold {threshold:g} for attribute {attribute} is not in [0, 1].",
                                "INVALID_REQUEST")

    @classmethod
    def language_not_supported(cls, attribute: str, languages: list[str], detected: bool = False) -> ApiError:
        """400 LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE: the attribute cannot read the requested (or detected) languages."""
        # The message: limits.md and atom/biohazard-alert#11 (for "it"). The details' shape: a googleapiclient
        # HttpError quoted in a script that filters data through Perspective; its languages were detected, hence
        # detectedLanguages there, so a request's own languages go in requestedLanguages (ours; unverified).
        key = "detectedLanguages" if detected else "requestedLanguages"
        return cls._perspective(f"Attribute {attribute} does not support request languages: {', '.join(languages)}",
                                "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
                                languageNotSupportedByAttributeError={key: list(languages), "attribute": attribute})

    @classmethod
    def plain_text_only(cls) -> ApiError:
        """400 INVALID_REQUEST: a comment type other than PLAIN_TEXT."""
        # limits.md; methods.md: comment.type "Currently only PLAIN_TEXT is supported".
        return cls._perspective("Currently, only 'PLAIN_TEXT' comments are supported", "INVALID_REQUEST")

    @classmethod
    def two_contexts(cls) -> ApiError:
        """400 INVALID_REQUEST: a context with both of its alternative fields."""
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
        """400: the JSON body is not an object."""
        # google-wallet/rest-samples#22.
        return cls._bad_request('Invalid JSON payload received. Unknown name "": Root element must be a message.',
                                "")

    @classmethod
    def unknown_field(cls, name: str, path: str) -> ApiError:
        """400: a field the request message does not have, at `path`."""
        # decolua/9router#1876 (top level), mnfst/llm-gateway#1858 (nested, with the field's path).
        at = f" at '{path}'" if path else ""
        return cls._bad_request(f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.',
                                path)

    @classmethod
    def not_repeating(cls, name: str, path: str) -> ApiError:
        """400: a list given for a field that holds one value, at `path`."""
        at = f" at '{path}'" if path else ""
        return cls._bad_request(f'Invalid JSON payload received. Unknown name "{name}"{at}: Proto field is not '
                                "repeating, cannot start list.", path)

    @classmethod
    def invalid_value(cls, path: str, type_name: str, value: Any) -> ApiError:
        """400: a value of the wrong type for the field at `path`."""
        return cls._bad_request(f"Invalid value at '{path}' ({type_name}), {_json_repr(value)}", path)


def _json_repr(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 100 else text[:97] + "..."
