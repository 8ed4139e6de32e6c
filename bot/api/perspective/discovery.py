"""The discovery document, served at `/$discovery/rest`: what Google's clients read to build their calls, so
that a program written against Perspective with Google's client library needs only a new root URL."""

from __future__ import annotations

from typing import Any

from bot.api.perspective.schema import SCORE_TYPES, TEXT_TYPES
from bot.api.perspective.vocabulary import ATTRIBUTES


def _parameter(description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "location": "query", "type": "string", **extra}


def _schema(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"id": name, "description": description, "type": "object", "properties": properties}


_SCORE_TYPE_ENUM = {"type": "string", "enum": list(SCORE_TYPES)}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def discovery_document(root_url: str) -> dict[str, Any]:
    """The commentanalyzer v1alpha1 REST discovery document, serving from `root_url`, for clients that build
    themselves from it (googleapiclient's `discovery.build`, Node's `googleapis.discoverAPI`).

    Google's structure, field for field where a client reads it (discovery, revision 20190414 and its later
    one), less what toxmod does not serve: suggestscore, OAuth scopes (without them a client given no key
    does not go looking for Google credentials) and the mTLS root. Descriptions say what toxmod does.
    """
    root = root_url if root_url.endswith("/") else root_url + "/"
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
        "parameters": _parameters(),
        "resources": _resources(),
        "schemas": dict(sorted({**_request_schemas(), **_response_schemas()}.items())),
    }


def _parameters() -> dict[str, Any]:
    """The query parameters every Google API takes: clients build their calls' optional arguments from them."""
    return {
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
    }


def _resources() -> dict[str, Any]:
    """comments.analyze, the one method served (suggestscore is not)."""
    return {
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
    }


def _request_schemas() -> dict[str, Any]:
    """The messages a request is made of."""
    text_entry = {"$ref": "TextEntry"}
    return {
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
        "Context": _schema("Context", "What a comment references or replies to: one of the two fields.", {
            "articleAndParentComment": {"$ref": "ArticleAndParentComment",
                                        "description": "The article, and any parent comment."},
            "entries": {"type": "array", "items": text_entry,
                        "description": "A list of messages, e.g. a linear comments section."},
        }),
        "TextEntry": _schema("TextEntry", "Represents a body of text.", {
            "text": {"type": "string", "description": "UTF-8 encoded text, at most 20480 bytes."},
            "type": {"type": "string", "enum": list(TEXT_TYPES),
                     "description": "Type of the text field; only plain text is supported."},
        }),
    }


def _response_schemas() -> dict[str, Any]:
    """The messages a response is made of."""
    return {
        "AnalyzeCommentResponse": _schema("AnalyzeCommentResponse", "The comment analysis response message.", {
            "attributeScores": {"type": "object", "additionalProperties": {"$ref": "AttributeScores"},
                                "description": "Scores for the requested attributes, keyed as requested."},
            "languages": {**_STRINGS, "description": "The languages requested, or the one assumed."},
            "detectedLanguages": {**_STRINGS, "description": "The languages detected in the comment."},
            "clientToken": {"type": "string",
                            "description": "Same token from the original AnalyzeCommentRequest."},
        }),
        "AttributeScores": _schema("AttributeScores", "Score values for a single attribute.", {
            "spanScores": {"type": "array", "items": {"$ref": "SpanScore"}, "description": "Per-span scores."},
            "summaryScore": {"$ref": "Score", "description": "Overall score for comment as a whole."},
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
    }
