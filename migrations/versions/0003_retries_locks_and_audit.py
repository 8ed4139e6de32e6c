"""hardening: scored text hashes, one flag per reported message, replay progress, mod-log retry state

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SNOWFLAKE = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('scored_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_hash', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_scored_channel_message', ['channel_id', 'message_id'], unique=False)

    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('modlog_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('modlog_retry_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('previous_flag_id', SNOWFLAKE, nullable=True))
        batch_op.create_foreign_key('fk_flags_previous_flag_id', 'flags', ['previous_flag_id'], ['id'])
        batch_op.create_index('ix_flags_message', ['guild_id', 'message_id'], unique=False)

    op.create_table('reports',
    sa.Column('id', SNOWFLAKE, nullable=False),
    sa.Column('guild_id', SNOWFLAKE, nullable=False),
    sa.Column('message_id', SNOWFLAKE, nullable=False),
    sa.Column('reporter_id', SNOWFLAKE, nullable=False),
    sa.Column('flag_id', SNOWFLAKE, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['flags.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_guild_id'), ['guild_id'], unique=False)
        batch_op.create_index('uq_report', ['guild_id', 'message_id', 'reporter_id'], unique=True)
        batch_op.create_index('ix_reports_reporter_time', ['guild_id', 'reporter_id', 'created_at'], unique=False)

    op.create_table('replay_runs',
    sa.Column('id', SNOWFLAKE, nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('lines_total', sa.Integer(), nullable=False),
    sa.Column('lines_done', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('digest')
    )


def downgrade() -> None:
    op.drop_table('replay_runs')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_reporter_time')
        batch_op.drop_index('uq_report')
        batch_op.drop_index(batch_op.f('ix_reports_guild_id'))
    op.drop_table('reports')
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index('ix_flags_message')
        batch_op.drop_constraint('fk_flags_previous_flag_id', type_='foreignkey')
        batch_op.drop_column('previous_flag_id')
        batch_op.drop_column('modlog_retry_at')
        batch_op.drop_column('modlog_attempts')
    with op.batch_alter_table('scored_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_scored_channel_message')
        batch_op.drop_column('content_hash')
