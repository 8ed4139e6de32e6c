"""Which channel is a guild's mod-log, and posting there what is not a flag (a retrain report)."""

from __future__ import annotations

import logging

import discord

from bot.discord.app import ToxmodBot
from bot.discord.modlog._embeds import describe_failure
from bot.moderation.guild_config import GuildConfig

log = logging.getLogger(__name__)


def modlog_channel(guild: discord.Guild, config: GuildConfig) -> discord.abc.Messageable | None:
    """The guild's mod-log channel; None when none is set or it no longer holds messages (deleted)."""
    channel = guild.get_channel(config.modlog_channel_id) if config.modlog_channel_id else None
    return channel if isinstance(channel, discord.abc.Messageable) else None


async def post_notice(bot: ToxmodBot, guild: discord.Guild, what: str, *, embed: discord.Embed,
                      view: discord.ui.View = discord.utils.MISSING) -> None:
    """Post `embed` (and `view`) in the guild's mod-log, where admins look for what the bot reports.

    Unlike a flag it is not kept for a retry: whoever posts a notice can also be asked for it directly
    (`/model status`), so without a mod-log, or when Discord refuses, the failure is only logged, named
    after `what` was being done ("post the retrain report").
    """
    channel = modlog_channel(guild, await bot.moderation.guild_config(guild.id))
    if channel is None:
        return
    try:
        await channel.send(embed=embed, view=view)
    except discord.HTTPException as exc:
        log.warning("could not %s: %s", what, describe_failure(exc, what))
