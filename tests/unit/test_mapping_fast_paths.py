"""The vectorized paths of the mapping engine give what the plain, value-by-value rendering gives.

Text of numbers and dates, blank detection, padding, record hashes and transforms run once per
distinct value are all checked against a reference computed the slow, obvious way.
"""

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mappings.engine import _hex16, map_batch, record_hash
from mappings.spec import load_spec
from mappings.transforms import TRANSFORMS, as_text, blank_to_na, code_map, render_distinct, strip_padding

SPEC = Path(__file__).resolve().parents[2] / "mappings" / "specs" / "demo_jde" / "F4311.yaml"


def test_integers_as_text_are_written_as_python_writes_them():
    values = pd.Series([0, -7, 4700001, 2**62], dtype="int64")
    assert as_text(values).tolist() == ["0", "-7", "4700001", str(2**62)]
    nullable = pd.Series([12, None], dtype="Int64")
    assert as_text(nullable).tolist()[0] == "12" and pd.isna(as_text(nullable).tolist()[1])
    assert as_text(values).dtype == pd.Series(["x"]).astype("string").dtype


def test_floats_as_text_integral_without_point_others_as_python_writes_them():
    values = pd.Series([1.0, -0.0, 2.5, np.nan, 1e16, 0.1 + 0.2, 2.5, 1.0])
    text = as_text(values).tolist()
    assert text[:3] == ["1", "0", "2.5"]
    assert pd.isna(text[3])
    assert text[4:] == ["1e+16", "0.30000000000000004", "2.5", "1"]


def test_rendering_distinct_values_keeps_negative_zero_apart():
    values = pd.Series([0.0, -0.0, 0.0, 1.5, np.nan, -0.0], index=range(10, 16), name="qty")
    rendered = render_distinct(values, lambda s: s.astype("string"))
    pd.testing.assert_series_equal(rendered, values.astype("string"))
    assert rendered.tolist()[:2] == ["0.0", "-0.0"]


def test_dates_as_text_are_days():
    values = pd.Series(pd.to_datetime(["2026-01-31", None, "2026-01-31"])).astype("datetime64[us]")
    text = as_text(values).tolist()
    assert text[0] == text[2] == "2026-01-31" and pd.isna(text[1])


@pytest.mark.parametrize("dtype", ["str", "string", object])
def test_blank_values_become_missing_whatever_the_kind_of_space(dtype):
    raw = ["", "   ", "\u3000\u00a0", "\t\n", " a ", "x", None]
    result = blank_to_na(pd.Series(raw, dtype=dtype)).tolist()
    assert all(pd.isna(v) for v in result[:4]) and pd.isna(result[6])
    assert result[4:6] == [" a ", "x"]


def test_strip_padding_trims_as_python_strips():
    raw = ["  P100  ", "\u3000Werk\u00a0", "\x1c", "   ", "", "für ", None]
    values = strip_padding(pd.Series(raw, dtype="str")).values.tolist()
    assert values[:2] == ["P100", "Werk"]
    assert all(pd.isna(v) for v in values[2:5]) and pd.isna(values[6])
    assert values[5] == "für"


def test_code_map_with_missing_values_types_its_result_as_over_the_whole_column():
    arg = {"map": {"S": 1, "J": 2}}
    values = pd.Series(["S", None, "J", "S", "X", None] * 3, dtype="str")
    step = code_map(values, arg)
    # the per-distinct path must give what mapping every row gives
    text = blank_to_na(as_text(values)).str.strip()
    expected = text.map({"S": 1, "J": 2})
    pd.testing.assert_series_equal(step.values, expected)
    assert step.failed.tolist() == [False, False, False, False, True, False] * 3


def test_hex_digits_are_those_of_format():
    numbers = np.array([0, 1, 2**64 - 1, 0x0123456789ABCDEF, 2**63], dtype=np.uint64)
    assert _hex16(numbers).to_pylist() == [f"{int(n):016x}" for n in numbers]


def test_record_hash_is_the_hash_of_each_value_as_text():
    frame = pd.DataFrame({
        "qty": [1.5, -0.0, 0.0, np.nan, 1.5],
        "when": pd.to_datetime(["2026-01-01", None, "2026-01-01", "2026-02-01", "2026-01-01"]).astype("datetime64[us]"),
        "flag": pd.array([True, None, False, True, True], dtype="boolean"),
        "n": pd.array([1, 2, None, 1, 1], dtype="Int64"),
        "text": pd.Series(["a", None, "b", "a", "a"], dtype="string"),
    })
    columns = tuple(frame.columns)
    reference = pd.util.hash_pandas_object(frame.astype("string"), index=False).map("{:016x}".format)
    assert record_hash(frame, columns).tolist() == reference.tolist()
    assert record_hash(frame, columns).iloc[0] == record_hash(frame, columns).iloc[4]


