"""bookings: calendar_key, the random part of the booking's signed 予定に追加 (.ics) link

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 13:30:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0018'
down_revision: Union[str, None] = '0017'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar_key", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_bookings_calendar_key", ["calendar_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_calendar_key")
        batch_op.drop_column('calendar_key')
