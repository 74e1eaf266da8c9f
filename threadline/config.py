"""threadline.yaml: one file naming the warehouse, the sources, the sites and the rules.

The file is validated as a whole before anything runs; every problem is reported at once with its
key path (``sources[1].streams[0].mapping: ...``). Secrets are referenced by environment variable
name (``password_env: ERP_DB_PASSWORD``), never written in the file.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors import KINDS, connector_class
from connectors.base import StreamSettings
from threadline.errors import ConfigError, MappingSpecError, SecretMissingError

CONFIG_ENV = "THREADLINE_CONFIG"
DEFAULT_CONFIG = "threadline.yaml"
SHIPPED_SPECS = Path(__file__).resolve().parent.parent / "mappings" / "specs"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SECRET_KEYS = re.compile(r"(password|passwd|secret|token|api_key|apikey)$", re.IGNORECASE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WarehouseConfig(_Strict):
    """Where canonical data, run log, exceptions and roll-ups live (SQLite or PostgreSQL)."""

    url: str | None = Field(default=None, description="SQLAlchemy URL without a password")
    url_env: str | None = Field(default=None, description="environment variable holding the full URL")

    def resolved_url(self) -> str:
        """The SQLAlchemy URL, taken from the environment when ``url_env`` is set."""
        if self.url_env:
            value = os.environ.get(self.url_env)
            if value is None:
                raise SecretMissingError("warehouse.url_env", self.url_env)
            return value
        assert self.url is not None
        return self.url


class SiteConfig(_Strict):
    id: str
    name: str | None = None
    timezone: str = "UTC"


class ToleranceOverrideConfig(_Strict):
    """Tolerances of one rule for a supplier, a process or a site (or a combination of them)."""

    rule: str
    supplier: str | None = Field(default=None, description="supplier id as the PO line carries it")
    process: str | None = Field(default=None, description="canonical process, e.g. heat_treat")
    site: str | None = None
    tolerances: dict[str, Any] = Field(min_length=1)


class RulesConfig(_Strict):
    """Reconciliation settings: the as-of date, rules switched off, tolerances per rule id and
    overrides of them per supplier, process or site."""

    as_of: date | None = Field(default=None, description="date the rules judge against; empty = today")
    disabled: list[str] = Field(default_factory=list)
    tolerances: dict[str, dict[str, Any]] = Field(default_factory=dict)
    overrides: list[ToleranceOverrideConfig] = Field(default_factory=list)

    def reconcile_settings(self, *, as_of: date, reporting_currency: str, source_roles: dict[str, str] | None = None):
        """The engine's settings for these rules (``as_of`` already resolved); ``source_roles`` maps each
        source's name to its role (``Config.source_roles``)."""
        from reconciliation.engine import ReconcileSettings, ToleranceOverride

        return ReconcileSettings(
            as_of=as_of, reporting_currency=reporting_currency, tolerances=self.tolerances,
            disabled=frozenset(self.disabled),
            overrides=tuple(ToleranceOverride(**o.model_dump()) for o in self.overrides),
            source_roles=source_roles or {})


class AirflowConfig(_Strict):
    """How the Airflow DAGs built from this file are scheduled (threadline.airflow)."""

    reconcile_schedule: str = Field(
        default="0 6 * * *", description="cron of the reconcile DAG's daily run when no source reported fresh data")
    owner: str = Field(default="threadline", description="owner shown on every threadline DAG")


#: the source system of threadline's own wo_po_link rows (reconciliation.suggest.SUGGESTER)
RESERVED_SOURCE = "threadline"


class SourceConfig(_Strict):
    """One legacy system and how to reach it."""

    name: str = Field(description="lower_snake name; stored as source_system on every row")
    kind: Literal["sql", "odbc", "soap", "b2mml", "rest", "files"]
    role: Literal["erp", "cmms", "mes"] = Field(
        description="what the system is to the plant; rules comparing systems read it (TRC-003, TRC-004)")
    description: str | None = None
    enabled: bool = True
    schedule: str | None = Field(
        default=None, description="cron expression or preset (@hourly, @daily) of the source's Airflow sync DAG; "
                                  "empty = @hourly")
    connection_id: str | None = Field(
        default=None, description="Airflow Connection holding the source's credentials when it runs under Airflow: "
                                  "its password fills the variable password_env (or token_env) names, its login "
                                  "replaces username")
    connection: dict[str, Any] = Field(default_factory=dict)
    streams: list[dict[str, Any]] = Field(min_length=1)
    resume_attempts: int = Field(
        default=2, ge=0, le=10,
        description="times a stream restarts from its last committed bookmark after a transient failure")
    resume_backoff_seconds: float = Field(default=5.0, ge=0, description="first wait before a restart; doubles")
    max_delete_fraction: float = Field(
        default=0.5, gt=0, le=1,
        description="a full refresh that would soft-delete more than this share of an entity's rows fails instead")

    @property
    def secret_env(self) -> str | None:
        """The environment variable the connector reads the source's secret from (password or token), if any."""
        return self.connection.get("password_env") or self.connection.get("token_env")

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must be lower_snake_case (a-z, 0-9, _), starting with a letter")
        if value == RESERVED_SOURCE:
            raise ValueError(f"{RESERVED_SOURCE!r} is reserved: it is the source system of the links threadline "
                             f"suggests and stewards decide (wo_po_link); name the source after its system")
        return value


