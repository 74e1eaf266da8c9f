"""SOAP web services through zeep: the WSDL, the requests, authentication, paging and faults.

A stream names an operation, a request template (fixed parameters that may carry the bookmark),
the bookmark and paging parameters, and where its records sit in the response element
(``PurchaseOrder/Lines/Line``); header and nested lines flatten into separate streams. XML is
parsed with DTDs, entities and network access off.

Paging follows what real ERPs do: ``offset`` (a start row and a page size, as Maximo's
``rsStart``/``maxItems`` attributes), ``bookmark_key`` (the key of the last record asks for the
next page, as Dynamics NAV's ``ReadMultiple`` ``bookmarkKey``/``setSize``), ``page_token`` (the
response names the next page) or ``none``.

Credentials go as HTTP basic auth or as a WS-Security UsernameToken header (text or digest). A
WSDL given as a URL, with everything it imports, is fetched once and cached on disk.

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
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from connectors.base import Connector, ConnectorError, StreamSettings, StrictModel, StyledPaging
from connectors.faults import is_retryable, with_retries
from connectors.records import dicts_to_table, flatten_nested, rebatch
from connectors.soap_fast import (FastPathUnsupported, ResponseIsFault, RecordPlan, parse_response, plan_records,
                                  simple_content_type)

log = logging.getLogger(__name__)
T = TypeVar("T")

#: where a URL WSDL and its imports are cached unless ``connection.wsdl_cache_path`` says otherwise
DEFAULT_WSDL_CACHE = "~/.cache/threadline/wsdl-cache.sqlite"
#: ``{bookmark}`` or ``{bookmark:%Y-%m-%d %H:%M:%S}`` in a request template; any other ``{name}`` is refused
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)(?::([^{}]*))?\}")
#: characters a bookmark may not carry into a request template: they would end a quoted value in
#: the service's own query language (Maximo's WHERE, NAV's filter criteria)
_UNSAFE_IN_TEMPLATE = re.compile(r"['\"\\\x00-\x1f]")
_PASSWORD_ELEMENT = re.compile(r"(<(?:[\w.-]+:)?Password\b[^>]*>)[^<]*(</)")


class _RedactPasswords(logging.Filter):
    """zeep logs whole request envelopes at DEBUG; a UsernameToken's password is masked in them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_PASSWORD_ELEMENT.sub(r"\1***\2", a.decode("utf-8", "replace") if isinstance(a, bytes)
                                                      else a) if isinstance(a, (str, bytes)) else a
                                for a in record.args)
        return True


logging.getLogger("zeep.transports").addFilter(_RedactPasswords())


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
    """A SOAP source's ``connection``: the WSDL, where the service is and how to sign in."""

    wsdl: str = Field(description="WSDL file or URL")
    endpoint: str | None = Field(default=None, description="service address; overrides the WSDL's")
    binding: str | None = Field(default=None, description="binding QName ({ns}Name) when the WSDL has several")
    username: str | None = None
    password_env: str | None = None
    auth: Literal["basic", "wsse_username_token"] = Field(
        default="basic", description="how username and password are sent: HTTP basic auth or a WS-Security "
                                     "UsernameToken header")
    wsse_password_digest: bool = Field(
        default=False, description="UsernameToken: send a digest of the password (with nonce and created time) "
                                   "instead of the password text")
    wsdl_cache_path: str | None = Field(
        default=None, description=f"SQLite file caching a URL WSDL and its imports (default {DEFAULT_WSDL_CACHE})")
    wsdl_cache_seconds: int = Field(default=86_400, ge=0,
                                    description="how long a cached WSDL is used; 0 fetches it every time")
    timeout_seconds: float = Field(default=30, gt=0)
    site: str | None = None
    retries: int = Field(default=3, ge=0, le=20, description="retries of a page after a transient failure")
    backoff_seconds: float = Field(default=1.0, ge=0, description="first wait before a retry; doubles each time")
    backoff_max_seconds: float = Field(default=30.0, ge=0, description="cap on one wait between retries")

    @model_validator(mode="after")
    def _credentials_fit_the_auth(self) -> SoapSettings:
        if self.auth == "wsse_username_token" and not (self.username and self.password_env):
            raise ValueError("auth: wsse_username_token needs username and password_env (the variable holding "
                             "the password)")
        if self.wsse_password_digest and self.auth != "wsse_username_token":
            raise ValueError("wsse_password_digest applies to auth: wsse_username_token only")
        return self




