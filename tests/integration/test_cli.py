"""The command line as an operator meets it: exit codes, messages, `check`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.commands import threadline as cli
from threadline.demo.landscape import build_landscape
from threadline.warehouse.db import head_revision

ROOT_SPECS = Path(__file__).resolve().parents[2] / "mappings" / "specs"



@pytest.fixture(scope="module")
def landscape(tmp_path_factory):
    return build_landscape(tmp_path_factory.mktemp("cli"), scale=60)


def test_a_missing_config_is_one_clear_message_and_exit_code_2(tmp_path):
    done = cli("--config", str(tmp_path / "nope.yaml"), "exceptions", "list")
    assert done.returncode == 2
    assert "no configuration file here" in done.stderr and "Traceback" not in done.stderr


def test_an_invalid_config_lists_every_problem(tmp_path):
    path = tmp_path / "threadline.yaml"
    path.write_text("warehouse: {}\nlanding_dir: l\nreports_dir: r\nreporting_currency: USD\nsites: []\n"
                    "sources: [{name: Bad Name, kind: ftp, role: erp, streams: []}]\n")
    done = cli("--config", str(path), "run")
    assert done.returncode == 2
    for fragment in ("sites", "sources[0].name", "sources[0].kind", "sources[0].streams"):
        assert fragment in done.stderr


def test_check_reports_each_source_and_what_is_wrong(landscape):
    env = dict(landscape.env)
    down = cli("--config", str(landscape.config_path), "check", "--json", env=env)
    assert down.returncode == 1
    results = {r["source"]: r for r in json.loads(down.stdout)}
    assert results["jde"]["ok"] and results["maximo"]["ok"] and results["mes"]["ok"]
    assert not results["erp_soap"]["ok"] and "does not answer" in results["erp_soap"]["problems"][0]
    with landscape.start_erp_service():
        up = cli("--config", str(landscape.config_path), "check", "--json", env=env)
        wrong = cli("--config", str(landscape.config_path), "check", "--json",
                    env={**env, "THREADLINE_DEMO_ERP_PASSWORD": "wrong"})
    assert up.returncode == 0 and all(r["ok"] for r in json.loads(up.stdout))
    refused = {r["source"]: r for r in json.loads(wrong.stdout)}["erp_soap"]
    assert "refused the credentials" in refused["problems"][0] and "wrong" not in refused["problems"][0]


def test_mappings_check_and_db_upgrade(landscape, tmp_path):
    done = cli("--config", str(landscape.config_path), "mappings", "check", "--json")
    assert done.returncode == 0
    entries = json.loads(done.stdout)
    assert {e["entity"] for e in entries} >= {"po_line", "work_order", "wo_operation", "receipt", "invoice_line"}
    upgraded = cli("--config", str(landscape.config_path), "db", "upgrade")
    assert upgraded.returncode == 0 and f"revision {head_revision()}" in upgraded.stdout


def test_mappings_check_on_a_spec_being_written_lists_every_problem(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("entity: work_order\nsource_key: {from: WONUM}\nwhere: [{column: X, like: Y}]\n"
                      "fields:\n  wo_number: {from: WONUM, transforms: [strip_paddin]}\n"
                      "  kind: {value: repair}\n  site: {from: SITEID}\n  colour: {from: C}\n")
    done = cli("mappings", "check", str(broken), "--json")
    assert done.returncode == 1
    (result,) = json.loads(done.stdout)
    assert result["spec"] == str(broken)
    problems = "\n".join(result["problems"])
    for fragment in ("fields.wo_number.transforms[0]: unknown transform 'strip_paddin'",
                     "fields.kind.value: 'repair' is not allowed; valid: maintenance, production",
                     "fields.colour: work_order has no field 'colour'",
                     "required fields of work_order not mapped: status", "where[0]"):
        assert fragment in problems, fragment
    good = cli("mappings", "check", str(ROOT_SPECS / "maximo_ws" / "WOCHANGE.yaml"))
    assert good.returncode == 0 and "work_order" in good.stdout
