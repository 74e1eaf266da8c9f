"""The steward web app on the demo landscape's warehouse (SQLite, and PostgreSQL): sign-in, roles,
CSRF, escaping, sessions, and the steward actions going through the same lifecycle as the CLI.

The app is served in-process over HTTP semantics by Starlette's test client; users are added with
the installed `threadline users add`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from tests.integration.commands import run_local_sources, threadline
from threadline.config import load_config
from threadline.demo.landscape import build_landscape
from threadline.demo.stack import retarget_config
from threadline.web.app import WebConfigError, WebSettings, create_app, settings_from_env
from threadline.warehouse import schema
from threadline.warehouse.store import open_warehouse

PASSWORD = "correct-horse-battery"
SCRIPT = "<script>alert(1)</script>"


def token(page_text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)


def signed_in(app, name: str) -> TestClient:
    client = TestClient(app, base_url="http://testserver")
    login = client.get("/login")
    done = client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token(login.text)},
                       follow_redirects=False)
    assert done.status_code == 303, done.text
    return client


def status_of(warehouse, exception_id: str) -> str:
    with warehouse.engine.connect() as conn:
        return conn.execute(select(schema.exception.c.status)
                            .where(schema.exception.c.exception_id == exception_id)).scalar_one()


@pytest.fixture(scope="module")
def demo_landscape(tmp_path_factory):
    """One demo landscape for the module (the tests below each change different exceptions)."""
    built = build_landscape(tmp_path_factory.mktemp("web") / "demo", scale=60)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in built.env.items():
            patch.setenv(name, value)
        yield built


@pytest.fixture(scope="module")
def module_steward(demo_landscape):
    def run(*args: str, env: dict | None = None):
        return threadline("--config", demo_landscape.config_path, *args, env={"THREADLINE_ACTOR": "alice", **(env or {})})
    return run


@pytest.fixture(scope="module")
def demo_app(demo_landscape, module_steward):
    """The demo's local sources run once (one PO description carries a script tag), users of every role."""
    with sqlite3.connect(demo_landscape.out_dir / "erp_jde.sqlite") as conn:
        assert conn.execute("UPDATE F4311 SET PDDSC1 = ? WHERE PDDOCO = 4529", (SCRIPT,)).rowcount == 1
    run_local_sources(module_steward)
    for name, role in (("vera", "viewer"), ("sam", "steward"), ("aud", "auditor"), ("ada", "admin")):
        done = module_steward("users", "add", name, "--role", role, env={"THREADLINE_USER_PASSWORD": PASSWORD})
        assert done.returncode == 0, done.stderr
    config = load_config(demo_landscape.config_path, check_specs=False)
    warehouse = open_warehouse(config.warehouse.resolved_url(), migrate=False)
    app = create_app(WebSettings(warehouse_url=config.warehouse.resolved_url(), secret="k" * 40,
                                 reports_dir=config.reports_dir), warehouse=warehouse)
    yield app, warehouse
    warehouse.dispose()


def first_open(warehouse, rule: str | None = None) -> str:
    t = schema.exception
    where = [t.c.status == "open"] + ([t.c.rule_id == rule] if rule else [])
    with warehouse.engine.connect() as conn:
        return conn.execute(select(t.c.exception_id).where(*where).order_by(t.c.exception_id).limit(1)).scalar_one()


