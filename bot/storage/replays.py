"""How far `toxmod replay` got through each chat log (the `replay_runs` rows, one per file content), who
is writing it, and the flags of replayed lines.

A run is keyed by the sha256 of the file's bytes, not by its path: a renamed or moved copy of a log is the
same run (it resumes, or is recognised as replayed), and an edited log is a new one. One process at a time
writes a run (`claim_replay`): the position to resume from is read once, when a replay starts.

A replayed line has no Discord message id, so it is known by where it was said, who said it and what it
says: the same line scored again (a replay `--again`, or a repeat in the log) joins the line's pending
flag instead of opening another.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.storage.inserts import insert_ignoring_conflicts
from bot.storage.locks import JobLock, lock_key, try_lock
from bot.storage.messages import MessageRef
from bot.storage.tables import Flag, FlagStatus, ReplayRun, ScoredMessage, utcnow
from bot.storage.texts import text_digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayProgress:
    """A run as it stood when read: `lines_done` messages of `lines_total` are written."""

    id: int
    path: str
    lines_total: int
    lines_done: int
    finished_at: datetime | None


def claim_replay(engine: Engine, digest: str) -> JobLock | None:
    """Become the one process writing the run of this content, until `release` (or the process ends); None
    if another process is writing it now. Blocking I/O."""
    claim = try_lock(engine, f"replay-{digest}")
    if claim is not None:
        log.debug("replaying %s: no other process writes this log now", digest)
    return claim


def start_replay(session: Session, digest: str, path: str, lines_total: int, *, again: bool = False) -> ReplayProgress:
    """The run of this content: new; unfinished, to resume where it stopped (with `again` too: an interrupted
    `--again` resumes as any run does); finished, left as it is (the caller says so and writes nothing); or
    finished and `again`, started over from its first message."""
    insert_ignoring_conflicts(session, ReplayRun, digest=digest, path=path, lines_total=lines_total,
                              lines_done=0, started_at=utcnow())
    run = session.scalars(select(ReplayRun).where(ReplayRun.digest == digest).with_for_update()
                          .execution_options(populate_existing=True)).one()
    if again and run.finished_at is not None:
        run.lines_done, run.finished_at, run.started_at = 0, None, utcnow()
    if run.finished_at is None:
        run.path = path  # the latest place the log was replayed from
    session.flush()
    return ReplayProgress(run.id, run.path, run.lines_total, run.lines_done, run.finished_at)


def advance_replay(session: Session, run: ReplayProgress, lines_done: int) -> None:
    """Record that the first `lines_done` messages are written; the run is finished when that is all of them."""
    finished = utcnow() if lines_done >= run.lines_total else None
    session.execute(update(ReplayRun).where(ReplayRun.id == run.id).values(lines_done=lines_done, finished_at=finished))


def pending_flag_of_line(session: Session, ref: MessageRef, text: str) -> Flag | None:
    """The pending flag of a line without a Discord message id (a replayed one): same guild, channel, author
    and text, the text matched by the digest its scored row keeps (the flag's own text is encrypted). On
    PostgreSQL the line's flags are held until the transaction ends, against a replay of another log that
    holds the same line."""
    digest = text_digest(session, text)
    with session.no_autoflush:  # a chunk's unflagged rows stay batched; every flag is flushed when opened
        if session.get_bind().dialect.name == "postgresql":
            key = lock_key(f"line:{ref.guild_id}:{ref.channel_id}:{ref.author_id}:{digest}")
            session.execute(select(func.pg_advisory_xact_lock(key)))
        return session.scalar(
            select(Flag).join(ScoredMessage, Flag.scored_message_id == ScoredMessage.id)
            .where(Flag.message_id.is_(None), Flag.status == FlagStatus.PENDING, ScoredMessage.content_hash == digest,
                   _same(Flag.guild_id, ref.guild_id), _same(Flag.channel_id, ref.channel_id),
                   _same(Flag.author_id, ref.author_id))
            .order_by(Flag.id.desc()).limit(1))


def _same(column: InstrumentedAttribute[int | None], value: int | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value
