"""Publish: exceptions with their lifecycle, and the cost roll-up history with its drill-down lines.

An exception's id is a hash of its rule and subject, so a re-run updates it instead of adding a
copy. New findings open; a resolved exception that is found again reopens; a waived one whose
evidence changed or whose waiver expired (the day after ``waiver_until``) reopens; an open or
acknowledged one, or one whose waiver expired, that is no longer found is resolved as "cleared by
data". Every status change is an append-only event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime

import pandas as pd
from sqlalchemy import select, update

from threadline.warehouse import schema
from threadline.warehouse.store import Warehouse, insert_rows, lock_for_write, upsert, utcnow

SYSTEM_ACTOR = "threadline"
#: what a steward set (threadline.exceptions); a re-run keeps it, a reopen clears all but the assignee
STEWARD_COLUMNS = ("status", "resolution", "resolution_note", "waiver_justification", "waiver_until", "assignee")
_CLEARED_ON_REOPEN = ["resolution", "resolution_note", "waiver_justification", "waiver_until"]


def _evidence_hash(evidence: pd.Series) -> pd.Series:
    return evidence.fillna("").map(lambda e: hashlib.sha1(e.encode()).hexdigest()[:16])


def waiver_expired(waiver_until: pd.Series, now: datetime) -> pd.Series:
    """Whether each waiver has run out at ``now``: it holds through its ``waiver_until`` day (UTC)."""
    return pd.to_datetime(waiver_until, errors="coerce").lt(pd.Timestamp(now.date()))  # no waiver: NaT, False


def publish_exceptions(warehouse: Warehouse, findings: pd.DataFrame, *, run_id: str,
                       rules_run: Iterable[str]) -> dict[str, int]:
    """Merge this run's findings into the exception table; returns counts of what changed.

    The exceptions are read, merged and written in one transaction that holds off other writers, so
    a steward's action made meanwhile is never overwritten: it waits, then finds the status moved
    and fails with "retry" (``threadline.exceptions.ConcurrentChangeError``).
    """
    with warehouse.engine.begin() as conn:
        lock_for_write(conn, schema.exception)
        existing = pd.read_sql(select(schema.exception), conn)
        counts = _merge_findings(conn, existing, findings, run_id=run_id, rules_run=set(rules_run))
    counts["open"] = warehouse.count(schema.exception, schema.exception.c.status == "open")
    return counts


def _merge_findings(conn, existing: pd.DataFrame, findings: pd.DataFrame, *, run_id: str,
                    rules_run: set[str]) -> dict[str, int]:
    """Write the lifecycle changes of this run's findings against the exceptions as they are."""
    now = utcnow()
    found = findings.copy()
    found["evidence_hash"] = _evidence_hash(found["evidence"]) if not found.empty else pd.Series(dtype=object)
    found = found.drop_duplicates("exception_id", keep="last")

    previous = existing.set_index("exception_id") if not existing.empty else None
    is_known = found["exception_id"].isin(existing["exception_id"]) if not existing.empty else \
        pd.Series(False, index=found.index)

    rows, events = [], []
    # new findings open
    new = found.loc[~is_known].assign(status="open", resolution=None, resolution_note=None, waiver_justification=None,
                                      waiver_until=None, assignee=None, first_seen_run=run_id,
                                      first_seen_at=now, status_changed_at=now)
    rows.append(new)
    events += [{"exception_id": i, "at": now, "actor": SYSTEM_ACTOR, "from_status": None, "to_status": "open",
                "reason": f"found by run {run_id}", "run_id": run_id} for i in new["exception_id"]]

    # findings seen before: keep the steward's status, unless the condition came back or the evidence moved
    seen = found.loc[is_known].copy()
    if not seen.empty:
        before = previous.loc[seen["exception_id"]]
        for column in (*STEWARD_COLUMNS, "first_seen_run", "first_seen_at", "status_changed_at"):
            seen[column] = before[column].to_numpy()
        old_hash = before["evidence_hash"].to_numpy()
        recurred = seen["status"].eq("resolved")
        evidence_moved = seen["status"].eq("waived") & (seen["evidence_hash"].to_numpy() != old_hash)
        expired = seen["status"].eq("waived") & waiver_expired(seen["waiver_until"], now) & ~evidence_moved
        reopen = recurred | evidence_moved | expired
        for exception_id, from_status, moved, until in zip(
                seen.loc[reopen, "exception_id"], seen.loc[reopen, "status"], evidence_moved[reopen],
                seen.loc[reopen, "waiver_until"]):
            reason = ("the evidence changed since the waiver" if moved else
                      f"waiver expired: it held until {until}" if from_status == "waived" else "the condition recurred")
            events.append({"exception_id": exception_id, "at": now, "actor": SYSTEM_ACTOR,
                           "from_status": from_status, "to_status": "open", "run_id": run_id, "reason": reason})
        seen.loc[reopen, ["status", "status_changed_at"]] = ["open", now]
        seen.loc[reopen, _CLEARED_ON_REOPEN] = None
        rows.append(seen)

    # open exceptions (and waivers that ran out) of rules that ran and found nothing this time are cleared by data
    cleared = pd.DataFrame()
    if not existing.empty:
        gone = (~existing["exception_id"].isin(found["exception_id"]) & existing["rule_id"].isin(rules_run)
                & (existing["status"].isin(["open", "acknowledged"])
                   | (existing["status"].eq("waived") & waiver_expired(existing["waiver_until"], now))))
        cleared = existing.loc[gone].copy()
        events += [{"exception_id": i, "at": now, "actor": SYSTEM_ACTOR, "from_status": s, "to_status": "resolved",
                    "reason": f"cleared by data: not found by run {run_id}", "run_id": run_id}
                   for i, s in zip(cleared["exception_id"], cleared["status"])]
        cleared = cleared.assign(status="resolved", resolution="cleared_by_data", resolution_note=None,
                                 waiver_justification=None, waiver_until=None, status_changed_at=now)
        rows.append(cleared)

    changed = pd.concat([r for r in rows if not r.empty], ignore_index=True) if any(not r.empty for r in rows) \
        else pd.DataFrame()
    if not changed.empty:
        seen_now = changed["exception_id"].isin(found["exception_id"])
        changed.loc[seen_now, "last_seen_run"] = run_id
        changed.loc[seen_now, "last_seen_at"] = now
    if not changed.empty:
        upsert(conn, schema.exception, changed[[c.name for c in schema.exception.columns]])
    if events:
        conn.execute(schema.exception_event.insert(), events)
    return {
        "found": int(len(found)),
        "new": int(len(new)),
        "reopened": int(sum(1 for e in events if e["to_status"] == "open" and e["from_status"])),
        "cleared_by_data": int(len(cleared)),
    }


