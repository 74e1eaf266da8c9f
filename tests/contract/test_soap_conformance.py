"""Conformance with real ERP WSDLs: Maximo MXISWOCHANGE and Dynamics NAV's Sales Order page.

The WSDLs are the real ones from ``../shared/realworld``; local services on 127.0.0.1 speak them
(``tests/soap_conformance.py``). Every source is configured only in a threadline.yaml the test
writes and reads with ``load_config``; the connector builds the requests, pages, and extracts
header and nested-line streams, by the streaming fast path and by zeep with identical records.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import yaml

from connectors.base import ConnectorError
from connectors.soap import SoapConnector, SoapFaultError
from mappings.engine import map_batch
from mappings.spec import load_spec
from tests.soap_conformance import MaximoService, NavService, TokenService, realworld_dir
from threadline.config import load_config

PASSWORD_ENV = "THREADLINE_TEST_ERP_PASSWORD"
PASSWORD = "s3cret-for-tests-only"
REALWORLD = realworld_dir()
MAXIMO_WSDL = REALWORLD / "maximo" / "maximo-change.wsdl"
NAV_WSDL = REALWORLD / "dynamics-nav" / "salesorder.wsdl"


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"real-world WSDL not found at {path} (the shared/realworld folder next to the checkout)")
    return path


def write_config(folder: Path, source: dict) -> Path:
    """A complete threadline.yaml with one SOAP source."""
    config = {
        "warehouse": {"url": "sqlite:///warehouse.db"}, "landing_dir": "landing", "reports_dir": "reports",
        "reporting_currency": "USD", "sites": [{"id": "NORTH", "name": "North", "timezone": "UTC"}],
        "sources": [{"kind": "soap", "role": "erp", **source}],
    }
    path = folder / "threadline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def connector_and_streams(config_path: Path, source: str) -> tuple[SoapConnector, dict]:
    config = load_config(config_path, check_specs=False)
    settings = config.source(source)
    return (SoapConnector(source, config.connection_settings(settings)),
            {s.name: s for s in config.stream_settings(settings)})


def read_all(connector: SoapConnector, stream, parser: str, bookmark=None) -> pa.Table:
    batches = list(connector.read(stream.model_copy(update={"parser": parser}), bookmark))
    return pa.concat_tables(batches, promote_options="permissive") if batches else None


def assert_fast_path_equals_zeep(connector: SoapConnector, stream) -> None:
    """The streaming parse and zeep's objects give the same batches: same schema, same values."""
    fast = list(connector.read(stream, None))
    by_zeep = list(connector.read(stream.model_copy(update={"parser": "zeep"}), None))
    assert sum(t.num_rows for t in fast) > 0 and len(fast) == len(by_zeep)
    for fast_batch, zeep_batch in zip(fast, by_zeep):
        assert fast_batch.schema == zeep_batch.schema
        assert fast_batch.equals(zeep_batch)


# ------------------------------------------------------------------------------------------- Maximo

MAXIMO_SOURCE = """
name: maximo_ws
description: Maximo 7.6 MIF web service, object structure MXISWOCHANGE
connection:
  wsdl: {wsdl}
  endpoint: {endpoint}
  binding: "{{http://www.ibm.com/maximo/wsdl/MXISWOCHANGE}}MXISWOCHANGESOAP11Binding"
  username: mxintadm
  password_env: {password_env}
  auth: {auth}
  retries: 2
  backoff_seconds: 0.001
  backoff_max_seconds: 0.01
streams:
  - name: work_orders
    operation: QueryMXISWOCHANGE
    records: MXISWOCHANGESet/WOCHANGE
    request:
      MXISWOCHANGEQuery:
        WHERE: "CHANGEDATE >= '{{bookmark:%Y-%m-%d %H:%M:%S}}'"
    key: [SITEID, WONUM]
    bookmark: [CHANGEDATE]
    paging: {{style: offset, offset_param: rsStart, limit_param: maxItems, page_size: 40, total_field: rsTotal}}
    mapping: maximo_ws/WOCHANGE.yaml
  - name: wo_activities
    operation: QueryMXISWOCHANGE
    records: MXISWOCHANGESet/WOCHANGE/WOACTIVITY
    request:
      MXISWOCHANGEQuery:
        WHERE: "CHANGEDATE >= '{{bookmark:%Y-%m-%d %H:%M:%S}}'"
    key: [WOCHANGE.SITEID, WOCHANGE.WONUM, TASKID]
    bookmark: [WOCHANGE.CHANGEDATE]
    paging: {{style: offset, offset_param: rsStart, limit_param: maxItems, page_size: 40}}
    mapping: maximo_ws/WOACTIVITY.yaml
"""