class Paging(StyledPaging):
    """How a stream asks for pages and knows the last one came.

    - ``offset``: ``offset_param`` takes the first row (from ``start``), ``limit_param`` the page size;
      the last page is short, or ``more_field`` says no more follow, or ``total_field`` (Maximo's
      ``rsTotal``) is reached. Either may be a response element or an attribute of the response.
    - ``bookmark_key``: ``limit_param`` takes the page size (NAV ``setSize``); after the first page,
      ``key_param`` (NAV ``bookmarkKey``) takes ``key_field`` (NAV ``Key``) of the page's last record;
      the last page is short.
    - ``page_token``: ``token_param`` takes the token the previous response gave in
      ``next_token_field``; the last page gives none. ``limit_param`` is optional.
    - ``none``: one request.
    """

    style_settings = {
        "offset": {"offset_param", "limit_param", "start", "more_field", "total_field", "read_ahead"},
        "bookmark_key": {"limit_param", "key_param", "key_field"},
        "page_token": {"limit_param", "token_param", "next_token_field"},
        "none": set(),
    }
    style_needs = {"offset": ("offset_param", "limit_param"), "bookmark_key": ("key_param", "key_field", "limit_param"),
                   "page_token": ("token_param", "next_token_field"), "none": ()}
    default_offset_limit_param = "maxRows"

    style: Literal["offset", "bookmark_key", "page_token", "none"] = "offset"
    offset_param: str = Field(default="startRow", description="offset: request parameter taking the first row")
    limit_param: str | None = Field(default=None, description="request parameter taking the page size "
                                                             "(offset: maxRows unless given)")
    page_size: int = Field(default=500, gt=0)
    start: int = Field(default=0, ge=0, description="offset: the first row of the first page")
    more_field: str | None = Field(default=None, description="offset: response field that says more pages follow")
    total_field: str | None = Field(default=None, description="offset: response field with the number of records")
    read_ahead: bool = Field(
        default=True, description="offset: ask for the next page while this one is parsed (one request past "
                                  "the end is made and dropped)")
    key_param: str | None = Field(default=None, description="bookmark_key: request parameter taking the last key")
    key_field: str | None = Field(default=None, description="bookmark_key: field of a record holding its key")
    token_param: str | None = Field(default=None, description="page_token: request parameter taking the token")
    next_token_field: str | None = Field(default=None, description="page_token: response field with the next token")


    def request_params(self) -> list[str]:
        """The request parameters paging fills in."""
        names = {"offset": [self.offset_param, self.limit_param], "bookmark_key": [self.key_param, self.limit_param],
                 "page_token": [self.token_param, self.limit_param], "none": []}[self.style]
        return [n for n in names if n]