class Config(_Strict):
    """The whole threadline.yaml."""

    warehouse: WarehouseConfig
    landing_dir: Path = Field(description="folder for raw landed batches (Parquet)")
    reports_dir: Path = Field(description="folder for gap reports")
    reporting_currency: str = Field(min_length=3, max_length=3)
    sites: list[SiteConfig] = Field(min_length=1)
    sources: list[SourceConfig] = Field(min_length=1)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    airflow: AirflowConfig = Field(default_factory=AirflowConfig)
    expectations_dir: Path | None = Field(
        default=None, description="the Great Expectations project with the data-quality suites "
                                  "(default: the one shipped with threadline, expectations/)")

    #: folder of the config file; relative paths in the file are relative to it
    base_dir: Path = Field(default=Path("."), exclude=True)
    path: Path | None = Field(default=None, exclude=True)

    @property
    def source_roles(self) -> dict[str, str]:
        """Each source's role by its name (the source_system of its rows): erp, cmms or mes. The rules
        that compare systems read it (TRC-003 pairs MES and ERP production orders, and an ERP's copy of
        a work order gives way to the MES's or CMMS's)."""
        return {s.name: s.role for s in self.sources}

    def reconcile_settings(self, as_of: date):
        """The engine's settings: the rules' tolerances and switches, the reporting currency, the
        sources' roles, judged as of ``as_of``."""
        return self.rules.reconcile_settings(as_of=as_of, reporting_currency=self.reporting_currency,
                                             source_roles=self.source_roles)

    def source(self, name: str) -> SourceConfig:
        """The source called ``name``; the error lists the configured names."""
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(str(self.path), [f"no source named {name!r}; configured: {[s.name for s in self.sources]}"])

    def stream_settings(self, source: SourceConfig) -> list[StreamSettings]:
        """The validated stream settings of a source, in config order."""
        model = connector_class(source.kind).stream_model
        return [model.model_validate(s) for s in source.streams]

    def connection_settings(self, source: SourceConfig) -> dict[str, Any]:
        """The source's connection settings with relative paths resolved against the config folder."""
        resolved = dict(source.connection)
        for key in ("wsdl", "path", "database", "schema"):
            value = resolved.get(key)
            if isinstance(value, str) and "://" not in value and not Path(value).is_absolute():
                resolved[key] = str((self.base_dir / value).resolve())
        return resolved

    def resolve_mapping(self, spec: str) -> Path:
        """Find a mapping spec: absolute, relative to the config file, or shipped with threadline."""
        candidates = [Path(spec)] if Path(spec).is_absolute() else [self.base_dir / spec, SHIPPED_SPECS / spec]
        for candidate in candidates:
            if candidate.is_file():
                return candidate.resolve()
        raise FileNotFoundError(f"mapping spec {spec!r} not found; looked in: {', '.join(map(str, candidates))}")

    @property
    def suites_dir(self) -> Path:
        """The GX project whose suites validate every batch: ``expectations_dir`` or the shipped one."""
        from threadline.quality import SHIPPED_EXPECTATIONS

        return self.expectations_dir or SHIPPED_EXPECTATIONS

    @property
    def data_docs_dir(self) -> Path:
        """Where each run writes its Great Expectations Data Docs (linked from the gap report)."""
        return self.reports_dir / "data_docs"

    @property
    def site_ids(self) -> list[str]:
        return [s.id for s in self.sites]


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _secret_problems(value: Any, path: str) -> list[str]:
    """Literal secrets anywhere in a mapping: only ``*_env`` references are allowed."""
    problems = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and _SECRET_KEYS.search(k) and v not in (None, ""):
                problems.append(
                    f"{path}.{k}: secrets are not written in the config; set an environment variable "
                    f"and write {k}_env: VARIABLE_NAME"
                )
            else:
                problems.extend(_secret_problems(v, f"{path}.{k}"))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            problems.extend(_secret_problems(v, f"{path}[{i}]"))
    return problems


