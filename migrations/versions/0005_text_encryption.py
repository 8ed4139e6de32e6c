"""text encryption: flag texts sealed under per-member keys, keyed digests of scored texts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 09:00:00

Flag texts move from `flags.text` (plaintext) to `flags.sealed_text`, AES-256-GCM under a key per (guild,
member) in `member_keys`, so that destroying a key makes every leftover copy of its texts unreadable (see
bot/storage/sealing.py). `scored_messages.content_hash` becomes an HMAC under a secret in
`install_secrets`; the existing digests are plain sha256 and cannot be re-keyed without the texts they were
made from, which were never stored, so they are dropped: the only cost is that the next edit of each such
message is scored again once, even if its text did not change.

The sealing below is written out here rather than imported, so that this migration keeps producing what
it produced when it was written; it is the layout of sealing.py at this revision (FORMAT 1).
"""

import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.storage.schema import REWRITE_AFTER_UPGRADE


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SNOWFLAKE = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
FORMAT, NONCE_BYTES, PURPOSE = b'\x01', 12, b'toxmod:flags.text'
CHUNK = 500

flags = sa.table('flags', sa.column('id', SNOWFLAKE), sa.column('guild_id', SNOWFLAKE),
                 sa.column('author_id', SNOWFLAKE), sa.column('text', sa.Text()),
                 sa.column('sealed_text', sa.LargeBinary()), sa.column('text_key_id', SNOWFLAKE),
                 sa.column('text_erased_at', sa.DateTime(timezone=True)))
member_keys = sa.table('member_keys', sa.column('id', SNOWFLAKE), sa.column('guild_id', SNOWFLAKE),
                       sa.column('member_id', SNOWFLAKE), sa.column('key', sa.LargeBinary()),
                       sa.column('created_at', sa.DateTime(timezone=True)))
scored_messages = sa.table('scored_messages', sa.column('content_hash', sa.String(64)))


def _seal(key: bytes, text: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT + nonce + AESGCM(key).encrypt(nonce, text.encode('utf-8', 'surrogatepass'), PURPOSE)


def _unseal(key: bytes | None, sealed: bytes) -> str | None:
    if key is None or sealed[:1] != FORMAT:
        return None
    try:
        plain = AESGCM(key).decrypt(sealed[1:1 + NONCE_BYTES], sealed[1 + NONCE_BYTES:], PURPOSE)
    except InvalidTag:
        return None
    return plain.decode('utf-8', 'surrogatepass')


def _chunks(column: sa.ColumnClause, *columns: sa.ColumnClause) -> Iterator[list[sa.Row]]:
    """The flags whose `column` is set, a chunk at a time in id order (never all texts in memory at once)."""
    bind, last = op.get_bind(), None
    while True:
        q = sa.select(flags.c.id, *columns).where(column.isnot(None)).order_by(flags.c.id).limit(CHUNK)
        rows = bind.execute(q if last is None else q.where(flags.c.id > last)).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        # the plaintext this migration removes is zeroed in the file, not left in its free pages
        op.execute('PRAGMA secure_delete = ON')

    op.create_table('member_keys',
    sa.Column('id', SNOWFLAKE, nullable=False),
    sa.Column('guild_id', SNOWFLAKE, nullable=False),
    sa.Column('member_id', SNOWFLAKE, nullable=False),
    sa.Column('key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_member_key', 'member_keys', ['guild_id', 'member_id'], unique=True)
    op.create_table('install_secrets',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_text', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('text_key_id', SNOWFLAKE, nullable=True))

    # every stored text, sealed under its author's key in its guild (0: not known, as in offline replays)
    now, keys = datetime.now(UTC), {}
    seal_one = (sa.update(flags).where(flags.c.id == sa.bindparam('flag_id'))
                .values(sealed_text=sa.bindparam('sealed'), text_key_id=sa.bindparam('key_id')))
    for rows in _chunks(flags.c.text, flags.c.guild_id, flags.c.author_id, flags.c.text):
        sealed = []
        for row in rows:
            owner = (row.guild_id or 0, row.author_id or 0)
            if owner not in keys:
                key = os.urandom(32)
                key_id = bind.execute(sa.insert(member_keys).values(guild_id=owner[0], member_id=owner[1], key=key,
                                                                    created_at=now).returning(member_keys.c.id))
                keys[owner] = (key_id.scalar_one(), key)
            key_id, key = keys[owner]
            sealed.append({'flag_id': row.id, 'sealed': _seal(key, row.text), 'key_id': key_id})
        bind.execute(seal_one, sealed)

    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_column('text')

    # unkeyed digests cannot be re-keyed without their texts: dropped (the next edit is scored once more)
    dropped = bind.execute(sa.update(scored_messages).where(scored_messages.c.content_hash.isnot(None))
                           .values(content_hash=None)).rowcount

    # PostgreSQL keeps the old plaintext rows as dead rows, SQLite the old page images in its WAL: the
    # upgrade rewrites these tables once this migration has committed (bot.storage.schema.upgrade)
    if keys or dropped:
        context.config.attributes[REWRITE_AFTER_UPGRADE] = ['flags', 'scored_messages']


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text', sa.Text(), nullable=True))

    # decrypted back; a text whose key was destroyed could not be read before either: it stays erased
    keys = {row.id: row.key for row in bind.execute(sa.select(member_keys.c.id, member_keys.c.key))}
    now = datetime.now(UTC)
    restore = (sa.update(flags).where(flags.c.id == sa.bindparam('flag_id'))
               .values(text=sa.bindparam('plain'), sealed_text=None,
                       text_erased_at=sa.func.coalesce(flags.c.text_erased_at,
                                                        sa.bindparam('erased_at', type_=sa.DateTime(timezone=True)))))
    for rows in _chunks(flags.c.sealed_text, flags.c.sealed_text, flags.c.text_key_id):
        params = []
        for row in rows:
            plain = _unseal(keys.get(row.text_key_id), row.sealed_text)
            params.append({'flag_id': row.id, 'plain': plain, 'erased_at': None if plain is not None else now})
        bind.execute(restore, params)

    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_column('text_key_id')
        batch_op.drop_column('sealed_text')
    op.drop_table('install_secrets')
    op.drop_index('uq_member_key', table_name='member_keys')
    op.drop_table('member_keys')
    # keyed digests mean nothing to the older code, which compares plain sha256: dropped (one re-score each)
    op.execute(sa.update(scored_messages).where(scored_messages.c.content_hash.isnot(None)).values(content_hash=None))
