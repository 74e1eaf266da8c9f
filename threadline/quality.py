"""Data-quality suites: Great Expectations (GX Core 1.x) over every canonical batch and the warehouse.

The suites are data, in the GX project under ``expectations/`` (``expectations/expectations/*.json``,
one suite per canonical entity, named after it, plus ``warehouse.json`` for checks across tables).
Each expectation is a GX expectation (``type``, ``kwargs``) whose ``meta`` may say:

- ``critical: true``: a failure stops the load of the stream (nothing of the batch is written, the
  bookmark stays where it was) with an error naming the source, stream and expectation;
- ``description``: what a steward reads in the quarantine reason and the exception.

A failed row-level expectation (column values, column pairs, several columns: GX lists the rows it
did not expect) quarantines those rows with a reason naming the suite and the expectation; they
become DQ-001 exceptions at the next reconcile. A failed batch-level expectation that is not
critical (a row count, a mean) is noted in the run log. The warehouse suite's expectations are
``unexpected_rows_expectation`` queries over the canonical tables (``{batch}`` is the table the
expectation's ``meta.table`` names); the rows they return become DQ-002 exceptions.

Each batch is validated once with its whole suite: GX hashes the DataFrame on every validation,
which costs as much as all the checks together.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mappings.canonical import ENTITIES, Entity
from mappings.engine import QUARANTINE_COLUMNS
from threadline.errors import FatalError

log = logging.getLogger(__name__)

#: the GX project shipped with threadline; ``expectations_dir`` in threadline.yaml points at a copy
SHIPPED_EXPECTATIONS = Path(__file__).resolve().parent.parent / "expectations"
#: where GX keeps suites inside a project folder
SUITES_FOLDER = "expectations"
WAREHOUSE_SUITE = "warehouse"
#: columns every canonical row carries besides its entity's fields
LINEAGE_COLUMNS = ("source_system", "source_key", "run_id", "extracted_at", "record_hash")
#: warehouse-only columns a warehouse expectation's query may read
WAREHOUSE_COLUMNS = ("deleted_at", "deleted_run_id")
#: how a quarantined row's check names a GX expectation: "gx:<suite>:<expectation type>"
CHECK_PREFIX = "gx:"
_KWARG_COLUMNS = ("column", "column_A", "column_B")
_KWARG_COLUMN_LISTS = ("column_list",)
_META_KEYS = {"critical", "description", "table", "subject_entity", "notes"}


class SuiteError(FatalError):
    """A suite file cannot be used; ``problems`` names each file and expectation with what to fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the data-quality suites:\n{lines}")


