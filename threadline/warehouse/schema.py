"""Warehouse tables: canonical tables generated from the canonical model, plus the operational
tables (run log, bookmarks, landed batches, quarantine, exceptions, cost roll-up).

The schema is managed by Alembic (``threadline db upgrade``); a test checks that the migrations
produce exactly this metadata, so a field added to the model needs a migration.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, Date, DateTime, Float, Index, Integer, MetaData, Numeric, String, Table, Text, false,
)

from mappings.canonical import ENTITIES, Entity

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
})

_COLUMN_TYPES = {
    "text": Text,
    "int": Integer,
    "decimal": lambda: Numeric(20, 6, asdecimal=False),
    "date": Date,
    "datetime": DateTime,
    "bool": Boolean,
}

#: canonical columns worth an index for the reconciliation joins and the steward's filters
_INDEXED = {
    "po_line": [("site", "po_number", "line_number"), ("site", "wo_ref")],
    "purchase_order": [("site", "po_number")],
    "receipt": [("site", "po_number", "line_number")],
    "invoice_line": [("site", "po_number", "line_number")],
    "work_order": [("site", "wo_number")],
    "wo_operation": [("site", "wo_number", "op_seq")],
    "material_issue": [("site", "wo_number")],
    "labour_entry": [("site", "wo_number")],
    "wo_po_link": [("site", "wo_number")],
}


def _canonical_table(entity: Entity) -> Table:
    columns = [
        Column("source_system", String(64), primary_key=True),
        Column("source_key", String(255), primary_key=True),
    ]
    for f in entity.fields:
        columns.append(Column(f.name, _COLUMN_TYPES[f.type](), nullable=True, comment=f.description or None))
    columns += [
        Column("run_id", String(40), nullable=False),
        Column("extracted_at", DateTime, nullable=False),
        Column("record_hash", String(16), nullable=False),
        Column("loaded_at", DateTime, nullable=False),
        # set when a full refresh no longer finds the row in its source; cleared if it comes back
        Column("deleted_at", DateTime),
        Column("deleted_run_id", String(40)),
    ]
    table = Table(entity.name, metadata, *columns, comment=entity.description)
    for cols in _INDEXED.get(entity.name, []):
        Index(f"ix_{entity.name}_{'_'.join(cols)}", *(table.c[c] for c in cols))
    return table


CANONICAL_TABLES: dict[str, Table] = {name: _canonical_table(e) for name, e in ENTITIES.items()}

run = Table(
    "tl_run", metadata,
    Column("run_id", String(40), primary_key=True),
    Column("command", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # running, succeeded, failed
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("config_path", Text),
    Column("error", Text),
    Column("summary", Text),  # JSON
    comment="One row per pipeline run.",
)

run_stream = Table(
    "tl_run_stream", metadata,
    Column("run_id", String(40), primary_key=True),
    Column("source", String(64), primary_key=True),
    Column("stream", String(128), primary_key=True),
    Column("entity", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("batches", Integer, nullable=False, default=0),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("rows_landed", Integer, nullable=False, default=0),
    Column("rows_mapped", Integer, nullable=False, default=0),
    Column("rows_quarantined", Integer, nullable=False, default=0),
    Column("rows_loaded", Integer, nullable=False, default=0),
    Column("control_sums", Text),  # JSON: sums of amounts and quantities per stage
    Column("bookmark_before", Text),
    Column("bookmark_after", Text),
    Column("seconds_extract", Float, nullable=False, default=0.0),
    Column("seconds_map", Float, nullable=False, default=0.0),
    Column("seconds_validate", Float, nullable=False, default=0.0),
    Column("seconds_load", Float, nullable=False, default=0.0),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("error", Text),
    Column("rows_deleted", Integer),  # soft-deleted by a full refresh; NULL when deletes were not checked
    Column("resumes", Integer, nullable=False, default=0, server_default="0"),  # restarts from the committed bookmark
    Column("notes", Text),
    # records the mapping spec's `where` filter left out: landed = loaded + quarantined + skipped
    Column("rows_skipped", Integer, nullable=False, default=0, server_default="0"),
    comment="Row counts, control sums and timings per run, source and stream.",
)

key_seen = Table(
    "tl_key_seen", metadata,
    Column("run_id", String(40), primary_key=True),
    Column("source", String(64), primary_key=True),
    Column("entity", String(64), primary_key=True),
    Column("source_key", String(255), primary_key=True),
    comment="Keys a full refresh has read so far; rows of the source missing here are soft-deleted.",
)

bookmark = Table(
    "tl_bookmark", metadata,
    Column("source", String(64), primary_key=True),
    Column("stream", String(128), primary_key=True),
    Column("value", Text, nullable=False),  # JSON object: bookmark column -> last committed value
    Column("run_id", String(40), nullable=False),
    Column("updated_at", DateTime, nullable=False),
    comment="Where the next incremental read starts; moves only with a committed load.",
)

landed_batch = Table(
    "tl_landed_batch", metadata,
    Column("run_id", String(40), primary_key=True),
    Column("source", String(64), primary_key=True),
    Column("stream", String(128), primary_key=True),
    Column("batch_no", Integer, primary_key=True),
    Column("extracted_at", DateTime, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("path", Text, nullable=False),
    comment="Raw batches as the source sent them (Parquet files under landing_dir).",
)

quarantine = Table(
    "tl_quarantine", metadata,
    Column("quarantine_id", String(24), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("stream", String(128), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("source_key", String(255)),
    Column("field", String(64)),
    Column("source_column", String(255)),
    Column("raw_value", Text),
    Column("check_name", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("record", Text),
    Column("first_run_id", String(40), nullable=False),
    Column("last_run_id", String(40), nullable=False),
    Column("first_seen_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("times_seen", Integer, nullable=False, default=1),
    Index("ix_tl_quarantine_source_stream", "source", "stream"),
    comment="Rows that could not be mapped or failed a check, with the reason; never loaded.",
)

exception = Table(
    "tl_exception", metadata,
    Column("exception_id", String(24), primary_key=True),
    Column("rule_id", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("site", String(64)),
    Column("subject_entity", String(64), nullable=False),
    Column("subject_source_system", String(64), nullable=False),
    Column("subject_source_key", String(255), nullable=False),
    Column("wo_number", String(64)),
    Column("op_seq", String(32)),
    Column("po_number", String(64)),
    Column("line_number", String(32)),
    Column("summary", Text, nullable=False),
    Column("evidence", Text),
    Column("evidence_hash", String(16)),
    Column("status", String(16), nullable=False),  # open, acknowledged, resolved, waived
    Column("resolution", String(32)),  # cleared_by_data or a steward's code (threadline.exceptions)
    Column("assignee", String(128)),
    Column("first_seen_run", String(40), nullable=False),
    Column("last_seen_run", String(40), nullable=False),
    Column("first_seen_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("status_changed_at", DateTime, nullable=False),
    Column("resolution_note", Text),  # the steward's words next to the resolution code
    Column("waiver_justification", Text),
    Column("waiver_until", Date),  # the last day the waiver holds; the first run after it reopens the exception
    Index("ix_tl_exception_rule_status", "rule_id", "status"),
    Index("ix_tl_exception_site_status", "site", "status"),
    Index("ix_tl_exception_assignee_status", "assignee", "status"),
    # the steward queue's default order (oldest first, the id breaking ties) read from the index alone,
    # the status filtered on the way: a deep page skips index entries, not rows
    Index("ix_tl_exception_first_seen_at_exception_id_status", "first_seen_at", "exception_id", "status"),
    comment="Reconciliation exceptions; the id is a hash of rule and subject, stable across runs.",
)

exception_event = Table(
    "tl_exception_event", metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("exception_id", String(24), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("reason", Text),
    Column("run_id", String(40)),
    # what a steward did (ack, assign, comment, resolve, waive, reopen); NULL for a run's changes
    Column("action", String(16)),
    comment="Append-only history of every exception status change.",
)

link_event = Table(
    "tl_link_event", metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("link_id", String(24), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    # suggested, withdrawn (a run); confirm, reject (a steward)
    Column("action", String(16), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16)),
    Column("reason", Text),
    Column("site", Text),
    Column("wo_number", Text),
    Column("op_seq", Text),
    Column("po_number", Text),
    Column("line_number", Text),
    Column("score", Float),
    # hash of the factor evidence the decision was taken on: a rejection holds while it is unchanged
    Column("fingerprint", String(16)),
    Column("run_id", String(40)),
    comment="Append-only history of suggested links and the stewards' decisions on them (who, when, why).",
)

#: the roll-up's key and descriptive columns (a grain fills its own keys; the rest stay NULL)
_ROLLUP_KEY_COLUMNS = (
    ("site", String(64)), ("wo_number", String(64)), ("op_seq", String(32)), ("asset_id", String(64)),
    ("parent_asset_id", String(64)), ("item_number", String(64)), ("cost_centre", String(64)),
    ("supplier_id", String(64)), ("month", String(7)), ("wo_source_system", String(64)),
    ("wo_source_key", String(255)), ("kind", String(16)), ("status", String(16)),
)

cost_rollup = Table(
    "tl_cost_rollup", metadata,
    Column("rollup_row_id", String(64), primary_key=True),  # "<run id>.<n>": unique across runs
    Column("run_id", String(40), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("computed_at", DateTime, nullable=False),
    # the latest run's rows; earlier runs' rows stay as history with is_current false
    Column("is_current", Boolean, nullable=False),
    Column("grain", String(16), nullable=False),  # operation, wo, asset, item, site, cost_centre, supplier, month
    # the grain and its keys as one text, the same in every run: finds a row's earlier values
    Column("rollup_key", Text, nullable=False),
    *(Column(name, type_) for name, type_ in _ROLLUP_KEY_COLUMNS),
    Column("closed_date", Date),
    Column("currency", String(3), nullable=False),
    Column("labour_cost", Float), Column("material_cost", Float), Column("outside_cost", Float),
    Column("committed_cost", Float), Column("actual_cost", Float), Column("estimate_cost", Float),
    Column("variance", Float), Column("variance_pct", Float),
    Column("work_orders", Integer), Column("estimated_work_orders", Integer),
    Column("cost_lines", Integer, nullable=False),
    Column("incomplete", Boolean, nullable=False),
    Column("unconverted_lines", Integer, nullable=False),
    # the actual cost the previous run published for the same key; restated: a closed figure changed
    Column("previous_actual_cost", Float),
    Column("restated", Boolean, nullable=False),
    Index("ix_tl_cost_rollup_grain_is_current", "grain", "is_current"),
    Index("ix_tl_cost_rollup_rollup_key", "rollup_key"),
    Index("ix_tl_cost_rollup_run_id", "run_id"),
    comment="Cost roll-up per operation, work order, asset (with its children), item, site, cost centre, "
            "supplier and month in the reporting currency; every run's rows are kept, the latest flagged current.",
)

cost_line = Table(
    "tl_cost_line", metadata,
    Column("line_id", String(64), primary_key=True),  # "<run id>.<n>"
    Column("run_id", String(40), nullable=False),
    Column("site", String(64), nullable=False),
    Column("wo_number", String(64), nullable=False),
    Column("op_seq", String(32)),
    Column("cost_type", String(16), nullable=False),
    Column("entity", String(64), nullable=False),
    Column("source_system", String(64), nullable=False),
    Column("source_key", String(255), nullable=False),
    Column("line_date", Date),
    Column("amount_source", Float),
    Column("currency_source", String(3)),
    Column("fx_rate", Float),
    Column("amount", Float),
    Column("converted", Boolean, nullable=False),
    Column("problem", Text),
    Column("supplier_id", String(64)),
    Index("ix_tl_cost_line_run_id_site_wo_number", "run_id", "site", "wo_number"),
    comment="The source lines behind the roll-up of each run, converted to the reporting currency.",
)

cost_drilldown = Table(
    "tl_cost_drilldown", metadata,
    Column("rollup_row_id", String(64), primary_key=True),
    Column("line_id", String(64), primary_key=True),
    Index("ix_tl_cost_drilldown_line_id", "line_id"),
    comment="Drill-down: the cost lines (tl_cost_line) behind each roll-up row (tl_cost_rollup).",
)

inbox_file = Table(
    "tl_inbox_file", metadata,
    Column("source", String(64), primary_key=True),
    Column("run_id", String(40), primary_key=True),
    Column("file_name", String(255), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # processed, rejected, duplicate
    Column("reason", Text),
    Column("recorded_at", DateTime, nullable=False),
    Index("ix_tl_inbox_file_source_sha256", "source", "sha256"),
    comment="Files of inbox sources (CSV/XLSX drops, B2MML): loaded once by content hash, or rejected.",
)

user = Table(
    "tl_user", metadata,
    Column("user_name", String(128), primary_key=True),
    Column("role", String(16), nullable=False),  # viewer, steward, auditor, admin (threadline.web.users)
    Column("password_hash", Text, nullable=False),  # argon2id, salted; never the password
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("last_login_at", DateTime),
    Column("disabled", Boolean, nullable=False, default=False, server_default=false()),
    comment="Users of the steward web app with their role and password hash.",
)
