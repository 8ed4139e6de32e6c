"""Every query and write the CLI and the bot make, as functions of a Session.

They run inside the writer thread (writes) or `Database.read` (reads), never on the event loop. Every
lookup by flag id is scoped to a guild: a flag of another guild is indistinguishable from a missing one.

Several processes may write at once (shards sharing one PostgreSQL), so no write relies on being the only
writer: a row that is read, changed and written back is locked first (`FOR UPDATE`; SQLite's write
transactions are serial anyway), and "create unless it exists" is one `INSERT ... ON CONFLICT DO NOTHING`
against a unique key, never a look followed by an insert.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from sqlalchemy import ColumnElement, Select, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from bot.decision import Decision
from bot.labels import LABELS
from bot.storage.changes import Change, announce
from bot.storage.locks import lock_key
from bot.storage.models import (
    AuditEntry,
    Exemption,
    Flag,
    FlagOrigin,
    FlagStatus,
    GuildSettings,
    InstallSecret,
    MemberKey,
    Report,
    ScoredMessage,
    utcnow,
)
from bot.storage.sealing import DIGEST_SECRET, digest, new_key, seal, unseal

# a failed mod-log post is tried again after 30 s, then 1, 2, 4 ... minutes, at most hourly
MODLOG_RETRY_BASE = timedelta(seconds=30)
MODLOG_RETRY_MAX = timedelta(hours=1)


@dataclass(frozen=True)
class MessageRef:
    """Where a message lives on Discord; every field may be None for offline replays."""

    guild_id: int | None = None
    channel_id: int | None = None
    message_id: int | None = None
    author_id: int | None = None


class AlreadyReviewed(Exception):
    """A verdict that expected a pending flag found it already reviewed (by someone else, meanwhile)."""

    def __init__(self, flag: Flag) -> None:
        super().__init__(f"flag #{flag.id} was already {flag.status.value}")
        self.flag = flag


def insert_ignoring_conflicts(session: Session, model: type, **values: object) -> bool:
    """INSERT the row unless one with the same unique key exists (then nothing happens); True if inserted.

    Two processes inserting the same key at once both succeed, and exactly one row results."""
    dialect = session.get_bind().dialect.name
    insert: postgresql.Insert | sqlite.Insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
    key = next(iter(model.__table__.primary_key.columns))  # type: ignore[attr-defined]
    return session.execute(insert.values(**values).on_conflict_do_nothing().returning(key)).first() is not None


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
            # the caller posts it now; the delivery loop takes over only if that has not happened by then
            modlog_retry_at=utcnow() + MODLOG_RETRY_BASE,
        )
        session.add(flag)
        set_flag_text(session, flag, text)
        session.flush()  # callers use flag.id at once (a report's row refers to it)
    # A row without a flag is written when the job's savepoint ends (or a later query autoflushes): a
    # replay chunk's 256 rows go out in a few batched INSERTs, not 256 flushes, which were 80 % of the
    # database writer's time in a replay; its CPU per row falls by about 40 % (0.24-0.30 -> 0.15 ms).
    return row, flag


def audit(session: Session, guild_id: int | None, actor_id: int | None, action: str, flag_id: int | None = None,
          **details: object) -> AuditEntry:
    entry = AuditEntry(guild_id=guild_id, actor_id=actor_id, action=action, flag_id=flag_id, details=details)
    session.add(entry)
    session.flush()
    return entry


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
    only_pending: bool = False,
) -> Flag | None:
    """Record a moderator's verdict; Dismiss means clean on all six labels.

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
    if status is FlagStatus.DISMISSED:
        flag.verdict_labels = []
    elif verdict_labels is not None:
        flag.verdict_labels = [label for label in LABELS if label in verdict_labels]
    else:
        flag.verdict_labels = list(flag.labels) or ["toxic"]
    audit(session, guild_id, reviewer_id, status.value, flag.id, note=note, labels=flag.verdict_labels)
    return flag


def guild_settings(session: Session, guild_id: int) -> GuildSettings:
    """A guild's settings as stored, or the defaults (not stored) for a guild that never changed any."""
    settings = session.get(GuildSettings, guild_id)
    return settings or GuildSettings(guild_id=guild_id, modlog_channel_id=None, thresholds={}, automod={})


