"""Perspective's wire protocol as pure functions: what a request means, what the answer looks like, and every
refusal in Google's own words, so that a tool written for Perspective keeps working when its URL points here.

No I/O and no model: the server reads the body, calls `parse_analyze`, scores, and answers with
`analyze_response` or `ApiError.body()`. One job a module:

- `vocabulary`: the attribute names, the score type, the comment size limit, the messages' type URLs;
- `errors`: `ApiError`, every refusal as Perspective or Google's front end words it;
- `protobuf_json`: the body read as protobuf's lenient JSON parser reads it, refusals worded as it words them;
- `schema`: the request messages' fields, and a JSON object decoded as one of them;
- `request`: `parse_analyze`, Perspective's own checks on the decoded request;
- `spans`: a comment's sentences, and their offsets in UTF-16 code units;
- `response`: `analyze_response`;
- `discovery`: the discovery document Google's clients build themselves from.

Where a message is Google's, the comment above it says where it was seen; the few that are ours say so. The
references, by short name:

- methods.md, limits.md, models.md: github.com/conversationai/perspectiveapi, folder 2-api/ (limits.md as of
  PR #103, the 20 KB limit and the ErrorType list).
- discovery: the commentanalyzer v1alpha1 discovery document (googleapis/google-api-go-client,
  commentanalyzer/v1alpha1/commentanalyzer-api.json, and its later revision in APIs-guru/openapi-directory).
- json_stream_parser.cc: protobuf's JSON parser (src/google/protobuf/util/internal/), which Google's front end
  uses to read request bodies; its messages come back prefixed with "Invalid JSON payload received. ".
"""

from bot.api.perspective.discovery import discovery_document
from bot.api.perspective.errors import ApiError
from bot.api.perspective.request import AnalyzeRequest, AttributeRequest, language_code, parse_analyze
from bot.api.perspective.response import analyze_response
from bot.api.perspective.spans import sentence_spans
from bot.api.perspective.vocabulary import ATTRIBUTES, COMMENT_MAX_BYTES, attribute_label

__all__ = [
    "ATTRIBUTES",
    "COMMENT_MAX_BYTES",
    "AnalyzeRequest",
    "ApiError",
    "AttributeRequest",
    "analyze_response",
    "attribute_label",
    "discovery_document",
    "language_code",
    "parse_analyze",
    "sentence_spans",
]
