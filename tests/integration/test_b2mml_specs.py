"""MES B2MML V0701 schedules and performance through the shipped ``b2mml`` specs into a SQLite warehouse.

The documents come from ``tests/b2mml_documents.py`` and must be valid against MESA's V0701 schema
in ``shared/realworld/b2mml-v0701/Schema`` (the tests skip without it). They are written into a
MES outbox folder, read by a ``kind: b2mml`` source with one stream per shipped spec, and the
warehouse is checked by hand: work orders from both schedule styles, operations with their
outside-processing flag, supplier and PO, material issues with lots and serials (produced material
skipped), labour in hours, every issue and booking linked to an operation, and the one material
actual keyed with a decimal comma quarantined with its reason.
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from tests.integration.commands import mappings_check, write_config
from tests import b2mml_documents
from tests.integration.readback import canonical_rows
from threadline.config import load_config
from threadline.pipeline import run_pipeline
from threadline.warehouse import schema
from threadline.warehouse.store import open_warehouse

SOURCE = "mes"
#: stream name -> (records path below the document root, shipped spec)
STREAMS = {
    "work_orders": ("OperationsRequest", "b2mml/OperationsRequest.yaml"),
    "operations": ("OperationsRequest/SegmentRequirement", "b2mml/SegmentRequirement.yaml"),
    "work_requests": ("WorkRequest", "b2mml/WorkRequest.yaml"),
    "job_orders": ("WorkRequest/JobOrder", "b2mml/JobOrder.yaml"),
    "segment_material": ("OperationsResponse/SegmentResponse/MaterialActual", "b2mml/SegmentResponse_MaterialActual.yaml"),
    "segment_labour": ("OperationsResponse/SegmentResponse/PersonnelActual", "b2mml/SegmentResponse_PersonnelActual.yaml"),
    "job_material": ("WorkResponse/JobResponse/MaterialActual", "b2mml/JobResponse_MaterialActual.yaml"),
    "job_labour": ("WorkResponse/JobResponse/PersonnelActual", "b2mml/JobResponse_PersonnelActual.yaml"),
}
BAD_KEY = "MO-26-000124|0010|1"
BAD_REASON = "qty from Quantity.QuantityString: not a number"


SCHEMA_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "realworld" / "b2mml-v0701" / "Schema"


@pytest.fixture(scope="module")
def v0701_schema() -> etree.XMLSchema:
    """MESA's V0701 schema set, from the real-world folder next to the checkout."""
    folder = SCHEMA_DIR
    if not (folder / "AllSchemas.xsd").is_file():
        pytest.skip(f"B2MML V0701 schema not found at {folder.resolve()} (the shared/realworld folder next to "
                    f"the checkout)")
    return b2mml_documents.load_schema(folder)


def _assert_valid(schema_set: etree.XMLSchema, path: Path) -> None:
    document = etree.parse(str(path), etree.XMLParser(no_network=True, resolve_entities=False))
    valid = schema_set.validate(document)
    assert valid, f"{path.name}: " + "; ".join(f"line {e.line}: {e.message}" for e in schema_set.error_log)


def test_every_generated_document_is_valid_against_the_v0701_schema(v0701_schema, tmp_path):
    written = b2mml_documents.write_documents(tmp_path / "outbox")
    assert set(written) == {"OperationsSchedule", "OperationsPerformance", "WorkSchedule", "WorkPerformance"}
    for path in written.values():
        _assert_valid(v0701_schema, path)


def test_the_schema_rejects_what_v0701_does_not_allow(v0701_schema):
    """The validation is real: a made-up state and elements out of sequence both fail."""
    orders, _ = b2mml_documents.production_orders()
    good = b2mml_documents.operations_schedule("OPS-X", orders)
    assert v0701_schema.validate(good)

    unknown_state = copy.deepcopy(good)
    unknown_state.find(f".//{{{b2mml_documents.NAMESPACE}}}RequestState").text = "Started"
    assert not v0701_schema.validate(unknown_state)
    assert "RequestState" in str(v0701_schema.error_log)

    out_of_order = copy.deepcopy(good)
    request = out_of_order.find(f"{{{b2mml_documents.NAMESPACE}}}OperationsRequest")
    request.append(request.find(f"{{{b2mml_documents.NAMESPACE}}}Priority"))  # Priority after the segments
    assert not v0701_schema.validate(out_of_order)


