"""The threadline DAGs, built from the plan in threadline.yaml.

- ``threadline_sync_<source>``: one per enabled source, on the source's ``schedule`` (default
  hourly). Its one task syncs the source (``threadline sync --source S``) and, when it succeeds,
  emits the source's Asset. Transient failures are retried with exponential backoff; fatal ones
  fail at once.
- ``threadline_reconcile``: runs when every enabled source has emitted fresh data since its last
  run, and at least daily (``airflow.reconcile_schedule``). It checks that the latest sync of every
  stream succeeded, reconciles and publishes, then writes one gap report per site (a mapped task
  per configured site) and collects the figures.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import (DAG, Asset, AssetAll, AssetOrTimeSchedule, CronDataIntervalTimetable, CronTriggerTimetable,
                        Param, task)

from threadline.airflow import tasks
from threadline.airflow.plan import DagPlan, SourcePlan, read_plan

TAG = "threadline"
RECONCILE_DAG_ID = "threadline_reconcile"
#: a fixed start in the past; catchup is off, so only the latest interval runs
START_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)
RETRIES = 4
RETRY_DELAY = timedelta(minutes=1)
MAX_RETRY_DELAY = timedelta(minutes=30)


def sync_dag_id(source: str) -> str:
    """The sync DAG of ``source``."""
    return f"threadline_sync_{source}"


def source_asset(source: str) -> Asset:
    """The Asset a source's sync emits when its data in the warehouse is fresh."""
    return Asset(name=f"threadline_source_{source}", uri=f"threadline://sources/{source}", group=TAG)


def default_args(plan: DagPlan) -> dict[str, Any]:
    """Owner, retries with exponential backoff and the failure callback of every threadline task."""
    return {"owner": plan.owner, "retries": RETRIES, "retry_delay": RETRY_DELAY,
            "retry_exponential_backoff": 2.0, "max_retry_delay": MAX_RETRY_DELAY,
            "on_failure_callback": tasks.notify_failure}


def sync_dag(plan: DagPlan, source: SourcePlan) -> DAG:
    """The sync DAG of one source."""
    with DAG(
        dag_id=sync_dag_id(source.name),
        description=f"sync {source.description}",
        # data intervals (previous tick to this one) rather than trigger times: each run records the
        # interval it covers, and a retried or cleared run covers the same one
        schedule=CronDataIntervalTimetable(source.schedule, timezone="UTC"),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,  # two syncs of one source would race on its bookmarks
        tags=[TAG, "sync", f"source:{source.name}", f"role:{source.role}"],
        default_args=default_args(plan),
        params={"full": Param(False, type="boolean",
                              description="read everything again and soft-delete rows the source no longer holds")},
        doc_md=f"Syncs source `{source.name}` ({source.kind}, {source.role}) into the warehouse: "
               f"`threadline sync --source {source.name}`. Emits `{source_asset(source.name).uri}` on success.",
    ) as dag:
        @task(task_id="sync", outlets=[source_asset(source.name)])
        def sync(params=None, data_interval_start=None, data_interval_end=None) -> dict[str, Any]:
            return tasks.sync_source(source.name, full=bool((params or {}).get("full")),
                                     interval=(data_interval_start, data_interval_end))

        sync()
    return dag


def reconcile_dag(plan: DagPlan) -> DAG:
    """The reconcile DAG: fresh data from every source, or the daily fallback, starts it."""
    timetable = CronTriggerTimetable(plan.reconcile_schedule, timezone="UTC")
    assets = [source_asset(s.name) for s in plan.sources]
    schedule = AssetOrTimeSchedule(timetable=timetable, assets=AssetAll(*assets)) if assets else timetable
    with DAG(
        dag_id=RECONCILE_DAG_ID,
        description="check the sources' latest syncs, reconcile, publish exceptions and roll-ups, write reports",
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=[TAG, "reconcile"],
        default_args=default_args(plan),
        doc_md="Runs when every enabled source emitted fresh data, and at least daily. Refuses to reconcile "
               "while a stream's latest sync failed (rules over partly refreshed data report gaps that are "
               "not there), then reconciles and publishes, and writes a gap report per site.",
    ) as dag:
        @task(task_id="check_sources")
        def check_sources() -> dict[str, str]:
            return tasks.check_sources()

        @task(task_id="reconcile", multiple_outputs=True)
        def reconcile() -> dict[str, Any]:
            return tasks.reconcile()

        @task(task_id="sites")
        def sites() -> list[str]:
            return tasks.site_ids()

        @task(task_id="site_report")
        def site_report(site: str, reconcile_run: str) -> dict[str, Any]:
            return tasks.site_report(site, reconcile_run)

        @task(task_id="summary")
        def summary(reconcile_run: str, exceptions: dict[str, int], reports: list[dict[str, Any]]) -> dict[str, Any]:
            return {"run_id": reconcile_run, "exceptions": exceptions, "sites": {r["site"]: r for r in reports}}

        published = reconcile()
        check_sources() >> published
        reports = site_report.partial(reconcile_run=published["run_id"]).expand(site=sites())
        summary(published["run_id"], published["exceptions"], reports)
    return dag


def build_dags(plan: DagPlan | None = None) -> dict[str, DAG]:
    """Every threadline DAG by its id, from ``plan`` (default: the file ``$THREADLINE_CONFIG`` names)."""
    plan = plan or read_plan()
    dags = {sync_dag_id(s.name): sync_dag(plan, s) for s in plan.sources}
    dags[RECONCILE_DAG_ID] = reconcile_dag(plan)
    return dags
