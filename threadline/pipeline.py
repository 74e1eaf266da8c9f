"""The pipeline: extract -> land -> map -> validate -> load -> reconcile -> publish.

The CLI and the Airflow DAGs call these functions. Per batch, the canonical rows, the quarantined
rows and the new bookmark are committed together; ``landed = loaded + quarantined`` is checked for
every batch and recorded in the run log with control sums and timings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connectors import connector_class
from connectors.base import Connector, ConnectorError, StreamSettings
from connectors.inbox import InboxConnector, ProcessedFile
from connectors.records import prefetch
from mappings.canonical import ENTITIES
from mappings.engine import Lookups, map_batch
from mappings.spec import MappingSpec, MappingSpecError, load_spec
from threadline.config import Config, SourceConfig
from threadline.errors import FatalError, ThreadlineError, TransientError
from threadline.quality import BatchValidator, load_suites
from threadline.validate import validate_batch
from threadline.warehouse import schema
from threadline.warehouse.store import MassDeleteError, Warehouse, open_warehouse, upsert, utcnow

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """What the pipeline tells a progress display; every method is optional to act on."""

    def stage(self, name: str) -> None: ...
    def stream_started(self, source: str, stream: str) -> None: ...
    def batch_loaded(self, source: str, stream: str, rows: int) -> None: ...
    def stream_finished(self, result: "StreamResult") -> None: ...


class SilentReporter:
    def stage(self, name: str) -> None:
        pass

    def stream_started(self, source: str, stream: str) -> None:
        pass

    def batch_loaded(self, source: str, stream: str, rows: int) -> None:
        pass

    def stream_finished(self, result: "StreamResult") -> None:
        pass


@dataclass
class StreamResult:
    """Run-log figures of one stream in one run."""

    run_id: str
    source: str
    stream: str
    entity: str
    status: str = "running"
    batches: int = 0
    rows_read: int = 0
    rows_landed: int = 0
    rows_mapped: int = 0
    rows_quarantined: int = 0
    rows_loaded: int = 0
    #: rows the mapping spec's ``where`` left out: landed = loaded + quarantined + skipped
    rows_skipped: int = 0
    control_sums: dict[str, dict[str, float]] = field(default_factory=lambda: {"read": {}, "loaded": {}})
    bookmark_before: dict[str, Any] | None = None
    bookmark_after: dict[str, Any] | None = None
    #: soft-deleted by a full refresh; None when no delete check ran for this stream
    rows_deleted: int | None = None
    #: restarts from the last committed bookmark after transient source failures
    resumes: int = 0
    notes: str | None = None
    #: quarantined rows without a source key: a full refresh cannot tell what they stand for
    rows_quarantined_without_key: int = 0
    seconds_extract: float = 0.0
    seconds_map: float = 0.0
    seconds_validate: float = 0.0
    seconds_load: float = 0.0
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    error: str | None = None

    def add_note(self, note: str) -> None:
        """Add ``note`` to what the run log says about this stream."""
        self.notes = f"{self.notes}; {note}" if self.notes else note

    def log_row(self) -> dict[str, Any]:
        row = asdict(self)
        del row["rows_quarantined_without_key"]
        for key in ("control_sums", "bookmark_before", "bookmark_after"):
            row[key] = json.dumps(row[key], default=str) if row[key] is not None else None
        return row


@dataclass
class RunResult:
    """What one pipeline run did."""

    run_id: str
    status: str
    streams: list[StreamResult]
    findings_by_rule: dict[str, int] = field(default_factory=dict)
    exceptions: dict[str, int] = field(default_factory=dict)
    costliest: list[dict[str, Any]] = field(default_factory=list)
    #: link suggestions this run published (threadline.links.publish_suggestions): suggested, new, withdrawn
    links: dict[str, int] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    #: the run failed only on transient errors (a later retry may succeed)
    transient: bool = False

    def summary(self) -> dict[str, Any]:
        totals = {k: sum(getattr(s, k) for s in self.streams) for k in
                  ("rows_read", "rows_landed", "rows_mapped", "rows_quarantined", "rows_loaded", "rows_skipped",
                   "resumes")}
        totals["rows_deleted"] = sum(s.rows_deleted or 0 for s in self.streams)
        return {"run_id": self.run_id, "status": self.status, "totals": totals,
                "findings_by_rule": self.findings_by_rule, "exceptions": self.exceptions, "links": self.links,
                "reports": self.reports, "seconds": self.seconds, "error": self.error}


def new_run_id() -> str:
    """Sortable and unique: UTC time plus random suffix."""
    return utcnow().strftime("R%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _last_bookmark(table: pa.Table, columns: list[str]) -> dict[str, Any] | None:
    """The bookmark after a batch: its last row's bookmark columns (batches arrive ordered by them)."""
    if not columns or table.num_rows == 0:
        return None
    last = table.slice(table.num_rows - 1, 1).select(columns).to_pylist()[0]
    return {k: _json_value(v) for k, v in last.items()}


