"""SOAP web services through zeep: the WSDL, the requests, basic auth and faults.

A stream names an operation, fixed request parameters, the bookmark and paging parameters, and
where its records sit in the response (``PurchaseOrder/Lines/Line``); header and nested lines
flatten into separate streams. XML is parsed with DTDs, entities and network access off.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field

from connectors.base import Connector, ConnectorError, StreamSettings, StrictModel
from connectors.faults import is_retryable
from connectors.records import dicts_to_table, flatten_nested


class SoapSettings(StrictModel):
    wsdl: str = Field(description="WSDL file or URL")
    endpoint: str | None = Field(default=None, description="service address; overrides the WSDL's")
    binding: str | None = Field(default=None, description="binding QName ({ns}Name) when the WSDL has several")
    username: str | None = None
    password_env: str | None = None
    timeout_seconds: float = Field(default=30, gt=0)
    site: str | None = None


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
        from zeep.helpers import serialize_object

        service = self._client_service()
        try:
            operation = getattr(service, stream.operation)
        except AttributeError:
            raise ConnectorError(f"{self.where(stream)}: the WSDL has no operation {stream.operation!r}") from None
        params = dict(stream.request)
        if bookmark and stream.bookmark_param and stream.bookmark:
            params[stream.bookmark_param] = _bookmark_argument(bookmark[stream.bookmark[0]])
        paging = stream.paging
        offset = paging.start
        while True:
            if paging.style == "offset":
                params[paging.offset_param] = offset
                params[paging.limit_param] = paging.page_size
            response = serialize_object(self._call(operation, params, stream), dict)
            document = response if isinstance(response, Mapping) else {"_": response}
            rows = flatten_nested(document, stream.records)
            if rows:
                yield dicts_to_table(rows)
            if paging.style == "none":
                return
            top_level = len([p for p in stream.records.split("/") if p]) == 1
            page_records = len(rows) if top_level else len(flatten_nested(document, stream.records.split("/")[0]))
            more = document.get(paging.more_field) if paging.more_field else page_records >= paging.page_size
            if not more or page_records == 0:
                return
            offset += page_records

    def _call(self, operation, params: dict[str, Any], stream: SoapStream):
        import requests
        from zeep.exceptions import Fault, TransportError, XMLSyntaxError

        try:
            return operation(**params)
        except Fault as fault:
            raise ConnectorError(
                f"{self.where(stream)}: SOAP fault {fault.code}: {fault.message}",
                transient=is_retryable("soap", fault.code)) from None
        except TransportError as exc:
            hint = " (check username and password_env)" if exc.status_code in (401, 403) else ""
            raise ConnectorError(f"{self.where(stream)}: HTTP {exc.status_code} from the service{hint}",
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
