"""Every query and write the CLI and the bot make, as functions of a Session.

They run inside the writer thread (writes) or `Database.read` (reads), never on the event loop. Every
lookup by flag id is scoped to a guild: a flag of another guild is indistinguishable from a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from bot.decision import Decision
from bot.labels import LABELS
from bot.storage.models import AuditEntry, Exemption, Flag, FlagOrigin, FlagStatus, GuildSettings, ScoredMessage, utcnow


@dataclass(frozen=True)
class MessageRef:
    """Where a message lives on Discord; every field may be None for offline replays."""

    guild_id: int | None = None
    channel_id: int | None = None
    message_id: int | None = None
    author_id: int | None = None


class FlagCounts(TypedDict):
    """What `/stats` shows for one guild over a period."""

    scored: int
    flags: int
    per_label: dict[str, int]
    reviewed: int
    confirm_rate: float | None  # None: nothing reviewed yet
    dismiss_rate: float | None


class MemberHistory(TypedDict):
    """A member's flags in one guild, for `/flags member`."""

    scored: int
    flags: int
    by_status: dict[str, int]
    latest: list[Flag]


def record_score(
    session: Session,
    ref: MessageRef,
    decision: Decision,
    text: str,
    *,
    edited: bool = False,
    force_flag: FlagOrigin | None = None,
    reporter_id: int | None = None,
) -> tuple[ScoredMessage, Flag | None]:
    """Log one scored message; open a flag (with the text snapshot) only if it was flagged or reported.

    The text is stored on the flag alone: unflagged messages leave no text behind.
    """
    row = ScoredMessage(
        message_id=ref.message_id,
        guild_id=ref.guild_id,
        channel_id=ref.channel_id,
        author_id=ref.author_id,
        edited=edited,
        flagged=decision.flagged,
        model_version=decision.model_version,
        latency_ms=round(decision.latency_ms, 3),
        **{label: decision.scores[label] for label in LABELS},
    )
    session.add(row)
    flag = None
    if decision.flagged or force_flag is not None:
        flag = Flag(
            guild_id=ref.guild_id,
            channel_id=ref.channel_id,
            message_id=ref.message_id,
            author_id=ref.author_id,
            scored_message=row,
            origin=force_flag or FlagOrigin.MODEL,
            reporter_id=reporter_id,
            text=text,
            labels=list(decision.fired),
            scores={label: round(p, 6) for label, p in decision.scores.items()},
            top_labels=[[label, round(p, 6)] for label, p in decision.top],
            model_version=decision.model_version,
        )
        session.add(flag)
    session.flush()
    return row, flag


def audit(session: Session, guild_id: int | None, actor_id: int | None, action: str, flag_id: int | None = None,
          **details: object) -> AuditEntry:
    entry = AuditEntry(guild_id=guild_id, actor_id=actor_id, action=action, flag_id=flag_id, details=details)
    session.add(entry)
    session.flush()
    return entry


def get_flag(session: Session, guild_id: int | None, flag_id: int) -> Flag | None:
    flag = session.get(Flag, flag_id)
    if flag is None or flag.guild_id != guild_id:
        return None
    return flag


def flags_query(
    guild_id: int | None,
    status: FlagStatus | None = None,
    author_id: int | None = None,
    channel_id: int | None = None,
) -> Select:
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
) -> Flag | None:
    """Record a moderator's verdict; Dismiss means clean on all six labels."""
    flag = get_flag(session, guild_id, flag_id)
    if flag is None:
        return None
    flag.status = status
    flag.reviewer_id = reviewer_id
    flag.reviewed_at = utcnow()
    if note:
        flag.note = note
    if status is FlagStatus.DISMISSED:
        flag.verdict_labels = []
    elif verdict_labels is not None:
        flag.verdict_labels = [label for label in LABELS if label in verdict_labels]
    else:
        flag.verdict_labels = list(flag.labels) or ["toxic"]
    audit(session, guild_id, reviewer_id, status.value, flag.id, note=note, labels=flag.verdict_labels)
    return flag


def guild_settings(session: Session, guild_id: int) -> GuildSettings:
    settings = session.get(GuildSettings, guild_id)
    if settings is None:
        settings = GuildSettings(guild_id=guild_id, thresholds={}, automod={})
        session.add(settings)
        session.flush()
    return settings


def exemptions(session: Session, guild_id: int) -> list[Exemption]:
    return list(session.scalars(select(Exemption).where(Exemption.guild_id == guild_id)))


