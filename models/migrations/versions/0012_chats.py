"""chat consultation: chats, canned replies, operators' availability, who wrote a message

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:04:05
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import models.base


revision: str = '0012'
down_revision: Union[str, None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('chat_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=60), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_templates'))
    )
    op.create_table('chats',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('requested_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('taken_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('ended_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=10), nullable=True),
    sa.Column('outcome', sa.String(length=10), nullable=True),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('last_message_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reply_token', sa.String(length=255), nullable=True),
    sa.Column('reply_received_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('crisis', sa.Boolean(), nullable=False),
    sa.CheckConstraint("status IN ('waiting', 'active', 'ended')", name=op.f('ck_chats_status')),
    sa.CheckConstraint('satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5', name=op.f('ck_chats_satisfaction')),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.id'], name=op.f('fk_chats_operator_id_operators')),
    sa.ForeignKeyConstraint(['user_id'], ['line_users.id'], name=op.f('fk_chats_user_id_line_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chats'))
    )
    with op.batch_alter_table('chats', schema=None) as batch_op:
        batch_op.create_index('ix_chats_requested_at', ['requested_at'], unique=False)
        batch_op.create_index('ix_chats_status_requested', ['status', 'requested_at'], unique=False)
        batch_op.create_index('uq_chats_open_user', ['user_id'], unique=True, postgresql_where=sa.text("status IN ('waiting', 'active')"), sqlite_where=sa.text("status IN ('waiting', 'active')"))

    with op.batch_alter_table('message_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('operator_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_message_log_operator_id_operators'), 'operators', ['operator_id'], ['id'])

    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chat_available', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade() -> None:
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_column('chat_available')

    with op.batch_alter_table('message_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_message_log_operator_id_operators'), type_='foreignkey')
        batch_op.drop_column('operator_id')

    with op.batch_alter_table('chats', schema=None) as batch_op:
        batch_op.drop_index('uq_chats_open_user', postgresql_where=sa.text("status IN ('waiting', 'active')"), sqlite_where=sa.text("status IN ('waiting', 'active')"))
        batch_op.drop_index('ix_chats_status_requested')
        batch_op.drop_index('ix_chats_requested_at')

    op.drop_table('chats')
    op.drop_table('chat_templates')
