"""JSON APIs over HTTP (a CMMS's REST endpoints): paging, incremental reads, auth and rate limits.

A stream names a ``path`` under the source's ``base_url``, fixed query ``params``, and where its
records sit in the response (``records: data.workorders``). Nested objects flatten into dotted
columns (``asset.id``). An array of records inside each record is a stream of its own, named by
``[]`` after the array that holds it: ``records: data.workorders[].tasks`` yields one row per task
carrying the work order's fields prefixed with the array's name (``workorders.wonum``), so header
and children come from the same requests and the same paging, and a child stream keeps its
parent's bookmark (``bookmark: [workorders.changed_at]``). Arrays of records are left out of the
parent's own rows; arrays of plain values stay as list columns.

Incremental reads send the first bookmark column's value as ``bookmark_param`` (``changed_since``);
the API must return records ``>=`` it, ordered by it (ask for that with ``params``, e.g.
``sort: changed_at``). Records arriving out of order would let the stored bookmark skip records,
so a page that goes backwards on the bookmark stops the read with an error.

Paging (``paging.style``): ``page_token`` (the response field ``next_token_field`` holds the next
token, sent back as ``token_param``; no token means the last page), ``offset`` (``offset_param``
and ``limit_param``; the last page is short, or ``total_field`` is reached) or ``none``. The page
size counts records of the first array in the path (work orders, not their tasks).

Auth: ``auth: bearer`` sends the token in the variable named by ``token_env``; ``auth: basic``
sends ``username`` and the password in the variable named by ``password_env``. Secrets are never
written into errors or logs.

Failures go through ``connectors.faults``: HTTP 429 waits as long as its ``Retry-After`` says
(seconds or an HTTP date, at most ``max_retry_after_seconds``), 5xx, 408, timeouts and dropped
connections retry with exponential backoff (tenacity), up to ``retries`` times after the first
attempt, then raise a transient ``RestHttpError``; 401/403 fail at once with a credentials hint,
404 names the path that is not there.

Pages are parsed into Arrow column by column (``pyarrow.array`` over the records, then struct
columns flattened), not record by record; a page whose values Arrow cannot type (a field that is
a number in one record and text in the next) is flattened in Python and typed as text where mixed.
"""

from __future__ import annotations

import base64
import email.utils
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator

from connectors.base import (Connector, ConnectorError, StreamSettings, StrictModel, StyledPaging,
                             secret_from_env)
from connectors.faults import is_retryable, with_retries
from connectors.records import dicts_to_table, rebatch

log = logging.getLogger(__name__)
T = TypeVar("T")

#: ``data.workorders[].tasks``: dotted names, ``[]`` after an array whose records hold the next step
_RECORDS_PATH = re.compile(r"^[A-Za-z_$][\w$-]*(\[\])?(\.[A-Za-z_$][\w$-]*(\[\])?)*$")
#: request headers that would carry credentials: they come from ``auth``, never from the config file
_CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key"}


class RestHttpError(ConnectorError):
    """The API answered with an HTTP error status, kept as ``http_status``."""

    def __init__(self, message: str, *, http_status: int | None, transient: bool = False,
                 retry_after: float | None = None):
        super().__init__(message, transient=transient)
        self.http_status = http_status
        #: seconds the API asked to wait before the next request (429/503 ``Retry-After``)
        self.retry_after = retry_after


