"""Named legacy transforms, referenced by name from mapping specs.

Each transform takes a pandas Series (one source column, a whole batch) and its argument from the
spec, and returns a ``Step``: the new Series and, where it can fail, a boolean mask of the rows it
could not transform with the reason. Everything is vectorized; no transform loops over rows.

Transforms are element-wise: a value's result never depends on the other values of the batch.
The engine relies on it to run a field's transforms once per distinct source value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SENTINEL_DATES = ("1900-01-01", "1899-12-30", "1899-12-31", "0001-01-01", "9999-12-31")
TRUE_WORDS = ("1", "Y", "YES", "TRUE", "T", "X")
FALSE_WORDS = ("0", "N", "NO", "FALSE", "F")


@dataclass
class Step:
    """Result of one transform over a batch column."""

    values: pd.Series
    failed: pd.Series | None = None  # True where the row could not be transformed
    reason: str = ""


@dataclass(frozen=True)
class Transform:
    """A named transform: the function, how its argument is checked, and a one-line doc."""

    name: str
    #: None for transforms the engine resolves itself (``lookup`` reads the warehouse)
    func: Callable[[pd.Series, Any], Step] | None
    check_arg: Callable[[Any], str | None]
    doc: str


# ---------------------------------------------------------------- helpers

def is_text(s: pd.Series) -> bool:
    """True for string-like columns (pandas str/string dtypes or object)."""
    return pd.api.types.is_string_dtype(s.dtype) or s.dtype == object


def _scalar_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (date,)):
        return value.isoformat()
    return str(value)


def _arrow_strings(text: pd.Series) -> pa.Array | None:
    """The Arrow array under a ``string`` Series, or None when pandas keeps its strings as objects."""
    if getattr(text.dtype, "storage", None) != "pyarrow":
        return None
    return pa.array(text.array)


def _string_series(array: pa.Array, like: pd.Series) -> pd.Series:
    """An Arrow string array as a ``string`` Series with the index and name of ``like``."""
    return pd.Series(pd.arrays.ArrowStringArray(array), index=like.index, name=like.name)


class Distinct:
    """The distinct values of a column and, for each row, the position of its value among them.

    Batch columns repeat their values (codes, units, dates, prices): an element-wise transform or
    rendering run over the distinct values and spread back to the rows gives the same column for
    a fraction of the work.
    """

    def __init__(self, values: pd.Series, codes: np.ndarray, index: pd.Index):
        self.values, self.codes, self.index = values, codes, index

    @classmethod
    def of(cls, column: pd.Series) -> Distinct | None:
        """None where it does not pay (mostly distinct values) or is not sound (object columns, whose
        1, 1.0 and True are one key but three texts). The missing value counts as a value."""
        if column.dtype == object:
            return None
        if isinstance(column.dtype, np.dtype) and column.dtype.kind == "f":
            # by bits, so that -0.0 stays apart from 0.0 (they print differently)
            numbers = column.to_numpy()
            codes, bits = pd.factorize(numbers.view(f"i{numbers.dtype.itemsize}"))
            distinct = pd.Series(bits.view(numbers.dtype), name=column.name)
        else:
            codes, uniques = pd.factorize(column, use_na_sentinel=False)
            distinct = pd.Series(uniques, dtype=column.dtype, name=column.name)
        if len(distinct) > len(column) // 2:
            return None
        return cls(distinct, codes, column.index)

    def spread(self, values: pd.Series) -> pd.Series:
        """Results per distinct value (in the order of ``self.values``) as results per row."""
        return values.iloc[self.codes].set_axis(self.index)


def render_distinct(s: pd.Series, render: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``render(s)`` for an element-wise rendering (number or date to text), once per distinct value."""
    distinct = Distinct.of(s)
    return render(s) if distinct is None else distinct.spread(render(distinct.values))


def on_distinct(s: pd.Series, transform: Callable[[pd.Series], Step]) -> Step:
    """``transform(s)`` for an element-wise transform, run once per distinct value."""
    distinct = Distinct.of(s)
    if distinct is None:
        return transform(s)
    step = transform(distinct.values)
    return Step(distinct.spread(step.values), None if step.failed is None else distinct.spread(step.failed),
                step.reason)


