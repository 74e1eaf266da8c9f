"""Data-quality suites: loading and checking suite files, validating batches with GX, and turning
quarantined rows into DQ-001 findings."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from mappings.canonical import ENTITIES
from reconciliation.exceptions import exception_id
from threadline.quality import (
    SHIPPED_EXPECTATIONS,
    BatchValidator,
    CriticalExpectationError,
    SuiteError,
    load_suites,
    quarantine_findings,
    read_suite,
)


def _project(tmp_path: Path, suites: dict[str, dict]) -> Path:
    folder = tmp_path / "gx"
    (folder / "expectations").mkdir(parents=True)
    for name, suite in suites.items():
        (folder / "expectations" / f"{name}.json").write_text(json.dumps(suite))
    return folder


def _suite(name: str, *expectations: dict) -> dict:
    return {"name": name, "expectations": list(expectations), "meta": {}}


def _expect(type_: str, critical: bool = False, description: str | None = None, **kwargs) -> dict:
    meta = {"critical": critical, **({"description": description} if description else {})}
    return {"type": type_, "kwargs": kwargs, "meta": meta}


def _po_lines(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"source_system": ["jde"] * n, "source_key": [f"K{i}" for i in range(n)], "site": ["NORTH"] * n,
            "po_number": ["4500"] * n, "line_number": [str(i + 1) for i in range(n)]}
    return pd.DataFrame({**base, **columns})


def test_the_shipped_suites_cover_every_entity_and_load_cleanly():
    suites = load_suites(SHIPPED_EXPECTATIONS)
    assert set(suites) == {*ENTITIES, "warehouse"}
    po_line = suites["po_line"]
    described = {e.meta.get("description") for e in po_line.expectations}
    assert {"unit price is not negative", "ordered quantity is positive"} <= described
    # keys present is critical everywhere: a row without a key cannot be loaded or quarantined by key
    assert all(s.expectations[0].critical and s.expectations[0].type == "expect_column_values_to_not_be_null"
               for name, s in suites.items() if name != "warehouse")


def test_the_shipped_project_is_a_gx_project_gx_itself_can_open(tmp_path):
    import great_expectations as gx

    copy = tmp_path / "project"
    shutil.copytree(SHIPPED_EXPECTATIONS, copy, ignore=shutil.ignore_patterns("uncommitted"))
    context = gx.get_context(mode="file", context_root_dir=str(copy))
    suite = context.suites.get("po_line")
    assert [e.expectation_type for e in suite.expectations][:2] == [
        "expect_column_values_to_not_be_null", "expect_column_values_to_be_unique"]
    # each entity's checkpoint validates its suite (what the pipeline runs per batch, in its own context)
    checkpoint = context.checkpoints.get("po_line_checkpoint")
    assert checkpoint.validation_definitions[0].suite.name == "po_line"


@pytest.mark.parametrize("text, expected", [
    ("{not json", "not valid JSON (line 1, column 2)"),
    (json.dumps(_suite("po_line", _expect("expect_column_values_to_be_postive", column="qty_ordered"))),
     "expectation #1 (expect_column_values_to_be_postive): Great Expectations has no expectation type"),
    (json.dumps(_suite("po_line", _expect("expect_column_values_to_be_between", column="unit_prize", min_value=0))),
     "expectation #1 (expect_column_values_to_be_between): po_line has no column 'unit_prize' (did you mean unit_price"),
    (json.dumps(_suite("po_line", _expect("expect_column_values_to_be_in_set", column="status"))),
     "expectation #1 (expect_column_values_to_be_in_set): invalid arguments: value_set"),
    (json.dumps(_suite("po_line", {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "site"},
                                   "meta": {"critical": "yes"}})),
     "meta.critical must be true or false"),
    (json.dumps(_suite("po_lines")), "the suite is named 'po_lines'; name it after its file"),
])
def test_a_broken_suite_is_refused_naming_file_and_expectation(tmp_path, text, expected):
    path = tmp_path / "expectations" / "po_line.json"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(SuiteError) as caught:
        load_suites(tmp_path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_every_problem_of_every_file_is_reported_at_once(tmp_path):
    folder = _project(tmp_path, {
        "po_line": _suite("po_line", _expect("expect_column_values_to_be_between", column="nope", min_value=0),
                          _expect("expect_nothing_at_all")),
        "receipt": _suite("receipt", _expect("expect_column_values_to_not_be_null", column="qty")),
        "nonsense": _suite("nonsense"),
    })
    with pytest.raises(SuiteError) as caught:
        load_suites(folder)
    assert len(caught.value.problems) == 3
    assert any("nonsense.json: no canonical entity is called 'nonsense'" in p for p in caught.value.problems)


def test_a_warehouse_suite_holds_queries_over_named_tables(tmp_path):
    path = tmp_path / "warehouse.json"
    path.write_text(json.dumps(_suite("warehouse", {
        "type": "unexpected_rows_expectation",
        "kwargs": {"unexpected_rows_query": "SELECT * FROM {batch} WHERE qty < 0"}, "meta": {"table": "po_lines"}})))
    _, problems = read_suite(path)
    assert problems == [f"{path}: expectation #1 (unexpected_rows_expectation): meta.table must name the canonical "
                        f"table the query's {{batch}} stands for ({', '.join(ENTITIES)}), not 'po_lines'"]


def test_failing_rows_are_quarantined_with_the_expectation_and_the_rest_passes(tmp_path):
    folder = _project(tmp_path, {"po_line": _suite(
        "po_line",
        _expect("expect_column_values_to_be_between", description="unit price is not negative",
                column="unit_price", min_value=0),
        _expect("expect_column_values_to_be_between", description="ordered quantity is positive",
                column="qty_ordered", min_value=0, strict_min=True),
    )})
    batch = _po_lines(unit_price=[1.5, -2.0, 3.0, -4.0], qty_ordered=[1.0, 0.0, 0.0, 2.0])
    outcome = BatchValidator(load_suites(folder)).validate("po_line", batch, source="jde", stream="po_lines",
                                                          batch_no=1)
    assert outcome.valid["source_key"].tolist() == ["K0"]
    held = outcome.quarantined
    assert held["source_key"].tolist() == ["K1", "K2", "K3"]
    # one entry per row: the first expectation it failed
    assert held["check"].tolist() == ["gx:po_line:expect_column_values_to_be_between"] * 3
    assert held["field"].tolist() == ["unit_price", "qty_ordered", "unit_price"]
    assert held["raw_value"].tolist() == ["-2.0", "0.0", "-4.0"]
    assert held["reason"][0] == ("po_line: failed expectation po_line #1 expect_column_values_to_be_between(unit_price): "
                                 "unit price is not negative (unit_price = -2.0)")
    assert json.loads(held["record"][2])["qty_ordered"] == 2.0


def test_a_critical_failure_stops_the_batch_naming_source_stream_and_expectation(tmp_path):
    folder = _project(tmp_path, {"po_line": _suite(
        "po_line", _expect("expect_column_values_to_not_be_null", critical=True, description="every line has a site",
                           column="site"))})
    batch = _po_lines(unit_price=[1.0, 2.0]).assign(site=["NORTH", None])
    with pytest.raises(CriticalExpectationError) as caught:
        BatchValidator(load_suites(folder)).validate("po_line", batch, source="jde", stream="po_lines", batch_no=3)
    message = str(caught.value)
    assert "source 'jde', stream 'po_lines', batch 3" in message
    assert "critical expectation po_line #1 expect_column_values_to_not_be_null(site) failed" in message
    assert "1 row(s) failed, e.g. source keys K1" in message
    assert str(folder / "expectations" / "po_line.json") in message


def test_a_failed_batch_level_expectation_that_is_not_critical_is_a_note(tmp_path):
    folder = _project(tmp_path, {"po_line": _suite(
        "po_line", _expect("expect_table_row_count_to_be_between", min_value=5))})
    outcome = BatchValidator(load_suites(folder)).validate("po_line", _po_lines(unit_price=[1.0, 2.0]),
                                                          source="jde", stream="po_lines", batch_no=1)
    assert len(outcome.valid) == 2 and outcome.quarantined.empty
    assert outcome.notes == ["batch 1: expectation po_line #1 expect_table_row_count_to_be_between() failed "
                             "(expect_table_row_count_to_be_between): observed 2"]


def test_entities_without_a_suite_pass_unchanged(tmp_path):
    folder = _project(tmp_path, {})
    batch = _po_lines(unit_price=[-1.0])
    outcome = BatchValidator(load_suites(folder)).validate("po_line", batch, source="jde", stream="po_lines",
                                                          batch_no=1)
    assert outcome.valid is batch and outcome.quarantined.empty


def _quarantine_rows(*rows: dict) -> pd.DataFrame:
    base = {"source": "jde", "stream": "po_lines", "entity": "po_line", "field": "unit_price", "raw_value": "-2.0",
            "check_name": "gx:po_line:expect_column_values_to_be_between", "last_run_id": "R1",
            "last_seen_at": datetime(2026, 6, 30, 12)}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_quarantined_rows_become_dq_findings_with_the_rows_as_evidence():
    record = {"source_key": "K1", "site": "NORTH", "po_number": "4500", "line_number": "2", "unit_price": -2.0}
    quarantine = _quarantine_rows(
        {"quarantine_id": "Q-1", "source_key": "K1", "reason": "unit price is not negative", "record": json.dumps(record)},
        # the mapping's and the model's own checks stay quarantine only
        {"quarantine_id": "Q-2", "source_key": "K2", "check_name": "unique_key", "reason": "twice", "record": "{}"},
    )
    findings = quarantine_findings(quarantine, {})
    assert len(findings) == 1
    found = findings.iloc[0]
    assert found["rule_id"] == "DQ-001" and found["severity"] == "error"
    assert found["exception_id"] == exception_id("DQ-001", "po_line", "jde", "K1")
    assert (found["site"], found["po_number"], found["line_number"]) == ("NORTH", "4500", "2")
    evidence = json.loads(found["evidence"])
    assert evidence["rows"] == [record]
    assert evidence["expectations"][0]["check"] == "gx:po_line:expect_column_values_to_be_between"


def test_a_row_loaded_after_it_was_quarantined_is_no_longer_a_finding():
    quarantine = _quarantine_rows(
        {"quarantine_id": "Q-1", "source_key": "K1", "reason": "r", "record": "{}"},
        {"quarantine_id": "Q-2", "source_key": "K2", "reason": "r", "record": "{}"},
    )
    loaded = pd.DataFrame({"source_system": ["jde", "jde"], "source_key": ["K1", "K2"],
                           "loaded_at": [datetime(2026, 7, 1), datetime(2026, 6, 29)]})
    findings = quarantine_findings(quarantine, {"po_line": loaded})
    # K1 came back corrected after it was held back; K2's loaded copy is older than its quarantine
    assert findings["subject_source_key"].tolist() == ["K2"]


def test_a_warehouse_query_that_cannot_run_names_the_file_and_expectation(tmp_path):
    from threadline.quality import warehouse_findings
    from threadline.warehouse.store import open_warehouse

    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    open_warehouse(url).dispose()
    folder = _project(tmp_path, {"warehouse": _suite("warehouse", {
        "type": "unexpected_rows_expectation",
        "kwargs": {"unexpected_rows_query": "SELECT * FROM {batch} WHERE no_such_column > 0"},
        "meta": {"table": "po_line"}})})
    suite = load_suites(folder)["warehouse"]
    with pytest.raises(SuiteError) as caught:
        warehouse_findings(suite, url)
    assert f"{folder / 'expectations' / 'warehouse.json'}: expectation #1 (unexpected_rows_expectation) on po_line: " \
           "the query failed" in str(caught.value)
    assert "no_such_column" in str(caught.value)
