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

from bot.storage.cases import Appeal
from bot.storage.inserts import insert_ignoring_conflicts
from bot.storage.sealing import APPEAL_TEXT, CONTEXT_TEXT, DIGEST_SECRET, FLAG_TEXT, digest, new_key, seal, unseal
from bot.storage.tables import Flag, FlagContext, FlagMessage, InstallSecret, MemberKey, ScoredMessage, utcnow


def set_flag_text(session: Session, flag: Flag, text: str, owner_id: int | None = None) -> None:
    """Store `text` as the flag's text, encrypted under its author's key in its guild (`owner_id`'s, for a
    flag without an author: a raid's text is its first member's)."""
    key = member_key(session, flag.guild_id, owner_id if owner_id is not None else flag.author_id)
    flag.sealed_text, flag.text_key = seal(key.key, text), key


def member_key(session: Session, guild_id: int | None, member_id: int | None) -> MemberKey:
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
    """Erase flag texts (retention, or a member's request), the lines of flags' context and members' appeals
    in the same scope, and the digests of scored texts; verdicts, labels and scores stay. Returns how many
    flag texts were erased.

    An erased text is unreadable everywhere, not only in its row, because its key goes too: the key of a
    member left with no text in the guild is deleted, and a member who still has texts (retention took
    the older ones) gets a new key, the texts kept re-encrypted under it. The keys are locked first, so a
    text being sealed meanwhile by another process waits, then is erased with the rest. A member's
    forget (guild and member given) deletes their key even when no text of theirs is left.

    A context line is its own author's text: a member's forget erases the lines they wrote, around
    whoever's flag; retention erases the context of the flags it reaches. An appeal is its author's text
    too, erased by their forget, and by retention once it is older than the cutoff.

    Digests go with the texts: an edit of such a message is scored again, the only cost. Run it with
    `Database.erase`, which then clears what the database still keeps of the destroyed keys.
    """
    flags_in_scope, context_in_scope, scored_in_scope = _scopes(before, guild_id, author_id)
    appeals_in_scope = _appeal_scope(before, guild_id, author_id)
    owned: ColumnElement[bool] = (MemberKey.id.in_(select(Flag.text_key_id).where(*flags_in_scope))
                                  | MemberKey.id.in_(select(FlagContext.text_key_id).where(*context_in_scope))
                                  | MemberKey.id.in_(select(Appeal.text_key_id).where(*appeals_in_scope)))
    if guild_id is not None and author_id is not None:
        owned |= (MemberKey.guild_id == guild_id) & (MemberKey.member_id == author_id)
    keys = list(session.scalars(select(MemberKey).where(owned).order_by(MemberKey.id).with_for_update()
                                .execution_options(populate_existing=True)))
    erased = cast(CursorResult[Any], session.execute(
        update(Flag).where(*flags_in_scope).values(sealed_text=None, text_key_id=None, text_erased_at=utcnow())
        .execution_options(synchronize_session="fetch"))).rowcount
    for table, scope in ((FlagContext, context_in_scope), (Appeal, appeals_in_scope)):
        session.execute(update(table).where(*scope).values(sealed_text=None, text_key_id=None)
                        .execution_options(synchronize_session="fetch"))
    if keys:
        _drop_or_replace_keys(session, keys)
    session.execute(update(ScoredMessage).where(*scored_in_scope).values(content_hash=None)
                    .execution_options(synchronize_session=False))
    return erased


Scope = list[ColumnElement[bool]]


def _scopes(before: datetime | None, guild_id: int | None, author_id: int | None) -> tuple[Scope, Scope, Scope]:
    """What `erase_texts` erases: flags with a text, context lines with a text, scored rows with a digest."""
    flags: Scope = [Flag.sealed_text.isnot(None)]
    context: Scope = [FlagContext.sealed_text.isnot(None)]
    scored: Scope = [ScoredMessage.content_hash.isnot(None)]
    if before is not None:
        flags.append(Flag.created_at < before)
        context.append(FlagContext.flag_id.in_(select(Flag.id).where(Flag.created_at < before)))
        scored.append(ScoredMessage.created_at < before)
    if guild_id is not None:
        flags.append(Flag.guild_id == guild_id)
        context.append(FlagContext.guild_id == guild_id)
        scored.append(ScoredMessage.guild_id == guild_id)
    if author_id is not None:
        listing = select(FlagMessage.flag_id).where(FlagMessage.author_id == author_id)
        if guild_id is not None:
            listing = listing.where(FlagMessage.guild_id == guild_id)
        flags.append((Flag.author_id == author_id) | Flag.id.in_(listing))
        context.append(FlagContext.author_id == author_id)
        scored.append(ScoredMessage.author_id == author_id)
    return flags, context, scored


def _appeal_scope(before: datetime | None, guild_id: int | None, author_id: int | None) -> Scope:
    """The appeals `erase_texts` erases: written before the cutoff, in the guild, by the member."""
    scope: Scope = [Appeal.sealed_text.isnot(None)]
    if before is not None:
        scope.append(Appeal.created_at < before)
    if guild_id is not None:
        scope.append(Appeal.guild_id == guild_id)
    if author_id is not None:
        scope.append(Appeal.member_id == author_id)
    return scope


Sealed = Flag | FlagContext | Appeal
PURPOSES: dict[type, bytes] = {Flag: FLAG_TEXT, FlagContext: CONTEXT_TEXT, Appeal: APPEAL_TEXT}


def _drop_or_replace_keys(session: Session, keys: list[MemberKey]) -> None:
    """Delete the keys that seal no text any more; give the others a new key, their texts re-sealed."""
    ids = [key.id for key in keys]
    kept: defaultdict[int, list[Sealed]] = defaultdict(list)
    rows: list[Sealed] = [
        *session.scalars(select(Flag).where(Flag.text_key_id.in_(ids), Flag.sealed_text.isnot(None))),
        *session.scalars(select(FlagContext).where(FlagContext.text_key_id.in_(ids),
                                                   FlagContext.sealed_text.isnot(None))),
        *session.scalars(select(Appeal).where(Appeal.text_key_id.in_(ids), Appeal.sealed_text.isnot(None)))]
    for row in rows:
        kept[row.text_key_id or 0].append(row)
    if gone := [key.id for key in keys if key.id not in kept]:
        session.execute(delete(MemberKey).where(MemberKey.id.in_(gone)))
    for key in keys:
        if key.id in kept:
            _replace_key(key, kept[key.id])


def _replace_key(key: MemberKey, rows: list[Sealed]) -> None:
    """A new key for a member some of whose texts were erased: the texts kept (flags', context lines' and
    appeals') are re-encrypted under it, and the old key, which could open the erased ones, is gone."""
    fresh = new_key()
    for row in rows:
        assert row.sealed_text is not None  # noqa: S101 - narrows for mypy: the caller selects rows with a sealed text
        purpose = PURPOSES[type(row)]
        text = unseal(key.key, row.sealed_text, purpose)
        if text is None:  # unreadable already (altered): nothing to keep
            row.sealed_text, row.text_key = None, None
            if isinstance(row, Flag):
                row.text_erased_at = utcnow()
        else:
            row.sealed_text = seal(fresh, text, purpose)
    key.key, key.created_at = fresh, utcnow()