def locate_config(path: str | os.PathLike | None) -> Path:
    """The config path from the argument, else ``$THREADLINE_CONFIG``, else ./threadline.yaml."""
    return Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike | None = None, *, check_specs: bool = True) -> Config:
    """Read and validate threadline.yaml, reporting every problem at once as a ``ConfigError``."""
    from mappings.spec import load_spec  # late: mappings stays importable without threadline

    config_path = locate_config(path)
    if not config_path.is_file():
        raise ConfigError(
            str(config_path),
            [f"no configuration file here; pass --config PATH or set {CONFIG_ENV} "
             f"(`threadline demo` writes a working one)"],
        )
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(str(config_path), [f"not valid YAML: {exc}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError(str(config_path), ["the top level must be a mapping of keys"])

    problems = _secret_problems(raw, "config")
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems += [f"{_loc(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(str(config_path), problems) from None

    config.base_dir = config_path.resolve().parent
    config.path = config_path.resolve()
    config.landing_dir = (config.base_dir / config.landing_dir).resolve()
    config.reports_dir = (config.base_dir / config.reports_dir).resolve()
    if config.expectations_dir is not None:
        config.expectations_dir = (config.base_dir / config.expectations_dir).resolve()

    if not (config.warehouse.url or config.warehouse.url_env):
        problems.append("warehouse: give url (SQLAlchemy URL) or url_env (environment variable holding it)")
    elif config.warehouse.url and config.warehouse.url.startswith("sqlite:///") and not config.warehouse.url.startswith("sqlite:////"):
        # relative SQLite paths are relative to the config file, not to the caller's folder
        relative = config.warehouse.url[len("sqlite:///"):]
        if relative and relative != ":memory:":
            config.warehouse.url = f"sqlite:///{(config.base_dir / relative).resolve()}"

    names = [s.name for s in config.sources]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"sources: the name {dup!r} is used more than once")
    site_ids = set(config.site_ids)
    for rule_id in config.rules.disabled + list(config.rules.tolerances):
        from reconciliation.catalogue import CATALOGUE

        if rule_id not in CATALOGUE:
            problems.append(f"rules: unknown rule id {rule_id!r}; valid: {', '.join(CATALOGUE)}")
    for i, override in enumerate(config.rules.overrides):
        if override.site is not None and override.site not in site_ids:
            problems.append(f"rules.overrides[{i}].site: {override.site!r} is not a configured site "
                            f"({sorted(site_ids)})")
    if not any(p.startswith("rules: unknown rule id") for p in problems):
        try:  # tolerance names and values, override scopes: the engine's own checks
            config.reconcile_settings(as_of=date.today())
        except ValueError as exc:
            problems.append(f"rules: {str(exc).removeprefix('reconcile settings: ')}")

    for i, source in enumerate(config.sources):
        where = f"sources[{i}]"
        cls = connector_class(source.kind)
        try:
            cls.settings_model.model_validate(config.connection_settings(source))
        except ValidationError as exc:
            problems += [f"{where}.connection.{_loc(e['loc'])}: {e['msg']}" for e in exc.errors()]
        if source.connection_id is not None and not source.secret_env:
            problems.append(f"{where}.connection_id: the source names no secret to fill from the Airflow Connection; "
                            f"add connection.password_env (or token_env) naming the variable the connector reads")
        site = source.connection.get("site")
        if site is not None and site not in site_ids:
            problems.append(f"{where}.connection.site: {site!r} is not a configured site ({sorted(site_ids)})")
        stream_names = []
        for j, stream in enumerate(source.streams):
            try:
                settings = cls.stream_model.model_validate(stream)
            except ValidationError as exc:
                problems += [f"{where}.streams[{j}].{_loc(e['loc'])}: {e['msg']}" for e in exc.errors()]
                continue
            stream_names.append(settings.name)
            try:
                spec_path = config.resolve_mapping(settings.mapping)
            except FileNotFoundError as exc:
                problems.append(f"{where}.streams[{j}].mapping: {exc}")
                continue
            if check_specs:
                try:
                    load_spec(spec_path)
                except MappingSpecError as exc:
                    problems += [f"{where}.streams[{j}].mapping: {p}" for p in exc.problems]
        for dup in sorted({n for n in stream_names if stream_names.count(n) > 1}):
            problems.append(f"{where}.streams: the stream name {dup!r} is used more than once")

    if problems:
        raise ConfigError(str(config_path), problems)
    return config


__all__ = ["AirflowConfig", "Config", "SourceConfig", "RulesConfig", "ToleranceOverrideConfig", "SiteConfig", "WarehouseConfig", "load_config",
           "locate_config", "KINDS"]
