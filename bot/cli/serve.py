"""`toxmod serve`: the scoring API and playground (bot/api/server.py) on a local port."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot.cli.common import CliError, add_database_url, load_settings
from bot.settings import Settings, hash_api_key
from bot.storage.database import Database
from bot.storage.engine import sqlite_file
from bot.storage.schema import has_schema

log = logging.getLogger(__name__)


def cmd_serve(args: argparse.Namespace) -> int:
    """`toxmod serve`: the scoring API and playground (or, with --hash-key, print a key's digest)."""
    if args.hash_key is not None:
        print(f"sha256:{hash_api_key(args.hash_key)}")
        return 0
    settings = load_settings(args)
    from bot.api.server import is_loopback, serve

    host = args.host or settings.api_host
    port = args.port or settings.api_port
    if not is_loopback(host) and not settings.api_key_digests:
        raise CliError(f"refusing to serve on {host} without API_KEYS: anyone who can reach it could use it "
                       "(set API_KEYS, or serve on 127.0.0.1)")
    db = _bot_database(settings)
    logging.getLogger("bot").setLevel(logging.DEBUG if args.verbose else logging.INFO)

    def ready(url: str) -> None:
        keys = "API_KEYS required" if settings.api_key_digests else "no key needed on loopback"
        print(f"toxmod serve: {url} (playground at /, Perspective API at {url}v1alpha1/comments:analyze; {keys}); "
              "Ctrl-C stops it", file=sys.stderr, flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, db, host, port, ready, stop)

    try:
        asyncio.run(main())
    except FileNotFoundError:  # a missing model folder: main() says so in one line
        raise
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return 0


def _bot_database(settings: Settings) -> Database | None:
    """The bot's database, read for guild thresholds; None when there is none (the API works without)."""
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        return None
    try:
        if not has_schema(settings.database_url):
            return None
    except Exception as exc:  # an unreachable server: the API still scores, only guild_id is refused
        log.warning("not using the bot's database (%s): requests with guild_id will be refused", exc)
        return None
    return Database(settings.database_url)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `toxmod serve` to the parser."""
    p = sub.add_parser("serve", help="the scoring API (Perspective-compatible) and a playground page")
    p.add_argument("--host", help="address to listen on (default API_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default API_PORT, 8080)")
    p.add_argument("--model", help="model directory (default: the one models/current names)")
    add_database_url(p, "read for guild thresholds")
    p.add_argument("--hash-key", metavar="KEY", help="print KEY's digest for API_KEYS (sha256:...) and exit")
    p.set_defaults(func=cmd_serve)
