"""What one process changes that the others must see without a restart: a guild's settings, the model.

Several shard processes share one PostgreSQL, and each caches every guild's settings (a database round
trip in front of every message would cost more than the score) and holds a model in memory. A change is
announced with PostgreSQL's `NOTIFY` on the channel `toxmod_changes`, inside the transaction that makes
the change: it is delivered only if that transaction commits, after it commits, to every listening
process, this one included. Each process listens on one connection of its own (`ChangeListener`); when
that connection is lost, notifications sent meanwhile are lost with it, so on every (re)connection the
listener reports a gap and the process drops all its cached settings and re-reads which model is current.

SQLite announces nothing: it is the one-process database (several processes need PostgreSQL).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CHANNEL = "toxmod_changes"


@dataclass(frozen=True)
class Change:
    """A guild's settings changed (`guild_id`), or the current model did (`model`: its version)."""

    guild_id: int | None = None
    model: str | None = None

    def to_json(self) -> str:
        """The change as the NOTIFY payload other processes read."""
        return json.dumps({"guild_id": self.guild_id, "model": self.model})

    @classmethod
    def from_json(cls, payload: str) -> Change | None:
        """None for a payload this version does not understand (a newer process, a stray NOTIFY)."""
        try:
            data = json.loads(payload)
            guild_id, model = data.get("guild_id"), data.get("model")
        except (ValueError, AttributeError):
            return None
        if not (isinstance(guild_id, int) or guild_id is None) or not (isinstance(model, str) or model is None):
            return None
        return cls(guild_id, model)


def announce(session: Session, change: Change) -> None:
    """Tell every process about `change` once the session's transaction commits (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(CHANNEL, change.to_json())))


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq (psycopg.connect) takes it: the `+psycopg` driver suffix gone."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def listens(url: str) -> bool:
    """Whether a database at `url` carries announcements."""
    return make_url(url).get_backend_name() == "postgresql"


class ChangeListener:
    """One thread, one PostgreSQL connection doing `LISTEN toxmod_changes`.

    `on_change(change)` runs for every announcement and `on_gap()` after every (re)connection, both in the
    listener's thread (hand them to the event loop with `call_soon_threadsafe`). A lost connection is
    retried with backoff, from `retry_initial` doubling to `retry_max` seconds, and logged once per outage.
    """

    def __init__(self, url: str, on_change: Callable[[Change], None], on_gap: Callable[[], None], *,
                 retry_initial: float = 0.5, retry_max: float = 30.0) -> None:
        self.conninfo = libpq_url(url)
        self.on_change, self.on_gap = on_change, on_gap
        self.retry_initial, self.retry_max = retry_initial, retry_max
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ChangeListener:
        """Start listening on a thread of its own (once); returns the listener, to chain."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="toxmod-changes", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and wait up to `timeout` seconds for the thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        import psycopg

        backoff, down_since_logged = self.retry_initial, False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    if down_since_logged:
                        log.info("listening for changes from other processes again")
                    backoff, down_since_logged = self.retry_initial, False
                    self._report(self.on_gap)
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            change = Change.from_json(note.payload)
                            if change is None:
                                log.warning("ignored a change notice this version does not understand: %.200s",
                                            note.payload)
                            else:
                                self._report(self.on_change, change)
            except Exception as exc:  # a lost connection (psycopg.Error), or anything else: listen again
                self.connected.clear()
                if not down_since_logged:
                    log.warning("lost the connection that hears other processes' changes (%s); retrying",
                                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
                    down_since_logged = True
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.retry_max)

    @staticmethod
    def _report(callback: Callable[..., None], *args: object) -> None:
        try:
            callback(*args)
        except Exception:  # a callback's bug must not stop the listening
            log.exception("handling a change notice failed")