#: roll-up columns that key a row within its grain; their text, joined, is the row's ``rollup_key``
_ROLLUP_KEYS = ("site", "wo_number", "op_seq", "asset_id", "item_number", "cost_centre", "supplier_id", "month")
#: a figure that moved by less than this (reporting currency) is rounding, not a restatement
_RESTATEMENT_THRESHOLD = 0.005


def rollup_keys(rollup: pd.DataFrame) -> pd.Series:
    """The grain and its keys as one text ("wo|NORTH|1001|||||||"): the same row in every run."""
    key = rollup["grain"].astype(str)
    for column in _ROLLUP_KEYS:
        key = key + "|" + rollup[column].astype(object).where(rollup[column].notna(), "").astype(str)
    return key


def _closed_at_previous_run(previous: pd.DataFrame) -> pd.Series:
    """Whether a previously published figure was final: a closed work order (or its operation), or a
    month that had ended by that run's as-of date. Other grains move as open work goes on."""
    by_wo = previous["grain"].isin(["wo", "operation"]) & previous["status"].eq("closed")
    month_end = pd.to_datetime(previous["month"], format="%Y-%m", errors="coerce") + pd.offsets.MonthBegin(1)
    by_month = previous["grain"].eq("month") & (month_end <= pd.to_datetime(previous["as_of"]))
    return (by_wo | by_month.fillna(False)).astype(bool)


def publish_rollup(warehouse: Warehouse, rollup: pd.DataFrame, cost_lines: pd.DataFrame, drilldown: pd.DataFrame,
                   *, run_id: str, as_of: date) -> dict[str, int]:
    """Add this run's roll-up, cost lines and drill-down to their history, in one transaction.

    Earlier runs' rows are kept; this run's roll-up rows become the current ones (``is_current``).
    Each row carries the actual cost the previous current row of the same key showed, and is flagged
    ``restated`` when a figure that was final then (a closed work order or operation, a month ended by
    that run's as-of date) has changed: a late invoice shows as a restatement, not a silent change.
    Row and line ids are "<run id>.<n>", so the drill-down rows of every run stay valid.
    Returns the counts of rows, lines, drill-down pairs and restated rows written.
    """
    rows = rollup.copy()
    rows["rollup_key"] = rollup_keys(rows)
    rows["rollup_row_id"] = run_id + "." + rows["rollup_row_id"].astype("int64").astype(str)
    rows = rows.assign(run_id=run_id, as_of=pd.Timestamp(as_of), computed_at=utcnow(), is_current=True)
    lines = cost_lines.assign(run_id=run_id, line_id=run_id + "." + cost_lines["line_id"].astype("int64").astype(str))
    pairs = pd.DataFrame({"rollup_row_id": run_id + "." + drilldown["rollup_row_id"].astype("int64").astype(str),
                          "line_id": run_id + "." + drilldown["line_id"].astype("int64").astype(str)})
    table = schema.cost_rollup
    with warehouse.engine.begin() as conn:
        lock_for_write(conn, table)
        previous = pd.read_sql(
            select(table.c.rollup_key, table.c.grain, table.c.status, table.c.month, table.c.as_of,
                   table.c.actual_cost).where(table.c.is_current.is_(True)), conn)
        previous = previous.drop_duplicates("rollup_key", keep="last")
        final = previous.assign(_final=_closed_at_previous_run(previous).to_numpy())
        before = rows[["rollup_key"]].merge(final[["rollup_key", "actual_cost", "_final"]], how="left", on="rollup_key")
        rows["previous_actual_cost"] = before["actual_cost"].to_numpy(dtype="float64", na_value=float("nan"))
        moved = (rows["actual_cost"] - rows["previous_actual_cost"]).abs() > _RESTATEMENT_THRESHOLD
        rows["restated"] = (before["_final"].fillna(False).astype(bool).to_numpy() & moved.to_numpy())
        conn.execute(update(table).where(table.c.is_current.is_(True)).values(is_current=False))
        insert_rows(conn, table, rows[[c.name for c in table.columns]])
        insert_rows(conn, schema.cost_line, lines[[c.name for c in schema.cost_line.columns]])
        insert_rows(conn, schema.cost_drilldown, pairs)
    return {"rollup_rows": int(len(rows)), "cost_lines": int(len(lines)), "drilldown": int(len(pairs)),
            "restated": int(rows["restated"].sum())}
