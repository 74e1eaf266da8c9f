"""Load mapping specs and validate them against the mapping language and the canonical model.

All problems of a spec are collected and raised together, each with the file and key path and,
where there is a closed set of choices, the valid ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from mappings.canonical import ENTITIES, Entity
from mappings.transforms import TRANSFORMS

class MappingSpecError(ValueError):
    """A mapping spec is invalid; ``problems`` lists every problem with its key path."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s) in the mapping spec:\n{lines}")


_FIELD_KEYS = {"from", "value", "join", "transforms", "then", "description"}
_TOP_KEYS = {"entity", "description", "source_key", "fields", "where"}
#: operators of a ``where`` condition and what their argument must be
_CONDITIONS = {"in": "a list of values", "not_in": "a list of values", "equals": "a value",
               "present": "true or false"}


@dataclass(frozen=True)
class TransformStep:
    name: str
    arg: Any = None


@dataclass(frozen=True)
class FieldRule:
    """How one canonical field (or the source key) is filled."""

    target: str
    columns: tuple[str, ...] = ()
    value: Any = None
    join: str = "|"
    transforms: tuple[TransformStep, ...] = ()
    #: transforms of the joined value, when ``from`` names several columns
    then: tuple[TransformStep, ...] = ()

    @property
    def is_constant(self) -> bool:
        return not self.columns


@dataclass(frozen=True)
class RowCondition:
    """One condition of a spec's ``where``: rows that fail any condition are skipped, not mapped.

    Values are compared as text with padding stripped, so ``in: [C]`` matches a CHAR(3) ``"C  "``.
    """

    column: str
    operator: str
    values: tuple[str, ...] = ()
    present: bool = True


@dataclass(frozen=True)
class MappingSpec:
    """A validated mapping spec: one source stream to one canonical entity."""

    path: Path
    entity: Entity
    description: str
    source_key: FieldRule
    fields: tuple[FieldRule, ...]
    where: tuple[RowCondition, ...] = ()

    @property
    def source_columns(self) -> tuple[str, ...]:
        """Every source column the spec reads, in first-use order."""
        seen: dict[str, None] = {}
        for rule in (self.source_key, *self.fields):
            for column in rule.columns:
                seen.setdefault(column, None)
        for condition in self.where:
            seen.setdefault(condition.column, None)
        return tuple(seen)


