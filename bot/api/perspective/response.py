"""The AnalyzeComment response, as Perspective shapes it, from toxmod's scores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.api.perspective.request import LANGUAGE, AnalyzeRequest
from bot.api.perspective.spans import utf16_offsets
from bot.api.perspective.vocabulary import attribute_label


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
    to_utf16 = utf16_offsets(request.text)
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