def _locked_guild_settings(session: Session, guild_id: int) -> GuildSettings:
    """The guild's settings row, created if missing, locked until the transaction ends."""
    insert_ignoring_conflicts(session, GuildSettings, guild_id=guild_id, thresholds={}, automod={}, updated_at=utcnow())
    return session.get_one(GuildSettings, guild_id, with_for_update=True, populate_existing=True)


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
                    error: str | None, now: datetime | None = None) -> None:
    """Where the flag was posted, or why it could not be and when to try again (doubling from 30 s to an
    hour); the flag itself is never lost either way."""
    flag = session.get(Flag, flag_id, with_for_update=True, populate_existing=True)
    if flag is None:
        return
    flag.modlog_channel_id, flag.modlog_message_id, flag.modlog_error = channel_id, message_id, error
    if error is None:
        flag.modlog_retry_at = None
    else:
        flag.modlog_attempts = (flag.modlog_attempts or 0) + 1
        delay = min(MODLOG_RETRY_BASE * 2 ** (flag.modlog_attempts - 1), MODLOG_RETRY_MAX)
        flag.modlog_retry_at = (now or utcnow()) + delay


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


def record_action(session: Session, guild_id: int | None, flag_id: int, actor_id: int | None, action: str,
                  **details: object) -> Flag | None:
    """A moderator or automod action on a flagged message (delete, timeout), in the flag and the audit log."""
    flag = get_flag(session, guild_id, flag_id, for_update=True)
    if flag is None:
        return None
    flag.action_taken = action if not flag.action_taken else f"{flag.action_taken}, {action}"
    audit(session, guild_id, actor_id, action, flag.id, **details)
    return flag


def update_guild_settings(session: Session, guild_id: int, actor_id: int | None, action: str,
                          patch: dict[str, dict[str, object]] | None = None, **changes: object) -> GuildSettings:
    """Change a guild's settings and audit who did it: `changes` replace fields (modlog channel, a reset of
    the thresholds), `patch` changes single labels of the `thresholds` / `automod` mappings (None removes
    one). Patching the row as it is now, under its lock, keeps a change made meanwhile elsewhere (another
    label, another process) instead of writing back a stale copy of the whole mapping."""
    settings = _locked_guild_settings(session, guild_id)
    for key, value in changes.items():
        setattr(settings, key, value)
    for key, labels in (patch or {}).items():
        merged = {**getattr(settings, key), **labels}
        setattr(settings, key, {label: value for label, value in merged.items() if value is not None})
    audit(session, guild_id, actor_id, action, None, **changes, **(patch or {}))
    announce(session, Change(guild_id=guild_id))
    return settings


def add_exemption(session: Session, guild_id: int, kind: str, target_id: int, actor_id: int) -> bool:
    """False if it was exempt already."""
    if not insert_ignoring_conflicts(session, Exemption, guild_id=guild_id, kind=kind, target_id=target_id,
                                     created_by=actor_id, created_at=utcnow()):
        return False
    audit(session, guild_id, actor_id, "exempt_add", kind=kind, target_id=target_id)
    announce(session, Change(guild_id=guild_id))
    return True


