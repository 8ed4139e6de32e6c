"""strikes and appeals: each server's escalation ladder, the strike of each confirmed flag, members' appeals

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-16 10:00:00

No ladder is set on upgrade (the ladder is off by default), so no earlier verdict becomes a strike. An
appeal's text is sealed under its author's key, as flag texts are, so the downgrade drops ciphertext only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SNOWFLAKE = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('guild_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalation', sa.JSON(), nullable=True))

    op.create_table('strikes',
    sa.Column('id', SNOWFLAKE, nullable=False),
    sa.Column('guild_id', SNOWFLAKE, nullable=False),
    sa.Column('member_id', SNOWFLAKE, nullable=False),
    sa.Column('flag_id', SNOWFLAKE, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('counted', sa.Integer(), nullable=False),
    sa.Column('decay_days', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.Column('dm', sa.Text(), nullable=True),
    sa.Column('undo', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['flag_id'], ['flags.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('strikes', schema=None) as batch_op:
        batch_op.create_index('uq_strike_flag', ['flag_id'], unique=True)
        batch_op.create_index('ix_strikes_member', ['guild_id', 'member_id', 'created_at'], unique=False)

    op.create_table('appeals',
    sa.Column('id', SNOWFLAKE, nullable=False),
    sa.Column('guild_id', SNOWFLAKE, nullable=False),
    sa.Column('flag_id', SNOWFLAKE, nullable=False),
    sa.Column('member_id', SNOWFLAKE, nullable=False),
    sa.Column('sealed_text', sa.LargeBinary(), nullable=True),
    sa.Column('text_key_id', SNOWFLAKE, nullable=True),
    sa.Column('status', sa.Enum('open', 'accepted', 'rejected', name='appealstatus', native_enum=False,
                                length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', SNOWFLAKE, nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('dm', sa.Text(), nullable=True),
    sa.Column('modlog_channel_id', SNOWFLAKE, nullable=True),
    sa.Column('modlog_message_id', SNOWFLAKE, nullable=True),
    sa.ForeignKeyConstraint(['flag_id'], ['flags.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.create_index('uq_appeal_flag', ['flag_id'], unique=True)
        batch_op.create_index('ix_appeals_member', ['guild_id', 'member_id', 'created_at'], unique=False)
        batch_op.create_index('ix_appeals_status', ['guild_id', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.drop_index('ix_appeals_status')
        batch_op.drop_index('ix_appeals_member')
        batch_op.drop_index('uq_appeal_flag')
    op.drop_table('appeals')

    with op.batch_alter_table('strikes', schema=None) as batch_op:
        batch_op.drop_index('ix_strikes_member')
        batch_op.drop_index('uq_strike_flag')
    op.drop_table('strikes')

    with op.batch_alter_table('guild_settings', schema=None) as batch_op:
        batch_op.drop_column('escalation')
