"""`toxmod run` and `toxmod sync`: the Discord bot itself."""

from __future__ import annotations

import argparse
import logging

from bot.cli.common import CliError, load_settings, overrides
from bot.settings import Settings


def require_token(settings: Settings) -> str:
    if not settings.discord_token.strip():
        raise CliError("DISCORD_TOKEN is not set: copy .env.example to .env and put your bot token in it")
    return settings.discord_token.strip()


def cmd_run(args: argparse.Namespace) -> int:
    from bot import create_bot

    settings = load_settings(args)
    token = require_token(settings)
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else settings.log_level.upper())
    bot = create_bot(**overrides(args))
    bot.run(token, log_handler=None)  # logging is already configured by main()
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Register the slash commands with Discord: globally (up to an hour to appear) or in one guild (instant)."""
    import asyncio

    from bot import create_bot

    settings = load_settings(args)
    token = require_token(settings)
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

    count = asyncio.run(sync())
    print(f"synced {count} commands " + (f"to guild {guild_id}" if guild_id else "globally (may take up to an hour)"))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="start the Discord bot (needs DISCORD_TOKEN)")
    p.add_argument("--model", help="model directory (default: the one models/current names)")
    p.add_argument("--database-url", help="override DATABASE_URL")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("sync", help="register slash commands with Discord (globally, or --guild ID instantly)")
    p.add_argument("--guild", type=int, help="sync to this guild only (default: DEV_GUILD_ID, else global)")
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--database-url", help="override DATABASE_URL")
    p.set_defaults(func=cmd_sync)
