"""Stored member text is only ever written encrypted, under a key of the member that erasure destroys, and
scored messages keep a keyed digest of their text that erasure drops.

The checks read the database's own files, as someone holding the disk (or a copy of it) would: SQLite's
file and WAL; PostgreSQL's table files and WAL segments, after a CHECKPOINT has written everything out.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from bot.decision import Scores
from bot.labels import LABELS
from bot.moderation.policy import Policy
from bot.settings import PROJECT_ROOT
from bot.storage.database import Database
from bot.storage.flags import list_flags
from bot.storage.messages import MessageRef, record_score, update_flag_scores
from bot.storage.schema import upgrade
from bot.storage.sealing import DIGEST_SECRET, unseal
from bot.storage.tables import Flag, FlagOrigin, InstallSecret, MemberKey, ScoredMessage, utcnow
from bot.storage.texts import erase_texts, same_text_scored
from tests.support.faults import stored_bytes
from tests.support.postgres import PostgresServer

POLICY = Policy(dict.fromkeys(LABELS, 0.5))
GUILD = 1
FORGOTTEN, KEPT = 5, 6


def secret_text(length: int = 40) -> str:
    """A text that cannot appear in a file by chance; a long one spills onto overflow pages (SQLite) or into
    TOAST (PostgreSQL)."""
    return ("secret-" + uuid.uuid4().hex + " ") * (length // 40 + 1)


def token(secret: str) -> bytes:
    """A piece of the text that any copy of it holds whole, however it is split across pages."""
    return secret.split()[0].encode()


def sha256_hex(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).hexdigest().encode()


def decide(toxic: float):
    return POLICY.decide(Scores((toxic, 0.0, 0.0, 0.0, 0.0, 0.0), "m1", 1.0))


def add(db: Database, secret: str, author_id: int, *, message_id: int | None = None,
        flagged: bool = True) -> tuple[ScoredMessage, Flag | None]:
    ref = MessageRef(guild_id=GUILD, channel_id=2, message_id=message_id or uuid.uuid4().int >> 80, author_id=author_id)
    return db.write_sync(lambda s: record_score(s, ref, decide(0.9 if flagged else 0.1), secret))


def stored(db: Database, flag_id: int) -> tuple[bytes, bytes]:
    """A flag's stored ciphertext and the key it was sealed with, as the database holds them."""
    with db.engine.connect() as conn:
        sealed, key = conn.execute(text(
            "SELECT f.sealed_text, k.key FROM flags f JOIN member_keys k ON k.id = f.text_key_id WHERE f.id = :id"),
            {"id": flag_id}).one()
    return bytes(sealed), bytes(key)


def member_keys(db: Database, member_id: int) -> list[bytes]:
    with db.engine.connect() as conn:
        return [bytes(key) for key in conn.execute(
            text("SELECT key FROM member_keys WHERE guild_id = :g AND member_id = :m"),
            {"g": GUILD, "m": member_id}).scalars()]


def digests(db: Database, author_id: int) -> list[str | None]:
    with db.engine.connect() as conn:
        return list(conn.execute(text("SELECT content_hash FROM scored_messages WHERE author_id = :a ORDER BY id"),
                                 {"a": author_id}).scalars())


def texts(db: Database) -> dict[int, str | None]:
    return db.read_sync(lambda s: {f.id: f.text for f in s.scalars(select(Flag).order_by(Flag.id))})


# -- SQLite: the file and its WAL ---------------------------------------------------------------------


