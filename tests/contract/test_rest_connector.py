"""The REST connector against a real JSON API on 127.0.0.1 (tests/rest_server.py).

Paging by token, by offset (with and without a total) and not at all; incremental reads from a
bookmark; nested objects and arrays of records; bearer and basic auth; HTTP 429 with Retry-After
(seconds and HTTP date, capped), 5xx and dropped connections retried, 401/403/404 fatal; no secret
in any error or log line.
"""

from __future__ import annotations

import email.utils
import logging
import math
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest
from pydantic import ValidationError

from connectors.base import ConnectorError, SecretMissingError
from connectors.rest import RestConnector, RestHttpError, RestStream, retry_after_seconds
from tests.rest_server import FIRST_CHANGE, CmmsApi, Scripted, stamp

TOKEN = "tok-" + "9f3c2a7d41e8b6"
TOKEN_ENV = "TL_TEST_CMMS_TOKEN"
PASSWORD = "pw-" + "Zx81!secret"
PASSWORD_ENV = "TL_TEST_CMMS_PASSWORD"
ORDERS = 230
PAGE = 40


@pytest.fixture()
def api(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with CmmsApi(ORDERS, token=TOKEN) as server:
        yield server


@pytest.fixture()
def basic_api(monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with CmmsApi(ORDERS, basic=("reader", PASSWORD)) as server:
        yield server


def connector(api: CmmsApi, **settings) -> RestConnector:
    return RestConnector("cmms", {"base_url": api.base_url, "auth": "bearer", "token_env": TOKEN_ENV,
                                  "retries": 2, "backoff_seconds": 0.01, "backoff_max_seconds": 0.05, **settings})


def stream(style: str = "page_token", records: str = "data.workorders", **overrides) -> RestStream:
    paging = {"page_token": {"style": "page_token", "token_param": "page_token", "limit_param": "page_size",
                             "next_token_field": "paging.next_token", "page_size": PAGE},
              "offset": {"style": "offset", "total_field": "paging.total", "page_size": PAGE},
              "offset_short_page": {"style": "offset", "page_size": PAGE},
              "none": {"style": "none"}}[style]
    nested = records != "data.workorders"
    settings = {"name": "tasks" if nested else "work_orders", "mapping": "rest_cmms/work_orders.yaml",
                "path": "/workorders", "records": records, "params": {"sort": "changed_at"},
                "key": ["workorders.wonum", "task_id"] if nested else ["wonum"],
                "bookmark": ["workorders.changed_at", "workorders.wonum"] if nested else ["changed_at", "wonum"],
                "bookmark_param": "changed_since", "batch_size": 30, "paging": paging}
    return RestStream.model_validate({**settings, **overrides})


def read(rest: RestConnector, settings: RestStream, bookmark=None) -> pa.Table:
    batches = list(rest.read(settings, bookmark))
    assert all(b.num_rows <= settings.batch_size for b in batches)
    return pa.concat_tables(batches, promote_options="permissive")


# ---- paging ------------------------------------------------------------------------------------

def test_page_token_paging_reads_every_record_once_with_nested_objects_flattened(api):
    table = read(connector(api), stream("page_token"))
    assert table.num_rows == ORDERS
    assert sorted(table["wonum"].to_pylist()) == sorted(o["wonum"] for o in api.work_orders)
    requests = api.data_requests()
    assert len(requests) == math.ceil(ORDERS / PAGE)
    assert "page_token" not in requests[0].query
    assert all(r.query["page_token"] and r.query["page_size"] == str(PAGE) for r in requests[1:])
    # nested objects as dotted columns; sparse documents leave the fields they lack empty
    by_wonum = {r["wonum"]: r for r in table.to_pylist()}
    for order in api.work_orders:
        row = by_wonum[order["wonum"]]
        assert row["asset.id"] == (order["asset"] or {}).get("id")
        assert row["estimate.labour"] == order["estimate"]["labour"]
        assert row["purchase.po"] == order.get("purchase", {}).get("po")
    assert table["purchase.po"].null_count == sum(1 for o in api.work_orders if "purchase" not in o) > 0
    assert by_wonum["WO-00001"]["description"].startswith(api.work_orders[0]["description"])
    assert "tasks" not in table.column_names  # arrays of records are a stream of their own
    assert table["changed_at"].to_pylist() == sorted(table["changed_at"].to_pylist())


@pytest.mark.parametrize("style", ["offset", "offset_short_page"])
def test_offset_paging_stops_at_the_total_or_on_a_short_page(api, style):
    table = read(connector(api), stream(style))
    assert table.num_rows == ORDERS
    assert len(set(table["wonum"].to_pylist())) == ORDERS
    offsets = [int(r.query["offset"]) for r in api.data_requests()]
    assert offsets == list(range(0, ORDERS, PAGE))
    assert all(r.query["limit"] == str(PAGE) for r in api.data_requests())


def test_offset_paging_without_a_total_asks_once_past_a_full_last_page(api):
    size = 46  # 230 = 5 full pages: only an empty sixth page says the end came
    table = read(connector(api), stream("offset_short_page", paging={"style": "offset", "page_size": size}))
    assert table.num_rows == ORDERS
    assert [int(r.query["offset"]) for r in api.data_requests()] == [0, 46, 92, 138, 184, 230]


def test_offset_paging_with_a_total_does_not_ask_past_it(api):
    read(connector(api), stream("offset", paging={"style": "offset", "page_size": 46, "total_field": "paging.total"}))
    assert [int(r.query["offset"]) for r in api.data_requests()] == [0, 46, 92, 138, 184]


def test_no_paging_is_one_request(api):
    table = read(connector(api), stream("none"))
    assert len(api.data_requests()) == 1
    assert table.num_rows == 50  # the API's own default page


# ---- incremental reads -------------------------------------------------------------------------

@pytest.mark.parametrize("style", ["page_token", "offset"])
def test_a_bookmark_is_sent_and_only_records_at_or_after_it_come_back(api, style):
    middle = sorted((o["changed_at"], o["wonum"]) for o in api.work_orders)[117]
    bookmark = {"changed_at": middle[0], "wonum": middle[1]}
    table = read(connector(api), stream(style), bookmark)
    assert all(r.query["changed_since"] == middle[0] for r in api.data_requests())
    marks = list(zip(table["changed_at"].to_pylist(), table["wonum"].to_pylist()))
    expected = sorted(m for m in ((o["changed_at"], o["wonum"]) for o in api.work_orders) if m >= middle)
    # ties on changed_at before the bookmark's wonum were loaded already: the connector drops them
    assert marks == expected
    assert 0 < len(marks) < ORDERS


def test_a_changed_record_comes_back_in_the_next_incremental_read(api):
    first = read(connector(api), stream())
    last = first.slice(first.num_rows - 1).to_pylist()[0]
    later = datetime.strptime(last["changed_at"], "%Y-%m-%dT%H:%M:%SZ") + timedelta(minutes=5)
    api.change(["WO-00003"], later, status="CLOSE")
    added = api.add(4, later)
    api.requests.clear()
    second = read(connector(api), stream(), {"changed_at": last["changed_at"], "wonum": last["wonum"]})
    assert second["wonum"].to_pylist() == [last["wonum"], *sorted(["WO-00003", *(a["wonum"] for a in added)])]
    assert second.to_pylist()[1]["status"] == "CLOSE"
    assert len(api.data_requests()) == 1


def test_records_out_of_bookmark_order_stop_the_read(api):
    api.change(["WO-00002"], FIRST_CHANGE + timedelta(days=1))  # wonum order is no longer changed_at order
    with pytest.raises(ConnectorError) as raised:
        read(connector(api), stream(params={}))  # without sort=changed_at the API orders by wonum
    assert "not ordered by changed_at" in str(raised.value) and "sort: changed_at" in str(raised.value)
    assert "stream 'work_orders'" in str(raised.value)


# ---- arrays of records as their own stream -----------------------------------------------------

@pytest.mark.parametrize("style", ["page_token", "offset"])
def test_tasks_inside_work_orders_are_a_stream_carrying_their_work_orders_fields(api, style):
    table = read(connector(api), stream(style, records="data.workorders[].tasks"))
    expected = [(o["wonum"], t["task_id"], t["description"], (t.get("service") or {}).get("vendor"), o["changed_at"])
                for o in sorted(api.work_orders, key=lambda o: (o["changed_at"], o["wonum"])) for t in o["tasks"]]
    got = list(zip(table["workorders.wonum"].to_pylist(), table["task_id"].to_pylist(),
                   table["description"].to_pylist(), table["service.vendor"].to_pylist(),
                   table["workorders.changed_at"].to_pylist()))
    assert got == expected
    assert "workorders.asset.id" in table.column_names and "workorders.tasks" not in table.column_names
    # the page size counts work orders, not tasks
    assert len(api.data_requests()) == math.ceil(ORDERS / PAGE)


def test_a_page_arrow_cannot_type_at_once_is_read_record_by_record(api):
    api.change(["WO-00004"], FIRST_CHANGE, priority="urgent")  # a number everywhere else
    for task in api.work_orders[5]["tasks"]:
        task["task_id"] = f"T{task['task_id']}"
    table = read(connector(api), stream("none"))
    rows = {r["wonum"]: r for r in table.to_pylist()}
    assert rows["WO-00004"]["priority"] == "urgent" and rows["WO-00005"]["priority"] == str(
        api.work_orders[4]["priority"])
    assert rows["WO-00001"]["asset.id"] == api.work_orders[0]["asset"]["id"]
    tasks = read(connector(api), stream("none", records="data.workorders[].tasks"))
    assert tasks.num_rows == sum(len(o["tasks"]) for o in api.work_orders[:50])
    assert set(tasks.filter(pa.compute.equal(tasks["workorders.wonum"], "WO-00006"))["task_id"].to_pylist()) == {
        t["task_id"] for t in api.work_orders[5]["tasks"]}


def test_a_records_path_the_response_lacks_is_an_error_naming_what_is_there(api):
    with pytest.raises(ConnectorError) as raised:
        read(connector(api), stream(records="data.items"))
    assert "has no data.items (found: workorders)" in str(raised.value)
    assert raised.value.transient is False and len(api.data_requests()) == 1


# ---- auth --------------------------------------------------------------------------------------

def test_bearer_auth_sends_the_token(api):
    assert read(connector(api), stream()).num_rows == ORDERS
    assert {r.authorization for r in api.data_requests()} == {f"Bearer {TOKEN}"}


def test_basic_auth_sends_username_and_password(basic_api):
    rest = RestConnector("cmms", {"base_url": basic_api.base_url, "auth": "basic", "username": "reader",
                                  "password_env": PASSWORD_ENV})
    assert read(rest, stream("offset")).num_rows == ORDERS
    assert all(r.authorization.startswith("Basic ") for r in basic_api.data_requests())


def test_a_rejected_token_is_fatal_with_a_hint_and_without_the_secret(api, monkeypatch, caplog):
    wrong = "tok-" + "wrong-but-secret-1234"
    monkeypatch.setenv(TOKEN_ENV, wrong)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RestHttpError) as raised:
        read(connector(api), stream())
    error = raised.value
    assert error.http_status == 401 and error.transient is False
    assert len(api.data_requests()) == 1  # not retried
    message = str(error)
    assert "source 'cmms', stream 'work_orders'" in message and "GET /api/v1/workorders" in message
    assert f"check the token in {TOKEN_ENV} (connection.token_env)" in message
    assert wrong not in message and TOKEN not in message
    assert not any(wrong in r.getMessage() for r in caplog.records)


def test_a_rejected_password_is_fatal_with_a_hint_and_without_the_secret(basic_api, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "not-" + PASSWORD)
    rest = RestConnector("cmms", {"base_url": basic_api.base_url, "auth": "basic", "username": "reader",
                                  "password_env": PASSWORD_ENV, "retries": 3})
    with pytest.raises(RestHttpError) as raised:
        read(rest, stream())
    message = str(raised.value)
    assert raised.value.http_status == 401 and len(basic_api.data_requests()) == 1
    assert f"connection.username 'reader' and the password in {PASSWORD_ENV}" in message
    assert PASSWORD not in message


def test_forbidden_is_fatal_with_a_rights_hint(api):
    api.script.append(Scripted(403, body="forbidden"))
    with pytest.raises(RestHttpError) as raised:
        read(connector(api), stream())
    assert raised.value.http_status == 403 and raised.value.transient is False
    assert "not allowed to read this" in str(raised.value) and len(api.data_requests()) == 1


def test_an_error_body_echoing_the_token_is_redacted(api):
    api.script.append(Scripted(400, body="bad request; you sent {authorization}"))
    with pytest.raises(RestHttpError) as raised:
        read(connector(api), stream())
    assert "you sent Bearer ***" in str(raised.value) and TOKEN not in str(raised.value)


def test_a_secret_missing_from_the_environment_is_named(api, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV)
    with pytest.raises(SecretMissingError) as raised:
        connector(api)
    assert TOKEN_ENV in str(raised.value) and "connection.token_env" in str(raised.value)


# ---- rate limits and transient failures --------------------------------------------------------

def _gap_after(api: CmmsApi, status: int) -> float:
    """Seconds between the request answered ``status`` and the next one."""
    requests = api.data_requests()
    index = next(i for i, r in enumerate(requests) if r.status == status)
    return requests[index + 1].at - requests[index].at


def test_429_waits_as_long_as_retry_after_seconds_says(api):
    api.script.append(Scripted(429, {"Retry-After": "1"}, "slow down"))
    # a backoff of 5 s would show if Retry-After were ignored
    table = read(connector(api, backoff_seconds=5, backoff_max_seconds=5), stream())
    assert table.num_rows == ORDERS
    assert len(api.data_requests()) == math.ceil(ORDERS / PAGE) + 1
    assert 1.0 <= _gap_after(api, 429) < 2.5


def test_429_with_an_http_date_waits_until_then(api):
    when = datetime.now(timezone.utc) + timedelta(seconds=2)
    api.script.append(Scripted(429, {"Retry-After": email.utils.format_datetime(when, usegmt=True)}))
    assert read(connector(api, backoff_seconds=5, backoff_max_seconds=5), stream()).num_rows == ORDERS
    # the date has whole seconds: the wait is between one and two seconds
    assert 0.9 <= _gap_after(api, 429) < 3.5
    assert len(api.data_requests()) == math.ceil(ORDERS / PAGE) + 1


def test_a_retry_after_longer_than_the_cap_waits_the_cap(api):
    api.script.append(Scripted(429, {"Retry-After": "3600"}))
    assert read(connector(api, max_retry_after_seconds=0.5), stream()).num_rows == ORDERS
    assert 0.5 <= _gap_after(api, 429) < 2.5


def test_429_without_retry_after_backs_off(api):
    api.script.append(Scripted(429))
    assert read(connector(api, backoff_seconds=0.3, backoff_max_seconds=0.3), stream()).num_rows == ORDERS
    assert 0.3 <= _gap_after(api, 429) < 2.0


@pytest.mark.parametrize("failure", [503, 502, "drop"])
def test_a_server_error_or_dropped_connection_once_is_retried_and_the_read_completes(api, failure):
    expected = read(connector(api), stream())
    api.requests.clear()
    api.script.append(Scripted(failure, body="upstream database busy"))
    assert read(connector(api), stream()).equals(expected)
    assert len(api.data_requests()) == math.ceil(ORDERS / PAGE) + 1
    first, retry = api.data_requests()[:2]
    assert first.query == retry.query  # the same page asked again


def test_a_server_error_that_persists_raises_transient_after_the_configured_attempts(api):
    api.script.extend(Scripted(503) for _ in range(10))
    with pytest.raises(RestHttpError) as raised:
        read(connector(api, retries=3), stream())
    error = raised.value
    assert error.transient is True and error.http_status == 503 and error.attempts == 4
    assert len(api.data_requests()) == 4
    assert "source 'cmms', stream 'work_orders': HTTP 503 from GET /api/v1/workorders" in str(error)
    assert "after 4 attempt(s)" in str(error)


def test_an_unknown_path_is_fatal_and_names_the_path(api):
    with pytest.raises(RestHttpError) as raised:
        read(connector(api), stream(path="/work-orders"))
    assert raised.value.http_status == 404 and raised.value.transient is False
    assert "GET /api/v1/work-orders" in str(raised.value) and "stream's path" in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert len(api.requests) == 1


def test_an_unreachable_host_is_transient_and_says_so(api):
    dead = connector(api, base_url="http://127.0.0.1:9/api", retries=1)
    with pytest.raises(ConnectorError) as raised:
        read(dead, stream())
    assert raised.value.transient is True
    assert "cannot reach 127.0.0.1:9 for GET /api/workorders: connection refused" in str(raised.value)


def test_retry_after_parses_seconds_and_http_dates():
    now = datetime(2026, 3, 2, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Mon, 02 Mar 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Mon, 02 Mar 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None


# ---- check and settings ------------------------------------------------------------------------

def test_check_passes_when_the_api_answers_and_accepts_the_credentials(api):
    assert connector(api, check_path="/workorders").check() == []
    assert api.requests[-1].authorization == f"Bearer {TOKEN}"


def test_check_says_the_host_is_unreachable(api):
    problems = connector(api, base_url="http://127.0.0.1:9/api").check()
    assert len(problems) == 1
    assert "cannot reach 127.0.0.1:9 (connection refused)" in problems[0] and "base_url" in problems[0]


def test_check_says_the_credentials_are_refused(api, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "tok-" + "stale")
    problems = connector(api, check_path="/workorders").check()
    assert len(problems) == 1 and "HTTP 401" in problems[0] and TOKEN_ENV in problems[0]
    assert "stale" not in problems[0]


@pytest.mark.parametrize("settings, message", [
    ({"auth": "bearer"}, "auth: bearer needs token_env"),
    ({"auth": "basic", "username": "u"}, "auth: basic needs username and password_env"),
    ({"headers": {"Authorization": "Bearer abc"}}, "Authorization carry credentials"),
    ({"base_url": "https://u:p@cmms.example/api"}, "must not carry credentials"),
    ({"token_env": "X"}, "token_env do(es) not apply to auth: none"),
])
def test_connection_settings_that_cannot_work_are_refused(settings, message):
    with pytest.raises(ValidationError) as raised:
        RestConnector("cmms", {"base_url": "https://cmms.example/api", **settings})
    assert message in str(raised.value)


@pytest.mark.parametrize("overrides, message", [
    ({"paging": {"style": "page_token", "token_param": "t"}}, "paging style page_token needs next_token_field"),
    ({"paging": {"style": "offset", "token_param": "t"}}, "token_param do(es) not apply to paging style offset"),
    ({"records": "data.workorders[]"}, "must end at the records"),
    ({"params": {"changed_since": "2020"}}, "filled in by paging or the bookmark"),
    ({"bookmark": [], "key": ["wonum"]}, "bookmark_param needs bookmark"),
])
def test_stream_settings_that_cannot_work_are_refused(overrides, message):
    with pytest.raises(ValidationError) as raised:
        stream(**overrides)
    assert message in str(raised.value)


def test_no_secret_reaches_the_log_while_retrying(api, caplog):
    caplog.set_level(logging.DEBUG)
    api.script.append(Scripted(503))
    read(connector(api), stream())
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert not any(TOKEN in r.getMessage() for r in caplog.records)


def test_stamps_are_what_the_bookmark_compares():
    # the API writes fixed-width UTC stamps, so text order is time order (what the order check relies on)
    assert stamp(FIRST_CHANGE) < stamp(FIRST_CHANGE + timedelta(seconds=1)) < stamp(FIRST_CHANGE + timedelta(days=1))


def test_the_columnar_and_the_record_by_record_paths_give_the_same_rows():
    from connectors.rest import _records_rows, _records_table

    orders = [{"wonum": "A", "asset": {"id": "P1", "site": {"code": "N"}}, "tags": ["x"],
               "tasks": [{"id": 10, "steps": [{"n": 1}, None, {"n": 2}]}, None, {"id": 20, "steps": []}]},
              None,
              {"wonum": "B", "asset": None, "tasks": [{"id": 30, "steps": [{"n": 3, "meter": {"v": 1.5}}]}]}]
    for steps in ([], [("tasks", True)], [("tasks", True), ("steps", False)]):
        columnar = [{k: v for k, v in row.items() if v is not None}
                    for row in _records_table(orders, steps, "workorders").to_pylist()]
        by_record = [{k: v for k, v in row.items() if v is not None} for row in _records_rows(orders, steps, "workorders")]
        assert columnar == by_record
    assert by_record == [{"workorders.wonum": "A", "workorders.asset.id": "P1", "workorders.asset.site.code": "N",
                          "workorders.tags": ["x"], "tasks.id": 10, "n": 1},
                         {"workorders.wonum": "A", "workorders.asset.id": "P1", "workorders.asset.site.code": "N",
                          "workorders.tags": ["x"], "tasks.id": 10, "n": 2},
                         {"workorders.wonum": "B", "tasks.id": 30, "n": 3, "meter.v": 1.5}]


def test_rows_before_a_bookmark_tuple_are_dropped_and_rows_that_cannot_be_placed_kept():
    from connectors.rest import _at_or_after

    table = pa.table({"changed_at": ["a", "b", "b", "b", "b", "c"], "wonum": ["9", "1", "2", None, "3", "0"]})
    kept = _at_or_after(table, ["changed_at", "wonum"], {"changed_at": "b", "wonum": "2"})
    assert kept.to_pylist() == [{"changed_at": "b", "wonum": "2"}, {"changed_at": "b", "wonum": None},
                                {"changed_at": "b", "wonum": "3"}, {"changed_at": "c", "wonum": "0"}]


def test_an_error_body_echoing_basic_credentials_is_redacted(basic_api):
    basic_api.script.append(Scripted(400, body="bad request; you sent {authorization}"))
    rest = RestConnector("cmms", {"base_url": basic_api.base_url, "auth": "basic", "username": "reader",
                                  "password_env": PASSWORD_ENV})
    with pytest.raises(RestHttpError) as raised:
        read(rest, stream())
    assert "you sent Basic ***" in str(raised.value)