class CriticalExpectationError(FatalError):
    """A critical expectation failed on a batch: that stream's load stopped before writing the batch."""


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a suite file, checked against GX and the canonical model."""

    suite: str
    number: int  # 1-based position in the suite file
    type: str
    kwargs: Mapping[str, Any]
    meta: Mapping[str, Any]
    row_level: bool

    @property
    def critical(self) -> bool:
        return bool(self.meta.get("critical", False))

    @property
    def columns(self) -> list[str]:
        """The canonical columns the expectation reads (empty for table-level ones)."""
        found = [self.kwargs[k] for k in _KWARG_COLUMNS if isinstance(self.kwargs.get(k), str)]
        for key in _KWARG_COLUMN_LISTS:
            found += [c for c in self.kwargs.get(key) or [] if isinstance(c, str)]
        return found

    @property
    def label(self) -> str:
        """'po_line #3 expect_column_values_to_be_between(qty_ordered)': how messages name it."""
        return f"{self.suite} #{self.number} {self.type}({', '.join(self.columns)})"

    @property
    def check_name(self) -> str:
        """The quarantine check name of rows this expectation held back."""
        return f"{CHECK_PREFIX}{self.suite}:{self.type}"[:64]


@dataclass
class Suite:
    """A suite file: its entity (or the warehouse) and its expectations."""

    name: str
    path: Path
    expectations: list[ExpectationSpec]
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def entity(self) -> Entity | None:
        return ENTITIES.get(self.name)


def _expectation_class(type_name: str):
    from great_expectations.expectations.registry import get_expectation_impl

    try:
        return get_expectation_impl(type_name)
    except Exception:  # GX raises its own not-found error; the message below names the fix
        return None


def _is_row_level(impl) -> bool:
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    return issubclass(impl, (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation))


def _known_types() -> list[str]:
    from great_expectations.expectations.registry import list_registered_expectation_implementations

    return sorted(list_registered_expectation_implementations())


def _close_matches(word: str, choices: Iterable[str]) -> str:
    import difflib

    near = difflib.get_close_matches(word, list(choices), n=3)
    return f" (did you mean {', '.join(near)}?)" if near else ""


def read_suite(path: Path) -> tuple[Suite | None, list[str]]:
    """Read and check one suite file; returns the suite (None if unusable) and every problem found.

    Checked: the file is JSON in GX's suite layout, its name is a canonical entity (or
    ``warehouse``), every expectation type is one GX knows, its arguments are valid for that type,
    every column it names is a canonical column of the entity, ``meta`` uses only known keys, and
    warehouse expectations are ``unexpected_rows_expectation`` queries naming a canonical table.
    """
    where = str(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [f"{where}: cannot be read: {exc}"]
    except json.JSONDecodeError as exc:
        return None, [f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"]
    if not isinstance(raw, dict) or not isinstance(raw.get("expectations"), list):
        return None, [f"{where}: a suite is a JSON object with \"name\" and a list \"expectations\""]
    name = raw.get("name")
    problems = []
    if name != path.stem:
        problems.append(f"{where}: the suite is named {name!r}; name it after its file, {path.stem!r}")
        name = path.stem
    if name not in ENTITIES and name != WAREHOUSE_SUITE:
        return None, [f"{where}: no canonical entity is called {name!r}; a suite is named after its entity "
                      f"({', '.join(ENTITIES)}) or is {WAREHOUSE_SUITE!r}"]
    entity = ENTITIES.get(name)
    columns = set(LINEAGE_COLUMNS) | ({f.name for f in entity.fields} if entity else set())
    specs = []
    for number, entry in enumerate(raw["expectations"], start=1):
        at = f"{where}: expectation #{number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            problems.append(f"{at}: an expectation is an object with \"type\", \"kwargs\" and optional \"meta\"")
            continue
        type_name, kwargs, meta = entry["type"], entry.get("kwargs") or {}, entry.get("meta") or {}
        at = f"{at} ({type_name})"
        impl = _expectation_class(type_name)
        if impl is None:
            problems.append(f"{at}: Great Expectations has no expectation type {type_name!r}"
                            f"{_close_matches(type_name, _known_types())}")
            continue
        if not isinstance(kwargs, dict) or not isinstance(meta, dict):
            problems.append(f"{at}: \"kwargs\" and \"meta\" must be JSON objects")
            continue
        unknown_meta = sorted(set(meta) - _META_KEYS)
        if unknown_meta:
            problems.append(f"{at}: unknown meta key(s) {', '.join(unknown_meta)}; valid: {', '.join(sorted(_META_KEYS))}")
        if "critical" in meta and not isinstance(meta["critical"], bool):
            problems.append(f"{at}: meta.critical must be true or false, not {meta['critical']!r}")
        try:
            impl(**kwargs)
        except (TypeError, ValueError) as exc:  # GX's models raise pydantic (v1 API) validation errors
            problems.append(f"{at}: invalid arguments: {_argument_problems(exc)}")
            continue
        spec = ExpectationSpec(name, number, type_name, kwargs, meta, _is_row_level(impl))
        if entity is not None:
            for column in spec.columns:
                if column not in columns:
                    problems.append(f"{at}: {name} has no column {column!r}{_close_matches(column, columns)}")
        else:
            problems += _warehouse_problems(spec, at)
        specs.append(spec)
    suite_meta = raw.get("meta") if isinstance(raw.get("meta"), dict) else {}
    return Suite(name, path, specs, suite_meta), problems


def _argument_problems(exc: Exception) -> str:
    """'value_set: field required' from a pydantic validation error, else the error's text."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'kwargs'}: {e['msg']}" for e in errors())
        except (TypeError, KeyError):
            pass
    return str(exc)


