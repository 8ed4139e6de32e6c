"""Strikes: a confirmed flag counted against its author, the ladder's step for it, and its reversal.

Each step is applied once, whoever confirms and from whichever process: a flag has at most one strike (its
unique key), and only the transaction that makes it (or makes a revoked one count again) gets it back to
act on; any other finds it counting already and gets nothing. Strikes of one guild are counted one
transaction at a time, under the lock of the guild's settings row, where its ladder is stored. A reversal
likewise revokes a strike once, and only the transaction that revoked it undoes its step.

A claimed step stays claimed until its outcome is recorded, so one that a crash or a failing Discord call
interrupted is tried again (`due_strikes`, `due_strike`): each try is counted under the strike's lock
before it is made, so two processes never make the same try, and after STEP_TRIES the step is given up
(`record_step` with `failed`). The warning DM is marked "sending" before it is sent (`claim_dm`): a try that finds the
mark sends nothing, so a member is warned at most once, at the cost of not knowing whether a DM that a
crash interrupted arrived.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.audit import audit
from bot.storage.base import as_utc
from bot.storage.cases import StepState, Strike
from bot.storage.flags import get_flag
from bot.storage.inserts import insert_ignoring_conflicts
from bot.storage.tables import Flag, FlagStatus, GuildSettings

# a claimed step is tried again 1 minute after its claim, then 2, 4 and 8 minutes after each try: 5 in all
STEP_TRIES = 5
STEP_RETRY_BASE = timedelta(minutes=1)
DM_SENDING = "sending"  # the warning is being sent: never send it again
DM_UNKNOWN = "not known to have arrived: the bot stopped while sending it"


def step_retry_at(now: datetime, tries: int) -> datetime:
    """When a step tried `tries` times may be tried again (doubling from STEP_RETRY_BASE): late enough
    that the try in flight, in this process or another, has long finished."""
    return now + STEP_RETRY_BASE * 2 ** max(tries - 1, 0)


def locked_ladder(session: Session, guild_id: int) -> dict | None:
    """The guild's stored ladder (None: off), its settings row locked until the transaction ends, so that
    two strikes of the guild are never counted at once."""
    settings = session.get(GuildSettings, guild_id, with_for_update=True, populate_existing=True)
    return None if settings is None else settings.escalation


def stored_ladder(session: Session, guild_id: int) -> dict | None:
    """The guild's stored ladder (None: off), unlocked: for reading, not for counting strikes by."""
    settings = session.get(GuildSettings, guild_id)
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
    strike.applied = False  # step_strike claims the step anew
    return strike


def strike_times(session: Session, guild_id: int, member_id: int, since: datetime) -> list[datetime]:
    """When the member's strikes that still count in this guild were made, since a time (in UTC: SQLite
    gives stored times back without their zone)."""
    session.flush()
    times = session.scalars(select(Strike.created_at).where(
        Strike.guild_id == guild_id, Strike.member_id == member_id, Strike.revoked_at.is_(None),
        Strike.created_at >= since))
    return [as_utc(at) for at in times]


def step_strike(session: Session, strike: Strike, step: str | None, counted: int, decay_days: int,
                actor_id: int | None, *, now: datetime, timeout_until: datetime | None) -> None:
    """Record the step the ladder picked for a strike, claimed by this first try (audited as the confirming
    moderator's doing); `now` is the bot's clock, which the retries' times are on."""
    strike.step, strike.counted, strike.decay_days = step, counted, decay_days
    strike.state, strike.tries, strike.error = StepState.CLAIMED, 1, None
    strike.retry_at, strike.timeout_until = step_retry_at(now, 1), timeout_until
    audit(session, strike.guild_id, actor_id, "strike", strike.flag_id, member_id=strike.member_id,
          counted=counted, decay_days=decay_days, step=step)


def record_step(session: Session, guild_id: int, flag_id: int, *, result: str, applied: bool,
                dm: str | None, failed: bool = False) -> Flag | None:
    """What the step did on Discord, and whether the member was told: on the strike (the flag's post
    shows them) and in the audit log; the step is finished (`failed`: given up). Returns the flag as it
    now reads."""
    strike = locked_strike(session, guild_id, flag_id)
    if strike is None:
        return None
    if dm is None and strike.dm == DM_SENDING:
        dm = DM_UNKNOWN
    strike.result, strike.applied, strike.dm = result, applied, dm
    strike.state, strike.retry_at = StepState.FAILED if failed else StepState.DONE, None
    audit(session, guild_id, None, "ladder_step_failed" if failed else "ladder_step", flag_id,
          member_id=strike.member_id, step=strike.step, result=result, applied=applied, dm=dm, tries=strike.tries)
    return _reloaded(session, guild_id, flag_id)