@pytest.mark.parametrize("length", [40, 10_000], ids=["short", "overflow-pages"])
async def test_sqlite_never_holds_a_text_in_the_clear_and_forget_leaves_nothing_that_opens_it(
        sqlite_db: Database, length: int) -> None:
    db = sqlite_db
    flagged, unflagged, kept = secret_text(length), secret_text(), secret_text()
    _, flag = add(db, flagged, FORGOTTEN)
    add(db, unflagged, FORGOTTEN, flagged=False)  # "never flagged": only its digest is stored
    _, kept_flag = add(db, kept, KEPT)
    assert flag is not None and kept_flag is not None and flag.text == flagged
    sealed, key = stored(db, flag.id)
    [digest, _] = digests(db, FORGOTTEN)
    assert digest is not None

    before = stored_bytes(db)
    assert sealed[:64] in before and key in before and digest.encode() in before  # the search can see them
    for secret in (flagged, unflagged, kept):
        assert token(secret) not in before  # never written in the clear
        assert sha256_hex(secret) not in before  # nor as an unkeyed digest a dictionary could confirm

    assert await db.erase(lambda s: erase_texts(s, guild_id=GUILD, author_id=FORGOTTEN)) == 1

    after = stored_bytes(db)
    for gone in (sealed[:64], key, digest.encode()):
        assert gone not in after  # zeroed in the file (secure_delete), and the WAL truncated
    for secret in (flagged, unflagged):
        assert token(secret) not in after and sha256_hex(secret) not in after
    assert member_keys(db, FORGOTTEN) == [] and digests(db, FORGOTTEN) == [None, None]
    assert texts(db) == {flag.id: None, kept_flag.id: kept}  # only the member's text went
    assert member_keys(db, KEPT) != [] and token(kept) not in after


# -- PostgreSQL: the table files and the WAL ----------------------------------------------------------


@pytest.fixture
def pg(postgres_server: PostgresServer, postgres_url: str) -> Iterator[tuple[Database, Path]]:
    data = postgres_server.data_dir
    if data is None:
        pytest.skip("reads the cluster's files: only with the test run's own PostgreSQL")
    database = Database(postgres_url).upgrade().start()
    yield database, data
    database.close()