def _warehouse_problems(spec: ExpectationSpec, at: str) -> list[str]:
    if spec.type != "unexpected_rows_expectation":
        return [f"{at}: the warehouse suite holds unexpected_rows_expectation queries only; checks of one "
                f"entity's columns belong in that entity's suite"]
    table = spec.meta.get("table")
    if table not in ENTITIES:
        return [f"{at}: meta.table must name the canonical table the query's {{batch}} stands for "
                f"({', '.join(ENTITIES)}), not {table!r}"]
    subject = spec.meta.get("subject_entity", table)
    if subject not in ENTITIES:
        return [f"{at}: meta.subject_entity {subject!r} is not a canonical entity"]
    if "{batch}" not in spec.kwargs.get("unexpected_rows_query", ""):
        return [f"{at}: the query must read {{batch}} (the table meta.table names)"]
    return []


def suite_files(folder: Path) -> list[Path]:
    """The suite files of a GX project folder, sorted by name."""
    return sorted((Path(folder) / SUITES_FOLDER).glob("*.json"))


def load_suites(folder: Path) -> dict[str, Suite]:
    """Every suite of the project in ``folder`` by name; any problem in any file raises ``SuiteError``
    listing them all."""
    folder = Path(folder)
    if not (folder / SUITES_FOLDER).is_dir():
        raise SuiteError([f"{folder}: no GX project with suites here (expected the folder "
                          f"{folder / SUITES_FOLDER}); set expectations_dir in threadline.yaml"])
    suites, problems = {}, []
    for path in suite_files(folder):
        suite, found = read_suite(path)
        problems += found
        if suite is not None:
            suites[suite.name] = suite
    if problems:
        raise SuiteError(problems)
    return suites


def _gx_suite(suite: Suite):
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl

    gx_suite = gx.ExpectationSuite(name=suite.name, meta=dict(suite.meta))
    for spec in suite.expectations:
        impl = get_expectation_impl(spec.type)
        gx_suite.add_expectation(impl(**spec.kwargs, meta={**spec.meta, "number": spec.number}))
    return gx_suite


