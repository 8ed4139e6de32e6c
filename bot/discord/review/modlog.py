"""Putting flags in the mod-log channel: post with retries, keep the flag when posting fails, and
bring a post up to date after a change made elsewhere."""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.discord.app import ToxmodBot
from bot.discord.review.embeds import describe_failure, flag_embed
from bot.discord.review.views import flag_view
from bot.moderation.guild_config import GuildConfig
from bot.storage.models import Flag
from bot.storage.repository import set_modlog_post

log = logging.getLogger(__name__)

RETRY_DELAYS = (1.0, 5.0)  # for 5xx answers; 4xx (deleted channel, missing permission) are not retried


async def post_flag(channel: discord.abc.Messageable, flag: Flag) -> discord.Message:
    """Post with retries on Discord's 5xx answers; a 4xx or the last failure propagates to the caller."""
    for delay in (*RETRY_DELAYS, None):
        try:
            return await channel.send(embed=flag_embed(flag), view=flag_view(flag))
        except discord.HTTPException as exc:
            if exc.status < 500 or delay is None:
                raise
            log.warning("mod-log post for flag %d failed with %d; retrying in %.0fs", flag.id, exc.status, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def publish_flag(bot: ToxmodBot, guild: discord.Guild, flag: Flag, config: GuildConfig | None = None) -> None:
    """Post the flag in the guild's mod-log; on failure keep the flag, store why, and say so once."""
    config = config or await bot.moderation.guild_config(guild.id)
    channel = guild.get_channel(config.modlog_channel_id) if config.modlog_channel_id else None
    try:
        if config.modlog_channel_id is None:
            raise LookupError("no mod-log channel is set (an admin can run /modlog set)")
        if not isinstance(channel, discord.abc.Messageable):
            raise LookupError("the mod-log channel no longer exists")
        posted = await post_flag(channel, flag)
    except (discord.HTTPException, LookupError) as exc:
        reason = describe_failure(exc)
        if bot.modlog_failures.get(guild.id) != reason:
            log.warning("guild %s: flag %d kept but not posted: %s", guild.id, flag.id, reason)
        bot.modlog_failures[guild.id] = reason
        await bot.db.write(lambda s: set_modlog_post(s, flag.id, config.modlog_channel_id, None, reason))
        return
    bot.modlog_failures.pop(guild.id, None)
    await bot.db.write(lambda s: set_modlog_post(s, flag.id, posted.channel.id, posted.id, None))


async def refresh_modlog_message(bot: ToxmodBot, guild: discord.Guild, flag: Flag) -> None:
    """Bring the flag's mod-log message up to date after a change made elsewhere (slash command)."""
    if not (flag.modlog_channel_id and flag.modlog_message_id):
        return
    channel = guild.get_channel(flag.modlog_channel_id)
    if not isinstance(channel, discord.abc.Messageable):
        return  # gone (publish_flag only ever posts in a channel that holds messages)
    try:
        await channel.get_partial_message(flag.modlog_message_id).edit(embed=flag_embed(flag), view=flag_view(flag))
    except discord.HTTPException as exc:
        log.warning("could not update mod-log message for flag %d: %s", flag.id, describe_failure(exc))
