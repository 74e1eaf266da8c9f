"""The DAGs run the demo landscape under a real Airflow 3 (``dag.test()``, SQLite metadata database).

The sync DAGs and then the reconcile DAG must publish what ``threadline run`` publishes on the same
landscape: the same exception ids, rules and statuses, the same current roll-up figures. The legacy
ERP's password comes from an Airflow Connection, not from the environment. A fatal source error
fails its sync at once (no retry), names the source and stream, and keeps the reconcile DAG from
reconciling.
"""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
import yaml
from sqlalchemy import create_engine

from tests.dags.conftest import dag_bag
from tests.integration.commands import threadline
from threadline.demo import erp_service
from threadline.demo.landscape import ERP_USERNAME, PASSWORD_ENV, SOURCES, build_landscape
from threadline.warehouse import schema

pytestmark = pytest.mark.slow

SCALE = 60
ERP_CONNECTION = "threadline_demo_erp"
ROLLUP_FIGURES = ["labour_cost", "material_cost", "outside_cost", "committed_cost", "actual_cost", "estimate_cost"]


def published(config_path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The exceptions (id, rule, status) and the current roll-up totals per grain a run left in the warehouse."""
    url = yaml.safe_load(config_path.read_text())["warehouse"]["url"]
    engine = create_engine(url)
    with engine.connect() as conn:
        exceptions = pd.read_sql(schema.exception.select(), conn)[["exception_id", "rule_id", "status", "site"]]
        rollup = pd.read_sql(schema.cost_rollup.select().where(schema.cost_rollup.c.is_current.is_(True)), conn)
    engine.dispose()
    totals = rollup.groupby("grain")[ROLLUP_FIGURES].sum().round(2)
    totals["rows"] = rollup.groupby("grain").size()
    return exceptions.sort_values("exception_id", ignore_index=True), totals


def airflow_landscape(tmp_path, monkeypatch, *, password: str | None = None):
    """A demo landscape whose ERP source takes its credentials from an Airflow Connection (set by env)."""
    landscape = build_landscape(tmp_path, scale=SCALE)
    config = yaml.safe_load(landscape.config_path.read_text())
    erp = next(s for s in config["sources"] if s["name"] == "erp_soap")
    erp["connection_id"] = ERP_CONNECTION
    landscape.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.setenv(f"AIRFLOW_CONN_{ERP_CONNECTION.upper()}", json.dumps(
        {"conn_type": "http", "login": ERP_USERNAME, "password": password or landscape.env[PASSWORD_ENV]}))
    return landscape


def test_the_dags_publish_what_the_cli_run_publishes(tmp_path, monkeypatch, airflow_db):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    cli_landscape = build_landscape(tmp_path / "cli", scale=SCALE)
    with cli_landscape.start_erp_service():
        done = threadline("--config", cli_landscape.config_path, "run", "--json", env=cli_landscape.env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    cli_summary = json.loads(done.stdout)

    landscape = airflow_landscape(tmp_path / "airflow", monkeypatch)
    bag = dag_bag(landscape.config_path, monkeypatch)
    assert not bag.import_errors, bag.import_errors
    started = time.perf_counter()
    with landscape.start_erp_service():
        for source in SOURCES:
            run = bag.dags[f"threadline_sync_{source}"].test()
            assert run.state == "success", source
        run = bag.dags["threadline_reconcile"].test()
    seconds = time.perf_counter() - started
    print(f"dag.test() of {len(SOURCES)} sync DAGs and the reconcile DAG at scale {SCALE}: {seconds:.1f} s")
    assert run.state == "success"

    airflow_exceptions, airflow_totals = published(landscape.config_path)
    cli_exceptions, cli_totals = published(cli_landscape.config_path)
    assert len(airflow_exceptions) == cli_summary["exceptions"]["found"] > 0
    pd.testing.assert_frame_equal(airflow_exceptions, cli_exceptions)
    pd.testing.assert_frame_equal(airflow_totals, cli_totals)
    assert set(airflow_totals.index) >= {"wo", "site", "asset", "supplier"}

    # the reconcile run is in the run log, after one sync run per source
    url = yaml.safe_load(landscape.config_path.read_text())["warehouse"]["url"]
    engine = create_engine(url)
    with engine.connect() as conn:
        commands = [r.command for r in conn.execute(select(schema.run.c.command, schema.run.c.status)
                                                    .order_by(schema.run.c.started_at)) if r.status == "succeeded"]
    engine.dispose()
    expected = [f"airflow sync --source {s}" for s in SOURCES] + ["airflow reconcile"]
    assert [c.split(" [")[0] for c in commands] == expected

    # each sync emitted its source's Asset, which is what schedules the reconcile DAG
    with create_session() as session:
        uris = session.scalars(select(AssetModel.uri).join(AssetEvent, AssetEvent.asset_id == AssetModel.id)).all()
    assert {f"threadline://sources/{s}" for s in SOURCES} <= set(uris)

    # one gap report per site, from the mapped site_report tasks
    for site, rows in airflow_exceptions.groupby("site"):
        report = pd.read_csv(landscape.out_dir / "reports" / "sites" / site / "gap_report.csv")
        assert sorted(report["exception_id"]) == sorted(rows["exception_id"]), site


def test_a_fatal_source_error_fails_at_once_and_stops_the_reconcile(tmp_path, monkeypatch, airflow_db, caplog):
    landscape = airflow_landscape(tmp_path, monkeypatch, password="not-the-password")
    bag = dag_bag(landscape.config_path, monkeypatch)
    assert not bag.import_errors, bag.import_errors
    with landscape.start_erp_service():
        sync = bag.dags["threadline_sync_erp_soap"].test()
        assert sync.state == "failed"
        [ti] = sync.get_task_instances()
        assert (ti.state, ti.try_number, ti.max_tries) == ("failed", 1, 4)  # failed without using its retries
        logged = caplog.text  # what the failure callback logged
        streams = ", ".join(sorted(erp_service.STREAMS))
        failure = f"threadline threadline_sync_erp_soap failed: source 'erp_soap', stream(s) {streams}: "
        assert failure in logged and "HTTP 401 from the service" in logged
        assert "not-the-password" not in logged
        caplog.clear()

        for source in SOURCES:
            if source != "erp_soap":
                assert bag.dags[f"threadline_sync_{source}"].test().state == "success", source
        reconcile = bag.dags["threadline_reconcile"].test()
    assert reconcile.state == "failed"
    states = {ti.task_id: ti.state for ti in reconcile.get_task_instances()}
    assert states["check_sources"] == "failed" and states["reconcile"] == "upstream_failed"
    logged = caplog.text
    first_stream = next(iter(erp_service.STREAMS))
    assert (f"reconciliation skipped until every stream loads: source 'erp_soap', stream '{first_stream}' failed "
            f"in run R") in logged
    exceptions, _ = published(landscape.config_path)
    assert exceptions.empty
