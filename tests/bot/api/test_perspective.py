"""Perspective's protocol: requests as its documentation writes them, answers and refusals as Perspective
sends them (each expected body cites where it was seen), and Google's own client building calls from our
discovery document.

Doc files are github.com/conversationai/perspectiveapi paths; issues are github.com/<repo>/issues/<n>.
"""

from __future__ import annotations

import importlib
import itertools
import json
import time
from typing import Any

import pytest

from bot.api.perspective import (
    ATTRIBUTES,
    COMMENT_MAX_BYTES,
    AnalyzeRequest,
    ApiError,
    AttributeRequest,
    analyze_response,
    attribute_label,
    discovery_document,
    parse_analyze,
    sentence_spans,
)
from bot.labels import LABELS

# 2-api/methods.md, "AnalyzeComment example".
DOC_TEXT = "What kind of idiot name is foo? Sorry, I like your name."
# 1-get-started/sample.md, "Using cURL": the body exactly as the sample sends it (unquoted keys).
CURL_SAMPLE = (b"{comment: {text: \"what kind of idiot name is foo?\"},\n"
               b"          languages: [\"en\"],\n"
               b"          requestedAttributes: {TOXICITY:{}} }")
SCORES = {"toxic": 0.9, "severe_toxic": 0.2, "obscene": 0.4, "threat": 0.05, "insult": 0.7, "identity_hate": 0.01}


