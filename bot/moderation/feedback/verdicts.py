"""The moderator verdicts: flags a moderator confirmed or dismissed, with the labels they kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.tables import Flag, FlagKind, FlagStatus


def reviewed_flags(session: Session, guild_id: int | None = None, since: datetime | None = None) -> list[Flag]:
    """The verdicts: confirmed or dismissed flags of messages with their labels, oldest first, of one guild (None:
    all) and since a time. Floods and raids are not among them: their verdicts say nothing of the labels."""
    q = select(Flag).where(Flag.status.in_([FlagStatus.CONFIRMED, FlagStatus.DISMISSED]),
                           Flag.kind == FlagKind.MESSAGE, Flag.verdict_labels.isnot(None)).order_by(Flag.id)
    if guild_id is not None:
        q = q.where(Flag.guild_id == guild_id)
    if since is not None:
        q = q.where(Flag.reviewed_at >= since)
    return list(session.scalars(q))
