"""The ledger of inbox sources: every file read, by content hash, and what became of it.

``tl_inbox_file`` holds one row per file and run: processed (loaded, moved to processed/),
rejected (moved to rejected/ with its reason) or duplicate (content processed before).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 16:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'tl_inbox_file',
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.Column('file_name', sa.String(length=255), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('source', 'run_id', 'file_name', name=op.f('pk_tl_inbox_file')),
        comment="Files of inbox sources (CSV/XLSX drops, B2MML): loaded once by content hash, or rejected.",
    )
    op.create_index('ix_tl_inbox_file_source_sha256', 'tl_inbox_file', ['source', 'sha256'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tl_inbox_file_source_sha256', table_name='tl_inbox_file')
    op.drop_table('tl_inbox_file')
