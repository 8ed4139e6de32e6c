"""The transaction that turns a confirmed flag into a strike and picks the ladder's step for it.

It joins the policy (escalation.py) to its storage (bot/storage/strikes.py) in one transaction, so the
count a step is chosen by is the count the strike was made under. What the step does on Discord is the
mod-log service's (bot/discord/modlog).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from bot.moderation.escalation import Ladder, Step, StepKind, count_in_window
from bot.storage.cases import Strike
from bot.storage.strikes import applied_steps, locked_ladder, open_strike, revoke_strike, step_strike, strike_times
from bot.storage.tables import utcnow


@dataclass(frozen=True)
class StrikePlan:
    """What a new strike calls for: the member, their strikes in the window (this one included), the step
    to apply now (None past a ladder without one), and the step a further strike would bring."""

    flag_id: int
    member_id: int
    counted: int
    decay_days: int
    step: Step | None
    next_step: Step | None


def strike_flag(session: Session, guild_id: int, flag_id: int, actor_id: int | None) -> StrikePlan | None:
    """Count a confirmed flag against its author and pick its step; None when the guild has no ladder or
    the strike counts already (the step was, or is being, applied by whoever made it)."""
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
    step_strike(session, strike, step.to_json() if step else None, counted, ladder.decay_days, actor_id)
    return StrikePlan(flag_id, strike.member_id, counted, ladder.decay_days, step, ladder.step_for(counted + 1))


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
