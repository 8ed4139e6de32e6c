"""Each member's key in each guild: what every stored text of theirs (flag, context line, appeal) is sealed
under (sealing.py), and what erasing their texts destroys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base, utcnow


class MemberKey(Base):
    """The key one member's stored texts in one guild are encrypted with (sealing.py).

    Erasing a member's texts deletes the key; erasing some of them (retention) replaces it, the texts
    kept re-encrypted under the new one. Either way every copy of an erased text the database may still
    keep (free pages, dead rows, WAL, backups) is ciphertext under a key that no longer exists.
    """

    __tablename__ = "member_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    guild_id: Mapped[int]  # 0: none known (an offline replay)
    member_id: Mapped[int]  # 0: none known
    key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("uq_member_key", "guild_id", "member_id", unique=True),)
