"""How far `toxmod replay` got through each chat log: the `replay_runs` rows, one per file content.

A run is keyed by the sha256 of the file's bytes, not by its path: a renamed or moved copy of a log is the
same run (it resumes, or is recognised as replayed), and an edited log is a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.storage.models import ReplayRun, utcnow
from bot.storage.repository import insert_ignoring_conflicts


@dataclass(frozen=True)
class ReplayProgress:
    """A run as it stood when read: `lines_done` messages of `lines_total` are written."""

    id: int
    path: str
    lines_total: int
    lines_done: int
    finished_at: datetime | None


def start_replay(session: Session, digest: str, path: str, lines_total: int, *, again: bool = False) -> ReplayProgress:
    """The run of this content: new; unfinished, to resume where it stopped; finished, left as it is (the
    caller says so and writes nothing); or with `again`, started over from its first message."""
    created = insert_ignoring_conflicts(session, ReplayRun, digest=digest, path=path, lines_total=lines_total,
                                        lines_done=0, started_at=utcnow())
    run = session.scalars(select(ReplayRun).where(ReplayRun.digest == digest).with_for_update()
                          .execution_options(populate_existing=True)).one()
    if again and not created:
        run.lines_done, run.finished_at, run.started_at = 0, None, utcnow()
    if run.finished_at is None:
        run.path = path  # the latest place the log was replayed from
    session.flush()
    return ReplayProgress(run.id, run.path, run.lines_total, run.lines_done, run.finished_at)


def advance_replay(session: Session, run: ReplayProgress, lines_done: int) -> None:
    """Record that the first `lines_done` messages are written; the run is finished when that is all of them."""
    finished = utcnow() if lines_done >= run.lines_total else None
    session.execute(update(ReplayRun).where(ReplayRun.id == run.id).values(lines_done=lines_done, finished_at=finished))
