"""operators: the Microsoft Entra ID account (oid, tid) bound at its first sign-in

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entra_oid', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('entra_tid', sa.String(length=36), nullable=True))
        batch_op.create_index('uq_operators_entra_oid', ['entra_tid', 'entra_oid'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_index('uq_operators_entra_oid')
        batch_op.drop_column('entra_tid')
        batch_op.drop_column('entra_oid')
