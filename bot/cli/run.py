"""`toxmod run` and `toxmod sync`: the Discord bot itself."""

from __future__ import annotations

import argparse
import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from bot.cli.common import CliError, add_database_url, load_settings, migrate, overrides
from bot.cli.interrupts import hand_ctrl_c_to_asyncio
from bot.settings import Settings
from bot.storage.engine import sqlite_file

log = logging.getLogger(__name__)


def require_token(settings: Settings) -> str:
    """The Discord bot token, refused in one line when DISCORD_TOKEN is empty."""
    if not settings.discord_token.strip():
        raise CliError("DISCORD_TOKEN is not set: copy .env.example to .env and put your bot token in it")
    return settings.discord_token.strip()


@contextmanager
def talking_to_discord() -> Iterator[None]:
    """What Discord (or the way to it) answers at login, as one line: discord.py raises these out of
    `run` and `login` with a traceback, and each has a different fix."""
    import aiohttp
    import discord

    try:
        yield
    except discord.LoginFailure as exc:
        raise CliError("Discord refused DISCORD_TOKEN (wrong, or reset since): copy the token again from "
                       "your application's Bot page") from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise CliError("Discord refused the privileged intents: enable Message Content Intent and Server "
                       "Members Intent on your application's Bot page") from exc
    except (aiohttp.ClientError, discord.GatewayNotFound, ConnectionError, TimeoutError) as exc:
        raise CliError(f"cannot reach Discord: {exc or type(exc).__name__} (is this machine online?)") from exc
    except discord.HTTPException as exc:
        raise CliError(f"Discord answered {exc.status} {exc.text or exc}") from exc


def prepare(args: argparse.Namespace) -> tuple[Settings, str]:
    """Settings, token and database checked before discord.py starts: here a bad one is one line, inside the
    bot's setup it would end in a traceback."""
    settings = load_settings(args)
    token = require_token(settings)
    if settings.shard_ids is not None and sqlite_file(settings.database_url) is not None:
        log.warning("sharded on SQLite: fine for one process; several processes need PostgreSQL "
                    "(a shared DATABASE_URL), or their settings and models drift apart")
    migrate(settings.database_url, create=True)
    return settings, token


def cmd_run(args: argparse.Namespace) -> int:
    """`toxmod run`: the Discord bot, until Ctrl-C or SIGTERM."""
    from bot import create_bot

    settings, token = prepare(args)
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else settings.log_level.upper())
    bot = create_bot(**overrides(args))
    # a service manager's stop (systemd, docker) is SIGTERM: turned into Ctrl-C, which asyncio answers by
    # cancelling the bot's main task alone, so that close() drains and writes what is pending
    signal.signal(signal.SIGTERM, _as_ctrl_c)
    hand_ctrl_c_to_asyncio()
    with talking_to_discord():
        bot.run(token, log_handler=None)  # logging is already configured by main()
    return 0


def _as_ctrl_c(_signum: int, _frame: object) -> None:
    os.kill(os.getpid(), signal.SIGINT)


def cmd_sync(args: argparse.Namespace) -> int:
    """Register the slash commands with Discord: globally (up to an hour to appear) or in one guild (instant)."""
    import asyncio

    from bot import create_bot

    settings, token = prepare(args)
    guild_id = args.guild or settings.dev_guild_id

    async def sync() -> int:
        import discord

        bot = create_bot(**overrides(args))
        async with bot:
            await bot.login(token)
            guild = discord.Object(guild_id) if guild_id else None
            if guild is not None:
                bot.tree.copy_global_to(guild=guild)
            return len(await bot.tree.sync(guild=guild))

    with talking_to_discord():
        count = asyncio.run(sync())
    print(f"synced {count} commands " + (f"to guild {guild_id}" if guild_id else "globally (may take up to an hour)"))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `toxmod run` and `toxmod sync` to the parser."""
    p = sub.add_parser("run", help="start the Discord bot (needs DISCORD_TOKEN)")
    p.add_argument("--model", help="model directory (default: the one models/current names)")
    add_database_url(p)
    p.add_argument("--shard-count", type=int, metavar="N",
                   help="shard the bot into N shards in all (override SHARD_COUNT; several processes need PostgreSQL)")
    p.add_argument("--shards", metavar="IDS", help="the shards this process runs, e.g. 0,1 (override SHARDS; "
                   "default: all N)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sync", help="register slash commands with Discord (globally, or --guild ID instantly)")
    p.add_argument("--guild", type=int, help="sync to this guild only (default: DEV_GUILD_ID, else global)")
    p.add_argument("--model", help=argparse.SUPPRESS)
    add_database_url(p)
    p.set_defaults(func=cmd_sync)
