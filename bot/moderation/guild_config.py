"""Per-guild configuration as the live path needs it: one immutable snapshot of a guild's settings.

`Moderation` (pipeline.py) caches one per guild and drops it whenever an admin command changes that
guild's settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bot.moderation.escalation import Ladder
from bot.moderation.floods import FloodSettings
from bot.storage.guilds import exemptions, guild_settings


@dataclass(frozen=True)
class AutomodRule:
    """Automatic action for one label once its score passes a second, higher threshold."""

    threshold: float
    delete: bool = False
    timeout_minutes: int = 0

    def to_json(self) -> dict:
        """The rule as stored in the guild settings' JSON column."""
        return {"threshold": self.threshold, "delete": self.delete, "timeout_minutes": self.timeout_minutes}


@dataclass(frozen=True)
class GuildConfig:
    """One server's moderation settings, read once and cached by the pipeline: mod-log channel, threshold overrides,
    automod rules, exemptions, languages, floods and raids, and the escalation ladder."""

    guild_id: int
    modlog_channel_id: int | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    automod: dict[str, AutomodRule] = field(default_factory=dict)
    exempt_channels: frozenset[int] = frozenset()
    exempt_roles: frozenset[int] = frozenset()
    languages: tuple[str, ...] = ()  # empty: every language the model reads
    unsupported_language: str = "ignore"
    floods: FloodSettings = field(default_factory=FloodSettings)
    escalation: Ladder = field(default_factory=Ladder)

    def is_exempt(self, channel_ids: set[int], role_ids: set[int]) -> bool:
        """Exempt when the channel (or its parent, for threads) or any of the author's roles is exempt."""
        return bool(channel_ids & self.exempt_channels or role_ids & self.exempt_roles)


def load_guild_config(session: Session, guild_id: int) -> GuildConfig:
    """The guild's configuration from its settings row and exemptions (the defaults for a guild never configured)."""
    settings = guild_settings(session, guild_id)
    rows = exemptions(session, guild_id)
    return GuildConfig(
        guild_id=guild_id,
        modlog_channel_id=settings.modlog_channel_id,
        thresholds=dict(settings.thresholds or {}),
        automod={label: AutomodRule(**rule) for label, rule in (settings.automod or {}).items()},
        exempt_channels=frozenset(r.target_id for r in rows if r.kind == "channel"),
        exempt_roles=frozenset(r.target_id for r in rows if r.kind == "role"),
        languages=tuple(settings.languages or ()),
        unsupported_language=settings.unsupported_language or "ignore",
        floods=FloodSettings.from_json(settings.floods),
        escalation=Ladder.from_json(settings.escalation),
    )
