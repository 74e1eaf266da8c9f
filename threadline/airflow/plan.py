"""What the DAG files know at parse time: source names, kinds, schedules and connection ids.

Airflow parses DAG files every few seconds, so parsing must do no I/O beyond reading the small
config file, and import nothing heavy. The path of threadline.yaml comes from ``$THREADLINE_CONFIG``
(set it in the environment of the scheduler, the dag-processor and the workers); the file is read
with PyYAML alone. The whole config (mapping specs, connection settings, rules) is validated when a
task runs, by ``threadline.config.load_config``; a config that parses here but fails there fails the
task with every problem listed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: the same variable the CLI reads (threadline.config.CONFIG_ENV; not imported: it pulls in pandas)
CONFIG_ENV = "THREADLINE_CONFIG"
#: a source without ``schedule`` syncs hourly
DEFAULT_SYNC_SCHEDULE = "@hourly"
#: the reconcile DAG runs at least once a day, even when no source reported fresh data
DEFAULT_RECONCILE_SCHEDULE = "0 6 * * *"
DEFAULT_OWNER = "threadline"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class PlanError(ValueError):
    """The config file cannot drive the DAGs; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class SourcePlan:
    """One enabled source as its sync DAG needs it."""

    name: str
    kind: str
    role: str
    schedule: str
    connection_id: str | None
    description: str


@dataclass(frozen=True)
class DagPlan:
    """Everything the DAG files need from threadline.yaml."""

    config_path: Path
    sources: tuple[SourcePlan, ...]
    reconcile_schedule: str
    owner: str


def config_path() -> Path:
    """The config file named by ``$THREADLINE_CONFIG``; an unset variable is an error naming the fix."""
    value = os.environ.get(CONFIG_ENV)
    if not value:
        raise PlanError(f"{CONFIG_ENV} is not set: set it to the path of threadline.yaml in the environment of "
                        f"the Airflow scheduler, dag-processor and workers")
    return Path(value).resolve()


def read_plan(path: Path | None = None) -> DagPlan:
    """Read the DAG plan from ``path`` (default: ``$THREADLINE_CONFIG``)."""
    path = path or config_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise PlanError(f"{path}: no such file ({CONFIG_ENV} names it); `threadline demo-build` writes a working "
                        f"one") from None
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), list):
        raise PlanError(f"{path}: expected a mapping with a list of sources")
    airflow = raw.get("airflow") or {}
    if not isinstance(airflow, dict):
        raise PlanError(f"{path}: airflow: expected a mapping (reconcile_schedule, owner)")
    sources = []
    for i, entry in enumerate(raw["sources"]):
        if not isinstance(entry, dict):
            raise PlanError(f"{path}: sources[{i}]: expected a mapping")
        if entry.get("enabled", True) is False:
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise PlanError(f"{path}: sources[{i}].name: {name!r} is not a lower_snake name")
        sources.append(SourcePlan(
            name=name, kind=str(entry.get("kind", "")), role=str(entry.get("role", "")),
            schedule=_text(entry.get("schedule")) or DEFAULT_SYNC_SCHEDULE,
            connection_id=_text(entry.get("connection_id")),
            description=_text(entry.get("description")) or f"{entry.get('kind', '')} source {name}"))
    return DagPlan(config_path=path, sources=tuple(sources),
                   reconcile_schedule=_text(airflow.get("reconcile_schedule")) or DEFAULT_RECONCILE_SCHEDULE,
                   owner=_text(airflow.get("owner")) or DEFAULT_OWNER)


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
