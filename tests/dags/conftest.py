"""Fixtures of the DAG tier: a real Airflow 3 with its own home and SQLite metadata database.

Airflow reads its settings when it is first imported, so the environment is set here, before any
test module imports it: a throwaway AIRFLOW_HOME, the repository's dags/ folder, no example DAGs.
THREADLINE_CONFIG is set per test (monkeypatch), never for the whole session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
EXAMPLE_CONFIG = REPO / "threadline.example.yaml"
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="threadline-airflow-home-"))
AIRFLOW = str(Path(sys.executable).with_name("airflow"))

os.environ.update({
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
})


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The metadata database, migrated by ``airflow db migrate`` as a user would."""
    done = subprocess.run([AIRFLOW, "db", "migrate"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return AIRFLOW_HOME / "airflow.db"


def dag_bag(config_path: Path, monkeypatch):
    """The repository's DAGs as Airflow's DagBag parses them, built from ``config_path``."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("THREADLINE_CONFIG", str(config_path))
    return DagBag(dag_folder=str(DAGS_FOLDER))