class RestSettings(StrictModel):
    """A REST source's ``connection``: where the API is, how to sign in, how patient to be."""

    base_url: str = Field(description="scheme, host and optional path prefix, e.g. https://cmms.example/api/v1")
    auth: Literal["none", "bearer", "basic"] = "none"
    token_env: str | None = Field(default=None, description="bearer: environment variable holding the token")
    username: str | None = Field(default=None, description="basic: the user name")
    password_env: str | None = Field(default=None, description="basic: environment variable holding the password")
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers (no credentials)")
    check_path: str | None = Field(
        default=None, description="path `threadline check` asks (one that needs credentials); default base_url")
    verify_tls: bool = Field(default=True, description="check the server's TLS certificate")
    timeout_seconds: float = Field(default=30, gt=0)
    retries: int = Field(default=3, ge=0, le=20, description="retries of a page after a transient failure")
    backoff_seconds: float = Field(default=1.0, ge=0, description="first wait before a retry; doubles each time")
    backoff_max_seconds: float = Field(default=30.0, ge=0, description="cap on one backoff wait")
    max_retry_after_seconds: float = Field(
        default=120.0, ge=0, description="cap on a wait an HTTP 429/503 Retry-After asks for")
    site: str | None = None

    @field_validator("base_url")
    @classmethod
    def _plain_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; use auth: basic with username and password_env")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment; put query parameters in a stream's params")
        return value.rstrip("/")

    @field_validator("headers")
    @classmethod
    def _no_credential_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        named = sorted(h for h in headers if h.lower() in _CREDENTIAL_HEADERS)
        if named:
            raise ValueError(f"{', '.join(named)} carry credentials and are not written in the config; "
                             f"use auth: bearer with token_env or auth: basic with username and password_env")
        return headers

    @model_validator(mode="after")
    def _credentials_fit_the_auth(self) -> RestSettings:
        if self.auth == "bearer" and not self.token_env:
            raise ValueError("auth: bearer needs token_env (the environment variable holding the token)")
        if self.auth == "basic" and not (self.username and self.password_env):
            raise ValueError("auth: basic needs username and password_env (the variable holding the password)")
        foreign = [name for name, auth in (("token_env", "bearer"), ("username", "basic"), ("password_env", "basic"))
                   if getattr(self, name) and self.auth != auth]
        if foreign:
            raise ValueError(f"{', '.join(foreign)} do(es) not apply to auth: {self.auth}")
        return self




class RestPaging(StyledPaging):
    """How a stream asks for pages and knows the last one came.

    - ``page_token``: ``token_param`` takes the token the previous response gave in
      ``next_token_field`` (a dotted path, e.g. ``paging.next``); a missing or empty token ends the
      read. ``limit_param`` (optional) takes the page size.
    - ``offset``: ``offset_param`` takes the first record (from ``start``), ``limit_param`` the page
      size; the read ends on a short page, or once ``total_field`` (dotted path) is reached.
    - ``none``: one request.
    """

    style_settings = {
        "offset": {"offset_param", "limit_param", "start", "total_field"},
        "page_token": {"limit_param", "token_param", "next_token_field"},
        "none": set(),
    }
    style_needs = {"offset": ("offset_param", "limit_param"), "page_token": ("token_param", "next_token_field"),
                   "none": ()}
    default_offset_limit_param = "limit"

    style: Literal["offset", "page_token", "none"] = "none"
    page_size: int = Field(default=100, gt=0)
    offset_param: str = Field(default="offset", description="offset: query parameter taking the first record")
    limit_param: str | None = Field(default=None, description="query parameter taking the page size "
                                                             "(offset: limit unless given)")
    start: int = Field(default=0, ge=0, description="offset: the first record of the first page")
    total_field: str | None = Field(default=None, description="offset: response field with the number of records")
    token_param: str | None = Field(default=None, description="page_token: query parameter taking the token")
    next_token_field: str | None = Field(default=None, description="page_token: response field with the next token")