#: bytes a blank (all-space) UTF-8 string can start with: ASCII spaces and controls Arrow counts as
#: space, and the lead bytes of U+0085, U+00A0, U+1680, U+2000..U+205F and U+3000
_SPACE_LEAD_BYTE = np.zeros(256, dtype=bool)
_SPACE_LEAD_BYTE[[*range(9, 14), *range(28, 33), 0xC2, 0xE1, 0xE2, 0xE3]] = True


def _blank_strings(chunk: pa.Array) -> np.ndarray:
    """Which strings of one Arrow string chunk are empty or all space (NA: False).

    Reads the offsets and first bytes straight from the buffers, and asks Arrow's ``utf8_is_space``
    only about the few strings that start like a space: scanning every string of every text column
    was the largest part of typing a million-row frame.
    """
    size = len(chunk)
    if not size:
        return np.zeros(0, dtype=bool)
    _, offset_buffer, data_buffer = chunk.buffers()
    offset_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(offset_buffer, dtype=offset_type)[chunk.offset:chunk.offset + size + 1]
    valid = chunk.is_valid().to_numpy(zero_copy_only=False) if chunk.null_count else np.ones(size, dtype=bool)
    starts = offsets[:-1]
    filled = (offsets[1:] > starts) & valid
    blank = ~filled & valid
    if data_buffer is not None and filled.any():
        data = np.frombuffer(data_buffer, dtype=np.uint8)
        maybe = np.flatnonzero(filled)
        maybe = maybe[_SPACE_LEAD_BYTE[data[starts[maybe]]]]
        if len(maybe):
            blank[maybe] = np.asarray(pc.utf8_is_space(chunk.take(pa.array(maybe))).to_numpy(zero_copy_only=False),
                                      dtype=bool)
    return blank


