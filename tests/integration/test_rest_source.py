"""A CMMS read over its JSON API by a ``rest`` source, through the real pipeline into SQLite.

The CMMS of tests/rest_server.py serves work orders with their tasks nested inside, on 127.0.0.1,
behind a bearer token. The config has two streams of the same endpoint, mapped by the shipped
specs in mappings/specs/rest_cmms: the work orders, and the tasks inside them
(``records: data.workorders[].tasks``). The first sync (the ``threadline sync`` command) loads every
work order and task; the warehouse must hold exactly what the API holds. Then work orders change
and new ones arrive; the second sync asks the API only for records changed since the stored
bookmark and leaves the warehouse equal to the API again.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.commands import threadline as cli
from tests.integration.commands import write_config
from tests.integration.readback import canonical_rows, stored_bookmark, stream_log
from tests.rest_server import CmmsApi
from threadline.config import load_config
from threadline.pipeline import run_pipeline

TOKEN_ENV = "TL_IT_CMMS_TOKEN"
TOKEN = "it-" + "7c1e55b0a9d2"
STATUS = {"WAPPR": "planned", "APPR": "released", "INPRG": "in_progress", "COMP": "completed", "CLOSE": "closed",
          "CAN": "cancelled"}
PAGING = {"style": "page_token", "token_param": "page_token", "limit_param": "page_size",
          "next_token_field": "paging.next_token", "page_size": 40}


@pytest.fixture()
def api(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with CmmsApi(230, token=TOKEN) as server:
        yield server


def rest_config(tmp_path: Path, api: CmmsApi) -> Path:
    """threadline.yaml with one ``rest`` source (work orders and their tasks) and a SQLite warehouse."""
    common = {"path": "/workorders", "params": {"sort": "changed_at"}, "bookmark_param": "changed_since",
              "batch_size": 100, "paging": PAGING}
    return write_config(tmp_path, [{
        "name": "cmms", "kind": "rest", "role": "cmms",
        "connection": {"base_url": api.base_url, "auth": "bearer", "token_env": TOKEN_ENV,
                       "check_path": "/workorders", "backoff_seconds": 0.05},
        "streams": [
            {"name": "work_orders", "mapping": "rest_cmms/work_orders.yaml", "records": "data.workorders",
             "key": ["site", "wonum"], "bookmark": ["changed_at", "wonum"], **common},
            {"name": "tasks", "mapping": "rest_cmms/tasks.yaml", "records": "data.workorders[].tasks",
             "key": ["workorders.site", "workorders.wonum", "task_id"],
             "bookmark": ["workorders.changed_at", "workorders.wonum"], **common},
        ],
    }], sites=[{"id": "NORTH"}, {"id": "SOUTH"}])



def day(stamp: str | None):
    return None if stamp is None else date.fromisoformat(stamp[:10])


def assert_warehouse_equals_api(url: str, api: CmmsApi) -> None:
    """Every work order and task of the API is in the warehouse with its mapped values, and nothing else."""
    orders = canonical_rows(url, "work_order", "cmms", "wo_number", "status", "source_status", "asset_id",
                            "estimate_labour", "currency", "po_ref", "po_line_ref", "description", "created_date")
    assert orders == {f"{o['site']}|{o['wonum']}": (
        o["wonum"], STATUS[o["status"]], o["status"], (o["asset"] or {}).get("id"), o["estimate"]["labour"],
        o["estimate"]["currency"], o.get("purchase", {}).get("po"),
        str(o["purchase"]["line"]) if "purchase" in o else None, o["description"], day(o["reported_at"]))
        for o in api.work_orders}
    operations = canonical_rows(url, "wo_operation", "cmms", "wo_number", "op_seq", "is_outside_processing",
                                "expected_supplier", "qty", "status", "finish_date")
    assert operations == {f"{o['site']}|{o['wonum']}|{t['task_id']}": (
        o["wonum"], str(t["task_id"]), t["outside"], (t.get("service") or {}).get("vendor"),
        (t.get("service") or {}).get("qty"), STATUS[t["status"]], day(t.get("finished_at")))
        for o in api.work_orders for t in o["tasks"]}


def test_a_rest_source_syncs_completely_then_incrementally(api, tmp_path):
    config_path = rest_config(tmp_path, api)
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"

    checked = cli("--config", str(config_path), "check", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout) == [{"source": "cmms", "kind": "rest", "ok": True, "problems": []},
                                          {"source": "expectations", "kind": "suites", "ok": True, "problems": []}]

    api.requests.clear()
    synced = cli("--config", str(config_path), "sync")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert_warehouse_equals_api(url, api)
    tasks = sum(len(o["tasks"]) for o in api.work_orders)
    # each stream pages through the endpoint once: 6 pages of 40 work orders
    assert len(api.data_requests()) == 2 * 6
    assert all("changed_since" not in r.query for r in api.data_requests())
    last = max((o["changed_at"], o["wonum"]) for o in api.work_orders)
    assert stored_bookmark(url, "cmms", "work_orders") == {"changed_at": last[0], "wonum": last[1]}
    assert stored_bookmark(url, "cmms", "tasks") == {"workorders.changed_at": last[0], "workorders.wonum": last[1]}

    # work orders change (one of them the bookmarked one), new ones arrive
    later = datetime.strptime(last[0], "%Y-%m-%dT%H:%M:%SZ") + timedelta(minutes=3)
    api.change(["WO-00005", "WO-00100"], later, status="CLOSE")
    api.work_orders[-1]["tasks"][0]["status"] = "COMP"  # the bookmarked work order, changed in place
    added = api.add(3, later + timedelta(minutes=1))
    api.requests.clear()

    config = load_config(config_path)
    second = run_pipeline(config, command="sync", reconcile=False)
    assert second.status == "succeeded", second.error
    # only what changed since the bookmark was asked for and read
    assert {r.query.get("changed_since") for r in api.data_requests()} == {last[0]}
    assert len(api.data_requests()) == 2
    changed = ["WO-00005", "WO-00100", last[1], *(a["wonum"] for a in added)]
    by_wonum = {o["wonum"]: o for o in api.work_orders}
    log = {row["stream"]: row for row in stream_log(url, second.run_id)}
    assert log["work_orders"]["rows_read"] == len(changed)
    assert log["tasks"]["rows_read"] == sum(len(by_wonum[w]["tasks"]) for w in changed)
    assert log["work_orders"]["rows_quarantined"] == log["tasks"]["rows_quarantined"] == 0
    assert_warehouse_equals_api(url, api)
    assert len(canonical_rows(url, "work_order", "cmms")) == 233
    assert len(canonical_rows(url, "wo_operation", "cmms")) == tasks + sum(len(a["tasks"]) for a in added)
    newest = max((o["changed_at"], o["wonum"]) for o in api.work_orders)
    assert stored_bookmark(url, "cmms", "work_orders") == {"changed_at": newest[0], "wonum": newest[1]}


def test_check_and_sync_say_when_the_token_is_refused(api, tmp_path):
    config_path = rest_config(tmp_path, api)
    wrong = "it-" + "revoked-0000"
    checked = cli("--config", str(config_path), "check", "--json", env={TOKEN_ENV: wrong})
    assert checked.returncode == 1
    problem = json.loads(checked.stdout)[0]["problems"][0]
    assert "HTTP 401" in problem and TOKEN_ENV in problem and wrong not in problem

    synced = cli("--config", str(config_path), "sync", env={TOKEN_ENV: wrong})
    assert synced.returncode != 0
    output = synced.stdout + synced.stderr
    assert "stream 'work_orders'" in output and "HTTP 401" in output and TOKEN_ENV in output
    assert wrong not in output and "Traceback" not in output
