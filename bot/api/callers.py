"""Who an API request is from, for its rate limit: with API_KEYS set, the key it presents (compared only as a
sha256 digest, as `?key=`, `X-Goog-Api-Key` or `Authorization: Bearer`); without keys, the client's address."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from bot.api.perspective import ApiError
from bot.api.service import Service
from bot.settings import hash_api_key


def authenticate(request: web.Request, service: Service) -> str:
    """Who is calling, for the rate limit: a key's digest (checked against API_KEYS), or without keys the
    client's address. An address that keeps sending missing or wrong keys is refused for a while before its
    key is even looked at: guessing costs time, and a refusal says nothing about the key."""
    settings = service.settings
    address = _client_address(request, settings.trusted_proxies)
    digests = settings.api_key_digests
    if not digests:
        return f"address:{address}"
    wait = service.auth_failures.wait(address)
    if wait:
        raise ApiError(429, "RESOURCE_EXHAUSTED", "Too many requests with a missing or invalid API key from "
                                                  "this address.").retry_after(wait)
    key = _key(request)
    if not key:
        service.auth_failures.take(address)
        raise ApiError.missing_key()
    digest = hash_api_key(key)
    if digest not in digests:
        service.auth_failures.take(address)
        raise ApiError.bad_key()
    return f"key:{digest}"


def _key(request: web.Request) -> str | None:
    key = request.query.get("key") or request.headers.get("X-Goog-Api-Key")
    auth = request.headers.get("Authorization", "")
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    return key


def _client_address(request: web.Request, proxies: frozenset[str]) -> str:
    """The client's address: the peer's, or where the peer is a trusted reverse proxy, the last address its
    X-Forwarded-For names that is not a trusted proxy itself (the ones before it, the client may have written)."""
    address = request.remote or ""
    if address not in proxies:
        return address
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        try:
            address = str(ipaddress.ip_address(hop.strip()))
        except ValueError:
            break
        if address not in proxies:
            return address
    return address

