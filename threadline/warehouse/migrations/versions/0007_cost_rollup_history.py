"""Cost roll-up history at every grain, with a drill-down table.

``tl_cost_rollup`` was one row per work order, replaced by every run. It becomes one row per grain
(operation, wo, asset, item, site, cost_centre, supplier, month) and key, per run: every run's rows are
kept (``is_current`` flags the latest run's), each names its ``run_id``, ``as_of`` and ``computed_at``,
and ``rollup_key`` (the grain and its keys as text) finds the same row in earlier runs, so a changed
closed figure is flagged ``restated`` beside the ``previous_actual_cost``. ``tl_cost_line`` keeps every
run's lines under a text ``line_id`` ("<run id>.<n>") and gets ``supplier_id``; ``tl_cost_drilldown``
names the lines behind each roll-up row. The old tables held only the last run's figures, which the
next run computes again, so they are dropped rather than converted.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 15:30:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.drop_index('ix_tl_cost_line_site_wo', table_name='tl_cost_line')
    op.drop_table('tl_cost_line')
    op.drop_table('tl_cost_rollup')
    op.create_table(
        'tl_cost_rollup',
        sa.Column('rollup_row_id', sa.String(length=64), nullable=False),
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('computed_at', sa.DateTime(), nullable=False),
        sa.Column('is_current', sa.Boolean(), nullable=False),
        sa.Column('grain', sa.String(length=16), nullable=False),
        sa.Column('rollup_key', sa.Text(), nullable=False),
        sa.Column('site', sa.String(length=64), nullable=True),
        sa.Column('wo_number', sa.String(length=64), nullable=True),
        sa.Column('op_seq', sa.String(length=32), nullable=True),
        sa.Column('asset_id', sa.String(length=64), nullable=True),
        sa.Column('parent_asset_id', sa.String(length=64), nullable=True),
        sa.Column('item_number', sa.String(length=64), nullable=True),
        sa.Column('cost_centre', sa.String(length=64), nullable=True),
        sa.Column('supplier_id', sa.String(length=64), nullable=True),
        sa.Column('month', sa.String(length=7), nullable=True),
        sa.Column('wo_source_system', sa.String(length=64), nullable=True),
        sa.Column('wo_source_key', sa.String(length=255), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=True),
        sa.Column('closed_date', sa.Date(), nullable=True),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('labour_cost', sa.Float(), nullable=True),
        sa.Column('material_cost', sa.Float(), nullable=True),
        sa.Column('outside_cost', sa.Float(), nullable=True),
        sa.Column('committed_cost', sa.Float(), nullable=True),
        sa.Column('actual_cost', sa.Float(), nullable=True),
        sa.Column('estimate_cost', sa.Float(), nullable=True),
        sa.Column('variance', sa.Float(), nullable=True),
        sa.Column('variance_pct', sa.Float(), nullable=True),
        sa.Column('work_orders', sa.Integer(), nullable=True),
        sa.Column('estimated_work_orders', sa.Integer(), nullable=True),
        sa.Column('cost_lines', sa.Integer(), nullable=False),
        sa.Column('incomplete', sa.Boolean(), nullable=False),
        sa.Column('unconverted_lines', sa.Integer(), nullable=False),
        sa.Column('previous_actual_cost', sa.Float(), nullable=True),
        sa.Column('restated', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('rollup_row_id', name=op.f('pk_tl_cost_rollup')),
        comment="Cost roll-up per operation, work order, asset (with its children), item, site, cost centre, supplier and month in the reporting currency; every run's rows are kept, the latest flagged current.",
    )
    op.create_index('ix_tl_cost_rollup_grain_is_current', 'tl_cost_rollup', ['grain', 'is_current'], unique=False)
    op.create_index('ix_tl_cost_rollup_rollup_key', 'tl_cost_rollup', ['rollup_key'], unique=False)
    op.create_index('ix_tl_cost_rollup_run_id', 'tl_cost_rollup', ['run_id'], unique=False)
    op.create_table(
        'tl_cost_line',
        sa.Column('line_id', sa.String(length=64), nullable=False),
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.Column('site', sa.String(length=64), nullable=False),
        sa.Column('wo_number', sa.String(length=64), nullable=False),
        sa.Column('op_seq', sa.String(length=32), nullable=True),
        sa.Column('cost_type', sa.String(length=16), nullable=False),
        sa.Column('entity', sa.String(length=64), nullable=False),
        sa.Column('source_system', sa.String(length=64), nullable=False),
        sa.Column('source_key', sa.String(length=255), nullable=False),
        sa.Column('line_date', sa.Date(), nullable=True),
        sa.Column('amount_source', sa.Float(), nullable=True),
        sa.Column('currency_source', sa.String(length=3), nullable=True),
        sa.Column('fx_rate', sa.Float(), nullable=True),
        sa.Column('amount', sa.Float(), nullable=True),
        sa.Column('converted', sa.Boolean(), nullable=False),
        sa.Column('problem', sa.Text(), nullable=True),
        sa.Column('supplier_id', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('line_id', name=op.f('pk_tl_cost_line')),
        comment='The source lines behind the roll-up of each run, converted to the reporting currency.',
    )
    op.create_index('ix_tl_cost_line_run_id_site_wo_number', 'tl_cost_line', ['run_id', 'site', 'wo_number'], unique=False)
    op.create_table(
        'tl_cost_drilldown',
        sa.Column('rollup_row_id', sa.String(length=64), nullable=False),
        sa.Column('line_id', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('rollup_row_id', 'line_id', name=op.f('pk_tl_cost_drilldown')),
        comment='Drill-down: the cost lines (tl_cost_line) behind each roll-up row (tl_cost_rollup).',
    )
    op.create_index('ix_tl_cost_drilldown_line_id', 'tl_cost_drilldown', ['line_id'], unique=False)


def downgrade() -> None:
    op.drop_table('tl_cost_drilldown')
    op.drop_table('tl_cost_line')
    op.drop_table('tl_cost_rollup')
    op.create_table(
        'tl_cost_line',
        sa.Column('line_id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('site', sa.String(length=64), nullable=False),
        sa.Column('wo_number', sa.String(length=64), nullable=False),
        sa.Column('op_seq', sa.String(length=32), nullable=True),
        sa.Column('cost_type', sa.String(length=16), nullable=False),
        sa.Column('entity', sa.String(length=64), nullable=False),
        sa.Column('source_system', sa.String(length=64), nullable=False),
        sa.Column('source_key', sa.String(length=255), nullable=False),
        sa.Column('line_date', sa.Date(), nullable=True),
        sa.Column('amount_source', sa.Float(), nullable=True),
        sa.Column('currency_source', sa.String(length=3), nullable=True),
        sa.Column('fx_rate', sa.Float(), nullable=True),
        sa.Column('amount', sa.Float(), nullable=True),
        sa.Column('converted', sa.Boolean(), nullable=False),
        sa.Column('problem', sa.Text(), nullable=True),
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint('line_id', name=op.f('pk_tl_cost_line')),
        comment='The source lines behind each roll-up figure (drill-down).',
    )
    op.create_index('ix_tl_cost_line_site_wo', 'tl_cost_line', ['site', 'wo_number'], unique=False)
    op.create_table(
        'tl_cost_rollup',
        sa.Column('site', sa.String(length=64), nullable=False),
        sa.Column('wo_number', sa.String(length=64), nullable=False),
        sa.Column('wo_source_system', sa.String(length=64), nullable=False),
        sa.Column('wo_source_key', sa.String(length=255), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=True),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('labour_cost', sa.Float(), nullable=True),
        sa.Column('material_cost', sa.Float(), nullable=True),
        sa.Column('outside_cost', sa.Float(), nullable=True),
        sa.Column('committed_cost', sa.Float(), nullable=True),
        sa.Column('actual_cost', sa.Float(), nullable=True),
        sa.Column('estimate_cost', sa.Float(), nullable=True),
        sa.Column('variance', sa.Float(), nullable=True),
        sa.Column('variance_pct', sa.Float(), nullable=True),
        sa.Column('incomplete', sa.Boolean(), nullable=False),
        sa.Column('unconverted_lines', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('site', 'wo_number', 'wo_source_system', name=op.f('pk_tl_cost_rollup')),
        comment='Cost roll-up per work order in the reporting currency, as computed by the named run.',
    )