@pytest.fixture()
def maximo(tmp_path, monkeypatch):
    wsdl = _need(MAXIMO_WSDL)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with MaximoService(wsdl.read_bytes(), work_orders=300) as service:
        service.auth = ("basic", "mxintadm", PASSWORD)
        yield service


def maximo_config(tmp_path: Path, service: MaximoService, auth: str = "basic") -> Path:
    source = yaml.safe_load(MAXIMO_SOURCE.format(wsdl=_need(MAXIMO_WSDL), endpoint=service.url,
                                                 password_env=PASSWORD_ENV, auth=auth))
    return write_config(tmp_path, source)


def test_maximo_wsdl_loads_offline_and_every_work_order_and_activity_is_extracted(maximo, tmp_path):
    connector, streams = connector_and_streams(maximo_config(tmp_path, maximo), "maximo_ws")
    assert connector.fast_path_reason(streams["work_orders"]) is None
    assert connector.fast_path_reason(streams["wo_activities"]) is None
    orders = read_all(connector, streams["work_orders"], "fast")
    assert orders.num_rows == 300
    assert sorted(orders["WONUM"].to_pylist()) == sorted(r["WONUM"] for r in maximo.records)
    activities = read_all(connector, streams["wo_activities"], "fast")
    expected_activities = sum(len(r["WOACTIVITY"][2]) for r in maximo.records)
    assert activities.num_rows == expected_activities > 0
    # pages of 40 over 300 work orders, paged on rsStart/maxItems attributes; rsTotal ends the read.
    # Two pages are in flight at a time, so each stream also asked once past the end (offset 320)
    starts = sorted(int(c.split("|")[1]) for c in maximo.calls)
    assert starts == sorted([*range(0, 321, 40)] * 2)

    first = orders.filter(pa.compute.equal(orders["WONUM"], "WO10003")).to_pylist()[0]
    assert first["GENERATEDFORPO"] == "PO5003" and first["GENFORPOLINEID"] == 803
    assert first["ACTSERVCOST"] == pytest.approx(99.95 * 3)  # a value with changed="1" reads as the value
    assert first["STATUS"] == "APPR" and first["ISTASK"] is False
    assert first["CHANGEDATE"] == datetime(2024, 3, 1, 6, 21)
    assert "GLACCOUNT" in orders.column_names and "GLACCOUNT.VALUE" in orders.column_names
    task = activities.filter(pa.compute.equal(activities["WOCHANGE.WONUM"], "WO10003")).to_pylist()
    assert [(t["TASKID"], t["GENERATEDFORPO"], t["GENFORPOLINEID"]) for t in task] == [
        (10, "PO5003", 803), (20, None, None), (30, None, None)]
    assert all(t["WOCHANGE.SITEID"] == "BEDFORD" for t in task)


