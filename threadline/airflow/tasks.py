"""What the threadline DAGs' tasks run: the pipeline functions the CLI calls, plus Airflow's view of failure.

Every function loads the whole config itself when the task runs (``$THREADLINE_CONFIG``), so the
DAG files stay free of I/O. Heavy modules (pandas, the connectors, the warehouse) are imported
inside the functions for the same reason: the DAG files import this module at parse time.

Failures: a threadline error that retrying cannot cure (``threadline.errors``: bad config, mapping
or credentials, a source that refuses the read) raises ``AirflowFailException`` and the task fails
at once; a transient one (the source did not answer) is raised as it is, and Airflow retries it with
exponential backoff. ``notify_failure`` logs which source and stream failed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from threadline.airflow.plan import config_path

if TYPE_CHECKING:
    from threadline.config import Config, SourceConfig
    from threadline.warehouse.store import Warehouse

log = logging.getLogger("threadline.airflow")


@dataclass(frozen=True)
class FailedStream:
    """A stream whose latest sync did not succeed, as the run log has it."""

    source: str
    stream: str
    run_id: str | None
    status: str
    error: str | None

    def describe(self) -> str:
        """One line naming the source, the stream and what happened."""
        what = {"failed": f"failed in run {self.run_id}: {self.error}",
                "running": f"is still syncing (run {self.run_id})",
                "never": "has never been synced"}.get(self.status, self.status)
        return f"source {self.source!r}, stream {self.stream!r} {what}"


class SyncFailedError(AirflowFailException):
    """A source's sync failed on errors a retry will not cure; the task fails without retrying."""

    def __init__(self, source: str, streams: list[str], message: str):
        self.source, self.streams = source, streams
        super().__init__(message)


class SyncInterruptedError(Exception):
    """A source's sync failed only on transient errors; Airflow retries it with backoff."""

    def __init__(self, source: str, streams: list[str], message: str):
        self.source, self.streams = source, streams
        super().__init__(message)


class SourcesNotReadyError(AirflowFailException):
    """The reconcile DAG found a source whose latest sync failed or never ran; reconciling would report false gaps."""

    def __init__(self, failed: list[FailedStream]):
        self.failed = failed
        super().__init__("reconciliation skipped until every stream loads: "
                         + "; ".join(f.describe() for f in failed))


class SourcesSyncingError(Exception):
    """A sync is still writing to the warehouse; the reconcile task is retried after it."""

    def __init__(self, syncing: list[FailedStream]):
        self.syncing = syncing
        super().__init__("waiting for syncs in progress: " + "; ".join(f.describe() for f in syncing))


@contextmanager
def fatal_errors_fail_fast() -> Iterator[None]:
    """Raise threadline's fatal errors as ``AirflowFailException`` (no retry); everything else as it is."""
    from threadline.errors import EXPECTED_ERRORS, is_transient

    try:
        yield
    except AirflowFailException:
        raise
    except EXPECTED_ERRORS as exc:
        if is_transient(exc):
            raise
        raise AirflowFailException(str(exc)) from exc


def load_task_config() -> Config:
    """The whole, validated threadline.yaml the DAGs were built from."""
    from threadline.config import load_config

    with fatal_errors_fail_fast():
        return load_config(config_path())


@contextmanager
def airflow_credentials(config: Config, source: SourceConfig) -> Iterator[Config]:
    """The config with the source's credentials taken from its Airflow Connection, for the task's duration.

    The connection's password goes into the environment variable the source's connector reads
    (``password_env`` or ``token_env``), exactly as a secret exported in the shell would; its login,
    when set, replaces the connection's ``username`` (or the user of a SQL URL). The variable is put
    back as it was afterwards. Nothing here logs a credential. A source without ``connection_id``
    keeps the secrets of the environment.
    """
    if source.connection_id is None:
        yield config
        return
    from airflow.sdk import BaseHook

    try:
        connection = BaseHook.get_connection(source.connection_id)
    except Exception as exc:  # the SDK raises its own not-found error; say which source needs which id
        raise AirflowFailException(
            f"source {source.name!r}: Airflow Connection {source.connection_id!r} (connection_id) could not be "
            f"read: {type(exc).__name__}; create it with `airflow connections add {source.connection_id} ...` "
            f"or an AIRFLOW_CONN_{source.connection_id.upper()} variable") from None
    if connection.password is None:
        raise AirflowFailException(f"source {source.name!r}: Airflow Connection {source.connection_id!r} has no "
                                   f"password; set it on the connection")
    settings = dict(source.connection)
    if connection.login:
        if "url" in settings and source.kind == "sql":
            from sqlalchemy.engine import make_url

            settings["url"] = make_url(settings["url"]).set(username=connection.login).render_as_string(
                hide_password=False)
        else:
            settings["username"] = connection.login
    updated = config.model_copy(deep=True)
    updated.sources = [s.model_copy(update={"connection": settings}) if s.name == source.name else s
                       for s in updated.sources]
    variable = source.secret_env
    before = os.environ.get(variable)
    os.environ[variable] = connection.password
    try:
        yield updated
    finally:
        if before is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = before


