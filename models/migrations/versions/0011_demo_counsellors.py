"""counsellors: demo, set on the demo counsellors `demo-data` adds in simulator mode

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:10:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('counsellors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('demo', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('counsellors', schema=None) as batch_op:
        batch_op.drop_column('demo')
