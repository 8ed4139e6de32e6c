"""Scored messages: the row each score leaves, the flag it opens, what an edit changes, and which messages
were scored already (catching up after a restart)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.decision import Decision
from bot.labels import LABELS
from bot.storage.audit import audit
from bot.storage.locks import lock_key
from bot.storage.modlog_posts import MODLOG_RETRY_BASE
from bot.storage.tables import Flag, FlagOrigin, ScoredMessage, utcnow
from bot.storage.texts import set_flag_text, text_digest


@dataclass(frozen=True)
class MessageRef:
    """Where a message lives on Discord; every field may be None for offline replays."""

    guild_id: int | None = None
    channel_id: int | None = None
    message_id: int | None = None
    author_id: int | None = None


def record_score(
    session: Session,
    ref: MessageRef,
    decision: Decision,
    text: str,
    *,
    edited: bool = False,
    force_flag: FlagOrigin | None = None,
    reporter_id: int | None = None,
    previous: Flag | None = None,
    open_flag: bool = True,
) -> tuple[ScoredMessage, Flag | None]:
    """Log one scored message; open a flag (with the text snapshot) only if it was flagged or reported.

    The text is stored on the flag alone, encrypted under its author's key: unflagged messages leave no text
    behind, only its keyed digest, by which a later edit that does not change the text is recognised.
    `open_flag=False` logs the row only, for an edit whose message already has a flag that will show it.
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
        content_hash=text_digest(session, text),
        language=decision.language,
        **{label: decision.scores.get(label) for label in LABELS},  # none for a language the model cannot read
    )
    session.add(row)
    flag = None
    if (decision.flagged and open_flag) or force_flag is not None:
        flag = Flag(
            guild_id=ref.guild_id,
            channel_id=ref.channel_id,
            message_id=ref.message_id,
            author_id=ref.author_id,
            scored_message=row,
            origin=force_flag or FlagOrigin.MODEL,
            reporter_id=reporter_id,
            labels=list(decision.fired),
            scores={label: round(p, 6) for label, p in decision.scores.items()},
            top_labels=[[label, round(p, 6)] for label, p in decision.top],
            model_version=decision.model_version,
            language=decision.language,
            previous=previous,
            reports=[],
            context=[],  # read from Discord once the flag is recorded (bot/storage/context.py)
            # the caller posts it now; the delivery loop takes over only if that has not happened by then
            modlog_retry_at=utcnow() + MODLOG_RETRY_BASE,
        )
        session.add(flag)
        set_flag_text(session, flag, text)
        session.flush()  # callers use flag.id at once (a report's row refers to it)
    # A row without a flag is not flushed here but when the job's savepoint ends (or a later query
    # autoflushes): a replay chunk's rows then go out in a few batched INSERTs instead of a flush each,
    # which dominated the database writer's time in a replay.
    return row, flag


def record_unscored(session: Session, ref: MessageRef, text: str, model_version: str) -> ScoredMessage:
    """Log a message that was not scored because it repeats a flood or raid whose flag lists it: the row
    (no scores, `flagged` since moderators see it in that flag) keeps the catch-up after a restart from
    taking it for a message never seen, and its digest keeps an edit that changes nothing from being scored."""
    row = ScoredMessage(message_id=ref.message_id, guild_id=ref.guild_id, channel_id=ref.channel_id,
                        author_id=ref.author_id, flagged=True, model_version=model_version, latency_ms=0.0,
                        content_hash=text_digest(session, text))
    session.add(row)
    return row


def update_flag_scores(session: Session, flag: Flag, row: ScoredMessage, decision: Decision, text: str) -> None:
    """A pending flag's message was edited and is still flagged: the flag shows what the message says now."""
    set_flag_text(session, flag, text)
    flag.scored_message = row
    flag.labels = list(decision.fired)
    flag.scores = {label: round(p, 6) for label, p in decision.scores.items()}
    flag.top_labels = [[label, round(p, 6)] for label, p in decision.top]
    flag.model_version, flag.language = decision.model_version, decision.language
    audit(session, flag.guild_id, flag.author_id, "edited", flag.id)


def lock_message(session: Session, guild_id: int, message_id: int) -> None:
    """Hold one message's flags for the rest of the transaction, against writers in other processes
    (PostgreSQL's transaction-level advisory lock; SQLite's write transactions are serial already): the
    read of its latest flag and the flag opened after it happen as one step."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(lock_key(f"message:{guild_id}:{message_id}"))))


def latest_flag_for_message(session: Session, guild_id: int | None, message_id: int) -> Flag | None:
    """The newest flag of a message, whatever its status; None if it was never flagged."""
    return session.scalar(select(Flag).where(Flag.guild_id == guild_id, Flag.message_id == message_id)
                          .order_by(Flag.id.desc()).limit(1))


def last_scored_ids(session: Session, channel_ids: list[int]) -> dict[int, int]:
    """The newest message id scored in each channel (channels never scored are absent)."""
    rows = session.execute(select(ScoredMessage.channel_id, func.max(ScoredMessage.message_id))
                           .where(ScoredMessage.channel_id.in_(channel_ids))
                           .group_by(ScoredMessage.channel_id))
    return {channel: newest for channel, newest in rows if channel is not None and newest is not None}


def scored_ids(session: Session, message_ids: list[int]) -> set[int]:
    """Which of these messages were already scored."""
    return set(session.scalars(select(ScoredMessage.message_id).where(ScoredMessage.message_id.in_(message_ids))))
