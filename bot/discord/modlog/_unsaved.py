"""A flag the database could not take yet: moderators see it at once, marked as not saved and without
buttons (a verdict needs the saved flag); once the spool writes it, the post becomes the real one."""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.discord.app import ToxmodBot
from bot.discord.modlog._channel import modlog_channel
from bot.discord.modlog._embeds import flag_embed
from bot.discord.modlog._post import flag_view, publish_flag
from bot.moderation.guild_config import GuildConfig
from bot.moderation.pipeline import Outcome, Unsaved
from bot.storage.modlog_posts import set_modlog_post
from bot.storage.tables import Flag, FlagOrigin, FlagStatus

log = logging.getLogger(__name__)


async def publish_unsaved(bot: ToxmodBot, guild: discord.Guild, config: GuildConfig, unsaved: Unsaved) -> None:
    """Post the flag as it will be saved, and have the save, whenever it comes, finish the job."""
    channel = modlog_channel(guild, config)
    post = None
    if channel is not None:
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
    """The saved flag replaces the temporary post; the guild's configuration is read afresh, since it may
    have changed while the database was unavailable."""
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
