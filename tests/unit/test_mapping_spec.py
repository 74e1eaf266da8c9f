"""Mapping specs are validated all at once; mapping is vectorized and never drops a row."""

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mappings.engine import map_batch
from mappings.spec import MappingSpecError, load_spec
from threadline.validate import validate_batch

GOOD = {
    "entity": "po_line",
    "source_key": {"from": ["PDKCOO", "PDDOCO", "PDDCTO", "PDLNID"], "transforms": ["strip_padding", "to_text"]},
    "fields": {
        "po_number": {"from": "PDDOCO", "transforms": ["to_text"]},
        "line_number": {"from": "PDLNID", "transforms": [{"implied_decimals": 3}, "to_text"]},
        "site": {"from": "PDMCU", "transforms": ["strip_padding", {"code_map": {"map": {"P100": "NORTH"}}}]},
        "qty_ordered": {"from": "PDUORG", "transforms": [{"implied_decimals": 4}]},
        "unit_price": {"from": "PDPRRC", "transforms": [{"implied_decimals": 4}]},
        "need_by_date": {"from": "PDPDDJ", "transforms": ["jde_julian_date"]},
        "wo_ref": {"from": "PDRORN", "transforms": ["strip_padding", "strip_leading_zeros"]},
        "status": {"from": "PDLTTR", "transforms": ["strip_padding",
                                                    {"code_map": {"map": {"220": "open", "999": "closed"}}}]},
    },
}


def write(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def batch() -> pd.DataFrame:
    return pd.DataFrame({
        "PDKCOO": ["00001"] * 5, "PDDOCO": [4711, 4711, 4712, 4713, 4714], "PDDCTO": ["OP"] * 5,
        "PDLNID": [1000, 2000, 1000, 1000, 1000],
        "PDMCU": ["        P100", "        P100", "        P200", "        P100", "        P100"],
        "PDUORG": [50000, 10000, 10000, 10000, 10000], "PDPRRC": [125000, 10000, 10000, 10000, 10000],
        "PDPDDJ": [126032, 126400, 126001, 126001, 126001],
        "PDRORN": ["00010023", "        ", None, "00000042", "00000042"],
        "PDLTTR": ["220", "999", "220", "555", "999"],
    })


def test_every_problem_is_reported_at_once_with_key_paths_and_choices(tmp_path):
    bad = {
        "entity": "po_line",
        "source_key": {"from": "PDDOCO"},
        "fields": {
            "po_number": {"from": "PDDOCO", "transforms": ["strip_paddding"]},
            "colour": {"value": "red"},
            "line_number": {"from": "PDLNID", "transforms": [{"implied_decimals": "three"}]},
            "status": {"value": "half-open"},
        },
    }
    with pytest.raises(MappingSpecError) as info:
        load_spec(write(tmp_path, bad))
    problems = "\n".join(info.value.problems)
    assert "fields.po_number.transforms[0]: unknown transform 'strip_paddding'" in problems
    assert "valid: " in problems and "strip_padding" in problems
    assert "fields.colour: po_line has no field 'colour'" in problems
    assert "fields.line_number.transforms[0]: implied_decimals needs a whole number" in problems
    assert "fields.status.value: 'half-open' is not allowed" in problems
    assert "required fields of po_line not mapped: site, qty_ordered, unit_price" in problems
    assert len(info.value.problems) == 5


def test_unknown_entity_lists_the_canonical_ones(tmp_path):
    with pytest.raises(MappingSpecError) as info:
        load_spec(write(tmp_path, {"entity": "purchase_line", "source_key": {"from": "A"}, "fields": {"x": {"from": "A"}}}))
    assert "valid: supplier, item" in info.value.problems[0]


def test_map_batch_quarantines_with_reason_and_loses_nothing(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    result = map_batch(spec, batch(), source_system="jde", run_id="R1", extracted_at=datetime(2026, 6, 30))
    valid, invalid = validate_batch(spec.entity, result.mapped)
    assert len(valid) + len(invalid) + len(result.quarantined) == 5
    first = valid.iloc[0]
    assert (first.po_number, first.line_number, first.site, first.qty_ordered, first.unit_price) == \
        ("4711", "1", "NORTH", 5.0, 12.5)
    assert first.need_by_date == pd.Timestamp("2026-02-01") and first.wo_ref == "10023"
    assert first.source_key == "00001|4711|OP|1000" and first.source_system == "jde"
    reasons = dict(zip(result.quarantined["source_key"], result.quarantined["reason"]))
    assert "not a JD Edwards Julian date" in reasons["00001|4711|OP|2000"]
    assert "known codes: P100" in reasons["00001|4712|OP|1000"]
    assert "known codes: 220, 999" in reasons["00001|4713|OP|1000"]
    raw = dict(zip(result.quarantined["source_key"], result.quarantined["raw_value"]))
    assert raw["00001|4711|OP|2000"] == "126400"


def test_record_hash_is_stable_and_changes_with_content(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    one = map_batch(spec, batch(), source_system="jde", run_id="R1", extracted_at=datetime(2026, 6, 30)).mapped
    two = map_batch(spec, batch(), source_system="jde", run_id="R2", extracted_at=datetime(2026, 7, 1)).mapped
    assert list(one["record_hash"]) == list(two["record_hash"])
    changed = batch()
    changed.loc[0, "PDUORG"] = 60000
    three = map_batch(spec, changed, source_system="jde", run_id="R3", extracted_at=datetime(2026, 7, 1)).mapped
    assert three["record_hash"].iloc[0] != one["record_hash"].iloc[0]
    assert list(three["record_hash"].iloc[1:]) == list(one["record_hash"].iloc[1:])


def test_a_missing_source_column_names_the_stream_columns(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    with pytest.raises(MappingSpecError) as info:
        map_batch(spec, batch().drop(columns=["PDPRRC"]), source_system="jde", run_id="R1",
                  extracted_at=datetime(2026, 6, 30))
    assert "['PDPRRC'] are not in the stream" in str(info.value)


def test_validate_holds_back_every_copy_of_a_duplicated_key(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    doubled = pd.concat([batch().iloc[[0]], batch().iloc[[0]], batch().iloc[[4]]], ignore_index=True)
    mapped = map_batch(spec, doubled, source_system="jde", run_id="R1", extracted_at=datetime(2026, 6, 30)).mapped
    valid, invalid = validate_batch(spec.entity, mapped)
    assert list(valid["po_number"]) == ["4714"]
    assert list(invalid["check"]) == ["unique_key", "unique_key"]


def test_document_sources_treat_an_absent_element_as_empty(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    without_op = batch().drop(columns=["PDRORN"])
    with pytest.raises(MappingSpecError):
        map_batch(spec, without_op, source_system="jde", run_id="R1", extracted_at=datetime(2026, 6, 30))
    result = map_batch(spec, without_op, source_system="mes", run_id="R1", extracted_at=datetime(2026, 6, 30),
                       sparse=True)
    assert result.mapped["wo_ref"].isna().all() and len(result.mapped) == 2