def test_maximo_records_map_to_canonical_work_orders_and_operations_with_the_shipped_specs(maximo, tmp_path):
    config = load_config(maximo_config(tmp_path, maximo), check_specs=True)
    connector, streams = connector_and_streams(config.path, "maximo_ws")
    mapped = {}
    for name in ("work_orders", "wo_activities"):
        spec = load_spec(config.resolve_mapping(streams[name].mapping))
        batch = read_all(connector, streams[name], "fast").to_pandas()  # as the pipeline hands it over
        result = map_batch(spec, batch, source_system="maximo_ws", run_id="r1", extracted_at=datetime(2024, 6, 1),
                           sparse=True)
        assert result.quarantined.empty, result.quarantined.head().to_dict("records")
        mapped[name] = result.mapped
    orders = mapped["work_orders"].set_index("wo_number")
    assert len(orders) == 300 and orders.loc["WO10003", "po_ref"] == "PO5003"
    assert orders.loc["WO10003", "po_line_ref"] == "803" and orders.loc["WO10005", "status"] == "completed"
    assert orders.loc["WO10000", "cost_centre"] == "6000-000" and pd.isna(orders.loc["WO10001", "cost_centre"])
    assert orders.loc["WO10003", "source_key"] == "BEDFORD|WO10003"
    tasks = mapped["wo_activities"]
    outside = tasks[tasks["is_outside_processing"].astype(bool)]
    bought = [r for r in maximo.records if r["WOACTIVITY"][2] and r["GENERATEDFORPO"]]
    assert len(outside) == len(bought) > 0
    assert set(outside["po_ref"]) == {r["GENERATEDFORPO"] for r in bought}


@pytest.mark.parametrize("stream_name", ["work_orders", "wo_activities"])
def test_maximo_fast_path_and_zeep_give_identical_records(maximo, tmp_path, stream_name):
    connector, streams = connector_and_streams(maximo_config(tmp_path, maximo), "maximo_ws")
    assert_fast_path_equals_zeep(connector, streams[stream_name])


def test_maximo_incremental_run_puts_the_bookmark_in_the_where_clause(maximo, tmp_path):
    connector, streams = connector_and_streams(maximo_config(tmp_path, maximo), "maximo_ws")
    stream = streams["work_orders"]
    everything = read_all(connector, stream, "fast")
    last = max(everything["CHANGEDATE"].to_pylist())
    maximo.add_work_orders(25, datetime(2024, 9, 1, 8, 0, 0))
    bookmark = {"CHANGEDATE": last.isoformat()}  # as the runner stores it
    for parser in ("fast", "zeep"):
        newer = read_all(connector, stream, parser, bookmark)
        changed = newer["CHANGEDATE"].to_pylist()
        assert newer.num_rows == 26 and min(changed) == last  # >= the bookmark: the last one again, then the new
        assert changed == sorted(changed)
    assert any(c.startswith(f"{last:%Y-%m-%d %H:%M:%S}|") for c in maximo.calls)


def test_maximo_wsse_username_token_is_sent_and_checked(maximo, tmp_path, monkeypatch, caplog):
    maximo.auth = ("wsse_text", "mxintadm", PASSWORD)
    connector, streams = connector_and_streams(maximo_config(tmp_path, maximo, "wsse_username_token"), "maximo_ws")
    with caplog.at_level(logging.DEBUG, logger="zeep.transports"):
        assert read_all(connector, streams["work_orders"], "fast").num_rows == 300
    assert set(maximo.wsse_password_types) == {"PasswordText"}
    assert PASSWORD not in caplog.text and "Password" in caplog.text  # the envelope is logged, masked
    monkeypatch.setenv(PASSWORD_ENV, "wrong-password")
    refused, _ = connector_and_streams(maximo_config(tmp_path, maximo, "wsse_username_token"), "maximo_ws")
    with pytest.raises(SoapFaultError) as raised:
        read_all(refused, streams["work_orders"], "fast")
    assert raised.value.transient is False and "FailedAuthentication" in raised.value.fault_code
    assert "wrong-password" not in str(raised.value) and PASSWORD not in str(raised.value)


