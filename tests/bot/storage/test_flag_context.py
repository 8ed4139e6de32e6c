"""Issue 26: a flag's context (the messages before it and the one it replies to), on SQLite and PostgreSQL:
the migration that adds it, lines kept to the flag's own channel, and erasure of each line with its author's
texts (a member's forget) or with the flag's (retention)."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from bot.decision import Scores
from bot.labels import LABELS
from bot.moderation.policy import Policy
from bot.storage.context import CONTEXT_CHARS, ContextLine, add_flag_context
from bot.storage.database import Database
from bot.storage.messages import MessageRef, record_score
from bot.storage.schema import upgrade
from bot.storage.tables import Flag, FlagContext, MemberKey, utcnow
from bot.storage.texts import erase_texts
from tests.bot.storage.test_episodes import alembic_config

GUILD, CHANNEL, AUTHOR, BOB, CAROL = 1, 10, 5, 6, 7
POLICY = Policy(dict.fromkeys(LABELS, 0.5))


def flagged(db: Database, message_id: int = 100, author_id: int = AUTHOR) -> Flag:
    decision = POLICY.decide(Scores((0.9, 0.0, 0.0, 0.0, 0.0, 0.0), "m1", 1.0))
    ref = MessageRef(GUILD, CHANNEL, message_id, author_id)
    _, flag = db.write_sync(lambda s: record_score(s, ref, decision, "the flagged text"))
    assert flag is not None
    return flag


def line(message_id: int, author_id: int, text_: str, *, channel_id: int = CHANNEL, reply: bool = False) -> ContextLine:
    return ContextLine(channel_id, message_id, author_id, utcnow(), text_, reply)


def context(db: Database, flag_id: int) -> list[tuple[int, int, bool, str | None]]:
    with db.sessions() as s:
        flag = s.get_one(Flag, flag_id)
        return [(c.message_id, c.author_id, c.is_reply, c.text) for c in flag.context]


def test_context_is_kept_oldest_first_in_the_flags_channel_only_sealed_per_author(db: Database) -> None:
    flag = flagged(db)
    lines = [line(99, AUTHOR, "third"), line(97, BOB, "first " + "x" * 400), line(98, CAROL, "second"),
             line(90, BOB, "replied to", reply=True), line(95, BOB, "elsewhere", channel_id=11)]
    stored = db.write_sync(lambda s: add_flag_context(s, GUILD, flag.id, lines))
    assert stored is not None and [c.message_id for c in stored.context] == [90, 97, 98, 99]
    cut = ("first " + "x" * 400)[:CONTEXT_CHARS]
    assert context(db, flag.id) == [(90, BOB, True, "replied to"), (97, BOB, False, cut),
                                    (98, CAROL, False, "second"), (99, AUTHOR, False, "third")]
    with db.sessions() as s:
        keys = {c.author_id: c.text_key_id for c in s.scalars(select(FlagContext))}
        owners = {k.id: k.member_id for k in s.scalars(select(MemberKey))}
        assert all(owners[keys[author]] == author for author in keys)  # each line under its author's key
        raw = b"".join(c.sealed_text or b"" for c in s.scalars(select(FlagContext)))
        assert b"second" not in raw and b"replied" not in raw
    # another guild's flag id stores nothing; a second call keeps what the first stored
    assert db.write_sync(lambda s: add_flag_context(s, 2, flag.id, lines)) is None
    db.write_sync(lambda s: add_flag_context(s, GUILD, flag.id, [line(96, BOB, "late")]))
    assert [m for m, *_ in context(db, flag.id)] == [90, 97, 98, 99]


def test_unavailable_context_is_recorded(db: Database) -> None:
    flag = flagged(db)
    stored = db.write_sync(lambda s: add_flag_context(s, GUILD, flag.id, None))
    assert stored is not None and stored.context_unavailable and stored.context == []


def test_forgetting_a_member_erases_their_lines_and_retention_erases_all(db: Database) -> None:
    flag = flagged(db)
    db.write_sync(lambda s: add_flag_context(s, GUILD, flag.id, [line(97, BOB, "bob's"), line(98, CAROL, "carol's")]))
    other = flagged(db, message_id=200, author_id=CAROL)  # carol's own flag keeps its text, re-sealed
    db.write_sync(lambda s: add_flag_context(s, GUILD, other.id, [line(199, BOB, "bob again")]))
    db.erase_sync(lambda s: erase_texts(s, guild_id=GUILD, author_id=BOB))
    assert context(db, flag.id) == [(97, BOB, False, None), (98, CAROL, False, "carol's")]
    assert context(db, other.id) == [(199, BOB, False, None)]
    with db.sessions() as s:
        assert s.scalars(select(MemberKey).where(MemberKey.member_id == BOB)).all() == []
        assert s.get_one(Flag, flag.id).text == "the flagged text"
    # a member's retention: the older flag's context goes, the newer's stays readable under a new key
    carol_key = db.read_sync(lambda s: s.scalars(select(MemberKey.key).where(MemberKey.member_id == CAROL)).one())
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE flags SET created_at = :t WHERE id = :id"),
                     {"t": utcnow() - timedelta(days=100), "id": flag.id})
    db.erase_sync(lambda s: erase_texts(s, before=utcnow() - timedelta(days=90)))
    assert context(db, flag.id) == [(97, BOB, False, None), (98, CAROL, False, None)]
    with db.sessions() as s:
        assert s.get_one(Flag, other.id).text == "the flagged text"  # carol's newer flag, re-sealed
        assert s.scalars(select(MemberKey.key).where(MemberKey.member_id == CAROL)).one() != carol_key
    db.erase_sync(lambda s: erase_texts(s, before=utcnow() + timedelta(minutes=1)))  # `toxmod db purge`
    with db.sessions() as s:
        assert s.scalars(select(FlagContext).where(FlagContext.sealed_text.isnot(None))).all() == []
        assert s.scalars(select(MemberKey)).all() == []


def test_the_migration_adds_context_and_downgrades(db_url: str) -> None:
    upgrade(db_url, "0006")
    engine = create_engine(db_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO flags (guild_id, author_id, origin, labels, scores, model_version, status, "
                          "modlog_attempts, kind, created_at) VALUES (1, 5, 'model', '[]', '{}', 'm1', 'pending', 0, "
                          "'message', CURRENT_TIMESTAMP)"))
    upgrade(db_url)
    db = Database(db_url).start()
    try:
        with db.sessions() as s:
            [earlier] = s.scalars(select(Flag))
            assert earlier.context == [] and not earlier.context_unavailable
        flag = flagged(db)
        db.write_sync(lambda s: add_flag_context(s, GUILD, flag.id, [line(99, BOB, "before")]))
        command.downgrade(alembic_config(db_url), "0006")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM flags")).scalar() == 2
        upgrade(db_url)
        assert context(db, flag.id) == []
    finally:
        db.close()
        engine.dispose()
