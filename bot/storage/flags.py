"""Flags once opened: looked up within their guild, moderators' verdicts and actions, members' reports.

Every lookup by flag id is scoped to a guild: a flag of another guild is indistinguishable from a missing one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from bot.labels import LABELS
from bot.storage.audit import audit
from bot.storage.inserts import insert_ignoring_conflicts
from bot.storage.tables import Flag, FlagStatus, Report, utcnow

AUTOMOD = "by automod"  # how automod's actions read in `action_taken`: what makes them appealable


class AlreadyReviewed(Exception):
    """A verdict that expected a pending flag found it already reviewed (by someone else, meanwhile)."""

    def __init__(self, flag: Flag) -> None:
        super().__init__(f"flag #{flag.id} was already {flag.status.value}")
        self.flag = flag


def get_flag(session: Session, guild_id: int | None, flag_id: int, *, for_update: bool = False) -> Flag | None:
    """The flag, if it belongs to this guild; `for_update` locks its row until the transaction ends (for a
    change that depends on what the row says now)."""
    flag = session.get(Flag, flag_id, with_for_update=for_update, populate_existing=for_update)
    if flag is None or flag.guild_id != guild_id:
        return None
    return flag


def flags_query(
    guild_id: int | None,
    status: FlagStatus | None = None,
    author_id: int | None = None,
    channel_id: int | None = None,
) -> Select:
    """The flags of a guild (None: every guild), newest first, narrowed by status, author and channel."""
    q = select(Flag).order_by(Flag.id.desc())
    if guild_id is not None:
        q = q.where(Flag.guild_id == guild_id)
    if status is not None:
        q = q.where(Flag.status == status)
    if author_id is not None:
        q = q.where(Flag.author_id == author_id)
    if channel_id is not None:
        q = q.where(Flag.channel_id == channel_id)
    return q


def list_flags(session: Session, guild_id: int | None, *, status: FlagStatus | None = None,
               author_id: int | None = None, channel_id: int | None = None, offset: int = 0,
               limit: int = 10) -> tuple[list[Flag], int]:
    """One page of `flags_query`, and how many flags match in all."""
    q = flags_query(guild_id, status, author_id, channel_id)
    total = session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
    return list(session.scalars(q.offset(offset).limit(limit))), total


def review_flag(
    session: Session,
    guild_id: int | None,
    flag_id: int,
    status: FlagStatus,
    reviewer_id: int,
    *,
    note: str | None = None,
    verdict_labels: list[str] | None = None,
    only_pending: bool = False,
) -> Flag | None:
    """Record a moderator's verdict; Dismiss means clean on all six labels (a flood's or raid's verdict
    keeps no labels: it is about the flooding, and never feeds training or threshold suggestions).

    `only_pending` (a click on the mod-log's buttons): raise `AlreadyReviewed` if a verdict landed first,
    from whichever process; the row is locked, so of two simultaneous clicks exactly one is recorded."""
    flag = get_flag(session, guild_id, flag_id, for_update=True)
    if flag is None:
        return None
    if only_pending and flag.status is not FlagStatus.PENDING:
        raise AlreadyReviewed(flag)
    flag.status = status
    flag.reviewer_id = reviewer_id
    flag.reviewed_at = utcnow()
    if note:
        flag.note = note
    if flag.is_episode:  # a verdict on a flood or raid says nothing of the six labels
        flag.verdict_labels = None
    elif status is FlagStatus.DISMISSED:
        flag.verdict_labels = []
    elif verdict_labels is not None:
        flag.verdict_labels = [label for label in LABELS if label in verdict_labels]
    else:
        flag.verdict_labels = list(flag.labels) or ["toxic"]
    audit(session, guild_id, reviewer_id, status.value, flag.id, note=note, labels=flag.verdict_labels)
    return flag


def relabel_flag(session: Session, guild_id: int, flag_id: int, labels: list[str], actor_id: int) -> Flag | None:
    """A moderator's correction of which labels apply to a confirmed flag."""
    flag = get_flag(session, guild_id, flag_id, for_update=True)
    if flag is None or flag.status is not FlagStatus.CONFIRMED or flag.is_episode:
        return None
    flag.verdict_labels = [label for label in LABELS if label in labels]
    audit(session, guild_id, actor_id, "relabelled", flag.id, labels=flag.verdict_labels)
    return flag


def record_action(session: Session, guild_id: int | None, flag_id: int, actor_id: int | None, action: str,
                  **details: object) -> Flag | None:
    """A moderator or automod action on a flagged message (delete, timeout), in the flag and the audit log."""
    flag = get_flag(session, guild_id, flag_id, for_update=True)
    if flag is None:
        return None
    flag.action_taken = action if not flag.action_taken else f"{flag.action_taken}, {action}"
    audit(session, guild_id, actor_id, action, flag.id, **details)
    return flag


def add_report(session: Session, flag: Flag, reporter_id: int) -> bool:
    """Add a member's report to a message's flag; False if this member had already reported the message."""
    assert flag.guild_id is not None and flag.message_id is not None  # noqa: S101 - narrows: reports are of guild messages
    added = insert_ignoring_conflicts(session, Report, guild_id=flag.guild_id, message_id=flag.message_id,
                                      reporter_id=reporter_id, flag_id=flag.id, created_at=utcnow())
    if added:
        session.refresh(flag, ["reports"])
    return added


def reports_since(session: Session, guild_id: int, reporter_id: int, since: datetime) -> int:
    """How many messages a member reported in a guild since a time (for the report rate limit)."""
    return session.scalar(select(func.count()).where(
        Report.guild_id == guild_id, Report.reporter_id == reporter_id, Report.created_at >= since)) or 0