def _parse_transforms(raw: Any, where: str, problems: list[str]) -> tuple[TransformStep, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{where}: must be a list of transforms")
        return ()
    steps = []
    for i, item in enumerate(raw):
        here = f"{where}[{i}]"
        if isinstance(item, str):
            name, arg = item, None
        elif isinstance(item, dict) and len(item) == 1:
            name, arg = next(iter(item.items()))
        else:
            problems.append(f"{here}: write a transform as its name or as {{name: argument}}")
            continue
        transform = TRANSFORMS.get(name)
        if transform is None:
            problems.append(f"{here}: unknown transform {name!r}; valid: {', '.join(sorted(TRANSFORMS))}")
            continue
        arg_problem = transform.check_arg(arg)
        if arg_problem:
            problems.append(f"{here}: {name} {arg_problem}")
            continue
        steps.append(TransformStep(name, arg))
    return tuple(steps)


def _parse_rule(target: str, raw: Any, where: str, problems: list[str]) -> FieldRule | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping with `from` or `value`")
        return None
    unknown = set(raw) - _FIELD_KEYS
    if unknown:
        problems.append(f"{where}: unknown keys {sorted(unknown)}; valid: {', '.join(sorted(_FIELD_KEYS))}")
    has_from, has_value = "from" in raw, "value" in raw
    if has_from == has_value:
        problems.append(f"{where}: give exactly one of `from` (source column or list) and `value` (constant)")
        return None
    columns: tuple[str, ...] = ()
    if has_from:
        source = raw["from"]
        if isinstance(source, str) and source:
            columns = (source,)
        elif isinstance(source, list) and source and all(isinstance(c, str) and c for c in source):
            columns = tuple(source)
        else:
            problems.append(f"{where}.from: must be a column name or a non-empty list of column names")
            return None
    join = raw.get("join", "|")
    if not isinstance(join, str):
        problems.append(f"{where}.join: must be text")
        join = "|"
    transforms = _parse_transforms(raw.get("transforms"), f"{where}.transforms", problems)
    then = _parse_transforms(raw.get("then"), f"{where}.then", problems)
    if then and len(columns) < 2:
        problems.append(f"{where}.then: transforms the joined value of several `from` columns; "
                        f"with one column put them under `transforms`")
    return FieldRule(target, columns, raw.get("value"), join, transforms, then)


def _constant_fits(value: Any, field_type: str) -> bool:
    """Whether a constant coerces to the field's canonical type, as the engine would coerce it."""
    import pandas as pd

    from mappings.engine import coerce

    values = pd.Series([value], dtype=object)
    _, failed, _ = coerce(values, field_type)
    return failed is None or not bool(failed.fillna(False).iloc[0])


def _scalar_text(value: Any) -> str:
    return str(value).strip()


def _parse_where(raw: Any, problems: list[str]) -> tuple[RowCondition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        problems.append("where: must be a non-empty list of conditions, e.g. [{column: LINETYPE, in: [S, J]}]")
        return ()
    conditions = []
    for i, item in enumerate(raw):
        here = f"where[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("column"), str) or not item["column"]:
            problems.append(f"{here}: needs `column` (a source column) and one of {', '.join(_CONDITIONS)}")
            continue
        operators = [k for k in item if k != "column"]
        unknown = [k for k in operators if k not in _CONDITIONS]
        if unknown or len(operators) != 1:
            problems.append(f"{here}: give exactly one condition besides `column`; valid: {', '.join(_CONDITIONS)}")
            continue
        operator = operators[0]
        argument = item[operator]
        if operator in ("in", "not_in"):
            if not isinstance(argument, list) or not argument or any(isinstance(v, (list, dict)) or v is None
                                                                     for v in argument):
                problems.append(f"{here}.{operator}: needs {_CONDITIONS[operator]}")
                continue
            conditions.append(RowCondition(item["column"], operator, tuple(_scalar_text(v) for v in argument)))
        elif operator == "equals":
            if isinstance(argument, (list, dict)) or argument is None:
                problems.append(f"{here}.equals: needs {_CONDITIONS[operator]}")
                continue
            conditions.append(RowCondition(item["column"], "in", (_scalar_text(argument),)))
        else:
            if not isinstance(argument, bool):
                problems.append(f"{here}.present: needs {_CONDITIONS[operator]}")
                continue
            conditions.append(RowCondition(item["column"], "present", present=argument))
    return tuple(conditions)


def parse_spec(raw: Any, path: Path) -> tuple[MappingSpec | None, list[str]]:
    """Validate a parsed YAML document; return the spec (or None) and every problem found."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        return None, ["the spec must be a mapping with entity, source_key and fields"]
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        problems.append(f"unknown top-level keys {sorted(unknown)}; valid: {', '.join(sorted(_TOP_KEYS))}")
    entity_name = raw.get("entity")
    entity = ENTITIES.get(entity_name) if isinstance(entity_name, str) else None
    if entity is None:
        problems.append(f"entity: {entity_name!r} is not a canonical entity; valid: {', '.join(ENTITIES)}")
    if "source_key" not in raw:
        problems.append("source_key: missing; say which source columns identify a record")
        source_key = None
    else:
        source_key = _parse_rule("source_key", raw["source_key"], "source_key", problems)
    raw_fields = raw.get("fields")
    rules: list[FieldRule] = []
    if not isinstance(raw_fields, dict) or not raw_fields:
        problems.append("fields: missing or empty; map at least the entity's required fields")
        raw_fields = {}
    for name, rule_raw in raw_fields.items():
        where = f"fields.{name}"
        if entity is not None and name not in entity.field_names:
            problems.append(f"{where}: {entity.name} has no field {name!r}; valid: {', '.join(entity.field_names)}")
            continue
        rule = _parse_rule(name, rule_raw, where, problems)
        if rule is not None:
            rules.append(rule)
    if entity is not None:
        missing = [f for f in entity.required_fields if f not in raw_fields]
        if missing:
            problems.append(f"fields: required fields of {entity.name} not mapped: {', '.join(missing)}")
        for rule in rules:
            field = entity.field(rule.target)
            if rule.is_constant and field.allowed and rule.value is not None and rule.value not in field.allowed:
                problems.append(f"fields.{rule.target}.value: {rule.value!r} is not allowed; "
                                f"valid: {', '.join(field.allowed)}")
            elif rule.is_constant and rule.value is not None and not _constant_fits(rule.value, field.type):
                problems.append(f"fields.{rule.target}.value: {rule.value!r} is not a {field.type} "
                                f"({rule.target} is a {field.type} field)")
    where = _parse_where(raw.get("where"), problems)
    if problems or entity is None or source_key is None:
        return None, problems
    return MappingSpec(path, entity, str(raw.get("description", "")), source_key, tuple(rules), where), []


@lru_cache(maxsize=256)
def _load_cached(path: Path, mtime_ns: int) -> MappingSpec:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingSpecError(str(path), [f"not valid YAML: {exc}"]) from None
    spec, problems = parse_spec(raw, path)
    if problems:
        raise MappingSpecError(str(path), problems)
    assert spec is not None
    return spec


def load_spec(path: str | Path) -> MappingSpec:
    """Load and validate a mapping spec file; raises ``MappingSpecError`` listing every problem."""
    path = Path(path).resolve()
    if not path.is_file():
        raise MappingSpecError(str(path), ["file not found"])
    return _load_cached(path, path.stat().st_mtime_ns)
