"""Strikes and the escalation ladder: what toxmod does to a member whose flag a moderator confirmed.

A confirmed flag is a strike on its author in that server. A server's ladder (`/escalation set`) says what
the nth strike within `decay_days` does: a warning sent privately, a timeout, or a suggestion to the
moderators that they ban (toxmod never bans by itself). Past the last step the last step repeats: a member
who keeps breaking the rules keeps getting what the ladder ends with. Strikes older than `decay_days` no
longer count, so a member who behaves climbs back down.

This module is pure policy: it parses and describes a ladder and picks the step for a count of strikes.
Storing strikes (bot/storage/strikes.py) and acting on Discord (bot/discord/modlog) are elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MAX_STEPS = 10
MAX_TIMEOUT_MINUTES = 28 * 24 * 60  # Discord's longest timeout
_UNITS = {"m": 1, "h": 60, "d": 24 * 60}
_STEP = re.compile(r"^(?:(?P<warn>warn)|(?P<ban>ban|suggest[ -]?ban)|timeout\s*(?P<n>[0-9]+)\s*(?P<unit>[mhd]))$")


class StepKind(StrEnum):
    """What one rung of the ladder does."""

    WARN = "warn"
    TIMEOUT = "timeout"
    SUGGEST_BAN = "suggest_ban"


@dataclass(frozen=True)
class Step:
    """One rung: its kind, and for a timeout how many minutes."""

    kind: StepKind
    minutes: int = 0

    def to_json(self) -> str:
        """The step as stored: "warn", "timeout:10", "suggest_ban"."""
        return f"{self.kind.value}:{self.minutes}" if self.kind is StepKind.TIMEOUT else self.kind.value

    @classmethod
    def from_json(cls, stored: str) -> Step:
        """The step `to_json` wrote."""
        kind, _, minutes = stored.partition(":")
        return cls(StepKind(kind), int(minutes or 0))

    def describe(self) -> str:
        """The step in words, for moderators and for the member's warning."""
        if self.kind is StepKind.WARN:
            return "a warning"
        if self.kind is StepKind.TIMEOUT:
            return f"a {duration(self.minutes)} timeout"
        return "a ban suggested to the moderators"


@dataclass(frozen=True)
class Ladder:
    """One server's ladder: the steps in order, and after how many days a strike stops counting."""

    steps: tuple[Step, ...] = ()
    decay_days: int = 30

    @property
    def enabled(self) -> bool:
        """Off (the default) while no step is set: a confirmed flag then does nothing more than before."""
        return bool(self.steps)

    def step_for(self, strikes: int) -> Step | None:
        """The step for a member's nth strike counted in the window (this one included); the last step
        repeats past the end. None when the ladder is off or nothing is counted."""
        if not self.steps or strikes < 1:
            return None
        return self.steps[min(strikes, len(self.steps)) - 1]

    def window_start(self, now: datetime) -> datetime:
        """Strikes before this time no longer count."""
        return now - timedelta(days=self.decay_days)

    def to_json(self) -> dict[str, object]:
        """As stored in the guild settings' `escalation` column."""
        return {"steps": [step.to_json() for step in self.steps], "decay_days": self.decay_days}

    @classmethod
    def from_json(cls, stored: dict | None) -> Ladder:
        """The ladder `to_json` wrote; None or an empty mapping: off."""
        stored = stored or {}
        return cls(tuple(Step.from_json(s) for s in stored.get("steps", ())), int(stored.get("decay_days", 30)))

    def describe(self) -> str:
        """Each step on its line, for `/escalation show`."""
        if not self.enabled:
            return "No escalation ladder is set here (the default): a confirmed flag is only a verdict."
        lines = [f"{ordinal(n)} strike within {self.decay_days} days: {step.describe()}"
                 for n, step in enumerate(self.steps, 1)]
        lines.append(f"Further strikes repeat the last step. toxmod never bans by itself; strikes older than "
                     f"{self.decay_days} days no longer count.")
        return "\n".join(lines)


def count_in_window(times: list[datetime], now: datetime, decay_days: int) -> int:
    """How many of a member's strikes (their times) still count at `now`."""
    start = now - timedelta(days=decay_days)
    return sum(1 for at in times if start < at <= now)


def parse_steps(text: str) -> tuple[Step, ...]:
    """The steps of `/escalation set`, comma-separated: "warn, timeout 10m, timeout 1d, ban" ("ban" means
    a ban suggested to the moderators). Raises ValueError saying what is wrong."""
    steps = []
    for part in (p.strip().casefold() for p in text.split(",")):
        match = _STEP.match(part)
        if match is None:
            raise ValueError(f"`{part[:40]}` is not a step: use warn, timeout <n>m|h|d, or ban")
        if match["warn"]:
            steps.append(Step(StepKind.WARN))
        elif match["ban"]:
            steps.append(Step(StepKind.SUGGEST_BAN))
        else:
            minutes = int(match["n"]) * _UNITS[match["unit"]]
            if not 1 <= minutes <= MAX_TIMEOUT_MINUTES:
                raise ValueError(f"`{part}`: a timeout lasts from 1 minute to 28 days")
            steps.append(Step(StepKind.TIMEOUT, minutes))
    if not 1 <= len(steps) <= MAX_STEPS:
        raise ValueError(f"a ladder has 1 to {MAX_STEPS} steps")
    return tuple(steps)


def duration(minutes: int) -> str:
    """"10-minute", "1-hour", "1-day": the longest whole unit."""
    for unit, size in (("day", 24 * 60), ("hour", 60)):
        if minutes % size == 0:
            return f"{minutes // size}-{unit}"
    return f"{minutes}-minute"


def span(minutes: int) -> str:
    """"10 minutes", "1 hour", "2 days": the longest whole unit, for a sentence."""
    count, unit = next((minutes // size, unit) for unit, size in (("day", 24 * 60), ("hour", 60), ("minute", 1))
                       if minutes % size == 0)
    return f"{count} {unit}{'' if count == 1 else 's'}"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