def _write_config(tmp_path: Path, outbox: Path, xsd: Path | None = None) -> Path:
    """threadline.yaml with one ``b2mml`` source over ``outbox`` (validating against ``xsd`` when given)."""
    connection = {"path": str(outbox), **({"schema": str(xsd)} if xsd else {})}
    return write_config(tmp_path, [{"name": SOURCE, "kind": "b2mml", "role": "mes", "connection": connection,
                                    "streams": [{"name": name, "records": records, "mapping": mapping}
                                                for name, (records, mapping) in STREAMS.items()]}],
                        sites=[{"id": "NORTH"}, {"id": "SOUTH"}], reporting_currency="EUR")


def test_the_b2mml_specs_pass_mappings_check(tmp_path):
    """Every shipped spec, through the real command line, against the entity it is written for."""
    config_path = _write_config(tmp_path, tmp_path / "outbox")
    (tmp_path / "outbox").mkdir()
    results = mappings_check(config_path)
    entities = {"work_orders": "work_order", "operations": "wo_operation", "work_requests": "work_order",
                "job_orders": "wo_operation", "segment_material": "material_issue",
                "segment_labour": "labour_entry", "job_material": "material_issue", "job_labour": "labour_entry"}
    assert {r["stream"]: (r["spec"], r.get("entity"), r["problems"]) for r in results} == {
        name: (STREAMS[name][1], entity, []) for name, entity in entities.items()}


def _day(text: str) -> date:
    return date.fromisoformat(text)