class RestStream(StreamSettings):
    """One REST stream: the endpoint, its fixed parameters, paging and where the records are."""

    path: str = Field(description="endpoint path under base_url, e.g. /workorders")
    records: str = Field(description="dotted path of the records in the response, e.g. data.workorders; "
                                     "data.workorders[].tasks for the tasks inside each work order")
    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="fixed query parameters (e.g. sort: changed_at)")
    bookmark_param: str | None = Field(default=None, description="query parameter that takes the bookmark")
    paging: RestPaging = Field(default_factory=RestPaging)

    @field_validator("path")
    @classmethod
    def _relative_path(cls, value: str) -> str:
        if "://" in value or "?" in value:
            raise ValueError("must be a path under base_url without a query; put query parameters in params")
        return "/" + value.lstrip("/")

    @field_validator("records")
    @classmethod
    def _records_path(cls, value: str) -> str:
        if not _RECORDS_PATH.match(value):
            raise ValueError("must be a dotted path of field names, with [] after an array whose records hold "
                             "the next step (data.workorders or data.workorders[].tasks)")
        if value.endswith("[]"):
            raise ValueError("must end at the records, not at []: data.workorders, not data.workorders[]")
        return value

    @model_validator(mode="after")
    def _bookmark_fits(self) -> RestStream:
        if self.bookmark_param and not self.bookmark:
            raise ValueError("bookmark_param needs bookmark (the record columns ordering incremental reads)")
        clash = sorted({self.bookmark_param, *self.paging_params()} & set(self.params) - {None})
        if clash:
            raise ValueError(f"params {clash} are filled in by paging or the bookmark; remove them from params")
        return self

    def paging_params(self) -> list[str]:
        """The query parameters paging fills in."""
        paging = self.paging
        names = {"offset": [paging.offset_param, paging.limit_param],
                 "page_token": [paging.token_param, paging.limit_param], "none": []}[paging.style]
        return [n for n in names if n]

    def steps(self) -> list[tuple[str, bool]]:
        """The records path as (field, is an array whose records hold the next step)."""
        return [(part.removesuffix("[]"), part.endswith("[]")) for part in self.records.split(".")]


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header as seconds to wait: delta-seconds or an HTTP date (None if absent or bad)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _dig(document: Any, dotted: str) -> Any:
    """The value at a dotted path of a JSON document (None where a step is missing)."""
    node = document
    for step in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(step)
    return node