def _template_texts(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _template_texts(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _template_texts(item, f"{path}[{index}]")


def _mentions_bookmark(value: Any) -> bool:
    return any(_PLACEHOLDER.search(text) for _, text in _template_texts(value, ""))


class SoapStream(StreamSettings):
    """One SOAP stream: the operation, its request template, paging and where the records are."""

    operation: str
    records: str = Field(description="path of the records in the response, e.g. PurchaseOrder/Lines/Line")
    request: dict[str, Any] = Field(
        default_factory=dict, description="request template: fixed parameters; text may hold {bookmark}")
    bookmark_param: str | None = Field(default=None, description="request parameter that takes the bookmark")
    paging: Paging = Field(default_factory=Paging)
    parser: Literal["fast", "zeep"] = Field(
        default="fast", description="response parsing: streaming lxml guided by the WSDL, or zeep's objects")

    @field_validator("request")
    @classmethod
    def _only_known_placeholders(cls, request: dict[str, Any]) -> dict[str, Any]:
        for path, text in _template_texts(request, "request"):
            for match in _PLACEHOLDER.finditer(text):
                if match.group(1) != "bookmark":
                    raise ValueError(f"{path}: unknown placeholder {match.group(0)}; the only one is {{bookmark}} "
                                     f"(or {{bookmark:<strftime format>}}, e.g. {{bookmark:%Y-%m-%d %H:%M:%S}})")
        return request

    @model_validator(mode="after")
    def _template_fits_the_stream(self) -> SoapStream:
        if _mentions_bookmark(self.request) and not self.bookmark:
            raise ValueError("request uses {bookmark}, so the stream needs bookmark: [the column it comes from]")
        clashes = sorted(set(self.request) & set(self.paging.request_params()))
        if clashes:
            raise ValueError(f"request sets {', '.join(clashes)}, which paging fills in; remove it from request")
        return self


def _bookmark_text(value: Any, fmt: str | None) -> str:
    """The bookmark as it goes into a request template: ISO 8601, or ``strftime(fmt)`` for a date."""
    if fmt:
        stamp = value
        if isinstance(value, str):
            try:
                stamp = datetime.fromisoformat(value)
            except ValueError:
                stamp = None
        if not isinstance(stamp, (date, datetime)):
            raise ConnectorError(f"the bookmark {value!r} is not a date or time, so {{bookmark:{fmt}}} cannot "
                                 f"format it; write {{bookmark}} instead")
        text = stamp.strftime(fmt)
    else:
        text = value.isoformat() if isinstance(value, (date, datetime)) else str(value)
    if _UNSAFE_IN_TEMPLATE.search(text):
        raise ConnectorError(f"the bookmark {text!r} holds a quote, backslash or control character and cannot be "
                             f"put into the request template safely; use bookmark_param instead")
    return text


def render_request(template: Mapping[str, Any], bookmark: Any | None) -> dict[str, Any]:
    """The request parameters of ``template`` with ``{bookmark}`` filled in.

    Only ``{bookmark}`` and ``{bookmark:<strftime format>}`` are placeholders; they are replaced
    as text, never evaluated. Without a bookmark (a full read) a text that mentions it is sent
    empty as a whole: an empty NAV filter criteria matches everything, an empty Maximo WHERE
    selects everything.
    """
    def fill(text: str) -> str:
        if bookmark is None:
            return "" if _PLACEHOLDER.search(text) else text
        return _PLACEHOLDER.sub(lambda m: _bookmark_text(bookmark, m.group(2)), text)

    def render(value: Any) -> Any:
        if isinstance(value, str):
            return fill(value)
        if isinstance(value, Mapping):
            return {key: render(item) for key, item in value.items()}
        if isinstance(value, list):
            return [render(item) for item in value]
        return value

    return render(template)


def _bookmark_argument(value: Any) -> Any:
    if isinstance(value, str):
        for parse in (datetime.fromisoformat, date.fromisoformat):
            try:
                return parse(value)
            except ValueError:
                pass
    return value


@dataclass
class _Page:
    """One response: its rows, how many records it counted, the response's own fields, the last record."""

    table: pa.Table | None
    records: int
    response: Mapping[str, Any] = field(default_factory=dict)
    last_record: Mapping[str, Any] = field(default_factory=dict)


class _PageAhead:
    """One page fetched and parsed in a thread of its own; ``result()`` waits for it."""

    def __init__(self, offset: int):
        self.offset = offset
        self._done = threading.Event()
        self._dropped = threading.Event()
        self._page: _Page | None = None
        self._error: BaseException | None = None

    def start(self, work: Callable[[], _Page]) -> None:
        def run() -> None:
            try:
                self._page = work()
            except BaseException as exc:  # handed to whoever takes the page
                self._error = exc
            finally:
                self._done.set()

        threading.Thread(target=run, name=f"threadline-soap-page-{self.offset}", daemon=True).start()

    def wanted(self) -> bool:
        return not self._dropped.is_set()

    def drop(self) -> None:
        """Nobody will take this page: its retries stop; a request on the wire finishes unread."""
        self._dropped.set()

    def result(self) -> _Page:
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._page is not None
        return self._page


def _plain(value: Any, simple_content: dict[int, bool] | None = None) -> Any:
    """zeep's objects as dicts and lists; an element of simple content with attributes (Maximo's
    ``MXStringType``: a value with a ``changed`` flag) as its value, as the streaming parse reads it."""
    from zeep.xsd.valueobjects import CompoundValue

    simple_content = {} if simple_content is None else simple_content
    if isinstance(value, list):
        return [_plain(item, simple_content) for item in value]
    if isinstance(value, CompoundValue):
        xsd_type = value._xsd_type
        is_value = simple_content.get(id(xsd_type))
        if is_value is None:
            is_value = simple_content[id(xsd_type)] = (xsd_type is not None
                                                       and simple_content_type(xsd_type) is not None)
        if is_value:
            return value[xsd_type.elements_nested[0][0]]
        return {key: _plain(value[key], simple_content) for key in value}
    if isinstance(value, Mapping):
        return {key: _plain(item, simple_content) for key, item in value.items()}
    return value


def response_document(result: Any, output_body) -> dict[str, Any]:
    """zeep's result of an operation as the fields of the response element, as plain dicts.

    zeep hands back the child itself when the response element holds one element and no
    attributes (and that child's own child when it holds one too, as NAV's ``ReadMultiple_Result``
    does); the records path always starts inside the response element, so it is wrapped back.
    """
    if result is None:
        return {}
    body_type = getattr(output_body, "type", None)
    elements = list(getattr(body_type, "elements", None) or [])
    if len(elements) == 1 and not getattr(body_type, "attributes", None):
        name, element = elements[0]
        inner = element.type
        if element.max_occurs == 1 and simple_content_type(inner) is None:
            inner_elements = list(inner.elements)
            if len(inner_elements) == 1 and not inner.attributes:
                result = {inner_elements[0][0]: result}
        result = {name: result}
    document = _plain(result)
    return document if isinstance(document, dict) else {"_": document}


def _counted(document: Mapping[str, Any], steps: list[str]) -> tuple[int, Mapping[str, Any]]:
    """The records at the first repeated step of the path (what a page size limits) and the last one."""
    node: Any = document
    for step in steps:
        child = node.get(step) if isinstance(node, Mapping) else None
        if child is None:
            return 0, {}
        if isinstance(child, list):
            records = [item for item in child if isinstance(item, Mapping)]
            return len(records), (records[-1] if records else {})
        node = child
    return (1, node) if isinstance(node, Mapping) else (0, {})


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

        settings = self.settings
        session = requests.Session()
        wsse = None
        if settings.username and settings.auth == "wsse_username_token":
            from zeep.wsse.username import UsernameToken

            wsse = UsernameToken(settings.username, self._password, use_digest=settings.wsse_password_digest)
        elif settings.username:
            session.auth = (settings.username, self._password or "")
        transport = Transport(session=session, cache=self._wsdl_cache(), timeout=settings.timeout_seconds,
                              operation_timeout=settings.timeout_seconds)
        hardened = Settings(strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True,
                            forbid_external=True)
        try:
            client = Client(settings.wsdl, transport=transport, settings=hardened, wsse=wsse)
        except Exception as exc:  # zeep raises many kinds while loading a WSDL
            raise ConnectorError(f"{self.where()}: cannot load the WSDL {settings.wsdl}: {exc}") from None
        if self.settings.endpoint:
            binding = self.settings.binding or self._soap11_binding(client)
            self._service = client.create_service(binding, self.settings.endpoint)
        else:
            self._service = client.service
        self._client = client
        return self._service

    def _wsdl_cache(self):
        """zeep's on-disk cache for a WSDL given as a URL (and what it imports); None for a file."""
        from zeep.cache import SqliteCache

        if "://" not in self.settings.wsdl or self.settings.wsdl.startswith("file:"):
            return None
        if self.settings.wsdl_cache_seconds == 0:
            return None
        path = Path(self.settings.wsdl_cache_path or DEFAULT_WSDL_CACHE).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConnectorError(f"{self.where()}: cannot create the folder of the WSDL cache {path}: {exc}; "
                                 f"set connection.wsdl_cache_path to a writable file") from None
        return SqliteCache(path=str(path), timeout=self.settings.wsdl_cache_seconds)

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
        value = bookmark.get(stream.bookmark[0]) if bookmark and stream.bookmark else None
        try:
            params = render_request(stream.request, value)
        except ConnectorError as exc:
            raise ConnectorError(f"{self.where(stream)}: {exc}") from None
        if value is not None and stream.bookmark_param:
            params[stream.bookmark_param] = _bookmark_argument(value)
        paging = stream.paging
        if paging.style == "offset" and paging.read_ahead:
            yield from self._offset_pages_ahead(service, stream, params, plan)
            return
        offset, cursor, seen, number = paging.start, None, set(), 1
        while True:
            page_params, which = paging.page_request(params, offset=offset, cursor=cursor, number=number)
            page = self._with_retries(stream, which, lambda: self._page(service, stream, page_params, plan))
            if page.table is not None:
                yield page.table
            if paging.style == "none":
                return
            if paging.style == "offset":
                if page.records == 0 or not self._more_after_offset(paging, page, offset):
                    return
                offset += page.records
            elif paging.style == "bookmark_key":
                if page.records < paging.page_size:
                    return
                cursor = page.last_record.get(paging.key_field)
                if cursor in (None, ""):
                    raise ConnectorError(f"{self.where(stream)}: the last record of {which} has no "
                                         f"{paging.key_field}, so the next page cannot be asked for; "
                                         f"check paging.key_field")
            else:
                cursor = page.response.get(paging.next_token_field)
                if cursor in (None, ""):
                    return
            if paging.style != "offset":
                if cursor in seen:
                    raise ConnectorError(f"{self.where(stream)}: the service handed out {cursor!r} for the next "
                                         f"page twice; stopped instead of reading the same pages again")
                seen.add(cursor)
                number += 1

    def _offset_pages_ahead(self, service, stream: SoapStream, params: dict[str, Any],
                            plan: RecordPlan | None) -> Iterator[pa.Table]:
        """Offset paging with the next page already requested while this one is parsed.

        The service's time and the parse overlap: two pages are in flight, each fetched and parsed
        (with its own retries) in a thread of its own, and taken in order. The next offset is
        guessed as a full page on; a page that holds fewer records while more follow (a service
        capping the page size) drops the guess and asks again from the right offset.
        """
        paging = stream.paging

        def start(offset: int) -> _PageAhead:
            page_params = {**params, paging.limit_param: paging.page_size, paging.offset_param: offset}
            ahead = _PageAhead(offset)
            ahead.start(lambda: self._with_retries(stream, f"the page at offset {offset}",
                                                    lambda: self._page(service, stream, page_params, plan),
                                                    keep_trying=ahead.wanted))
            return ahead

        offset = paging.start
        current, following = start(offset), start(offset + paging.page_size)
        try:
            while True:
                page = current.result()
                if page.table is not None:
                    yield page.table
                if page.records == 0 or not self._more_after_offset(paging, page, offset):
                    return
                offset += page.records
                if following.offset != offset:
                    following.drop()
                    following = start(offset)
                current, following = following, start(offset + paging.page_size)
        finally:
            current.drop()
            following.drop()

    @staticmethod
    def _more_after_offset(paging: Paging, page: _Page, offset: int) -> bool:
        if paging.more_field:
            return bool(page.response.get(paging.more_field))
        total = page.response.get(paging.total_field) if paging.total_field else None
        if total is not None:
            return offset + page.records < total
        return page.records >= paging.page_size

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

    def _page(self, service, stream: SoapStream, params: dict[str, Any], plan: RecordPlan | None) -> _Page:
        """One page: its rows as a table, the records it counted, its response fields and last record."""
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
        return _Page(page.table, page.top_records, page.response_values, page.last_record)

    def _zeep_reply(self, stream: SoapStream, response):
        binding = self._service._binding
        return self._call(stream, lambda: binding.process_reply(self._client, binding.get(stream.operation), response))

    def _zeep_page(self, result, stream: SoapStream) -> _Page:
        output_body = self._service._binding.get(stream.operation).output.body
        document = response_document(result, output_body)
        rows = flatten_nested(document, stream.records)
        records, last = _counted(document, [p for p in stream.records.split("/") if p])
        return _Page(dicts_to_table(rows) if rows else None, records, document, last)

    def _with_retries(self, stream: SoapStream, which: str, action: Callable[[], T],
                      keep_trying: Callable[[], bool] | None = None) -> T:
        """Run one page's request, retrying transient failures with capped exponential backoff
        (``connectors.faults.with_retries``); ``keep_trying`` stops the retries of a page read ahead
        that is no longer wanted."""
        from tenacity import wait_exponential

        return with_retries(action, where=self.where(stream), which=which, retries=self.settings.retries,
                            wait=wait_exponential(multiplier=self.settings.backoff_seconds,
                                                  max=self.settings.backoff_max_seconds),
                            keep_trying=keep_trying)

    def _call(self, stream: SoapStream, action: Callable[[], T]) -> T:
        """Run a zeep call, turning its failures into ConnectorErrors that say transient or fatal."""
        import requests
        from zeep.exceptions import Fault, TransportError, ValidationError, XMLSyntaxError

        try:
            return action()
        except (ValidationError, TypeError) as exc:
            # zeep checks the request against the WSDL before sending: a missing or unknown parameter
            raise ConnectorError(f"{self.where(stream)}: the request does not fit the WSDL's {stream.operation}: "
                                 f"{exc}; check the stream's request and paging parameters") from None
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
        basic = self.settings.username and self.settings.auth == "basic"
        auth = (self.settings.username, self._password or "") if basic else None
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
