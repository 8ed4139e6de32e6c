"""floods and raids: flags of kind flood or raid with the messages they list, each server's settings for them

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12 10:00:00

Every flag so far is about one message: `kind` is 'message' for all of them. `flag_messages` holds no text
(a flood's text is kept once, on its flag, sealed as every flag text is).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SNOWFLAKE = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('guild_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('floods', sa.JSON(), nullable=True))

    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('message', 'flood', 'raid', name='flagkind', native_enum=False,
                                                      length=16), server_default='message', nullable=False))
        batch_op.add_column(sa.Column('episode', sa.JSON(), nullable=True))

    op.create_table('flag_messages',
    sa.Column('id', SNOWFLAKE, nullable=False),
    sa.Column('flag_id', SNOWFLAKE, nullable=False),
    sa.Column('guild_id', SNOWFLAKE, nullable=False),
    sa.Column('channel_id', SNOWFLAKE, nullable=False),
    sa.Column('message_id', SNOWFLAKE, nullable=False),
    sa.Column('author_id', SNOWFLAKE, nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['flags.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('flag_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flag_messages_flag_id'), ['flag_id'], unique=False)
        batch_op.create_index('uq_flag_message', ['flag_id', 'message_id'], unique=True)
        batch_op.create_index('ix_flag_messages_author', ['guild_id', 'author_id'], unique=False)


def downgrade() -> None:
    # the episodes' flags go with the table that lists their messages: the older code reads every flag as
    # one message's, which these are not (their audit entries and reports, if any, go first)
    episodes = "SELECT id FROM flags WHERE kind <> 'message'"
    op.execute(f"DELETE FROM audit_log WHERE flag_id IN ({episodes})")
    op.execute(f"DELETE FROM reports WHERE flag_id IN ({episodes})")
    op.execute(f"UPDATE flags SET previous_flag_id = NULL WHERE previous_flag_id IN ({episodes})")
    op.execute("DELETE FROM flag_messages")
    op.execute("DELETE FROM flags WHERE kind <> 'message'")
    with op.batch_alter_table('flag_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_flag_messages_author')
        batch_op.drop_index('uq_flag_message')
        batch_op.drop_index(batch_op.f('ix_flag_messages_flag_id'))
    op.drop_table('flag_messages')

    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_column('episode')
        batch_op.drop_column('kind')

    with op.batch_alter_table('guild_settings', schema=None) as batch_op:
        batch_op.drop_column('floods')
