"""bookings: the user's contact on the day (late by some minutes, or cannot come) and when it came

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 13:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import models.base

revision: str = '0015'
down_revision: Union[str, None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column("same_day_contact", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("late_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("same_day_contact_at", models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_column('same_day_contact_at')
        batch_op.drop_column('late_minutes')
        batch_op.drop_column('same_day_contact')
