"""The few messages around a flagged one, stored with its flag: what a moderator needs to read it in context.

Read from Discord when the flag is opened (bot/discord/live), bounded in count and length, and kept like the
flagged text: each line sealed under its own author's key, erased by retention, `/privacy forget` and
purge with the flag texts (texts.erase_texts). Lines never come from another channel or server: the caller
reads one channel, and this module refuses anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.storage.sealing import CONTEXT_TEXT, seal
from bot.storage.tables import Flag, FlagContext
from bot.storage.texts import member_key

CONTEXT_MESSAGES = 3  # messages before the flagged one
CONTEXT_CHARS = 300  # of each line's text: enough to follow a conversation, no archive of it


@dataclass(frozen=True)
class ContextLine:
    """One message around a flagged one, as read: where, who, when, its text (cut to CONTEXT_CHARS)."""

    channel_id: int
    message_id: int
    author_id: int
    sent_at: datetime
    text: str
    is_reply: bool = False


def add_flag_context(session: Session, guild_id: int, flag_id: int, lines: list[ContextLine] | None) -> Flag | None:
    """Store the context of a flag of this guild (None: it could not be read, which the post says), and
    return the flag as it now reads; None if no such flag. Lines of another channel are dropped, each line's
    text is cut and sealed under its author's key, and a flag that already has context keeps it."""
    # not locked FOR UPDATE: an erasure locks keys, then flags; this takes keys (member_key) after the flag
    flag = session.get(Flag, flag_id, populate_existing=True)
    if flag is None or flag.guild_id != guild_id:
        return None
    if flag.context or flag.context_unavailable:
        return flag
    if lines is None:
        flag.context_unavailable = True
        return flag
    seen: set[int] = set()
    for line in sorted(lines, key=lambda line: (line.message_id, not line.is_reply)):
        if line.channel_id != flag.channel_id or line.message_id in seen or line.message_id == flag.message_id:
            continue
        seen.add(line.message_id)
        key = member_key(session, guild_id, line.author_id)
        flag.context.append(FlagContext(
            guild_id=guild_id, channel_id=line.channel_id, message_id=line.message_id, author_id=line.author_id,
            is_reply=line.is_reply, sent_at=line.sent_at, text_key=key,
            sealed_text=seal(key.key, line.text[:CONTEXT_CHARS], CONTEXT_TEXT)))
    session.flush()
    return flag
