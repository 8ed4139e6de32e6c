"""The context of a new flag: the few messages before the flagged one in its channel and the one it replies
to, read from Discord once the flag is recorded (never on the scoring path) and stored with it.

Discord answers a history request from a bot without Read Message History with no messages rather than an
error, so the permission is checked first; a failure of any kind leaves the flag marked "context
unavailable" and its post goes out all the same.
"""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.discord.app import ToxmodBot
from bot.storage.context import CONTEXT_CHARS, CONTEXT_MESSAGES, ContextLine, add_flag_context
from bot.storage.errors import DatabaseError
from bot.storage.tables import Flag

log = logging.getLogger(__name__)

CONTEXT_WAIT_S = 10.0  # the post waits for its context this long at most (a rate limit could be longer)


async def with_context(bot: ToxmodBot, message: discord.Message, flag: Flag) -> Flag:
    """The flag with its context stored (or marked unavailable); the flag as it was if it cannot be stored."""
    guild = message.guild
    if guild is None or flag.is_episode:
        return flag
    lines = await read_context(message)
    try:
        stored = await bot.db.write(lambda s: add_flag_context(s, guild.id, flag.id, lines))
    except DatabaseError as exc:  # unavailable or locked: the flag is posted without its context
        log.warning("flag %d: context not stored: %s", flag.id, exc)
        return flag
    return stored or flag


async def read_context(message: discord.Message) -> list[ContextLine] | None:
    """The messages before `message` in its channel (at most CONTEXT_MESSAGES) and the one it replies to,
    in the same channel only; None when they cannot be read."""
    channel, guild = message.channel, message.guild
    if guild is None or not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        return None
    if not channel.permissions_for(guild.me).read_message_history:
        return None
    try:
        async with asyncio.timeout(CONTEXT_WAIT_S):
            earlier = [m async for m in channel.history(limit=CONTEXT_MESSAGES, before=message)]
            replied = await _replied_to(message)
    except (discord.HTTPException, TimeoutError) as exc:
        log.info("context of message %d unavailable: %s", message.id, str(exc) or "Discord took too long")
        return None
    lines = [_line(m) for m in earlier if m.channel.id == channel.id]
    if replied is not None:
        lines.append(_line(replied, is_reply=True))
    return lines


async def _replied_to(message: discord.Message) -> discord.Message | None:
    """The message this one replies to, if it is a reply in the same channel (a forward is not)."""
    ref = message.reference
    if ref is None or ref.message_id is None or ref.channel_id != message.channel.id:
        return None
    if ref.type is discord.MessageReferenceType.forward:
        return None
    resolved = ref.resolved if isinstance(ref.resolved, discord.Message) else ref.cached_message
    if resolved is None:
        try:
            resolved = await message.channel.fetch_message(ref.message_id)
        except discord.NotFound:
            return None  # deleted since: the reply's other lines are context enough
    return resolved if resolved.channel.id == message.channel.id else None


def _line(message: discord.Message, *, is_reply: bool = False) -> ContextLine:
    return ContextLine(channel_id=message.channel.id, message_id=message.id, author_id=message.author.id,
                       sent_at=message.created_at, text=message.content[:CONTEXT_CHARS], is_reply=is_reply)