def remove_exemption(session: Session, guild_id: int, kind: str, target_id: int, actor_id: int) -> bool:
    row = session.scalar(select(Exemption).where(
        Exemption.guild_id == guild_id, Exemption.kind == kind, Exemption.target_id == target_id))
    if row is None:
        return False
    session.delete(row)
    audit(session, guild_id, actor_id, "exempt_remove", kind=kind, target_id=target_id)
    announce(session, Change(guild_id=guild_id))
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
    """Erase flag texts (retention, or a member's request) and the digests of scored texts in the same
    scope; verdicts, labels and scores stay. Returns how many flag texts were erased.

    An erased text is unreadable everywhere, not only in its row, because its key goes too: the key of a
    member left with no text in the guild is deleted, and a member who still has texts (retention took
    the older ones) gets a new key, the texts kept re-encrypted under it. The keys are locked first, so a
    text being sealed meanwhile by another process waits, then is erased with the rest. A member's
    forget (guild and member given) deletes their key even when no text of theirs is left.

    Digests go with the texts: an edit of such a message is scored again, the only cost. Run it with
    `Database.erase`, which then clears what the database still keeps of the destroyed keys.
    """
    flags_in_scope: list[ColumnElement[bool]] = [Flag.sealed_text.isnot(None)]
    scored_in_scope: list[ColumnElement[bool]] = [ScoredMessage.content_hash.isnot(None)]
    if before is not None:
        flags_in_scope.append(Flag.created_at < before)
        scored_in_scope.append(ScoredMessage.created_at < before)
    if guild_id is not None:
        flags_in_scope.append(Flag.guild_id == guild_id)
        scored_in_scope.append(ScoredMessage.guild_id == guild_id)
    if author_id is not None:
        flags_in_scope.append(Flag.author_id == author_id)
        scored_in_scope.append(ScoredMessage.author_id == author_id)
    owned: ColumnElement[bool] = MemberKey.id.in_(select(Flag.text_key_id).where(*flags_in_scope))
    if guild_id is not None and author_id is not None:
        owned |= (MemberKey.guild_id == guild_id) & (MemberKey.member_id == author_id)
    keys = list(session.scalars(select(MemberKey).where(owned).order_by(MemberKey.id).with_for_update()
                                .execution_options(populate_existing=True)))
    erased = cast(CursorResult[Any], session.execute(
        update(Flag).where(*flags_in_scope).values(sealed_text=None, text_key_id=None, text_erased_at=utcnow())
        .execution_options(synchronize_session="fetch"))).rowcount
    kept: defaultdict[int, list[Flag]] = defaultdict(list)
    if keys:
        for flag in session.scalars(select(Flag).where(Flag.text_key_id.in_([key.id for key in keys]),
                                                       Flag.sealed_text.isnot(None))):
            kept[flag.text_key_id or 0].append(flag)
        if gone := [key.id for key in keys if key.id not in kept]:
            session.execute(delete(MemberKey).where(MemberKey.id.in_(gone)))
        for key in keys:
            if key.id in kept:
                _replace_key(key, kept[key.id])
    session.execute(update(ScoredMessage).where(*scored_in_scope).values(content_hash=None)
                    .execution_options(synchronize_session=False))
    return erased


def _replace_key(key: MemberKey, flags: list[Flag]) -> None:
    """A new key for a member some of whose texts were erased: the texts kept are re-encrypted under it, and
    the old key, which could open the erased ones, is gone."""
    fresh = new_key()
    for flag in flags:
        assert flag.sealed_text is not None
        text = unseal(key.key, flag.sealed_text)
        if text is None:  # unreadable already (altered): nothing to keep
            flag.sealed_text, flag.text_key, flag.text_erased_at = None, None, utcnow()
        else:
            flag.sealed_text = seal(fresh, text)
    key.key, key.created_at = fresh, utcnow()


def relabel_flag(session: Session, guild_id: int, flag_id: int, labels: list[str], actor_id: int) -> Flag | None:
    """A moderator's correction of which labels apply to a confirmed flag."""
    flag = get_flag(session, guild_id, flag_id, for_update=True)
    if flag is None or flag.status is not FlagStatus.CONFIRMED:
        return None
    flag.verdict_labels = [label for label in LABELS if label in labels]
    audit(session, guild_id, actor_id, "relabelled", flag.id, labels=flag.verdict_labels)
    return flag


def _install_secret(session: Session, *, create: bool) -> bytes | None:
    """The installation's digest secret; made now if missing and `create` (a write), else None.

    Kept in the session for its other jobs: the writer's batch of scored messages reads it once, and the
    rows keep going out in batched INSERTs. Should the job that made it roll back, the digests made with it
    meanwhile never match again: those messages' next edits are scored again, nothing worse."""
    secret: bytes | None = session.info.get(DIGEST_SECRET)
    if secret is not None:
        return secret
    query = select(InstallSecret.value).where(InstallSecret.name == DIGEST_SECRET)
    with session.no_autoflush:
        secret = session.scalar(query)
        if secret is None and create:
            insert_ignoring_conflicts(session, InstallSecret, name=DIGEST_SECRET, value=new_key(), created_at=utcnow())
            secret = session.scalar(query)  # ours, or the one another process made at the same moment
    if secret is not None:
        session.info[DIGEST_SECRET] = secret
    return secret


def text_digest(session: Session, text: str) -> str:
    """The keyed digest a scored message keeps of its text (sealing.digest), in a write."""
    secret = _install_secret(session, create=True)
    assert secret is not None
    return digest(secret, text)


