"""What every connector is: settings in, batches out, no state, no writes.

A connector takes its source settings and, per stream, the bookmark the runner stored after the
last committed load. It yields ``pyarrow.Table`` batches of raw source records ordered by the
stream's bookmark columns, reading ``>=`` the bookmark (at least once; the upsert removes the
duplicates). It never advances a bookmark itself.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

#: a plain identifier, optionally schema-qualified; single inner spaces are allowed because real
#: schemas have them (ERPNext tables are ``tabPurchase Order``) and every identifier is quoted
_IDENTIFIER_PART = r"[A-Za-z_][A-Za-z0-9_$#]*(?: [A-Za-z0-9_$#]+)*"
_IDENTIFIER = re.compile(rf"^{_IDENTIFIER_PART}(\.{_IDENTIFIER_PART})?$")


class ConnectorError(Exception):
    """Raised by connectors; the runner turns it into a transient or fatal threadline error."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class StrictModel(BaseModel):
    """Pydantic model that refuses unknown keys, so a typo in the config is reported."""

    model_config = ConfigDict(extra="forbid")


class StyledPaging(StrictModel):
    """Paging settings of a paging ``style``: a style's required settings must be given and the
    settings of other styles are refused, so a setting that would be ignored is reported instead.

    Subclasses declare ``style``, ``page_size`` and the settings, and say per style which settings
    it uses (``style_settings``), which it needs (``style_needs``), and the ``limit_param`` an
    offset style uses when none is given (``default_offset_limit_param``).
    """

    style_settings: ClassVar[dict[str, set[str]]]
    style_needs: ClassVar[dict[str, tuple[str, ...]]]
    default_offset_limit_param: ClassVar[str]

    @model_validator(mode="after")
    def _settings_fit_the_style(self):
        if self.style == "offset" and self.limit_param is None:
            self.limit_param = self.default_offset_limit_param
        missing = [name for name in self.style_needs[self.style] if not getattr(self, name)]
        if missing:
            raise ValueError(f"paging style {self.style} needs {', '.join(missing)}")
        uses = self.style_settings[self.style] | {"page_size"}
        foreign = sorted(self.model_fields_set - uses - {"style"})
        if foreign:
            raise ValueError(f"{', '.join(foreign)} do(es) not apply to paging style {self.style}; "
                             f"it uses {', '.join(sorted(uses))}")
        return self

    def page_request(self, params: Mapping[str, Any], *, offset: int, cursor: Any, number: int
                     ) -> tuple[dict[str, Any], str]:
        """The parameters of one page's request and how messages name the page.

        ``offset`` is the first row (offset style); ``cursor`` the key or token the previous page gave
        (other styles; None for the first page).
        """
        page = dict(params)
        if self.style != "none" and self.limit_param:
            page[self.limit_param] = self.page_size
        if self.style == "offset":
            page[self.offset_param] = offset
            return page, f"the page at offset {offset}"
        if cursor is not None:
            page[getattr(self, "key_param", None) or self.token_param] = cursor
        return page, f"page {number}"


class StreamSettings(StrictModel):
    """Settings every stream has, whatever the protocol."""

    name: str
    mapping: str = Field(description="mapping spec file for this stream")
    key: list[str] = Field(default_factory=list, description="source columns that identify a record")
    bookmark: list[str] = Field(default_factory=list, description="columns ordering incremental reads")
    batch_size: int = Field(default=50_000, gt=0)
    prefetch_batches: int | None = Field(
        default=None, ge=0, le=8,
        description="batches read ahead in a thread while the previous one is mapped and loaded (0: none; "
                    "empty: the connector's default)")


class SecretMissingError(ConnectorError):
    """A secret the config refers to is not set in the environment."""

    def __init__(self, where: str, env_var: str):
        super().__init__(
            f"{where}: the secret is read from the environment variable {env_var}, which is not set; "
            f"export {env_var} (or set it in the Airflow Connection) and run again"
        )
        self.env_var = env_var


def validate_identifier(name: str, where: str) -> str:
    """Return ``name`` if it is a plain (optionally schema-qualified) SQL identifier, else raise."""
    if not _IDENTIFIER.match(name):
        raise ConnectorError(
            f"{where}: {name!r} is not a plain SQL identifier (letters, digits, _ $ #, single inner spaces, "
            f"optional schema.)"
        )
    return name


def secret_from_env(env_var: str | None, where: str) -> str | None:
    """Read a secret from the environment; a named but unset variable is an error, never ``""``."""
    if env_var is None:
        return None
    value = os.environ.get(env_var)
    if value is None:
        raise SecretMissingError(where, env_var)
    return value


class Connector(ABC):
    """A source of raw records, one protocol per subclass."""

    #: pydantic model of the source's ``connection`` settings
    settings_model: type[StrictModel]
    #: pydantic model of one stream's settings
    stream_model: type[StreamSettings] = StreamSettings
    #: records are documents carrying only the elements they have (SOAP, XML files), so a column
    #: absent from a batch means empty, not a mismatch between mapping and source
    sparse_records: bool = False
    #: batches read ahead in a thread unless the stream says otherwise: worth it where reading
    #: waits outside Python (a driver, a socket); a parser in Python only competes for the GIL
    default_prefetch_batches: int = 0
    #: a full read returns everything the source holds, so rows it no longer returns were deleted
    #: there; False for inboxes, whose reads see only deliveries not processed yet
    snapshot_reads: bool = True

    def __init__(self, source_name: str, connection: Mapping[str, Any]):
        self.source_name = source_name
        self.settings = self.settings_model.model_validate(dict(connection))

    def prefetch_depth(self, stream: StreamSettings) -> int:
        """How many batches of ``stream`` to read ahead: its own setting, else the connector's default."""
        return self.default_prefetch_batches if stream.prefetch_batches is None else stream.prefetch_batches

    @abstractmethod
    def read(self, stream: StreamSettings, bookmark: Mapping[str, Any] | None) -> Iterator[pa.Table]:
        """Yield batches of the stream's records with bookmark columns ``>=`` ``bookmark``, in order."""

    def password(self) -> str | None:
        """The password named by ``connection.password_env``, read from the environment (None if not used)."""
        return secret_from_env(getattr(self.settings, "password_env", None), f"{self.where()} connection.password_env")

    def check(self) -> list[str]:
        """Return what is wrong with reaching the source (empty when it answers)."""
        return []

    def close(self) -> None:
        """Release connections; connectors are also context managers."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def where(self, stream: StreamSettings | None = None) -> str:
        """``source 'x', stream 'y'`` for error messages."""
        if stream is None:
            return f"source {self.source_name!r}"
        return f"source {self.source_name!r}, stream {stream.name!r}"