def checkpoint(engine: Engine) -> None:
    """Everything PostgreSQL holds in memory, written to the table files and the WAL."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))


def relation_files(engine: Engine, data: Path, table: str) -> list[Path]:
    """The files of a table and of its TOAST table (where long values go), every 1 GB segment."""
    with engine.connect() as conn:
        paths = conn.execute(text("SELECT pg_relation_filepath(c.oid), pg_relation_filepath(NULLIF(c.reltoastrelid, 0))"
                                  " FROM pg_class c WHERE c.relname = :t"), {"t": table}).one()
    files = []
    for relative in paths:
        if relative:
            base = data / relative
            files += [base, *sorted(base.parent.glob(base.name + ".*"))]
    return files


def read(files: list[Path]) -> bytes:
    return b"".join(path.read_bytes() for path in files if path.exists())


def wal(data: Path) -> bytes:
    """Every WAL segment the cluster keeps (their names are 24 hex digits)."""
    return read(sorted(path for path in (data / "pg_wal").iterdir() if len(path.name) == 24))


def tables(engine: Engine, data: Path) -> list[Path]:
    return [path for table in ("flags", "scored_messages", "member_keys", "audit_log")
            for path in relation_files(engine, data, table)]


@pytest.mark.parametrize("length", [40, 10_000], ids=["short", "toasted"])
async def test_postgres_never_writes_a_text_in_the_clear_and_forget_destroys_its_key(
        pg: tuple[Database, Path], length: int) -> None:
    db, data = pg
    flagged, unflagged, kept = secret_text(length), secret_text(), secret_text()
    _, flag = add(db, flagged, FORGOTTEN)
    add(db, unflagged, FORGOTTEN, flagged=False)
    _, kept_flag = add(db, kept, KEPT)
    assert flag is not None and kept_flag is not None
    sealed, key = stored(db, flag.id)
    key_files = relation_files(db.engine, data, "member_keys")
    checkpoint(db.engine)
    files, log = read(tables(db.engine, data)), wal(data)
    assert sealed[:64] in read(relation_files(db.engine, data, "flags")) and sealed[:64] in log  # the search sees
    assert key in read(key_files)
    for secret in (flagged, unflagged, kept):
        assert token(secret) not in files and token(secret) not in log
        assert sha256_hex(secret) not in files and sha256_hex(secret) not in log

    assert await db.erase(lambda s: erase_texts(s, guild_id=GUILD, author_id=FORGOTTEN)) == 1
    checkpoint(db.engine)

    # no VACUUM: the old row versions may stay in the table file and the WAL, as ciphertext only
    files, log = read(tables(db.engine, data)), wal(data)
    for secret in (flagged, unflagged):
        assert token(secret) not in files and token(secret) not in log
        assert sha256_hex(secret) not in files and sha256_hex(secret) not in log
    assert member_keys(db, FORGOTTEN) == [] and digests(db, FORGOTTEN) == [None, None]
    # the key table was written anew: the destroyed key is in neither its old file nor its new one
    assert key not in read(key_files) and key not in read(relation_files(db.engine, data, "member_keys"))
    # what is left of the text anywhere cannot be opened with any key the database still has
    with db.engine.connect() as conn:
        left = [bytes(other) for other in conn.execute(text("SELECT key FROM member_keys")).scalars()]
    assert left and all(unseal(other, sealed) is None for other in left)
    assert texts(db) == {flag.id: None, kept_flag.id: kept}


# -- both databases -----------------------------------------------------------------------------------


def test_retention_replaces_the_key_of_a_member_whose_newer_texts_are_kept(db: Database) -> None:
    old_text, new_text = secret_text(), secret_text()
    old_row, old = add(db, old_text, FORGOTTEN)
    _, new = add(db, new_text, FORGOTTEN)
    assert old is not None and new is not None
    month_ago = utcnow() - timedelta(days=30)
    db.write_sync(lambda s: [setattr(s.get(Flag, old.id), "created_at", month_ago),
                             setattr(s.get(ScoredMessage, old_row.id), "created_at", month_ago)])
    old_sealed, old_key = stored(db, old.id)
    new_sealed, _ = stored(db, new.id)

    assert db.erase_sync(lambda s: erase_texts(s, before=utcnow() - timedelta(days=7))) == 1

    assert texts(db) == {old.id: None, new.id: new_text}
    [current] = member_keys(db, FORGOTTEN)
    assert current != old_key  # the old key, which opened the erased text, is gone
    assert unseal(current, old_sealed) is None
    resealed, _ = stored(db, new.id)
    assert resealed != new_sealed and unseal(current, resealed) == new_text
    assert digests(db, FORGOTTEN)[0] is None and digests(db, FORGOTTEN)[1] is not None


def test_an_edit_is_rescored_only_when_its_text_changed(db: Database) -> None:
    said = "i am gay"
    add(db, said, FORGOTTEN, message_id=30, flagged=False)
    [digest] = digests(db, FORGOTTEN)
    assert digest is not None and digest.encode() != sha256_hex(said)  # keyed, not a dictionary lookup away
    assert db.read_sync(lambda s: same_text_scored(s, GUILD, 30, said))  # unchanged (a preview unfurled)
    assert not db.read_sync(lambda s: same_text_scored(s, GUILD, 30, "i am not"))  # changed: scored again
    assert not db.read_sync(lambda s: same_text_scored(s, GUILD, 31, said))  # never scored
    add(db, "i am not", FORGOTTEN, message_id=30, flagged=False)  # the edit is scored: the latest is compared
    assert db.read_sync(lambda s: same_text_scored(s, GUILD, 30, "i am not"))
    assert not db.read_sync(lambda s: same_text_scored(s, GUILD, 30, said))
    db.erase_sync(lambda s: erase_texts(s, guild_id=GUILD, author_id=FORGOTTEN))
    # forgotten: nothing left to compare with, so the next edit is scored again, even unchanged
    assert not db.read_sync(lambda s: same_text_scored(s, GUILD, 30, "i am not"))


def test_a_flag_whose_key_is_gone_reads_as_erased(db: Database) -> None:
    _, flag = add(db, secret_text(), FORGOTTEN)
    assert flag is not None
    with db.engine.begin() as conn:  # as after a forget that raced a flag being written
        conn.execute(text("DELETE FROM member_keys"))
    flags, total = db.read_sync(lambda s: list_flags(s, GUILD))
    assert total == 1 and flags[0].text is None


def test_one_transaction_that_flags_forgets_and_flags_again(db: Database) -> None:
    """The writer runs many jobs in one transaction: a forget between two flags of the member destroys the
    key the first was sealed with, and the second gets a new one."""
    first_text, second_text, report_text = secret_text(), secret_text(), secret_text()
    ref = MessageRef(guild_id=GUILD, channel_id=2, message_id=40, author_id=FORGOTTEN)

    def jobs(session):
        _, first = record_score(session, ref, decide(0.9), first_text)
        erase_texts(session, guild_id=GUILD, author_id=FORGOTTEN)
        row, second = record_score(session, ref, decide(0.9), second_text)
        _, reported = record_score(session, ref, decide(0.1), report_text, force_flag=FlagOrigin.REPORTED)
        assert second is not None
        update_flag_scores(session, second, row, decide(0.95), second_text + "!")
        return first, second, reported

    first, second, reported = db.transaction(jobs)
    assert (first.text, second.text, reported.text) == (None, second_text + "!", report_text)
    assert texts(db) == {first.id: None, second.id: second_text + "!", reported.id: report_text}
    assert len(member_keys(db, FORGOTTEN)) == 1


def test_an_unsaved_flag_shows_its_text_and_a_stored_one_refuses_a_plain_text(db: Database) -> None:
    unsaved = Flag(guild_id=GUILD, author_id=FORGOTTEN, text="shown in the mod-log before it is saved")
    assert unsaved.text == "shown in the mod-log before it is saved" and unsaved.sealed_text is None
    _, flag = add(db, secret_text(), FORGOTTEN)
    assert flag is not None
    with pytest.raises(AttributeError):
        flag.text = "stored in the clear"


# -- the migration ------------------------------------------------------------------------------------


def alembic_config(url: str) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def test_the_upgrade_encrypts_stored_texts_and_drops_unkeyed_digests(db_url: str,
                                                                     request: pytest.FixtureRequest) -> None:
    secret, anonymous = secret_text(), secret_text()
    upgrade(db_url, "0004")
    engine = create_engine(db_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO scored_messages (guild_id, author_id, created_at, edited, toxic, severe_toxic, obscene, "
            "threat, insult, identity_hate, flagged, model_version, latency_ms, content_hash) VALUES "
            "(1, 5, CURRENT_TIMESTAMP, false, 0.9, 0, 0, 0, 0, 0, true, 'm1', 1, :digest)"),
            {"digest": sha256_hex(secret).decode()})
        for guild, author, said in [(1, 5, secret), (None, None, anonymous), (1, 6, None)]:
            conn.execute(text(
                "INSERT INTO flags (guild_id, author_id, origin, text, labels, scores, model_version, status, "
                "modlog_attempts, created_at) VALUES (:g, :a, 'model', :t, '[]', '{}', 'm1', 'pending', 0, "
                "CURRENT_TIMESTAMP)"), {"g": guild, "a": author, "t": said})

    upgrade(db_url)

    db = Database(db_url)
    try:
        assert list(texts(db).values()) == [secret, anonymous, None]
        assert digests(db, 5) == [None]
        if db_url.startswith("sqlite"):
            on_disk = stored_bytes(db)
        else:
            data = request.getfixturevalue("postgres_server").data_dir
            if data is None:
                pytest.skip("reads the cluster's files: only with the test run's own PostgreSQL")
            checkpoint(db.engine)  # the upgrade rewrote the tables: the old plaintext rows are not in them
            on_disk = read(tables(db.engine, data))
        for gone in (token(secret), token(anonymous), sha256_hex(secret)):
            assert gone not in on_disk
        command.downgrade(alembic_config(db_url), "0004")
        with engine.connect() as conn:
            assert list(conn.execute(text("SELECT text FROM flags ORDER BY id")).scalars()) == [secret, anonymous, None]
        upgrade(db_url)
        assert list(texts(db).values()) == [secret, anonymous, None]
    finally:
        db.close()
        engine.dispose()


def test_keys_and_secrets_are_made_once_per_member_and_install(db: Database) -> None:
    for _ in range(3):
        add(db, secret_text(), FORGOTTEN)
    add(db, secret_text(), KEPT, flagged=False)  # unflagged: no key needed
    with db.sessions() as s:
        owners = sorted((k.guild_id, k.member_id) for k in s.scalars(select(MemberKey)))
        secrets = list(s.scalars(select(InstallSecret)))
    assert owners == [(GUILD, FORGOTTEN)]
    assert [(secret.name, len(secret.value)) for secret in secrets] == [(DIGEST_SECRET, 32)]