def _ephemeral_context(docs_dir: Path | None):
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    # no temporary docs site (GX makes a folder in /tmp per context by default), no progress bars, and no
    # usage statistics sent anywhere
    context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False), analytics_enabled=False))
    if docs_dir is not None:
        context.add_data_docs_site("threadline", {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    return context


@dataclass
class BatchOutcome:
    """What a suite said about one batch."""

    valid: pd.DataFrame
    quarantined: pd.DataFrame
    #: batch-level expectations that failed without being critical, for the run log
    notes: list[str] = field(default_factory=list)


class BatchValidator:
    """Validates canonical batches with their entity's suite, in one GX context for a whole run.

    ``validate`` runs the suite's checkpoint once per batch; ``build_docs`` writes the Data Docs of
    every batch validated so far to ``docs_dir``.
    """

    def __init__(self, suites: Mapping[str, Suite], docs_dir: Path | None = None):
        self.suites = {name: s for name, s in suites.items() if name in ENTITIES and s.expectations}
        self.docs_dir = docs_dir
        self._context = None
        self._checkpoints: dict[str, Any] = {}
        self.validated = 0

    def _checkpoint(self, entity: str):
        import great_expectations as gx

        if self._context is None:
            self._context = _ephemeral_context(self.docs_dir)
            self._datasource = self._context.data_sources.add_pandas("canonical_batches")
        if entity not in self._checkpoints:
            asset = self._datasource.add_dataframe_asset(entity)
            batch = asset.add_batch_definition_whole_dataframe(f"{entity}_batch")
            suite = self._context.suites.add(_gx_suite(self.suites[entity]))
            definition = self._context.validation_definitions.add(
                gx.ValidationDefinition(name=entity, data=batch, suite=suite))
            self._checkpoints[entity] = self._context.checkpoints.add(gx.Checkpoint(
                name=f"{entity}_checkpoint", validation_definitions=[definition], actions=[],
                result_format={"result_format": "COMPLETE"}))
        return self._checkpoints[entity]

    def validate(self, entity: str, frame: pd.DataFrame, *, source: str, stream: str,
                 batch_no: int) -> BatchOutcome:
        """Validate one canonical batch; returns the rows that pass, the quarantined rows
        (``QUARANTINE_COLUMNS``) and notes. A failed critical expectation raises
        ``CriticalExpectationError`` naming the source, stream, batch and expectation."""
        suite = self.suites.get(entity)
        if suite is None or frame.empty:
            return BatchOutcome(frame, _empty_quarantine())
        rows = frame.reset_index(drop=True)
        result = self._checkpoint(entity).run(batch_parameters={"dataframe": rows})
        self.validated += 1
        suite_result = next(iter(result.run_results.values()))
        specs = {s.number: s for s in suite.expectations}
        where = f"source {source!r}, stream {stream!r}, batch {batch_no}"
        critical, notes, parts = [], [], []
        failed_any = pd.Series(False, index=rows.index)
        for outcome in suite_result.results:
            if outcome.success:
                continue
            spec = specs[outcome.expectation_config.meta["number"]]
            description = spec.meta.get("description") or spec.type
            unexpected = outcome.result.get("unexpected_index_list") if spec.row_level else None
            raised = _raised(outcome)
            if raised:
                critical.append(f"{spec.label} could not be evaluated: {raised}")
                continue
            if spec.critical:
                count = outcome.result.get("unexpected_count")
                observed = outcome.result.get("observed_value")
                detail = f"{count} row(s) failed" if count is not None else f"observed {observed!r}"
                keys = rows.loc[list(unexpected or [])[:5], "source_key"].astype(str).tolist() if unexpected else []
                critical.append(f"critical expectation {spec.label} failed ({description}): {detail}"
                                + (f", e.g. source keys {', '.join(keys)}" if keys else ""))
                continue
            if not spec.row_level:
                notes.append(f"batch {batch_no}: expectation {spec.label} failed ({description}): "
                             f"observed {outcome.result.get('observed_value')!r}")
                continue
            index = pd.Index(unexpected or [])
            new = index[~failed_any.loc[index].to_numpy()] if len(index) else index
            failed_any.loc[index] = True
            if not len(new):
                continue
            held = rows.loc[new]
            column = spec.columns[0] if spec.columns else "source_key"
            values = held[column].astype("string").astype(object)
            parts.append(pd.DataFrame({
                "row": held.index, "source_key": held["source_key"].astype(object).to_numpy(),
                "field": column, "column": column,
                "raw_value": values.where(values.notna(), None).to_numpy(),
                "check": spec.check_name,
                "reason": (f"{entity}: failed expectation {spec.label}: {description} ({column} = "
                           + values.fillna("empty").astype(str) + ")").to_numpy(),
            }))
        if critical:
            raise CriticalExpectationError(
                f"{where}: {'; '.join(critical)}; the load of this stream stopped and nothing of this batch was "
                f"written (the bookmark stays where it was); fix the rows in the source, or relax the "
                f"expectation in {suite.path}")
        if not parts:
            return BatchOutcome(rows, _empty_quarantine(), notes)
        quarantined = pd.concat(parts, ignore_index=True).sort_values("row", kind="stable")
        quarantined["record"] = [json.dumps(r, default=str) for r in
                                 rows.loc[quarantined["row"]].to_dict(orient="records")]
        return BatchOutcome(rows.loc[~failed_any].reset_index(drop=True),
                            quarantined.reset_index(drop=True)[list(QUARANTINE_COLUMNS)], notes)

    def build_docs(self) -> Path | None:
        """Write GX Data Docs of this run's validations (and the suites) to ``docs_dir``; returns
        the index page, or None when nothing was validated or no folder was given."""
        if self.docs_dir is None or self._context is None or not self.validated:
            return None
        self._context.build_data_docs()
        return self.docs_dir / "index.html"


def _raised(outcome) -> str | None:
    """The first line of the error GX caught while computing an expectation, else None.

    GX keeps it either on the result itself or per metric it computed (keyed by metric id).
    """
    info = outcome.exception_info or {}
    entries = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for entry in entries:
        if entry.get("raised_exception"):
            message = str(entry.get("exception_message") or "unknown error").strip()
            return (message.splitlines() or ["unknown error"])[0][:300]
    return None


def _empty_quarantine() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in QUARANTINE_COLUMNS})