def _failed_streams(warehouse: Warehouse, run_id: str) -> list[str]:
    from threadline.warehouse import schema

    rows = warehouse.read_table(schema.run_stream, schema.run_stream.c.run_id == run_id,
                                schema.run_stream.c.status == "failed")
    return sorted(rows["stream"].tolist())


def sync_source(source_name: str, *, full: bool = False, interval: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """Extract, land, map, validate and load one source (``threadline sync --source NAME``).

    The read starts from the source's stored bookmarks, not from the data interval: a bookmark
    trails every row already committed, so a run that failed or was skipped leaves nothing behind,
    and re-running an interval only upserts the same rows again. The interval is recorded in the
    run log's command. Returns the run's summary (row counts per stream).
    """
    from threadline.pipeline import run_pipeline
    from threadline.warehouse.store import open_warehouse

    config = load_task_config()
    with fatal_errors_fail_fast():
        source = config.source(source_name)
    command = f"airflow sync --source {source_name}" + (" --full" if full else "")
    if interval and interval[0] is not None:
        command += f" [{interval[0]} .. {interval[1]}]"
    with airflow_credentials(config, source) as config, fatal_errors_fail_fast():
        warehouse = open_warehouse(config.warehouse.resolved_url())
        try:
            result = run_pipeline(config, sources=[source_name], full=full, reconcile=False, command=command,
                                  warehouse=warehouse)
            if result.status != "succeeded":
                streams = _failed_streams(warehouse, result.run_id)
                error = SyncInterruptedError if result.transient else SyncFailedError
                raise error(source_name, streams, f"run {result.run_id}: {result.error}")
        finally:
            warehouse.dispose()
    summary = result.summary()
    summary["streams"] = {s.stream: {"rows_loaded": s.rows_loaded, "rows_quarantined": s.rows_quarantined,
                                     "rows_skipped": s.rows_skipped} for s in result.streams}
    log.info("source %r synced in run %s: %s", source_name, result.run_id, json.dumps(summary["totals"]))
    return _json_safe(summary)


def latest_stream_states(config: Config, warehouse: Warehouse) -> list[FailedStream]:
    """The latest sync of every configured stream of every enabled source, from the run log."""
    from threadline.warehouse import schema

    names = [s.name for s in config.sources if s.enabled]
    log_rows = warehouse.read_table(schema.run_stream, schema.run_stream.c.source.in_(names))
    latest = {}
    if not log_rows.empty:
        ordered = log_rows.sort_values("started_at", kind="stable")
        latest = {(r.source, r.stream): r for r in ordered.drop_duplicates(["source", "stream"], keep="last")
                  .itertuples(index=False)}
    states = []
    for source in config.sources:
        if not source.enabled:
            continue
        for stream in config.stream_settings(source):
            row = latest.get((source.name, stream.name))
            states.append(FailedStream(source.name, stream.name, row.run_id if row else None,
                                       row.status if row else "never", row.error if row else None))
    return states


def check_sources() -> dict[str, str]:
    """Refuse to reconcile unless the latest sync of every stream of every enabled source succeeded.

    Rules over partly refreshed data report gaps that are not there (the CLI's ``run`` stops for
    the same reason). A stream whose latest sync failed or never ran fails the task at once; one
    still syncing raises a retryable error. Returns each stream's latest successful run id.
    """
    from threadline.warehouse.store import open_warehouse

    config = load_task_config()
    with fatal_errors_fail_fast():
        warehouse = open_warehouse(config.warehouse.resolved_url())
        try:
            states = latest_stream_states(config, warehouse)
        finally:
            warehouse.dispose()
    not_ready = [s for s in states if s.status in ("failed", "never")]
    if not_ready:
        raise SourcesNotReadyError(not_ready)
    syncing = [s for s in states if s.status == "running"]
    if syncing:
        raise SourcesSyncingError(syncing)
    return {f"{s.source}.{s.stream}": s.run_id for s in states}


def reconcile(command: str = "airflow reconcile") -> dict[str, Any]:
    """Run the rules, publish exceptions, link suggestions and roll-ups, write the gap report.

    The run is recorded in the run log like a CLI run. Returns the run id, the exception counts,
    the findings per rule and the roll-up counts.
    """
    from threadline.pipeline import new_run_id, reconcile_and_publish
    from threadline.warehouse.store import open_warehouse

    config = load_task_config()
    with fatal_errors_fail_fast():
        warehouse = open_warehouse(config.warehouse.resolved_url())
        run_id = new_run_id()
        warehouse.start_run(run_id, command, str(config.path))
        try:
            published = reconcile_and_publish(config, warehouse, run_id)
        except BaseException as exc:
            warehouse.finish_run(run_id, "failed", error=str(exc) or type(exc).__name__)
            warehouse.dispose()
            raise
        summary = {"run_id": run_id, "status": "succeeded", "findings_by_rule": published["findings_by_rule"],
                   "exceptions": published["exceptions"], "links": published["links"],
                   "reports": published["reports"], "seconds": published["seconds"]}
        warehouse.finish_run(run_id, "succeeded", summary=summary)
        warehouse.dispose()
    log.info("reconciled in run %s: %s", run_id, json.dumps(_json_safe(published["exceptions"])))
    return _json_safe({"run_id": run_id, "exceptions": published["exceptions"],
                       "findings_by_rule": published["findings_by_rule"], "rollup": published["rollup"],
                       "reports": published["reports"]})


def site_ids() -> list[str]:
    """The configured sites, for the per-site tasks."""
    return load_task_config().site_ids


def site_report(site: str, run_id: str) -> dict[str, Any]:
    """Write the gap report of one site (its exceptions, its work orders' costs) under ``reports_dir/sites/SITE``.

    Reads what the reconcile run published: the exceptions of the site and the current roll-up
    per work order. Returns the site's exception counts by status and severity and its cost totals.
    """
    from threadline.reports.gap import write_gap_report
    from threadline.warehouse import schema
    from threadline.warehouse.store import open_warehouse

    config = load_task_config()
    with fatal_errors_fail_fast():
        if site not in config.site_ids:
            raise AirflowFailException(f"site {site!r} is not configured ({config.site_ids})")
        warehouse = open_warehouse(config.warehouse.resolved_url(), migrate=False)
        try:
            exceptions = warehouse.read_table(schema.exception, schema.exception.c.site == site)
            rollup = warehouse.read_table(
                schema.cost_rollup, schema.cost_rollup.c.is_current.is_(True), schema.cost_rollup.c.grain == "wo",
                schema.cost_rollup.c.site == site)
        finally:
            warehouse.dispose()
        reports = write_gap_report(exceptions, rollup, out_dir=config.reports_dir / "sites" / site,
                                   run={"run_id": run_id, "site": site, "reporting_currency": config.reporting_currency,
                                        "config": str(config.path)})
    open_rows = exceptions[exceptions["status"].isin(["open", "acknowledged"])] if not exceptions.empty else exceptions
    return _json_safe({
        "site": site,
        "exceptions": exceptions["status"].value_counts().sort_index().to_dict() if not exceptions.empty else {},
        "open_by_severity": open_rows["severity"].value_counts().sort_index().to_dict() if not open_rows.empty else {},
        "work_orders": len(rollup),
        "actual_cost": round(float(rollup["actual_cost"].sum()), 2) if not rollup.empty else 0.0,
        "reports": {k: str(v) for k, v in reports.items()},
    })


def notify_failure(context: Any) -> None:
    """Task failure callback: log which threadline source and stream failed, and why (never a secret)."""
    exc = context.get("exception")
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    source = getattr(exc, "source", None)
    if source is not None:
        streams = ", ".join(exc.streams) or "(none started: the source could not be opened)"
        where = f"source {source!r}, stream(s) {streams}"
    elif isinstance(exc, (SourcesNotReadyError, SourcesSyncingError)):
        failed = exc.failed if isinstance(exc, SourcesNotReadyError) else exc.syncing
        where = "; ".join(f"source {f.source!r}, stream {f.stream!r}" for f in failed)
    else:
        where = f"task {task_id}"
    log.error("threadline %s failed: %s: %s", dag_id, where, exc)


def _json_safe(value: Any) -> Any:
    """``value`` as plain JSON types (XCom values must serialize; numpy numbers do not)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
