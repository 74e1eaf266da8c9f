"""Benchmark: the demo landscape through Airflow's ``dag.test()`` against ``threadline run``.

Builds two copies of the demo landscape at ``--scale`` work orders. One is run by the CLI
(``threadline run``, with its legacy ERP service up); the other by the DAGs in ``dags/``: a
throwaway AIRFLOW_HOME with a SQLite metadata database (``airflow db migrate``, timed apart),
``dag.test()`` of every sync DAG and then of the reconcile DAG, in a fresh process. Prints the wall
time of each, per DAG for Airflow, and whether both published the same number of exceptions.

    .venv/bin/python bench/dags.py
    .venv/bin/python bench/dags.py --scale 10000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

#: runs in the Airflow process: argv = config path; prints one JSON line
DAG_RUNS = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
from threadline.demo.landscape import SOURCES
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
seconds = {}
for dag_id in [f"threadline_sync_{s}" for s in SOURCES] + ["threadline_reconcile"]:
    started = time.perf_counter()
    run = bag.dags[dag_id].test()
    seconds[dag_id] = round(time.perf_counter() - started, 2)
    assert run.state == "success", (dag_id, run.state)
print(json.dumps(seconds))
"""


def exception_count(config_path: Path) -> int:
    done = subprocess.run([BIN / "threadline", "--config", config_path, "exceptions", "list", "--limit", "0", "--json"],
                          capture_output=True, text=True, check=True)
    return len(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1000, help="work orders in the demo plant")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    from threadline.demo.landscape import build_landscape

    work = Path(tempfile.mkdtemp(prefix="threadline-bench-dags-"))
    figures: dict = {"scale": args.scale}

    cli = build_landscape(work / "cli", scale=args.scale)
    with cli.start_erp_service():
        started = time.perf_counter()
        subprocess.run([BIN / "threadline", "--config", cli.config_path, "run", "--json"], check=True,
                       capture_output=True, env={**os.environ, **cli.env})
        figures["cli_run_seconds"] = round(time.perf_counter() - started, 2)

    landscape = build_landscape(work / "airflow", scale=args.scale)
    home = work / "airflow-home"
    env = {**os.environ, **landscape.env, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"), "THREADLINE_CONFIG": str(landscape.config_path)}
    started = time.perf_counter()
    subprocess.run([BIN / "airflow", "db", "migrate"], check=True, capture_output=True, env=env)
    figures["airflow_db_migrate_seconds"] = round(time.perf_counter() - started, 2)
    with landscape.start_erp_service():
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", DAG_RUNS, str(REPO / "dags")], capture_output=True, text=True,
                              env=env)
        figures["dag_test_seconds"] = round(time.perf_counter() - started, 2)
    if done.returncode != 0:
        sys.exit(f"dag.test() failed:\n{done.stderr[-3000:]}")
    figures["dag_test_per_dag_seconds"] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["exceptions_cli"] = exception_count(cli.config_path)
    figures["exceptions_dags"] = exception_count(landscape.config_path)

    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
