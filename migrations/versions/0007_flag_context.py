"""flag context: the messages before a flagged one and the one it replies to, sealed per author

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-14 10:00:00

Earlier flags have no context and read as such (`context_unavailable` false, no lines). Each line's text is
sealed under its author's key, as flag texts are, so the downgrade drops ciphertext only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SNOWFLAKE = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('context_unavailable', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))

    op.create_table('flag_context',
    sa.Column('id', SNOWFLAKE, nullable=False),
    sa.Column('flag_id', SNOWFLAKE, nullable=False),
    sa.Column('guild_id', SNOWFLAKE, nullable=False),
    sa.Column('channel_id', SNOWFLAKE, nullable=False),
    sa.Column('message_id', SNOWFLAKE, nullable=False),
    sa.Column('author_id', SNOWFLAKE, nullable=False),
    sa.Column('is_reply', sa.Boolean(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sealed_text', sa.LargeBinary(), nullable=True),
    sa.Column('text_key_id', SNOWFLAKE, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['flags.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('flag_context', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flag_context_flag_id'), ['flag_id'], unique=False)
        batch_op.create_index('uq_flag_context', ['flag_id', 'message_id'], unique=True)
        batch_op.create_index('ix_flag_context_author', ['guild_id', 'author_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('flag_context', schema=None) as batch_op:
        batch_op.drop_index('ix_flag_context_author')
        batch_op.drop_index('uq_flag_context')
        batch_op.drop_index(batch_op.f('ix_flag_context_flag_id'))
    op.drop_table('flag_context')

    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_column('context_unavailable')
