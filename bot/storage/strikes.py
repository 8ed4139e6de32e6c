"""Strikes: a confirmed flag counted against its author, the ladder's step for it, and its reversal.

Each step is applied once, whoever confirms and from whichever process: a flag has at most one strike (its
unique key), and only the transaction that makes it (or makes a revoked one count again) gets it back to
act on; any other finds it counting already and gets nothing. Strikes of one guild are counted one
transaction at a time, under the lock of the guild's settings row, where its ladder is stored. A reversal
likewise revokes a strike once, and only the transaction that revoked it undoes its step.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.audit import audit
from bot.storage.cases import Strike
from bot.storage.flags import get_flag
from bot.storage.inserts import insert_ignoring_conflicts
from bot.storage.tables import Flag, FlagStatus, GuildSettings


def locked_ladder(session: Session, guild_id: int) -> dict | None:
    """The guild's stored ladder (None: off), its settings row locked until the transaction ends, so that
    two strikes of the guild are never counted at once."""
    settings = session.get(GuildSettings, guild_id, with_for_update=True, populate_existing=True)
    return None if settings is None else settings.escalation


def open_strike(session: Session, guild_id: int, flag_id: int, now: datetime) -> Strike | None:
    """The strike of a confirmed flag of this guild, made now, or counted again if its verdict had been
    reversed; locked, for the caller to step. None when there is nothing to do: no such flag, not
    confirmed, no author (a raid), or its strike counts already (someone else got there first)."""
    flag = get_flag(session, guild_id, flag_id, for_update=True)
    if flag is None or flag.status is not FlagStatus.CONFIRMED or flag.author_id is None:
        return None
    made = insert_ignoring_conflicts(session, Strike, guild_id=guild_id, member_id=flag.author_id, flag_id=flag.id,
                                     created_at=now, counted=1, decay_days=0, applied=False)
    strike = session.scalars(select(Strike).where(Strike.flag_id == flag.id).with_for_update()
                             .execution_options(populate_existing=True)).one()
    if made:
        return strike
    if strike.revoked_at is None:
        return None
    strike.revoked_at, strike.created_at = None, now  # confirmed again: a new strike, stepped anew
    strike.step = strike.result = strike.dm = strike.undo = None
    strike.applied = False
    return strike


def strike_times(session: Session, guild_id: int, member_id: int, since: datetime) -> list[datetime]:
    """When the member's strikes that still count in this guild were made, since a time (in UTC: SQLite
    gives stored times back without their zone)."""
    session.flush()
    times = session.scalars(select(Strike.created_at).where(
        Strike.guild_id == guild_id, Strike.member_id == member_id, Strike.revoked_at.is_(None),
        Strike.created_at >= since))
    return [at.replace(tzinfo=UTC) if at.tzinfo is None else at for at in times]


def step_strike(session: Session, strike: Strike, step: str | None, counted: int, decay_days: int,
                actor_id: int | None) -> None:
    """Record the step the ladder picked for a strike (audited as the confirming moderator's doing)."""
    strike.step, strike.counted, strike.decay_days = step, counted, decay_days
    audit(session, strike.guild_id, actor_id, "strike", strike.flag_id, member_id=strike.member_id,
          counted=counted, decay_days=decay_days, step=step)


def record_step(session: Session, guild_id: int, flag_id: int, *, result: str, applied: bool,
                dm: str | None) -> Flag | None:
    """What the step did on Discord, and whether the member was told: on the strike (the flag's post
    shows them) and in the audit log. Returns the flag as it now reads."""
    strike = _locked_strike(session, guild_id, flag_id)
    if strike is None:
        return None
    strike.result, strike.applied, strike.dm = result, applied, dm
    audit(session, guild_id, None, "ladder_step", flag_id, member_id=strike.member_id, step=strike.step,
          result=result, applied=applied, dm=dm)
    return _reloaded(session, guild_id, flag_id)


def revoke_strike(session: Session, guild_id: int, flag_id: int, actor_id: int | None,
                  now: datetime) -> Strike | None:
    """Stop counting the strike of a flag whose verdict is no longer "confirmed"; the strike, for the
    caller to undo its step, or None if there is none, it was revoked already, or the flag stands."""
    flag = get_flag(session, guild_id, flag_id, for_update=True)
    if flag is None or flag.status is FlagStatus.CONFIRMED:
        return None
    strike = _locked_strike(session, guild_id, flag_id)
    if strike is None or strike.revoked_at is not None:
        return None
    strike.revoked_at = now
    audit(session, guild_id, actor_id, "strike_revoked", flag_id, member_id=strike.member_id, step=strike.step)
    return strike


def applied_steps(session: Session, guild_id: int, member_id: int) -> list[tuple[datetime, str]]:
    """When and which steps the member's strikes that still count applied to them (times in UTC)."""
    rows = session.execute(select(Strike.created_at, Strike.step).where(
        Strike.guild_id == guild_id, Strike.member_id == member_id, Strike.revoked_at.is_(None),
        Strike.applied.is_(True), Strike.step.isnot(None)))
    return [(at.replace(tzinfo=UTC) if at.tzinfo is None else at, step) for at, step in rows if step]


def record_undo(session: Session, guild_id: int, flag_id: int, line: str) -> Flag | None:
    """What undoing a revoked strike's step did (audited); the flag as it now reads."""
    strike = _locked_strike(session, guild_id, flag_id)
    if strike is None:
        return None
    strike.undo = line
    audit(session, guild_id, None, "ladder_undone", flag_id, member_id=strike.member_id, step=strike.step,
          result=line)
    return _reloaded(session, guild_id, flag_id)


def _locked_strike(session: Session, guild_id: int, flag_id: int) -> Strike | None:
    return session.scalar(select(Strike).where(Strike.guild_id == guild_id, Strike.flag_id == flag_id)
                          .with_for_update().execution_options(populate_existing=True))


def _reloaded(session: Session, guild_id: int, flag_id: int) -> Flag | None:
    session.flush()
    flag = get_flag(session, guild_id, flag_id)
    if flag is not None:
        session.refresh(flag, ["strike"])
    return flag
