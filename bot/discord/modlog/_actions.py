"""What moderators do to a flag, shared by the mod-log buttons and the `/flags` commands, so a flag
confirmed either way is stored, audited and shown identically. A flag id of another guild is answered
exactly like an id that does not exist."""

from __future__ import annotations

from datetime import timedelta

import discord

from bot.discord.app import ToxmodBot
from bot.discord.errors import NotFoundError, UserInputError
from bot.discord.modlog._embeds import describe_failure
from bot.discord.modlog._ladder import follow_verdict
from bot.storage.flags import AlreadyReviewed, get_flag, record_action, review_flag
from bot.storage.tables import Flag, FlagStatus


async def load_flag(bot: ToxmodBot, guild_id: int, flag_id: int) -> Flag:
    return _found(await bot.db.read(lambda s: get_flag(s, guild_id, flag_id)), flag_id)


async def review(bot: ToxmodBot, guild_id: int, flag_id: int, status: FlagStatus, actor_id: int,
                 note: str | None = None, *, only_pending: bool = False) -> Flag:
    """Record a verdict, then what it does on the escalation ladder (a strike and its step, or a reversed
    one undone), and return the flag as it then reads."""
    try:
        flag = _found(await bot.db.write(lambda s: review_flag(s, guild_id, flag_id, status, actor_id, note=note,
                                                               only_pending=only_pending)), flag_id)
    except AlreadyReviewed as exc:
        raise UserInputError(f"Flag #{flag_id} was already {exc.flag.status.value} by another moderator.") from exc
    return await follow_verdict(bot, guild_id, flag, actor_id)


async def delete_flagged_message(bot: ToxmodBot, guild: discord.Guild, flag: Flag, actor_id: int) -> Flag:
    channel = guild.get_channel_or_thread(flag.channel_id) if flag.channel_id else None
    # a flagged message was posted in a channel that holds messages; anything else is not that channel
    if not isinstance(channel, discord.abc.Messageable) or flag.message_id is None:
        raise UserInputError("The flagged message's channel is gone; nothing to delete.")
    try:
        await channel.get_partial_message(flag.message_id).delete()
        action = "message deleted"
    except discord.NotFound:
        action = "message was already deleted"
    except discord.HTTPException as exc:
        raise UserInputError(f"Could not delete the message: {describe_failure(exc, 'delete the message')}.") from exc
    return _found(await bot.db.write(lambda s: record_action(s, guild.id, flag.id, actor_id, action)), flag.id)


async def timeout_author(bot: ToxmodBot, guild: discord.Guild, flag: Flag, actor: discord.abc.User,
                         minutes: int) -> Flag:
    if flag.author_id is None:
        raise UserInputError("This flag has no author to time out.")
    member = guild.get_member(flag.author_id)
    try:
        member = member or await guild.fetch_member(flag.author_id)
        await member.timeout(timedelta(minutes=minutes), reason=f"toxmod flag #{flag.id}, by {actor}")
    except discord.NotFound as exc:
        raise UserInputError("The author is no longer a member of this server.") from exc
    except discord.HTTPException as exc:
        raise UserInputError(f"Could not time out the author: {describe_failure(exc, 'time out the author')}.") from exc
    action = f"author timed out {minutes} min"
    return _found(await bot.db.write(lambda s: record_action(s, guild.id, flag.id, actor.id, action, minutes=minutes)),
                  flag.id)


def _found(flag: Flag | None, flag_id: int) -> Flag:
    if flag is None:
        raise NotFoundError(f"No flag #{flag_id} in this server.")
    return flag
