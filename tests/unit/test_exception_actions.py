"""Steward actions on exceptions, on a SQLite warehouse built by the real migrations: allowed and
refused transitions, one append-only event per change, and how runs treat what stewards decided."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import event, update

from threadline import exceptions as actions
from threadline.publish import publish_exceptions
from threadline.warehouse import schema
from threadline.warehouse.store import open_warehouse

NOW = datetime(2026, 11, 22, 9, 0)
TODAY = NOW.date()


def finding(exception_id: str, *, rule: str = "LNK-001", evidence: str = '{"qty": 1}', site: str = "NORTH") -> dict:
    return {"exception_id": exception_id, "rule_id": rule, "severity": "error", "site": site,
            "subject_entity": "po_line", "subject_source_system": "jde", "subject_source_key": exception_id,
            "wo_number": "W1", "op_seq": None, "po_number": "P1", "line_number": "1",
            "summary": f"summary of {exception_id}", "evidence": evidence}


def publish(warehouse, *findings: dict, run_id: str) -> dict:
    frame = pd.DataFrame(list(findings)) if findings else pd.DataFrame(columns=list(finding("x")))
    return publish_exceptions(warehouse, frame, run_id=run_id, rules_run={"LNK-001"})


@pytest.fixture()
def warehouse(tmp_path):
    w = open_warehouse(f"sqlite:///{tmp_path / 'wh.sqlite'}")
    publish(w, finding("EX-a"), finding("EX-b"), finding("EX-c", site="SOUTH"), run_id="R1")
    yield w
    w.dispose()


def row(warehouse, exception_id: str) -> dict:
    table = warehouse.read_table(schema.exception).set_index("exception_id")
    return table.loc[exception_id].to_dict()


def history(warehouse, exception_id: str | None = None) -> pd.DataFrame:
    e = schema.exception_event
    where = [e.c.exception_id == exception_id] if exception_id else []
    return warehouse.read_table(e, *where, order_by=e.c.event_id)


def test_ack_changes_the_status_and_writes_one_event_with_who_when_from_to_and_why(warehouse):
    (change,) = actions.acknowledge(warehouse, ["EX-a"], actor="alice", note="looking at it", now=NOW)
    assert (change.from_status, change.to_status, change.actor) == ("open", "acknowledged", "alice")
    current = row(warehouse, "EX-a")
    assert current["status"] == "acknowledged" and pd.Timestamp(current["status_changed_at"]) == pd.Timestamp(NOW)
    last = history(warehouse, "EX-a").iloc[-1]
    assert (last["actor"], last["from_status"], last["to_status"], last["reason"], last["action"]) == (
        "alice", "open", "acknowledged", "looking at it", "ack")
    assert pd.Timestamp(last["at"]) == pd.Timestamp(NOW) and pd.isna(last["run_id"])
    assert row(warehouse, "EX-b")["status"] == "open"


def test_a_refused_transition_in_a_bulk_action_changes_nothing_and_names_status_and_allowed_actions(warehouse):
    actions.resolve(warehouse, ["EX-b"], "duplicate", actor="alice")
    events_before = len(history(warehouse))
    with pytest.raises(actions.TransitionRefusedError) as refused:
        actions.acknowledge(warehouse, ["EX-a", "EX-b"], actor="bob")
    message = str(refused.value)
    assert "EX-b is resolved; allowed: reopen, assign, comment" in message and "EX-a" not in message
    assert row(warehouse, "EX-a")["status"] == "open" and len(history(warehouse)) == events_before


def test_an_unknown_id_is_named_and_nothing_changes(warehouse):
    with pytest.raises(actions.UnknownExceptionError, match="EX-nope"):
        actions.acknowledge(warehouse, ["EX-a", "EX-nope"], actor="alice")
    assert row(warehouse, "EX-a")["status"] == "open" and len(history(warehouse)) == 3


def test_bulk_actions_act_on_every_id_once(warehouse):
    changes = actions.acknowledge(warehouse, ["EX-a", "EX-b", "EX-a"], actor="alice")
    assert [c.exception_id for c in changes] == ["EX-a", "EX-b"]
    assert {row(warehouse, i)["status"] for i in ("EX-a", "EX-b")} == {"acknowledged"}
    assert len(history(warehouse)) == 3 + 2


def test_assign_and_comment_keep_the_status_and_are_events_from_and_to_the_same_status(warehouse):
    actions.acknowledge(warehouse, ["EX-a"], actor="alice")
    actions.assign(warehouse, ["EX-a", "EX-b"], "bob", actor="alice")
    assert (row(warehouse, "EX-a")["assignee"], row(warehouse, "EX-a")["status"]) == ("bob", "acknowledged")
    actions.comment(warehouse, "EX-a", "supplier promised a corrected PO", actor="bob")
    actions.assign(warehouse, ["EX-a"], None, actor="bob")
    assert pd.isna(row(warehouse, "EX-a")["assignee"])
    story = history(warehouse, "EX-a")[["action", "from_status", "to_status", "reason"]].values.tolist()
    assert story[-3:] == [["assign", "acknowledged", "acknowledged", "assigned to bob"],
                          ["comment", "acknowledged", "acknowledged", "supplier promised a corrected PO"],
                          ["assign", "acknowledged", "acknowledged", "assignment cleared"]]
    with pytest.raises(actions.ExceptionActionError, match="comment is required"):
        actions.comment(warehouse, "EX-a", "   ", actor="bob")


def test_resolve_needs_a_known_reason_code_and_keeps_code_and_note(warehouse):
    with pytest.raises(actions.ExceptionActionError, match="valid: fixed_in_source, linked, duplicate, not_an_issue"):
        actions.resolve(warehouse, ["EX-a"], "fixed", actor="alice")
    actions.resolve(warehouse, ["EX-a"], "fixed_in_source", note="PO 4512 corrected in JDE", actor="alice")
    current = row(warehouse, "EX-a")
    assert (current["status"], current["resolution"], current["resolution_note"]) == (
        "resolved", "fixed_in_source", "PO 4512 corrected in JDE")
    assert history(warehouse, "EX-a").iloc[-1]["reason"] == "fixed_in_source: PO 4512 corrected in JDE"
    with pytest.raises(actions.TransitionRefusedError, match="EX-a is resolved"):
        actions.resolve(warehouse, ["EX-a"], "duplicate", actor="alice")


def test_a_waiver_needs_a_justification_and_an_expiry_from_today_up_to_a_year_ahead(warehouse):
    with pytest.raises(actions.ExceptionActionError, match="in the past"):
        actions.waive(warehouse, ["EX-a"], justification="ok", until=TODAY - timedelta(days=1), now=NOW, actor="a")
    with pytest.raises(actions.ExceptionActionError, match="more than 365 days ahead"):
        actions.waive(warehouse, ["EX-a"], justification="ok", until=TODAY + timedelta(days=366), now=NOW, actor="a")
    with pytest.raises(actions.ExceptionActionError, match="justification is required"):
        actions.waive(warehouse, ["EX-a"], justification=" ", until=TODAY, now=NOW, actor="a")
    assert row(warehouse, "EX-a")["status"] == "open" and len(history(warehouse)) == 3
    actions.waive(warehouse, ["EX-a"], justification="blanket PO, agreed with finance",
                  until=TODAY + timedelta(days=365), now=NOW, actor="alice")
    current = row(warehouse, "EX-a")
    assert current["status"] == "waived" and current["waiver_justification"] == "blanket PO, agreed with finance"
    assert pd.Timestamp(current["waiver_until"]).date() == TODAY + timedelta(days=365)
    # renewing a waiver is allowed and recorded as waived -> waived
    (renewal,) = actions.waive(warehouse, ["EX-a"], justification="renewed", until=TODAY + timedelta(days=30),
                               now=NOW, actor="bob")
    assert (renewal.from_status, renewal.to_status) == ("waived", "waived")
    assert pd.Timestamp(row(warehouse, "EX-a")["waiver_until"]).date() == TODAY + timedelta(days=30)


def test_reopen_needs_a_reason_and_clears_what_the_closing_action_set(warehouse):
    with pytest.raises(actions.TransitionRefusedError, match="EX-a is open; allowed: ack, resolve, waive"):
        actions.reopen(warehouse, ["EX-a"], reason="x", actor="alice")
    actions.waive(warehouse, ["EX-a"], justification="j", until=TODAY + timedelta(days=10), now=NOW, actor="alice")
    actions.resolve(warehouse, ["EX-b"], "linked", note="n", actor="alice")
    with pytest.raises(actions.ExceptionActionError, match="reason to reopen is required"):
        actions.reopen(warehouse, ["EX-a", "EX-b"], reason="", actor="bob")
    actions.reopen(warehouse, ["EX-a", "EX-b"], reason="the supplier disputes it", actor="bob")
    for exception_id in ("EX-a", "EX-b"):
        current = row(warehouse, exception_id)
        assert current["status"] == "open"
        assert all(pd.isna(current[c]) for c in ("resolution", "resolution_note", "waiver_justification",
                                                "waiver_until")), current


def test_the_actor_comes_from_the_environment_then_the_os_user(warehouse, monkeypatch):
    monkeypatch.setenv(actions.ACTOR_ENV, "steward.carol")
    assert actions.acknowledge(warehouse, ["EX-a"])[0].actor == "steward.carol"
    monkeypatch.delenv(actions.ACTOR_ENV)
    monkeypatch.setattr(actions.getpass, "getuser", lambda: "osuser")
    assert actions.acknowledge(warehouse, ["EX-b"])[0].actor == "osuser"
    with pytest.raises(actions.ExceptionActionError, match="needs an actor"):
        actions.acknowledge(warehouse, ["EX-c"], actor="  ")


def test_events_are_only_ever_appended(warehouse):
    before = history(warehouse)
    actions.acknowledge(warehouse, ["EX-a"], actor="alice")
    actions.resolve(warehouse, ["EX-a"], "duplicate", actor="alice")
    publish(warehouse, finding("EX-a"), finding("EX-b"), finding("EX-c"), run_id="R2")
    after = history(warehouse)
    assert after.iloc[:len(before)].astype(str).values.tolist() == before.astype(str).values.tolist()
    assert len(after) == len(before) + 3  # ack, resolve, and the run reopening it


def test_a_change_made_meanwhile_makes_the_action_fail_without_writing_anything(warehouse):
    # a run (or another steward) resolves EX-a between the action's read and its write
    def resolve_first(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE tl_exception SET"):
            cursor.execute("UPDATE tl_exception SET status = 'resolved' WHERE exception_id = 'EX-a'")

    event.listen(warehouse.engine, "before_cursor_execute", resolve_first)
    try:
        with pytest.raises(actions.ConcurrentChangeError, match="EX-a"):
            actions.acknowledge(warehouse, ["EX-a"], actor="alice")
    finally:
        event.remove(warehouse.engine, "before_cursor_execute", resolve_first)
    assert row(warehouse, "EX-a")["status"] == "open" and len(history(warehouse)) == 3


# ------------------------------------------------------------------ runs and steward decisions

def test_a_run_reopens_a_resolved_exception_that_recurs_and_keeps_a_waiver_while_evidence_is_unchanged(warehouse):
    actions.resolve(warehouse, ["EX-a"], "fixed_in_source", actor="alice")
    actions.waive(warehouse, ["EX-b"], justification="j", until=TODAY + timedelta(days=30), actor="alice")
    actions.acknowledge(warehouse, ["EX-c"], actor="alice")
    actions.assign(warehouse, ["EX-c"], "bob", actor="alice")
    publish(warehouse, finding("EX-a"), finding("EX-b"), finding("EX-c", site="SOUTH"), run_id="R2")
    assert row(warehouse, "EX-a")["status"] == "open" and pd.isna(row(warehouse, "EX-a")["resolution"])
    last = history(warehouse, "EX-a").iloc[-1]
    assert (last["actor"], last["from_status"], last["to_status"], last["reason"], last["run_id"]) == (
        "threadline", "resolved", "open", "the condition recurred", "R2")
    waived = row(warehouse, "EX-b")
    assert waived["status"] == "waived" and waived["waiver_justification"] == "j"
    assert (row(warehouse, "EX-c")["status"], row(warehouse, "EX-c")["assignee"]) == ("acknowledged", "bob")


def test_an_expired_waiver_reopens_on_the_next_run_with_a_system_event(warehouse):
    actions.waive(warehouse, ["EX-a", "EX-b"], justification="j", until=TODAY, now=NOW, actor="alice")
    with warehouse.engine.begin() as conn:  # time passes: the waiver of EX-a ended yesterday
        conn.execute(update(schema.exception).where(schema.exception.c.exception_id == "EX-a")
                     .values(waiver_until=date.today() - timedelta(days=1)))
        conn.execute(update(schema.exception).where(schema.exception.c.exception_id == "EX-b")
                     .values(waiver_until=date.today()))
    counts = publish(warehouse, finding("EX-a"), finding("EX-b"), finding("EX-c", site="SOUTH"), run_id="R2")
    assert counts["reopened"] == 1
    reopened = row(warehouse, "EX-a")
    assert reopened["status"] == "open" and pd.isna(reopened["waiver_until"])
    assert pd.isna(reopened["waiver_justification"])
    last = history(warehouse, "EX-a").iloc[-1]
    assert (last["actor"], last["from_status"], last["to_status"], last["run_id"]) == (
        "threadline", "waived", "open", "R2")
    assert last["reason"].startswith("waiver expired")
    assert row(warehouse, "EX-b")["status"] == "waived"  # a waiver holds through its last day


def test_an_expired_waiver_whose_condition_is_gone_is_cleared_by_data_and_a_valid_one_stays(warehouse):
    actions.waive(warehouse, ["EX-a", "EX-b"], justification="j", until=TODAY, now=NOW, actor="alice")
    with warehouse.engine.begin() as conn:
        conn.execute(update(schema.exception).where(schema.exception.c.exception_id == "EX-a")
                     .values(waiver_until=date.today() - timedelta(days=1)))
        conn.execute(update(schema.exception).where(schema.exception.c.exception_id == "EX-b")
                     .values(waiver_until=date.today() + timedelta(days=5)))
    publish(warehouse, finding("EX-c", site="SOUTH"), run_id="R2")
    assert (row(warehouse, "EX-a")["status"], row(warehouse, "EX-a")["resolution"]) == ("resolved", "cleared_by_data")
    assert row(warehouse, "EX-b")["status"] == "waived"


def test_a_waiver_ends_when_the_evidence_changes_even_before_it_expires(warehouse):
    actions.waive(warehouse, ["EX-a"], justification="j", until=date.today() + timedelta(days=30), actor="alice")
    publish(warehouse, finding("EX-a", evidence='{"qty": 2}'), finding("EX-b"), finding("EX-c"), run_id="R2")
    assert row(warehouse, "EX-a")["status"] == "open"
    assert history(warehouse, "EX-a").iloc[-1]["reason"] == "the evidence changed since the waiver"


# ------------------------------------------------------------------ reads

def test_find_exceptions_filters_by_assignee_status_site_and_age(warehouse):
    with warehouse.engine.begin() as conn:  # EX-a was first seen ten days before NOW
        conn.execute(update(schema.exception).where(schema.exception.c.exception_id == "EX-a")
                     .values(first_seen_at=NOW - timedelta(days=10)))
        conn.execute(update(schema.exception).where(schema.exception.c.exception_id != "EX-a")
                     .values(first_seen_at=NOW - timedelta(hours=1)))
    actions.assign(warehouse, ["EX-b", "EX-c"], "bob", actor="alice")
    actions.acknowledge(warehouse, ["EX-c"], actor="bob")

    def ids(**filters):
        return actions.find_exceptions(warehouse, now=NOW, **filters)["exception_id"].tolist()

    assert ids(assignee="bob") == ["EX-b", "EX-c"]
    assert ids(assignee="bob", status="acknowledged") == ["EX-c"]
    assert ids(site="SOUTH") == ["EX-c"]
    assert ids(older_than_days=7) == ["EX-a"]
    assert ids(newer_than_days=7) == ["EX-b", "EX-c"]
    assert actions.find_exceptions(warehouse, now=NOW, older_than_days=7)["age_days"].tolist() == [10]
    with pytest.raises(actions.ExceptionActionError, match="valid: open, acknowledged, resolved, waived"):
        actions.find_exceptions(warehouse, status="closed")


def test_exception_history_gives_the_exception_its_parsed_evidence_and_events_oldest_first(warehouse):
    actions.acknowledge(warehouse, ["EX-a"], actor="alice")
    actions.waive(warehouse, ["EX-a"], justification="j", until=date.today() + timedelta(days=3), actor="alice")
    exception, events = actions.exception_history(warehouse, "EX-a")
    assert exception["evidence"] == {"qty": 1} and exception["status"] == "waived"
    assert exception["waiver_until"] == (date.today() + timedelta(days=3)).isoformat()
    assert [(e["from_status"], e["to_status"], e["action"]) for e in events] == [
        (None, "open", None), ("open", "acknowledged", "ack"), ("acknowledged", "waived", "waive")]
    json.dumps(events)  # JSON-ready as it is
    with pytest.raises(actions.UnknownExceptionError):
        actions.exception_history(warehouse, "EX-zz")


def test_the_transition_table_in_the_docstring_matches_the_code():
    doc = actions.__doc__
    for status in actions.STATUSES:
        line = next(l for l in doc.splitlines() if l.strip().startswith(status + " "))
        targets = [actions.TRANSITIONS[a].get(status, "-") for a in ("ack", "resolve", "waive", "reopen")]
        assert line.replace("(renew)", "").split()[1:5] == targets, line