def _query_value(value: Any) -> Any:
    """A bookmark as a query parameter: dates in ISO 8601, everything else as it is."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    return value


# ---- JSON records -> Arrow ------------------------------------------------------------------------

def _flatten_structs(table: pa.Table) -> pa.Table:
    """Nested objects as dotted columns (``asset.site.id``), to any depth."""
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def _is_record_list(data_type: pa.DataType) -> bool:
    return (pa.types.is_list(data_type) or pa.types.is_large_list(data_type)) and (
        pa.types.is_struct(data_type.value_type) or pa.types.is_null(data_type.value_type))


def _records_table(records: list[Any], steps: list[tuple[str, bool]], name: str) -> pa.Table:
    """The rows of ``records`` (the array called ``name``) down the remaining ``steps``, columnar.

    Each step's records become the rows, one per element of the list column that holds them; the
    columns of their ancestors come along by index, prefixed with the ancestor array's name.
    Raises ValueError (or an Arrow error) where the page needs the record-by-record path.
    """
    array = pa.array(records)
    if pa.types.is_null(array.type):
        return pa.table({})
    if not pa.types.is_struct(array.type):
        raise ValueError(f"the records of {name} are {array.type}, not objects")
    if array.null_count:
        array = array.filter(array.is_valid())  # a null in an array of records is no record
    table = _flatten_structs(pa.Table.from_struct_array(array))
    ancestors: set[str] = set()
    for step, _ in steps:
        if step not in table.column_names:
            if any(c.startswith(step + ".") for c in table.column_names):
                raise ValueError(f"{step} holds single objects, not arrays")
            return pa.table({})  # no record on this page has any
        children = table[step].combine_chunks()
        if not (pa.types.is_list(children.type) or pa.types.is_large_list(children.type)):
            raise ValueError(f"{step} holds {children.type}, not arrays of objects")
        values = pc.list_flatten(children)
        if len(values) == 0 or pa.types.is_null(values.type):
            return pa.table({})
        if not pa.types.is_struct(values.type):
            raise ValueError(f"{step} holds {values.type}, not objects")
        parents = pc.list_parent_indices(children)
        if values.null_count:
            parents, values = parents.filter(values.is_valid()), values.filter(values.is_valid())
        carried = table.drop_columns([step]).take(parents)
        child = _flatten_structs(pa.Table.from_struct_array(values))
        columns = {(c if c in ancestors else f"{name}.{c}"): carried[c] for c in carried.column_names
                   if not _is_record_list(carried.schema.field(c).type)}
        ancestors = set(columns)
        table = pa.table({**columns, **{c: child[c] for c in child.column_names}})
        name = step
    return table.drop_columns([c for c in table.column_names if _is_record_list(table.schema.field(c).type)])


def _flat_record(record: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in record.items():
        if isinstance(value, Mapping):
            _flat_record(value, f"{prefix}{key}.", out)
        elif isinstance(value, list) and (not value or any(isinstance(v, Mapping) for v in value)):
            continue  # arrays of records are streams of their own
        else:
            out[prefix + key] = value


def _records_rows(records: list[Any], steps: list[tuple[str, bool]], name: str) -> list[dict[str, Any]]:
    """The same rows as ``_records_table``, record by record: for pages Arrow cannot type at once."""
    rows: list[dict[str, Any]] = []

    def walk(items: list[Any], depth: int, context: dict[str, Any], name: str) -> None:
        for item in items:
            if item is None:
                continue
            if not isinstance(item, Mapping):
                raise ValueError(f"{name} holds {type(item).__name__} values, not objects")
            flat: dict[str, Any] = {}
            _flat_record(item, "", flat)
            if depth == len(steps):
                rows.append({**context, **flat})
                continue
            step = steps[depth][0]
            children = item.get(step)
            if children is None:
                continue
            walk(children if isinstance(children, list) else [children], depth + 1,
                 {**context, **{f"{name}.{k}": v for k, v in flat.items()}}, step)

    walk(records, 0, {}, name)
    return rows


def _at_or_after(table: pa.Table, columns: list[str], bookmark: Mapping[str, Any]) -> pa.Table:
    """The rows whose bookmark columns are ``>=`` the bookmark, compared as a tuple.

    The API filters on the first column only (``changed_since``); rows tied with the bookmark
    on it but before it on the later columns were loaded by the run that stored the bookmark.
    """
    keep = None
    for column in reversed(columns):
        values = table[column]
        try:
            mark = pa.scalar(bookmark[column]).cast(values.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return table  # a bookmark of another type than the column: keep all, the upsert absorbs re-reads
        keep = pc.greater_equal(values, mark) if keep is None else pc.or_kleene(
            pc.greater(values, mark), pc.and_kleene(pc.equal(values, mark), keep))
    # a row whose later bookmark columns are empty cannot be placed before the bookmark: it stays
    return table.filter(pc.fill_null(keep, True)) if keep is not None else table


@dataclass
class _Page:
    """One response: its rows, the records the page size counts, and the response document."""

    table: pa.Table | None
    records: int
    document: Mapping[str, Any] = field(default_factory=dict)


class RestConnector(Connector):
    """Pages through a JSON API endpoint and yields Arrow batches of its records."""

    settings_model = RestSettings
    stream_model = RestStream
    sparse_records = True
    # the next page is fetched while the previous batch is mapped and loaded: the wait is on the socket
    default_prefetch_batches = 1

    def __init__(self, source_name: str, connection: Mapping[str, Any]):
        super().__init__(source_name, connection)
        settings = self.settings
        self._token = secret_from_env(settings.token_env, f"{self.where()} connection.token_env")
        self._password = self.password() if settings.auth == "basic" else None
        self._session = None

    # ---- HTTP ----------------------------------------------------------------------------------

    def _http(self):
        if self._session is None:
            import requests

            session = requests.Session()
            session.headers.update({"Accept": "application/json", **self.settings.headers})
            if self.settings.auth == "bearer":
                session.headers["Authorization"] = f"Bearer {self._token}"
            elif self.settings.auth == "basic":
                session.auth = (self.settings.username, self._password)
            session.verify = self.settings.verify_tls
            self._session = session
        return self._session

    def _redact(self, text: str) -> str:
        """``text`` with every secret of this source masked (an API may echo a header back)."""
        secrets = [self._token, self._password]
        if self._password:
            # what an echoed basic Authorization header holds
            secrets.append(base64.b64encode(f"{self.settings.username}:{self._password}".encode()).decode())
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def _get(self, stream: RestStream | None, path: str, params: Mapping[str, Any]) -> Any:
        """One GET, its JSON document; failures as errors saying transient or fatal, naming the path."""
        import requests

        where = self.where(stream)
        url = self.settings.base_url + path
        shown = urlsplit(url).path
        try:
            response = self._http().get(url, params=params, timeout=self.settings.timeout_seconds)
        except requests.Timeout:
            raise ConnectorError(f"{where}: GET {shown} got no answer within {self.settings.timeout_seconds}s",
                                 transient=True) from None
        except requests.ConnectionError as exc:
            raise ConnectorError(f"{where}: cannot reach {urlsplit(url).netloc} for GET {shown}: "
                                 f"{self._redact(_connection_reason(exc))}", transient=True) from None
        status = response.status_code
        if status >= 400:
            raise self._status_error(where, shown, response)
        try:
            return response.json()
        except ValueError as exc:
            kind = response.headers.get("Content-Type", "no content type")
            raise ConnectorError(f"{where}: GET {shown} answered {kind}, not JSON: {exc}; check the stream's "
                                 f"path and the source's base_url") from None

    def _status_error(self, where: str, shown: str, response) -> RestHttpError:
        status = response.status_code
        transient = is_retryable("http", status)
        if status in (401, 403):
            settings = self.settings
            credentials = {"bearer": f"the token in {settings.token_env} (connection.token_env)",
                           "basic": f"connection.username {settings.username!r} and the password in "
                                    f"{settings.password_env} (connection.password_env)",
                           "none": "connection.auth: the API wants credentials (bearer or basic)"}
            hint = (f"the API refused the credentials; check {credentials[self.settings.auth]}" if status == 401
                    else f"the credentials are not allowed to read this; check the API user's rights and "
                         f"{credentials[self.settings.auth]}")
            return RestHttpError(f"{where}: HTTP {status} from GET {shown}: {hint}", http_status=status)
        if status == 404:
            return RestHttpError(f"{where}: HTTP 404 from GET {shown}: the API has no such path; check the "
                                 f"source's base_url and the stream's path", http_status=status)
        retry_after = retry_after_seconds(response.headers.get("Retry-After")) if status in (429, 503) else None
        # the whole body is redacted before it is cut, so no part of a secret survives the cut
        detail = self._redact(response.text)[:200].strip().replace("\n", " ") if not transient else ""
        message = f"{where}: HTTP {status} from GET {shown}" + (f": {detail}" if detail else "")
        if status == 429:
            message += " (rate limited)"
        return RestHttpError(message, http_status=status, transient=transient, retry_after=retry_after)

    def _with_retries(self, stream: RestStream, which: str, action: Callable[[], T]) -> T:
        """Run one page's request, retrying transient failures (``connectors.faults.with_retries``): a
        Retry-After is waited out (capped by ``max_retry_after_seconds``), anything else backs off
        exponentially."""
        from tenacity import wait_exponential

        settings = self.settings
        backoff = wait_exponential(multiplier=settings.backoff_seconds, max=settings.backoff_max_seconds)

        def wait(state) -> float:
            asked = getattr(state.outcome.exception(), "retry_after", None)
            return backoff(state) if asked is None else min(asked, settings.max_retry_after_seconds)

        return with_retries(action, where=self.where(stream), which=which, retries=settings.retries, wait=wait)

    # ---- reading -------------------------------------------------------------------------------

    def read(self, stream: RestStream, bookmark: Mapping[str, Any] | None) -> Iterator[pa.Table]:
        """Yield the stream's records ``>=`` the bookmark in batches of ``batch_size`` rows, from pages.

        Pages are joined up to the batch size: every batch pays fixed costs downstream (landing,
        mapping, one transaction) and an API's pages are small.
        """
        pages = self._ordered(stream, self._pages(stream, bookmark))
        if bookmark and stream.bookmark and all(bookmark.get(c) is not None for c in stream.bookmark):
            pages = (_at_or_after(page, stream.bookmark, bookmark) for page in pages)
        yield from rebatch(pages, stream.batch_size)

    def _ordered(self, stream: RestStream, pages: Iterator[pa.Table]) -> Iterator[pa.Table]:
        """Pass pages through, stopping with an error where the first bookmark column goes backwards."""
        if not stream.bookmark:
            yield from pages
            return
        column, last = stream.bookmark[0], None
        for number, table in enumerate(pages, start=1):
            absent = [c for c in stream.bookmark if c not in table.column_names]
            if absent:
                raise ConnectorError(f"{self.where(stream)}: page {number} has no bookmark column(s) "
                                     f"{', '.join(absent)}; it has {', '.join(table.column_names)}; check the "
                                     f"stream's bookmark")
            values = table[column].combine_chunks()
            if values.null_count:
                raise ConnectorError(f"{self.where(stream)}: {values.null_count} record(s) of page {number} have no "
                                     f"{column}, so they cannot be read incrementally; check the stream's bookmark")
            if pa.types.is_null(values.type) or len(values) == 0:
                yield table
                continue
            try:
                sequence = values if last is None else pa.concat_arrays([pa.array([last], values.type), values])
                backwards = len(sequence) > 1 and pc.any(pc.less(sequence[1:], sequence[:-1])).as_py()
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
                backwards = False  # mixed types between pages: order is the API's word
            if backwards:
                raise ConnectorError(f"{self.where(stream)}: page {number} is not ordered by {column}; a bookmark "
                                     f"taken from it could skip records. Ask the API to sort by it in the stream's "
                                     f"params (e.g. sort: {column.rsplit('.', 1)[-1]})")
            last = values[-1].as_py()
            yield table

    def _pages(self, stream: RestStream, bookmark: Mapping[str, Any] | None) -> Iterator[pa.Table]:
        """One Arrow table per page of the endpoint, ``>=`` the bookmark."""
        params: dict[str, Any] = {k: _query_value(v) for k, v in stream.params.items()}
        value = bookmark.get(stream.bookmark[0]) if bookmark and stream.bookmark else None
        if value is not None and stream.bookmark_param:
            params[stream.bookmark_param] = _query_value(value)
        paging = stream.paging
        offset, token, seen, number = paging.start, None, set(), 1
        while True:
            page_params, which = paging.page_request(params, offset=offset, cursor=token, number=number)
            page = self._with_retries(stream, which, lambda: self._page(stream, page_params, which))
            if page.table is not None and page.table.num_rows:
                yield page.table
            if paging.style == "none":
                return
            if paging.style == "offset":
                if page.records == 0 or not self._more_after_offset(paging, page, offset):
                    return
                offset += page.records
            else:
                token = _dig(page.document, paging.next_token_field)
                if token in (None, ""):
                    return
                if not isinstance(token, (str, int)):
                    raise ConnectorError(f"{self.where(stream)}: {paging.next_token_field} of {which} is "
                                         f"{type(token).__name__}, not a token; check paging.next_token_field")
                if token in seen:
                    raise ConnectorError(f"{self.where(stream)}: the API handed out the same next-page token "
                                         f"twice; stopped instead of reading the same pages again")
                seen.add(token)
            number += 1

    @staticmethod
    def _more_after_offset(paging: RestPaging, page: _Page, offset: int) -> bool:
        total = _dig(page.document, paging.total_field) if paging.total_field else None
        if isinstance(total, (int, float)) and not isinstance(total, bool):
            return offset + page.records < total
        return page.records >= paging.page_size

    def _page(self, stream: RestStream, params: Mapping[str, Any], which: str) -> _Page:
        """Fetch and parse one page: its rows as a table and how many top-level records it held."""
        document = self._get(stream, stream.path, params)
        steps = stream.steps()
        first_array = next((i for i, (_, is_array) in enumerate(steps) if is_array), len(steps) - 1)
        node: Any = document
        for index, (name, _) in enumerate(steps[:first_array + 1]):
            if not isinstance(node, Mapping) or name not in node:
                keys = ", ".join(node) if isinstance(node, Mapping) else type(node).__name__
                missing = ".".join(n for n, _ in steps[:index + 1])
                raise ConnectorError(f"{self.where(stream)}: {which} has no {missing} (found: {keys or 'nothing'}); "
                                     f"check the stream's records path")
            node = node[name]
        if node is None:
            return _Page(None, 0, document)
        records = node if isinstance(node, list) else [node]
        if not records:
            return _Page(None, 0, document)
        remaining, name = steps[first_array + 1:], steps[first_array][0]
        try:
            table = _records_table(records, remaining, name)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, ValueError):
            # values Arrow cannot type in one go (a field both number and text): record by record
            try:
                rows = _records_rows(records, remaining, name)
            except ValueError as exc:
                raise ConnectorError(f"{self.where(stream)}: {which}: {exc}; check the stream's records path "
                                     f"({stream.records})") from None
            table = dicts_to_table(rows) if rows else None
        return _Page(table, len(records), document)

    # ---- connectivity --------------------------------------------------------------------------

    def check(self) -> list[str]:
        """The API answers at ``check_path`` (or ``base_url``) and accepts the credentials."""
        import requests

        path = "/" + self.settings.check_path.lstrip("/") if self.settings.check_path else ""
        url = self.settings.base_url + path
        shown = urlsplit(url).path or "/"
        try:
            response = self._http().get(url, timeout=self.settings.timeout_seconds)
        except requests.Timeout:
            return [f"{self.where()}: {urlsplit(url).netloc} did not answer GET {shown} within "
                    f"{self.settings.timeout_seconds}s; check base_url and the network"]
        except requests.ConnectionError as exc:
            return [f"{self.where()}: cannot reach {urlsplit(url).netloc} ({self._redact(_connection_reason(exc))}); "
                    f"check base_url, that the API is running, and the network"]
        if response.status_code in (401, 403):
            return [str(self._status_error(self.where(), shown, response))]
        if response.status_code >= 500:
            return [f"{self.where()}: the API answered HTTP {response.status_code} to GET {shown}; it is up but "
                    f"failing, try again later"]
        # any other answer (a 404 at the API's root included) proves the host is there
        return []

    def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            self._session.close()
            self._session = None


def _connection_reason(exc: Exception) -> str:
    """The cause of a failed connection in a few words (refused, unknown host), without the URL."""
    text = str(exc)
    for pattern, reason in (("Connection refused", "connection refused"),
                            ("Name or service not known", "unknown host name"),
                            ("nodename nor servname", "unknown host name"),
                            ("Temporary failure in name resolution", "host name not resolved"),
                            ("Connection reset", "connection reset by the server"),
                            ("RemoteDisconnected", "the server closed the connection without answering"),
                            ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted (verify_tls)")):
        if pattern in text:
            return reason
    return type(exc).__name__


__all__ = ["RestConnector", "RestSettings", "RestStream", "RestPaging", "RestHttpError", "retry_after_seconds"]
