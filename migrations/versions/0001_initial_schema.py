"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 18:31:10.444011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('exemptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('guild_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('exemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exemptions_guild_id'), ['guild_id'], unique=False)
        batch_op.create_index('uq_exemption', ['guild_id', 'kind', 'target_id'], unique=True)

    op.create_table('guild_settings',
    sa.Column('guild_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('modlog_channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('thresholds', sa.JSON(), nullable=False),
    sa.Column('automod', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('guild_id')
    )
    op.create_table('scored_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('guild_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('edited', sa.Boolean(), nullable=False),
    sa.Column('toxic', sa.Float(), nullable=False),
    sa.Column('severe_toxic', sa.Float(), nullable=False),
    sa.Column('obscene', sa.Float(), nullable=False),
    sa.Column('threat', sa.Float(), nullable=False),
    sa.Column('insult', sa.Float(), nullable=False),
    sa.Column('identity_hate', sa.Float(), nullable=False),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('model_version', sa.String(length=128), nullable=False),
    sa.Column('latency_ms', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('scored_messages', schema=None) as batch_op:
        batch_op.create_index('ix_scored_guild_time', ['guild_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_scored_messages_created_at'), ['created_at'], unique=False)

    op.create_table('flags',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('guild_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('scored_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('origin', sa.Enum('model', 'reported', name='flagorigin', native_enum=False, length=16), nullable=False),
    sa.Column('reporter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('text_erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('model_version', sa.String(length=128), nullable=False),
    sa.Column('status', sa.Enum('pending', 'confirmed', 'dismissed', name='flagstatus', native_enum=False, length=16), nullable=False),
    sa.Column('reviewer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('action_taken', sa.String(length=64), nullable=True),
    sa.Column('verdict_labels', sa.JSON(), nullable=True),
    sa.Column('modlog_channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('modlog_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('modlog_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['scored_message_id'], ['scored_messages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flags_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_guild_id'), ['guild_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_status'), ['status'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('guild_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('flag_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['flags.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_guild_id'), ['guild_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_guild_id'))

    op.drop_table('audit_log')
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flags_status'))
        batch_op.drop_index(batch_op.f('ix_flags_guild_id'))
        batch_op.drop_index(batch_op.f('ix_flags_created_at'))
        batch_op.drop_index(batch_op.f('ix_flags_author_id'))

    op.drop_table('flags')
    with op.batch_alter_table('scored_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scored_messages_created_at'))
        batch_op.drop_index('ix_scored_guild_time')

    op.drop_table('scored_messages')
    op.drop_table('guild_settings')
    with op.batch_alter_table('exemptions', schema=None) as batch_op:
        batch_op.drop_index('uq_exemption')
        batch_op.drop_index(batch_op.f('ix_exemptions_guild_id'))

    op.drop_table('exemptions')
