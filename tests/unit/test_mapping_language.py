"""The mapping language beyond one column per field: row filters, joined-value transforms, key
prefixes and parts, JD Edwards times, ISO currencies, unit conversion and look-ups."""

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mappings.engine import Lookups, map_batch
from mappings.spec import MappingSpecError, load_spec
from mappings.transforms import TRANSFORMS

RUN = dict(source_system="erp", run_id="r1", extracted_at=datetime(2026, 11, 22, 12, 0))


def spec_file(tmp_path: Path, spec: dict, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def run(name: str, values: list, arg=None) -> tuple[list, list]:
    step = TRANSFORMS[name].func(pd.Series(values, dtype="string" if all(
        isinstance(v, str) or v is None for v in values) else None), arg)
    out = [None if pd.isna(v) else v for v in step.values.tolist()]
    failed = [] if step.failed is None else [i for i, f in enumerate(step.failed.tolist()) if f]
    return out, failed


def test_strip_prefix_takes_the_longest_matching_prefix_only():
    out, failed = run("strip_prefix", ["PO-4711", "PO4712", "4713", "XPO-1", None, "PO-"], ["PO", "PO-"])
    assert out == ["4711", "4712", "4713", "XPO-1", None, None]
    assert failed == []


def test_split_picks_a_part_and_a_missing_part_is_empty():
    out, _ = run("split", ["4500012345/00010", "4500012346", None], {"separator": "/", "index": 1})
    assert out == ["00010", None, None]
    out, _ = run("split", ["A-B-C"], {"separator": "-", "index": -1})
    assert out == ["C"]


def test_jde_time_formats_and_refuses_impossible_times():
    out, failed = run("jde_time", [143005, 93000, 0, 246000, 75])
    assert out[:3] == ["14:30:05", "09:30:00", "00:00:00"]
    assert out[4] == "00:00:75" or 4 in failed
    assert failed == [3, 4]


def test_jde_julian_datetime_joins_date_and_time():
    out, failed = run("jde_julian_datetime", ["126032|143005", "126032|", "0|0", "126400|120000", "126032|990000"])
    assert out[0] == pd.Timestamp("2026-02-01 14:30:05")
    assert out[1] == pd.Timestamp("2026-02-01 00:00:00")
    assert out[2] is None
    assert failed == [3, 4]


def test_currency_code_accepts_alpha_numeric_and_aliases_and_refuses_the_rest():
    out, failed = run("currency_code", ["usd", " EUR ", "840", "978", "US$", "XXQ", None],
                      {"aliases": {"US$": "USD"}})
    assert out == ["USD", "EUR", "USD", "EUR", "USD", None, None]
    assert failed == [5]


def test_convert_units_by_factor_and_unknown_units_fail():
    out, failed = run("convert_units", ["10|LB", "2.5|kg", "500|G", "3|", "4|OZT", "x|KG"],
                      {"to": "KG", "factors": {"LB": 0.45359237, "G": 0.001}})
    assert out[0] == pytest.approx(4.5359237)
    assert out[1:4] == [2.5, 0.5, 3.0]
    assert failed == [4, 5]


def test_argument_problems_are_reported_with_the_key_path(tmp_path):
    bad = {
        "entity": "po_line",
        "where": [{"column": "LNTY", "in": "S"}, {"column": "X", "like": "Y"}],
        "source_key": {"from": "ID"},
        "fields": {
            "po_number": {"from": "PO", "transforms": [{"strip_prefix": 5}]},
            "line_number": {"from": "LN", "then": ["upper"]},
            "site": {"from": "S", "transforms": [{"split": {"separator": "/"}}]},
            "qty_ordered": {"from": ["Q", "U"], "then": [{"convert_units": {"to": "KG", "factors": {"LB": -1}}}]},
            "unit_price": {"from": "P", "transforms": [{"lookup": {"entity": "supplier", "match": "nope",
                                                                   "value": "name"}}]},
            "currency": {"from": "C", "transforms": [{"currency_code": {"alias": {}}}]},
            "status": {"value": "open"},
        },
    }
    with pytest.raises(MappingSpecError) as err:
        load_spec(spec_file(tmp_path, bad))
    problems = "\n".join(err.value.problems)
    for where in ("where[0].in", "where[1]:", "fields.po_number.transforms[0]: strip_prefix",
                  "fields.line_number.then", "fields.site.transforms[0]: split",
                  "fields.qty_ordered.then[0]: convert_units", "fields.unit_price.transforms[0]: lookup match",
                  "fields.currency.transforms[0]: currency_code"):
        assert where in problems, where
    assert len(err.value.problems) == 8


RECEIPTS = {
    "entity": "receipt",
    "where": [{"column": "MOVE_TYPE", "in": ["101", "102"]}, {"column": "CANCELLED", "present": False}],
    "source_key": {"from": ["EBELN", "BELNR"], "transforms": ["strip_padding"]},
    "fields": {
        "receipt_id": {"from": "BELNR"},
        "po_number": {"from": "EBELN", "transforms": ["strip_leading_zeros"]},
        "line_number": {"from": "EBELP", "transforms": ["strip_leading_zeros"]},
        "site": {"from": "EBELN", "transforms": ["strip_leading_zeros", {"lookup": {
            "entity": "purchase_order", "match": "po_number", "value": "site"}}]},
        "qty": {"from": ["MENGE", "MEINS"], "then": [{"convert_units": {"to": "EA", "factors": {"DZ": 12}}}]},
        "receipt_date": {"from": "BUDAT", "transforms": [{"parse_date": "%Y%m%d"}]},
    },
}


def receipts_batch() -> pd.DataFrame:
    return pd.DataFrame({
        "EBELN": ["0045000001", "0045000001", "0045000002", "0045000003", "0045000001", "0045000009"],
        "BELNR": ["5001", "5002", "5003", "5004", "5005", "5006"],
        "EBELP": ["00010", "00020", "00010", "00010", "00010", "00010"],
        "MOVE_TYPE": ["101", "101 ", "201", "101", "102", "101"],
        "CANCELLED": [None, "", None, None, "X", None],
        "MENGE": ["2", "1", "5", "3", "1", "1"],
        "MEINS": ["DZ", "EA", "EA", "BOX", "EA", "EA"],
        "BUDAT": ["20261101"] * 6,
    })


def test_where_skips_rows_and_then_and_lookup_map_the_rest(tmp_path):
    fetched = []

    def fetch(entity, match, value):
        fetched.append((entity, match, value))
        return pd.DataFrame({"po_number": ["45000001", "45000003", "45000009", "45000009"],
                             "site": ["NORTH", "SOUTH", "NORTH", "SOUTH"]})

    spec = load_spec(spec_file(tmp_path, RECEIPTS))
    lookups = Lookups(fetch)
    result = map_batch(spec, receipts_batch(), lookups=lookups, **RUN)
    # 201 is another movement type and 5005 was cancelled: skipped, neither mapped nor quarantined
    assert result.skipped == 2
    assert len(result.mapped) + len(result.quarantined["row"].unique()) + result.skipped == 6
    rows = result.mapped.set_index("receipt_id")
    assert rows.loc["5001", "qty"] == 24.0 and rows.loc["5001", "site"] == "NORTH"
    assert rows.loc["5002", "qty"] == 1.0 and rows.loc["5002", "po_number"] == "45000001"
    reasons = result.quarantined.set_index("source_key")
    # BOX has no factor; PO 45000009 is both NORTH and SOUTH, so the look-up is ambiguous
    assert reasons.loc["0045000003|5004", "check"] == "convert_units"
    assert reasons.loc["0045000009|5006", "check"] == "lookup"
    assert "several with different site" in reasons.loc["0045000009|5006", "reason"]
    map_batch(spec, receipts_batch(), lookups=lookups, **RUN)
    assert fetched == [("purchase_order", "po_number", "site")]  # once per Lookups, not per batch


def test_lookup_missing_empty_leaves_the_field_empty(tmp_path):
    spec = dict(RECEIPTS, where=None)
    del spec["where"]
    spec["fields"] = dict(spec["fields"])
    spec["fields"]["site"] = {"from": "EBELN", "transforms": [
        "strip_leading_zeros", {"lookup": {"entity": "purchase_order", "match": "po_number", "value": "site",
                                           "missing": "empty"}}, {"default": "UNKNOWN"}]}
    loaded = load_spec(spec_file(tmp_path, spec))
    result = map_batch(loaded, receipts_batch().iloc[:1], lookups=Lookups(
        lambda *_: pd.DataFrame({"po_number": ["1"], "site": ["NORTH"]})), **RUN)
    assert result.mapped["site"].tolist() == ["UNKNOWN"]


def test_lookup_outside_the_pipeline_says_so(tmp_path):
    with pytest.raises(MappingSpecError, match="lookup"):
        map_batch(load_spec(spec_file(tmp_path, RECEIPTS)), receipts_batch(), **RUN)


def test_a_constant_of_the_wrong_type_is_a_spec_problem(tmp_path):
    spec = {"entity": "po_line", "source_key": {"from": "ID"}, "fields": {
        "po_number": {"from": "PO"}, "line_number": {"from": "LN"}, "site": {"value": "NORTH"},
        "qty_ordered": {"value": "twelve"}, "unit_price": {"value": 1.5}, "status": {"value": "open"},
        "need_by_date": {"value": "2026-13-01"}, "is_service": {"value": "Y"}}}
    with pytest.raises(MappingSpecError) as err:
        load_spec(spec_file(tmp_path, spec))
    assert err.value.problems == [
        "fields.qty_ordered.value: 'twelve' is not a decimal (qty_ordered is a decimal field)",
        "fields.need_by_date.value: '2026-13-01' is not a date (need_by_date is a date field)"]