def blank_mask(strings: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which values of an Arrow string array are empty or all space, as a boolean array (NA: False)."""
    chunks = strings.chunks if isinstance(strings, pa.ChunkedArray) else [strings]
    return np.concatenate([_blank_strings(chunk) for chunk in chunks]) if chunks else np.zeros(0, dtype=bool)


def blank_to_na(s: pd.Series) -> pd.Series:
    """Empty and all-blank strings become missing."""
    if not is_text(s):
        return s
    text = s.astype("string")
    strings = _arrow_strings(text)
    if strings is None:
        return text.mask(text.str.strip() == "")
    blank = blank_mask(strings)
    if not blank.any():
        return text
    return text.mask(blank)


def as_text(s: pd.Series) -> pd.Series:
    """Render any column as text; integral floats lose their trailing ``.0``."""
    if s.dtype == object:
        # mixed columns (legacy free-text, driver objects) are rare and small: element by element
        return s.map(_scalar_text, na_action="ignore").astype("string")
    if is_text(s):
        return s.astype("string")
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("string")
    if pd.api.types.is_integer_dtype(s.dtype) and pd.StringDtype().storage == "pyarrow":
        # Arrow writes integers as str() does, without a Python object per value
        return _string_series(pc.cast(pa.array(s), pa.string()), s)
    if pd.api.types.is_float_dtype(s.dtype):
        return render_distinct(s, _float_text)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return render_distinct(s, lambda d: d.dt.strftime("%Y-%m-%d").astype("string"))
    return s.astype("string")


def _float_text(s: pd.Series) -> pd.Series:
    integral = s.notna() & np.isfinite(s) & (s == np.floor(s)) & (s.abs() < 2**53)
    out = s.astype("string")
    if integral.any():
        out = out.mask(integral, s.where(integral).astype("Int64").astype("string"))
    return out


def as_number(s: pd.Series) -> Step:
    """Parse a column as numbers; non-empty values that are not numbers fail."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return Step(s.astype("float64"))
    text = blank_to_na(as_text(s))
    numbers = pd.to_numeric(text.str.strip(), errors="coerce").astype("float64")
    failed = text.notna() & numbers.isna()
    return Step(numbers, failed, "not a number")


def as_datetime(s: pd.Series, fmt: str | None = None) -> Step:
    """Parse a column as timestamps (ISO 8601 unless ``fmt`` is given); unparseable values fail."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return Step(s)
    if s.dtype == object and not s.dropna().empty and all(isinstance(v, date) for v in s.dropna().head(50)):
        values = pd.to_datetime(s, errors="coerce")
        return Step(values, s.notna() & values.isna(), "not a date")
    text = blank_to_na(as_text(s))
    values = pd.to_datetime(text.str.strip(), format=fmt or "ISO8601", errors="coerce")
    return Step(values, text.notna() & values.isna(), f"does not match the date format {fmt or 'ISO 8601'}")


# ---------------------------------------------------------------- argument checks

def _no_arg(arg: Any) -> str | None:
    return None if arg is None else "takes no argument"


def _int_arg(arg: Any) -> str | None:
    return None if isinstance(arg, int) and not isinstance(arg, bool) and arg >= 0 else "needs a whole number >= 0"


def _number_arg(arg: Any) -> str | None:
    return None if isinstance(arg, (int, float)) and not isinstance(arg, bool) else "needs a number"


def _text_arg(arg: Any) -> str | None:
    return None if isinstance(arg, str) and arg else "needs a non-empty text"


def _optional_text_arg(arg: Any) -> str | None:
    return None if arg is None or (isinstance(arg, str) and arg) else "needs a format text (strptime) or nothing"


def _any_scalar(arg: Any) -> str | None:
    return None if arg is None or isinstance(arg, (str, int, float, bool, date)) else "needs a scalar value"


def _code_map_arg(arg: Any) -> str | None:
    if not isinstance(arg, dict) or "map" not in arg:
        return "needs {map: {code: value}, default: value}"
    unknown = set(arg) - {"map", "default"}
    if unknown:
        return f"unknown keys {sorted(unknown)}; valid: map, default"
    if not isinstance(arg["map"], dict) or not arg["map"]:
        return "map must be a non-empty mapping of source code to canonical value"
    return None


def _bool_arg(arg: Any) -> str | None:
    if arg is None:
        return None
    if not isinstance(arg, dict) or set(arg) - {"true", "false", True, False}:
        return "needs {true: [...], false: [...]} or nothing"
    return None


def _dates_arg(arg: Any) -> str | None:
    if arg is None:
        return None
    if not isinstance(arg, list) or not all(isinstance(d, (str, date)) for d in arg):
        return "needs a list of dates (YYYY-MM-DD) or nothing"
    return None


def _prefixes_arg(arg: Any) -> str | None:
    if isinstance(arg, str) and arg:
        return None
    if isinstance(arg, list) and arg and all(isinstance(p, str) and p for p in arg):
        return None
    return "needs a prefix text or a list of them"


def _split_arg(arg: Any) -> str | None:
    if not isinstance(arg, dict) or set(arg) != {"separator", "index"}:
        return "needs {separator: text, index: whole number}"
    if not isinstance(arg["separator"], str) or not arg["separator"]:
        return "separator must be a non-empty text"
    if not isinstance(arg["index"], int) or isinstance(arg["index"], bool):
        return "index must be a whole number (0 is the first part, -1 the last)"
    return None


def _currency_arg(arg: Any) -> str | None:
    if arg is None:
        return None
    if not isinstance(arg, dict) or set(arg) - {"aliases"} or not isinstance(arg.get("aliases"), dict):
        return "needs nothing or {aliases: {source spelling: ISO code}}"
    return None


def _units_arg(arg: Any) -> str | None:
    if not isinstance(arg, dict) or set(arg) != {"to", "factors"}:
        return "needs {to: unit, factors: {unit: how many `to` units one of it is}}"
    if not isinstance(arg["to"], str) or not arg["to"]:
        return "to must be a unit code"
    factors = arg["factors"]
    if not isinstance(factors, dict) or not factors or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in factors.values()):
        return "factors must map unit codes to positive numbers"
    return None


def _codes_arg(arg: Any) -> str | None:
    if isinstance(arg, list) and arg and all(isinstance(c, (str, int)) and not isinstance(c, bool) for c in arg):
        return None
    return "needs a list of codes"


def _lookup_arg(arg: Any) -> str | None:
    from mappings.canonical import ENTITIES

    if not isinstance(arg, dict) or not {"entity", "match", "value"} <= set(arg) or set(arg) - {
            "entity", "match", "value", "missing"}:
        return "needs {entity: canonical entity, match: its field, value: its field, missing: fail|empty}"
    entity = ENTITIES.get(arg["entity"])
    if entity is None:
        return f"entity {arg['entity']!r} is not a canonical entity; valid: {', '.join(ENTITIES)}"
    fields = ("source_key", *entity.field_names)
    for key in ("match", "value"):
        if arg[key] not in fields:
            return f"{key}: {entity.name} has no field {arg[key]!r}; valid: {', '.join(fields)}"
    if arg.get("missing", "fail") not in ("fail", "empty"):
        return "missing must be fail (quarantine the row) or empty"
    return None


# ---------------------------------------------------------------- transforms

def strip_padding(s: pd.Series, _arg=None) -> Step:
    if not is_text(s):
        return Step(s)
    text = s.astype("string")
    strings = _arrow_strings(text)
    if strings is None:
        return Step(blank_to_na(text.str.strip()))
    trimmed = pc.utf8_trim_whitespace(strings)
    # once trimmed, a blank value is an empty one
    empty = pc.equal(pc.binary_length(trimmed), 0)
    if pc.any(empty).as_py():
        trimmed = pc.if_else(empty, pa.scalar(None, trimmed.type), trimmed)
    return Step(_string_series(trimmed, text))


def strip_leading_zeros(s: pd.Series, _arg=None) -> Step:
    text = blank_to_na(as_text(s))
    stripped = text.str.lstrip("0")
    return Step(stripped.mask(text.notna() & (stripped == ""), "0"))


def pad_leading_zeros(s: pd.Series, width: int) -> Step:
    return Step(blank_to_na(as_text(s)).str.zfill(width))


def upper(s: pd.Series, _arg=None) -> Step:
    return Step(as_text(s).str.upper())


def lower(s: pd.Series, _arg=None) -> Step:
    return Step(as_text(s).str.lower())


def to_text(s: pd.Series, _arg=None) -> Step:
    return Step(blank_to_na(as_text(s)))


def to_number(s: pd.Series, _arg=None) -> Step:
    return as_number(s)


def implied_decimals(s: pd.Series, places: int) -> Step:
    step = as_number(s)
    return Step(step.values / (10**places), step.failed, step.reason)


def negate(s: pd.Series, _arg=None) -> Step:
    step = as_number(s)
    return Step(-step.values, step.failed, step.reason)


def multiply(s: pd.Series, factor: float) -> Step:
    step = as_number(s)
    return Step(step.values * factor, step.failed, step.reason)


def jde_julian_date(s: pd.Series, _arg=None) -> Step:
    """JD Edwards CYYDDD: C = centuries after 1900, YY year, DDD day of year; 0 means no date."""
    step = as_number(s)
    numbers = step.values
    failed = step.failed if step.failed is not None else pd.Series(False, index=s.index)
    present = numbers.notna() & (numbers != 0)
    whole = present & (numbers == np.floor(numbers)) & (numbers > 0)
    year = (1900 + (numbers // 1000)).where(whole)
    day = (numbers % 1000).where(whole)
    leap = _is_leap(year)
    # a five-digit year is not a date anyone keyed in (and has no ISO form): the row fails
    valid = whole & (year <= 9999) & (day >= 1) & ((day <= 365) | ((day == 366) & leap))
    # calendar arithmetic in numpy: January 1st of the year, plus the day of the year
    years = year.where(valid).fillna(1970).astype("int64").to_numpy()
    days = day.where(valid).fillna(1).astype("int64").to_numpy()
    first_of_year = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    dates = pd.Series((first_of_year + (days - 1)).astype("datetime64[us]"), index=s.index).where(valid)
    bad = (present & ~valid) | failed
    return Step(dates, bad, "not a JD Edwards Julian date (CYYDDD)")


def _is_leap(year: pd.Series) -> pd.Series:
    y = year.fillna(1).astype("int64")
    return ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)


def parse_date(s: pd.Series, fmt: str | None) -> Step:
    step = as_datetime(s, fmt)
    return Step(step.values.dt.normalize(), step.failed, step.reason)


def parse_datetime(s: pd.Series, fmt: str | None) -> Step:
    return as_datetime(s, fmt)


def sentinel_date_to_null(s: pd.Series, dates: list | None) -> Step:
    sentinels = [str(d) for d in (dates or SENTINEL_DATES)]
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        day = s.dt.strftime("%Y-%m-%d")
    else:
        day = as_text(s).str.strip().str[:10]
    return Step(s.mask(day.isin(sentinels)))


def code_map(s: pd.Series, arg: dict) -> Step:
    # a code column holds a handful of codes: look each one up once
    return on_distinct(as_text(s), lambda distinct: _code_map(distinct, arg))


def _code_map(s: pd.Series, arg: dict) -> Step:
    mapping = {str(k).strip(): v for k, v in arg["map"].items()}
    text = blank_to_na(as_text(s)).str.strip()
    mapped = text.map(mapping)
    if "default" in arg:
        return Step(mapped.where(text.isna() | text.isin(list(mapping)), arg["default"]))
    failed = text.notna() & ~text.isin(list(mapping))
    return Step(mapped, failed, f"code not in the map (known codes: {', '.join(sorted(mapping))})")


def to_bool(s: pd.Series, arg: dict | None) -> Step:
    if pd.api.types.is_bool_dtype(s.dtype):
        return Step(s.astype("boolean"))
    # a yes/no column holds a handful of spellings: read each one once
    return on_distinct(as_text(s), lambda distinct: _text_to_bool(distinct, arg))


def _text_to_bool(s: pd.Series, arg: dict | None) -> Step:
    truthy = [str(v).upper() for v in ((arg or {}).get("true") or (arg or {}).get(True) or TRUE_WORDS)]
    falsy = [str(v).upper() for v in ((arg or {}).get("false") or (arg or {}).get(False) or FALSE_WORDS)]
    text = blank_to_na(as_text(s)).str.strip().str.upper()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out = out.mask(text.isin(truthy), True).mask(text.isin(falsy), False)
    failed = text.notna() & ~text.isin(truthy + falsy)
    return Step(out, failed, f"not a yes/no value (true: {truthy}, false: {falsy})")


def present(s: pd.Series, _arg=None) -> Step:
    """True where the column holds a non-blank value, else False (e.g. "signed off by" -> signed off)."""
    return Step(blank_to_na(as_text(s)).notna().astype("boolean"))


def zero_to_null(s: pd.Series, _arg=None) -> Step:
    """Legacy numeric columns (JD Edwards) store 0 for "no value"; zero becomes empty."""
    step = as_number(s)
    return Step(s.mask(step.values == 0), step.failed, step.reason)


def default(s: pd.Series, value: Any) -> Step:
    return Step(blank_to_na(s).fillna(value) if is_text(s) else s.fillna(value))


def strip_prefix(s: pd.Series, prefixes: str | list[str]) -> Step:
    """Remove the first of ``prefixes`` a value starts with ("PO-4711" -> "4711"); others stay as they are."""
    text = blank_to_na(as_text(s))
    stripped = text
    done = pd.Series(False, index=s.index)
    # longest first, so "PO-" wins over "PO" on "PO-4711"
    for candidate in sorted([prefixes] if isinstance(prefixes, str) else prefixes, key=len, reverse=True):
        hit = ~done & text.str.startswith(candidate).fillna(False).astype(bool)
        stripped = stripped.mask(hit, text.str.slice(len(candidate)))
        done |= hit
    return Step(blank_to_na(stripped))


def split(s: pd.Series, arg: dict) -> Step:
    """One part of a composite text key ("4500012345/00010" with separator "/" and index 1 -> "00010")."""
    text = blank_to_na(as_text(s))
    parts = text.str.split(arg["separator"], regex=False)
    return Step(blank_to_na(parts.str.get(arg["index"]).astype("string")))


def jde_time(s: pd.Series, _arg=None) -> Step:
    """JD Edwards time of day HHMMSS as a number (143005, 93000) -> "14:30:05" text."""
    hours, minutes, seconds, valid, present_ = _hhmmss(s)
    text = (hours.astype("string").str.zfill(2) + ":" + minutes.astype("string").str.zfill(2) + ":"
            + seconds.astype("string").str.zfill(2)).where(valid)
    return Step(text.astype("string"), present_ & ~valid, "not a JD Edwards time (HHMMSS)")


def _hhmmss(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series, pd.Series]:
    step = as_number(s)
    numbers = step.values
    present_ = blank_to_na(as_text(s)).notna()
    whole = numbers.notna() & (numbers == np.floor(numbers)) & (numbers >= 0)
    n = numbers.where(whole).fillna(0).astype("int64")
    hours, minutes, seconds = n // 10000, n // 100 % 100, n % 100
    valid = whole & (hours < 24) & (minutes < 60) & (seconds < 60)
    return hours, minutes, seconds, valid, present_


def jde_julian_datetime(s: pd.Series, _arg=None) -> Step:
    """A JD Edwards date and time joined as "CYYDDD|HHMMSS" (``from: [date, time]``) -> timestamp."""
    parts = blank_to_na(as_text(s)).str.split("|", n=1, regex=False)
    day_part = parts.str.get(0).astype("string")
    time_part = blank_to_na(parts.str.get(1).astype("string")).fillna("0")
    day = jde_julian_date(day_part)
    hours, minutes, seconds, valid_time, _ = _hhmmss(time_part)
    offset = pd.to_timedelta(hours * 3600 + minutes * 60 + seconds, unit="s")
    stamps = (day.values + offset).where(day.values.notna())
    failed = day.failed.fillna(False) | (day.values.notna() & ~valid_time)
    return Step(stamps.astype("datetime64[us]"), failed, "not a JD Edwards Julian date and HHMMSS time")


def currency_code(s: pd.Series, arg: dict | None) -> Step:
    """ISO 4217: alpha-3 codes in any case, numeric codes (840 -> USD) and configured aliases -> alpha-3."""
    # a currency column holds a handful of codes: resolve each one once
    return on_distinct(as_text(s), lambda distinct: _currency_code(distinct, arg))


def _currency_code(s: pd.Series, arg: dict | None) -> Step:
    aliases = {str(k).strip().upper(): str(v).upper() for k, v in ((arg or {}).get("aliases") or {}).items()}
    text = blank_to_na(as_text(s)).str.strip().str.upper()
    known = iso_currencies()
    resolved = text.map(lambda code: aliases.get(code) or known.get(code) if isinstance(code, str) else None)
    resolved = resolved.astype("string")
    failed = text.notna() & resolved.isna()
    return Step(resolved, failed, "not an ISO 4217 currency code (e.g. USD, EUR or numeric 840); "
                                  "add it to the transform's aliases if the source spells it its own way")


_ISO_CURRENCIES: dict[str, str] = {}


def iso_currencies() -> dict[str, str]:
    """ISO 4217 alpha-3 and numeric codes (both as text) -> alpha-3, from pycountry's ISO data."""
    if not _ISO_CURRENCIES:
        import pycountry

        for currency in pycountry.currencies:
            _ISO_CURRENCIES[currency.alpha_3] = currency.alpha_3
            _ISO_CURRENCIES[str(int(currency.numeric))] = currency.alpha_3
            _ISO_CURRENCIES[currency.numeric] = currency.alpha_3
    return _ISO_CURRENCIES


def convert_units(s: pd.Series, arg: dict) -> Step:
    """A value "quantity|unit" (``from: [qty, uom]``) -> the quantity in the ``to`` unit, by ``factors``.

    ``factors`` give how many ``to`` units one source unit is (LB: 0.45359237 for ``to: KG``); the
    target unit itself is 1. An empty unit means the quantity is already in the target unit.
    """
    factors = {str(k).strip().upper(): float(v) for k, v in arg["factors"].items()}
    factors[str(arg["to"]).strip().upper()] = 1.0
    parts = blank_to_na(as_text(s)).str.split("|", n=1, regex=False)
    quantity = as_number(blank_to_na(parts.str.get(0).astype("string")))
    unit = blank_to_na(parts.str.get(1).astype("string")).str.strip().str.upper()
    factor = unit.map(factors).astype("float64").where(unit.notna(), 1.0)
    unknown = quantity.values.notna() & factor.isna()
    failed = unknown if quantity.failed is None else (unknown | quantity.failed)
    known = ", ".join(sorted(factors))
    return Step(quantity.values * factor, failed,
                f"no factor for the unit, or the quantity is not a number (units with factors: {known})")


def when_first_is(s: pd.Series, codes: list) -> Step:
    """A joined ``code|value`` (``from: [STATUS, STATUSDATE]``) -> the value where the code is one of
    ``codes``, else empty: a status date is a closing date only for a closed record."""
    text = blank_to_na(as_text(s))
    parts = text.str.split("|", n=1, regex=False)
    code = parts.str.get(0).astype("string").str.strip()
    value = blank_to_na(parts.str.get(1).astype("string"))
    return Step(value.where(code.isin([str(c) for c in codes]).fillna(False).astype(bool)))


def prefix(s: pd.Series, text: str) -> Step:
    values = blank_to_na(as_text(s))
    return Step(text + values)


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("strip_padding", strip_padding, _no_arg, "trim CHAR padding"),
        Transform("strip_leading_zeros", strip_leading_zeros, _no_arg, "000123 -> 123"),
        Transform("pad_leading_zeros", pad_leading_zeros, _int_arg, "123 -> 000123 (argument: width)"),
        Transform("upper", upper, _no_arg, "upper case"),
        Transform("lower", lower, _no_arg, "lower case"),
        Transform("to_text", to_text, _no_arg, "numbers as text without .0"),
        Transform("to_number", to_number, _no_arg, "parse a decimal"),
        Transform("implied_decimals", implied_decimals, _int_arg, "12345 with 2 -> 123.45"),
        Transform("negate", negate, _no_arg, "-x"),
        Transform("multiply", multiply, _number_arg, "x * factor"),
        Transform("jde_julian_date", jde_julian_date, _no_arg, "JD Edwards CYYDDD -> date"),
        Transform("parse_date", parse_date, _optional_text_arg, "text -> date (strptime format or ISO)"),
        Transform("parse_datetime", parse_datetime, _optional_text_arg, "text -> timestamp"),
        Transform("sentinel_date_to_null", sentinel_date_to_null, _dates_arg, "1900-01-01 and friends -> empty"),
        Transform("code_map", code_map, _code_map_arg, "source code -> canonical value"),
        Transform("to_bool", to_bool, _bool_arg, "yes/no -> boolean"),
        Transform("present", present, _no_arg, "non-blank -> true, blank -> false"),
        Transform("zero_to_null", zero_to_null, _no_arg, "0 (legacy 'no value') -> empty"),
        Transform("default", default, _any_scalar, "fill empty values"),
        Transform("prefix", prefix, _text_arg, "prepend text"),
        Transform("strip_prefix", strip_prefix, _prefixes_arg, "PO-4711 -> 4711 (argument: prefix or list)"),
        Transform("split", split, _split_arg, "one part of a composite key ({separator, index})"),
        Transform("jde_time", jde_time, _no_arg, "JD Edwards HHMMSS -> HH:MM:SS"),
        Transform("jde_julian_datetime", jde_julian_datetime, _no_arg,
                  "JD Edwards CYYDDD|HHMMSS (from: [date, time]) -> timestamp"),
        Transform("currency_code", currency_code, _currency_arg, "ISO 4217 alpha-3 (usd, 840 -> USD)"),
        Transform("when_first_is", when_first_is, _codes_arg,
                  "code|value (from: [status, date]) -> the value where the code is listed, else empty"),
        Transform("convert_units", convert_units, _units_arg,
                  "quantity|unit (from: [qty, uom]) -> quantity in the `to` unit"),
        # resolved by the mapping engine against the warehouse; see mappings.engine.Lookups
        Transform("lookup", None, _lookup_arg,
                  "a field of rows of this source already loaded ({entity, match, value, missing})"),
    )
}