def test_maximo_wsse_password_digest(maximo, tmp_path):
    maximo.auth = ("wsse_digest", "mxintadm", PASSWORD)
    path = maximo_config(tmp_path, maximo, "wsse_username_token")
    raw = yaml.safe_load(path.read_text())
    raw["sources"][0]["connection"]["wsse_password_digest"] = True
    path.write_text(yaml.safe_dump(raw))
    connector, streams = connector_and_streams(path, "maximo_ws")
    assert read_all(connector, streams["work_orders"], "zeep").num_rows == 300
    assert set(maximo.wsse_password_types) == {"PasswordDigest"}


@pytest.mark.parametrize("parser", ["fast", "zeep"])
def test_maximo_server_fault_on_page_3_is_retried_then_the_read_completes(maximo, tmp_path, parser):
    connector, streams = connector_and_streams(maximo_config(tmp_path, maximo), "maximo_ws")
    maximo.failures["None|80"] = ("server_fault", 1)
    table = read_all(connector, streams["work_orders"], parser)
    assert table.num_rows == 300
    assert maximo.attempts["None|80"] == 2 and maximo.attempts["None|40"] == 1


@pytest.mark.parametrize("parser", ["fast", "zeep"])
def test_maximo_fault_that_persists_fails_with_code_and_detail(maximo, tmp_path, parser):
    connector, streams = connector_and_streams(maximo_config(tmp_path, maximo), "maximo_ws")
    maximo.failures["None|80"] = ("server_fault", None)
    with pytest.raises(SoapFaultError) as raised:
        read_all(connector, streams["work_orders"], parser)
    error = raised.value
    assert error.transient is True and error.attempts == 3 == maximo.attempts["None|80"]
    assert error.fault_code == "soap:Server" and "lock wait on page None|80" in error.fault_detail
    assert "the page at offset 80" in str(error) and "stream 'work_orders'" in str(error)
    maximo.failures["None|0"] = ("client_fault", None)
    with pytest.raises(SoapFaultError) as raised:
        read_all(connector, streams["work_orders"], parser)
    assert raised.value.transient is False and maximo.attempts["None|0"] == 2  # once per read, never retried


def test_maximo_service_rejects_malformed_requests(maximo):
    import requests

    bad = (b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
           b'<soapenv:Body><QueryMXISWOCHANGE xmlns="http://www.ibm.com/maximo" rsStart="-1" maxItems="5">'
           b'<MXISWOCHANGEQuery/></QueryMXISWOCHANGE></soapenv:Body></soapenv:Envelope>')
    answer = requests.post(maximo.url, data=bad, auth=("mxintadm", PASSWORD), timeout=10,
                           headers={"SOAPAction": "urn:processDocument", "Content-Type": "text/xml"})
    assert answer.status_code == 500 and b"faultcode>soap:Client<" in answer.content and b"rsStart" in answer.content
    wrong_ns = bad.replace(b"http://www.ibm.com/maximo", b"urn:other").replace(b'rsStart="-1"', b'rsStart="0"')
    answer = requests.post(maximo.url, data=wrong_ns, auth=("mxintadm", PASSWORD), timeout=10,
                           headers={"SOAPAction": "urn:processDocument", "Content-Type": "text/xml"})
    assert answer.status_code == 500 and b"unknown operation" in answer.content


# ---------------------------------------------------------------------------------- Dynamics NAV

NAV_SOURCE = {
    "name": "nav", "description": "Dynamics NAV 2015 Sales Order page",
    "connection": {"username": "NAVWS", "password_env": PASSWORD_ENV, "retries": 2, "backoff_seconds": 0.001,
                   "backoff_max_seconds": 0.01},
    "streams": [
        {"name": "sales_orders", "operation": "ReadMultiple", "records": "ReadMultiple_Result/salesorder",
         "request": {"filter": [{"Field": "No", "Criteria": ">={bookmark}"}]},
         "key": ["No"], "bookmark": ["No"], "mapping": "demo_soap/purchase_orders.yaml",
         "paging": {"style": "bookmark_key", "key_param": "bookmarkKey", "key_field": "Key",
                    "limit_param": "setSize", "page_size": 25}},
        {"name": "sales_lines", "operation": "ReadMultiple",
         "records": "ReadMultiple_Result/salesorder/SalesLines/Sales_Order_Line",
         "request": {"filter": [{"Field": "No", "Criteria": ">={bookmark}"}]},
         "key": ["salesorder.No", "Key"], "bookmark": ["salesorder.No"], "mapping": "demo_soap/po_lines.yaml",
         "paging": {"style": "bookmark_key", "key_param": "bookmarkKey", "key_field": "Key",
                    "limit_param": "setSize", "page_size": 25}},
    ],
}