def flag_counts_since(session: Session, guild_id: int, since: datetime) -> FlagCounts:
    """Figures for /stats: messages scored, flags per label, confirm and dismiss rates."""
    scored = session.scalar(
        select(func.count()).where(ScoredMessage.guild_id == guild_id, ScoredMessage.created_at >= since)
    ) or 0
    flags = list(session.scalars(select(Flag).where(Flag.guild_id == guild_id, Flag.created_at >= since)))
    per_label = {label: sum(label in f.labels for f in flags) for label in LABELS}
    reviewed = [f for f in flags if f.status is not FlagStatus.PENDING]
    confirmed = sum(f.status is FlagStatus.CONFIRMED for f in reviewed)
    return {
        "scored": scored,
        "flags": len(flags),
        "per_label": per_label,
        "reviewed": len(reviewed),
        "confirm_rate": confirmed / len(reviewed) if reviewed else None,
        "dismiss_rate": (len(reviewed) - confirmed) / len(reviewed) if reviewed else None,
    }


def set_modlog_post(session: Session, flag_id: int, channel_id: int | None, message_id: int | None,
                    error: str | None) -> None:
    """Where the flag was posted, or why it could not be; the flag itself is never lost either way."""
    flag = session.get(Flag, flag_id)
    if flag is not None:
        flag.modlog_channel_id, flag.modlog_message_id, flag.modlog_error = channel_id, message_id, error


def unposted_flags(session: Session, guild_id: int, limit: int) -> list[Flag]:
    """Pending flags that never reached a mod-log (none was set, or posting failed), oldest first."""
    return list(session.scalars(select(Flag).where(
        Flag.guild_id == guild_id, Flag.status == FlagStatus.PENDING, Flag.modlog_message_id.is_(None),
    ).order_by(Flag.id).limit(limit)))


def record_action(session: Session, guild_id: int | None, flag_id: int, actor_id: int | None, action: str,
                  **details: object) -> Flag | None:
    """A moderator or automod action on a flagged message (delete, timeout), in the flag and the audit log."""
    flag = get_flag(session, guild_id, flag_id)
    if flag is None:
        return None
    flag.action_taken = action if not flag.action_taken else f"{flag.action_taken}, {action}"
    audit(session, guild_id, actor_id, action, flag.id, **details)
    return flag


def update_guild_settings(session: Session, guild_id: int, actor_id: int | None, action: str,
                          **changes: object) -> GuildSettings:
    """Change a guild's settings (modlog channel, thresholds, automod) and audit who did it."""
    settings = guild_settings(session, guild_id)
    for key, value in changes.items():
        setattr(settings, key, value)
    audit(session, guild_id, actor_id, action, None, **changes)
    return settings


def add_exemption(session: Session, guild_id: int, kind: str, target_id: int, actor_id: int) -> bool:
    exists = session.scalar(select(Exemption).where(
        Exemption.guild_id == guild_id, Exemption.kind == kind, Exemption.target_id == target_id))
    if exists is not None:
        return False
    session.add(Exemption(guild_id=guild_id, kind=kind, target_id=target_id, created_by=actor_id))
    audit(session, guild_id, actor_id, "exempt_add", kind=kind, target_id=target_id)
    return True


def remove_exemption(session: Session, guild_id: int, kind: str, target_id: int, actor_id: int) -> bool:
    row = session.scalar(select(Exemption).where(
        Exemption.guild_id == guild_id, Exemption.kind == kind, Exemption.target_id == target_id))
    if row is None:
        return False
    session.delete(row)
    audit(session, guild_id, actor_id, "exempt_remove", kind=kind, target_id=target_id)
    return True


def member_history(session: Session, guild_id: int, author_id: int, limit: int = 10) -> MemberHistory:
    """A member's flags in one guild: counts by status and the latest few."""
    flags = list(session.scalars(flags_query(guild_id, author_id=author_id)))
    scored = session.scalar(select(func.count()).where(
        ScoredMessage.guild_id == guild_id, ScoredMessage.author_id == author_id)) or 0
    return {
        "scored": scored,
        "flags": len(flags),
        "by_status": {status.value: sum(f.status is status for f in flags) for status in FlagStatus},
        "latest": flags[:limit],
    }


def erase_texts(session: Session, *, before: datetime | None = None, guild_id: int | None = None,
                author_id: int | None = None) -> int:
    """Erase flag texts (retention, or a member's request); verdicts, labels and scores stay."""
    q = select(Flag).where(Flag.text.isnot(None))
    if before is not None:
        q = q.where(Flag.created_at < before)
    if guild_id is not None:
        q = q.where(Flag.guild_id == guild_id)
    if author_id is not None:
        q = q.where(Flag.author_id == author_id)
    now = utcnow()
    flags = list(session.scalars(q))
    for flag in flags:
        flag.text, flag.text_erased_at = None, now
    return len(flags)


def relabel_flag(session: Session, guild_id: int, flag_id: int, labels: list[str], actor_id: int) -> Flag | None:
    """A moderator's correction of which labels apply to a confirmed flag."""
    flag = get_flag(session, guild_id, flag_id)
    if flag is None or flag.status is not FlagStatus.CONFIRMED:
        return None
    flag.verdict_labels = [label for label in LABELS if label in labels]
    audit(session, guild_id, actor_id, "relabelled", flag.id, labels=flag.verdict_labels)
    return flag
