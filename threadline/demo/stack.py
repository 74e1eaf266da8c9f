"""The demo landscape set up for a stack of services (docker compose, Airflow) instead of one process.

``threadline demo`` builds the landscape and runs it in one process: the legacy ERP service on
127.0.0.1 and a SQLite warehouse next to the config. In a stack, the ERP service is another host,
the warehouse is a PostgreSQL database named by an environment variable, and Airflow hands the
ERP's credentials over from a Connection. ``retarget_config`` rewrites the built config for that.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import yaml


def retarget_config(config_path: Path, *, erp_host: str | None = None, erp_port: int | None = None,
                    warehouse_url_env: str | None = None, erp_connection_id: str | None = None) -> None:
    """Point the demo config at the ERP service on ``erp_host:erp_port``, at the warehouse URL in the
    variable ``warehouse_url_env``, and at the Airflow Connection ``erp_connection_id``; unset
    arguments leave the config as built."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    erp = next(s for s in config["sources"] if s["kind"] == "soap")
    endpoint = urlparse(erp["connection"]["endpoint"])
    if erp_host or erp_port:
        host, port = erp_host or endpoint.hostname, erp_port or endpoint.port
        erp["connection"]["endpoint"] = endpoint._replace(netloc=f"{host}:{port}").geturl()
    if warehouse_url_env:
        config["warehouse"] = {"url_env": warehouse_url_env}
    if erp_connection_id:
        erp["connection_id"] = erp_connection_id
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
