"""Flags of floods and raids: one flag per episode, the messages it lists, its figures, and its slow mode.

The episode itself is found by bot/moderation/floods.py; here it is stored. Every write locks the flag's
row (or inserts its listing with ON CONFLICT DO NOTHING), so the same repeat written twice, from whichever
process, is listed once, and figures only ever grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.audit import audit
from bot.storage.flags import get_flag
from bot.storage.inserts import insert_ignoring_conflicts
from bot.storage.messages import MessageRef, record_unscored
from bot.storage.modlog_posts import MODLOG_RETRY_BASE
from bot.storage.tables import Flag, FlagKind, FlagMessage, FlagOrigin, ScoredMessage, utcnow
from bot.storage.texts import set_flag_text


@dataclass(frozen=True)
class EpisodeMessage:
    """One message an episode's flag lists."""

    channel_id: int
    message_id: int
    author_id: int
    sent_at: datetime


@dataclass(frozen=True)
class EpisodeFigures:
    """How big the episode is so far: its messages and members (a lower bound once `members_capped`)."""

    messages: int
    members: int
    members_capped: bool = False


@dataclass(frozen=True)
class EpisodeUpdate:
    """What one message adds to an episode: the messages to list (maybe none: the listing is bounded), the
    figures now, and the message itself, logged without scores (its text, for its digest)."""

    listed: list[EpisodeMessage]
    figures: EpisodeFigures
    current: MessageRef
    text: str
    model_version: str


def open_episode(session: Session, guild_id: int, kind: FlagKind, update: EpisodeUpdate) -> Flag:
    """Open the flag of a flood or raid: no message id, no scores; the text sealed under the first listed
    member's key; for a flood the member is its author."""
    if not update.listed or kind is FlagKind.MESSAGE:
        raise ValueError("an episode's flag lists at least one message, and is a flood or a raid")
    first = update.listed[0]
    flag = Flag(kind=kind, guild_id=guild_id, channel_id=first.channel_id, message_id=None,
                author_id=first.author_id if kind is FlagKind.FLOOD else None, origin=FlagOrigin.MODEL,
                labels=[], scores={}, top_labels=None, model_version=update.model_version, language=None,
                reports=[], listed=[], context=[], episode=_figures({}, update.figures),
                modlog_retry_at=utcnow() + MODLOG_RETRY_BASE)  # posted now; the delivery loop if that fails
    session.add(flag)
    set_flag_text(session, flag, update.text, owner_id=first.author_id)
    session.flush()
    _log(session, flag, update)
    return flag


def add_to_episode(session: Session, guild_id: int, flag_id: int, update: EpisodeUpdate) -> Flag | None:
    """A repeat joins its episode's flag: listed (while there is room), counted, and logged; None if the
    flag is not this guild's (or no longer exists)."""
    flag = get_flag(session, guild_id, flag_id, for_update=True)
    if flag is None or not flag.is_episode:
        return None
    flag.episode = _figures(flag.episode or {}, update.figures)
    _log(session, flag, update)
    return flag


def note_slowmode(session: Session, guild_id: int, flag_id: int, channel_id: int, line: str, *,
                  applied: bool, seconds: int) -> Flag | None:
    """What became of the slow mode the episode asked for in one channel: one line on the flag (its post
    shows it), and an audit entry either way."""
    flag = get_flag(session, guild_id, flag_id, for_update=True)
    if flag is None:
        return None
    episode = dict(flag.episode or {})
    episode["slowmode"] = {**episode.get("slowmode", {}), str(channel_id): line}
    flag.episode = episode
    audit(session, guild_id, None, "slowmode_set" if applied else "slowmode_failed", flag.id,
          channel_id=channel_id, seconds=seconds, result=line)
    return flag


def _figures(stored: dict, figures: EpisodeFigures) -> dict:
    """The stored figures with the new ones: each only grows (writes may land out of order)."""
    return {**stored, "messages": max(stored.get("messages", 0), figures.messages),
            "members": max(stored.get("members", 0), figures.members),
            "members_capped": bool(stored.get("members_capped")) or figures.members_capped}


def _log(session: Session, flag: Flag, update: EpisodeUpdate) -> None:
    """List the new messages (a message already listed is skipped, by its unique key) and log the message
    that was not scored, once."""
    assert flag.guild_id is not None  # noqa: S101 - narrows for mypy: an episode is always a guild's
    for message in update.listed:
        insert_ignoring_conflicts(session, FlagMessage, flag_id=flag.id, guild_id=flag.guild_id,
                                  channel_id=message.channel_id, message_id=message.message_id,
                                  author_id=message.author_id, sent_at=message.sent_at)
    if update.listed:
        session.refresh(flag, ["listed"])
    current = update.current
    logged = select(ScoredMessage.id).where(ScoredMessage.channel_id == current.channel_id,
                                            ScoredMessage.message_id == current.message_id)
    if session.scalar(logged.limit(1)) is None:  # written once, whoever writes it again
        record_unscored(session, current, update.text, update.model_version)
