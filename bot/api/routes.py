"""What each route of `toxmod serve` answers; the routes are listed in `add_routes`.

Both scoring routes read a text only in a language the model reads (one they are not told is detected): a
text in another language is refused (comments:analyze, as Perspective refuses one) or marked unread
(/v1/score), never scored as if it were English.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from aiohttp import web

from bot.api.connections import read_body
from bot.api.fairness import cost
from bot.api.perspective import (
    AnalyzeRequest,
    ApiError,
    analyze_response,
    discovery_document,
    language_code,
    parse_analyze,
    sentence_spans,
)
from bot.api.score_request import parse_score
from bot.api.service import CALLER, SERVICE
from bot.decision import Decision, Scores
from bot.labels import LABELS
from bot.moderation.worker import ScoringWorker
from bot.scoring.language import LanguageIdentifier

_LANGUAGES = LanguageIdentifier()  # shared: thread-safe, and its model loads once
MAX_SPANS = 32  # sentences scored separately per comment (spanAnnotations); more are scored in groups


def add_routes(router: web.UrlDispatcher) -> None:
    """Every endpoint `toxmod serve` answers, each path to its handler (the one place to add one)."""
    router.add_get("/", _playground)
    router.add_get("/$discovery/rest", _discovery)
    router.add_post("/v1alpha1/comments:analyze", _analyze)
    router.add_post("/v1/score", _score)
    router.add_get("/v1/models", _models)
    router.add_get("/healthz", _healthz)
    router.add_get("/metrics", _metrics)


# -- scoring ---------------------------------------------------------------------------------------------
async def _analyze(request: web.Request) -> web.Response:
    """Perspective's AnalyzeComment, scored by the current model: the whole text, and each sentence when asked."""
    service = request.app[SERVICE]
    raw = await read_body(request, service.settings.api_body_timeout)
    # a large body in Google's lenient JSON takes a while to parse: off the event loop then
    worker = service.models.current
    supported = worker.languages
    analyze = (await asyncio.to_thread(parse_analyze, raw, supported) if len(raw) > 65_536
               else parse_analyze(raw, supported))
    detected = [language_code(code) for code in analyze.languages]
    if not detected:  # the client left it to us: a language the model does not read is refused as Perspective does
        found = await _LANGUAGES.identify_off_loop([analyze.text], [supported])
        detected = [found[0].language]
        if detected[0] not in supported and analyze.attributes and not analyze.drop_unsupported:
            raise ApiError.language_not_supported(next(iter(analyze.attributes)), detected, detected=True)
    if not analyze.attributes or detected[0] not in supported:  # dropUnsupportedAttributes: nothing to score
        return web.json_response(_without_scores(analyze, detected))
    spans = _bounded(sentence_spans(analyze.text)) if analyze.span_annotations else []
    pieces = [analyze.text[begin:end] for begin, end in spans] if len(spans) > 1 else []
    scores = await _scored(request, worker, [analyze.text, *pieces], [detected[0]] * (1 + len(pieces)))
    service.metrics.scored(len(scores))
    summary = scores[0].as_dict()
    span_scores = None
    if analyze.span_annotations:
        per_span = [s.as_dict() for s in scores[1:]] if pieces else [summary] * len(spans)
        span_scores = [(begin, end, values) for (begin, end), values in zip(spans, per_span, strict=True)]
    return web.json_response(analyze_response(analyze, summary, span_scores, detected))


def _without_scores(analyze: AnalyzeRequest, detected: list[str]) -> dict[str, Any]:
    return analyze_response(dataclasses.replace(analyze, attributes={}), {}, None, detected)


async def _scored(request: web.Request, worker: ScoringWorker, texts: list[str],
                  languages: list[str]) -> list[Scores]:
    """The texts scored (each by the model for its language) in their caller's turns, and charged to its
    rate limit by their work (the request paid one token to get in)."""
    service = request.app[SERVICE]
    caller = request.get(CALLER, "")
    service.limiter.charge(caller, cost(texts) - 1)
    return list(await asyncio.gather(*(service.fair.score(worker, caller, text, language)
                                       for text, language in zip(texts, languages, strict=True))))


def _bounded(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """At most MAX_SPANS spans, neighbouring sentences joined where a text has more: a comment of one-word
    sentences must not cost a forward pass a word."""
    if len(spans) <= MAX_SPANS:
        return spans
    size = -(-len(spans) // MAX_SPANS)
    return [(spans[i][0], spans[min(i + size, len(spans)) - 1][1]) for i in range(0, len(spans), size)]


async def _score(request: web.Request) -> web.Response:
    """{"texts": [...], "guild_id": optional, "model": optional} -> {"model", "results": [--jsonl objects]}."""
    service = request.app[SERVICE]
    batch = parse_score(await read_body(request, service.settings.api_body_timeout), service.settings.api_max_texts)
    texts = batch.texts
    async with service.models.use(batch.model) as worker:
        policy = await service.policy(worker, batch.guild_id)
        languages = worker.languages
        detected = await _LANGUAGES.identify_off_loop(texts, [languages] * len(texts))
        read = [i for i, d in enumerate(detected) if d.language in languages]  # never score another as English
        scores = await _scored(request, worker, [texts[i] for i in read], [detected[i].language for i in read])
        version = worker.model.version
    service.metrics.scored(len(scores))
    by_index = dict(zip(read, scores, strict=True))
    decisions = [policy.decide(by_index[i], d.language) if i in by_index
                 else Decision.unread(d.language, version, review=False) for i, d in enumerate(detected)]
    return web.json_response({"model": version,
                              "results": [d.to_json(t) for t, d in zip(texts, decisions, strict=True)]})


# -- the models, the discovery document, operations, the playground --------------------------------------
async def _models(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    return web.json_response({"models": await asyncio.to_thread(service.models.listing), "labels": list(LABELS)})


async def _discovery(request: web.Request) -> web.Response:
    version = request.query.get("version", "v1alpha1")
    if version != "v1alpha1":
        raise ApiError(404, "NOT_FOUND", f"Discovery document not found for API service: commentanalyzer "
                                         f"format: rest version: {version}")
    return web.json_response(discovery_document(_root_url(request)))


def _root_url(request: web.Request) -> str:
    """API_PUBLIC_URL, else the address the client connected to: never the Host header, which is the client's
    to write and would point Google's client (and whoever it hands the document to) anywhere."""
    settings = request.app[SERVICE].settings
    if settings.api_public_url:
        return settings.api_public_url
    local = request.transport.get_extra_info("sockname") if request.transport is not None else None
    host, port = (local[0], local[1]) if isinstance(local, tuple) else (settings.api_host, settings.api_port)
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


async def _healthz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    worker = service.models.current
    return web.json_response({"status": "ok", "model": worker.model.version,
                              "queue_depth": worker.queue_depth + service.fair.waiting(worker),
                              "engine": worker.model.choice.describe()})


async def _metrics(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    worker = service.models.current
    text = service.metrics.render(queue_depth=worker.queue_depth + service.fair.waiting(worker),
                                  model_version=worker.model.version,
                                  open_connections=service.guard.open_connections)
    return web.Response(text=text, content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def _playground(request: web.Request) -> web.Response:
    return web.Response(text=request.app[SERVICE].playground, content_type="text/html",
                        charset="utf-8", headers={"Content-Security-Policy": "default-src 'self'; "
                                                  "script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; "
                                                  "img-src 'self' data:"})  # the page's icon is inline

