"""ladder retries: a strike's step state and tries, and an appeal's mod-log post retried like a flag's

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-17 10:00:00

A strike whose step has an outcome (or was revoked) is "done" on upgrade; one without is what a crash or a
failed Discord call left behind, so it becomes "claimed" with its one try spent, and the bot tries it
again. The downgrade drops only the retry bookkeeping.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('strikes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.Enum('claimed', 'done', 'failed', name='stepstate',
                                                       native_enum=False, length=16),
                                      nullable=False, server_default='done'))
        batch_op.add_column(sa.Column('tries', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('timeout_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))
        batch_op.create_index('ix_strikes_state', ['state', 'retry_at'], unique=False)
    op.execute("UPDATE strikes SET state = 'claimed', tries = 1 WHERE result IS NULL AND revoked_at IS NULL")

    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('modlog_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('modlog_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('modlog_retry_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.drop_column('modlog_retry_at')
        batch_op.drop_column('modlog_attempts')
        batch_op.drop_column('modlog_error')

    with op.batch_alter_table('strikes', schema=None) as batch_op:
        batch_op.drop_index('ix_strikes_state')
        batch_op.drop_column('error')
        batch_op.drop_column('timeout_until')
        batch_op.drop_column('retry_at')
        batch_op.drop_column('tries')
        batch_op.drop_column('state')
