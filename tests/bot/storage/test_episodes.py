"""Floods' and raids' flags in storage, on SQLite and PostgreSQL: the migration that adds them, writes that are
safe to repeat, guild scoping, and erasure that reaches every member whose message a flag lists."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from bot.decision import Scores
from bot.labels import LABELS
from bot.moderation.feedback.verdicts import reviewed_flags
from bot.moderation.policy import Policy
from bot.settings import PROJECT_ROOT
from bot.storage.database import Database
from bot.storage.episodes import (
    EpisodeFigures,
    EpisodeMessage,
    EpisodeUpdate,
    add_to_episode,
    note_slowmode,
    open_episode,
)
from bot.storage.flags import review_flag
from bot.storage.guilds import guild_settings, update_guild_settings
from bot.storage.messages import MessageRef, record_score
from bot.storage.schema import upgrade
from bot.storage.tables import (
    AuditEntry,
    Flag,
    FlagKind,
    FlagMessage,
    FlagStatus,
    GuildSettings,
    MemberKey,
    ScoredMessage,
    utcnow,
)
from bot.storage.texts import erase_texts, same_text_scored

GUILD, OTHER = 1, 2
RAIDERS = (501, 502, 503)
NOW = utcnow()


def update(messages: list[tuple[int, int]], *, count: int, members: int, current: int,
           author: int = 501, text_: str = "free stuff here") -> EpisodeUpdate:
    """(message id, author) listed now; `current`: the message handled now (logged without scores)."""
    listed = [EpisodeMessage(10, message, who, NOW) for message, who in messages]
    return EpisodeUpdate(listed, EpisodeFigures(count, members), MessageRef(GUILD, 10, current, author), text_, "m1")


def raid(db: Database) -> Flag:
    listed = [(100 + i, who) for i, who in enumerate(RAIDERS)]
    return db.write_sync(lambda s: open_episode(s, GUILD, FlagKind.RAID, update(listed, count=3, members=3,
                                                                                current=102, author=503)))


def test_an_episode_is_one_flag_its_repeats_are_listed_once_and_its_figures_only_grow(db: Database) -> None:
    flag = raid(db)
    assert flag.kind is FlagKind.RAID and flag.author_id is None and flag.message_id is None
    assert flag.text == "free stuff here" and [m.author_id for m in flag.listed] == list(RAIDERS)
    again = update([(103, 504)], count=4, members=4, current=103, author=504)
    for _ in range(2):  # the same repeat written twice (two processes, a retry): listed once
        db.write_sync(lambda s: add_to_episode(s, GUILD, flag.id, again))
    late = update([], count=2, members=2, current=104)  # a write that lands after a newer one
    stored = db.write_sync(lambda s: add_to_episode(s, GUILD, flag.id, late))
    assert stored is not None and stored.episode == {"messages": 4, "members": 4, "members_capped": False}
    assert [m.message_id for m in stored.listed] == [100, 101, 102, 103]
    assert db.write_sync(lambda s: add_to_episode(s, OTHER, flag.id, late)) is None  # another guild's flag
    with db.sessions() as s:
        rows = list(s.scalars(select(ScoredMessage).order_by(ScoredMessage.id)))
        assert [row.message_id for row in rows] == [102, 103, 104] and all(row.toxic is None for row in rows)
        assert same_text_scored(s, GUILD, 103, "free stuff here")  # an edit that changes nothing is not scored


def test_a_verdict_on_an_episode_keeps_no_labels_and_the_slow_mode_is_noted(db: Database) -> None:
    flag = raid(db)
    db.write_sync(lambda s: note_slowmode(s, GUILD, flag.id, 10, "<#10>: set to 30 s", applied=True, seconds=30))
    db.write_sync(lambda s: note_slowmode(s, GUILD, flag.id, 11, "<#11>: not set", applied=False, seconds=30))
    reviewed = db.write_sync(lambda s: review_flag(s, GUILD, flag.id, FlagStatus.CONFIRMED, 7))
    assert reviewed is not None and reviewed.verdict_labels is None
    assert reviewed.episode["slowmode"] == {"10": "<#10>: set to 30 s", "11": "<#11>: not set"}
    assert db.read_sync(lambda s: reviewed_flags(s, GUILD)) == []
    with db.sessions() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["slowmode_set", "slowmode_failed", "confirmed"]


def test_forgetting_any_member_a_raid_lists_erases_its_text(db: Database) -> None:
    flag = raid(db)
    decision = Policy(dict.fromkeys(LABELS, 0.5)).decide(Scores((0.9, 0, 0, 0, 0, 0), "m1", 1.0))
    _, own = db.write_sync(lambda s: record_score(s, MessageRef(GUILD, 10, 900, RAIDERS[0]), decision, "mine"))
    assert own is not None and own.text_key_id == flag.text_key_id  # the raid's text is its first member's

    def owner_key() -> bytes:
        with db.sessions() as s:
            return s.scalars(select(MemberKey.key).where(MemberKey.member_id == RAIDERS[0])).one()

    before = owner_key()
    erased = db.erase_sync(lambda s: erase_texts(s, guild_id=GUILD, author_id=RAIDERS[1]))  # not the key's owner
    assert erased == 1
    with db.sessions() as s:
        assert s.get_one(Flag, flag.id).text is None and s.get_one(Flag, own.id).text == "mine"
        assert s.scalar(select(ScoredMessage.content_hash).where(ScoredMessage.author_id == RAIDERS[1])) is None
    assert owner_key() != before  # replaced: no copy of the raid's erased text can be opened
    second = raid(db)
    assert db.erase_sync(lambda s: erase_texts(s, before=utcnow() + timedelta(minutes=1))) == 2  # retention too
    with db.sessions() as s:
        assert s.get_one(Flag, second.id).text is None


def test_flood_settings_are_patched_field_by_field_and_audited(db: Database) -> None:
    for patch in ({"enabled": True, "repeats": 3}, {"slowmode_seconds": 30}):
        db.write_sync(lambda s, p=patch: update_guild_settings(s, GUILD, 7, "floods_set", {"floods": p}))
    stored = db.read_sync(lambda s: guild_settings(s, GUILD))
    assert stored.floods == {"enabled": True, "repeats": 3, "slowmode_seconds": 30}
    assert db.read_sync(lambda s: guild_settings(s, OTHER)).floods is None


def alembic_config(url: str) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def test_the_migration_makes_every_earlier_flag_a_message_flag_and_downgrades(db_url: str) -> None:
    upgrade(db_url, "0005")
    engine = create_engine(db_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO guild_settings (guild_id, thresholds, automod, updated_at) "
                          "VALUES (1, '{}', '{}', CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO flags (guild_id, author_id, origin, labels, scores, model_version, status, "
                          "modlog_attempts, created_at) VALUES (1, 5, 'model', '[]', '{}', 'm1', 'pending', 0, "
                          "CURRENT_TIMESTAMP)"))
    upgrade(db_url)
    db = Database(db_url).start()
    try:
        with db.sessions() as s:
            [earlier] = s.scalars(select(Flag))
            assert earlier.kind is FlagKind.MESSAGE and earlier.episode is None and earlier.listed == []
            assert s.get_one(GuildSettings, 1).floods is None
        raid(db)
        command.downgrade(alembic_config(db_url), "0005")
        with engine.connect() as conn:  # the older code reads every flag as one message's: the raid goes
            assert list(conn.execute(text("SELECT author_id FROM flags")).scalars()) == [5]
        upgrade(db_url)
        with db.sessions() as s:
            assert [f.kind for f in s.scalars(select(Flag))] == [FlagKind.MESSAGE]
            assert s.scalars(select(FlagMessage)).all() == []
    finally:
        db.close()
        engine.dispose()
