"""SOAP web services through zeep: the WSDL, the requests, basic auth and faults.

A stream names an operation, fixed request parameters, the bookmark and paging parameters, and
where its records sit in the response (``PurchaseOrder/Lines/Line``); header and nested lines
flatten into separate streams. XML is parsed with DTDs, entities and network access off.

zeep always builds the request and turns faults into errors. The response body is parsed by the
streaming path in ``connectors.soap_fast`` (``parser: fast``, the default) or by zeep
(``parser: zeep``); both give the same rows. A stream whose WSDL types the fast path cannot follow
is read through zeep, and the reason is logged once.

Each page is retried on transient failures (``connectors.faults`` decides: HTTP 5xx/408/429, SOAP
Server/Receiver faults, connection errors, timeouts) with exponential backoff, at most ``retries``
times after the first attempt; a SOAP fault keeps its code and detail on the raised error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any, Literal, TypeVar

import pyarrow as pa
from pydantic import Field

from connectors.base import Connector, ConnectorError, StreamSettings, StrictModel
from connectors.faults import is_retryable
from connectors.records import dicts_to_table, flatten_nested, rebatch
from connectors.soap_fast import FastPathUnsupported, ResponseIsFault, RecordPlan, parse_response, plan_records

log = logging.getLogger(__name__)
T = TypeVar("T")


class SoapFaultError(ConnectorError):
    """A SOAP fault from the service, with its code (``soap:Server``) and detail kept as fields."""

    def __init__(self, message: str, *, fault_code: str | None, fault_detail: str | None,
                 transient: bool = False):
        super().__init__(message, transient=transient)
        self.fault_code = fault_code
        self.fault_detail = fault_detail


class SoapHttpError(ConnectorError):
    """The service answered with an HTTP error status (kept as ``http_status``) instead of SOAP."""

    def __init__(self, message: str, *, http_status: int | None, transient: bool = False):
        super().__init__(message, transient=transient)
        self.http_status = http_status


def _fault_fields(fault) -> tuple[str | None, str | None]:
    """The fault's code as text and its detail as the XML zeep kept (None when there is none)."""
    from lxml import etree

    code = None if fault.code is None else str(fault.code)
    detail = fault.detail
    if detail is not None and not isinstance(detail, str):
        detail = etree.tostring(detail, encoding="unicode")
    return code, detail


class SoapSettings(StrictModel):
    wsdl: str = Field(description="WSDL file or URL")
    endpoint: str | None = Field(default=None, description="service address; overrides the WSDL's")
    binding: str | None = Field(default=None, description="binding QName ({ns}Name) when the WSDL has several")
    username: str | None = None
    password_env: str | None = None
    timeout_seconds: float = Field(default=30, gt=0)
    site: str | None = None
    retries: int = Field(default=3, ge=0, le=20, description="retries of a page after a transient failure")
    backoff_seconds: float = Field(default=1.0, ge=0, description="first wait before a retry; doubles each time")
    backoff_max_seconds: float = Field(default=30.0, ge=0, description="cap on one wait between retries")


class Paging(StrictModel):
    style: Literal["offset", "none"] = "offset"
    offset_param: str = "startRow"
    limit_param: str = "maxRows"
    page_size: int = Field(default=500, gt=0)
    start: int = 0
    more_field: str | None = Field(default=None, description="response field that says more pages follow")


class SoapStream(StreamSettings):
    operation: str
    records: str = Field(description="path of the records in the response, e.g. PurchaseOrder/Lines/Line")
    request: dict[str, Any] = Field(default_factory=dict, description="fixed request parameters")
    bookmark_param: str | None = Field(default=None, description="request parameter that takes the bookmark")
    paging: Paging = Field(default_factory=Paging)
    parser: Literal["fast", "zeep"] = Field(
        default="fast", description="response parsing: streaming lxml guided by the WSDL, or zeep's objects")


def _bookmark_argument(value: Any) -> Any:
    if isinstance(value, str):
        for parse in (datetime.fromisoformat, date.fromisoformat):
            try:
                return parse(value)
            except ValueError:
                pass
    return value


