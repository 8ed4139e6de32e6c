"""What each guild configured: its settings and its exemptions. Every change is audited and announced
to the other processes (changes.py), which cache the configuration."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.audit import audit
from bot.storage.changes import Change, announce
from bot.storage.inserts import insert_ignoring_conflicts
from bot.storage.tables import Exemption, GuildSettings, utcnow


def guild_settings(session: Session, guild_id: int) -> GuildSettings:
    """A guild's settings as stored, or the defaults (not stored) for a guild that never changed any."""
    settings = session.get(GuildSettings, guild_id)
    return settings or GuildSettings(guild_id=guild_id, modlog_channel_id=None, thresholds={}, automod={})


def _locked_guild_settings(session: Session, guild_id: int) -> GuildSettings:
    """The guild's settings row, created if missing, locked until the transaction ends."""
    insert_ignoring_conflicts(session, GuildSettings, guild_id=guild_id, thresholds={}, automod={}, updated_at=utcnow())
    return session.get_one(GuildSettings, guild_id, with_for_update=True, populate_existing=True)


def update_guild_settings(session: Session, guild_id: int, actor_id: int | None, action: str,
                          patch: dict[str, dict[str, object]] | None = None, **changes: object) -> GuildSettings:
    """Change a guild's settings and audit who did it: `changes` replace fields (modlog channel, a reset of
    the thresholds), `patch` changes single labels of the `thresholds` / `automod` mappings, or single
    fields of `floods` (None removes one). Patching the row as it is now, under its lock, keeps a change
    made meanwhile elsewhere (another label, another process) instead of writing back a stale copy of the
    whole mapping."""
    settings = _locked_guild_settings(session, guild_id)
    for key, value in changes.items():
        setattr(settings, key, value)
    for key, labels in (patch or {}).items():
        merged = {**(getattr(settings, key) or {}), **labels}
        setattr(settings, key, {label: value for label, value in merged.items() if value is not None})
    audit(session, guild_id, actor_id, action, None, **changes, **(patch or {}))
    announce(session, Change(guild_id=guild_id))
    return settings


def exemptions(session: Session, guild_id: int) -> list[Exemption]:
    """A guild's exempt channels and roles."""
    return list(session.scalars(select(Exemption).where(Exemption.guild_id == guild_id)))


def add_exemption(session: Session, guild_id: int, kind: str, target_id: int, actor_id: int) -> bool:
    """False if it was exempt already."""
    if not insert_ignoring_conflicts(session, Exemption, guild_id=guild_id, kind=kind, target_id=target_id,
                                     created_by=actor_id, created_at=utcnow()):
        return False
    audit(session, guild_id, actor_id, "exempt_add", kind=kind, target_id=target_id)
    announce(session, Change(guild_id=guild_id))
    return True


def remove_exemption(session: Session, guild_id: int, kind: str, target_id: int, actor_id: int) -> bool:
    """Score a channel or role again (audited, announced); False if it was not exempt."""
    row = session.scalar(select(Exemption).where(
        Exemption.guild_id == guild_id, Exemption.kind == kind, Exemption.target_id == target_id))
    if row is None:
        return False
    session.delete(row)
    audit(session, guild_id, actor_id, "exempt_remove", kind=kind, target_id=target_id)
    announce(session, Change(guild_id=guild_id))
    return True
