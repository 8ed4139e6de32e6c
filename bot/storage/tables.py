"""The database schema (SQLAlchemy 2.0 typed ORM). Alembic migrations in `migrations/` mirror it.

The declarative base is in base.py and the member keys in member_keys.py; what follows a verdict (strikes,
appeals) is in cases.py. Importing this module maps them all.

Privacy rule: a scored message row never holds text, only a keyed digest of it (`content_hash`); only a
flag keeps a snapshot of the text, because a moderator has to read it (with the few messages around it,
`FlagContext`, cut short; and a member's appeal keeps what they wrote), and each snapshot is stored
encrypted under its author's key (`MemberKey`, bot/storage/sealing.py). Retention and `/privacy forget`
erase it later (`text_erased_at`) and destroy the key, so no copy the database keeps elsewhere can be read.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.storage.base import Base, enum_values, utcnow
from bot.storage.cases import Strike
from bot.storage.member_keys import MemberKey
from bot.storage.sealing import CONTEXT_TEXT, unseal


class FlagStatus(enum.StrEnum):
    """Where a flag is in review: waiting, or decided either way by a moderator."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class FlagOrigin(enum.StrEnum):
    """Why a flag was opened: the model's scores, or a member's report."""

    MODEL = "model"
    REPORTED = "reported"


class FlagKind(enum.StrEnum):
    """What a flag is about: one message, or an episode of many (one member's flood, new members' raid)."""

    MESSAGE = "message"
    FLOOD = "flood"
    RAID = "raid"


EPISODE_KINDS = frozenset({FlagKind.FLOOD, FlagKind.RAID})


class GuildSettings(Base):
    """One guild's settings: mod-log channel, threshold overrides, automod rules, languages."""

    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    modlog_channel_id: Mapped[int | None]
    thresholds: Mapped[dict] = mapped_column(JSON, default=dict)  # label -> override
    automod: Mapped[dict] = mapped_column(JSON, default=dict)  # label -> {"threshold", "delete", "timeout_minutes"}
    # languages moderated here (ISO 639-1); None: the default (every language the shipped models read)
    languages: Mapped[list | None] = mapped_column(JSON)
    # what happens to a message in a language no model here reads: "ignore" or "review"; None: "ignore"
    unsupported_language: Mapped[str | None] = mapped_column(String(16))
    # flood and raid detection (bot/moderation/floods.py FloodSettings, by field); None: the defaults (off)
    floods: Mapped[dict | None] = mapped_column(JSON)
    # the escalation ladder (bot/moderation/escalation.py Ladder.to_json); None: off
    escalation: Mapped[dict | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Exemption(Base):
    """A channel or role whose messages are never scored in a guild."""

    __tablename__ = "exemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "channel" | "role"
    target_id: Mapped[int]
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("uq_exemption", "guild_id", "kind", "target_id", unique=True),)


class ScoredMessage(Base):
    """One message scored: where it was, its six scores and whether it was flagged; of its text, only a keyed digest."""

    __tablename__ = "scored_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None]
    guild_id: Mapped[int | None]
    channel_id: Mapped[int | None]
    author_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    toxic: Mapped[float | None] = mapped_column(Float)  # None: a language the model cannot read
    severe_toxic: Mapped[float | None] = mapped_column(Float)
    obscene: Mapped[float | None] = mapped_column(Float)
    threat: Mapped[float | None] = mapped_column(Float)
    insult: Mapped[float | None] = mapped_column(Float)
    identity_hate: Mapped[float | None] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    model_version: Mapped[str] = mapped_column(String(128))
    latency_ms: Mapped[float] = mapped_column(Float)
    # HMAC of the text that was scored under the install's secret (sealing.digest; never the text): an edit
    # is re-scored only when this changes. None once erased, and on rows from before it was keyed.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))  # as detected; None on rows before it was

    __table_args__ = (Index("ix_scored_guild_time", "guild_id", "created_at"),
                      Index("ix_scored_channel_message", "channel_id", "message_id"))


