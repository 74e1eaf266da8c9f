"""Soft deletes found by full refreshes, and stream resumes in the run log.

Every canonical table gets ``deleted_at`` and ``deleted_run_id``; ``tl_key_seen`` holds the keys a
full refresh has read; ``tl_run_stream`` gets ``rows_deleted``, ``resumes`` and ``notes``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 10:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0002'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

#: the canonical tables migration 0001 created
CANONICAL_TABLES = (
    'asset', 'fx_rate', 'invoice_line', 'item', 'labour_entry', 'material_issue', 'po_line',
    'purchase_order', 'receipt', 'supplier', 'uom_conversion', 'wo_operation', 'wo_po_link', 'work_order',
)


def upgrade() -> None:
    for name in CANONICAL_TABLES:
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column('deleted_at', sa.DateTime(), nullable=True))
            batch.add_column(sa.Column('deleted_run_id', sa.String(length=40), nullable=True))
    with op.batch_alter_table('tl_run_stream') as batch:
        batch.add_column(sa.Column('rows_deleted', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('resumes', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('notes', sa.Text(), nullable=True))
    op.create_table(
        'tl_key_seen',
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('entity', sa.String(length=64), nullable=False),
        sa.Column('source_key', sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint('run_id', 'source', 'entity', 'source_key', name=op.f('pk_tl_key_seen')),
        comment="Keys a full refresh has read so far; rows of the source missing here are soft-deleted.",
    )


def downgrade() -> None:
    op.drop_table('tl_key_seen')
    with op.batch_alter_table('tl_run_stream') as batch:
        batch.drop_column('notes')
        batch.drop_column('resumes')
        batch.drop_column('rows_deleted')
    for name in CANONICAL_TABLES:
        with op.batch_alter_table(name) as batch:
            batch.drop_column('deleted_run_id')
            batch.drop_column('deleted_at')
