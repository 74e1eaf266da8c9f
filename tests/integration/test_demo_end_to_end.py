"""The whole pipeline on the demo landscape, through the real command line.

The demo plants known defects and lists them in its manifest. A run must find every one of them,
raise no error-severity exception that was not planted, quarantine the planted bad rows, and a
second run must change nothing. The same holds with a PostgreSQL warehouse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from reconciliation.exceptions import exception_id
from threadline.warehouse import schema

pytestmark = pytest.mark.slow

# the installed console script, as a user runs it
THREADLINE = [str(Path(sys.executable).with_name("threadline"))]


def cli(*args: str, env: dict | None = None) -> str:
    completed = subprocess.run([*THREADLINE, *args], capture_output=True, text=True, timeout=900,
                               env={**os.environ, **(env or {}), "CI": "true"})
    assert completed.returncode == 0, f"threadline {' '.join(args)} failed:\n{completed.stderr[-5000:]}"
    return completed.stdout


def planted_ids(manifest: dict) -> dict[str, dict]:
    return {exception_id(d["rule_id"], d["subject_entity"], d["source_system"], d["source_key"]): d
            for d in manifest["defects"]}


def table_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        counts = {name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                  for name, t in schema.CANONICAL_TABLES.items()}
        counts["tl_exception"] = conn.execute(select(func.count()).select_from(schema.exception)).scalar_one()
        counts["tl_quarantine"] = conn.execute(select(func.count()).select_from(schema.quarantine)).scalar_one()
        # the roll-up keeps every run's rows as history: a re-run adds rows, but the current ones are the same
        # and restate nothing
        current = schema.cost_rollup.c.is_current.is_(True)
        counts["tl_cost_rollup current"] = conn.execute(
            select(func.count()).select_from(schema.cost_rollup).where(current)).scalar_one()
        counts["tl_cost_rollup restated"] = conn.execute(
            select(func.count()).select_from(schema.cost_rollup).where(current & schema.cost_rollup.c.restated)
        ).scalar_one()
    engine.dispose()
    return counts


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`threadline demo` at the default scale, run once for the module."""
    out = tmp_path_factory.mktemp("demo")
    summary = json.loads(cli("demo", "--out", str(out), "--json"))
    manifest = json.loads((out / "manifest.json").read_text())
    return out, summary, manifest


def test_demo_finds_every_planted_defect_and_no_unplanted_error(demo):
    out, summary, manifest = demo
    assert summary["status"] == "succeeded"
    exceptions = json.loads(cli("--config", str(out / "threadline.yaml"), "exceptions", "list", "--limit", "0",
                                "--json"))
    found = {e["exception_id"]: e for e in exceptions}
    planted = planted_ids(manifest)
    assert {d["rule_id"] for d in manifest["defects"]} >= {"LNK-001", "LNK-002", "OSP-001", "OSP-005", "CST-003",
                                                          "TRC-001"}
    missing = {i: planted[i] for i in planted if i not in found}
    assert not missing, f"planted defects not found: {json.dumps(list(missing.values()), indent=1)}"
    unplanted_errors = [e for i, e in found.items() if e["severity"] == "error" and i not in planted]
    assert not unplanted_errors, f"error exceptions nobody planted: {json.dumps(unplanted_errors[:5], indent=1)}"
    for e in found.values():
        assert e["status"] == "open" and e["summary"] and e["evidence"]


def test_demo_quarantines_the_planted_bad_rows_with_their_reason(demo):
    out, summary, manifest = demo
    assert manifest["quarantine"], "the demo must plant at least one row that cannot be mapped"
    rows = json.loads(cli("--config", str(out / "threadline.yaml"), "quarantine", "list", "--limit", "0", "--json"))
    for planted in manifest["quarantine"]:
        hits = [r for r in rows if r["source"] == planted["source"] and r["stream"] == planted["stream"]
                and r["source_key"] == planted["source_key"]]
        assert hits, f"not quarantined: {planted}"
        assert any(planted["reason_contains"].lower() in r["reason"].lower() for r in hits), (planted, hits)
    totals = summary["totals"]
    assert totals["rows_landed"] == totals["rows_loaded"] + totals["rows_quarantined"] + totals["rows_skipped"]
    assert totals["rows_quarantined"] >= len(manifest["quarantine"])


def test_run_log_and_rule_listing_through_the_cli(demo):
    out, summary, _ = demo
    runs = json.loads(cli("--config", str(out / "threadline.yaml"), "runs", "list", "--json"))
    assert runs[0]["run_id"] == summary["run_id"] and runs[0]["status"] == "succeeded"
    for stream in runs[0]["streams"]:
        assert stream["rows_landed"] == stream["rows_loaded"] + stream["rows_quarantined"] + stream["rows_skipped"], stream
        assert stream["status"] == "succeeded"
        # only the MES material stream has records of another kind: the finished lots, which its spec skips
        assert (stream["rows_skipped"] > 0) == ((stream["source"], stream["stream"]) == ("mes", "material_issues")), stream
    rules = json.loads(cli("--config", str(out / "threadline.yaml"), "rules", "list", "--json"))
    assert {r["id"] for r in rules} >= {"LNK-001", "LNK-002", "OSP-001", "OSP-005", "CST-003", "TRC-001"}
    assert (out / "reports" / "gap_report.html").is_file() and (out / "reports" / "gap_report.csv").is_file()


def test_running_the_same_pipeline_again_changes_nothing(demo):
    out, first, manifest = demo
    url = f"sqlite:///{out / 'warehouse.sqlite'}"
    before = table_counts(url)
    ids_before = {e["exception_id"] for e in json.loads(cli(
        "--config", str(out / "threadline.yaml"), "exceptions", "list", "--limit", "0", "--json"))}
    events_before = table_counts_events(url)

    second = json.loads(cli("demo", "--out", str(out), "--json"))
    assert second["status"] == "succeeded" and second["run_id"] != first["run_id"]
    assert table_counts(url) == before
    ids_after = {e["exception_id"] for e in json.loads(cli(
        "--config", str(out / "threadline.yaml"), "exceptions", "list", "--limit", "0", "--json"))}
    assert ids_after == ids_before
    assert table_counts_events(url) == events_before, "a re-run must not change any exception's status"


def table_counts_events(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(schema.exception_event)).scalar_one()
    engine.dispose()
    return n


@pytest.mark.postgres
def test_the_same_end_to_end_run_with_a_postgresql_warehouse(tmp_path, pg_database):
    from threadline.config import load_config
    from threadline.demo.landscape import build_landscape
    from threadline.pipeline import run_pipeline

    landscape = build_landscape(tmp_path / "demo")
    os.environ.update(landscape.env)
    config = load_config(landscape.config_path)
    config.warehouse.url = pg_database.url.render_as_string(hide_password=False)
    manifest = json.loads(landscape.manifest_path.read_text())
    with landscape.start_erp_service():
        first = run_pipeline(config)
        counts = table_counts(config.warehouse.url)
        second = run_pipeline(config, full=True)
    assert first.status == second.status == "succeeded", (first.error, second.error)
    assert table_counts(config.warehouse.url) == counts
    engine = create_engine(config.warehouse.url)
    with engine.connect() as conn:
        rows = conn.execute(select(schema.exception.c.exception_id, schema.exception.c.severity)).all()
    engine.dispose()
    found = dict(rows)
    planted = planted_ids(manifest)
    assert set(planted) <= set(found)
    assert not [i for i, sev in found.items() if sev == "error" and i not in planted]
