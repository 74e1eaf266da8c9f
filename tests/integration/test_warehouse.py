"""Warehouse on SQLite and PostgreSQL: migrations equal the model, upserts are idempotent, bookmarks
move only with a load, exceptions keep their lifecycle."""

import json
from datetime import datetime

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from threadline.publish import publish_exceptions
from threadline.warehouse import schema
from threadline.warehouse.store import open_warehouse


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def warehouse(request, tmp_path):
    """A migrated warehouse on the embedded default and on a real PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    else:
        url = request.getfixturevalue("pg_database").url.render_as_string(hide_password=False)
    w = open_warehouse(url)
    yield w
    w.dispose()


def test_migrations_build_exactly_the_schema_of_the_model(warehouse):
    with warehouse.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []


def fx_rows(rate=1.1):
    return pd.DataFrame({
        "source_system": ["jde", "jde"], "source_key": ["EUR|USD|1", "GBP|USD|1"],
        "from_currency": ["EUR", "GBP"], "to_currency": ["USD", "USD"],
        "effective_date": pd.to_datetime(["2026-01-01", "2026-01-01"]), "rate": [rate, 1.3],
        "run_id": ["R1", "R1"], "extracted_at": [datetime(2026, 1, 2)] * 2, "record_hash": [f"{rate}", "b"],
    })


def test_upsert_is_idempotent_and_keeps_the_lineage_of_unchanged_rows(warehouse):
    empty = pd.DataFrame(columns=["source_key", "field", "check", "record", "column", "raw_value", "reason"])
    for run_id in ("R1", "R2"):
        warehouse.load_batch(entity="fx_rate", rows=fx_rows().assign(run_id=run_id), quarantined=empty,
                             source="jde", stream="fx", run_id=run_id, bookmark={"CXEFT": 126001})
    table = warehouse.read_entity("fx_rate")
    assert len(table) == 2 and set(table["run_id"]) == {"R1"}
    warehouse.load_batch(entity="fx_rate", rows=fx_rows(rate=1.2).assign(run_id="R3"), quarantined=empty,
                         source="jde", stream="fx", run_id="R3", bookmark={"CXEFT": 126002})
    table = warehouse.read_entity("fx_rate").set_index("source_key")
    assert table.loc["EUR|USD|1", "rate"] == 1.2 and table.loc["EUR|USD|1", "run_id"] == "R3"
    assert table.loc["GBP|USD|1", "run_id"] == "R1"
    assert warehouse.get_bookmark("jde", "fx") == {"CXEFT": 126002}


def test_the_bookmark_does_not_move_when_the_load_fails(warehouse):
    empty = pd.DataFrame(columns=["source_key", "field", "check", "record", "column", "raw_value", "reason"])
    warehouse.load_batch(entity="fx_rate", rows=fx_rows(), quarantined=empty, source="jde", stream="fx",
                         run_id="R1", bookmark={"CXEFT": 126001})
    broken = fx_rows(rate=2.0).assign(run_id=None)  # run_id is NOT NULL: the insert fails mid-transaction
    with pytest.raises(Exception):
        warehouse.load_batch(entity="fx_rate", rows=broken, quarantined=empty, source="jde", stream="fx",
                             run_id="R2", bookmark={"CXEFT": 126999})
    assert warehouse.get_bookmark("jde", "fx") == {"CXEFT": 126001}
    assert set(warehouse.read_entity("fx_rate")["rate"]) == {1.1, 1.3}


def test_a_full_refresh_soft_deletes_unread_rows_and_an_unchanged_row_read_again_is_live(warehouse):
    empty = pd.DataFrame(columns=["source_key", "field", "check", "record", "column", "raw_value", "reason"])
    warehouse.load_batch(entity="fx_rate", rows=fx_rows(), quarantined=empty, source="jde", stream="fx",
                         run_id="R1", bookmark=None)
    only_eur = fx_rows().iloc[:1].assign(run_id="R2")
    for _ in range(2):  # a key read twice in one refresh is recorded once (a key-only upsert)
        warehouse.load_batch(entity="fx_rate", rows=only_eur, quarantined=empty, source="jde", stream="fx",
                             run_id="R2", bookmark=None, track_keys=True)
    assert warehouse.count(schema.key_seen) == 1
    assert warehouse.soft_delete_unseen(source="jde", entity="fx_rate", run_id="R2", max_fraction=0.5) == (1, 2)
    warehouse.forget_seen_keys("R2")
    assert list(warehouse.read_entity("fx_rate")["source_key"]) == ["EUR|USD|1"]
    gone = warehouse.read_entity("fx_rate", include_deleted=True).set_index("source_key").loc["GBP|USD|1"]
    assert gone["deleted_run_id"] == "R2" and pd.notna(gone["deleted_at"])

    warehouse.load_batch(entity="fx_rate", rows=fx_rows().assign(run_id="R3"), quarantined=empty, source="jde",
                         stream="fx", run_id="R3", bookmark=None)
    back = warehouse.read_entity("fx_rate", include_deleted=True).set_index("source_key")
    assert back["deleted_at"].isna().all() and back["deleted_run_id"].isna().all()
    assert back.loc["EUR|USD|1", "run_id"] == "R1", "an unchanged live row keeps its lineage"


def finding(exception_id, rule="LNK-001", evidence="{}"):
    return {"exception_id": exception_id, "rule_id": rule, "severity": "error", "site": "NORTH",
            "subject_entity": "po_line", "subject_source_system": "jde", "subject_source_key": exception_id,
            "wo_number": "1", "op_seq": None, "po_number": "4711", "line_number": "1",
            "summary": f"gap {exception_id}", "evidence": evidence}


def events(warehouse):
    return warehouse.read_table(schema.exception_event, order_by=schema.exception_event.c.event_id)


def test_exception_lifecycle_open_seen_cleared_and_reopened(warehouse):
    rules = {"LNK-001"}
    counts = publish_exceptions(warehouse, pd.DataFrame([finding("EX-a"), finding("EX-b")]), run_id="R1", rules_run=rules)
    assert counts["new"] == 2 and counts["open"] == 2
    # the same findings again change nothing but last_seen
    counts = publish_exceptions(warehouse, pd.DataFrame([finding("EX-a"), finding("EX-b")]), run_id="R2", rules_run=rules)
    assert counts["new"] == 0 and len(events(warehouse)) == 2
    table = warehouse.read_table(schema.exception).set_index("exception_id")
    assert table.loc["EX-a", "first_seen_run"] == "R1" and table.loc["EX-a", "last_seen_run"] == "R2"
    # EX-b disappears: cleared by data
    counts = publish_exceptions(warehouse, pd.DataFrame([finding("EX-a")]), run_id="R3", rules_run=rules)
    assert counts["cleared_by_data"] == 1
    table = warehouse.read_table(schema.exception).set_index("exception_id")
    assert (table.loc["EX-b", "status"], table.loc["EX-b", "resolution"]) == ("resolved", "cleared_by_data")
    # ... and comes back: reopened, with the whole story in the events
    counts = publish_exceptions(warehouse, pd.DataFrame([finding("EX-a"), finding("EX-b")]), run_id="R4", rules_run=rules)
    assert counts["reopened"] == 1
    story = events(warehouse)
    story_b = story[story["exception_id"] == "EX-b"]
    assert list(zip(story_b["from_status"].fillna("-"), story_b["to_status"])) == [
        ("-", "open"), ("open", "resolved"), ("resolved", "open")]


def test_exceptions_of_rules_that_did_not_run_are_not_cleared(warehouse):
    publish_exceptions(warehouse, pd.DataFrame([finding("EX-a")]), run_id="R1", rules_run={"LNK-001"})
    publish_exceptions(warehouse, pd.DataFrame([finding("EX-z", rule="TRC-001")]), run_id="R2", rules_run={"TRC-001"})
    table = warehouse.read_table(schema.exception).set_index("exception_id")
    assert table.loc["EX-a", "status"] == "open"


def test_a_waived_exception_reopens_when_its_evidence_changes(warehouse):
    publish_exceptions(warehouse, pd.DataFrame([finding("EX-a", evidence='{"qty": 1}')]), run_id="R1",
                       rules_run={"LNK-001"})
    with warehouse.engine.begin() as conn:
        conn.execute(schema.exception.update().values(status="waived"))
    publish_exceptions(warehouse, pd.DataFrame([finding("EX-a", evidence='{"qty": 1}')]), run_id="R2",
                       rules_run={"LNK-001"})
    assert warehouse.read_table(schema.exception)["status"].tolist() == ["waived"]
    publish_exceptions(warehouse, pd.DataFrame([finding("EX-a", evidence='{"qty": 2}')]), run_id="R3",
                       rules_run={"LNK-001"})
    assert warehouse.read_table(schema.exception)["status"].tolist() == ["open"]
    assert json.loads(warehouse.read_table(schema.exception)["evidence"][0]) == {"qty": 2}


def test_a_steward_acting_while_a_run_publishes_waits_and_is_refused_instead_of_being_overwritten(
        warehouse, monkeypatch):
    """The run reads EX-a as open and clears it by data; a steward acknowledges EX-a in between, from
    another connection. The acknowledgement must not land on the row the run then overwrites: it
    waits for the run's transaction and fails with "retry", and the history shows only the run's change."""
    import threading
    import time

    import threadline.publish as publish_module
    from threadline import exceptions as actions

    rules = {"LNK-001"}
    publish_exceptions(warehouse, pd.DataFrame([finding("EX-a"), finding("EX-b")]), run_id="R1", rules_run=rules)
    steward = open_warehouse(warehouse.engine.url.render_as_string(hide_password=False), migrate=False)
    outcome: dict = {}

    def steward_acks() -> None:
        try:
            actions.acknowledge(steward, ["EX-a"], actor="alice")
            outcome["error"] = None
        except Exception as exc:  # the test looks at what the action raised
            outcome["error"] = exc

    real_hash = publish_module._evidence_hash
    started = []

    def hash_while_a_steward_acts(evidence):
        # the run has read the exceptions inside its transaction; the steward acts now
        thread = threading.Thread(target=steward_acks)
        thread.start()
        started.append(thread)
        time.sleep(1.0)
        assert "error" not in outcome, "the steward's write went through while the run held the exceptions"
        return real_hash(evidence)

    monkeypatch.setattr(publish_module, "_evidence_hash", hash_while_a_steward_acts)
    publish_exceptions(warehouse, pd.DataFrame([finding("EX-b")]), run_id="R2", rules_run=rules)
    started[0].join(timeout=30)
    steward.dispose()

    assert isinstance(outcome["error"], actions.ConcurrentChangeError)
    current = warehouse.read_table(schema.exception).set_index("exception_id").loc["EX-a"]
    assert (current["status"], current["resolution"]) == ("resolved", "cleared_by_data")
    history = events(warehouse)
    assert list(history.loc[history["exception_id"] == "EX-a", "to_status"]) == ["open", "resolved"]


def test_the_cost_roll_up_keeps_every_runs_rows_and_flags_a_late_invoice_as_a_restatement(warehouse):
    from datetime import date

    from reconciliation.engine import ReconcileSettings, reconcile
    from reconciliation.frames import frame_from_rows
    from threadline.publish import publish_rollup

    def frames(with_late_invoice: bool) -> dict:
        tables = {
            "work_order": [{"source_system": "mes", "source_key": "WO-1", "wo_number": "1", "site": "NORTH",
                            "kind": "production", "status": "closed", "closed_date": "2024-05-31"}],
            "labour_entry": [{"source_system": "mes", "source_key": "L-1", "entry_id": "L-1", "wo_number": "1",
                              "site": "NORTH", "hours": 2, "rate": 50, "currency": "EUR", "entry_date": "2024-05-20"}],
            "po_line": [{"source_system": "erp", "source_key": "4711|1", "po_number": "4711", "line_number": "1",
                         "site": "NORTH", "status": "closed", "wo_ref": "1", "qty_ordered": 1, "unit_price": 400,
                         "currency": "EUR"}],
            "invoice_line": [{"source_system": "erp", "source_key": "INV-9|1", "invoice_number": "INV-9",
                              "invoice_line": "1", "po_number": "4711", "line_number": "1", "site": "NORTH",
                              "qty": 1, "amount": 400, "currency": "EUR", "invoice_date": "2024-06-10"}]
            if with_late_invoice else [],
        }
        return {name: frame_from_rows(name, rows) for name, rows in tables.items()}

    settings = ReconcileSettings(as_of=date(2024, 6, 30), reporting_currency="EUR")
    first = reconcile(frames(False), settings)
    counts = publish_rollup(warehouse, first.rollup, first.cost_lines, first.drilldown, run_id="R1", as_of=date(2024, 6, 5))
    assert counts["restated"] == 0
    second = reconcile(frames(True), settings)
    counts = publish_rollup(warehouse, second.rollup, second.cost_lines, second.drilldown, run_id="R2",
                            as_of=date(2024, 6, 30))
    rollup = warehouse.read_table(schema.cost_rollup)
    wo_rows = rollup[rollup["grain"] == "wo"].set_index("run_id")
    assert list(wo_rows.index) == ["R1", "R2"], "the first run's row is kept as history"
    assert not wo_rows.at["R1", "is_current"] and wo_rows.at["R2", "is_current"]
    assert wo_rows.at["R1", "actual_cost"] == 100 and wo_rows.at["R2", "actual_cost"] == 500
    assert wo_rows.at["R2", "previous_actual_cost"] == 100 and wo_rows.at["R2", "restated"]
    assert counts["restated"] >= 1
    # the late invoice is a finding too, and the R2 figure drills down to both lines
    assert "CST-004" in set(second.findings["rule_id"])
    pairs = warehouse.read_table(schema.cost_drilldown)
    lines = warehouse.read_table(schema.cost_line).set_index("line_id")
    behind = lines.loc[pairs.loc[pairs["rollup_row_id"] == wo_rows.at["R2", "rollup_row_id"], "line_id"], "source_key"]
    assert sorted(behind) == ["INV-9|1", "L-1"]
