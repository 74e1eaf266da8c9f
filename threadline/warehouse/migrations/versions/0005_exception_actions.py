"""Steward actions on exceptions: resolution notes, waivers with an expiry, and the kind of each event.

``tl_exception`` gets ``resolution_note`` (free text next to the ``resolution`` code),
``waiver_justification`` and ``waiver_until`` (the last day a waiver holds; the first run after it
reopens the exception), and an index on (assignee, status) for a steward's own queue.
``tl_exception_event`` gets ``action``: what a steward did (ack, assign, comment, resolve, waive,
reopen); NULL for the changes a run makes, which carry their ``run_id`` instead.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 18:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('tl_exception') as batch:
        batch.add_column(sa.Column('resolution_note', sa.Text(), nullable=True))
        batch.add_column(sa.Column('waiver_justification', sa.Text(), nullable=True))
        batch.add_column(sa.Column('waiver_until', sa.Date(), nullable=True))
        batch.create_index('ix_tl_exception_assignee_status', ['assignee', 'status'], unique=False)
    with op.batch_alter_table('tl_exception_event') as batch:
        batch.add_column(sa.Column('action', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tl_exception_event') as batch:
        batch.drop_column('action')
    with op.batch_alter_table('tl_exception') as batch:
        batch.drop_index('ix_tl_exception_assignee_status')
        batch.drop_column('waiver_until')
        batch.drop_column('waiver_justification')
        batch.drop_column('resolution_note')
