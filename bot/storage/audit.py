"""The audit log: who did what (verdicts, actions, settings, erasures, model changes), written in the
transaction that did it, so an entry exists exactly when its change does."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.storage.tables import AuditEntry


def audit(session: Session, guild_id: int | None, actor_id: int | None, action: str, flag_id: int | None = None,
          **details: object) -> AuditEntry:
    """Record who did what in a guild (and to which flag), in the same transaction as the change itself."""
    entry = AuditEntry(guild_id=guild_id, actor_id=actor_id, action=action, flag_id=flag_id, details=details)
    session.add(entry)
    session.flush()
    return entry