class Flag(Base):
    """A message for moderators to review: the scores, the encrypted text until erased, and the verdict.

    A flag of kind flood or raid is about an episode of many messages with one text (bot/moderation/floods.py):
    it has no message id and no scores (repeats are not scored), lists its messages in `listed` (bounded) and
    counts them in `episode`; for a flood `author_id` is the member, for a raid it is None and the text is
    sealed under the key of the first member listed."""

    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[FlagKind] = mapped_column(
        Enum(FlagKind, native_enum=False, length=16, values_callable=enum_values), default=FlagKind.MESSAGE,
        server_default=FlagKind.MESSAGE.value,
    )
    guild_id: Mapped[int | None] = mapped_column(index=True)
    channel_id: Mapped[int | None]
    message_id: Mapped[int | None]
    author_id: Mapped[int | None] = mapped_column(index=True)
    scored_message_id: Mapped[int | None] = mapped_column(ForeignKey("scored_messages.id"))
    origin: Mapped[FlagOrigin] = mapped_column(
        Enum(FlagOrigin, native_enum=False, length=16, values_callable=enum_values), default=FlagOrigin.MODEL
    )
    reporter_id: Mapped[int | None]
    # the text, encrypted under `text_key` (its author's key in this guild); None once erased. Read `text`.
    sealed_text: Mapped[bytes | None] = mapped_column(LargeBinary)
    text_key_id: Mapped[int | None]  # no foreign key: destroying a key must not touch (or wait for) flags
    text_erased_at: Mapped[datetime | None]
    labels: Mapped[list] = mapped_column(JSON, default=list)  # labels that passed their thresholds
    scores: Mapped[dict] = mapped_column(JSON, default=dict)  # all six at flag time
    # the two labels shown to moderators, [[label, p], ...] ranked by margin over the thresholds in force
    # at flag time; None on flags written before this was recorded
    top_labels: Mapped[list | None] = mapped_column(JSON)
    model_version: Mapped[str] = mapped_column(String(128))
    language: Mapped[str | None] = mapped_column(String(16))  # as detected; None on flags before it was
    status: Mapped[FlagStatus] = mapped_column(
        Enum(FlagStatus, native_enum=False, length=16, values_callable=enum_values), default=FlagStatus.PENDING,
        index=True,
    )
    reviewer_id: Mapped[int | None]
    reviewed_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    action_taken: Mapped[str | None] = mapped_column(String(64))
    verdict_labels: Mapped[list | None] = mapped_column(JSON)  # what the moderator says applies
    modlog_channel_id: Mapped[int | None]
    modlog_message_id: Mapped[int | None]
    modlog_error: Mapped[str | None] = mapped_column(Text)
    modlog_attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed posts so far, for backoff
    modlog_retry_at: Mapped[datetime | None]  # when the background delivery tries the post again
    # the reviewed flag of the same message that this one follows (an edit after the verdict)
    previous_flag_id: Mapped[int | None] = mapped_column(ForeignKey("flags.id"))
    # an episode's figures: {"messages": n, "members": n, "members_capped": bool, "slowmode": {channel: line}}
    episode: Mapped[dict | None] = mapped_column(JSON)
    # the messages around it could not be read when it was opened (no Read Message History, Discord failed)
    context_unavailable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    scored_message: Mapped[ScoredMessage | None] = relationship()
    # loaded with the flag: the mod-log shows who reported it and how many times, and the verdict on the
    # flag this one follows
    reports: Mapped[list[Report]] = relationship(lazy="selectin", order_by="Report.id")
    previous: Mapped[Flag | None] = relationship(remote_side=[id], lazy="selectin", join_depth=1)
    # an episode's messages, in order (empty for a message's flag)
    listed: Mapped[list[FlagMessage]] = relationship(lazy="selectin", order_by="FlagMessage.id")
    # the messages before it in its channel and the one it replies to, oldest first (bot/storage/context.py)
    context: Mapped[list[FlagContext]] = relationship(lazy="selectin", order_by="FlagContext.message_id")
    # the strike a confirmed verdict put on its author, and what the ladder did (bot/storage/strikes.py)
    strike: Mapped[Strike | None] = relationship(lazy="selectin", viewonly=True)
    # loaded with the flag, so `text` reads outside the session too; None once the key is destroyed
    text_key: Mapped[MemberKey | None] = relationship(primaryjoin="foreign(Flag.text_key_id) == MemberKey.id",
                                                      lazy="selectin")

    @property
    def is_episode(self) -> bool:
        """Whether the flag is about a flood or raid rather than one message."""
        return self.kind in EPISODE_KINDS

    @property
    def text(self) -> str | None:
        """The message text as moderators read it; None once erased, or once its key was destroyed.

        A stored flag decrypts `sealed_text`; a flag never stored (the mod-log's "not saved yet" post) holds
        the text it was made with, in memory only. Stored text is written by the repository
        (`set_flag_text`), which seals it."""
        if self.sealed_text is None:
            return self.__dict__.get("_unstored_text") if inspect(self).transient else None
        key = self.text_key
        return None if key is None else unseal(key.key, self.sealed_text)

    @text.setter
    def text(self, value: str | None) -> None:
        """None drops a stored flag's ciphertext (erasure proper is `erase_texts`, which destroys keys too);
        a stored flag's new text goes through `set_flag_text`, never in the clear."""
        if inspect(self).transient:
            self.__dict__["_unstored_text"] = value
        elif value is None:
            self.sealed_text, self.text_key = None, None
        else:
            raise AttributeError("a stored flag's text is sealed by bot.storage.texts.set_flag_text")

    __table_args__ = (Index("ix_flags_message", "guild_id", "message_id"),)


