"""Rows a mapping spec's ``where`` filter skipped, in the run log.

``tl_run_stream`` gets ``rows_skipped``, so that ``landed = loaded + quarantined + skipped``
balances for streams whose spec takes only some of the source's records.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 14:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('tl_run_stream') as batch:
        batch.add_column(sa.Column('rows_skipped', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('tl_run_stream') as batch:
        batch.drop_column('rows_skipped')
