"""A work order the MES runs and the ERP copies for costing is one work order: one finding, one cost."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from reconciliation.engine import ReconcileSettings, reconcile
from reconciliation.frames import frame_from_rows
from threadline.config import load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "threadline.example.yaml"

ROLES = {"mes": "mes", "jde": "erp", "cmms": "cmms"}


def _frames() -> dict:
    """WO MO-1 closed in the MES with an unsigned inspection, a short PO line and labour; JDE's copy of
    it closed too (with an estimate of its own); WO MO-2 only in the CMMS."""
    return {
        "work_order": frame_from_rows("work_order", [
            {"source_system": "mes", "source_key": "MO-1", "wo_number": "MO-1", "site": "NORTH", "kind": "production",
             "status": "closed", "inspection_required": True, "inspection_signed_off": False,
             "estimate_labour": 100.0, "currency": "USD"},
            {"source_system": "jde", "source_key": "WO|1", "wo_number": "MO-1", "site": "NORTH", "kind": "production",
             "status": "closed", "inspection_required": True, "inspection_signed_off": False,
             "estimate_labour": 900.0, "currency": "USD"},
            {"source_system": "cmms", "source_key": "MO-2", "wo_number": "MO-2", "site": "NORTH",
             "kind": "maintenance", "status": "released"},
        ]),
        "po_line": frame_from_rows("po_line", [
            {"source_system": "erp", "source_key": "4711|1", "po_number": "4711", "line_number": "1", "site": "NORTH",
             "qty_ordered": 10, "unit_price": 5.0, "currency": "USD", "status": "open", "wo_ref": "MO-1"},
        ]),
        "labour_entry": frame_from_rows("labour_entry", [
            {"source_system": "mes", "source_key": "L-1", "entry_id": "L-1", "wo_number": "MO-1", "site": "NORTH",
             "hours": 2, "rate": 50.0, "currency": "USD", "entry_date": "2024-06-01"},
        ]),
    }


def _settings(**extra) -> ReconcileSettings:
    return ReconcileSettings(as_of=datetime.date(2024, 6, 30), reporting_currency="USD", **extra)


def test_an_erp_copy_of_a_work_order_is_judged_and_costed_once():
    result = reconcile(_frames(), _settings(source_roles=ROLES))
    findings = result.findings
    for rule_id in ("TRC-001", "LNK-005"):
        mine = findings[findings["rule_id"] == rule_id]
        assert list(mine["subject_source_system"]) == ["mes"], rule_id
    by_wo = result.rollup[result.rollup["grain"] == "wo"]
    assert len(by_wo) == 2
    rollup = by_wo.set_index("wo_number")
    site = result.rollup[result.rollup["grain"] == "site"]
    assert site["labour_cost"].sum() == pytest.approx(100.0)  # the copy adds nothing at any grain
    assert rollup.at["MO-1", "wo_source_system"] == "mes"
    assert rollup.at["MO-1", "labour_cost"] == pytest.approx(100.0)
    assert rollup.at["MO-1", "estimate_cost"] == pytest.approx(100.0)  # the MES copy's estimate, not JDE's
    assert rollup.at["MO-1", "committed_cost"] == pytest.approx(50.0)


def test_an_erp_copy_that_says_cancelled_does_not_end_the_work_order():
    frames = _frames()
    frames["work_order"] = frame_from_rows("work_order", [
        {"source_system": "mes", "source_key": "MO-1", "wo_number": "MO-1", "site": "NORTH", "kind": "production",
         "status": "in_progress"},
        {"source_system": "jde", "source_key": "WO|1", "wo_number": "MO-1", "site": "NORTH", "kind": "production",
         "status": "cancelled"},
    ])
    findings = reconcile(frames, _settings(source_roles=ROLES)).findings
    assert not (findings["rule_id"] == "LNK-004").any()
    assert list(findings.loc[findings["rule_id"] == "TRC-004", "subject_source_system"]) == ["jde"]
    without_roles = reconcile(frames, _settings()).findings
    assert (without_roles["rule_id"] == "LNK-004").sum() == 1


def test_without_roles_every_copy_is_its_own_subject():
    findings = reconcile(_frames(), _settings()).findings
    assert sorted(findings.loc[findings["rule_id"] == "TRC-001", "subject_source_system"]) == ["jde", "mes"]
    assert not (findings["rule_id"] == "TRC-003").any()


def test_a_source_role_outside_erp_cmms_mes_is_refused():
    with pytest.raises(ValueError, match="source 'plm' has role 'plm'; valid: erp, cmms, mes"):
        _settings(source_roles={"plm": "plm"})


def test_the_config_hands_each_sources_role_to_the_rules():
    config = load_config(EXAMPLE)
    settings = config.reconcile_settings(datetime.date(2024, 6, 30))
    assert settings.source_roles == {s.name: s.role for s in config.sources}
    assert settings.source_roles["jde"] == "erp" and settings.source_roles["mes"] == "mes"


def test_a_suggested_link_names_the_mes_copy_once():
    frames = _frames()
    frames["po_line"] = frame_from_rows("po_line", [
        {"source_system": "erp", "source_key": "4712|1", "po_number": "4712", "line_number": "1", "site": "NORTH",
         "qty_ordered": 1, "unit_price": 500.0, "currency": "USD", "status": "open", "is_service": True,
         "description": "Rework for MO-1", "need_by_date": "2024-06-20"},
    ])
    frames["wo_operation"] = frame_from_rows("wo_operation", [
        {"source_system": "mes", "source_key": "MO-1|10", "wo_number": "MO-1", "op_seq": "10", "site": "NORTH",
         "is_outside_processing": False, "status": "closed"},
    ])
    result = reconcile(frames, _settings(source_roles=ROLES))
    finding = result.findings[result.findings["rule_id"] == "LNK-006"]
    assert len(finding) == 1
    evidence = json.loads(finding["evidence"].iloc[0])
    assert [c["wo_number"] for c in evidence["candidates"]] == ["MO-1"]
    assert [r["source_system"] for r in evidence["records"] if r["entity"] == "work_order"] == ["mes"]
