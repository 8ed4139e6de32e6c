"""What every request of `toxmod serve` passes through, in `MIDDLEWARES`' order: the connection guard's
bookkeeping, CORS headers, failures answered in Google's error format, keys and rate limits, and the counts
and latencies /metrics reports."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.api.callers import authenticate
from bot.api.connections import ClientGone, follow_requests
from bot.api.perspective import ApiError
from bot.api.service import CALLER, SERVICE

log = logging.getLogger(__name__)

CLIENT_GONE = 499  # what /metrics counts a request whose client left before it was read as (nginx's convention)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _is_api(request: web.Request) -> bool:
    return request.path.startswith(("/v1alpha1/", "/v1/"))


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure in Google's error format, as Perspective answers it."""
    try:
        return await handler(request)
    except ApiError as exc:
        response = web.json_response(exc.body(), status=exc.code, headers=exc.headers)
        if exc.code == 408:  # a client too slow to send its body gets no more time on this connection
            response.force_close()
        return response
    except web.HTTPRequestEntityTooLarge:
        error = ApiError.body_too_large(request.app[SERVICE].settings.api_max_body_bytes)
        return web.json_response(error.body(), status=error.code)
    except ClientGone:
        request.app[SERVICE].guard.gone.event("a client (%s) left before its request was read", request.remote)
        return web.Response(status=CLIENT_GONE)  # written to nobody: the connection is closed
    except web.HTTPException as exc:
        status = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status, "INVALID_ARGUMENT")
        return web.json_response({"error": {"code": exc.status, "message": exc.reason, "status": status}},
                                 status=exc.status)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        error = ApiError.internal()
        return web.json_response(error.body(), status=error.code)


@web.middleware
async def _cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Browsers may call the API only from the origins API_CORS_ORIGINS names; by default from none."""
    origin = request.headers.get("Origin")
    allowed = request.app[SERVICE].cors_origins
    if request.method == "OPTIONS" and origin in allowed:
        response: web.StreamResponse = web.Response(status=204)
    else:
        response = await handler(request)
    if origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Headers"] = "Content-Type, X-Goog-Api-Key, Authorization"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Vary"] = "Origin"
    return response


@web.middleware
async def _access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Keys and rate limits for the API routes; request counts and latencies for every route."""
    service = request.app[SERVICE]
    started = time.perf_counter()
    endpoint = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    status = 500
    try:
        if _is_api(request) or request.path == "/metrics":
            caller = request[CALLER] = authenticate(request, service)
            wait = service.limiter.take(caller) if _is_api(request) else 0.0
            if wait:
                raise ApiError.quota(service.settings.api_rate_limit).retry_after(wait)
        response = await handler(request)
        status = response.status
        return response
    except ApiError as exc:
        status = exc.code
        raise
    except ClientGone:
        status = CLIENT_GONE
        raise
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        service.metrics.observe(endpoint, status, time.perf_counter() - started)


# outermost first: the connection guard sees every request; CORS headers go on every answer, errors included
# (a browser could not read them else)
MIDDLEWARES = (follow_requests, _cors, _errors, _access)
