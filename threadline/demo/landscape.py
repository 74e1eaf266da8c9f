"""Build the whole demo landscape: the plant's legacy systems, threadline.yaml and the manifest.

``build_landscape(out_dir)`` writes, under ``out_dir``:

- ``erp_jde.sqlite``: site NORTH's JD Edwards purchasing database;
- ``legacy_erp/``: site SOUTH's legacy ERP (``purchasing.sqlite`` + ``purchasing.wsdl``), served by
  ``threadline.demo.erp_service.start_erp_service`` on the port the config names;
- ``cmms_maximo.sqlite``: the Maximo CMMS of both sites;
- ``mes/outbox/*.xml``: the MES's B2MML production orders of both sites;
- ``threadline.yaml``: sources ``jde``, ``erp_soap``, ``maximo``, ``mes``, a SQLite warehouse, the
  two sites and ``rules.as_of`` fixed to the plant's date;
- ``demo.env``: the legacy ERP's password (random per build), which the config only names;
- ``manifest.json``: the row count of every stream, every finding the rules must produce on this
  landscape (no more, no less) and every row the mappings must quarantine.

The same ``(scale, seed)`` builds the same data into the same folder; only the password and the
service port change from build to build.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciliation.exceptions import exception_id
from threadline.demo import erp_service, jde, maximo, mes, receiving
from threadline.demo.plant import AS_OF, DEFAULT_SCALE, DEFAULT_SEED, REPORTING_CURRENCY, Plant, generate_plant

PASSWORD_ENV = "THREADLINE_DEMO_ERP_PASSWORD"
ERP_USERNAME = "threadline"
CONFIG_FILE = "threadline.yaml"
MANIFEST_FILE = "manifest.json"
ENV_FILE = "demo.env"
LEGACY_ERP_DIR = "legacy_erp"
WAREHOUSE_FILE = "warehouse.sqlite"
LANDING_DIR = "landing"
REPORTS_DIR = "reports"

#: source name in threadline.yaml -> (its writer's key function, its streams)
SOURCES: dict[str, tuple[Callable[[tuple], str], dict[str, dict[str, Any]]]] = {
    "jde": (jde.source_key, jde.STREAMS),
    "erp_soap": (erp_service.source_key, erp_service.STREAMS),
    "maximo": (maximo.source_key, maximo.STREAMS),
    "mes": (mes.source_key, mes.STREAMS),
}


@dataclass
class Landscape:
    """A built demo landscape: where it is and what a run against it needs."""

    out_dir: Path
    config_path: Path
    manifest_path: Path
    erp_port: int
    #: environment variables the config refers to (the legacy ERP's password)
    env: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def erp_data_dir(self) -> Path:
        """The folder ``start_erp_service`` serves."""
        return self.out_dir / LEGACY_ERP_DIR

    def start_erp_service(self) -> erp_service.ErpService:
        """Start the legacy ERP service on the port the config names, with this build's password."""
        return erp_service.start_erp_service(self.erp_data_dir, username=ERP_USERNAME,
                                             password=self.env[PASSWORD_ENV], port=self.erp_port)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def build_landscape(out_dir: Path, *, scale: int = DEFAULT_SCALE, seed: int = DEFAULT_SEED) -> Landscape:
    """Generate the plant and write its legacy systems, config and manifest into ``out_dir``.

    Existing demo files there are overwritten. The warehouse, landing and reports of an earlier
    build are kept when it was the same plant (same scale and seed, so re-runs stay incremental)
    and removed when it was another one, whose rows would otherwise mix with this plant's.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    _forget_other_plant(out_dir, scale, seed)
    plant = generate_plant(scale, seed)
    port = free_port()
    counts = {
        "jde": jde.write_jde(plant, out_dir),
        "erp_soap": erp_service.write_legacy_erp(plant, out_dir / LEGACY_ERP_DIR, port=port),
        "maximo": maximo.write_maximo(plant, out_dir),
        "mes": mes.write_mes(plant, out_dir),
    }
    password = secrets.token_urlsafe(24)
    env_path = out_dir / ENV_FILE
    env_path.write_text(f"{PASSWORD_ENV}={password}\n", encoding="utf-8")
    env_path.chmod(0o600)
    config_path = out_dir / CONFIG_FILE
    config_path.write_text(yaml.safe_dump(demo_config(out_dir, port), sort_keys=False), encoding="utf-8")
    manifest_path = out_dir / MANIFEST_FILE
    manifest_path.write_text(json.dumps(build_manifest(plant, counts), indent=2) + "\n", encoding="utf-8")
    return Landscape(out_dir=out_dir, config_path=config_path, manifest_path=manifest_path, erp_port=port,
                     env={PASSWORD_ENV: password})


def _forget_other_plant(out_dir: Path, scale: int, seed: int) -> None:
    """Remove the run state of an earlier build of another plant in ``out_dir``."""
    manifest = out_dir / MANIFEST_FILE
    if not manifest.is_file():
        return
    try:
        earlier = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        earlier = {}
    if earlier.get("scale") == scale and earlier.get("seed") == seed:
        return
    (out_dir / WAREHOUSE_FILE).unlink(missing_ok=True)
    for folder in (LANDING_DIR, REPORTS_DIR):
        shutil.rmtree(out_dir / folder, ignore_errors=True)


def _sql_streams(streams: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": name, **settings} for name, settings in streams.items()]


def demo_config(out_dir: Path, erp_port: int) -> dict[str, Any]:
    """threadline.yaml for the landscape in ``out_dir`` (as a mapping, ready to dump)."""
    soap_streams = []
    for name, settings in erp_service.STREAMS.items():
        soap_streams.append({
            "name": name, **settings, "bookmark_param": "changedSince",
            "paging": {"style": "offset", "offset_param": "startRow", "limit_param": "maxRows",
                       "page_size": 500, "more_field": "moreRows"},
        })
    return {
        "warehouse": {"url": f"sqlite:///{out_dir / WAREHOUSE_FILE}"},
        "landing_dir": LANDING_DIR,
        "reports_dir": REPORTS_DIR,
        "reporting_currency": REPORTING_CURRENCY,
        "sites": [{"id": "NORTH", "name": "North plant (JD Edwards, Maximo NTH, MES PLANT-N)"},
                  {"id": "SOUTH", "name": "South plant (legacy ERP web service, Maximo STH, MES PLANT-S)"}],
        # the overrides name the plant's own suppliers and processes
        "rules": {"as_of": AS_OF.isoformat(), "overrides": [*receiving.RULE_OVERRIDES]},
        # last, so that a user can add a source by appending its entry to the file
        "sources": [
            {"name": "jde", "kind": "sql", "role": "erp", "description": "JD Edwards E1 purchasing, site NORTH",
             "connection": {"url": f"sqlite:///{out_dir / jde.FILE_NAME}"}, "streams": _sql_streams(jde.STREAMS)},
            {"name": "erp_soap", "kind": "soap", "role": "erp",
             "description": "legacy ERP purchasing web service, site SOUTH",
             "connection": {"wsdl": f"{LEGACY_ERP_DIR}/{erp_service.WSDL}",
                            "endpoint": f"http://127.0.0.1:{erp_port}{erp_service.SERVICE_PATH}",
                            "username": ERP_USERNAME, "password_env": PASSWORD_ENV, "timeout_seconds": 30},
             "streams": soap_streams},
            {"name": "maximo", "kind": "sql", "role": "cmms", "description": "Maximo CMMS, sites NTH and STH",
             "connection": {"url": f"sqlite:///{out_dir / maximo.FILE_NAME}"},
             "streams": _sql_streams(maximo.STREAMS)},
            {"name": "mes", "kind": "b2mml", "role": "mes", "description": "MES outbox, B2MML V0701",
             "connection": {"path": str(mes.OUTBOX), "pattern": "*.xml"},
             "streams": _sql_streams(mes.STREAMS)},
        ],
    }


def build_manifest(plant: Plant, counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """What the landscape holds and what the pipeline must find in it."""
    defects = []
    for defect in plant.defects:
        key_of, _ = SOURCES[defect["source_system"]]
        key = key_of(defect["ref"])
        defects.append({"rule_id": defect["rule_id"], "subject_entity": defect["subject_entity"],
                        "source_system": defect["source_system"], "source_key": key,
                        "exception_id": exception_id(defect["rule_id"], defect["subject_entity"],
                                                     defect["source_system"], key),
                        "note": defect["note"]})
    defects.sort(key=lambda d: (d["rule_id"], d["subject_entity"], d["source_system"], d["source_key"]))
    quarantine = []
    for row in plant.quarantine:
        key_of, _ = SOURCES[row["source"]]
        quarantine.append({"source": row["source"], "stream": row["stream"], "source_key": key_of(row["ref"]),
                           "field": row["field"], "reason_contains": row["reason_contains"], "note": row["note"]})
    quarantine.sort(key=lambda q: (q["source"], q["stream"], q["source_key"]))
    link_truth = []
    for entry in plant.link_truth:
        source = {"jde": "jde", "soap": "erp_soap"}[entry["erp"]]
        link_truth.append({"site": entry["site"], "po_source_system": source,
                           "po_source_key": SOURCES[source][0](("po_line", entry["erp"], entry["po_number"],
                                                                entry["line_no"])),
                           "po_number": entry["po_label"], "line_number": str(entry["line_no"]),
                           "wo_number": entry["wo_number"], "op_seq": entry["op_seq"], "kind": entry["kind"],
                           "text_style": entry["text_style"]})
    return {
        "scale": plant.scale, "seed": plant.seed, "as_of": AS_OF.isoformat(),
        "reporting_currency": REPORTING_CURRENCY,
        "counts": {source: {stream: counts[source][stream] for stream in streams}
                   for source, (_, streams) in SOURCES.items()},
        "defects": defects, "quarantine": quarantine,
        # PO lines whose link to work was removed, with the work they are for: scores LNK-006's suggestions
        "link_truth": link_truth,
    }
