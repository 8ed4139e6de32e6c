"""message languages: the language each message and flag was read in, each server's languages and its
rule for others; scores may be missing (a message in a language no model reads is not scored)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LABELS = ('toxic', 'severe_toxic', 'obscene', 'threat', 'insult', 'identity_hate')


def upgrade() -> None:
    with op.batch_alter_table('guild_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('languages', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('unsupported_language', sa.String(length=16), nullable=True))

    with op.batch_alter_table('scored_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))
        for label in LABELS:  # a message in a language no model reads is recorded without scores
            batch_op.alter_column(label, existing_type=sa.Float(), nullable=True)

    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_column('language')

    op.execute("DELETE FROM scored_messages WHERE toxic IS NULL")
    with op.batch_alter_table('scored_messages', schema=None) as batch_op:
        batch_op.drop_column('language')
        for label in LABELS:
            batch_op.alter_column(label, existing_type=sa.Float(), nullable=False)

    with op.batch_alter_table('guild_settings', schema=None) as batch_op:
        batch_op.drop_column('unsupported_language')
        batch_op.drop_column('languages')
