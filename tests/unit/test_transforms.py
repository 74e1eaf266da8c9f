"""Named transforms: each one on realistic legacy values, including the values it must refuse."""

import pandas as pd
import pytest

from mappings.transforms import TRANSFORMS


def run(name, values, arg=None):
    step = TRANSFORMS[name].func(pd.Series(values), arg)
    failed = list(step.failed) if step.failed is not None else [False] * len(values)
    return list(step.values), failed


def test_strip_padding_trims_char_columns_and_blanks_become_empty():
    values, _ = run("strip_padding", ["  P100", "AB  ", "     ", None])
    assert values[:2] == ["P100", "AB"]
    assert pd.isna(values[2]) and pd.isna(values[3])


def test_strip_leading_zeros_keeps_a_single_zero():
    values, _ = run("strip_leading_zeros", ["00012", "0000", "A001", 42.0])
    assert values == ["12", "0", "A001", "42"]


def test_pad_leading_zeros():
    assert run("pad_leading_zeros", ["123", 7], 8)[0] == ["00000123", "00000007"]


@pytest.mark.parametrize("raw,expected", [
    (126032, "2026-02-01"),   # C=1 -> 2000s
    (99365, "1999-12-31"),    # C=0 -> 1900s
    (124366, "2024-12-31"),   # leap year has day 366
    ("126001", "2026-01-01"),
])
def test_jde_julian_date(raw, expected):
    values, failed = run("jde_julian_date", [raw])
    assert values[0] == pd.Timestamp(expected)
    assert failed == [False]


@pytest.mark.parametrize("raw", [126366, 126400, 126000, "12X001", -5])
def test_jde_julian_date_refuses_impossible_days(raw):
    values, failed = run("jde_julian_date", [raw])
    assert failed == [True]
    assert pd.isna(values[0])


def test_jde_julian_zero_and_empty_mean_no_date():
    values, failed = run("jde_julian_date", [0, None])
    assert failed == [False, False]
    assert all(pd.isna(v) for v in values)


def test_implied_decimals_and_bad_numbers():
    values, failed = run("implied_decimals", [12345, "500", "12a", None], 2)
    assert values[:2] == [123.45, 5.0]
    assert failed == [False, False, True, False]


def test_code_map_fails_unknown_codes_without_default():
    values, failed = run("code_map", ["220", " 999", "555", None], {"map": {220: "open", "999": "closed"}})
    assert values[:2] == ["open", "closed"]
    assert failed == [False, False, True, False]


def test_code_map_default_catches_unknown_codes():
    values, failed = run("code_map", ["X", "A"], {"map": {"A": "approved"}, "default": "other"})
    assert values == ["other", "approved"] and failed == [False, False]


def test_to_bool_default_words_and_refusal():
    values, failed = run("to_bool", ["Y", "0", "true", "maybe", None])
    assert values[:3] == [True, False, True]
    assert failed == [False, False, False, True, False]


def test_parse_date_with_explicit_format():
    values, failed = run("parse_date", ["31.12.2025", "2025-12-31"], "%d.%m.%Y")
    assert values[0] == pd.Timestamp("2025-12-31")
    assert failed == [False, True]


def test_sentinel_dates_become_empty():
    values, _ = run("sentinel_date_to_null", ["1900-01-01", "2026-03-01 10:00:00", "9999-12-31"])
    assert pd.isna(values[0]) and pd.isna(values[2]) and values[1] == "2026-03-01 10:00:00"


def test_negate_and_multiply():
    assert run("negate", [-3, 2])[0] == [3.0, -2.0]
    assert run("multiply", [2, 4], 0.5)[0] == [1.0, 2.0]


def test_zero_to_null_empties_jde_zeros_only():
    values, failed = run("zero_to_null", [0, 3000, "0", None, "x"])
    assert pd.isna(values[0]) and values[1] == 3000 and pd.isna(values[2]) and pd.isna(values[3])
    assert failed == [False, False, False, False, True]


def test_present_tells_blank_from_non_blank():
    values, failed = run("present", ["J. Inspector", "  ", None, 0])
    assert values == [True, False, False, True] and failed == [False] * 4
