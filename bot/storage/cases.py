"""The tables of what follows a confirmed verdict: the strike on its author, and the author's appeal.

They sit beside bot/storage/tables.py, which maps them onto each flag (`Flag.strike`); the queries are in
strikes.py and appeals.py.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.storage.base import Base, enum_values, utcnow
from bot.storage.member_keys import MemberKey
from bot.storage.sealing import APPEAL_TEXT, unseal


class StepState(enum.StrEnum):
    """Where a strike's step is: claimed (being applied, or to be tried again), done (it did what it could,
    `result` says what), or failed (given up after STEP_TRIES tries, `result` says why)."""

    CLAIMED = "claimed"
    DONE = "done"
    FAILED = "failed"


class Strike(Base):
    """A confirmed flag counted against its author in its guild, and the ladder's step for it: at most one
    per flag (its unique key is how a step is applied once, whoever confirms, from whichever process).

    `revoked_at` is set when the verdict is reversed (or an appeal accepted): the strike stops counting and
    its step is undone (`undo` says how that went). `result` and `dm` are what moderators read on the flag's
    post, one line each.

    A step is claimed with the strike and stays `claimed` until an outcome is recorded, so a step that a
    crash or a failing Discord call interrupted is found again and retried (`retry_at`, at most STEP_TRIES
    tries in all). `timeout_until` is fixed when the step is claimed, so a retried timeout ends when the
    first try's would have; `dm` is set to "sending" before the warning is sent, so it is never sent twice."""

    __tablename__ = "strikes"

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int]
    member_id: Mapped[int]
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    counted: Mapped[int] = mapped_column(Integer, default=1)  # strikes in the window, this one included
    decay_days: Mapped[int] = mapped_column(Integer, default=30)
    step: Mapped[str | None] = mapped_column(String(32))  # escalation.Step.to_json(); None: no ladder step
    result: Mapped[str | None] = mapped_column(Text)  # what the step did, or why it could not
    applied: Mapped[bool] = mapped_column(Boolean, default=False)  # it acted on the member (what to undo)
    dm: Mapped[str | None] = mapped_column(Text)  # "sent", or why the member could not be told
    undo: Mapped[str | None] = mapped_column(Text)  # what undoing the step did, once revoked
    state: Mapped[StepState] = mapped_column(
        Enum(StepState, native_enum=False, length=16, values_callable=enum_values), default=StepState.CLAIMED)
    tries: Mapped[int] = mapped_column(Integer, default=0)  # tries at the step so far (STEP_TRIES at most)
    retry_at: Mapped[datetime | None]  # when a claimed step may be tried again (the bot's clock)
    timeout_until: Mapped[datetime | None]  # a timeout step's end, fixed at the claim
    error: Mapped[str | None] = mapped_column(Text)  # why the last try did not finish, while retried

    __table_args__ = (Index("uq_strike_flag", "flag_id", unique=True),
                      Index("ix_strikes_member", "guild_id", "member_id", "created_at"),
                      Index("ix_strikes_state", "state", "retry_at"))


class AppealStatus(enum.StrEnum):
    """Where an appeal is: waiting for a moderator, or decided."""

    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Appeal(Base):
    """A member's appeal of one case (a flag whose strike the ladder acted on): at most one per flag.

    Its text is the member's own, sealed under their key like a flagged text (sealing.APPEAL_TEXT) and
    erased with it by retention and `/privacy forget`. `note` is the moderator's, sent to the member on a
    rejection."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int]
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"))
    member_id: Mapped[int]
    sealed_text: Mapped[bytes | None] = mapped_column(LargeBinary)
    text_key_id: Mapped[int | None]  # no foreign key, as on flags: destroying a key must not wait for these
    status: Mapped[AppealStatus] = mapped_column(
        Enum(AppealStatus, native_enum=False, length=16, values_callable=enum_values), default=AppealStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[int | None]
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    dm: Mapped[str | None] = mapped_column(Text)  # telling the member the decision: "sent", or why not
    modlog_channel_id: Mapped[int | None]
    modlog_message_id: Mapped[int | None]
    modlog_error: Mapped[str | None] = mapped_column(Text)  # why the last post failed, while it is retried
    modlog_attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed posts so far, for backoff
    modlog_retry_at: Mapped[datetime | None]  # when the mod-log delivery tries the post again

    text_key: Mapped[MemberKey | None] = relationship(
        primaryjoin="foreign(Appeal.text_key_id) == MemberKey.id", lazy="selectin")

    @property
    def text(self) -> str | None:
        """The appeal as moderators read it; None once erased, or once its key was destroyed."""
        key = self.text_key
        if self.sealed_text is None or key is None:
            return None
        return unseal(key.key, self.sealed_text, APPEAL_TEXT)

    __table_args__ = (Index("uq_appeal_flag", "flag_id", unique=True),
                      Index("ix_appeals_member", "guild_id", "member_id", "created_at"),
                      Index("ix_appeals_status", "guild_id", "status"))
