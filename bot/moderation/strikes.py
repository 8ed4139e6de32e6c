"""The transaction that turns a confirmed flag into a strike and picks the ladder's step for it.

It joins the policy (escalation.py) to its storage (bot/storage/strikes.py) in one transaction, so the
count a step is chosen by is the count the strike was made under. What the step does on Discord is the
mod-log service's (bot/discord/modlog), which also retries a step left claimed (`retry_step`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.moderation.escalation import Ladder, Step, StepKind, count_in_window
from bot.storage.base import as_utc
from bot.storage.cases import Strike
from bot.storage.strikes import (
    STEP_TRIES,
    applied_steps,
    count_try,
    due_strike,
    locked_ladder,
    open_strike,
    record_step,
    revoke_strike,
    step_strike,
    stored_ladder,
    strike_times,
)
from bot.storage.tables import Flag, utcnow


@dataclass(frozen=True)
class StrikePlan:
    """What a new strike calls for: the member, their strikes in the window (this one included), the step
    to apply now (None past a ladder without one), and the step a further strike would bring; a timeout's
    end, fixed at the claim, and how many tries this one is (STEP_TRIES is the last)."""

    flag_id: int
    member_id: int
    counted: int
    decay_days: int
    step: Step | None
    next_step: Step | None
    timeout_until: datetime | None = None
    tries: int = 1

    @property
    def last_try(self) -> bool:
        """No try follows this one: what it cannot do now is given up."""
        return self.tries >= STEP_TRIES

    @property
    def counted_line(self) -> str:
        """"strike 2 in 30 days": how the step's lines begin."""
        return f"strike {self.counted} in {self.decay_days} days"


def strike_flag(session: Session, guild_id: int, flag_id: int, actor_id: int | None,
                clock: datetime | None = None) -> StrikePlan | None:
    """Count a confirmed flag against its author and pick and claim its step; None when the guild has no
    ladder or the strike counts already (the step was, or is being, applied by whoever made it). `clock`
    is the bot's (Discord's) now, which a timeout's end and the retries are timed by."""
    ladder = Ladder.from_json(locked_ladder(session, guild_id))
    if not ladder.enabled:
        return None
    now = utcnow()
    strike = open_strike(session, guild_id, flag_id, now)
    if strike is None:
        return None
    times = strike_times(session, guild_id, strike.member_id, ladder.window_start(now))
    counted = count_in_window(times, now, ladder.decay_days)
    step = ladder.step_for(counted)
    clock = clock or now
    until = clock + timedelta(minutes=step.minutes) if step and step.kind is StepKind.TIMEOUT else None
    step_strike(session, strike, step.to_json() if step else None, counted, ladder.decay_days, actor_id,
                now=clock, timeout_until=until)
    return StrikePlan(flag_id, strike.member_id, counted, ladder.decay_days, step, ladder.step_for(counted + 1),
                      until)


def retry_step(session: Session, guild_id: int, flag_id: int, clock: datetime) -> StrikePlan | Flag | None:
    """Take the next try at a step left claimed, once its retry time has come: its plan as claimed, for the
    caller to apply again. A step whose tries are spent (each interrupted before it recorded anything) is
    given up here: the flag as it then reads, for its post to say so. None: not due, or finished."""
    strike = due_strike(session, guild_id, flag_id, clock)
    if strike is None:
        return None
    step = Step.from_json(strike.step) if strike.step else None
    if strike.tries >= STEP_TRIES:
        what = step.describe() if step else "the step"
        line = (f"strike {strike.counted} in {strike.decay_days} days: {what} not applied, given up after "
                f"{strike.tries} tries ({strike.error or 'each was interrupted'})")
        return record_step(session, guild_id, flag_id, result=line, applied=False, dm=None, failed=True)
    count_try(strike, clock)
    ladder = Ladder.from_json(stored_ladder(session, guild_id))  # not locked: only to say what comes next
    until = strike.timeout_until
    return StrikePlan(flag_id, strike.member_id, strike.counted, strike.decay_days, step,
                      ladder.step_for(strike.counted + 1), until and as_utc(until), strike.tries)


@dataclass(frozen=True)
class Reversal:
    """A strike revoked now, for its step to be undone, and how much longer the member's other strikes that
    still count keep them timed out (None: none does), so that undoing one timeout does not lift another's."""

    strike: Strike
    step: Step | None
    timeout_still_due: timedelta | None


def reverse_strike(session: Session, guild_id: int, flag_id: int, actor_id: int | None) -> Reversal | None:
    """Revoke the strike of a flag whose verdict was reversed (once: None if there is nothing to revoke)."""
    strike = revoke_strike(session, guild_id, flag_id, actor_id, utcnow())
    if strike is None:
        return None
    step = Step.from_json(strike.step) if strike.step else None
    return Reversal(strike, step, timeout_still_due(session, guild_id, strike.member_id))


def timeout_still_due(session: Session, guild_id: int, member_id: int) -> timedelta | None:
    """How much longer the member's strikes that still count keep them timed out; None: none does."""
    now = utcnow()
    ends = [at + timedelta(minutes=step.minutes) for at, step in
            ((at, Step.from_json(stored)) for at, stored in applied_steps(session, guild_id, member_id))
            if step.kind is StepKind.TIMEOUT]
    return max((end - now for end in ends if end > now), default=None)