def test_jde_julian_dates_beyond_year_9999_fail_instead_of_stopping_the_batch():
    step = TRANSFORMS["jde_julian_date"].func(pd.Series([126001, 8099365, 8100001, 9999365]), None)
    assert step.values.tolist()[:2] == [pd.Timestamp("2026-01-01"), pd.Timestamp("9999-12-31")]
    assert step.values.isna().tolist() == [False, False, True, True]
    assert step.failed.tolist() == [False, False, True, True]
    assert step.values.dtype == "datetime64[us]"


def _po_lines(rows: int) -> pd.DataFrame:
    """F4311 rows with repeated codes, dates and units, and a few values the spec must refuse."""
    g = np.arange(rows)
    text = lambda values: pd.Series(values, dtype="str")  # noqa: E731
    batch = pd.DataFrame({
        "PDKCOO": text(["00100"] * rows), "PDDOCO": 4700000 + g // 4, "PDDCTO": text(["OP"] * rows),
        "PDSFXO": text(["000"] * rows), "PDLNID": (g % 4 + 1) * 1000,
        "PDMCU": text(np.where(g % 7 == 0, "        P110", "        P100")),
        "PDAN8": 10000 + g % 5, "PDLITM": text([f"PART-{i % 9:<20}" for i in g]),
        "PDDSC1": text([f"Dichtung für Pumpe {i % 3}  " for i in g]),
        "PDLNTY": text(np.choose(g % 3, ["S ", "J ", "OP"])),
        "PDUORG": ((g % 5 + 1) * 100).astype("int64"), "PDUREC": ((g % 5) * 100).astype("int64"),
        "PDPRRC": ((g % 11 + 1) * 100).astype("int64"), "PDUOM": text(["EA"] * rows),
        "PDPDDJ": 126030 + g % 3, "PDRORN": text([f"{i % 6:08d}    " for i in g]),
        "PDRLLN": (g % 3) * 100, "PDLTTR": text(np.choose(g % 3, ["400", "220", "999"])),
        "PDCRCD": text(["USD"] * rows), "PDANI": text(["P100.1310.01"] * rows),
    })
    batch.loc[5, "PDLTTR"] = "777"        # a status the code map does not know
    batch.loc[9, "PDPDDJ"] = 126400       # day 400 is no date
    batch.loc[13, "PDMCU"] = "        P999"
    return batch


def test_mapping_a_batch_equals_mapping_its_rows_one_by_one():
    """Transforms run once per distinct value of a column; row by row, every value is its own."""
    spec = load_spec(SPEC)
    batch = _po_lines(60)
    kwargs = dict(source_system="erp", run_id="r1", extracted_at=datetime(2026, 6, 30))
    whole = map_batch(spec, batch, **kwargs)
    singles = [map_batch(spec, batch.iloc[[i]], **kwargs) for i in range(len(batch))]

    expected = pd.concat([s.mapped for s in singles], ignore_index=True)
    pd.testing.assert_frame_equal(whole.mapped, expected.astype(whole.mapped.dtypes.to_dict()))
    assert len(whole.mapped) == 57
    failed = [(q.source_key, q.field, q.check, q.reason) for s in singles for q in s.quarantined.itertuples()]
    assert [(q.source_key, q.field, q.check, q.reason) for q in whole.quarantined.itertuples()] == failed
    assert [q[1] for q in failed] == ["status", "need_by_date", "site"]


def test_arrow_batches_map_as_their_pandas_form():
    """Batches arrive from the connectors as Arrow tables: their strings stay Arrow-backed."""
    spec = load_spec(SPEC)
    batch = _po_lines(40)
    from_arrow = pa.Table.from_pandas(batch, preserve_index=False).to_pandas()
    kwargs = dict(source_system="erp", run_id="r1", extracted_at=datetime(2026, 6, 30))
    pd.testing.assert_frame_equal(map_batch(spec, from_arrow, **kwargs).mapped, map_batch(spec, batch, **kwargs).mapped)


def test_float_text_for_hashing_is_the_text_pandas_writes():
    from mappings.engine import _float_text

    rng = np.random.default_rng(17)
    mantissa = rng.integers(1, 10 ** rng.integers(1, 15, 200_000), dtype=np.int64)
    values = mantissa / 10.0 ** rng.integers(0, 12, 200_000)
    values = values[(values >= 1e-4) & (values < 1e10)]
    in_arrow_range = pd.Series(np.concatenate([values, -values[:1000], [np.nan, 0.0, -0.0, 1e-4, 9_999_999_999.5]]))
    # Arrow's notation differs outside its range (1e+10, 1e-05): such a column is formatted by pandas
    with_outliers = pd.Series([1.5, 1e10, 1e-5, 1e300, 123456789012345.0])
    for column in (in_arrow_range, with_outliers):
        assert _float_text(column).fillna("<NA>").tolist() == column.astype("string").fillna("<NA>").tolist()
