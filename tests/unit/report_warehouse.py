"""A small SQLite warehouse holding canonical rows, a reconcile run's exceptions and its cost roll-up."""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd

from reconciliation.catalogue import CATALOGUE
from reconciliation.engine import ReconcileSettings, reconcile
from threadline.publish import publish_exceptions, publish_rollup
from threadline.warehouse import schema
from threadline.warehouse.store import Warehouse, open_warehouse, upsert

AS_OF = datetime.date(2024, 6, 30)
EXTRACTED_AT = datetime.datetime(2024, 6, 30, 6, 0)


def load_canonical(warehouse: Warehouse, frames: dict[str, pd.DataFrame], run_id: str) -> None:
    """Upsert canonical frames as a sync of ``run_id`` would, with lineage."""
    with warehouse.engine.begin() as conn:
        for entity, frame in frames.items():
            if frame.empty:
                continue
            rows = frame.copy()
            rows["run_id"] = run_id
            rows["extracted_at"] = EXTRACTED_AT
            rows["record_hash"] = [f"h{n:015d}" for n in range(len(rows))]
            rows["loaded_at"] = EXTRACTED_AT
            table = schema.CANONICAL_TABLES[entity]
            upsert(conn, table, rows[[c.name for c in table.columns if c.name in rows.columns]])


def reconciled_warehouse(path: Path | str, frames: dict[str, pd.DataFrame], *, run_id: str = "R1",
                         reporting_currency: str = "EUR") -> Warehouse:
    """A warehouse with ``frames`` loaded, reconciled and published as run ``run_id``: a SQLite file at
    ``path``, or the database of a SQLAlchemy URL."""
    warehouse = open_warehouse(path if isinstance(path, str) else f"sqlite:///{path}")
    load_canonical(warehouse, frames, run_id)
    result = reconcile(frames, ReconcileSettings(as_of=AS_OF, reporting_currency=reporting_currency))
    warehouse.start_run(run_id, "run", None)
    publish_exceptions(warehouse, result.findings, run_id=run_id, rules_run=set(CATALOGUE))
    publish_rollup(warehouse, result.rollup, result.cost_lines, result.drilldown, run_id=run_id, as_of=AS_OF)
    warehouse.finish_run(run_id, "succeeded", summary={})
    return warehouse
