"""jobs: live jobs in id order, for the claim's window

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 21:40:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LIVE = "status IN ('pending', 'running')"


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_live_id', ['id'], unique=False,
                              postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_live_id', postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE))
