"""Link suggestions and stewards' decisions: ``tl_link_event``.

Suggested, confirmed and rejected links are ``wo_po_link`` rows of source system ``threadline``
(their source key is the link id); this table keeps every change to them, append-only: the runs'
suggestions and withdrawals and each steward's confirm or reject, with who, when, why and the
fingerprint of the evidence the decision was taken on.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 16:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'tl_link_event',
        sa.Column('event_id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('link_id', sa.String(length=24), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('from_status', sa.String(length=16), nullable=True),
        sa.Column('to_status', sa.String(length=16), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('site', sa.Text(), nullable=True),
        sa.Column('wo_number', sa.Text(), nullable=True),
        sa.Column('op_seq', sa.Text(), nullable=True),
        sa.Column('po_number', sa.Text(), nullable=True),
        sa.Column('line_number', sa.Text(), nullable=True),
        sa.Column('score', sa.Float(), nullable=True),
        sa.Column('fingerprint', sa.String(length=16), nullable=True),
        sa.Column('run_id', sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_tl_link_event')),
        comment='Append-only history of suggested links and the stewards\' decisions on them (who, when, why).',
    )
    op.create_index('ix_tl_link_event_link_id', 'tl_link_event', ['link_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tl_link_event_link_id', table_name='tl_link_event')
    op.drop_table('tl_link_event')