def due_strikes(session: Session, guild_ids: list[int], now: datetime, limit: int) -> list[tuple[int, int]]:
    """The guild and flag of each claimed step of these guilds whose retry time has come, oldest first."""
    rows = session.execute(select(Strike.guild_id, Strike.flag_id).where(
        Strike.state == StepState.CLAIMED, Strike.revoked_at.is_(None), Strike.guild_id.in_(guild_ids),
        Strike.retry_at.is_(None) | (Strike.retry_at <= now)).order_by(Strike.id).limit(limit))
    return [(guild_id, flag_id) for guild_id, flag_id in rows]


def due_strike(session: Session, guild_id: int, flag_id: int, now: datetime) -> Strike | None:
    """The strike, locked, if its claimed step's retry time has come (checked again under the lock: another
    process may have taken this try meanwhile); None otherwise."""
    strike = locked_strike(session, guild_id, flag_id)
    if strike is None or strike.state is not StepState.CLAIMED or strike.revoked_at is not None:
        return None
    if strike.retry_at is not None and as_utc(strike.retry_at) > now:
        return None
    return strike


def count_try(strike: Strike, now: datetime) -> None:
    """Take one more try at a due strike's step (locked by `due_strike`), and set when the next may be."""
    strike.tries += 1
    strike.retry_at = step_retry_at(now, strike.tries)


def note_step_error(session: Session, guild_id: int, flag_id: int, error: str) -> Flag | None:
    """Why a try did not finish, with the step left claimed for the next (audited); the flag as it reads."""
    strike = locked_strike(session, guild_id, flag_id)
    if strike is None:
        return None
    strike.error = error
    audit(session, guild_id, None, "ladder_step_retry", flag_id, member_id=strike.member_id, step=strike.step,
          result=error, tries=strike.tries)
    return _reloaded(session, guild_id, flag_id)


def claim_dm(session: Session, guild_id: int, flag_id: int) -> str | None:
    """Mark the strike's warning as being sent, if no try sent (or began sending) it; what an earlier try
    recorded otherwise (DM_SENDING: it may or may not have arrived)."""
    strike = locked_strike(session, guild_id, flag_id)
    if strike is None:
        return DM_UNKNOWN
    if strike.dm is None:
        strike.dm = DM_SENDING
        return None
    return strike.dm


def revoke_strike(session: Session, guild_id: int, flag_id: int, actor_id: int | None,
                  now: datetime) -> Strike | None:
    """Stop counting the strike of a flag whose verdict is no longer "confirmed"; the strike, for the
    caller to undo its step, or None if there is none, it was revoked already, or the flag stands."""
    flag = get_flag(session, guild_id, flag_id, for_update=True)
    if flag is None or flag.status is FlagStatus.CONFIRMED:
        return None
    strike = locked_strike(session, guild_id, flag_id)
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
    return [(as_utc(at), step) for at, step in rows if step]


def record_undo(session: Session, guild_id: int, flag_id: int, line: str) -> Flag | None:
    """What undoing a revoked strike's step did (audited); the flag as it now reads."""
    strike = locked_strike(session, guild_id, flag_id)
    if strike is None:
        return None
    strike.undo = line
    audit(session, guild_id, None, "ladder_undone", flag_id, member_id=strike.member_id, step=strike.step,
          result=line)
    return _reloaded(session, guild_id, flag_id)


def locked_strike(session: Session, guild_id: int, flag_id: int) -> Strike | None:
    """The flag's strike, its row locked until the transaction ends."""
    return session.scalar(select(Strike).where(Strike.guild_id == guild_id, Strike.flag_id == flag_id)
                          .with_for_update().execution_options(populate_existing=True))


def _reloaded(session: Session, guild_id: int, flag_id: int) -> Flag | None:
    session.flush()
    flag = get_flag(session, guild_id, flag_id)
    if flag is not None:
        session.refresh(flag, ["strike"])
    return flag
