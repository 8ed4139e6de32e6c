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
from bot.moderation.pipeline import Outcome, Unsaved
from bot.storage.models import Flag, FlagOrigin, FlagStatus
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
    """Post the flag in the guild's mod-log; on failure keep the flag, store why and when to retry (the
    Review cog's delivery loop does), and log once per kind of failure.

    A flag already being posted by another path (live message, delivery loop, `/modlog set`) is left to it,
    so no flag is posted twice.
    """
    if flag.id in bot.posting:
        return
    bot.posting.add(flag.id)
    try:
        await _publish(bot, guild, flag, config)
    finally:
        bot.posting.discard(flag.id)


async def _publish(bot: ToxmodBot, guild: discord.Guild, flag: Flag, config: GuildConfig | None) -> None:
    config = config or await bot.moderation.guild_config(guild.id)
    channel = guild.get_channel(config.modlog_channel_id) if config.modlog_channel_id else None
    try:
        if config.modlog_channel_id is None:
            raise LookupError("no mod-log channel is set (an admin can run /modlog set)")
        if not isinstance(channel, discord.abc.Messageable):
            raise LookupError("the mod-log channel no longer exists")
        posted = await post_flag(channel, flag)
    except (discord.HTTPException, LookupError) as exc:
        reason = describe_failure(exc, "post in the mod-log channel")
        if bot.modlog_failures.get(guild.id) != reason:
            log.warning("guild %s: flag %d kept but not posted: %s", guild.id, flag.id, reason)
        bot.modlog_failures[guild.id] = reason
        now = discord.utils.utcnow()
        await bot.db.write(lambda s: set_modlog_post(s, flag.id, config.modlog_channel_id, None, reason, now))
        return
    bot.modlog_failures.pop(guild.id, None)
    await bot.db.write(lambda s: set_modlog_post(s, flag.id, posted.channel.id, posted.id, None))


async def refresh_modlog_message(bot: ToxmodBot, guild: discord.Guild, flag: Flag) -> None:
    """Bring the flag's mod-log message up to date after a change made elsewhere (slash command, a report
    joining it, an edit); a pending flag that is not in the mod-log yet is posted instead."""
    if not (flag.modlog_channel_id and flag.modlog_message_id):
        if flag.status is FlagStatus.PENDING:
            await publish_flag(bot, guild, flag)
        return
    channel = guild.get_channel(flag.modlog_channel_id)
    if not isinstance(channel, discord.abc.Messageable):
        return  # gone (publish_flag only ever posts in a channel that holds messages)
    try:
        await channel.get_partial_message(flag.modlog_message_id).edit(embed=flag_embed(flag), view=flag_view(flag))
    except discord.HTTPException as exc:
        log.warning("could not update mod-log message for flag %d: %s", flag.id,
                    describe_failure(exc, "edit the mod-log post"))


async def publish_unsaved(bot: ToxmodBot, guild: discord.Guild, config: GuildConfig, unsaved: Unsaved) -> None:
    """A flag the database could not take yet reaches the mod-log anyway, marked as not saved and without
    buttons (a verdict needs the saved flag); once the spool writes it, the post becomes the real one."""
    channel = guild.get_channel(config.modlog_channel_id) if config.modlog_channel_id else None
    post = None
    if isinstance(channel, discord.abc.Messageable):
        embed = flag_embed(_transient_flag(unsaved))
        embed.title = f"Flag not saved yet ({unsaved.reason})"
        embed.set_footer(text="buttons appear once the database accepts it")
        try:
            post = await channel.send(embed=embed)
        except discord.HTTPException as exc:
            log.warning("guild %s: unsaved flag not posted either: %s", guild.id, exc)
    # nothing waits on the spool meanwhile: the write's completion starts the rest
    unsaved.saved.add_done_callback(lambda saved: bot.spawn(_when_saved(bot, guild, saved, post)))


async def _when_saved(bot: ToxmodBot, guild: discord.Guild, saved: asyncio.Future[Outcome],
                      post: discord.Message | None) -> None:
    if saved.cancelled() or saved.exception() is not None:
        log.warning("guild %s: a flag could not be saved: %s", guild.id, "cancelled" if saved.cancelled()
                    else saved.exception())
        return
    flag = saved.result().flag
    if flag is None:
        return
    if post is None:
        await publish_flag(bot, guild, flag)
        return
    try:
        await post.edit(embed=flag_embed(flag), view=flag_view(flag))
    except discord.HTTPException:
        await publish_flag(bot, guild, flag)  # the temporary post is gone: post the saved flag afresh
        return
    await bot.db.write(lambda s: set_modlog_post(s, flag.id, post.channel.id, post.id, None))


def _transient_flag(unsaved: Unsaved) -> Flag:
    """The flag as it will be saved, for the embed only (never added to a session)."""
    ref, decision = unsaved.incoming.ref, unsaved.decision
    return Flag(guild_id=ref.guild_id, channel_id=ref.channel_id, message_id=ref.message_id, author_id=ref.author_id,
                origin=FlagOrigin.MODEL, status=FlagStatus.PENDING, text=unsaved.incoming.text,
                labels=list(decision.fired), scores=dict(decision.scores),
                top_labels=[[label, p] for label, p in decision.top], model_version=decision.model_version)