@pytest.fixture()
def nav(monkeypatch):
    wsdl = _need(NAV_WSDL)
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with NavService(wsdl.read_bytes(), orders=130) as service:
        service.auth = ("basic", "NAVWS", PASSWORD)
        yield service


def nav_config(tmp_path: Path, service: NavService, wsdl: str | None = None, **connection) -> Path:
    source = {**NAV_SOURCE, "connection": {**NAV_SOURCE["connection"], "wsdl": wsdl or str(_need(NAV_WSDL)),
                                           "endpoint": service.url, **connection}}
    return write_config(tmp_path, source)


def test_nav_every_order_and_line_is_extracted_through_bookmark_keys(nav, tmp_path):
    connector, streams = connector_and_streams(nav_config(tmp_path, nav), "nav")
    assert connector.fast_path_reason(streams["sales_orders"]) is None
    assert connector.fast_path_reason(streams["sales_lines"]) is None
    orders = read_all(connector, streams["sales_orders"], "fast")
    assert orders["No"].to_pylist() == [r["No"] for r in nav.records]
    assert "SalesLines" in orders.column_names  # an order without lines says so
    lines = read_all(connector, streams["sales_lines"], "fast")
    assert lines.num_rows == sum(len(r["SalesLines"][2]) for r in nav.records if r["SalesLines"])
    assert set(lines["salesorder.No"].to_pylist()) == {r["No"] for r in nav.records if r["SalesLines"]}
    # the first page has no bookmark key, each next one the Key of the previous page's last order
    assert nav.calls[:2] == ["None|", f"None|{nav.records[24]['Key']}"]
    assert len([c for c in nav.calls if c]) == 2 * 6  # 130 orders in pages of 25: 6 per stream


@pytest.mark.parametrize("stream_name", ["sales_orders", "sales_lines"])
def test_nav_fast_path_and_zeep_give_identical_records(nav, tmp_path, stream_name):
    connector, streams = connector_and_streams(nav_config(tmp_path, nav), "nav")
    assert_fast_path_equals_zeep(connector, streams[stream_name])


def test_nav_incremental_run_filters_on_the_bookmark(nav, tmp_path):
    connector, streams = connector_and_streams(nav_config(tmp_path, nav), "nav")
    everything = read_all(connector, streams["sales_orders"], "zeep")
    last = everything["No"].to_pylist()[-1]
    nav.add_orders(30)
    for parser in ("fast", "zeep"):
        newer = read_all(connector, streams["sales_orders"], parser, {"No": last})
        assert newer["No"].to_pylist() == [last] + [r["No"] for r in nav.records[130:]]
    assert any(c.startswith(f"{last}|") for c in nav.calls)


def test_nav_fault_on_a_later_page_is_retried(nav, tmp_path):
    connector, streams = connector_and_streams(nav_config(tmp_path, nav), "nav")
    page_3 = f"None|{nav.records[49]['Key']}"
    nav.failures[page_3] = ("http503", 2)
    assert read_all(connector, streams["sales_orders"], "fast").num_rows == 130
    assert nav.attempts[page_3] == 3


