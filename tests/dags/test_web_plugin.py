"""The Airflow plugin that mounts the steward web app: Airflow's plugin manager loads it from the
repository's plugins/ folder, and the app answers under the plugin's prefix with its own sign-in."""

from __future__ import annotations

import json
import os
import re
import subprocess

from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.dags.conftest import AIRFLOW, REPO
from tests.integration.commands import threadline

PASSWORD = "correct-horse-battery"


def test_airflows_plugin_manager_loads_the_web_plugin(airflow_db):
    done = subprocess.run([AIRFLOW, "plugins", "--output", "json"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins")})
    assert done.returncode == 0, done.stderr[-3000:]
    plugins = {p["name"]: p for p in json.loads(done.stdout[done.stdout.index("["):])}
    plugin = plugins["threadline_web"]
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/threadline"
    view = plugin["external_views"][0]
    assert view["href"] == "/threadline/queue" and view["destination"] == "nav"


def test_the_mounted_app_signs_in_and_serves_under_its_prefix(tmp_path, monkeypatch):
    assert threadline("demo-build", "--out", tmp_path / "demo", "--scale", "10").returncode == 0
    config = tmp_path / "demo" / "threadline.yaml"
    done = threadline("--config", config, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    done = threadline("--config", config, "users", "add", "sam", "--role", "steward",
                      env={"THREADLINE_USER_PASSWORD": PASSWORD})
    assert done.returncode == 0, done.stderr
    from threadline.airflow.web_plugin import URL_PREFIX, plugin_attributes

    entry = plugin_attributes()["fastapi_apps"][0]
    host = Starlette(routes=[Mount(URL_PREFIX, app=entry["app"])])  # as Airflow's API server mounts it
    monkeypatch.delenv("THREADLINE_WEB_SECRET", raising=False)
    monkeypatch.setenv("THREADLINE_CONFIG", str(config))
    refused = TestClient(host).get("/threadline/queue")
    assert refused.status_code == 503 and "THREADLINE_WEB_SECRET" in refused.text  # the app says why it cannot start

    entry = plugin_attributes()["fastapi_apps"][0]
    host = Starlette(routes=[Mount(URL_PREFIX, app=entry["app"])])
    monkeypatch.setenv("THREADLINE_WEB_SECRET", "p" * 40)
    client = TestClient(host)
    first = client.get("/threadline/queue", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/threadline/login?next=/threadline/queue"
    login = client.get("/threadline/login?next=/threadline/queue")
    assert 'href="/threadline/static/app.css"' in login.text and 'action="/threadline/login"' in login.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    done = client.post("/threadline/login", data={"username": "sam", "password": PASSWORD, "csrf_token": token,
                                                  "next": "/threadline/queue"}, follow_redirects=False)
    assert done.headers["location"] == "/threadline/queue"
    queue = client.get("/threadline/queue")
    assert queue.status_code == 200 and "Exception queue" in queue.text and 'href="/threadline/costs"' in queue.text
    assert client.get("/threadline/static/app.css").status_code == 200
