"""Creating a row unless it exists, safely when several processes do it at once."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflicts(session: Session, model: type, **values: object) -> bool:
    """INSERT the row unless one with the same unique key exists (then nothing happens); True if inserted.

    Two processes inserting the same key at once both succeed, and exactly one row results."""
    dialect = session.get_bind().dialect.name
    insert: postgresql.Insert | sqlite.Insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
    key = next(iter(model.__table__.primary_key.columns))  # type: ignore[attr-defined]
    return session.execute(insert.values(**values).on_conflict_do_nothing().returning(key)).first() is not None
