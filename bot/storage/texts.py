"""What is stored of message texts, and its erasure.

A flag's text is sealed under its author's key in its guild (sealing.py); a scored message keeps only a
digest keyed with the installation's secret. Erasing destroys the keys, so no copy of an erased text left
anywhere in the database's files can be read again.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from bot.storage.inserts import insert_ignoring_conflicts
from bot.storage.sealing import DIGEST_SECRET, digest, new_key, seal, unseal
from bot.storage.tables import Flag, FlagMessage, InstallSecret, MemberKey, ScoredMessage, utcnow


def set_flag_text(session: Session, flag: Flag, text: str, owner_id: int | None = None) -> None:
    """Store `text` as the flag's text, encrypted under its author's key in its guild (`owner_id`'s, for a
    flag without an author: a raid's text is its first member's)."""
    key = _member_key(session, flag.guild_id, owner_id if owner_id is not None else flag.author_id)
    flag.sealed_text, flag.text_key = seal(key.key, text), key


def _member_key(session: Session, guild_id: int | None, member_id: int | None) -> MemberKey:
    """The key of this member's texts in this guild, made on first use, and held (FOR SHARE) until the
    transaction ends: an erasure in another process waits for the text sealed under it, then erases it too."""
    guild, member = guild_id or 0, member_id or 0
    query = (select(MemberKey).where(MemberKey.guild_id == guild, MemberKey.member_id == member)
             .with_for_update(read=True).execution_options(populate_existing=True))
    # no autoflush: the scored rows waiting in the session go out with the flag's own flush, in one batch
    # (a key row never has changes waiting: erasure, the one place that changes keys, flushes them)
    with session.no_autoflush:
        for _ in range(3):  # an erasure elsewhere may delete a key between our insert and our read
            key = session.scalar(query)
            if key is not None:
                return key
            insert_ignoring_conflicts(session, MemberKey, guild_id=guild, member_id=member, key=new_key(),
                                      created_at=utcnow())
    raise RuntimeError(f"could not make a key for member {member} of guild {guild}")


def text_digest(session: Session, text: str) -> str:
    """The keyed digest a scored message keeps of its text (sealing.digest), in a write."""
    secret = _install_secret(session, create=True)
    assert secret is not None  # noqa: S101 - narrows for mypy: create=True always returns a secret
    return digest(secret, text)


def same_text_scored(session: Session, guild_id: int, message_id: int, text: str) -> bool:
    """Whether `text` is what was last scored for this message. False when it is not known: never scored,
    its digest erased, or scored before digests were keyed (such an edit is scored once more)."""
    secret = _install_secret(session, create=False)
    if secret is None:
        return False
    last = session.scalar(select(ScoredMessage.content_hash).where(
        ScoredMessage.guild_id == guild_id, ScoredMessage.message_id == message_id,
    ).order_by(ScoredMessage.id.desc()).limit(1))
    return last is not None and last == digest(secret, text)


def _install_secret(session: Session, *, create: bool) -> bytes | None:
    """The installation's digest secret; made now if missing and `create` (a write), else None.

    Kept in the session for its other jobs: the writer's batch of scored messages reads it once, and the
    rows keep going out in batched INSERTs. Should the job that made it roll back, the digests made with it
    meanwhile never match again: those messages' next edits are scored again, nothing worse."""
    secret: bytes | None = session.info.get(DIGEST_SECRET)
    if secret is not None:
        return secret
    query = select(InstallSecret.value).where(InstallSecret.name == DIGEST_SECRET)
    with session.no_autoflush:
        secret = session.scalar(query)
        if secret is None and create:
            insert_ignoring_conflicts(session, InstallSecret, name=DIGEST_SECRET, value=new_key(), created_at=utcnow())
            secret = session.scalar(query)  # ours, or the one another process made at the same moment
    if secret is not None:
        session.info[DIGEST_SECRET] = secret
    return secret


def erase_texts(session: Session, *, before: datetime | None = None, guild_id: int | None = None,
                author_id: int | None = None) -> int:
    """Erase flag texts (retention, or a member's request) and the digests of scored texts in the same
    scope; verdicts, labels and scores stay. Returns how many flag texts were erased.

    An erased text is unreadable everywhere, not only in its row, because its key goes too: the key of a
    member left with no text in the guild is deleted, and a member who still has texts (retention took
    the older ones) gets a new key, the texts kept re-encrypted under it. The keys are locked first, so a
    text being sealed meanwhile by another process waits, then is erased with the rest. A member's
    forget (guild and member given) deletes their key even when no text of theirs is left.

    Digests go with the texts: an edit of such a message is scored again, the only cost. Run it with
    `Database.erase`, which then clears what the database still keeps of the destroyed keys.
    """
    flags_in_scope: list[ColumnElement[bool]] = [Flag.sealed_text.isnot(None)]
    scored_in_scope: list[ColumnElement[bool]] = [ScoredMessage.content_hash.isnot(None)]
    if before is not None:
        flags_in_scope.append(Flag.created_at < before)
        scored_in_scope.append(ScoredMessage.created_at < before)
    if guild_id is not None:
        flags_in_scope.append(Flag.guild_id == guild_id)
        scored_in_scope.append(ScoredMessage.guild_id == guild_id)
    if author_id is not None:
        listing = select(FlagMessage.flag_id).where(FlagMessage.author_id == author_id)
        if guild_id is not None:
            listing = listing.where(FlagMessage.guild_id == guild_id)
        flags_in_scope.append((Flag.author_id == author_id) | Flag.id.in_(listing))
        scored_in_scope.append(ScoredMessage.author_id == author_id)
    owned: ColumnElement[bool] = MemberKey.id.in_(select(Flag.text_key_id).where(*flags_in_scope))
    if guild_id is not None and author_id is not None:
        owned |= (MemberKey.guild_id == guild_id) & (MemberKey.member_id == author_id)
    keys = list(session.scalars(select(MemberKey).where(owned).order_by(MemberKey.id).with_for_update()
                                .execution_options(populate_existing=True)))
    erased = cast(CursorResult[Any], session.execute(
        update(Flag).where(*flags_in_scope).values(sealed_text=None, text_key_id=None, text_erased_at=utcnow())
        .execution_options(synchronize_session="fetch"))).rowcount
    kept: defaultdict[int, list[Flag]] = defaultdict(list)
    if keys:
        for flag in session.scalars(select(Flag).where(Flag.text_key_id.in_([key.id for key in keys]),
                                                       Flag.sealed_text.isnot(None))):
            kept[flag.text_key_id or 0].append(flag)
        if gone := [key.id for key in keys if key.id not in kept]:
            session.execute(delete(MemberKey).where(MemberKey.id.in_(gone)))
        for key in keys:
            if key.id in kept:
                _replace_key(key, kept[key.id])
    session.execute(update(ScoredMessage).where(*scored_in_scope).values(content_hash=None)
                    .execution_options(synchronize_session=False))
    return erased


def _replace_key(key: MemberKey, flags: list[Flag]) -> None:
    """A new key for a member some of whose texts were erased: the texts kept are re-encrypted under it, and
    the old key, which could open the erased ones, is gone."""
    fresh = new_key()
    for flag in flags:
        assert flag.sealed_text is not None  # noqa: S101 - narrows for mypy: the caller selects flags with a sealed text
        text = unseal(key.key, flag.sealed_text)
        if text is None:  # unreadable already (altered): nothing to keep
            flag.sealed_text, flag.text_key, flag.text_erased_at = None, None, utcnow()
        else:
            flag.sealed_text = seal(fresh, text)
    key.key, key.created_at = fresh, utcnow()
