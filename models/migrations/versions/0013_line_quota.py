"""LINE message quota: what each outbound message is, and a push refused for the monthly limit

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 10:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0013'
down_revision: Union[str, None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('failure', sa.String(length=20), nullable=True))
        batch_op.create_index('ix_outbound_messages_sent_at', ['sent_at'], unique=False)
    # Messages already sent get their kind from the flow and step they were logged with, as
    # bot/line/outbox.py derives it for new ones.
    op.execute("""
        UPDATE outbound_messages SET kind = (
            SELECT CASE
                WHEN m.flow = 'teams' AND m.step = 'join_link' THEN 'join_link'
                WHEN m.flow = 'reminder' THEN 'reminder'
                WHEN m.operator_id IS NOT NULL THEN 'operator'
                WHEN outbound_messages.reply_token IS NOT NULL THEN 'answer'
                ELSE 'notice' END
            FROM message_log m WHERE m.outbound_id = outbound_messages.id ORDER BY m.id LIMIT 1)
    """)


def downgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_messages_sent_at')
        batch_op.drop_column('failure')
        batch_op.drop_column('kind')