def same_text_scored(session: Session, guild_id: int, message_id: int, text: str) -> bool:
    """Whether `text` is what was last scored for this message. False when it is not known: never scored,
    its digest erased, or scored before digests were keyed (such an edit is scored once more)."""
    secret = _install_secret(session, create=False)
    if secret is None:
        return False
    last = session.scalar(select(ScoredMessage.content_hash).where(
        ScoredMessage.guild_id == guild_id, ScoredMessage.message_id == message_id,
    ).order_by(ScoredMessage.id.desc()).limit(1))
    return last is not None and last == digest(secret, text)


def _member_key(session: Session, guild_id: int | None, member_id: int | None) -> MemberKey:
    """The key of this member's texts in this guild, made on first use, and held (FOR SHARE) until the
    transaction ends: an erasure in another process waits for the text sealed under it, then erases it too."""
    guild, member = guild_id or 0, member_id or 0
    query = (select(MemberKey).where(MemberKey.guild_id == guild, MemberKey.member_id == member)
             .with_for_update(read=True).execution_options(populate_existing=True))
    # no autoflush: the scored rows waiting in the session go out with the flag's own flush, in one batch
    # (a key row never has changes waiting: erasure, the one place that changes keys, flushes them)
    with session.no_autoflush:
        for _ in range(3):  # an erasure elsewhere may delete a key between our insert and our read
            key = session.scalar(query)
            if key is not None:
                return key
            insert_ignoring_conflicts(session, MemberKey, guild_id=guild, member_id=member, key=new_key(),
                                      created_at=utcnow())
    raise RuntimeError(f"could not make a key for member {member} of guild {guild}")


def set_flag_text(session: Session, flag: Flag, text: str) -> None:
    """Store `text` as the flag's text, encrypted under its author's key in its guild."""
    key = _member_key(session, flag.guild_id, flag.author_id)
    flag.sealed_text, flag.text_key = seal(key.key, text), key


def lock_message(session: Session, guild_id: int, message_id: int) -> None:
    """Hold one message's flags for the rest of the transaction, against writers in other processes
    (PostgreSQL's transaction-level advisory lock; SQLite's write transactions are serial already): the
    read of its latest flag and the flag opened after it happen as one step."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(lock_key(f"message:{guild_id}:{message_id}"))))


def latest_flag_for_message(session: Session, guild_id: int | None, message_id: int) -> Flag | None:
    return session.scalar(select(Flag).where(Flag.guild_id == guild_id, Flag.message_id == message_id)
                          .order_by(Flag.id.desc()).limit(1))


def add_report(session: Session, flag: Flag, reporter_id: int) -> bool:
    """Add a member's report to a message's flag; False if this member had already reported the message."""
    assert flag.guild_id is not None and flag.message_id is not None  # reports only exist for guild messages
    added = insert_ignoring_conflicts(session, Report, guild_id=flag.guild_id, message_id=flag.message_id,
                                      reporter_id=reporter_id, flag_id=flag.id, created_at=utcnow())
    if added:
        session.refresh(flag, ["reports"])
    return added


def reports_since(session: Session, guild_id: int, reporter_id: int, since: datetime) -> int:
    return session.scalar(select(func.count()).where(
        Report.guild_id == guild_id, Report.reporter_id == reporter_id, Report.created_at >= since)) or 0


def last_scored_ids(session: Session, channel_ids: list[int]) -> dict[int, int]:
    """The newest message id scored in each channel (channels never scored are absent)."""
    rows = session.execute(select(ScoredMessage.channel_id, func.max(ScoredMessage.message_id))
                           .where(ScoredMessage.channel_id.in_(channel_ids))
                           .group_by(ScoredMessage.channel_id))
    return {channel: newest for channel, newest in rows if channel is not None and newest is not None}


def scored_ids(session: Session, message_ids: list[int]) -> set[int]:
    """Which of these messages were already scored."""
    return set(session.scalars(select(ScoredMessage.message_id).where(ScoredMessage.message_id.in_(message_ids))))


def update_flag_scores(session: Session, flag: Flag, row: ScoredMessage, decision: Decision, text: str) -> None:
    """A pending flag's message was edited and is still flagged: the flag shows what the message says now."""
    set_flag_text(session, flag, text)
    flag.scored_message = row
    flag.labels = list(decision.fired)
    flag.scores = {label: round(p, 6) for label, p in decision.scores.items()}
    flag.top_labels = [[label, round(p, 6)] for label, p in decision.top]
    flag.model_version, flag.language = decision.model_version, decision.language
    audit(session, flag.guild_id, flag.author_id, "edited", flag.id)