def _numeric_sums(table: pa.Table, columns: Iterable[str]) -> dict[str, float]:
    sums = {}
    for name in columns:
        if name in table.column_names and (pa.types.is_integer(table.schema.field(name).type)
                                           or pa.types.is_floating(table.schema.field(name).type)):
            sums[name] = float(pc.sum(table[name]).as_py() or 0.0)
    return sums


def _add(into: dict[str, float], more: dict[str, float]) -> None:
    for key, value in more.items():
        into[key] = round(into.get(key, 0.0) + value, 6)


def _land(config: Config, warehouse: Warehouse, run_id: str, source: str, stream: str, batch_no: int,
          table: pa.Table, extracted_at: datetime) -> None:
    """Keep the raw batch exactly as extracted (Parquet) and register its hash."""
    folder = config.landing_dir / source / stream / run_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"batch-{batch_no:06d}.parquet"
    pq.write_table(table, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with warehouse.engine.begin() as conn:
        upsert(conn, schema.landed_batch, pd.DataFrame([{
            "run_id": run_id, "source": source, "stream": stream, "batch_no": batch_no,
            "extracted_at": extracted_at, "rows": table.num_rows, "payload_hash": digest, "path": str(path)}]))


def _timed(iterator: Iterator[pa.Table], result: StreamResult) -> Iterator[pa.Table]:
    while True:
        started = time.perf_counter()
        try:
            batch = next(iterator)
        except StopIteration:
            result.seconds_extract += time.perf_counter() - started
            return
        result.seconds_extract += time.perf_counter() - started
        yield batch


def sync_stream(config: Config, warehouse: Warehouse, connector: Connector, source: SourceConfig,
                stream: StreamSettings, spec: MappingSpec, run_id: str, *, full: bool = False,
                reporter: Reporter | None = None, validator: BatchValidator | None = None) -> StreamResult:
    """Extract, land, map, validate and load one stream; the bookmark moves with each committed batch.

    A transient source failure in the middle of a read (a dropped connection, a service that
    stopped answering) restarts the read from the last committed bookmark, up to
    ``source.resume_attempts`` times with doubling waits; rows read twice are absorbed by the
    upsert. A read that failed before committing a single batch is not restarted: the source is
    down rather than interrupted, and the connector has already retried what it could.

    With ``full``, the stream ignores its stored bookmark and records every key it reads, for the
    soft-delete check after the source is done.

    ``validator`` runs the data-quality suites on each mapped batch (one per run, shared by the
    streams); without it, the suites of ``config.suites_dir`` are loaded for this stream.
    """
    reporter = reporter or SilentReporter()
    validator = validator or BatchValidator(load_suites(config.suites_dir))
    result = StreamResult(run_id, source.name, stream.name, spec.entity.name)
    result.bookmark_before = None if full else warehouse.get_bookmark(source.name, stream.name)
    warehouse.record_stream(result.log_row())
    reporter.stream_started(source.name, stream.name)
    batch_no = 0
    lookups = Lookups(lambda entity, match, value: warehouse.lookup_values(entity, source.name, match, value))
    try:
        while True:
            committed = result.bookmark_after if result.bookmark_after is not None else result.bookmark_before
            batches_before = batch_no
            try:
                batches = prefetch(connector.read(stream, committed), connector.prefetch_depth(stream))
                for table in _timed(batches, result):
                    batch_no += 1
                    _load_one_batch(config, warehouse, connector, source, stream, spec, run_id, result,
                                    batch_no, table, full, lookups, validator)
                    reporter.batch_loaded(source.name, stream.name, table.num_rows)
                break
            except ConnectorError as exc:
                made_progress = batch_no > batches_before
                if not exc.transient or not made_progress or result.resumes >= source.resume_attempts:
                    raise
                result.resumes += 1
                wait = source.resume_backoff_seconds * 2 ** (result.resumes - 1)
                log.warning("source %r, stream %r: %s; restarting from the committed bookmark %s in %.1fs "
                            "(restart %d of %d)", source.name, stream.name, exc, json.dumps(committed, default=str),
                            wait, result.resumes, source.resume_attempts)
                warehouse.record_stream(result.log_row())
                time.sleep(wait)
        result.status = "succeeded"
    except BaseException as exc:
        # whatever stopped the stream, the run log must not say it is still running
        result.status = "failed"
        result.error = str(exc) or type(exc).__name__
        if result.resumes:
            result.error += f" (after {result.resumes} restart(s) from the committed bookmark)"
        raise
    finally:
        result.finished_at = utcnow()
        if result.bookmark_after is None:
            result.bookmark_after = result.bookmark_before
        warehouse.record_stream(result.log_row())
        reporter.stream_finished(result)
    return result


def _load_one_batch(config: Config, warehouse: Warehouse, connector: Connector, source: SourceConfig,
                    stream: StreamSettings, spec: MappingSpec, run_id: str, result: StreamResult,
                    batch_no: int, table: pa.Table, full: bool, lookups: Lookups, validator: BatchValidator) -> None:
    """Land, map, validate and load one batch; its rows, quarantine and bookmark commit together.

    Validation is the canonical model's own checks, then the entity's data-quality suite on the rows
    that passed them; a failed critical expectation raises before anything of the batch is written.
    """
    extracted_at = utcnow()
    result.batches = batch_no
    result.rows_read += table.num_rows
    _add(result.control_sums["read"], _numeric_sums(table, spec.source_columns))
    _land(config, warehouse, run_id, source.name, stream.name, batch_no, table, extracted_at)
    result.rows_landed += table.num_rows

    started = time.perf_counter()
    mapped = map_batch(spec, table.to_pandas(), source_system=source.name, run_id=run_id,
                       extracted_at=extracted_at, sparse=connector.sparse_records, lookups=lookups)
    result.seconds_map += time.perf_counter() - started
    result.rows_mapped += len(mapped.mapped)

    started = time.perf_counter()
    valid, invalid = validate_batch(spec.entity, mapped.mapped)
    checked = validator.validate(spec.entity.name, valid, source=source.name, stream=stream.name, batch_no=batch_no)
    valid = checked.valid
    for note in checked.notes:
        result.add_note(note)
    result.seconds_validate += time.perf_counter() - started
    held = [q for q in (mapped.quarantined, invalid, checked.quarantined) if not q.empty]
    quarantined = pd.concat(held, ignore_index=True) if len(held) > 1 else held[0] if held else mapped.quarantined

    result.rows_skipped += mapped.skipped
    if len(valid) + len(quarantined) + mapped.skipped != table.num_rows:
        raise FatalError(f"source {source.name!r}, stream {stream.name!r}, batch {batch_no}: "
                         f"{table.num_rows} rows landed but {len(valid)} loaded + {len(quarantined)} "
                         f"quarantined + {mapped.skipped} skipped; nothing of this batch was loaded")
    bookmark = _last_bookmark(table, stream.bookmark)
    started = time.perf_counter()
    loaded = warehouse.load_batch(entity=spec.entity.name, rows=valid, quarantined=quarantined,
                                  source=source.name, stream=stream.name, run_id=run_id,
                                  bookmark=bookmark, track_keys=full)
    result.seconds_load += time.perf_counter() - started
    result.rows_loaded += loaded
    result.rows_quarantined += len(quarantined)
    if full and not quarantined.empty:
        result.rows_quarantined_without_key += int(quarantined["source_key"].isna().sum())
    decimal_fields = [f.name for f in spec.entity.fields if f.type == "decimal"]
    _add(result.control_sums["loaded"], {f: float(valid[f].sum()) for f in decimal_fields})
    if bookmark is not None:
        result.bookmark_after = bookmark


def extract_and_load(config: Config, warehouse: Warehouse, run_id: str, *, sources: Iterable[str] | None = None,
                     full: bool = False, reporter: Reporter | None = None) -> tuple[list[StreamResult], list[str]]:
    """Sync every enabled source (or the named ones); returns stream results and failure messages."""
    wanted = set(sources) if sources else None
    if wanted:
        for name in wanted:
            config.source(name)  # unknown names fail with the list of configured ones
    results, failures = [], []
    validator = BatchValidator(load_suites(config.suites_dir), docs_dir=config.data_docs_dir)
    for source in config.sources:
        if not source.enabled or (wanted and source.name not in wanted):
            continue
        try:
            connector = connector_class(source.kind)(source.name, config.connection_settings(source))
        except ConnectorError as exc:
            failures.append(str(exc))
            continue
        source_results, source_failures = [], []
        with connector:
            streams = config.stream_settings(source)
            inbox_seconds = 0.0
            if isinstance(connector, InboxConnector):
                started = time.perf_counter()
                try:
                    _open_inbox(config, warehouse, connector, streams)
                    inbox_seconds = time.perf_counter() - started
                except ConnectorError as exc:
                    source_failures.append(f"[fatal] {exc}")
                    streams = []
            for stream in streams:
                try:
                    # inside the try: a spec broken since the config was checked fails its stream only
                    spec = load_spec(config.resolve_mapping(stream.mapping))
                    source_results.append(sync_stream(config, warehouse, connector, source, stream, spec,
                                                      run_id, full=full, reporter=reporter, validator=validator))
                except (ConnectorError, MappingSpecError, ThreadlineError) as exc:
                    kind = "transient" if isinstance(exc, TransientError) or getattr(exc, "transient", False) \
                        else "fatal"
                    source_failures.append(f"[{kind}] {exc}")
            if isinstance(connector, InboxConnector):
                _settle_inbox(warehouse, connector, run_id, source_results, failed=bool(source_failures),
                              open_seconds=inbox_seconds)
        if full and connector.snapshot_reads:
            source_failures += _settle_deletes(warehouse, source, run_id, source_results, complete=not source_failures)
        elif full:
            _skip_deletes(warehouse, source, run_id, source_results)
        results += source_results
        failures += source_failures
    validator.build_docs()
    return results, failures


def _open_inbox(config: Config, warehouse: Warehouse, connector: InboxConnector,
                streams: list[StreamSettings]) -> None:
    """Hand an inbox connector what the ledger knows and what each stream's mapping reads (connectors.inbox)."""
    needs: dict[str, tuple[str, ...]] = {}
    for stream in streams:
        try:
            needs[stream.name] = load_spec(config.resolve_mapping(stream.mapping)).source_columns
        except (MappingSpecError, FileNotFoundError):
            pass  # the stream itself fails with this error when it runs
    processed = {sha: ProcessedFile(*seen) for sha, seen in
                 warehouse.processed_inbox_files(connector.source_name).items()}
    connector.open_inbox(streams, needs, processed)


def _settle_inbox(warehouse: Warehouse, connector: InboxConnector, run_id: str, results: list[StreamResult],
                  *, failed: bool, open_seconds: float = 0.0) -> None:
    """After every stream of an inbox source ran: ledger rows first, then the files move (connectors.inbox).

    Read files go to processed/ only when no stream of the source failed; otherwise they stay in
    the inbox for the next run. Rejected files and duplicates move whatever the streams did.
    Checking the inbox reads the files for every stream at once; that time is extract time, booked
    on the first stream so that the run's extract total is right.
    """
    if results:
        results[0].seconds_extract += open_seconds
    files = connector.inbox_report()
    now = utcnow().isoformat(timespec="seconds")
    status_of = {f.name: ("processed" if f.status == "accepted" else f.status) for f in files
                 if f.status != "accepted" or not failed}
    if status_of:
        warehouse.record_inbox_files(pd.DataFrame([
            {"source": connector.source_name, "run_id": run_id, "file_name": f.name, "sha256": f.sha256,
             "size": f.size, "status": status_of[f.name], "reason": f.reason} for f in files if f.name in status_of]))
    for file in files:
        if file.name in status_of:
            reason = connector.reason_text(file, run_id=run_id, at=now) if file.status == "rejected" else None
            connector.settle_file(file, status_of[file.name], run_id=run_id, reason_text=reason)
            if file.status == "rejected":
                log.warning("%s: %s; moved to rejected/", connector.where(), file.reason)
    counts = {s: sum(1 for f in files if f.status == s) for s in ("accepted", "rejected", "duplicate")}
    note = (f"inbox: {counts['accepted']} file(s) read (checked and parsed for every stream in "
            f"{open_seconds:.2f} s, booked as the first stream's extract time)"
            + (" and moved to processed/" if counts["accepted"] and not failed else "")
            + (", left in the inbox because a stream of the source failed" if counts["accepted"] and failed else ""))
    if counts["rejected"]:
        note += f"; {counts['rejected']} rejected (see rejected/*.reason.txt): " + "; ".join(
            f.reason for f in files if f.status == "rejected")
    if counts["duplicate"]:
        note += f"; {counts['duplicate']} duplicate(s): " + ", ".join(f.name for f in files if f.status == "duplicate")
    for result in results:
        result.add_note(note)
        warehouse.record_stream(result.log_row())


def _skip_deletes(warehouse: Warehouse, source: SourceConfig, run_id: str, results: list[StreamResult]) -> None:
    """A full refresh of a source whose reads are not snapshots (an inbox): nothing is soft-deleted."""
    note = (f"soft deletes not checked: source {source.name!r} is an inbox of deliveries, not a snapshot "
            f"of what the system holds")
    try:
        for result in results:
            result.add_note(note)
            warehouse.record_stream(result.log_row())
    finally:
        warehouse.forget_seen_keys(run_id)


def _settle_deletes(warehouse: Warehouse, source: SourceConfig, run_id: str, results: list[StreamResult],
                    *, complete: bool) -> list[str]:
    """After a full refresh of ``source``: soft-delete the rows it no longer holds, entity by entity.

    Deletes are only decided from a complete read: when a stream failed, or quarantined rows whose
    key could not be read (they may be any of the rows), nothing is deleted and the run log says why.
    Returns failure messages (a mass delete refused).
    """
    failures = []
    try:
        by_entity: dict[str, list[StreamResult]] = {}
        for result in results:
            by_entity.setdefault(result.entity, []).append(result)
        for entity, streams in by_entity.items():
            first = streams[0]
            keyless = sum(r.rows_quarantined_without_key for r in streams)
            if not complete:
                first.notes = "soft deletes not checked: a stream of this source failed during the full refresh"
            elif keyless:
                first.notes = (f"soft deletes not checked: {keyless} quarantined row(s) have no readable key, "
                               f"so the full refresh cannot tell which rows the source still holds")
            else:
                try:
                    deleted, before = warehouse.soft_delete_unseen(
                        source=source.name, entity=entity, run_id=run_id, max_fraction=source.max_delete_fraction)
                except MassDeleteError as exc:
                    first.notes, first.status, first.error = str(exc), "failed", str(exc)
                    failures.append(f"[fatal] {exc}")
                else:
                    first.rows_deleted = deleted
                    if deleted:
                        log.warning("source %r: %d of %d %s rows are gone from the source; soft-deleted",
                                    source.name, deleted, before, entity)
            warehouse.record_stream(first.log_row())
    finally:
        warehouse.forget_seen_keys(run_id)
    return failures


def read_canonical(warehouse: Warehouse) -> dict[str, pd.DataFrame]:
    """Every canonical table as a DataFrame, for the rules."""
    return {name: warehouse.read_entity(name) for name in ENTITIES}


def reconcile_and_publish(config: Config, warehouse: Warehouse, run_id: str,
                          reporter: Reporter | None = None) -> dict[str, Any]:
    """Run the rules over the warehouse, publish exceptions and roll-ups, write the gap report."""
    from reconciliation.catalogue import CATALOGUE
    from reconciliation.engine import reconcile
    from reconciliation.suggest import RULE as SUGGESTION_RULE
    from threadline.links import publish_suggestions
    from threadline.publish import publish_exceptions, publish_rollup
    from threadline.reports.gap import write_gap_report

    reporter = reporter or SilentReporter()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    reporter.stage("reconcile")
    frames = read_canonical(warehouse)
    as_of = config.rules.as_of or utcnow().date()
    settings = config.reconcile_settings(as_of)
    result = reconcile(frames, settings)
    result.findings = _with_data_quality_findings(config, warehouse, frames, result.findings, settings)
    seconds["reconcile"] = time.perf_counter() - started

    started = time.perf_counter()
    reporter.stage("publish")
    rules_run = {r for r in CATALOGUE if r not in settings.disabled}
    exception_counts = publish_exceptions(warehouse, result.findings, run_id=run_id, rules_run=rules_run)
    link_counts = publish_suggestions(warehouse, result.suggestions, run_id=run_id) \
        if settings.enabled(SUGGESTION_RULE) else {}
    rollup_counts = publish_rollup(warehouse, result.rollup, result.cost_lines, result.drilldown, run_id=run_id,
                                   as_of=as_of)
    published = warehouse.read_table(schema.exception)
    reports = write_gap_report(published, result.wo_rollup, out_dir=config.reports_dir, run={
        "run_id": run_id, "as_of": as_of.isoformat(), "finished_at": utcnow().isoformat(timespec="seconds"),
        "reporting_currency": config.reporting_currency, "config": str(config.path)},
        data_docs={"batches validated by the suites": config.data_docs_dir / "index.html",
                   "warehouse suite": config.data_docs_dir / "warehouse" / "index.html"})
    seconds["publish"] = time.perf_counter() - started

    by_wo = result.wo_rollup
    costliest = (by_wo.sort_values("actual_cost", ascending=False).head(5)
                 [["site", "wo_number", "kind", "actual_cost", "estimate_cost", "incomplete"]]
                 .to_dict(orient="records") if not by_wo.empty else [])
    return {
        "findings_by_rule": result.findings["rule_id"].value_counts().sort_index().to_dict()
        if not result.findings.empty else {},
        "exceptions": exception_counts,
        "rollup": rollup_counts,
        "costliest": costliest,
        "links": link_counts,
        "reports": {k: str(v) for k, v in reports.items()},
        "seconds": seconds,
    }


def _with_data_quality_findings(config: Config, warehouse: Warehouse, frames: dict[str, pd.DataFrame],
                                findings: pd.DataFrame, settings) -> pd.DataFrame:
    """The rules' findings plus the data-quality ones, in the same order as the rules' (by rule, site
    and subject): DQ-001, rows the suites quarantined and still held back; DQ-002, rows the warehouse
    suite's queries return (their Data Docs go to ``data_docs/warehouse`` beside the batches')."""
    from reconciliation.exceptions import FINDING_COLUMNS
    from threadline.quality import WAREHOUSE_SUITE, quarantine_findings, warehouse_findings

    parts = [findings]
    if settings.enabled("DQ-001"):
        parts.append(quarantine_findings(warehouse.read_table(schema.quarantine), frames))
    if settings.enabled("DQ-002"):
        suite = load_suites(config.suites_dir).get(WAREHOUSE_SUITE)
        parts.append(warehouse_findings(suite, warehouse.engine.url.render_as_string(hide_password=False),
                                        docs_dir=config.data_docs_dir / WAREHOUSE_SUITE))
    parts = [p for p in parts if len(p)]
    if len(parts) < 2:
        return parts[0] if parts else findings
    return pd.concat(parts, ignore_index=True).sort_values(
        ["rule_id", "site", "subject_entity", "subject_source_system", "subject_source_key"], kind="stable"
    ).reset_index(drop=True)[list(FINDING_COLUMNS)]


def run_pipeline(config: Config, *, sources: Iterable[str] | None = None, full: bool = False,
                 reporter: Reporter | None = None, command: str = "run", warehouse: Warehouse | None = None,
                 reconcile: bool = True) -> RunResult:
    """One whole run: sync the sources, then, if every stream succeeded, reconcile and publish.

    When a stream fails, the run stops before reconciling: rules over partly refreshed data would
    report gaps that are not there (or hide ones that are). The failures are in the result and the run log.
    With ``reconcile=False`` (``threadline sync``) the run ends after loading.
    """
    reporter = reporter or SilentReporter()
    own_warehouse = warehouse is None
    warehouse = warehouse or open_warehouse(config.warehouse.resolved_url())
    run_id = new_run_id()
    warehouse.start_run(run_id, command, str(config.path))
    run = RunResult(run_id, "running", [])
    try:
        started = time.perf_counter()
        reporter.stage("extract")
        run.streams, failures = extract_and_load(config, warehouse, run_id, sources=sources, full=full,
                                                 reporter=reporter)
        run.seconds["extract_to_load"] = time.perf_counter() - started
        if failures:
            run.status = "failed"
            run.transient = all(f.startswith("[transient]") for f in failures)
            run.error = "; ".join(failures) + (" -- reconciliation skipped until every stream loads"
                                               if reconcile else "")
        elif not reconcile:
            run.status = "succeeded"
        else:
            published = reconcile_and_publish(config, warehouse, run_id, reporter)
            run.findings_by_rule = published["findings_by_rule"]
            run.exceptions = published["exceptions"]
            run.costliest = published["costliest"]
            run.links = published["links"]
            run.reports = published["reports"]
            run.seconds.update(published["seconds"])
            run.status = "succeeded"
    except BaseException as exc:
        run.status = "failed"
        run.error = str(exc) or type(exc).__name__
        warehouse.finish_run(run_id, run.status, summary=run.summary(), error=run.error)
        if own_warehouse:
            warehouse.dispose()
        raise
    warehouse.finish_run(run_id, run.status, summary=run.summary(), error=run.error)
    if own_warehouse:
        warehouse.dispose()
    return run
