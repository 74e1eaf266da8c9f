"""Extract: one module per protocol. Connectors yield batches and own no state."""

from __future__ import annotations

from importlib import import_module

from connectors.base import Connector, ConnectorError, StreamSettings

#: source ``kind`` in threadline.yaml -> "module:class"; imported on first use so that a
#: deployment without zeep or pyodbc can still run the other kinds.
KINDS: dict[str, str] = {
    "sql": "connectors.sql:SqlConnector",
    "odbc": "connectors.odbc:OdbcConnector",
    "soap": "connectors.soap:SoapConnector",
    "b2mml": "connectors.b2mml:B2mmlConnector",
    "files": "connectors.filedrop:FileDropConnector",
    "rest": "connectors.rest:RestConnector",
}


def connector_class(kind: str) -> type[Connector]:
    """Return the connector class for a source kind; the error lists the valid kinds."""
    try:
        module_name, class_name = KINDS[kind].split(":")
    except KeyError:
        raise ConnectorError(f"unknown source kind {kind!r}; valid: {', '.join(KINDS)}") from None
    return getattr(import_module(module_name), class_name)


__all__ = ["Connector", "ConnectorError", "StreamSettings", "KINDS", "connector_class"]
