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


_FIELD_KEYS = {"from", "value", "join", "transforms", "description"}
_TOP_KEYS = {"entity", "description", "source_key", "fields"}


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

    @property
    def is_constant(self) -> bool:
        return not self.columns


@dataclass(frozen=True)
class MappingSpec:
    """A validated mapping spec: one source stream to one canonical entity."""

    path: Path
    entity: Entity
    description: str
    source_key: FieldRule
    fields: tuple[FieldRule, ...]

    @property
    def source_columns(self) -> tuple[str, ...]:
        """Every source column the spec reads, in first-use order."""
        seen: dict[str, None] = {}
        for rule in (self.source_key, *self.fields):
            for column in rule.columns:
                seen.setdefault(column, None)
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
    return FieldRule(target, columns, raw.get("value"), join, transforms)


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
            allowed = entity.field(rule.target).allowed
            if rule.is_constant and allowed and rule.value is not None and rule.value not in allowed:
                problems.append(f"fields.{rule.target}.value: {rule.value!r} is not allowed; valid: {', '.join(allowed)}")
    if problems or entity is None or source_key is None:
        return None, problems
    return MappingSpec(path, entity, str(raw.get("description", "")), source_key, tuple(rules)), []


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