def test_mes_documents_load_through_the_b2mml_specs(v0701_schema, tmp_path):
    outbox = tmp_path / "outbox"
    for path in b2mml_documents.write_documents(outbox).values():
        _assert_valid(v0701_schema, path)
    # the source validates every file against the same XSD before it reads a record
    config = load_config(_write_config(tmp_path, outbox, SCHEMA_DIR / "AllSchemas.xsd"))
    run = run_pipeline(config, command="sync", reconcile=False)
    assert run.status == "succeeded", run.error

    streams = {s.stream: s for s in run.streams}
    counts = {name: (s.rows_read, s.rows_loaded, s.rows_quarantined, s.rows_skipped) for name, s in streams.items()}
    assert counts == {
        "work_orders": (3, 3, 0, 0), "operations": (6, 6, 0, 0),
        "work_requests": (2, 2, 0, 0), "job_orders": (5, 5, 0, 0),
        # the decimal-comma quantity is quarantined; the produced gearbox is not an issue
        "segment_material": (4, 3, 1, 0), "segment_labour": (3, 3, 0, 0),
        "job_material": (4, 3, 0, 1), "job_labour": (1, 1, 0, 0),
    }

    url = config.warehouse.resolved_url()
    work_orders = canonical_rows(url, "work_order", SOURCE, "kind", "site", "status", "source_status",
                                 "item_number", "priority")
    assert work_orders == {
        "MO-26-000123": ("production", "NORTH", "in_progress", "Running", "SHAFT-0815", 2),
        "MO-26-000124": ("production", "SOUTH", "released", "Released", "HOUSING-22", 3),
        "MO-26-000125": ("production", "NORTH", "cancelled", "Cancelled", "SHAFT-0815", 5),
        "MO-26-000201": ("production", "NORTH", "in_progress", "Running", None, 1),
        "MO-26-000202": ("production", "SOUTH", "on_hold", "Held", None, 4),
    }

    operations = canonical_rows(url, "wo_operation", SOURCE, "wo_number", "op_seq", "site", "work_centre",
                                "is_outside_processing", "process", "expected_supplier", "po_ref", "po_line_ref",
                                "status")
    assert len(operations) == 11
    # outside processing from SegmentParameter and JobOrderParameter, with supplier and PO where named
    assert operations["MO-26-000123|0020"] == ("MO-26-000123", "20", "NORTH", "OSP", True, "heat_treat",
                                               "SUP-0042", "4500012345", "10", "completed")
    assert operations["MO-26-000124|0020"] == ("MO-26-000124", "20", "SOUTH", "OSP", True, "plating",
                                               "SUP-0077", "4500012399", "20", "released")
    assert operations["MO-26-000201|0010"] == ("MO-26-000201", "10", "NORTH", "OSP", True, "ndt",
                                               "SUP-0090", "4500012410", "1", "completed")
    assert operations["MO-26-000201|0030"] == ("MO-26-000201", "30", "NORTH", "OSP", True, "coating",
                                               "SUP-0105", None, None, "released")
    # in-house operations carry no OSP parameter at all and are not outside processing
    assert operations["MO-26-000123|0010"] == ("MO-26-000123", "10", "NORTH", "WC-LATHE-2", False, "machining",
                                               None, None, None, "completed")
    assert operations["MO-26-000201|0040"][4:6] == (False, "inspection")
    assert operations["MO-26-000201|0040"][-1] == "planned"
    assert operations["MO-26-000202|0010"][-1] == "released"
    assert {key for key, row in operations.items() if row[4]} == {
        "MO-26-000123|0020", "MO-26-000124|0020", "MO-26-000201|0010", "MO-26-000201|0030"}

    issues = canonical_rows(url, "material_issue", SOURCE, "wo_number", "op_seq", "site", "item_number", "qty",
                            "uom", "lot", "serial", "issue_date")
    assert issues == {
        "MO-26-000123|0010|1": ("MO-26-000123", "10", "NORTH", "BAR-42CRMO4-50", 12.5, "KG", "L-2026-0412", None,
                                _day("2026-02-23")),
        "MO-26-000123|0020|1": ("MO-26-000123", "20", "NORTH", "SHAFT-0815-M", 1.0, "EA", "L-2026-0412",
                                "SN-0815-0001", _day("2026-02-24")),
        "MO-26-000123|0020|2": ("MO-26-000123", "20", "NORTH", "SHAFT-0815-M", 1.0, "EA", "L-2026-0412",
                                "SN-0815-0002", _day("2026-02-24")),
        "MO-26-000201/0010|1": ("MO-26-000201", "10", "NORTH", "GEAR-Z31", 2.0, "EA", "L-2026-0501", None,
                                _day("2026-02-25")),
        "MO-26-000201/0020|1": ("MO-26-000201", "20", "NORTH", "GEAR-Z31", 1.0, "EA", "L-2026-0501", "SN-Z31-0007",
                                _day("2026-03-02")),
        "MO-26-000201/0020|2": ("MO-26-000201", "20", "NORTH", "GEAR-Z31", 1.0, "EA", "L-2026-0501", "SN-Z31-0008",
                                _day("2026-03-02")),
    }

    labour = canonical_rows(url, "labour_entry", SOURCE, "wo_number", "op_seq", "person", "craft", "hours",
                            "entry_date")
    assert labour == {
        "MO-26-000123|0010|1": ("MO-26-000123", "10", "E1007", "MACHINIST", 6.5, _day("2026-02-23")),
        "MO-26-000124|0010|1": ("MO-26-000124", "10", "E2003", "MACHINIST", 7.25, _day("2026-03-02")),
        "MO-26-000124|0010|2": ("MO-26-000124", "10", "E2011", "SETTER", pytest.approx(0.75), _day("2026-03-02")),
        "MO-26-000201/0020|1": ("MO-26-000201", "20", "E1020", "FITTER", 3.75, _day("2026-03-02")),
    }

    # every issue and booking names an operation the schedules hold, every operation a work order
    operation_refs = {(row[0], row[1]) for row in operations.values()}
    assert {(row[0], row[1]) for row in issues.values()} <= operation_refs
    assert {(row[0], row[1]) for row in labour.values()} <= operation_refs
    assert {row[0] for row in operations.values()} == set(work_orders)

    warehouse = open_warehouse(url)
    try:
        quarantined = warehouse.read_table(schema.quarantine)
    finally:
        warehouse.dispose()
    assert list(quarantined["source_key"]) == [BAD_KEY]
    assert list(quarantined["stream"]) == ["segment_material"]
    assert list(quarantined["field"]) == ["qty"]
    assert list(quarantined["raw_value"]) == ["12,5"]
    assert BAD_REASON in quarantined["reason"].iloc[0]


def test_a_second_sync_of_the_same_outbox_changes_nothing(tmp_path):
    """Re-running a sync over the same outbox is safe: the warehouse stays exactly as the first run left it."""
    outbox = tmp_path / "outbox"
    b2mml_documents.write_documents(outbox)
    config = load_config(_write_config(tmp_path, outbox))
    assert run_pipeline(config, command="sync", reconcile=False).status == "succeeded"
    url = config.warehouse.resolved_url()
    before = {entity: canonical_rows(url, entity, SOURCE, "record_hash")
              for entity in ("work_order", "wo_operation", "material_issue", "labour_entry")}
    second = run_pipeline(config, command="sync", reconcile=False)
    assert second.status == "succeeded", second.error
    after = {entity: canonical_rows(url, entity, SOURCE, "record_hash") for entity in before}
    assert after == before
    assert sum(len(rows) for rows in after.values()) == 5 + 11 + 6 + 4