#: the quarantine check names of rows a suite held back (``ExpectationSpec.check_name``)
_GX_CHECK = re.compile(r"^gx:(?P<suite>[^:]+):(?P<type>.+)$")


def quarantine_findings(quarantined: pd.DataFrame, frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """DQ-001 findings: rows a data-quality expectation quarantined that are still held back.

    ``quarantined`` is the quarantine table (``tl_quarantine`` columns); rows of other checks are
    ignored. A quarantined row is no longer held back once a row with the same source system and
    key was loaded after it was last seen (``loaded_at`` of the canonical row in ``frames`` later
    than ``last_seen_at``): the source corrected it. One finding per quarantined row's key, its
    evidence naming every expectation it failed and holding every copy of the row as read.
    """
    from reconciliation.exceptions import empty_findings, make_findings

    if quarantined.empty:
        return empty_findings()
    held = quarantined[quarantined["check_name"].astype(str).str.match(_GX_CHECK.pattern)].copy()
    if held.empty:
        return empty_findings()
    held["last_seen_at"] = pd.to_datetime(held["last_seen_at"])
    superseded = pd.Series(False, index=held.index)
    for entity, group in held.groupby("entity"):
        frame = frames.get(entity)
        if frame is None or frame.empty or "loaded_at" not in frame:
            continue
        loaded = frame[["source_system", "source_key", "loaded_at"]].astype({"source_key": object})
        matched = group[["source", "source_key"]].reset_index().merge(
            loaded, how="inner", left_on=["source", "source_key"], right_on=["source_system", "source_key"])
        later = pd.to_datetime(matched["loaded_at"]).to_numpy() > group.loc[matched["index"], "last_seen_at"].to_numpy()
        superseded.loc[matched.loc[later, "index"]] = True
    held = held[~superseded]
    if held.empty:
        return empty_findings()
    # a row without a readable key is known by its quarantine id
    held["subject_key"] = held["source_key"].where(held["source_key"].notna() & held["source_key"].astype(str).ne(""),
                                                   held["quarantine_id"])
    subjects = []
    for (entity, source, key), rows in held.sort_values(["last_seen_at", "quarantine_id"]).groupby(
            ["entity", "source", "subject_key"], sort=True):
        records = [json.loads(r) if isinstance(r, str) else None for r in rows["record"]]
        first = next((r for r in records if r), {}) or {}
        expectations = list(dict.fromkeys(rows["reason"]))
        subjects.append({
            "site": first.get("site"), "subject_entity": entity, "subject_source_system": source,
            "subject_source_key": key, "wo_number": first.get("wo_number"), "op_seq": first.get("op_seq"),
            "po_number": first.get("po_number"), "line_number": first.get("line_number"),
            "summary": f"{entity} {key} from {source} held back: " + "; ".join(expectations),
            "evidence": json.dumps({
                "stream": rows["stream"].iloc[0],
                "expectations": [{"check": c, "field": f, "value": v, "reason": r} for c, f, v, r in
                                 rows[["check_name", "field", "raw_value", "reason"]].drop_duplicates().itertuples(index=False)],
                "rows": [r for r in records if r is not None],
                "last_run_id": rows["last_run_id"].iloc[-1],
            }, default=str, sort_keys=True),
        })
    return make_findings("DQ-001", pd.DataFrame(subjects))


def warehouse_findings(suite: Suite | None, url: str, *, docs_dir: Path | None = None) -> pd.DataFrame:
    """DQ-002 findings: the canonical rows each query of the warehouse suite returns.

    The suite's expectations run through GX against the warehouse at ``url`` (one SQL data source,
    one table asset per table the queries read). A query GX cannot run (a typo in the SQL, a column
    the warehouse lacks) raises ``SuiteError`` naming the suite file and the expectation, without
    the URL (it may hold a password). With ``docs_dir`` the results are added to the Data Docs there.
    """
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl

    from reconciliation.exceptions import empty_findings, make_findings

    if suite is None or not suite.expectations:
        return empty_findings()
    context = _ephemeral_context(docs_dir)
    with warnings.catch_warnings():
        # GX suggests its dialect-specific data sources; the generic one serves SQLite and PostgreSQL alike
        warnings.simplefilter("ignore")
        datasource = context.data_sources.add_sql("warehouse", connection_string=url)
    subjects, problems = [], []
    for table in dict.fromkeys(spec.meta["table"] for spec in suite.expectations):
        specs = [s for s in suite.expectations if s.meta["table"] == table]
        batch = datasource.add_table_asset(name=table, table_name=table).add_batch_definition_whole_table("all")
        gx_suite = context.suites.add(gx.ExpectationSuite(name=f"{suite.name}.{table}", expectations=[
            get_expectation_impl(s.type)(**s.kwargs, meta={**s.meta, "number": s.number}) for s in specs]))
        definition = context.validation_definitions.add(gx.ValidationDefinition(name=table, data=batch, suite=gx_suite))
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"{suite.name}_{table}_checkpoint", validation_definitions=[definition], actions=[],
            result_format={"result_format": "COMPLETE"}))
        result = next(iter(checkpoint.run().run_results.values()))
        by_number = {s.number: s for s in specs}
        for outcome in result.results:
            spec = by_number[outcome.expectation_config.meta["number"]]
            raised = _raised(outcome)
            if raised:
                problems.append(f"{suite.path}: expectation #{spec.number} ({spec.type}) on {table}: the query "
                                f"failed: {raised}")
                continue
            if outcome.success:
                continue
            rows = (outcome.result.get("details") or {}).get("unexpected_rows") or []
            count = outcome.result.get("observed_value") or len(rows)
            if count > len(rows):
                log.warning("%s: expectation #%d returned %d rows; GX handed over the first %d as exceptions",
                            suite.path, spec.number, count, len(rows))
            description = spec.meta.get("description") or spec.kwargs.get("description") or spec.type
            for row in rows:
                subjects.append({
                    "site": row.get("site"), "subject_entity": spec.meta.get("subject_entity", table),
                    "subject_source_system": row.get("source_system"), "subject_source_key": row.get("source_key"),
                    "wo_number": row.get("wo_number"), "op_seq": row.get("op_seq"),
                    "po_number": row.get("po_number"), "line_number": row.get("line_number"),
                    "summary": f"{table} {row.get('source_key')} from {row.get('source_system')}: failed "
                               f"{suite.name} #{spec.number}: {description}",
                    "evidence": json.dumps({"expectation": f"{suite.name} #{spec.number} {spec.type}",
                                            "description": description, "query": spec.kwargs.get("unexpected_rows_query"),
                                            "rows_returned": count, "row": row}, default=str, sort_keys=True),
                })
    if problems:
        raise SuiteError(problems)
    if docs_dir is not None:
        context.build_data_docs()
    if not subjects:
        return empty_findings()
    return make_findings("DQ-002", pd.DataFrame(subjects))
