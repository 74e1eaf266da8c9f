"""Apply a mapping spec to a batch: vectorized over columns, failures quarantined with reasons.

``map_batch`` never drops a row silently: every input row ends up either in ``mapped`` or in
``quarantined`` (with the field, source column, raw value, transform and reason of its first
failure), so ``len(batch) == len(mapped) + quarantined rows``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mappings.canonical import LINEAGE_FIELDS, Entity
from mappings.spec import FieldRule, MappingSpec, MappingSpecError, RowCondition, TransformStep
from mappings.transforms import (TRANSFORMS, Distinct, Step, as_number, as_text, blank_to_na, is_text,
                                 render_distinct, to_bool)

QUARANTINE_COLUMNS = ("row", "source_key", "field", "column", "raw_value", "check", "reason", "record")


@dataclass
class MapResult:
    """Rows that mapped (canonical columns plus lineage), rows that did not (with reasons), and how
    many rows the spec's ``where`` left out."""

    mapped: pd.DataFrame
    quarantined: pd.DataFrame
    skipped: int = 0


class _Failures:
    """First failure per row, collected as masks so the hot path stays vectorized."""

    def __init__(self, index: pd.Index):
        self.any = pd.Series(False, index=index)
        self.parts: list[pd.DataFrame] = []

    def add(self, mask: pd.Series | None, *, field: str, column: str, raw: pd.Series | None, check: str, reason: str):
        if mask is None:
            return
        new = mask.fillna(False).astype(bool) & ~self.any
        if not new.any():
            return
        self.any |= new
        rows = new[new].index
        self.parts.append(pd.DataFrame({
            "row": rows,
            "field": field,
            "column": column,
            "raw_value": as_text(raw.loc[rows]).astype(object) if raw is not None else None,
            "check": check,
            "reason": reason,
        }))


def _apply_transforms(rule: FieldRule, steps: tuple[TransformStep, ...], values: pd.Series, column: str,
                      failures: _Failures, lookups: Lookups | None) -> pd.Series:
    raw = values
    # transforms are element-wise and source columns repeat their values (codes, units, dates):
    # transforming each distinct value once and spreading the results is the same, and cheaper
    distinct = Distinct.of(values) if steps else None
    if distinct is not None:
        values = distinct.values
    for step in steps:
        if step.name == "lookup":
            if lookups is None:
                raise MappingSpecError(rule.target, [f"fields.{rule.target}: `lookup` reads the warehouse; "
                                                     f"map this spec through the pipeline"])
            result = lookups.resolve(step.arg, values)
        else:
            result = TRANSFORMS[step.name].func(values, step.arg)
        failed = result.failed if distinct is None or result.failed is None else distinct.spread(result.failed)
        failures.add(failed, field=rule.target, column=column, raw=raw, check=step.name,
                     reason=f"{rule.target} from {column}: {result.reason}")
        values = result.values
    return values if distinct is None else distinct.spread(values)


def _evaluate(rule: FieldRule, batch: pd.DataFrame, failures: _Failures, lookups: Lookups | None) -> pd.Series:
    if rule.is_constant:
        return pd.Series([rule.value] * len(batch), index=batch.index, dtype=object)
    parts = [_apply_transforms(rule, rule.transforms, batch[c], c, failures, lookups) for c in rule.columns]
    if len(parts) == 1:
        return parts[0]
    texts = [blank_to_na(as_text(p)) for p in parts]
    if all(getattr(t.dtype, "storage", None) == "pyarrow" for t in texts):
        joined = _join_arrow(texts, rule.join)
    else:
        joined = texts[0].fillna("")
        for t in texts[1:]:
            joined = joined + rule.join + t.fillna("")
        # a key made only of empty parts is empty, not "||"
        all_empty = pd.concat([t.isna() for t in texts], axis=1).all(axis=1)
        joined = joined.mask(all_empty)
    if not rule.then:
        return joined
    return _apply_transforms(rule, rule.then, joined, "|".join(rule.columns), failures, lookups)


def _where_mask(conditions: tuple[RowCondition, ...], batch: pd.DataFrame) -> pd.Series:
    """True for the rows every condition of the spec's ``where`` holds for."""
    keep = pd.Series(True, index=batch.index)
    for condition in conditions:
        text = blank_to_na(as_text(batch[condition.column])).str.strip()
        if condition.operator == "present":
            holds = text.notna() if condition.present else text.isna()
        else:
            holds = text.isin(list(condition.values)).fillna(False).astype(bool)
            if condition.operator == "not_in":
                holds = ~holds
        keep &= holds.to_numpy(dtype=bool)
    return keep


