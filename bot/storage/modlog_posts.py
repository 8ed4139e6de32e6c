"""Where each flag was posted in its guild's mod-log, and which flags still have to be: a post that failed
is tried again later, so a flag never goes unseen because Discord refused it once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.storage.tables import Flag, FlagStatus, utcnow

# a failed mod-log post is tried again after 30 s, then 1, 2, 4 ... minutes, at most hourly
MODLOG_RETRY_BASE = timedelta(seconds=30)
MODLOG_RETRY_MAX = timedelta(hours=1)


def set_modlog_post(session: Session, flag_id: int, channel_id: int | None, message_id: int | None,
                    error: str | None, now: datetime | None = None) -> None:
    """Where the flag was posted, or why it could not be and when to try again (doubling from 30 s to an
    hour); the flag itself is never lost either way."""
    flag = session.get(Flag, flag_id, with_for_update=True, populate_existing=True)
    if flag is not None:
        record_post(flag, channel_id, message_id, error, now)


class Posted(Protocol):
    """A row with a mod-log post of its own: a flag, or a member's appeal."""

    modlog_channel_id: int | None
    modlog_message_id: int | None
    modlog_error: str | None
    modlog_attempts: int  # None at run time until the row is first flushed: read it as `or 0`
    modlog_retry_at: datetime | None


def record_post(row: Posted, channel_id: int | None, message_id: int | None, error: str | None,
                now: datetime | None = None) -> None:
    """Where a row (locked by the caller) was posted, or why it could not be and when to try again."""
    row.modlog_channel_id, row.modlog_message_id, row.modlog_error = channel_id, message_id, error
    if error is None:
        row.modlog_retry_at = None
    else:
        row.modlog_attempts = (row.modlog_attempts or 0) + 1
        row.modlog_retry_at = (now or utcnow()) + modlog_retry_delay(row.modlog_attempts)


def modlog_retry_delay(attempts: int) -> timedelta:
    """How long after its nth failure a mod-log post is tried again: 30 s, doubling, at most an hour."""
    return min(MODLOG_RETRY_BASE * 2 ** (attempts - 1), MODLOG_RETRY_MAX)


# pending flags that never reached a mod-log: what delivery retries and the health line counts
_UNPOSTED = (Flag.status == FlagStatus.PENDING) & Flag.modlog_message_id.is_(None)


def flags_due_for_posting(session: Session, guild_ids: list[int], limit: int, now: datetime) -> list[Flag]:
    """Pending flags of these guilds that are not in a mod-log and whose retry time has come, oldest first.

    `now` comes from the caller (the bot's clock), the same clock that set the retry times.
    """
    return list(session.scalars(select(Flag).where(
        Flag.guild_id.in_(guild_ids), _UNPOSTED, Flag.modlog_retry_at.is_(None) | (Flag.modlog_retry_at <= now),
    ).order_by(Flag.id).limit(limit)))


def flags_to_repost(session: Session, guild_id: int, channel_id: int) -> list[Flag]:
    """Pending flags not posted in this channel: never posted, failed, or posted in a channel since replaced."""
    return list(session.scalars(select(Flag).where(
        Flag.guild_id == guild_id, Flag.status == FlagStatus.PENDING,
        Flag.modlog_message_id.is_(None) | Flag.modlog_channel_id.is_(None) | (Flag.modlog_channel_id != channel_id),
    ).order_by(Flag.id)))


def modlog_backlog(session: Session, guild_id: int) -> tuple[int, str | None]:
    """How many pending flags of a guild are not in its mod-log, and the latest reason why."""
    count = session.scalar(select(func.count()).where(Flag.guild_id == guild_id, _UNPOSTED)) or 0
    reason = session.scalar(select(Flag.modlog_error).where(
        Flag.guild_id == guild_id, _UNPOSTED, Flag.modlog_error.isnot(None)).order_by(Flag.id.desc()).limit(1))
    return count, reason
