"""Transient failures of a page are retried with backoff; fatal ones and exhausted retries raise.

A real HTTP server on 127.0.0.1 stands between the connector and the demo's legacy ERP service
and fails chosen pages the way real services do: HTTP 503, a soap:Server fault with a detail, a
dropped connection, a soap:Client fault.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow as pa
import pytest
import requests
from lxml import etree

from connectors.base import ConnectorError
from connectors.soap import SoapConnector, SoapFaultError, SoapStream
from threadline.demo import erp_service
from threadline.demo.landscape import ERP_USERNAME, PASSWORD_ENV, build_landscape

PAGE = 7
FAILING_PAGE = 2
FAILING_ROW = PAGE * FAILING_PAGE
SLOW_SECONDS = 1.0
_START_ROW = re.compile(rb"startRow>\s*(\d+)\s*<")


def fault_body(code: str, message: str, detail: str | None = None) -> bytes:
    """A SOAP 1.1 fault envelope, with an optional <detail> element holding ``detail`` as text."""
    envelope = etree.Element(f"{{{erp_service.SOAP_ENV}}}Envelope", nsmap={"soap": erp_service.SOAP_ENV})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{erp_service.SOAP_ENV}}}Body"),
                             f"{{{erp_service.SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = message
    if detail is not None:
        etree.SubElement(etree.SubElement(fault, "detail"), "reason").text = detail
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


class _FlakyHandler(BaseHTTPRequestHandler):
    server: FlakyProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "text/xml; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        match = _START_ROW.search(body)
        start_row = int(match.group(1)) if match else -1
        with self.server.lock:
            self.server.requests[start_row] += 1
            seen = self.server.requests[start_row]
        mode, times = self.server.failures.get(start_row, (None, 0))
        if mode is not None and (times is None or seen <= times):
            if mode == "http503":
                self._answer(503, b"service unavailable\n", "text/plain; charset=utf-8")
            elif mode == "server_fault":
                self._answer(500, fault_body("Server", "the purchasing database is busy", "lock timeout on PO_LINE"))
            elif mode == "client_fault":
                self._answer(500, fault_body("Client", "argument maxRows is out of range", "maxRows"))
            elif mode == "drop":
                self.close_connection = True  # no answer at all: the client sees the connection reset
            elif mode == "slow":
                time.sleep(SLOW_SECONDS)  # longer than the client waits: it times out
                self.close_connection = True
            return
        if self.server.rewrite is not None:
            body = self.server.rewrite(body)
        upstream = requests.post(self.server.upstream, data=body, timeout=10, headers={
            name: self.headers[name] for name in ("Content-Type", "SOAPAction", "Authorization") if self.headers[name]})
        self._answer(upstream.status_code, upstream.content, upstream.headers.get("Content-Type", "text/xml"))


class FlakyProxy(ThreadingHTTPServer):
    """Forwards SOAP calls to ``upstream`` except the pages told to fail (startRow -> mode, times)."""

    daemon_threads = True

    def __init__(self, upstream: str):
        super().__init__(("127.0.0.1", 0), _FlakyHandler)
        self.upstream = upstream
        self.lock = threading.Lock()
        self.requests: Counter[int] = Counter()
        self.failures: dict[int, tuple[str, int | None]] = {}
        #: changes a request on its way to the service (a service that caps the page size)
        self.rewrite: Callable[[bytes], bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{erp_service.SERVICE_PATH}"


@pytest.fixture(scope="module")
def erp(tmp_path_factory):
    landscape = build_landscape(tmp_path_factory.mktemp("soap_retries"), scale=120)
    with landscape.start_erp_service() as service:
        yield landscape, service


@pytest.fixture()
def proxy(erp):
    server = FlakyProxy(erp[1].url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _connector(erp, proxy, monkeypatch, **settings) -> SoapConnector:
    landscape, _ = erp
    monkeypatch.setenv(PASSWORD_ENV, landscape.env[PASSWORD_ENV])
    return SoapConnector("erp_soap", {
        "wsdl": str(landscape.erp_data_dir / erp_service.WSDL), "endpoint": proxy.url,
        "username": ERP_USERNAME, "password_env": PASSWORD_ENV, "timeout_seconds": 10,
        "retries": 2, "backoff_seconds": 0.001, "backoff_max_seconds": 0.01, **settings})


def _stream(parser: str = "fast") -> SoapStream:
    settings = erp_service.STREAMS["purchase_orders"]
    return SoapStream(name="purchase_orders", mapping=settings["mapping"], operation=settings["operation"],
                      records=settings["records"], key=settings["key"], bookmark=settings["bookmark"],
                      bookmark_param="changedSince", parser=parser, batch_size=PAGE,  # a batch per page
                      paging={"page_size": PAGE, "more_field": "moreRows"})


def _all_rows(connector: SoapConnector, stream: SoapStream) -> pa.Table:
    return pa.concat_tables(list(connector.read(stream, None)))


@pytest.mark.parametrize("parser", ["fast", "zeep"])
@pytest.mark.parametrize("mode", ["http503", "server_fault", "drop"])
def test_a_page_failing_once_is_retried_and_the_read_completes(erp, proxy, monkeypatch, mode, parser):
    connector = _connector(erp, proxy, monkeypatch)
    expected = _all_rows(connector, _stream(parser))
    assert expected.num_rows > FAILING_ROW + PAGE  # the failing page is in the middle of the read
    proxy.requests.clear()
    proxy.failures[FAILING_ROW] = (mode, 1)
    assert _all_rows(connector, _stream(parser)).equals(expected)
    assert proxy.requests[FAILING_ROW] == 2
    assert proxy.requests[0] == 1 and proxy.requests[FAILING_ROW + PAGE] == 1


def test_a_page_that_times_out_once_is_retried(erp, proxy, monkeypatch):
    connector = _connector(erp, proxy, monkeypatch, timeout_seconds=0.3)
    expected = _all_rows(connector, _stream())
    proxy.requests.clear()
    proxy.failures[FAILING_ROW] = ("slow", 1)
    started = time.perf_counter()
    assert _all_rows(connector, _stream()).equals(expected)
    assert proxy.requests[FAILING_ROW] == 2
    assert time.perf_counter() - started < SLOW_SECONDS + 5


@pytest.mark.parametrize("parser", ["fast", "zeep"])
def test_a_page_that_always_fails_raises_a_transient_error_after_the_configured_attempts(
        erp, proxy, monkeypatch, parser):
    connector = _connector(erp, proxy, monkeypatch, retries=3)
    proxy.failures[FAILING_ROW] = ("http503", None)
    batches = []
    with pytest.raises(ConnectorError) as raised:
        for batch in connector.read(_stream(parser), None):
            batches.append(batch)
    assert raised.value.transient is True
    assert raised.value.attempts == 4 == proxy.requests[FAILING_ROW]
    assert "HTTP 503" in str(raised.value) and "4 attempt" in str(raised.value)
    assert len(batches) == FAILING_PAGE  # the pages before it were read once each
    assert proxy.requests[0] == 1


@pytest.mark.parametrize("parser", ["fast", "zeep"])
def test_a_server_fault_keeps_its_code_and_detail(erp, proxy, monkeypatch, parser):
    connector = _connector(erp, proxy, monkeypatch, retries=1)
    proxy.failures[0] = ("server_fault", None)
    with pytest.raises(SoapFaultError) as raised:
        list(connector.read(_stream(parser), None))
    error = raised.value
    assert error.transient is True and error.attempts == 2 == proxy.requests[0]
    assert error.fault_code == "soap:Server"
    assert "lock timeout on PO_LINE" in error.fault_detail
    assert etree.fromstring(error.fault_detail.encode()).findtext("reason") == "lock timeout on PO_LINE"
    assert "the purchasing database is busy" in str(error) and "stream 'purchase_orders'" in str(error)


@pytest.mark.parametrize("parser", ["fast", "zeep"])
def test_a_client_fault_is_fatal_and_not_retried(erp, proxy, monkeypatch, parser):
    connector = _connector(erp, proxy, monkeypatch, retries=3)
    proxy.failures[FAILING_ROW] = ("client_fault", None)
    with pytest.raises(SoapFaultError) as raised:
        list(connector.read(_stream(parser), None))
    assert raised.value.transient is False
    assert raised.value.fault_code == "soap:Client" and raised.value.fault_detail is not None
    assert proxy.requests[FAILING_ROW] == 1


def test_refused_credentials_are_fatal_and_not_retried(erp, proxy, monkeypatch):
    connector = _connector(erp, proxy, monkeypatch, retries=3)
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    connector = SoapConnector("erp_soap", {**connector.settings.model_dump(), "password_env": PASSWORD_ENV})
    with pytest.raises(ConnectorError) as raised:
        list(connector.read(_stream(), None))
    assert raised.value.transient is False and raised.value.http_status == 401
    assert proxy.requests[0] == 1
    assert "not-the-password" not in str(raised.value) and erp[0].env[PASSWORD_ENV] not in str(raised.value)


def test_backoff_doubles_between_attempts_and_is_capped(erp, proxy, monkeypatch):
    proxy.failures[0] = ("http503", None)
    growing = _connector(erp, proxy, monkeypatch, retries=3, backoff_seconds=0.05, backoff_max_seconds=10)
    started = time.perf_counter()
    with pytest.raises(ConnectorError):
        list(growing.read(_stream(), None))
    assert time.perf_counter() - started >= 0.05 + 0.1 + 0.2
    capped = _connector(erp, proxy, monkeypatch, retries=3, backoff_seconds=5, backoff_max_seconds=0.02)
    started = time.perf_counter()
    with pytest.raises(ConnectorError):
        list(capped.read(_stream(), None))
    assert time.perf_counter() - started < 2
    assert proxy.requests[0] == 8


@pytest.mark.parametrize("read_ahead", [True, False])
def test_a_service_capping_the_page_size_still_gives_every_record_once(erp, proxy, monkeypatch, read_ahead):
    """Asked for 7 purchase orders a page, the service sends 5 (and says more follow): the page read
    ahead at offset +7 is dropped and the read goes on from offset +5, losing and doubling nothing."""
    connector = _connector(erp, proxy, monkeypatch)
    stream = _stream()
    expected = _all_rows(connector, stream.model_copy(update={"paging": stream.paging.model_copy(
        update={"read_ahead": False})}))
    proxy.requests.clear()
    proxy.rewrite = lambda body: re.sub(rb"maxRows>\s*\d+\s*<", b"maxRows>5<", body)
    capped = _all_rows(connector, stream.model_copy(update={"paging": stream.paging.model_copy(
        update={"read_ahead": read_ahead})}))
    assert capped.sort_by("PONumber").equals(expected.sort_by("PONumber"))
    assert capped.num_rows == len(set(capped["PONumber"].to_pylist()))
    assert 0 in proxy.requests and 5 in proxy.requests and 10 in proxy.requests
