"""Members' appeals: filed once per case by the member the ladder (or automod) acted on, decided once by a
moderator.

"Once" holds across processes: an appeal's unique key is its flag, and a decision locks the appeal's row
and expects it open. A member may appeal only their own case that still stands, and at most
APPEALS_PER_DAY times a day in a guild, so appeals cannot flood the mod-log. The text is the member's
own, cut to APPEAL_CHARS and sealed under their key, erased like their flagged texts (texts.erase_texts).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.storage.audit import audit
from bot.storage.cases import Appeal, AppealStatus, Strike
from bot.storage.flags import AUTOMOD, get_flag
from bot.storage.inserts import insert_ignoring_conflicts
from bot.storage.modlog_posts import record_post
from bot.storage.sealing import APPEAL_TEXT, seal
from bot.storage.tables import Flag, FlagStatus
from bot.storage.texts import member_key

APPEAL_CHARS = 1000  # what the member may write: enough to explain, no essay for moderators to wade through
APPEALS_PER_DAY = 3  # per member and guild


class AppealRefused(Exception):
    """The member may not appeal this case (not theirs, already appealed, too many today); says why."""


class AppealDecided(Exception):
    """A decision found the appeal already decided (by another moderator, meanwhile)."""

    def __init__(self, appeal: Appeal) -> None:
        super().__init__(f"appeal #{appeal.id} was already {appeal.status.value}")
        self.appeal = appeal


def appealable(session: Session, guild_id: int, flag_id: int, member_id: int) -> Flag:
    """The member's case, if they may appeal it: a flag of theirs whose strike the ladder stepped, or on
    which automod acted; raises AppealRefused otherwise. Another member's case reads exactly like a case
    that does not exist."""
    flag = get_flag(session, guild_id, flag_id)
    strike = session.scalar(select(Strike).where(Strike.guild_id == guild_id, Strike.flag_id == flag_id))
    stepped = strike is not None and strike.member_id == member_id and strike.step is not None
    automod = flag is not None and flag.author_id == member_id and AUTOMOD in (flag.action_taken or "")
    if flag is None or not (stepped or automod):
        raise AppealRefused("There is no case of yours to appeal here.")
    if flag.status is FlagStatus.DISMISSED:
        raise AppealRefused("This case was already withdrawn; there is nothing to appeal.")
    if session.scalar(select(Appeal.id).where(Appeal.flag_id == flag_id)) is not None:
        raise AppealRefused("You already appealed this case; each case can be appealed once.")
    return flag


def file_appeal(session: Session, guild_id: int, flag_id: int, member_id: int, text: str,
                now: datetime) -> Appeal:
    """Store the member's appeal of their case, sealed, and audit it; raises AppealRefused."""
    appealable(session, guild_id, flag_id, member_id)
    today = session.scalar(select(func.count()).where(
        Appeal.guild_id == guild_id, Appeal.member_id == member_id, Appeal.created_at >= now - timedelta(days=1)))
    if (today or 0) >= APPEALS_PER_DAY:
        raise AppealRefused(f"You have appealed {APPEALS_PER_DAY} times today; please wait before appealing again.")
    key = member_key(session, guild_id, member_id)
    if not insert_ignoring_conflicts(session, Appeal, guild_id=guild_id, flag_id=flag_id, member_id=member_id,
                                     sealed_text=seal(key.key, text[:APPEAL_CHARS], APPEAL_TEXT),
                                     text_key_id=key.id, status=AppealStatus.OPEN.value, created_at=now):
        raise AppealRefused("You already appealed this case; each case can be appealed once.")
    appeal = session.scalars(select(Appeal).where(Appeal.flag_id == flag_id)).one()
    audit(session, guild_id, member_id, "appeal_filed", flag_id, appeal_id=appeal.id)
    return appeal


def decide_appeal(session: Session, guild_id: int, appeal_id: int, status: AppealStatus, actor_id: int,
                  now: datetime, note: str | None = None) -> Appeal | None:
    """A moderator's Accept or Reject (audited); None if no such appeal here, AppealDecided if decided."""
    appeal = session.get(Appeal, appeal_id, with_for_update=True, populate_existing=True)
    if appeal is None or appeal.guild_id != guild_id:
        return None
    if appeal.status is not AppealStatus.OPEN:
        raise AppealDecided(appeal)
    appeal.status, appeal.decided_by, appeal.decided_at, appeal.note = status, actor_id, now, note
    audit(session, guild_id, actor_id, f"appeal_{status.value}", appeal.flag_id, appeal_id=appeal.id, note=note)
    return appeal


def get_appeal(session: Session, guild_id: int, appeal_id: int) -> Appeal | None:
    """The appeal, if it belongs to this guild."""
    appeal = session.get(Appeal, appeal_id)
    return appeal if appeal is not None and appeal.guild_id == guild_id else None


def open_appeals(session: Session, guild_id: int, limit: int = 20) -> tuple[list[Appeal], int]:
    """The guild's open appeals, oldest first (the longest waiting), and how many are open in all."""
    where = (Appeal.guild_id == guild_id, Appeal.status == AppealStatus.OPEN)
    total = session.scalar(select(func.count()).where(*where)) or 0
    return list(session.scalars(select(Appeal).where(*where).order_by(Appeal.id).limit(limit))), total


def set_appeal_post(session: Session, appeal_id: int, channel_id: int | None, message_id: int | None,
                    error: str | None = None, now: datetime | None = None) -> None:
    """Where the appeal's mod-log post is, so a decision can bring it up to date; or why it could not be
    posted and when to try again (backing off as a flag's post does), so the appeal reaches moderators."""
    appeal = session.get(Appeal, appeal_id, with_for_update=True, populate_existing=True)
    if appeal is not None:
        record_post(appeal, channel_id, message_id, error, now)


def appeals_due_for_posting(session: Session, guild_ids: list[int], limit: int, now: datetime) -> list[Appeal]:
    """Appeals of these guilds not in a mod-log yet whose retry time has come, oldest first (`now` on the
    bot's clock, which set the retry times)."""
    return list(session.scalars(select(Appeal).where(
        Appeal.guild_id.in_(guild_ids), Appeal.modlog_message_id.is_(None),
        Appeal.modlog_retry_at.is_(None) | (Appeal.modlog_retry_at <= now)).order_by(Appeal.id).limit(limit)))


def appeals_to_repost(session: Session, guild_id: int, channel_id: int) -> list[Appeal]:
    """Open appeals not posted in this channel: never posted, failed, or posted in a channel since replaced
    (as `flags_to_repost` for flags), so a new mod-log holds every appeal still waiting for a moderator."""
    return list(session.scalars(select(Appeal).where(
        Appeal.guild_id == guild_id, Appeal.status == AppealStatus.OPEN,
        Appeal.modlog_message_id.is_(None) | Appeal.modlog_channel_id.is_(None)
        | (Appeal.modlog_channel_id != channel_id)).order_by(Appeal.id)))


def note_appeal_dm(session: Session, guild_id: int, appeal_id: int, dm: str) -> Appeal | None:
    """Whether the member was told the decision (a DM is tried once, never again), on the appeal and audited."""
    appeal = session.get(Appeal, appeal_id, with_for_update=True, populate_existing=True)
    if appeal is None or appeal.guild_id != guild_id:
        return None
    appeal.dm = dm
    audit(session, guild_id, None, "appeal_dm", appeal.flag_id, appeal_id=appeal.id, dm=dm)
    return appeal