def test_anonymous_requests_are_sent_to_sign_in(demo_app):
    app, warehouse = demo_app
    client = TestClient(app)
    exception_id = first_open(warehouse)
    for path in ("/queue?rule=OSP-001", f"/exceptions/{exception_id}", "/links", "/costs?format=csv", "/runs",
                 "/quarantine", "/audit", "/reports"):
        done = client.get(path, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"].startswith("/login?next=/"), path
    assert client.get("/queue", follow_redirects=False).headers["location"] == "/login?next=/queue"
    login = client.get("/login")
    assert login.status_code == 200 and "Sign in" in login.text
    refused = client.post(f"/exceptions/{exception_id}/action",
                          data={"action": "resolve", "reason": "duplicate", "csrf_token": token(login.text)},
                          follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    assert status_of(warehouse, exception_id) == "open"
    wrong = client.post("/login", data={"username": "sam", "password": "not-the-password",
                                        "csrf_token": token(login.text)})
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text


def test_a_viewer_reads_but_cannot_resolve_waive_assign_confirm_or_export(demo_app):
    app, warehouse = demo_app
    viewer = signed_in(app, "vera")
    exception_id = first_open(warehouse)
    page = viewer.get(f"/exceptions/{exception_id}")
    assert page.status_code == 200 and "Resolve" not in page.text and "Waive" not in page.text
    csrf = token(page.text)
    for data in ({"action": "resolve", "reason": "duplicate"},
                 {"action": "waive", "justification": "fine", "until": "2099-01-01"}):
        refused = viewer.post(f"/exceptions/{exception_id}/action", data={**data, "csrf_token": csrf})
        assert refused.status_code == 403 and "may not work exceptions" in refused.text
    refused = viewer.post("/queue/bulk", data={"action": "assign", "assignee": "vera", "ids": [exception_id],
                                               "csrf_token": csrf})
    assert refused.status_code == 403
    assert status_of(warehouse, exception_id) == "open"
    link_id = re.search(r'id="(LK-[0-9a-f]+)"', viewer.get("/links").text).group(1)
    assert viewer.post(f"/links/{link_id}/decision", data={"decision": "confirm", "csrf_token": csrf}).status_code == 403
    assert viewer.get("/costs?format=csv").status_code == 403
    assert viewer.get("/audit").status_code == 403
    with warehouse.engine.connect() as conn:
        events = conn.execute(select(schema.exception_event.c.actor).where(
            schema.exception_event.c.actor == "vera")).all()
    assert events == []


def test_a_post_without_its_csrf_token_is_refused(demo_app):
    app, warehouse = demo_app
    steward = signed_in(app, "sam")
    exception_id = first_open(warehouse)
    good = token(steward.get(f"/exceptions/{exception_id}").text)
    for data in ({"action": "resolve", "reason": "duplicate"},
                 {"action": "resolve", "reason": "duplicate", "csrf_token": "forged"},
                 {"action": "resolve", "reason": "duplicate", "csrf_token": ""}):
        refused = steward.post(f"/exceptions/{exception_id}/action", data=data)
        assert refused.status_code == 403 and "security token" in refused.text
    assert status_of(warehouse, exception_id) == "open"
    anonymous = TestClient(app)
    assert anonymous.post("/login", data={"username": "sam", "password": PASSWORD}).status_code == 403
    # another browser's token is no good in this session either
    other = signed_in(app, "ada")
    foreign = token(other.get("/queue").text)
    assert foreign != good
    assert steward.post(f"/exceptions/{exception_id}/action",
                        data={"action": "ack", "csrf_token": foreign}).status_code == 403
    done = steward.post(f"/exceptions/{exception_id}/action", data={"action": "ack", "csrf_token": good},
                        follow_redirects=False)
    assert done.status_code == 303 and status_of(warehouse, exception_id) == "acknowledged"


def test_what_a_source_said_is_escaped(demo_app):
    app, warehouse = demo_app
    client = signed_in(app, "sam")
    queue = client.get("/queue?rule=LNK-001")
    exception_id = re.search(r'/exceptions/(EX-[0-9a-f]+)">[^<]*</a></td>\s*<td>LNK-001</td>(?:(?!</tr>).)*PO 4529 ',
                             queue.text, re.S).group(1)
    page = client.get(f"/exceptions/{exception_id}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert SCRIPT not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_an_exception_shows_the_other_side_looked_up_with_its_lineage(demo_app):
    app, warehouse = demo_app
    client = signed_in(app, "vera")
    t = schema.exception
    with warehouse.engine.connect() as conn:
        exception_id = conn.execute(select(t.c.exception_id).where(t.c.rule_id == "OSP-009")
                                    .order_by(t.c.exception_id).limit(1)).scalar_one()
    page = client.get(f"/exceptions/{exception_id}").text
    work_side = page[page.index("Work (CMMS, MES)"):page.index("Purchasing (ERP)")]
    assert "Looked up in the warehouse" in work_side and "wo_operation" in work_side
    assert "extracted at" in work_side and "No work-order record" not in work_side


def test_steward_actions_write_the_same_history_as_the_cli(demo_app, module_steward):
    steward = module_steward
    app, warehouse = demo_app
    client = signed_in(app, "sam")
    first, second = sorted(json.loads(steward("exceptions", "list", "--status", "open", "--json").stdout),
                           key=lambda e: e["exception_id"])[:2]
    ids = [first["exception_id"], second["exception_id"]]
    csrf = token(client.get("/queue").text)
    done = client.post("/queue/bulk", data={"action": "ack", "ids": ids, "csrf_token": csrf, "back": "/queue"})
    assert done.status_code == 200 and "ack: 2 exception(s) done" in done.text
    client.post("/queue/bulk", data={"action": "assign", "assignee": "carol", "ids": ids, "csrf_token": csrf})
    client.post(f"/exceptions/{ids[0]}/action", data={"action": "comment", "comment": "asked purchasing",
                                                      "csrf_token": csrf})
    done = client.post(f"/exceptions/{ids[1]}/action", data={"action": "waive", "justification": "agreed",
                                                             "until": "1999-01-01", "csrf_token": csrf})
    assert "is in the past" in done.text and status_of(warehouse, ids[1]) == "acknowledged"
    client.post(f"/exceptions/{ids[0]}/action", data={"action": "resolve", "reason": "linked",
                                                      "note": "PO line linked", "csrf_token": csrf})
    shown = json.loads(steward("exceptions", "show", ids[0], "--json").stdout)
    assert shown["exception"]["status"] == "resolved" and shown["exception"]["assignee"] == "carol"
    assert [(e["actor"], e["action"]) for e in shown["events"]][1:] == [
        ("sam", "ack"), ("sam", "assign"), ("sam", "comment"), ("sam", "resolve")]
    queue = client.get("/queue?status=any&assignee=carol")
    assert sorted(re.findall(r'name="ids" value="(EX-[0-9a-f]+)"', queue.text)) == sorted(ids)
    auditor = signed_in(app, "aud")
    audit = auditor.get("/audit?actor=sam")
    assert audit.status_code == 200 and audit.text.count("<td>sam</td>") >= 6
    exported = auditor.get("/audit?format=csv&actor=sam")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["actor"] for r in rows} == {"sam"}
    assert sorted(r["action"] for r in rows if r["subject"] in ids) == [
        "ack", "ack", "assign", "assign", "comment", "resolve"]
    formula = '=HYPERLINK("http://elsewhere.example","x")'
    client.post(f"/exceptions/{ids[1]}/action", data={"action": "comment", "comment": formula, "csrf_token": csrf})
    sheet = load_workbook(io.BytesIO(auditor.get("/audit?format=xlsx&actor=sam").content)).active
    cells = [c for row in sheet.iter_rows() for c in row if c.value == formula]
    assert len(cells) == 1 and cells[0].data_type == "s"  # a source's text stays text, never a formula
    assert auditor.post(f"/exceptions/{ids[1]}/action",
                        data={"action": "resolve", "reason": "duplicate",
                              "csrf_token": token(audit.text)}).status_code == 403


def test_the_queue_filters_sorts_pages_and_exports_in_sql(demo_app):
    app, warehouse = demo_app
    client = signed_in(app, "sam")
    with warehouse.engine.connect() as conn:
        t = schema.exception
        active = conn.execute(select(t.c.exception_id).where(t.c.status.in_(("open", "acknowledged")))).scalars().all()
        osp_north = conn.execute(select(t.c.exception_id).where(t.c.rule_id.like("OSP-%"), t.c.site == "NORTH",
                                                                 t.c.status == "open")).scalars().all()
    seen = []
    for page in range(1, -(-len(active) // 25) + 1):
        text = client.get(f"/queue?per_page=25&page={page}&sort=id").text
        seen += re.findall(r'name="ids" value="(EX-[0-9a-f]+)"', text)
    assert seen == sorted(active)  # every active exception once, in id order, across pages
    assert f"{len(active):,} exception(s)" in text
    text = client.get("/queue?severity=error&site=NORTH&status=open&sort=rule&dir=desc&per_page=200").text
    rows = re.findall(r'value="(EX-[0-9a-f]+)".*?<td>([A-Z]{3}-\d{3})</td>', text, re.S)
    assert rows and [r for _, r in rows] == sorted((r for _, r in rows), reverse=True)
    csv_text = client.get("/queue?site=NORTH&status=open&format=csv").text.strip().splitlines()
    assert csv_text[0].startswith("exception_id,rule_id,severity,site,status")
    assert {line.split(",")[0] for line in csv_text[1:] if "OSP-" in line.split(",")[1]} == set(osp_north)
    assert "unknown status" in client.get("/queue?status=bogus").text
    assert client.get("/queue?min_age=1").text.count('name="ids"') == 0  # everything was found today


def test_sessions_end_and_the_app_needs_a_secret(demo_app, monkeypatch, demo_landscape):
    app, warehouse = demo_app
    expiring = create_app(WebSettings(warehouse_url="unused", secret="k" * 40, max_hours=0), warehouse=warehouse)
    client = signed_in(expiring, "sam")
    assert client.get("/queue", follow_redirects=False).status_code == 303
    monkeypatch.delenv("THREADLINE_WEB_SECRET", raising=False)
    with pytest.raises(WebConfigError, match="THREADLINE_WEB_SECRET"):
        settings_from_env("sqlite://")
    assert settings_from_env("sqlite://", demo=True).demo
    monkeypatch.setenv("THREADLINE_WEB_SECRET", "short")
    with pytest.raises(WebConfigError, match="too short"):
        settings_from_env("sqlite://")
    refused = threadline("--config", demo_landscape.config_path, "serve", env={"THREADLINE_WEB_SECRET": ""})
    assert refused.returncode == 2 and "THREADLINE_WEB_SECRET" in refused.stderr
    # a sign-in may only send the user on inside the app
    login = TestClient(app).get("/login?next=//elsewhere.example/")
    client = TestClient(app)
    client.get("/login")
    done = client.post("/login", data={"username": "sam", "password": PASSWORD, "next": "//elsewhere.example/",
                                       "csrf_token": token(client.get("/login").text)}, follow_redirects=False)
    assert login.status_code == 200 and done.headers["location"] == "/queue"
    with warehouse.engine.connect() as conn:
        hashes = conn.execute(select(schema.user.c.password_hash)).scalars().all()
    assert len(hashes) == 4 and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


@pytest.mark.postgres
def test_the_app_on_a_postgresql_warehouse(landscape, steward, pg_database, monkeypatch):
    url = pg_database.url.render_as_string(hide_password=False)
    retarget_config(landscape.config_path, warehouse_url_env="WEB_TEST_WAREHOUSE_URL")
    env = {"WEB_TEST_WAREHOUSE_URL": url}
    done = steward("run", "--source", "jde", "--source", "maximo", "--source", "mes", "--json", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    done = steward("users", "add", "sam", "--role", "steward", env={**env, "THREADLINE_USER_PASSWORD": PASSWORD})
    assert done.returncode == 0, done.stderr
    warehouse = open_warehouse(url, migrate=False)
    try:
        app = create_app(WebSettings(warehouse_url=url, secret="k" * 40), warehouse=warehouse)
        client = signed_in(app, "sam")
        queue = client.get("/queue?rule=OSP-001&sort=severity")
        ids = re.findall(r'name="ids" value="(EX-[0-9a-f]+)"', queue.text)
        assert ids and "OSP-001" in queue.text
        csrf = token(queue.text)
        client.post(f"/exceptions/{ids[0]}/action", data={"action": "resolve", "reason": "fixed_in_source",
                                                          "csrf_token": csrf})
        assert status_of(warehouse, ids[0]) == "resolved"
        for path in (f"/exceptions/{ids[0]}", "/links", "/costs?grain=month", "/costs?grain=supplier", "/runs",
                     "/quarantine"):
            assert client.get(path).status_code == 200, path
        rows = client.get("/costs?grain=site&format=csv").text.strip().splitlines()
        assert rows[0].startswith("site,") and len(rows) == 3  # NORTH and SOUTH
    finally:
        warehouse.dispose()
