"""rich menu: the simulator keeps the rich menus deployed to it

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:00:00.000000
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
import models.base


revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('sim_rich_menus',
    sa.Column('rich_menu_id', sa.String(length=64), nullable=False),
    sa.Column('menu', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('content_type', sa.String(length=20), nullable=True),
    sa.Column('image', sa.LargeBinary(), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('rich_menu_id', name=op.f('pk_sim_rich_menus'))
    )


def downgrade() -> None:
    op.drop_table('sim_rich_menus')
