"""retention indexes: what the purge's WHERE clauses and its foreign-key checks need

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 09:00:00.000000
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _partial(column: str) -> dict:
    where = sa.text(f"{column} IS NOT NULL")
    return {"postgresql_where": where, "sqlite_where": where}


def upgrade() -> None:
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_events_received_at', ['received_at'], unique=False)
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbound_messages_created_at', ['created_at'], unique=False)
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_finished_at', ['finished_at'], unique=False, **_partial('finished_at'))
    with op.batch_alter_table('message_log', schema=None) as batch_op:
        batch_op.create_index('ix_message_log_event_id', ['event_id'], unique=False, **_partial('event_id'))
        batch_op.create_index('ix_message_log_outbound_id', ['outbound_id'], unique=False, **_partial('outbound_id'))


def downgrade() -> None:
    with op.batch_alter_table('message_log', schema=None) as batch_op:
        batch_op.drop_index('ix_message_log_outbound_id', **_partial('outbound_id'))
        batch_op.drop_index('ix_message_log_event_id', **_partial('event_id'))
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_finished_at', **_partial('finished_at'))
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbound_messages_created_at')
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_events_received_at')