class Lookups:
    """Values of canonical fields of one source, for the ``lookup`` transform.

    ``fetch(entity, match, value)`` returns the source's live rows of ``entity`` as a frame with the
    two fields; each table is fetched once per ``Lookups`` (the pipeline makes one per stream run).
    A key that several rows hold with different values is ambiguous and never resolves.
    """

    def __init__(self, fetch: Callable[[str, str, str], pd.DataFrame]):
        self._fetch = fetch
        self._tables: dict[tuple[str, str, str], tuple[pd.Series, set[str]]] = {}

    def _table(self, entity: str, match: str, value: str) -> tuple[pd.Series, set[str]]:
        key = (entity, match, value)
        if key not in self._tables:
            frame = self._fetch(entity, match, value)
            pairs = pd.DataFrame({"key": blank_to_na(as_text(frame[match].reset_index(drop=True))).str.strip(),
                                  "value": frame[value].reset_index(drop=True)})
            pairs = pairs.dropna(subset=["key"]).drop_duplicates()
            counts = pairs["key"].value_counts()
            ambiguous = set(counts.index[counts > 1])
            self._tables[key] = (pairs[~pairs["key"].isin(ambiguous)].set_index("key")["value"], ambiguous)
        return self._tables[key]

    def resolve(self, arg: dict, values: pd.Series) -> Step:
        """The looked-up value per row; a row without exactly one match fails unless ``missing: empty``
        (an ambiguous match always fails)."""
        table, ambiguous = self._table(arg["entity"], arg["match"], arg["value"])
        keys = blank_to_na(as_text(values)).str.strip()
        found = keys.map(table)
        is_ambiguous = keys.isin(list(ambiguous)).fillna(False).astype(bool)
        not_found = (keys.notna() & ~keys.isin(list(table.index))).fillna(False).astype(bool)
        failed = is_ambiguous if arg.get("missing", "fail") == "empty" else (not_found | is_ambiguous)
        return Step(found, failed,
                    f"no single {arg['entity']} of this source has {arg['match']} equal to the value (none "
                    f"loaded yet, or several with different {arg['value']}); load the stream that holds it first")


def _join_arrow(texts: list[pd.Series], separator: str) -> pd.Series:
    """Texts joined with ``separator``, an empty part as ""; empty where every part is empty."""
    arrays = [pa.array(t.array) for t in texts]
    joined = pc.binary_join_element_wise(*arrays, pa.scalar(separator, arrays[0].type), null_handling="replace",
                                         null_replacement="")
    all_empty = arrays[0].is_null()
    for array in arrays[1:]:
        all_empty = pc.and_(all_empty, array.is_null())
    if pc.any(all_empty).as_py():
        joined = pc.if_else(all_empty, pa.scalar(None, joined.type), joined)
    return pd.Series(pd.arrays.ArrowStringArray(joined), index=texts[0].index)


def coerce(values: pd.Series, field_type: str) -> tuple[pd.Series, pd.Series | None, str]:
    """Coerce mapped values to a canonical type; returns values, failed mask and reason."""
    if field_type == "text":
        return blank_to_na(as_text(values)), None, ""
    if field_type in ("decimal", "int"):
        step = as_number(values)
        numbers = step.values
        if field_type == "int":
            fractional = numbers.notna() & (numbers != np.floor(numbers))
            failed = fractional if step.failed is None else (step.failed | fractional)
            return numbers.where(~fractional).round().astype("Int64"), failed, "not a whole number"
        return numbers, step.failed, "not a number"
    if field_type in ("date", "datetime"):
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            parsed, failed = values, None
        else:
            text = blank_to_na(values.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
                               if values.dtype == object else as_text(values))
            parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
            failed = text.notna() & parsed.isna()
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        parsed = parsed.astype("datetime64[us]")
        return (parsed.dt.normalize() if field_type == "date" else parsed), failed, "not a date"
    if field_type == "bool":
        step = to_bool(values, None)
        return step.values, step.failed, step.reason
    raise ValueError(f"unknown field type {field_type}")


