"""Every DAG imports under a real Airflow 3 and follows the project's DAG policy.

Policy: tags, an owner, retries with exponential backoff and a failure callback on every task,
no catchup, one run at a time for a source; sync DAGs emit their source's Asset and the reconcile
DAG is scheduled on all of them or daily; parsing the DAG files reads threadline.yaml and nothing
else (no database, no network, no pandas).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import yaml

from tests.dags.conftest import DAGS_FOLDER, EXAMPLE_CONFIG, dag_bag

EXAMPLE_SOURCES = ["erp_soap", "jde", "maximo", "mes"]  # maximo_ws is disabled in the example


@pytest.fixture()
def example_bag(monkeypatch):
    bag = dag_bag(EXAMPLE_CONFIG, monkeypatch)
    assert not bag.import_errors, bag.import_errors
    return bag


def test_every_dag_imports_without_errors(example_bag):
    assert sorted(example_bag.dag_ids) == sorted(
        [f"threadline_sync_{s}" for s in EXAMPLE_SOURCES] + ["threadline_reconcile"])


def test_every_dag_and_task_follows_the_policy(example_bag):
    from threadline.airflow.tasks import notify_failure

    for dag in example_bag.dags.values():
        assert "threadline" in dag.tags and len(dag.tags) >= 2, dag.dag_id
        assert dag.catchup is False and dag.max_active_runs == 1, dag.dag_id
        assert dag.doc_md and dag.description, dag.dag_id
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            assert task.owner == "threadline", where
            assert task.retries >= 3 and task.retry_exponential_backoff >= 2, where
            assert task.max_retry_delay is not None, where
            callbacks = task.on_failure_callback
            assert notify_failure in (callbacks if isinstance(callbacks, list) else [callbacks]), where


def test_sync_dags_run_on_their_schedule_and_emit_their_source_asset(tmp_path, monkeypatch):
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    config["sources"][0]["schedule"] = "*/20 * * * *"  # jde (the example says */30)
    config["airflow"] = {"reconcile_schedule": "15 4 * * *", "owner": "plant-it"}
    path = tmp_path / "threadline.yaml"
    path.write_text(yaml.safe_dump(config))
    bag = dag_bag(path, monkeypatch)
    assert not bag.import_errors, bag.import_errors

    assert bag.dags["threadline_sync_jde"].timetable.expression == "*/20 * * * *"
    assert bag.dags["threadline_sync_mes"].timetable.expression == "0 * * * *"  # the default, @hourly
    assert bag.dags["threadline_reconcile"].timetable.timetable.expression == "15 4 * * *"
    for source in EXAMPLE_SOURCES:
        dag = bag.dags[f"threadline_sync_{source}"]
        assert [t.task_id for t in dag.tasks] == ["sync"]
        assert [a.uri for a in dag.tasks[0].outlets] == [f"threadline://sources/{source}"]
        assert dag.tasks[0].owner == "plant-it"
        assert f"source:{source}" in dag.tags


def test_the_reconcile_dag_waits_for_every_source_or_the_daily_run(example_bag):
    from airflow.sdk import AssetAll, AssetOrTimeSchedule

    dag = example_bag.dags["threadline_reconcile"]
    schedule = dag.timetable
    assert isinstance(schedule, AssetOrTimeSchedule)
    assert isinstance(schedule.asset_condition, AssetAll)
    assert sorted(a.uri for a in schedule.asset_condition.objects) == sorted(
        f"threadline://sources/{s}" for s in EXAMPLE_SOURCES)
    assert schedule.timetable.expression == "0 6 * * *"
    tasks = {t.task_id: t for t in dag.tasks}
    assert set(tasks) == {"check_sources", "reconcile", "sites", "site_report", "summary"}
    assert tasks["check_sources"].downstream_task_ids == {"reconcile"}
    assert {"site_report", "summary"} <= tasks["reconcile"].downstream_task_ids
    assert tasks["site_report"].expand_input is not None  # one mapped task per configured site


def test_without_threadline_config_the_import_error_names_the_variable(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.delenv("THREADLINE_CONFIG", raising=False)
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert not bag.dag_ids
    [error] = bag.import_errors.values()
    assert "THREADLINE_CONFIG is not set" in error


#: runs in a fresh interpreter: audits what executing the DAG files does, after Airflow's own imports
PARSE_AUDIT = textwrap.dedent("""
    import json, os, runpy, sys
    # Airflow's own start-up (its config, lazily imported SDK modules, croniter asking `file` about the
    # interpreter) is not the DAG files' doing: load it first
    from airflow.sdk import (DAG, Asset, AssetAll, AssetOrTimeSchedule, CronDataIntervalTimetable,
                             CronTriggerTimetable, Param, task)
    from pathlib import Path

    dags_folder, config = Path(sys.argv[1]), os.path.realpath(sys.argv[2])
    opened, connected = [], []
    code_suffixes = (".py", ".pyc", ".so", ".pth", ".json", ".typed", ".pyi")

    def audit(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            name = os.fsdecode(args[0])
            if not name.endswith(code_suffixes) and not os.path.isdir(name):
                opened.append(os.path.realpath(name))
        elif event in ("socket.connect", "socket.bind", "sqlite3.connect", "subprocess.Popen", "os.system"):
            connected.append(event)

    before = set(sys.modules)
    sys.addaudithook(audit)
    for path in sorted(dags_folder.glob("*.py")):
        runpy.run_path(str(path))
    heavy = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in
                   ("pandas", "pyarrow", "numpy", "zeep", "sqlalchemy", "pyodbc", "arrow_odbc", "requests")
                   or m in ("threadline.pipeline", "threadline.config", "threadline.warehouse"))
    print(json.dumps({"opened": sorted(set(opened)), "config": config, "connected": connected,
                      "heavy": heavy[:20]}))
""")


def test_parsing_the_dag_files_reads_the_config_file_and_nothing_else(monkeypatch):
    monkeypatch.setenv("THREADLINE_CONFIG", str(EXAMPLE_CONFIG))
    done = subprocess.run([sys.executable, "-c", PARSE_AUDIT, str(DAGS_FOLDER), str(EXAMPLE_CONFIG)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    audit = json.loads(done.stdout.strip().splitlines()[-1])
    assert audit["opened"] == [audit["config"]], audit["opened"]
    assert audit["connected"] == []
    assert audit["heavy"] == [], f"DAG files imported heavy modules at parse time: {audit['heavy']}"