def test_a_url_wsdl_is_fetched_once_and_then_read_from_the_cache(nav, tmp_path):
    cache = tmp_path / "cache" / "wsdl.sqlite"
    path = nav_config(tmp_path, nav, wsdl=f"{nav.url}?wsdl", wsdl_cache_path=str(cache))
    first, streams = connector_and_streams(path, "nav")
    assert read_all(first, streams["sales_orders"], "fast").num_rows == 130
    assert nav.wsdl_gets == 1 and cache.is_file()
    second, _ = connector_and_streams(path, "nav")
    assert read_all(second, streams["sales_orders"], "fast").num_rows == 130
    assert nav.wsdl_gets == 1
    uncached = nav_config(tmp_path, nav, wsdl=f"{nav.url}?wsdl", wsdl_cache_seconds=0)
    third, _ = connector_and_streams(uncached, "nav")
    assert third.check() == [] and nav.wsdl_gets >= 2


# ------------------------------------------------------------------------------------- page tokens

def test_page_tokens_are_followed_until_the_service_gives_none(tmp_path):
    with TokenService(events=53) as service:
        wsdl = tmp_path / "events.wsdl"
        wsdl.write_bytes(service.wsdl_bytes)
        path = write_config(tmp_path, {
            "name": "events", "connection": {"wsdl": "events.wsdl", "endpoint": service.url},
            "streams": [{"name": "events", "operation": "ListEvents", "records": "Event", "key": ["Id"],
                         "mapping": "demo_mes/OperationsRequest.yaml",
                         "paging": {"style": "page_token", "token_param": "pageToken",
                                    "next_token_field": "nextPageToken", "limit_param": "pageSize",
                                    "page_size": 10}}]})
        connector, streams = connector_and_streams(path, "events")
        for parser in ("fast", "zeep"):
            service.calls.clear()
            table = read_all(connector, streams["events"], parser)
            assert table["Id"].to_pylist() == [r["Id"] for r in service.records]
            assert service.calls[0] == "" and len(service.calls) == len(set(service.calls)) >= 6
        fast = read_all(connector, streams["events"], "fast")
        assert fast.equals(read_all(connector, streams["events"], "zeep"))


def test_a_service_repeating_its_page_token_is_stopped(tmp_path):
    with TokenService(events=30) as service:
        original = service.answer

        def stuck(operation, action):
            page_id, response = original(operation, action)
            service.tokens = {"same": 0}
            token = response.find("{urn:threadline:test:events:v1}nextPageToken")
            if token is not None:
                token.text = "same"
            return page_id, response

        service.answer = stuck
        (tmp_path / "events.wsdl").write_bytes(service.wsdl_bytes)
        path = write_config(tmp_path, {
            "name": "events", "connection": {"wsdl": "events.wsdl", "endpoint": service.url},
            "streams": [{"name": "events", "operation": "ListEvents", "records": "Event", "key": ["Id"],
                         "mapping": "demo_mes/OperationsRequest.yaml",
                         "paging": {"style": "page_token", "token_param": "pageToken",
                                    "next_token_field": "nextPageToken", "limit_param": "pageSize",
                                    "page_size": 10}}]})
        connector, streams = connector_and_streams(path, "events")
        with pytest.raises(ConnectorError, match="'same' for the next page twice"):
            read_all(connector, streams["events"], "fast")


def test_a_request_that_does_not_fit_the_wsdl_is_a_clear_fatal_error(nav, tmp_path):
    path = nav_config(tmp_path, nav)
    raw = yaml.safe_load(path.read_text())
    raw["sources"][0]["streams"][0]["request"] = {"filter": [], "sortBy": "No"}
    path.write_text(yaml.safe_dump(raw))
    connector, streams = connector_and_streams(path, "nav")
    with pytest.raises(ConnectorError) as raised:
        read_all(connector, streams["sales_orders"], "fast")
    assert raised.value.transient is False
    assert "stream 'sales_orders'" in str(raised.value) and "does not fit the WSDL's ReadMultiple" in str(raised.value)
    assert nav.calls == []  # nothing was sent
