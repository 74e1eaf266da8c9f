"""LNK-006 scoring parts: WO-like numbers in text, tolerance checks, and rejections that hold until
the evidence changes (the rule's data fixture is tests/unit/fixtures/rules/LNK-006.yaml)."""

from __future__ import annotations

import datetime
import json

import pandas as pd
import pytest

from reconciliation.engine import ReconcileSettings, ToleranceOverride, reconcile
from reconciliation.suggest import number_keys, numbers_in_text
from tests.unit.test_rules import FIXTURES, build_frames, load_fixture

AS_OF = datetime.date(2024, 6, 30)


@pytest.mark.parametrize("text, full, core", [
    ("Heat treat per WO 00012345", "12345", 12345),
    ("HT MO-26-012345 lot 7", "26-12345", 12345),
    ("Plating MO 26 12345", "26-12345", 12345),
    ("Repair #12345 urgent", "12345", 12345),
    ("W/O 10045 pump", "10045", 10045),
    ("work order no. 0099", "99", 99),
])
def test_wo_like_numbers_are_found_and_normalised(text, full, core):
    found = numbers_in_text(pd.Series([text], dtype="string[pyarrow]"))
    assert list(found["full"]) == [full] and list(found["core"]) == [core]


@pytest.mark.parametrize("text", ["Bearing 6204 pack of 10", "Steel bar 4140", "Grinding discs 125mm", None])
def test_numbers_without_a_work_order_marker_are_not_wo_like(text):
    assert numbers_in_text(pd.Series([text], dtype="string[pyarrow]")).empty


def test_work_order_numbers_normalise_like_the_text():
    full, core = number_keys(["MO-26-012345", "10045", "WO-000123", "ABC"])
    assert full == ["26-12345", "10045", "123", None] and list(core) == [12345, 10045, 123, -1]


@pytest.mark.parametrize("tolerances, message", [
    ({"threshold": 1.5}, "threshold must be above 0 and at most 1"),
    ({"weight_text": -0.1}, "weight_text must not be negative"),
    ({"weight_text": 0, "weight_supplier": 0, "weight_item": 0, "weight_qty": 0, "weight_dates": 0},
     "weights must not all be 0"),
    ({"wo_account_pattern": "(unclosed"}, "is no regular expression"),
    ({"max_suggestions": 0}, "max_suggestions must be at least 1"),
    ({"weight_txt": 0.3}, "no tolerance 'weight_txt'"),
])
def test_bad_suggestion_settings_are_refused(tolerances, message):
    with pytest.raises(ValueError, match=message):
        ReconcileSettings(as_of=AS_OF, reporting_currency="EUR", tolerances={"LNK-006": tolerances})


def test_weights_are_rule_wide_but_the_threshold_may_be_per_supplier():
    ReconcileSettings(as_of=AS_OF, reporting_currency="EUR",
                      overrides=(ToleranceOverride("LNK-006", {"threshold": 0.8}, supplier="S1"),))
    with pytest.raises(ValueError, match="weight_text is rule-wide"):
        ReconcileSettings(as_of=AS_OF, reporting_currency="EUR",
                          overrides=(ToleranceOverride("LNK-006", {"weight_text": 0.8}, supplier="S1"),))


def _suggested(tables, **tolerances):
    settings = ReconcileSettings(as_of=AS_OF, reporting_currency="EUR",
                                 tolerances={"LNK-006": tolerances} if tolerances else {})
    return reconcile(build_frames(tables), settings).suggestions


def test_a_rejection_holds_for_the_evidence_it_was_made_on():
    tables = load_fixture(FIXTURES / "LNK-006.yaml")["tables"]
    first = _suggested(tables)
    best = first[first["po_number"] == "5001"].iloc[0]
    rejected = {"source_key": "R1", "site": best["site"], "wo_number": best["wo_number"], "op_seq": best["op_seq"],
                "po_number": best["po_number"], "line_number": best["line_number"], "asserted_by": "alice",
                "status": "rejected", "evidence": json.dumps({"fingerprint": best["fingerprint"]})}
    same = {**tables, "wo_po_link": [*tables["wo_po_link"], rejected]}
    assert best["link_id"] not in set(_suggested(same)["link_id"])
    # the line's quantity changes: the evidence is not what was rejected, so it is suggested again
    moved = {**same, "po_line": [{**row, "qty_ordered": 41} if row["source_key"] == "5001|1" else row
                                 for row in same["po_line"]]}
    again = _suggested(moved)
    assert best["link_id"] in set(again["link_id"])
    assert again.set_index("link_id").loc[best["link_id"], "fingerprint"] != best["fingerprint"]


def test_the_threshold_decides_what_is_suggested():
    tables = load_fixture(FIXTURES / "LNK-006.yaml")["tables"]
    assert set(_suggested(tables)["po_number"]) == {"5001", "5011"}
    assert set(_suggested(tables, threshold=0.9)["po_number"]) == {"5001"}
    # 5010's only candidate was rejected whatever the evidence: no threshold brings it back
    assert set(_suggested(tables, threshold=0.2)["po_number"]) == {"5001", "5003", "5011"}


def test_a_supplier_is_approved_by_its_own_site_or_by_a_master_without_a_site():
    from reconciliation.frames import CanonicalFrames
    from reconciliation.suggest import _approved

    data = CanonicalFrames(build_frames({"supplier": [
        {"source_key": "S1", "supplier_id": "S1", "site": "NORTH", "approved_processes": "heat_treat, NDT"},
        {"source_key": "S2", "supplier_id": "S2", "approved_processes": "plating"},
    ]}))
    asked = [("NORTH", "S1", "ndt"), ("SOUTH", "S1", "ndt"), ("SOUTH", "S2", "plating"), ("NORTH", "S2", "ndt"),
             ("NORTH", None, "ndt"), ("NORTH", "S1", None)]
    site, supplier, process = (pd.Series(c, dtype=object).to_numpy() for c in zip(*asked))
    assert list(_approved(data, site, supplier, process)) == [True, False, True, False, False, False]


def test_the_service_type_is_the_process_else_the_one_the_description_names():
    from reconciliation.suggest import service_type

    lines = pd.DataFrame({"process": pd.Series(["plating", None, None, None, None], dtype="string[pyarrow]"),
                          "description": pd.Series(["Heat treat", "Heat-treat 45 pcs", "Gauge calibration",
                                                    "NDT of welds", "Bearings"], dtype="string[pyarrow]")})
    assert list(service_type(lines).astype(object).where(lambda s: s.notna(), None)) == [
        "plating", "heat_treat", "calibration", "ndt", None]


def test_work_orders_without_any_operation_are_still_candidates():
    """A plant whose work sources carry no operations at all (a CMMS without tasks): candidates are
    whole work orders, scored without operation evidence, instead of failing."""
    tables = load_fixture(FIXTURES / "LNK-006.yaml")["tables"]
    no_ops = {**tables, "wo_operation": [],
              "wo_po_link": [row for row in tables.get("wo_po_link", []) if not row.get("op_seq")]}
    suggested = _suggested(no_ops, threshold=0.2)
    assert len(suggested)
    assert suggested["op_seq"].isna().all()
