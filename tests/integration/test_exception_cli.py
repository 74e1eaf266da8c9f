"""The steward's exception commands through the installed CLI on the demo landscape: ids stay
stable across runs, steward decisions survive re-runs, and every change is in the history.

The runs read the demo's JD Edwards, Maximo and MES sources only, which need no service started.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy import update

from tests.integration.commands import run_local_sources
from threadline.config import load_config
from threadline.warehouse import schema
from threadline.warehouse.store import open_warehouse, utcnow

def listed(steward, *filters: str) -> dict[str, dict]:
    done = steward("exceptions", "list", "--limit", "0", "--json", *filters)
    assert done.returncode == 0, done.stderr
    return {e["exception_id"]: e for e in json.loads(done.stdout)}


def shown(steward, exception_id: str) -> dict:
    done = steward("exceptions", "show", exception_id, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def warehouse_of(landscape):
    return open_warehouse(load_config(landscape.config_path, check_specs=False).warehouse.resolved_url(),
                          migrate=False)


def test_steward_decisions_survive_re_runs_and_runs_reopen_what_comes_back(landscape, steward):
    run_local_sources(steward)
    first = listed(steward)
    assert len(first) >= 4 and {e["status"] for e in first.values()} == {"open"}
    second_run = run_local_sources(steward)
    assert set(listed(steward)) == set(first)  # the same ids, not copies
    assert second_run["exceptions"]["new"] == 0

    resolved, waived, expiring, acked = sorted(first)[:4]
    assert steward("exceptions", "resolve", resolved, "--reason", "fixed_in_source").returncode == 0
    until = (date.today() + timedelta(days=30)).isoformat()
    done = steward("exceptions", "waive", waived, expiring, "--justification", "agreed with finance", "--until", until)
    assert done.returncode == 0, done.stderr
    assert steward("exceptions", "ack", acked, "--actor", "bob").returncode == 0
    assert steward("exceptions", "assign", acked, "--to", "carol").returncode == 0
    warehouse = warehouse_of(landscape)
    try:
        with warehouse.engine.begin() as conn:  # time passes for one waiver: it ended yesterday
            conn.execute(update(schema.exception).where(schema.exception.c.exception_id == expiring)
                         .values(waiver_until=date.today() - timedelta(days=1)))
    finally:
        warehouse.dispose()

    run_local_sources(steward)
    after = listed(steward)
    assert set(after) == set(first)
    assert after[resolved]["status"] == "open"  # the condition is still in the data
    assert after[waived]["status"] == "waived" and after[waived]["waiver_until"] == until
    assert after[expiring]["status"] == "open" and after[expiring]["waiver_until"] is None
    assert (after[acked]["status"], after[acked]["assignee"]) == ("acknowledged", "carol")
    recurred = shown(steward, resolved)["events"]
    assert [(e["actor"], e["from_status"], e["to_status"], e["action"]) for e in recurred] == [
        ("threadline", None, "open", None), ("alice", "open", "resolved", "resolve"),
        ("threadline", "resolved", "open", None)]
    assert recurred[-1]["reason"] == "the condition recurred" and recurred[-1]["run_id"]
    expired = shown(steward, expiring)["events"][-1]
    assert (expired["actor"], expired["from_status"], expired["to_status"]) == ("threadline", "waived", "open")
    assert expired["reason"].startswith("waiver expired")
    assert [(e["actor"], e["action"]) for e in shown(steward, acked)["events"]][1:] == [("bob", "ack"),
                                                                                       ("alice", "assign")]


def test_actions_filters_refusals_and_history_through_the_cli(landscape, steward):
    run_local_sources(steward)
    ids = sorted(listed(steward))
    a, b, c = ids[:3]

    done = steward("exceptions", "ack", a, b, "--note", "on it", "--json")
    assert done.returncode == 0, done.stderr
    changes = json.loads(done.stdout)
    assert [(x["exception_id"], x["from_status"], x["to_status"], x["actor"]) for x in changes] == [
        (a, "open", "acknowledged", "alice"), (b, "open", "acknowledged", "alice")]

    # a bulk ack naming an acknowledged exception is refused as a whole: exit 1, nothing changed
    refused = steward("exceptions", "ack", c, a)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"{a} is acknowledged; allowed: resolve, waive, reopen, assign, comment" in " ".join(refused.stderr.split())
    assert listed(steward)[c]["status"] == "open"

    assert steward("exceptions", "assign", b, c, "--to", "dave").returncode == 0
    assert set(listed(steward, "--assignee", "dave")) == {b, c}
    assert set(listed(steward, "--assignee", "dave", "--status", "acknowledged")) == {b}
    assert steward("exceptions", "assign", c, "--clear").returncode == 0
    assert set(listed(steward, "--assignee", "dave")) == {b}

    assert steward("exceptions", "comment", b, "supplier sends a corrected invoice").returncode == 0
    bad_reason = steward("exceptions", "resolve", b, "--reason", "fixed")
    assert bad_reason.returncode == 1 and "valid: fixed_in_source, linked, duplicate, not_an_issue" in bad_reason.stderr
    assert steward("exceptions", "resolve", b, "--reason", "linked", "--note", "WO linked").returncode == 0
    past = steward("exceptions", "waive", c, "--justification", "x", "--until", "2020-01-01")
    assert past.returncode == 1 and "in the past" in past.stderr
    assert listed(steward)[c]["status"] == "open"
    missing = steward("exceptions", "show", "EX-0000000000000000")
    assert missing.returncode == 1 and "no exception EX-0000000000000000" in missing.stderr

    story = shown(steward, b)
    assert story["exception"]["status"] == "resolved" and story["exception"]["resolution"] == "linked"
    assert story["exception"]["evidence"] is not None and isinstance(story["exception"]["evidence"], dict)
    assert [(e["action"], e["from_status"], e["to_status"], e["reason"]) for e in story["events"]][1:] == [
        ("ack", "open", "acknowledged", "on it"),
        ("assign", "acknowledged", "acknowledged", "assigned to dave"),
        ("comment", "acknowledged", "acknowledged", "supplier sends a corrected invoice"),
        ("resolve", "acknowledged", "resolved", "linked: WO linked")]
    text = steward("exceptions", "show", b)
    assert text.returncode == 0 and "supplier sends a corrected invoice" in text.stdout and "evidence" in text.stdout

    reopened = steward("exceptions", "reopen", b, "--reason", "the link was wrong", "--actor", "erin", "--json")
    assert reopened.returncode == 0
    assert json.loads(reopened.stdout)[0] | {"at": None} == {
        "exception_id": b, "action": "reopen", "actor": "erin", "at": None, "from_status": "resolved",
        "to_status": "open", "reason": "the link was wrong"}

    # age counts from first_seen_at
    warehouse = warehouse_of(landscape)
    try:
        with warehouse.engine.begin() as conn:
            conn.execute(update(schema.exception).where(schema.exception.c.exception_id == a)
                         .values(first_seen_at=utcnow() - timedelta(days=40)))
    finally:
        warehouse.dispose()
    assert set(listed(steward, "--older-than", "30")) == {a}
    assert a not in listed(steward, "--newer-than", "30") and c in listed(steward, "--newer-than", "30")
    assert listed(steward, "--older-than", "30")[a]["age_days"] == 40
