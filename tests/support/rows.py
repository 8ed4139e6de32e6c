"""Counting rows the way a person checking the database would: from outside the code under test, on either
backend, without creating anything."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool


def count(db_url: str, sql: str) -> int:
    """The integer `sql` selects; 0 where the database (a SQLite file) or the table does not exist yet."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not path.exists():
            return 0
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            try:
                return int(conn.execute(sql).fetchone()[0] or 0)
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return 0
                raise
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar() or 0)
    except ProgrammingError as exc:
        if getattr(exc.orig, "sqlstate", None) == "42P01":  # undefined_table
            return 0
        raise
    finally:
        engine.dispose()


def rows(db_url: str, table: str) -> int:
    return count(db_url, f"SELECT count(*) FROM {table}")


def has_schema(db_url: str) -> bool:
    """Whether anything (even an empty schema) was created in the database."""
    return count(db_url, "SELECT count(*) FROM alembic_version") > 0