def body(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def refusal(raw: bytes) -> dict[str, Any]:
    with pytest.raises(ApiError) as caught:
        parse_analyze(raw)
    return caught.value.body()


def request(text: str = "hi", **fields: Any) -> bytes:
    return body({"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}, **fields})


def perspective_error(message: str, error_type: str, **detail: Any) -> dict[str, Any]:
    return {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT", "details": [
        {"@type": "type.googleapis.com/google.commentanalyzer.v1alpha1.Error", "errorType": error_type, **detail}]}}


# -- the mapping ----------------------------------------------------------------------------------------------
def test_every_attribute_names_a_label_and_every_label_is_served() -> None:
    assert sorted(ATTRIBUTES.values()) == sorted(LABELS)
    assert COMMENT_MAX_BYTES == 20480
    assert attribute_label("PROFANITY") == "obscene"
    assert attribute_label("PROFANITY@2") == "obscene"  # 2-api/models.md: NAME@VERSION
    for name in ("FLIRTATION", "toxicity", "TOXICITY@", "TOXICITY@x"):
        with pytest.raises(KeyError):
            attribute_label(name)


# -- parsing requests as the docs write them --------------------------------------------------------------------
def test_parses_the_documented_analyze_request() -> None:
    # 2-api/methods.md, "AnalyzeComment example" (less UNSUBSTANTIAL, which toxmod does not serve).
    parsed = parse_analyze(body({"comment": {"text": DOC_TEXT}, "languages": ["en"],
                                 "requestedAttributes": {"TOXICITY": {}}}))
    assert parsed == AnalyzeRequest(text=DOC_TEXT, attributes={"TOXICITY": AttributeRequest()}, languages=["en"],
                                    span_annotations=False, client_token=None, do_not_store=False)


def test_parses_the_curl_sample_with_its_unquoted_keys() -> None:
    parsed = parse_analyze(CURL_SAMPLE)
    assert parsed.text == "what kind of idiot name is foo?"
    assert parsed.attributes == {"TOXICITY": AttributeRequest()}
    assert parsed.languages == ["en"]


def test_parses_every_field_of_the_request_message() -> None:
    # 2-api/methods.md, "AnalyzeComment request": every field, with the six attributes toxmod serves.
    parsed = parse_analyze(body({
        "comment": {"text": "You are a gaylord. I will kill you.", "type": "PLAIN_TEXT"},
        "context": {"entries": [{"text": "earlier", "type": "PLAIN_TEXT"}]},
        "requestedAttributes": {name: {"scoreType": "PROBABILITY", "scoreThreshold": 0.5} for name in ATTRIBUTES},
        "languages": ["en"], "doNotStore": True, "clientToken": "comment-53922", "sessionId": "s",
        "communityId": "/forum/movies", "spanAnnotations": True, "dropUnsupportedAttributes": False,
    }))
    assert list(parsed.attributes) == list(ATTRIBUTES)
    assert set(parsed.attributes.values()) == {AttributeRequest("PROBABILITY", 0.5)}
    assert (parsed.span_annotations, parsed.do_not_store, parsed.client_token) == (True, True, "comment-53922")


def test_accepts_proto_field_names_and_protobufs_json_leniency() -> None:
    # proto3 JSON accepts proto names (perspectiveapi-simple-server's types send requested_attributes); protobuf's
    # parser (json_stream_parser.cc) accepts single quotes and trailing commas.
    parsed = parse_analyze(b"{'comment': {'text': 'it\\'s fine',}, 'requested_attributes': {'INSULT@2': "
                           b"{'score_threshold': '0.25', 'score_type': 1}}, 'span_annotations': 'true',}")
    assert parsed.text == "it's fine"
    assert parsed.attributes == {"INSULT@2": AttributeRequest(score_threshold=0.25)}
    assert parsed.span_annotations is True


def test_null_fields_are_left_out_and_english_is_assumed() -> None:
    parsed = parse_analyze(request(languages=None, clientToken=None, spanAnnotations=None))
    assert (parsed.languages, parsed.client_token, parsed.span_annotations) == ([], None, False)


@pytest.mark.parametrize("languages", [["en"], ["EN"], ["en-US"], ["en_GB"], ["en", "en-AU"], []])
def test_english_in_any_spelling_is_served(languages: list[str]) -> None:
    assert parse_analyze(request(languages=languages)).languages == languages


def test_reads_emoji_escaped_as_googles_python_client_escapes_them() -> None:
    raw = request("🖕 you")  # json.dumps, as googleapiclient's JsonModel: a surrogate pair of \\u escapes
    assert b"\\ud83d\\udd95" in raw
    assert parse_analyze(raw).text == "🖕 you"


def test_the_byte_limit_counts_utf8_bytes() -> None:
    assert parse_analyze(request("é" * (COMMENT_MAX_BYTES // 2))).text == "é" * 10240  # exactly 20480 bytes
    assert parse_analyze(request("🖕" * (COMMENT_MAX_BYTES // 4))).text  # 4 bytes each, exactly 20480


# -- refusals, as Perspective words them -----------------------------------------------------------------------
def test_refuses_an_unsupported_language_as_perspective_refuses_one() -> None:
    # atom/biohazard-alert#11: 400 - {"error":{"code":400,"message":"Attribute PROFANITY does not support
    # request languages: it","status":"INVALID_ARGUMENT"}}; the details as a googleapiclient error quoted them.
    got = refusal(body({"comment": {"text": "ciao"}, "requestedAttributes": {"PROFANITY": {}}, "languages": ["it"]}))
    assert got == perspective_error(
        "Attribute PROFANITY does not support request languages: it", "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
        languageNotSupportedByAttributeError={"requestedLanguages": ["it"], "attribute": "PROFANITY"})


def test_names_every_requested_language_and_the_first_attribute() -> None:
    # 2-api/limits.md: "Attribute <attr_name> does not support request languages: <lang1, lang2>".
    got = refusal(body({"comment": {"text": "x"}, "requestedAttributes": {"INSULT": {}, "THREAT": {}},
                        "languages": ["en", "fr"]}))
    assert got["error"]["message"] == "Attribute INSULT does not support request languages: en, fr"


def test_drop_unsupported_attributes_answers_without_scores_instead() -> None:
    parsed = parse_analyze(request(languages=["fr"], dropUnsupportedAttributes=True))
    assert parsed.attributes == {}
    assert analyze_response(parsed, SCORES, None) == {"languages": ["fr"], "detectedLanguages": ["en"]}


@pytest.mark.parametrize("raw", [b"", b"{}", body({"comment": {}}), body({"comment": {"text": ""}}),
                                 body({"comment": None, "requestedAttributes": {"TOXICITY": {}}})])
def test_refuses_an_empty_comment(raw: bytes) -> None:
    # 2-api/limits.md; the body with its details: an Android client's PerspectiveAPIRepositoryTest.kt.
    assert refusal(raw) == {"error": {"code": 400, "message": "Comment must be non-empty.",
                                      "status": "INVALID_ARGUMENT", "details": [
                                          {"@type": "type.googleapis.com/google.commentanalyzer.v1alpha1.Error",
                                           "errorType": "COMMENT_EMPTY"}]}}


def test_refuses_a_comment_over_20480_bytes() -> None:
    # stanford-crfm/helm#1149: "Comment text was too many bytes. Value (23368) exceeded limit (20480)." with no
    # details (googleapiclient repeated the message as them).
    assert refusal(request("a" * 23368)) == {"error": {
        "code": 400, "message": "Comment text was too many bytes. Value (23368) exceeded limit (20480).",
        "status": "INVALID_ARGUMENT"}}
    assert "Value (20482)" in refusal(request("é" * 10241))["error"]["message"]


@pytest.mark.parametrize("attributes", [None, {}])
def test_refuses_a_request_without_attributes(attributes: dict[str, Any] | None) -> None:
    got = refusal(body({"comment": {"text": "x"}, "requestedAttributes": attributes}))
    assert got == perspective_error("Missing requested_attributes", "NO_REQUESTED_ATTRIBUTES")  # 2-api/limits.md


def test_refuses_an_attribute_toxmod_does_not_serve() -> None:
    # The documented example asks for UNSUBSTANTIAL too (2-api/methods.md); its message: 2-api/limits.md.
    got = refusal(body({"comment": {"text": DOC_TEXT}, "languages": ["en"],
                        "requestedAttributes": {"TOXICITY": {}, "UNSUBSTANTIAL": {}}}))
    assert got == perspective_error("Unknown requested attribute: UNSUBSTANTIAL", "INVALID_REQUEST")


def test_refuses_score_types_other_than_probability() -> None:
    got = refusal(body({"comment": {"text": "x"}, "requestedAttributes": {"THREAT": {"scoreType": "STD_DEV_SCORE"}}}))
    assert got == perspective_error("Requested score type STD_DEV_SCORE is not supported by attribute THREAT",
                                    "INVALID_REQUEST")  # 2-api/limits.md
    unknown = refusal(body({"comment": {"text": "x"}, "requestedAttributes": {"THREAT": {"scoreType": "NOPE"}}}))
    assert unknown["error"]["message"] == ("Invalid value at 'requested_attributes[0].value.score_type' "
                                           "(type.googleapis.com/google.commentanalyzer.v1alpha1.ScoreType), \"NOPE\"")


@pytest.mark.parametrize("threshold", [1.5, -0.1, "NaN", "Infinity"])
def test_refuses_a_threshold_outside_a_probabilitys_range(threshold: object) -> None:
    got = refusal(body({"comment": {"text": "x"}, "requestedAttributes": {"INSULT": {"scoreThreshold": threshold}}}))
    assert got["error"]["message"].endswith("for attribute INSULT is not in [0, 1].")
    assert got["error"]["details"][0]["errorType"] == "INVALID_REQUEST"


def test_refuses_html_and_a_context_with_both_kinds() -> None:
    # 2-api/limits.md, both messages.
    assert refusal(body({"comment": {"text": "<b>x</b>", "type": "HTML"}, "requestedAttributes": {"TOXICITY": {}}}))[
        "error"]["message"] == "Currently, only 'PLAIN_TEXT' comments are supported"
    both = {"entries": [{"text": "a"}], "articleAndParentComment": {"article": {"text": "b"}}}
    assert refusal(request(context=both))["error"]["message"] == (
        "Context can have either entries or article_and_parent_comment, but both fields were populated.")


# -- refusals of the body itself, as Google's front end words them ---------------------------------------------
@pytest.mark.parametrize(("raw", "reason", "position"), [
    (b'{"comment": {"text": "hi"}', "Unexpected end of string. Expected , or } after key:value pair.", 26),
    (b'{"comment": {"text": "hi"} "x": 1}', "Expected , or } after key:value pair.", 27),
    (b'{"comment" {"text": "hi"}}', "Expected : between key:value pair.", 11),
    (b'{"comment": {"text": "hi}}', "Closing quote expected in string.", 26),
    (b'{"comment": tru}', "Unexpected token.", 12),
    (b'{"languages": [1 2]}', "Expected , or ] after array value.", 17),
    (b'{"comment": {"text": "\\ud83d"}}', "Missing low surrogate.", 22),
    (b'{"comment": {"text": "\\udc00"}}', "Invalid unicode code point.", 22),
    (b'{"a": 012}', "Octal/hex numbers are not valid JSON values.", 6),
    (b'{"a": 1e999}', "Number exceeds the range of double.", 6),
    (b'{} {}', "Parsing terminated before end of input.", 3),
    (b"  ", "Unexpected end of string. Expected a value.", 2),
])
def test_refuses_malformed_json_pointing_where_protobuf_stopped(raw: bytes, reason: str, position: int) -> None:
    # The format: googlecodelabs/feedback#441 ("Invalid JSON payload received. Expected , or } after key:value
    # pair.\n<20 characters either side>\n<caret>"); the reasons: protobuf's json_stream_parser.cc.
    text = raw.decode()
    begin = max(position - 20, 0)
    expected = f"Invalid JSON payload received. {reason}\n{text[begin:position + 20]}\n{' ' * (position - begin)}^"
    assert refusal(raw) == {"error": {"code": 400, "message": expected, "status": "INVALID_ARGUMENT"}}


def test_refuses_bytes_that_are_not_utf8_and_nesting_past_protobufs_depth() -> None:
    assert refusal(b'{"comment": {"text": "\xff"}}')["error"]["message"].startswith(
        "Invalid JSON payload received. Encountered non UTF-8 code points.")
    deep = refusal(b"[" * 100_000)["error"]
    assert deep["message"] == "Invalid JSON payload received. Message too deep. Max recursion depth reached for key ''"


def test_refuses_a_body_that_is_not_an_object() -> None:
    # google-wallet/rest-samples#22.
    message = 'Invalid JSON payload received. Unknown name "": Root element must be a message.'
    assert refusal(b'["comment"]') == {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT",
                                                 "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                                              "fieldViolations": [{"description": message}]}]}}


def test_refuses_unknown_fields_naming_where_they_are() -> None:
    # decolua/9router#1876 (top level), mnfst/llm-gateway#1858 (nested: the path in the message and the field).
    top = 'Invalid JSON payload received. Unknown name "thinking": Cannot find field.'
    assert refusal(request(thinking=True))["error"] == {
        "code": 400, "message": top, "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"description": top}]}]}
    nested = refusal(body({"comment": {"text": "x", "lang": "en"}}))["error"]
    assert nested["message"] == "Invalid JSON payload received. Unknown name \"lang\" at 'comment': Cannot find field."
    assert nested["details"][0]["fieldViolations"][0]["field"] == "comment"


@pytest.mark.parametrize(("document", "message"), [
    ({"comment": {"text": 5}}, "Invalid value at 'comment.text' (TYPE_STRING), 5"),
    ({"comment": "hi"}, "Invalid value at 'comment' (type.googleapis.com/google.commentanalyzer.v1alpha1.TextEntry), "
                        "\"hi\""),
    ({"comment": {"text": "x"}, "spanAnnotations": "yes"}, "Invalid value at 'span_annotations' (TYPE_BOOL), \"yes\""),
    ({"comment": {"text": "x"}, "languages": "en"}, "Invalid value at 'languages' (TYPE_STRING), \"en\""),
    ({"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": True}}},
     "Invalid value at 'requested_attributes[0].value.score_threshold' (TYPE_FLOAT), true"),
    ({"comment": []}, "Invalid JSON payload received. Unknown name \"comment\": Proto field is not repeating, cannot "
                      "start list."),
])
def test_refuses_values_of_the_wrong_type(document: dict[str, Any], message: str) -> None:
    assert refusal(body(document))["error"]["message"] == message


# -- the key, the quota, the body size -------------------------------------------------------------------------
def test_key_and_quota_errors_are_googles() -> None:
    # GAM-team/got-your-back#219: exactly this body.
    assert ApiError.missing_key().body() == {"error": {
        "code": 403, "message": "The request is missing a valid API key.", "status": "PERMISSION_DENIED"}}
    # continuedev/continue#8516: the same body, with generativelanguage's service name.
    bad = ApiError.bad_key().body()["error"]
    assert (bad["code"], bad["status"], bad["message"]) == (400, "INVALID_ARGUMENT",
                                                            "API key not valid. Please pass a valid API key.")
    assert bad["details"][0] == {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                                 "domain": "googleapis.com", "metadata": {"service": "commentanalyzer.googleapis.com"}}
    # mlcommons/modelgauge#169: Perspective's 429 (less the consumer's project number).
    quota = ApiError.quota(1.0).body()["error"]
    assert (quota["code"], quota["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert quota["message"] == ("Quota exceeded for quota metric 'Analysis requests (AnalyzeComment)' and limit "
                                "'Analysis requests (AnalyzeComment) per minute' of service "
                                "'commentanalyzer.googleapis.com'.")
    assert quota["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"
    assert quota["details"][0]["metadata"]["quota_limit_value"] == "60"
    # PsychoinformaticsLab/pliers#481: the message (seen as a 400, through googleapiclient); ours says 413.
    assert ApiError.body_too_large(1_048_576).body() == {"error": {
        "code": 413, "message": "Request payload size exceeds the limit: 1048576 bytes.", "status": "INVALID_ARGUMENT"}}
    assert ApiError.quota(1.0).retry_after(0.2).headers == {"Retry-After": "1"}  # whole seconds, at least one
    assert ApiError(400, "FAILED_PRECONDITION", "x").body() == {"error": {"code": 400, "message": "x",
                                                                          "status": "FAILED_PRECONDITION"}}


# -- sentences -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "spans"), [
    (DOC_TEXT, [(0, 31), (32, 56)]),  # 2-api/methods.md: "the span [0,31) ... and the span [32,56)"
    ("  hello there  ", [(2, 13)]),
    ("no full stop", [(0, 12)]),
    ("Wait?! Really... yes", [(0, 6), (7, 16), (17, 20)]),
    ("pi is 3.14. U.S.A.", [(0, 11), (12, 18)]),
    ('He said "stop." Then left.', [(0, 15), (16, 26)]),
    ("line one\nline two\r\n\r\nthree", [(0, 8), (9, 17), (21, 26)]),
    ("   \n\t ", []),
    ("🖕🖕 you. 🔪", [(0, 7), (8, 9)]),
    ("...", [(0, 3)]),
])
def test_sentence_spans(text: str, spans: list[tuple[int, int]]) -> None:
    assert sentence_spans(text) == spans


@pytest.mark.parametrize("text", [DOC_TEXT, "a. b! c? d\ne\n\n f.g. h", " x ", "!!! ??? ...", "\u2028a\u2029b "])
def test_sentence_spans_cover_the_text(text: str) -> None:
    spans = sentence_spans(text)
    assert all(begin < end and not text[begin].isspace() and not text[end - 1].isspace() for begin, end in spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    covered = {i for begin, end in spans for i in range(begin, end)}
    assert {i for i, char in enumerate(text) if not char.isspace()} <= covered


# -- the response ----------------------------------------------------------------------------------------------
def test_answers_the_documented_example_in_its_shape() -> None:
    # 2-api/methods.md, "AnalyzeComment example" response: summaryScore per attribute; spanScores when asked.
    parsed = parse_analyze(body({"comment": {"text": DOC_TEXT}, "languages": ["en"], "spanAnnotations": True,
                                 "requestedAttributes": {"TOXICITY": {}, "INSULT": {}}}))
    first, second = dict(SCORES, toxic=0.95, insult=0.9), dict(SCORES, toxic=0.1, insult=0.05)
    spans = [(0, 31, first), (32, 56, second)]
    assert analyze_response(parsed, SCORES, spans) == {
        "attributeScores": {
            "TOXICITY": {"spanScores": [{"begin": 0, "end": 31, "score": {"value": 0.95, "type": "PROBABILITY"}},
                                        {"begin": 32, "end": 56, "score": {"value": 0.1, "type": "PROBABILITY"}}],
                         "summaryScore": {"value": 0.9, "type": "PROBABILITY"}},
            "INSULT": {"spanScores": [{"begin": 0, "end": 31, "score": {"value": 0.9, "type": "PROBABILITY"}},
                                      {"begin": 32, "end": 56, "score": {"value": 0.05, "type": "PROBABILITY"}}],
                       "summaryScore": {"value": 0.7, "type": "PROBABILITY"}},
        },
        "languages": ["en"],
        "detectedLanguages": ["en"],
    }


def test_answers_the_curl_sample_as_its_documented_response() -> None:
    # 1-get-started/sample.md: {"attributeScores": {"TOXICITY": {"summaryScore": {...}}}, "languages": ["en"]}.
    response = analyze_response(parse_analyze(CURL_SAMPLE), dict(SCORES, toxic=0.9208521), None)
    assert response == {"attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.9208521, "type": "PROBABILITY"}}},
                        "languages": ["en"], "detectedLanguages": ["en"]}
    assert json.loads(json.dumps(response)) == response


def test_spans_only_when_asked_and_english_when_not_told() -> None:
    parsed = parse_analyze(request(DOC_TEXT, clientToken="comment-53922"))
    response = analyze_response(parsed, SCORES, [(0, 31, SCORES), (32, 56, SCORES)])
    assert response == {"attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.9, "type": "PROBABILITY"}}},
                        "languages": ["en"], "detectedLanguages": ["en"], "clientToken": "comment-53922"}


def test_thresholds_leave_out_what_is_below_them() -> None:
    # 2-api/methods.md: "The API won't return scores that are below this threshold for this attribute."
    parsed = parse_analyze(body({"comment": {"text": DOC_TEXT}, "spanAnnotations": True, "requestedAttributes": {
        "TOXICITY": {"scoreThreshold": 0.5}, "THREAT": {"scoreThreshold": 0.5}, "INSULT": {"scoreThreshold": 0.7}}}))
    spans = [(0, 31, dict(SCORES, toxic=0.95, insult=0.3)), (32, 56, dict(SCORES, toxic=0.1, insult=0.7))]
    scores = analyze_response(parsed, SCORES, spans)["attributeScores"]
    assert list(scores) == ["TOXICITY", "INSULT"]  # THREAT's 0.05 is below its 0.5; INSULT's 0.7 is not below 0.7
    assert scores["TOXICITY"]["spanScores"] == [{"begin": 0, "end": 31,
                                                 "score": {"value": 0.95, "type": "PROBABILITY"}}]
    assert [s["begin"] for s in scores["INSULT"]["spanScores"]] == [32]


def test_with_everything_below_its_threshold_attribute_scores_is_left_out() -> None:
    # sloria/perspective-api-client#175: thresholds not met -> { languages: [ 'en' ], detectedLanguages: [...] }.
    parsed = parse_analyze(request(requestedAttributes={"TOXICITY": {"scoreThreshold": 0.99}}, languages=["en"]))
    assert analyze_response(parsed, SCORES, None) == {"languages": ["en"], "detectedLanguages": ["en"]}


def test_span_offsets_are_utf16_code_units_as_perspective_counts() -> None:
    # The discovery document, SpanScore.begin: "The values are the UTF-16 codepoint range."
    text = "🖕🖕 you. 🔪 ok."
    spans = sentence_spans(text)
    assert spans == [(0, 7), (8, 13)]
    parsed = parse_analyze(request(text, spanAnnotations=True))
    response = analyze_response(parsed, SCORES, [(begin, end, SCORES) for begin, end in spans])
    offsets = [(s["begin"], s["end"]) for s in response["attributeScores"]["TOXICITY"]["spanScores"]]
    assert offsets == [(0, 9), (10, 16)]
    utf16 = text.encode("utf-16-le")
    assert [utf16[2 * b:2 * e].decode("utf-16-le") for b, e in offsets] == ["🖕🖕 you.", "🔪 ok."]


def test_keys_mirror_the_requested_names() -> None:
    parsed = parse_analyze(request(requestedAttributes={"SEVERE_TOXICITY@2": {}, "IDENTITY_ATTACK": {}}))
    scores = analyze_response(parsed, SCORES, None)["attributeScores"]
    assert scores == {"SEVERE_TOXICITY@2": {"summaryScore": {"value": 0.2, "type": "PROBABILITY"}},
                      "IDENTITY_ATTACK": {"summaryScore": {"value": 0.01, "type": "PROBABILITY"}}}


# -- the discovery document, read by Google's own client --------------------------------------------------------
ROOT = "http://127.0.0.1:1/"
ANALYZE_URI = f"{ROOT}v1alpha1/comments:analyze?key=k&alt=json"


@pytest.fixture
def googleapiclient() -> Any:
    """google-api-python-client (a dev dependency): only the tests that use it skip without it."""
    package = pytest.importorskip("googleapiclient")
    for module in ("discovery", "errors", "http"):
        importlib.import_module(f"googleapiclient.{module}")
    return package


def test_the_discovery_document_has_googles_structure() -> None:
    document = discovery_document("http://127.0.0.1:1")  # the trailing slash is added
    assert document["rootUrl"] == document["baseUrl"] == ROOT
    assert (document["name"], document["version"], document["servicePath"]) == ("commentanalyzer", "v1alpha1", "")
    analyze = document["resources"]["comments"]["methods"]["analyze"]
    assert (analyze["httpMethod"], analyze["path"]) == ("POST", "v1alpha1/comments:analyze")
    assert analyze["request"] == {"$ref": "AnalyzeCommentRequest"}
    assert analyze["response"] == {"$ref": "AnalyzeCommentResponse"}
    assert "key" in document["parameters"]
    refs = {value["$ref"] for value in _walk(document) if isinstance(value, dict) and "$ref" in value}
    assert refs <= set(document["schemas"])  # every reference resolves
    assert "auth" not in document  # no OAuth: a client without a key must not go looking for Google credentials
    json.dumps(document)


def _walk(value: Any) -> list[Any]:
    found = [value]
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for child in children:
        found += _walk(child)
    return found


def test_googles_client_builds_the_analyze_call_from_it(googleapiclient: Any) -> None:
    service = googleapiclient.discovery.build_from_document(discovery_document(ROOT), developerKey="k")
    analyze_request = {"comment": {"text": DOC_TEXT}, "languages": ["en"],
                       "requestedAttributes": {"TOXICITY": {}}, "spanAnnotations": True}
    call = service.comments().analyze(body=analyze_request)
    assert isinstance(call, googleapiclient.http.HttpRequest)
    assert (call.method, call.uri) == ("POST", ANALYZE_URI)
    assert call.headers["content-type"] == "application/json"
    assert json.loads(call.body) == analyze_request
    assert parse_analyze(call.body.encode()).attributes == {"TOXICITY": AttributeRequest()}


def test_googles_client_discovers_calls_and_reads_answers_and_errors(googleapiclient: Any) -> None:
    # How Perspective's users build the client (discovery.build with discoveryServiceUrl), pointed here; an
    # HttpMockSequence that remembers what it was asked stands in for the network.
    class Recorder(googleapiclient.http.HttpMockSequence):
        def __init__(self, answers: list[tuple[dict[str, str], str]]) -> None:
            super().__init__(answers)
            self.calls: list[tuple[str, str]] = []

        def request(self, uri: str, method: str = "GET", body: Any = None, **kwargs: Any) -> Any:
            self.calls.append((method, uri))
            return super().request(uri, method=method, body=body, **kwargs)

    parsed = parse_analyze(request(DOC_TEXT, spanAnnotations=True))
    answer = analyze_response(parsed, SCORES, [(0, 31, SCORES), (32, 56, SCORES)])
    language = ApiError.language_not_supported("TOXICITY", ["fr"])
    http = Recorder([({"status": "200"}, json.dumps(discovery_document(ROOT))),
                     ({"status": "200"}, json.dumps(answer)),
                     ({"status": str(language.code)}, json.dumps(language.body()))])
    client = googleapiclient.discovery.build(
        "commentanalyzer", "v1alpha1", developerKey="k", http=http, static_discovery=False,
        discoveryServiceUrl=f"{ROOT}$discovery/rest?version=v1alpha1")
    got = client.comments().analyze(body={"comment": {"text": DOC_TEXT}, "requestedAttributes": {"TOXICITY": {}},
                                          "spanAnnotations": True}).execute()
    assert got == answer
    with pytest.raises(googleapiclient.errors.HttpError) as caught:
        client.comments().analyze(body={"comment": {"text": "x"}, "languages": ["fr"],
                                        "requestedAttributes": {"TOXICITY": {}}}).execute()
    assert caught.value.status_code == 400
    assert caught.value.reason == "Attribute TOXICITY does not support request languages: fr"
    assert "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE" in str(caught.value)  # what Perspective's users match on
    assert http.calls == [("GET", f"{ROOT}$discovery/rest?version=v1alpha1&key=k"),
                          ("POST", ANALYZE_URI), ("POST", ANALYZE_URI)]


def test_sentence_spans_of_hostile_punctuation_are_found_in_linear_time() -> None:
    started = time.perf_counter()
    for text in ("." * 20_000 + "x", "!?" * 10_000 + "x", "a." * 10_000):
        spans = sentence_spans(text)
        assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert time.perf_counter() - started < 1.0  # it took 6 s a text when matching restarted inside a run
