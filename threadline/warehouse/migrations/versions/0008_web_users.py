"""Users of the steward web app, and indexes for its exception queue.

``tl_user`` holds each user's role and an argon2id password hash (never a password). The queue
lists exceptions oldest first, usually of one status; two indexes on ``first_seen_at`` let it page
through 100,000 exceptions without sorting them all for every page.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:50:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'tl_user',
        sa.Column('user_name', sa.String(length=128), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('password_hash', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('last_login_at', sa.DateTime(), nullable=True),
        sa.Column('disabled', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint('user_name', name=op.f('pk_tl_user')),
        comment='Users of the steward web app with their role and password hash.',
    )
    op.create_index('ix_tl_exception_status_first_seen_at', 'tl_exception', ['status', 'first_seen_at'], unique=False)
    op.create_index('ix_tl_exception_first_seen_at', 'tl_exception', ['first_seen_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tl_exception_first_seen_at', table_name='tl_exception')
    op.drop_index('ix_tl_exception_status_first_seen_at', table_name='tl_exception')
    op.drop_table('tl_user')
