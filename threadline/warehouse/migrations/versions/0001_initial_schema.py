"""Initial schema: canonical tables generated from mappings/canonical.py and the operational tables.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 05:22:22.129795
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0001'
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('asset',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('asset_id', sa.Text(), nullable=True),
    sa.Column('site', sa.Text(), nullable=True),
    sa.Column('parent_asset_id', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('cost_centre', sa.Text(), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_asset')),
    comment='A piece of equipment in the maintenance hierarchy.'
    )
    op.create_table('fx_rate',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('from_currency', sa.Text(), nullable=True),
    sa.Column('to_currency', sa.Text(), nullable=True),
    sa.Column('effective_date', sa.Date(), nullable=True),
    sa.Column('rate', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_fx_rate')),
    comment='Exchange rate effective from a date: 1 unit of from_currency = rate units of to_currency.'
    )
    op.create_table('invoice_line',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('invoice_number', sa.Text(), nullable=True),
    sa.Column('invoice_line', sa.Text(), nullable=True),
    sa.Column('po_number', sa.Text(), nullable=True),
    sa.Column('line_number', sa.Text(), nullable=True),
    sa.Column('site', sa.Text(), nullable=True),
    sa.Column('qty', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('amount', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('currency', sa.Text(), nullable=True),
    sa.Column('invoice_date', sa.Date(), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_invoice_line')),
    comment='A supplier invoice line matched to a PO line.'
    )
    with op.batch_alter_table('invoice_line', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_line_site_po_number_line_number', ['site', 'po_number', 'line_number'], unique=False)

    op.create_table('item',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('item_number', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('uom', sa.Text(), nullable=True),
    sa.Column('lot_controlled', sa.Boolean(), nullable=True),
    sa.Column('serial_controlled', sa.Boolean(), nullable=True),
    sa.Column('standard_cost', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('currency', sa.Text(), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_item')),
    comment='A part, material or service item.'
    )
    op.create_table('labour_entry',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('entry_id', sa.Text(), nullable=True),
    sa.Column('wo_number', sa.Text(), nullable=True),
    sa.Column('op_seq', sa.Text(), nullable=True),
    sa.Column('site', sa.Text(), nullable=True),
    sa.Column('person', sa.Text(), nullable=True),
    sa.Column('craft', sa.Text(), nullable=True),
    sa.Column('hours', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('rate', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('currency', sa.Text(), nullable=True),
    sa.Column('entry_date', sa.Date(), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_labour_entry')),
    comment='Hours booked against a work order (operation).'
    )
    with op.batch_alter_table('labour_entry', schema=None) as batch_op:
        batch_op.create_index('ix_labour_entry_site_wo_number', ['site', 'wo_number'], unique=False)

    op.create_table('material_issue',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('issue_id', sa.Text(), nullable=True),
    sa.Column('wo_number', sa.Text(), nullable=True),
    sa.Column('op_seq', sa.Text(), nullable=True),
    sa.Column('site', sa.Text(), nullable=True),
    sa.Column('item_number', sa.Text(), nullable=True),
    sa.Column('qty', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('uom', sa.Text(), nullable=True),
    sa.Column('unit_cost', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('currency', sa.Text(), nullable=True),
    sa.Column('issue_date', sa.Date(), nullable=True),
    sa.Column('lot', sa.Text(), nullable=True),
    sa.Column('serial', sa.Text(), nullable=True),
    sa.Column('po_ref', sa.Text(), nullable=True),
    sa.Column('po_line_ref', sa.Text(), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_material_issue')),
    comment='Material issued to a work order (operation).'
    )
    with op.batch_alter_table('material_issue', schema=None) as batch_op:
        batch_op.create_index('ix_material_issue_site_wo_number', ['site', 'wo_number'], unique=False)

    op.create_table('po_line',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('po_number', sa.Text(), nullable=True),
    sa.Column('line_number', sa.Text(), nullable=True),
    sa.Column('release', sa.Text(), nullable=True),
    sa.Column('site', sa.Text(), nullable=True),
    sa.Column('item_number', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('is_service', sa.Boolean(), nullable=True),
    sa.Column('qty_ordered', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('qty_received', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('uom', sa.Text(), nullable=True),
    sa.Column('unit_price', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('currency', sa.Text(), nullable=True, comment="line currency; empty means the header's"),
    sa.Column('need_by_date', sa.Date(), nullable=True),
    sa.Column('wo_ref', sa.Text(), nullable=True, comment='work order number the PO line names, normalized'),
    sa.Column('op_ref', sa.Text(), nullable=True, comment='operation sequence the PO line names, normalized'),
    sa.Column('process', sa.Text(), nullable=True),
    sa.Column('cost_account', sa.Text(), nullable=True),
    sa.Column('supplier_id', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('source_status', sa.Text(), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_po_line')),
    comment='A purchase order line (and release).'
    )
    with op.batch_alter_table('po_line', schema=None) as batch_op:
        batch_op.create_index('ix_po_line_site_po_number_line_number', ['site', 'po_number', 'line_number'], unique=False)
        batch_op.create_index('ix_po_line_site_wo_ref', ['site', 'wo_ref'], unique=False)

    op.create_table('purchase_order',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('po_number', sa.Text(), nullable=True),
    sa.Column('po_type', sa.Text(), nullable=True),
    sa.Column('supplier_id', sa.Text(), nullable=True),
    sa.Column('site', sa.Text(), nullable=True),
    sa.Column('currency', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('source_status', sa.Text(), nullable=True),
    sa.Column('order_date', sa.Date(), nullable=True),
    sa.Column('approved', sa.Boolean(), nullable=True),
    sa.Column('buyer', sa.Text(), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_purchase_order')),
    comment='A purchase order header.'
    )
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.create_index('ix_purchase_order_site_po_number', ['site', 'po_number'], unique=False)

    op.create_table('receipt',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('receipt_id', sa.Text(), nullable=True),
    sa.Column('po_number', sa.Text(), nullable=True),
    sa.Column('line_number', sa.Text(), nullable=True),
    sa.Column('site', sa.Text(), nullable=True),
    sa.Column('qty', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('uom', sa.Text(), nullable=True),
    sa.Column('receipt_date', sa.Date(), nullable=True),
    sa.Column('lot', sa.Text(), nullable=True),
    sa.Column('serial', sa.Text(), nullable=True),
    sa.Column('inspection_result', sa.Text(), nullable=True),
    sa.Column('certificate_ref', sa.Text(), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_receipt')),
    comment='A goods or service receipt against a PO line.'
    )
    with op.batch_alter_table('receipt', schema=None) as batch_op:
        batch_op.create_index('ix_receipt_site_po_number_line_number', ['site', 'po_number', 'line_number'], unique=False)

    op.create_table('supplier',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('supplier_id', sa.Text(), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('site', sa.Text(), nullable=True),
    sa.Column('approved_processes', sa.Text(), nullable=True, comment='comma-separated canonical processes the supplier is approved for'),
    sa.Column('certificate_required', sa.Boolean(), nullable=True),
    sa.Column('source_status', sa.Text(), nullable=True, comment='the status code as the source says it'),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_supplier')),
    comment='A supplier as one source system knows it.'
    )
    op.create_table('tl_bookmark',
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('stream', sa.String(length=128), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source', 'stream', name=op.f('pk_tl_bookmark')),
    comment='Where the next incremental read starts; moves only with a committed load.'
    )
    op.create_table('tl_cost_line',
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
    comment='The source lines behind each roll-up figure (drill-down).'
    )
    with op.batch_alter_table('tl_cost_line', schema=None) as batch_op:
        batch_op.create_index('ix_tl_cost_line_site_wo', ['site', 'wo_number'], unique=False)

    op.create_table('tl_cost_rollup',
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
    comment='Cost roll-up per work order in the reporting currency, as computed by the named run.'
    )
    op.create_table('tl_exception',
    sa.Column('exception_id', sa.String(length=24), nullable=False),
    sa.Column('rule_id', sa.String(length=16), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=True),
    sa.Column('subject_entity', sa.String(length=64), nullable=False),
    sa.Column('subject_source_system', sa.String(length=64), nullable=False),
    sa.Column('subject_source_key', sa.String(length=255), nullable=False),
    sa.Column('wo_number', sa.String(length=64), nullable=True),
    sa.Column('op_seq', sa.String(length=32), nullable=True),
    sa.Column('po_number', sa.String(length=64), nullable=True),
    sa.Column('line_number', sa.String(length=32), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('evidence_hash', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('resolution', sa.String(length=32), nullable=True),
    sa.Column('assignee', sa.String(length=128), nullable=True),
    sa.Column('first_seen_run', sa.String(length=40), nullable=False),
    sa.Column('last_seen_run', sa.String(length=40), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('exception_id', name=op.f('pk_tl_exception')),
    comment='Reconciliation exceptions; the id is a hash of rule and subject, stable across runs.'
    )
    with op.batch_alter_table('tl_exception', schema=None) as batch_op:
        batch_op.create_index('ix_tl_exception_rule_status', ['rule_id', 'status'], unique=False)
        batch_op.create_index('ix_tl_exception_site_status', ['site', 'status'], unique=False)

    op.create_table('tl_exception_event',
    sa.Column('event_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('exception_id', sa.String(length=24), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_tl_exception_event')),
    comment='Append-only history of every exception status change.'
    )
    with op.batch_alter_table('tl_exception_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tl_exception_event_exception_id'), ['exception_id'], unique=False)

    op.create_table('tl_landed_batch',
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('stream', sa.String(length=128), nullable=False),
    sa.Column('batch_no', sa.Integer(), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('payload_hash', sa.String(length=64), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'source', 'stream', 'batch_no', name=op.f('pk_tl_landed_batch')),
    comment='Raw batches as the source sent them (Parquet files under landing_dir).'
    )
    op.create_table('tl_quarantine',
    sa.Column('quarantine_id', sa.String(length=24), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('stream', sa.String(length=128), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=True),
    sa.Column('field', sa.String(length=64), nullable=True),
    sa.Column('source_column', sa.String(length=255), nullable=True),
    sa.Column('raw_value', sa.Text(), nullable=True),
    sa.Column('check_name', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('record', sa.Text(), nullable=True),
    sa.Column('first_run_id', sa.String(length=40), nullable=False),
    sa.Column('last_run_id', sa.String(length=40), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('times_seen', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('quarantine_id', name=op.f('pk_tl_quarantine')),
    comment='Rows that could not be mapped or failed a check, with the reason; never loaded.'
    )
    with op.batch_alter_table('tl_quarantine', schema=None) as batch_op:
        batch_op.create_index('ix_tl_quarantine_source_stream', ['source', 'stream'], unique=False)

    op.create_table('tl_run',
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('command', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('config_path', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_tl_run')),
    comment='One row per pipeline run.'
    )
    op.create_table('tl_run_stream',
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('stream', sa.String(length=128), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('batches', sa.Integer(), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('rows_landed', sa.Integer(), nullable=False),
    sa.Column('rows_mapped', sa.Integer(), nullable=False),
    sa.Column('rows_quarantined', sa.Integer(), nullable=False),
    sa.Column('rows_loaded', sa.Integer(), nullable=False),
    sa.Column('control_sums', sa.Text(), nullable=True),
    sa.Column('bookmark_before', sa.Text(), nullable=True),
    sa.Column('bookmark_after', sa.Text(), nullable=True),
    sa.Column('seconds_extract', sa.Float(), nullable=False),
    sa.Column('seconds_map', sa.Float(), nullable=False),
    sa.Column('seconds_validate', sa.Float(), nullable=False),
    sa.Column('seconds_load', sa.Float(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('run_id', 'source', 'stream', name=op.f('pk_tl_run_stream')),
    comment='Row counts, control sums and timings per run, source and stream.'
    )
    op.create_table('uom_conversion',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('item_number', sa.Text(), nullable=True),
    sa.Column('from_uom', sa.Text(), nullable=True),
    sa.Column('to_uom', sa.Text(), nullable=True),
    sa.Column('factor', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_uom_conversion')),
    comment='Unit-of-measure conversion: 1 from_uom = factor to_uom (item-specific when item_number is set).'
    )
    op.create_table('wo_operation',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('wo_number', sa.Text(), nullable=True),
    sa.Column('op_seq', sa.Text(), nullable=True),
    sa.Column('site', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('work_centre', sa.Text(), nullable=True),
    sa.Column('is_outside_processing', sa.Boolean(), nullable=True),
    sa.Column('process', sa.Text(), nullable=True),
    sa.Column('expected_supplier', sa.Text(), nullable=True),
    sa.Column('qty', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('source_status', sa.Text(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('finish_date', sa.Date(), nullable=True),
    sa.Column('inspection_required', sa.Boolean(), nullable=True),
    sa.Column('inspection_signed_off', sa.Boolean(), nullable=True),
    sa.Column('inspector', sa.Text(), nullable=True),
    sa.Column('po_ref', sa.Text(), nullable=True, comment='PO number the operation names, normalized'),
    sa.Column('po_line_ref', sa.Text(), nullable=True, comment='PO line the operation names, normalized'),
    sa.Column('lot', sa.Text(), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_wo_operation')),
    comment='An operation (routing step or task) of a work order.'
    )
    with op.batch_alter_table('wo_operation', schema=None) as batch_op:
        batch_op.create_index('ix_wo_operation_site_wo_number_op_seq', ['site', 'wo_number', 'op_seq'], unique=False)

    op.create_table('wo_po_link',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('wo_number', sa.Text(), nullable=True),
    sa.Column('op_seq', sa.Text(), nullable=True),
    sa.Column('po_number', sa.Text(), nullable=True),
    sa.Column('line_number', sa.Text(), nullable=True),
    sa.Column('site', sa.Text(), nullable=True),
    sa.Column('asserted_by', sa.Text(), nullable=True, comment='source system or person that asserted the link'),
    sa.Column('evidence', sa.Text(), nullable=True, comment='where the assertion was found, e.g. POLINE.REFWO'),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('score', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_wo_po_link')),
    comment='A link between a work order (operation) and a PO line, with who asserted it.'
    )
    with op.batch_alter_table('wo_po_link', schema=None) as batch_op:
        batch_op.create_index('ix_wo_po_link_site_wo_number', ['site', 'wo_number'], unique=False)

    op.create_table('work_order',
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_key', sa.String(length=255), nullable=False),
    sa.Column('wo_number', sa.Text(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=True),
    sa.Column('site', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('source_status', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('asset_id', sa.Text(), nullable=True),
    sa.Column('item_number', sa.Text(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=True),
    sa.Column('created_date', sa.Date(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('finish_date', sa.Date(), nullable=True),
    sa.Column('closed_date', sa.Date(), nullable=True),
    sa.Column('qty', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('lot', sa.Text(), nullable=True),
    sa.Column('serial', sa.Text(), nullable=True),
    sa.Column('estimate_labour', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('estimate_material', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('estimate_outside', sa.Numeric(precision=20, scale=6, asdecimal=False), nullable=True),
    sa.Column('currency', sa.Text(), nullable=True),
    sa.Column('cost_centre', sa.Text(), nullable=True),
    sa.Column('po_ref', sa.Text(), nullable=True, comment='PO number the WO names (e.g. Maximo GENERATEDFORPO), normalized'),
    sa.Column('po_line_ref', sa.Text(), nullable=True, comment='PO line the WO names (e.g. Maximo GENFORPOLINEID), normalized'),
    sa.Column('inspection_required', sa.Boolean(), nullable=True),
    sa.Column('inspection_signed_off', sa.Boolean(), nullable=True),
    sa.Column('run_id', sa.String(length=40), nullable=False),
    sa.Column('extracted_at', sa.DateTime(), nullable=False),
    sa.Column('record_hash', sa.String(length=16), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_system', 'source_key', name=op.f('pk_work_order')),
    comment='A maintenance (CMMS) or production (MES) work order.'
    )
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.create_index('ix_work_order_site_wo_number', ['site', 'wo_number'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_index('ix_work_order_site_wo_number')

    op.drop_table('work_order')
    with op.batch_alter_table('wo_po_link', schema=None) as batch_op:
        batch_op.drop_index('ix_wo_po_link_site_wo_number')

    op.drop_table('wo_po_link')
    with op.batch_alter_table('wo_operation', schema=None) as batch_op:
        batch_op.drop_index('ix_wo_operation_site_wo_number_op_seq')

    op.drop_table('wo_operation')
    op.drop_table('uom_conversion')
    op.drop_table('tl_run_stream')
    op.drop_table('tl_run')
    with op.batch_alter_table('tl_quarantine', schema=None) as batch_op:
        batch_op.drop_index('ix_tl_quarantine_source_stream')

    op.drop_table('tl_quarantine')
    op.drop_table('tl_landed_batch')
    with op.batch_alter_table('tl_exception_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tl_exception_event_exception_id'))

    op.drop_table('tl_exception_event')
    with op.batch_alter_table('tl_exception', schema=None) as batch_op:
        batch_op.drop_index('ix_tl_exception_site_status')
        batch_op.drop_index('ix_tl_exception_rule_status')

    op.drop_table('tl_exception')
    op.drop_table('tl_cost_rollup')
    with op.batch_alter_table('tl_cost_line', schema=None) as batch_op:
        batch_op.drop_index('ix_tl_cost_line_site_wo')

    op.drop_table('tl_cost_line')
    op.drop_table('tl_bookmark')
    op.drop_table('supplier')
    with op.batch_alter_table('receipt', schema=None) as batch_op:
        batch_op.drop_index('ix_receipt_site_po_number_line_number')

    op.drop_table('receipt')
    with op.batch_alter_table('purchase_order', schema=None) as batch_op:
        batch_op.drop_index('ix_purchase_order_site_po_number')

    op.drop_table('purchase_order')
    with op.batch_alter_table('po_line', schema=None) as batch_op:
        batch_op.drop_index('ix_po_line_site_wo_ref')
        batch_op.drop_index('ix_po_line_site_po_number_line_number')

    op.drop_table('po_line')
    with op.batch_alter_table('material_issue', schema=None) as batch_op:
        batch_op.drop_index('ix_material_issue_site_wo_number')

    op.drop_table('material_issue')
    with op.batch_alter_table('labour_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_labour_entry_site_wo_number')

    op.drop_table('labour_entry')
    op.drop_table('item')
    with op.batch_alter_table('invoice_line', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_line_site_po_number_line_number')

    op.drop_table('invoice_line')
    op.drop_table('fx_rate')
    op.drop_table('asset')