class Report(Base):
    """One member's report of one message; several reports of a message share its open flag."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int] = mapped_column(index=True)
    message_id: Mapped[int]
    reporter_id: Mapped[int]
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("uq_report", "guild_id", "message_id", "reporter_id", unique=True),
                      Index("ix_reports_reporter_time", "guild_id", "reporter_id", "created_at"))


class FlagMessage(Base):
    """One message of a flood or raid flag's episode (at most floods.LISTED a flag): where, who, when; never
    its text, which the flag keeps once, sealed."""

    __tablename__ = "flag_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    guild_id: Mapped[int]
    channel_id: Mapped[int]
    message_id: Mapped[int]
    author_id: Mapped[int]
    sent_at: Mapped[datetime]

    __table_args__ = (Index("uq_flag_message", "flag_id", "message_id", unique=True),
                      Index("ix_flag_messages_author", "guild_id", "author_id"))


class FlagContext(Base):
    """One message around a flagged one, as it read when the flag was opened: one of the few before it in its
    channel, or the one it replies to (`is_reply`). Its text, cut short, is sealed under its own author's key
    (sealing.CONTEXT_TEXT), so erasing that member's texts erases this line too; None once erased."""

    __tablename__ = "flag_context"

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    guild_id: Mapped[int]
    channel_id: Mapped[int]
    message_id: Mapped[int]
    author_id: Mapped[int]
    is_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime]
    sealed_text: Mapped[bytes | None] = mapped_column(LargeBinary)
    text_key_id: Mapped[int | None]  # no foreign key, as on flags: destroying a key must not wait for these
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    text_key: Mapped[MemberKey | None] = relationship(
        primaryjoin="foreign(FlagContext.text_key_id) == MemberKey.id", lazy="selectin")

    @property
    def text(self) -> str | None:
        """The line as moderators read it; None once erased, or once its key was destroyed."""
        key = self.text_key
        if self.sealed_text is None or key is None:
            return None
        return unseal(key.key, self.sealed_text, CONTEXT_TEXT)

    __table_args__ = (Index("uq_flag_context", "flag_id", "message_id", unique=True),
                      Index("ix_flag_context_author", "guild_id", "author_id"))


class ReplayRun(Base):
    """How far `toxmod replay` got through one file (by content digest), so a rerun resumes, never repeats."""

    __tablename__ = "replay_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(Text)
    lines_total: Mapped[int] = mapped_column(Integer)
    lines_done: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One change made by a moderator or admin: who, what, in which guild, with its details."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int | None] = mapped_column(index=True)
    actor_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(64))
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("flags.id"))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InstallSecret(Base):
    """A secret of this installation, made on first use and never shown: the key of the digests of scored
    texts (`ScoredMessage.content_hash`). It lives in the database so that every process (shard) and a
    restored backup agree on it; losing it costs one re-score of each message edited afterwards."""

    __tablename__ = "install_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
