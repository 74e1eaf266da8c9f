"""The exception queue's default order read from one covering index.

The queue sorts by ``first_seen_at`` and breaks ties on ``exception_id``; with an index on
``first_seen_at`` alone the database still sorted the matching rows for the tie-break, and a deep
page read every row it skipped. One index on (first_seen_at, exception_id, status) gives the order
and the status filter from the index alone. It replaces the two indexes of 0008.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 19:20:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.drop_index('ix_tl_exception_first_seen_at', table_name='tl_exception')
    op.drop_index('ix_tl_exception_status_first_seen_at', table_name='tl_exception')
    op.create_index('ix_tl_exception_first_seen_at_exception_id_status', 'tl_exception',
                    ['first_seen_at', 'exception_id', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tl_exception_first_seen_at_exception_id_status', table_name='tl_exception')
    op.create_index('ix_tl_exception_status_first_seen_at', 'tl_exception', ['status', 'first_seen_at'], unique=False)
    op.create_index('ix_tl_exception_first_seen_at', 'tl_exception', ['first_seen_at'], unique=False)
