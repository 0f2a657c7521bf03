"""operators: locked_at, set after too many failed sign-ins to the address; an admin lifts it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:05:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import models.base

revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_at", models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_column('locked_at')