def record_hash(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """A stable per-row hash of the canonical values, to tell changed records from re-reads."""
    # the text of each value is what is hashed, as astype("string") writes it; formatting the
    # distinct values only gives the same text for a fraction of the cost
    texts = pd.DataFrame({c: _hash_text(frame[c]) for c in columns}, index=frame.index)
    hashed = pd.util.hash_pandas_object(texts, index=False).to_numpy()
    if pd.StringDtype().storage != "pyarrow":
        return pd.Series(hashed, index=frame.index).map("{:016x}".format).astype("string")
    return pd.Series(pd.arrays.ArrowStringArray(_hex16(hashed)), index=frame.index)


def _hash_text(values: pd.Series) -> pd.Series:
    if values.dtype == object or is_text(values):
        # object columns may hold 1, 1.0 and True, which are equal keys but different texts
        return values.astype("string")
    if values.dtype == np.float64 and pd.StringDtype().storage == "pyarrow":
        return _float_text(values)
    return render_distinct(values, lambda distinct: distinct.astype("string"))


def _float_text(values: pd.Series) -> pd.Series:
    """``values.astype("string")`` for floats, formatted by Arrow instead of one Python repr per value.

    Arrow writes the same shortest round-trip digits as Python for 1e-4 <= |x| < 1e10, except that
    a whole number has no ".0" (checked on 2.3 million values across magnitudes); outside that
    range the notations differ, so those few values are formatted by pandas.
    """
    numbers = values.to_numpy()
    magnitude = np.abs(numbers)
    arrow_formats = np.isnan(numbers) | (numbers == 0) | ((magnitude >= 1e-4) & (magnitude < 1e10))
    if not arrow_formats.all():
        return render_distinct(values, lambda distinct: distinct.astype("string"))
    text = pa.array(numbers, from_pandas=True).cast(pa.string())
    whole = pc.invert(pc.match_substring_regex(text, r"[.e]"))
    text = pc.if_else(whole, pc.binary_join_element_wise(text, pa.scalar(".0"), ""), text)
    return pd.Series(pd.arrays.ArrowStringArray(text), index=values.index)


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex16(numbers: np.ndarray) -> pa.StringArray:
    """64-bit numbers as 16 lower-case hex digits each (``f"{n:016x}"``), without a Python string per row."""
    count = len(numbers)
    high_first = numbers.astype(">u8").view(np.uint8).reshape(count, 8)
    nibbles = np.empty((count, 16), dtype=np.uint8)
    nibbles[:, 0::2] = high_first >> 4
    nibbles[:, 1::2] = high_first & 0x0F
    offsets = np.arange(0, 16 * count + 1, 16, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(_HEX_DIGITS[nibbles].tobytes()))


def map_batch(spec: MappingSpec, batch: pd.DataFrame, *, source_system: str, run_id: str,
              extracted_at: datetime, sparse: bool = False, lookups: Lookups | None = None) -> MapResult:
    """Map one batch of source rows to the spec's canonical entity.

    Rows the spec's ``where`` leaves out are counted in ``skipped`` and neither mapped nor
    quarantined. ``lookups`` resolves the ``lookup`` transform (the pipeline passes the warehouse's).

    Columns the spec reads must be present in the batch; a missing column is a spec/stream
    mismatch, raised as ``MappingSpecError`` naming the columns that are there. With ``sparse``
    (document sources, whose records carry only the elements they have) a missing column is empty.
    """
    missing = [c for c in spec.source_columns if c not in batch.columns]
    if missing and sparse:
        batch = batch.assign(**{c: pd.Series(pd.NA, index=batch.index, dtype="string") for c in missing})
    elif missing:
        raise MappingSpecError(str(spec.path), [
            f"source columns {missing} are not in the stream; it has: {', '.join(map(str, batch.columns))}"
        ])
    skipped = 0
    if spec.where:
        keep = _where_mask(spec.where, batch)
        skipped = int((~keep).sum())
        if skipped:
            batch = batch.loc[keep.to_numpy()]
    batch = batch.reset_index(drop=True)
    entity: Entity = spec.entity
    failures = _Failures(batch.index)

    key = blank_to_na(as_text(_evaluate(spec.source_key, batch, failures, lookups)))
    failures.add(key.isna(), field="source_key", column="|".join(spec.source_key.columns), raw=None,
                 check="source_key", reason="the source key is empty")

    # columns gathered first and framed once: inserting them one by one copies the frame each time
    columns: dict[str, pd.Series] = {}
    for f in entity.fields:
        rule = next((r for r in spec.fields if r.target == f.name), None)
        if rule is None:
            columns[f.name] = pd.Series(index=batch.index, dtype=_empty_dtype(f.type))
            continue
        raw = _evaluate(rule, batch, failures, lookups)
        values, failed, reason = coerce(raw, f.type)
        column = "|".join(rule.columns) or "(constant)"
        failures.add(failed, field=f.name, column=column, raw=raw, check=f"type:{f.type}",
                     reason=f"{f.name} from {column}: {reason}")
        columns[f.name] = values

    out = pd.DataFrame(columns, index=batch.index)
    out["source_system"] = source_system
    out["source_key"] = key
    out["run_id"] = run_id
    out["extracted_at"] = pd.Timestamp(extracted_at).tz_localize(None) if pd.Timestamp(extracted_at).tzinfo else pd.Timestamp(extracted_at)
    out["record_hash"] = record_hash(out, entity.field_names)

    bad = failures.any
    quarantined = _quarantine_frame(failures, batch, key)
    return MapResult(out.loc[~bad, [*entity.field_names, *LINEAGE_FIELDS]].reset_index(drop=True), quarantined,
                     skipped)


def _empty_dtype(field_type: str) -> str:
    return {"text": "string", "decimal": "float64", "int": "Int64", "bool": "boolean",
            "date": "datetime64[us]", "datetime": "datetime64[us]"}[field_type]


def _quarantine_frame(failures: _Failures, batch: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    if not failures.parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in QUARANTINE_COLUMNS})
    q = pd.concat(failures.parts, ignore_index=True).sort_values("row", kind="stable")
    q["source_key"] = key.loc[q["row"]].astype(object).to_numpy()
    # the raw record, for the steward; only failed rows pay for the per-row JSON
    q["record"] = [json.dumps(r, default=str) for r in batch.loc[q["row"]].to_dict(orient="records")]
    return q.reset_index(drop=True)[list(QUARANTINE_COLUMNS)]
