"""Rule tests as data: each fixture under fixtures/rules holds input tables and the offending rows.

A fixture names the rule, the as-of date, the reporting currency, optional tolerances and
per-supplier/process/site overrides of them (``overrides``, as in threadline.yaml), the role of
source systems (``source_roles``, as ``sources[].role`` in threadline.yaml), the input
tables (only the columns the rule needs; the rest are filled with NA here), the expected findings
(by subject) and the near misses that must not fire. The rule must return exactly the expected
subjects.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from reconciliation.catalogue import CATALOGUE
from reconciliation.engine import CHECKS, ReconcileSettings, reconcile
from reconciliation.exceptions import FINDING_COLUMNS, exception_id
from reconciliation.frames import canonical_frame, frame_from_rows

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
FIXTURE_FILES = sorted(FIXTURES.glob("*.yaml"))

#: the source system a fixture row gets when it names none
DEFAULT_SOURCE = {
    "supplier": "erp", "item": "erp", "purchase_order": "erp", "po_line": "erp", "receipt": "erp",
    "invoice_line": "erp", "fx_rate": "erp", "uom_conversion": "erp", "asset": "cmms",
    "work_order": "mes", "wo_operation": "mes", "material_issue": "mes", "labour_entry": "mes",
    "wo_po_link": "steward",
}
SUBJECT = ("subject_entity", "subject_source_system", "subject_source_key")
#: expected-row keys that are finding columns compared as they are
COMPARED = ("site", "wo_number", "op_seq", "po_number", "line_number")


def load_fixture(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def build_frames(tables: dict[str, list[dict]]) -> dict[str, pd.DataFrame]:
    """Canonical frames from fixture tables: default source system, run lineage, NA elsewhere."""
    frames = {}
    for entity_name, rows in tables.items():
        filled = [{"source_system": DEFAULT_SOURCE[entity_name], "run_id": "fixture", **row} for row in rows]
        frames[entity_name] = frame_from_rows(entity_name, filled)
    return frames


def run_fixture(fixture: dict, **overrides) -> pd.DataFrame:
    from reconciliation.engine import ToleranceOverride

    settings = ReconcileSettings(
        as_of=fixture["as_of"],
        reporting_currency=fixture["reporting_currency"],
        tolerances=fixture.get("tolerances", {}),
        overrides=tuple(ToleranceOverride(**o) for o in fixture.get("overrides", [])),
        source_roles=fixture.get("source_roles", {}),
        **overrides,
    )
    return reconcile(build_frames(fixture["tables"]), settings).findings


def subject(row) -> tuple[str, str, str]:
    return tuple(row[k] for k in SUBJECT)


def test_every_implemented_rule_has_a_fixture():
    rules_with_fixtures = {path.stem for path in FIXTURE_FILES}
    assert rules_with_fixtures == {*CHECKS, "CST-003"}


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_rule_fixture(path: Path):
    fixture = load_fixture(path)
    rule_id = fixture["rule"]
    assert path.stem == rule_id, "a fixture is named after its rule"
    findings = run_fixture(fixture)
    mine = findings[findings["rule_id"] == rule_id]

    expected = {subject(row): row for row in fixture["expected"]}
    found = {subject(row): row for _, row in mine.iterrows()}
    assert set(found) == set(expected), (
        f"{rule_id}: unexpected {sorted(set(found) - set(expected))}, missing {sorted(set(expected) - set(found))}"
    )
    assert len(mine) == len(expected), f"{rule_id}: one finding per subject"

    near_misses = {(m["subject_entity"], m["subject_source_key"]) for m in fixture.get("near_misses", [])}
    fired = {(e, k) for e, _, k in found}
    assert not near_misses & fired, f"{rule_id}: near misses fired: {near_misses & fired}"

    for key, want in expected.items():
        got = found[key]
        assert got["exception_id"] == exception_id(rule_id, *key)
        assert got["severity"] == CATALOGUE[rule_id].severity
        for column in COMPARED:
            if column in want:
                assert got[column] == want[column], f"{rule_id} {key}: {column}"
        for text in want.get("summary_mentions", []):
            assert text in got["summary"], f"{rule_id} {key}: summary {got['summary']!r} lacks {text!r}"
        evidence = json.loads(got["evidence"])
        own = [r for r in evidence["records"] if (r["entity"], r["source_system"], r["source_key"]) == key]
        assert own, f"{rule_id} {key}: the evidence does not show the subject's own record"
        if "evidence_unsigned_operations" in want:
            assert evidence["unsigned_operations"] == want["evidence_unsigned_operations"]


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_disabled_rule_produces_nothing(path: Path):
    fixture = load_fixture(path)
    rule_id = fixture["rule"]
    findings = run_fixture(fixture, disabled=frozenset({rule_id}))
    assert not (findings["rule_id"] == rule_id).any()
    others = run_fixture(fixture)
    others = others[others["rule_id"] != rule_id].reset_index(drop=True)
    pd.testing.assert_frame_equal(findings.reset_index(drop=True), others)


def test_findings_have_the_published_columns_and_sort_order():
    fixture = load_fixture(FIXTURES / "LNK-002.yaml")
    findings = run_fixture(fixture)
    assert tuple(findings.columns) == FINDING_COLUMNS
    assert findings["exception_id"].is_unique
    keys = list(zip(findings["rule_id"], findings["site"], findings["subject_entity"],
                    findings["subject_source_system"], findings["subject_source_key"]))
    assert keys == sorted(keys)


def test_a_dangling_osp_reference_fires_lnk_002_and_osp_001():
    findings = run_fixture(load_fixture(FIXTURES / "OSP-001.yaml"))
    about_op_80 = findings[findings["subject_source_key"] == "1001-80"]
    assert set(about_op_80["rule_id"]) == {"LNK-002", "OSP-001"}


def test_exception_id_is_the_documented_hash():
    text = "LNK-001|po_line|erp_jde|00200|4711|OP|1.000"
    assert exception_id("LNK-001", "po_line", "erp_jde", "00200|4711|OP|1.000") == (
        "EX-" + hashlib.sha1(text.encode()).hexdigest()[:16]
    )


def test_exception_id_is_stable_across_releases():
    # pinned: the warehouse, steward queue and demo manifest store these ids
    assert exception_id("OSP-001", "wo_operation", "mes", "1001-40") == "EX-1bda7d5e0e2d8d35"
    assert exception_id("TRC-001", "work_order", "cmms", "CM-1008") == "EX-39b574ecd5403233"


def test_exception_id_depends_on_every_part():
    base = ("TRC-001", "work_order", "mes", "WO-1")
    ids = {exception_id(*base)}
    for position in range(4):
        changed = list(base)
        changed[position] += "x"
        ids.add(exception_id(*changed))
    assert len(ids) == 5


def test_rerun_gives_the_same_ids():
    fixture = load_fixture(FIXTURES / "OSP-005.yaml")
    first, second = run_fixture(fixture), run_fixture(fixture)
    assert list(first["exception_id"]) == list(second["exception_id"])


def test_missing_entities_count_as_empty():
    result = reconcile({}, ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="EUR"))
    assert result.findings.empty and tuple(result.findings.columns) == FINDING_COLUMNS
    assert result.rollup.empty and "actual_cost" in result.rollup.columns
    assert result.cost_lines.empty and "problem" in result.cost_lines.columns


def test_settings_refuse_unknown_rules_and_tolerances():
    with pytest.raises(ValueError, match="LNK-999"):
        ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="EUR", disabled=frozenset({"LNK-999"}))
    with pytest.raises(ValueError, match="grace_days"):
        ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="EUR",
                          tolerances={"OSP-005": {"grace_day": 3}})


def test_tolerance_override_and_default():
    settings = ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="EUR",
                                 tolerances={"OSP-005": {"grace_days": 7}})
    assert settings.tolerance("OSP-005", "grace_days") == 7
    default = ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="EUR")
    assert default.tolerance("OSP-005", "grace_days") == CATALOGUE["OSP-005"].tolerances["grace_days"]


def test_a_frame_missing_a_canonical_column_is_refused_with_its_name():
    frame = frame_from_rows("po_line", [{"source_system": "erp", "source_key": "1", "po_number": "1"}]).drop(columns="wo_ref")
    with pytest.raises(ValueError, match="po_line.*wo_ref"):
        canonical_frame(frame, "po_line")


def test_fixture_rows_with_unknown_columns_are_refused():
    with pytest.raises(ValueError, match="wo_reff"):
        frame_from_rows("po_line", [{"source_key": "1", "wo_reff": "1001"}])


def test_python_dates_and_datetimes_are_read_as_dates():
    fixture = load_fixture(FIXTURES / "OSP-005.yaml")
    tables = fixture["tables"]
    frames = build_frames(tables)
    # the same lines with need-by dates as python dates in an object column, as some loaders give them
    lines = frames["po_line"].copy()
    lines["need_by_date"] = pd.Series([None if pd.isna(d) else d.date() for d in lines["need_by_date"]], dtype=object)
    frames["po_line"] = lines
    settings = ReconcileSettings(as_of=fixture["as_of"], reporting_currency="EUR", tolerances=fixture["tolerances"])
    findings = reconcile(frames, settings).findings
    found = set(findings.loc[findings["rule_id"] == "OSP-005", "subject_source_key"])
    assert found == {row["subject_source_key"] for row in fixture["expected"]}


def test_tolerance_overrides_pick_the_most_specific_match_per_row():
    from reconciliation.engine import ToleranceOverride

    settings = ReconcileSettings(
        as_of=datetime.date(2024, 6, 30), reporting_currency="EUR", tolerances={"OSP-005": {"grace_days": 2}},
        overrides=(
            ToleranceOverride("OSP-005", {"grace_days": 5}, process="heat_treat"),
            ToleranceOverride("OSP-005", {"grace_days": 9}, supplier="S1"),
            ToleranceOverride("OSP-005", {"grace_days": 12}, supplier="S1", process="heat_treat"),
            ToleranceOverride("OSP-005", {"grace_days": 7}, process="plating", site="SOUTH"),
        ))
    rows = pd.DataFrame({
        "supplier_id": pd.array(["S1", "S1", "S2", "S2", "S2", None], dtype="string[pyarrow]"),
        "process": pd.array(["heat_treat", "ndt", "heat_treat", "plating", "plating", None], dtype="string[pyarrow]"),
        "site": pd.array(["NORTH", "NORTH", "NORTH", "SOUTH", "NORTH", "NORTH"], dtype="string[pyarrow]"),
    }, index=[10, 11, 12, 13, 14, 15])
    got = settings.tolerance_for("OSP-005", "grace_days", rows)
    assert list(got.index) == [10, 11, 12, 13, 14, 15]
    assert got.tolist() == [12.0, 9.0, 5.0, 7.0, 2.0, 2.0]
    # a selector whose column the rows lack never matches
    assert settings.tolerance_for("OSP-005", "grace_days", rows[["site"]]).tolist() == [2.0] * 6


@pytest.mark.parametrize("override, message", [
    ({"rule": "OSP-999", "process": "ndt", "tolerances": {"grace_days": 1}}, "unknown rule id 'OSP-999'"),
    ({"rule": "OSP-005", "process": "ndt", "tolerances": {"grace_dayz": 1}}, "no tolerance 'grace_dayz'"),
    ({"rule": "OSP-005", "tolerances": {"grace_days": 1}}, "name a supplier, process or site"),
    ({"rule": "OSP-005", "process": "ndt", "tolerances": {"grace_days": "two"}}, "must be a number"),
    ({"rule": "OSP-007", "process": "ndt", "tolerances": {"certificate_required": "yes"}}, "must be true or false"),
])
def test_bad_tolerance_overrides_are_refused(override, message):
    from reconciliation.engine import ToleranceOverride

    with pytest.raises(ValueError, match=message):
        ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="EUR",
                          overrides=(ToleranceOverride(**override),))


def test_two_overrides_of_the_same_scope_are_refused():
    from reconciliation.engine import ToleranceOverride

    twice = (ToleranceOverride("OSP-005", {"grace_days": 1}, process="ndt"),
             ToleranceOverride("OSP-005", {"grace_days": 3}, process="ndt"))
    with pytest.raises(ValueError, match="the same scope as override 1"):
        ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="EUR", overrides=twice)


def test_the_readme_rule_table_lists_every_rule_with_its_severity():
    """Auditors read the README's table: it must name every rule of the catalogue, once, with the
    severity the engine gives it."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = re.findall(r"^\| ([A-Z]{2,3}-\d{3}) \| (error|warning|info) \|", readme, flags=re.MULTILINE)
    assert sorted(rows) == sorted((r.id, r.severity) for r in CATALOGUE.values())
