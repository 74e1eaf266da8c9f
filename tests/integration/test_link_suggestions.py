"""LNK-006 suggestions end to end: precision and recall over the demo's planted ground truth, and the
steward's ``threadline links`` decisions through the installed CLI on the SQLite warehouse.

The CLI runs read the demo's JD Edwards, Maximo and MES sources only, which need no service started.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.integration.commands import run_local_sources
from threadline.config import load_config
from threadline.warehouse import schema
from threadline.warehouse.store import open_warehouse

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from suggestions import demo_reconcile, score_suggestions  # noqa: E402

pytestmark = pytest.mark.slow

def test_suggestion_precision_and_recall_over_the_demo_at_the_default_scale(tmp_path):
    """At the default threshold, suggestions over the demo (scale 1000) are right at least 9 times in 10."""
    manifest, result = demo_reconcile(tmp_path / "demo", scale=1000)
    figures = score_suggestions(result.suggestions, manifest["link_truth"])
    print(f"LNK-006 suggestions over the demo at scale 1000: {figures}")
    assert figures["planted"] >= 20
    assert figures["precision"] >= 0.9
    # every line whose description names its work order in one of the planted ways is found
    assert figures["recall"] >= 0.7
    assert {k: v["found"] for k, v in figures["per_text_style"].items() if k != "none"} == \
        {k: v["planted"] for k, v in figures["per_text_style"].items() if k != "none"}


@pytest.fixture()
def landscape_scale() -> int:
    """A demo landscape large enough for two planted lines of each kind per site."""
    return 200


def _links(steward, *filters: str) -> dict[str, dict]:
    done = steward("links", "list", "--limit", "0", "--json", *filters)
    assert done.returncode == 0, done.stderr
    return {link["link_id"]: link for link in json.loads(done.stdout)}


def _lnk006(steward) -> dict[tuple, dict]:
    done = steward("exceptions", "list", "--rule", "LNK-006", "--limit", "0", "--json")
    assert done.returncode == 0, done.stderr
    return {(e["site"], e["po_number"], e["line_number"]): e for e in json.loads(done.stdout)}


def _warehouse(landscape):
    return open_warehouse(load_config(landscape.config_path, check_specs=False).warehouse.resolved_url(),
                          migrate=False)


def test_confirm_reject_and_changed_evidence_through_the_cli(landscape, steward):
    truth = {(t["po_number"], t["line_number"]): t for t in json.loads(landscape.manifest_path.read_text())["link_truth"]
             if t["site"] == "NORTH"}
    first = run_local_sources(steward)
    suggested = _links(steward, "--status", "suggested")
    assert first["links"]["suggested"] == first["links"]["new"] == len(suggested)
    right = [s for s in suggested.values() if truth.get((s["po_number"], s["line_number"]), {}).get("wo_number")
             == s["wo_number"]]
    assert len(right) >= 2, suggested
    keep, drop = right[0], right[1]
    assert keep["evidence"]["factors"]["text"]["score"] > 0
    exceptions = _lnk006(steward)
    kept_line = ("NORTH", keep["po_number"], keep["line_number"])
    assert exceptions[kept_line]["status"] == "open"

    # confirm: the next run links the line (LNK-006 clears) and costs it on the work order
    done = steward("links", "confirm", keep["link_id"], "--reason", "buyer confirmed the job", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["to_status"] == "confirmed"
    done = steward("links", "reject", drop["link_id"], "--reason", "another job of the same supplier", "--json")
    assert done.returncode == 0, done.stderr
    run_local_sources(steward)
    after = _lnk006(steward)
    assert after[kept_line]["status"] == "resolved" and after[kept_line]["resolution"] == "cleared_by_data"
    warehouse = _warehouse(landscape)
    lines = warehouse.read_table(schema.cost_line, schema.cost_line.c.wo_number == keep["wo_number"])
    line_keys = set(lines.loc[lines["entity"] == "po_line", "source_key"])
    assert truth[(keep["po_number"], keep["line_number"])]["po_source_key"] in line_keys
    links = _links(steward)
    assert links[keep["link_id"]]["status"] == "confirmed"

    # reject: the same evidence is not suggested again
    assert links[drop["link_id"]]["status"] == "rejected"
    dropped_line = ("NORTH", drop["po_number"], drop["line_number"])
    assert after[dropped_line]["status"] == "open"  # still unlinked, no suggestion left for it
    assert "no candidate reaches the threshold" in after[dropped_line]["summary"]

    # the evidence changes (the line's quantity is corrected): it is suggested again
    table = schema.CANONICAL_TABLES["po_line"]
    with warehouse.engine.begin() as conn:
        conn.execute(update(table).where(table.c.site == "NORTH", table.c.po_number == drop["po_number"],
                                         table.c.line_number == drop["line_number"])
                     .values(qty_ordered=table.c.qty_ordered + 1))
    run_local_sources(steward)
    assert _links(steward)[drop["link_id"]]["status"] == "suggested"

    done = steward("links", "show", drop["link_id"], "--json")
    assert done.returncode == 0, done.stderr
    history = json.loads(done.stdout)["events"]
    assert [e["action"] for e in history] == ["suggested", "reject", "suggested"]
    assert history[1]["actor"] == "alice" and history[1]["reason"] == "another job of the same supplier"
    assert history[1]["fingerprint"] and history[1]["fingerprint"] != history[2]["fingerprint"]

    # a refused decision changes nothing and says why
    done = steward("links", "confirm", "LK-0000000000000000")
    assert done.returncode == 1 and "no suggested or decided link" in done.stderr
