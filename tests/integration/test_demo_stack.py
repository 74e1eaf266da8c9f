"""``threadline demo-build`` sets the demo up as docker-compose.yml runs it: the legacy ERP service on
another address (``demo-erp --host``), a PostgreSQL warehouse named by an environment variable, and
the ERP's credentials named by an Airflow Connection id. The pieces run here as separate processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import yaml

from tests.integration.commands import THREADLINE, threadline
from threadline.config import load_config
from threadline.demo.landscape import free_port


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port} after {seconds} s")


def test_a_demo_built_for_a_stack_runs_with_its_erp_service_apart_and_a_postgresql_warehouse(tmp_path, pg_database):
    out, port = tmp_path / "demo", free_port()
    built = threadline("demo-build", "--out", out, "--scale", "20", "--erp-host", "127.0.0.1", "--erp-port", port,
                       "--warehouse-url-env", "STACK_WAREHOUSE_URL", "--erp-connection-id", "threadline_demo_erp")
    assert built.returncode == 0, built.stderr
    config = load_config(out / "threadline.yaml")
    erp = config.source("erp_soap")
    assert erp.connection["endpoint"] == f"http://127.0.0.1:{port}/soap/purchasing"
    assert erp.connection_id == "threadline_demo_erp" and config.warehouse.url_env == "STACK_WAREHOUSE_URL"
    assert not (out / "warehouse.sqlite").exists()  # nothing ran

    secrets = dict(line.split("=", 1) for line in (out / "demo.env").read_text().splitlines() if line)
    env = {**secrets, "STACK_WAREHOUSE_URL": pg_database.url.render_as_string(hide_password=False)}
    service = subprocess.Popen([THREADLINE, "demo-erp", "--out", str(out), "--host", "127.0.0.1"],
                               env={**os.environ, **env}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, service)
        run = threadline("--config", out / "threadline.yaml", "run", "--json", env=env)
    finally:
        service.terminate()
        service.wait(timeout=30)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    summary = json.loads(run.stdout)
    manifest = json.loads((out / "manifest.json").read_text())
    assert summary["status"] == "succeeded"
    assert {s["source"] for s in summary["streams"]} == {"jde", "erp_soap", "maximo", "mes"}
    assert summary["exceptions"]["found"] >= len(manifest["defects"]) > 0
    assert yaml.safe_load((out / "threadline.yaml").read_text())["warehouse"] == {"url_env": "STACK_WAREHOUSE_URL"}
