"""line_users: when a restriction ends by itself, and when repeated no-shows await the operator's decision

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 13:10:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import models.base

revision: str = '0016'
down_revision: Union[str, None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('line_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column("restricted_until", models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("no_show_review_at", models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('line_users', schema=None) as batch_op:
        batch_op.drop_column('no_show_review_at')
        batch_op.drop_column('restricted_until')