class SoapConnector(Connector):
    """Pages through a SOAP operation and yields one Arrow batch per page."""

    settings_model = SoapSettings
    stream_model = SoapStream
    sparse_records = True

    def __init__(self, source_name: str, connection: Mapping[str, Any]):
        super().__init__(source_name, connection)
        self._password = self.password()
        self._service = None
        self._client = None
        #: (operation, records path) -> its streaming plan, or the reason zeep parses it instead
        self._plans: dict[tuple[str, str], RecordPlan | str] = {}

    def _client_service(self):
        if self._service is not None:
            return self._service
        import requests
        from zeep import Client, Settings
        from zeep.transports import Transport

        session = requests.Session()
        if self.settings.username:
            session.auth = (self.settings.username, self._password or "")
        transport = Transport(session=session, timeout=self.settings.timeout_seconds,
                              operation_timeout=self.settings.timeout_seconds)
        hardened = Settings(strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True,
                            forbid_external=True)
        try:
            client = Client(self.settings.wsdl, transport=transport, settings=hardened)
        except Exception as exc:  # zeep raises many kinds while loading a WSDL
            raise ConnectorError(f"{self.where()}: cannot load the WSDL {self.settings.wsdl}: {exc}") from None
        if self.settings.endpoint:
            binding = self.settings.binding or self._soap11_binding(client)
            self._service = client.create_service(binding, self.settings.endpoint)
        else:
            self._service = client.service
        self._client = client
        return self._service

    def _soap11_binding(self, client) -> str:
        bindings = list(client.wsdl.bindings.items())
        if not bindings:
            raise ConnectorError(f"{self.where()}: the WSDL {self.settings.wsdl} defines no binding")
        soap11 = [qname for qname, b in bindings if type(b).__name__ == "Soap11Binding"]
        return str((soap11 or [bindings[0][0]])[0])

    def read(self, stream: SoapStream, bookmark: Mapping[str, Any] | None) -> Iterator[pa.Table]:
        """Yield the stream's records in batches of about ``batch_size`` rows, gathered from pages.

        Pages are small (a service's page size), and every batch pays fixed costs downstream
        (landing, mapping, one transaction), so pages are joined up to the batch size.
        """
        yield from rebatch(self._pages(stream, bookmark), stream.batch_size)

    def _pages(self, stream: SoapStream, bookmark: Mapping[str, Any] | None) -> Iterator[pa.Table]:
        """One Arrow table per page of the operation, ``>=`` the bookmark."""
        service = self._client_service()
        try:
            getattr(service, stream.operation)
        except AttributeError:
            raise ConnectorError(f"{self.where(stream)}: the WSDL has no operation {stream.operation!r}") from None
        plan = self._plan(stream) if stream.parser == "fast" else None
        params = dict(stream.request)
        if bookmark and stream.bookmark_param and stream.bookmark:
            params[stream.bookmark_param] = _bookmark_argument(bookmark[stream.bookmark[0]])
        paging = stream.paging
        offset = paging.start
        while True:
            if paging.style == "offset":
                params[paging.offset_param] = offset
                params[paging.limit_param] = paging.page_size
            page_params = dict(params)
            table, page_records, more = self._with_retries(
                stream, offset, lambda: self._page(service, stream, page_params, plan))
            if table is not None:
                yield table
            if paging.style == "none":
                return
            if not paging.more_field:
                more = page_records >= paging.page_size
            if not more or page_records == 0:
                return
            offset += page_records

    def fast_path_reason(self, stream: SoapStream) -> str | None:
        """Why ``stream`` is parsed by zeep although it asks for the fast path (None when it is not)."""
        if stream.parser != "fast":
            return None
        plan = self._plan(stream)
        return None if plan is not None else self._plans[(stream.operation, stream.records)]

    def _plan(self, stream: SoapStream) -> RecordPlan | None:
        """The streaming plan for the stream, or None (logged once) when the WSDL cannot guide it."""
        plans = self._plans
        key = (stream.operation, stream.records)
        if key not in plans:
            binding = self._client_service()._binding
            try:
                envelope_namespace = binding.nsmap["soap-env"]
                plans[key] = plan_records(binding.get(stream.operation), stream.records, envelope_namespace)
            except (FastPathUnsupported, AttributeError, KeyError, ValueError) as exc:
                reason = exc.reason if isinstance(exc, FastPathUnsupported) else f"{type(exc).__name__}: {exc}"
                log.warning("%s: responses are parsed by zeep, not streamed: %s", self.where(stream), reason)
                plans[key] = reason
        plan = plans[key]
        return plan if isinstance(plan, RecordPlan) else None

    def _page(self, service, stream: SoapStream, params: dict[str, Any],
              plan: RecordPlan | None) -> tuple[pa.Table | None, int, Any]:
        """One page: its rows as a table, how many top-level records it held, and the more-pages field."""
        operation = getattr(service, stream.operation)
        if plan is None:
            return self._zeep_page(self._call(stream, lambda: operation(**params)), stream)
        client = self._client
        with client.settings(raw_response=True):
            response = self._call(stream, lambda: operation(**params))
        content_type = response.headers.get("Content-Type", "text/xml").lower()
        if response.status_code != 200 or content_type.startswith("multipart/"):
            # errors and MTOM attachments: zeep raises the fault or decodes the parts
            return self._zeep_page(self._zeep_reply(stream, response), stream)
        from lxml import etree

        try:
            page = parse_response(plan, response.content)
        except ResponseIsFault:
            return self._zeep_page(self._zeep_reply(stream, response), stream)
        except etree.XMLSyntaxError as exc:
            raise ConnectorError(f"{self.where(stream)}: the response is not acceptable XML: {exc}") from None
        more = page.response_values.get(stream.paging.more_field) if stream.paging.more_field else None
        return page.table, page.top_records, more

    def _zeep_reply(self, stream: SoapStream, response):
        binding = self._service._binding
        return self._call(stream, lambda: binding.process_reply(self._client, binding.get(stream.operation), response))

    def _zeep_page(self, result, stream: SoapStream) -> tuple[pa.Table | None, int, Any]:
        from zeep.helpers import serialize_object

        response = serialize_object(result, dict)
        document = response if isinstance(response, Mapping) else {"_": response}
        rows = flatten_nested(document, stream.records)
        steps = [p for p in stream.records.split("/") if p]
        page_records = len(rows) if len(steps) == 1 else len(flatten_nested(document, steps[0]))
        more = document.get(stream.paging.more_field) if stream.paging.more_field else None
        return (dicts_to_table(rows) if rows else None), page_records, more

    def _with_retries(self, stream: SoapStream, offset: int, action: Callable[[], T]) -> T:
        """Run one page's request, retrying transient failures with capped exponential backoff.

        The error raised when the page cannot be had carries ``attempts`` (how many were made).
        """
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

        def log_retry(state) -> None:
            log.warning("%s: page at offset %d failed (attempt %d of %d), retrying in %.2fs: %s",
                        self.where(stream), offset, state.attempt_number, attempts,
                        state.next_action.sleep if state.next_action else 0.0, state.outcome.exception())

        attempts = self.settings.retries + 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=self.settings.backoff_seconds, max=self.settings.backoff_max_seconds),
            retry=retry_if_exception(lambda exc: isinstance(exc, ConnectorError) and exc.transient),
            before_sleep=log_retry, reraise=True)
        try:
            return retrying(action)
        except ConnectorError as exc:
            made = retrying.statistics.get("attempt_number", 1)
            exc.attempts = made
            if exc.transient:
                exc.args = (f"{exc.args[0]}; gave up on the page at offset {offset} after {made} attempt(s) "
                            f"(connection.retries is {self.settings.retries})",)
            raise

    def _call(self, stream: SoapStream, action: Callable[[], T]) -> T:
        """Run a zeep call, turning its failures into ConnectorErrors that say transient or fatal."""
        import requests
        from zeep.exceptions import Fault, TransportError, XMLSyntaxError

        try:
            return action()
        except Fault as fault:
            code, detail = _fault_fields(fault)
            raise SoapFaultError(f"{self.where(stream)}: SOAP fault {code}: {fault.message}",
                                 fault_code=code, fault_detail=detail,
                                 transient=is_retryable("soap", code)) from None
        except TransportError as exc:
            hint = " (check username and password_env)" if exc.status_code in (401, 403) else ""
            raise SoapHttpError(f"{self.where(stream)}: HTTP {exc.status_code} from the service{hint}",
                                http_status=exc.status_code,
                                transient=is_retryable("http", exc.status_code)) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ConnectorError(f"{self.where(stream)}: the service did not answer: {type(exc).__name__}",
                                 transient=True) from None
        except XMLSyntaxError as exc:
            raise ConnectorError(f"{self.where(stream)}: the response is not acceptable XML: {exc}") from None

    def check(self) -> list[str]:
        """The WSDL loads, and the endpoint answers and accepts the credentials."""
        import requests

        try:
            self._client_service()
        except ConnectorError as exc:
            return [str(exc)]
        if not self.settings.endpoint:
            return []
        auth = (self.settings.username, self._password or "") if self.settings.username else None
        try:
            # any HTTP answer proves the endpoint is there; only refused credentials are a problem
            separator = "&" if "?" in self.settings.endpoint else "?"
            response = requests.get(f"{self.settings.endpoint}{separator}wsdl", auth=auth,
                                    timeout=self.settings.timeout_seconds)
        except (requests.ConnectionError, requests.Timeout) as exc:
            return [f"{self.where()}: the endpoint {self.settings.endpoint} does not answer ({type(exc).__name__})"]
        if response.status_code in (401, 403):
            return [f"{self.where()}: the endpoint refused the credentials (HTTP {response.status_code}); "
                    f"check username and password_env"]
        return []
