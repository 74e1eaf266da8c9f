"""What a steward does with exceptions: acknowledge, assign, comment, resolve, waive, reopen.

These functions work on a :class:`~threadline.warehouse.store.Warehouse` and are shared by the
command line and the web app. Each call is one transaction: the status change of every exception
it names and one append-only event per exception (who, when, from, to, why), or nothing at all
when any of them is refused. Runs make their own changes (``threadline.publish``): new findings
open, a resolved one found again reopens, a waived one reopens when its evidence changes or its
waiver expires, and an open or acknowledged one no longer found is resolved as cleared by data.

Allowed steward transitions (anything else is refused with the allowed actions named)::

    from \\ action   ack            resolve     waive          reopen    assign, comment
    open            acknowledged   resolved    waived         -         (status unchanged)
    acknowledged    -              resolved    waived         open      (status unchanged)
    resolved        -              -           -              open      (status unchanged)
    waived          -              resolved    waived (renew) open      (status unchanged)

A steward takes a resolved exception back only through an explicit ``reopen`` (with a reason);
a run reopens it by itself when the condition recurs. ``waive`` on a waived exception renews the
waiver with a new justification and expiry, and ``resolve`` on a waived one records that the cause
was fixed before the waiver ran out.

Comments and assignments are events whose from and to status are equal, told apart by their
``action``: one ordered history per exception is what an auditor reads, and a second table would
only have to be merged back into it.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select, update

from threadline.errors import FatalError
from threadline.warehouse import schema
from threadline.warehouse.store import Warehouse, utcnow

STATUSES = ("open", "acknowledged", "resolved", "waived")

#: reason codes a steward resolves with (``cleared_by_data`` is the runs' own)
RESOLUTION_REASONS: dict[str, str] = {
    "fixed_in_source": "the record was corrected in the source system",
    "linked": "the work order and PO line were linked (wo_po_link)",
    "duplicate": "another exception covers the same problem",
    "not_an_issue": "the rule's finding is correct data, not a problem",
}

#: action -> the statuses it applies to and the status it leaves
TRANSITIONS: dict[str, dict[str, str]] = {
    "ack": {"open": "acknowledged"},
    "resolve": {"open": "resolved", "acknowledged": "resolved", "waived": "resolved"},
    "waive": {"open": "waived", "acknowledged": "waived", "waived": "waived"},
    "reopen": {"acknowledged": "open", "resolved": "open", "waived": "open"},
    "assign": {s: s for s in STATUSES},
    "comment": {s: s for s in STATUSES},
}

#: a waiver is a promise to look again: it may run for at most this long
MAX_WAIVER_DAYS = 365
ACTOR_ENV = "THREADLINE_ACTOR"
_MAX_ACTOR = schema.exception_event.c.actor.type.length


class ExceptionActionError(FatalError):
    """A steward action that cannot be done as asked; nothing was changed."""


class UnknownExceptionError(ExceptionActionError):
    """An exception id the warehouse does not hold."""

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(f"no exception {', '.join(missing)} in the warehouse; nothing was changed "
                         f"(see `threadline exceptions list` for the ids)")


class TransitionRefusedError(ExceptionActionError):
    """The action does not apply to the status some of the exceptions are in."""

    def __init__(self, action: str, refused: list[tuple[str, str]]):
        self.action, self.refused = action, refused
        lines = [f"  - {exception_id} is {status}; allowed: {', '.join(allowed_actions(status))}"
                 for exception_id, status in refused]
        super().__init__(f"cannot {action} {len(refused)} exception(s); nothing was changed:\n" + "\n".join(lines))


class ConcurrentChangeError(ExceptionActionError):
    """Someone else (a steward or a run) changed an exception between reading and writing it."""


@dataclass(frozen=True)
class Change:
    """One event an action wrote."""

    exception_id: str
    action: str
    actor: str
    at: datetime
    from_status: str
    to_status: str
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def allowed_actions(status: str) -> list[str]:
    """The actions a steward may take on an exception in ``status``."""
    return [action for action, moves in TRANSITIONS.items() if status in moves]


def default_actor() -> str:
    """Who is acting: $THREADLINE_ACTOR, else the operating-system user."""
    return os.environ.get(ACTOR_ENV) or getpass.getuser()


def _checked_actor(actor: str | None) -> str:
    actor = (actor if actor is not None else default_actor()).strip()
    if not actor:
        raise ExceptionActionError(f"an action needs an actor: pass --actor or set {ACTOR_ENV}")
    if len(actor) > _MAX_ACTOR:
        raise ExceptionActionError(f"actor {actor[:40]!r}... is longer than {_MAX_ACTOR} characters")
    return actor


def _required_text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ExceptionActionError(f"{what} is required and must not be blank")
    return text


def _unique(ids: Iterable[str]) -> list[str]:
    ids = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if not ids:
        raise ExceptionActionError("name at least one exception id")
    return ids


def _apply(warehouse: Warehouse, ids: Iterable[str], action: str, *, actor: str | None, reason: str | None,
           values: dict[str, Any] | None = None, now: datetime | None = None) -> list[Change]:
    """Move every exception in ``ids`` by ``action`` and write its event, all in one transaction."""
    ids = _unique(ids)
    actor = _checked_actor(actor)
    now = now or utcnow()
    moves = TRANSITIONS[action]
    t = schema.exception
    with warehouse.engine.begin() as conn:
        current = dict(conn.execute(select(t.c.exception_id, t.c.status).where(t.c.exception_id.in_(ids))).all())
        missing = [i for i in ids if i not in current]
        if missing:
            raise UnknownExceptionError(missing)
        refused = [(i, current[i]) for i in ids if current[i] not in moves]
        if refused:
            raise TransitionRefusedError(action, refused)
        by_status: dict[str, list[str]] = {}
        for i in ids:
            by_status.setdefault(current[i], []).append(i)
        for from_status, group in by_status.items():
            to_status = moves[from_status]
            changes = dict(values or {})
            if to_status != from_status:
                changes.update(status=to_status, status_changed_at=now)
            if not changes:  # a comment: the row stays as it is
                continue
            # the status in the WHERE makes a change made meanwhile (a run publishing) fail loudly, not vanish
            done = conn.execute(update(t).where(t.c.exception_id.in_(group), t.c.status == from_status)
                                .values(**changes)).rowcount
            if done != len(group):
                raise ConcurrentChangeError(
                    f"{len(group) - done} of {', '.join(group)} changed while this {action} was being written; "
                    f"nothing was changed: look at them again (`threadline exceptions show ID`) and retry")
        changes = [Change(i, action, actor, now, current[i], moves[current[i]], reason) for i in ids]
        conn.execute(schema.exception_event.insert(), [
            {"exception_id": c.exception_id, "at": c.at, "actor": c.actor, "from_status": c.from_status,
             "to_status": c.to_status, "reason": c.reason, "run_id": None, "action": c.action} for c in changes])
    return changes


def acknowledge(warehouse: Warehouse, ids: Iterable[str], *, actor: str | None = None, note: str | None = None,
                now: datetime | None = None) -> list[Change]:
    """Mark open exceptions as seen and being worked on."""
    return _apply(warehouse, ids, "ack", actor=actor, reason=(note or "").strip() or "acknowledged", now=now)


def assign(warehouse: Warehouse, ids: Iterable[str], assignee: str | None, *, actor: str | None = None,
           now: datetime | None = None) -> list[Change]:
    """Give exceptions to ``assignee`` (None takes the assignment away); the status does not change."""
    if assignee is not None:
        assignee = _required_text(assignee, "the assignee")
        if len(assignee) > schema.exception.c.assignee.type.length:
            raise ExceptionActionError(f"assignee {assignee[:40]!r}... is too long")
    reason = f"assigned to {assignee}" if assignee else "assignment cleared"
    return _apply(warehouse, ids, "assign", actor=actor, reason=reason, values={"assignee": assignee}, now=now)


def comment(warehouse: Warehouse, exception_id: str, text: str, *, actor: str | None = None,
            now: datetime | None = None) -> Change:
    """Add a comment to an exception's history; the status does not change."""
    return _apply(warehouse, [exception_id], "comment", actor=actor, reason=_required_text(text, "the comment"),
                  now=now)[0]


def resolve(warehouse: Warehouse, ids: Iterable[str], reason_code: str, *, note: str | None = None,
            actor: str | None = None, now: datetime | None = None) -> list[Change]:
    """Close exceptions with a reason code from :data:`RESOLUTION_REASONS` and optional words.

    A resolved exception that a later run finds again reopens by itself.
    """
    if reason_code not in RESOLUTION_REASONS:
        raise ExceptionActionError(f"unknown resolution reason {reason_code!r}; valid: {', '.join(RESOLUTION_REASONS)}")
    note = (note or "").strip() or None
    return _apply(warehouse, ids, "resolve", actor=actor, reason=f"{reason_code}: {note}" if note else reason_code,
                  values={"resolution": reason_code, "resolution_note": note, "waiver_justification": None,
                          "waiver_until": None}, now=now)


def waive(warehouse: Warehouse, ids: Iterable[str], *, justification: str, until: date, actor: str | None = None,
          now: datetime | None = None) -> list[Change]:
    """Accept exceptions as they are until ``until`` (inclusive) with a justification.

    The waiver holds while the evidence stays the same; the first run after ``until`` (or after the
    evidence changed) reopens the exception. ``until`` may be today up to :data:`MAX_WAIVER_DAYS` ahead.
    """
    justification = _required_text(justification, "a waiver's justification")
    today = (now or utcnow()).date()
    if until < today:
        raise ExceptionActionError(f"waiver expiry {until.isoformat()} is in the past; give a date from "
                                   f"{today.isoformat()} on")
    if until > today + timedelta(days=MAX_WAIVER_DAYS):
        raise ExceptionActionError(f"waiver expiry {until.isoformat()} is more than {MAX_WAIVER_DAYS} days ahead; "
                                   f"the latest allowed is {(today + timedelta(days=MAX_WAIVER_DAYS)).isoformat()}")
    return _apply(warehouse, ids, "waive", actor=actor, reason=f"waived until {until.isoformat()}: {justification}",
                  values={"waiver_justification": justification, "waiver_until": until, "resolution": None,
                          "resolution_note": None}, now=now)


def reopen(warehouse: Warehouse, ids: Iterable[str], *, reason: str, actor: str | None = None,
           now: datetime | None = None) -> list[Change]:
    """Put acknowledged, resolved or waived exceptions back to open, saying why."""
    return _apply(warehouse, ids, "reopen", actor=actor, reason=_required_text(reason, "the reason to reopen"),
                  values={"resolution": None, "resolution_note": None, "waiver_justification": None,
                          "waiver_until": None}, now=now)


# ------------------------------------------------------------------ reads

def find_exceptions(warehouse: Warehouse, *, rule: str | None = None, severity: str | None = None,
                    status: str | None = None, site: str | None = None, assignee: str | None = None,
                    older_than_days: int | None = None, newer_than_days: int | None = None,
                    limit: int | None = None, now: datetime | None = None) -> pd.DataFrame:
    """Exceptions matching every filter given, by rule and id; age counts from ``first_seen_at``."""
    if status is not None and status not in STATUSES:
        raise ExceptionActionError(f"unknown status {status!r}; valid: {', '.join(STATUSES)}")
    t = schema.exception
    now = now or utcnow()
    where = [c for c, v in ((t.c.rule_id == rule, rule), (t.c.severity == severity, severity),
                            (t.c.status == status, status), (t.c.site == site, site),
                            (t.c.assignee == assignee, assignee)) if v]
    if older_than_days is not None:
        where.append(t.c.first_seen_at <= now - timedelta(days=older_than_days))
    if newer_than_days is not None:
        where.append(t.c.first_seen_at > now - timedelta(days=newer_than_days))
    frame = warehouse.read_table(t, *where, order_by=[t.c.rule_id, t.c.exception_id], limit=limit or None)
    frame["age_days"] = (pd.Timestamp(now) - pd.to_datetime(frame["first_seen_at"])).dt.days
    return frame


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (timestamps as ISO text, missing as None, evidence parsed)."""
    if "waiver_until" in frame:  # a day, not a moment: to_json would add midnight to it
        until = pd.to_datetime(frame["waiver_until"], errors="coerce")
        frame = frame.assign(waiver_until=until.dt.strftime("%Y-%m-%d").where(until.notna(), None))
    rows = json.loads(frame.to_json(orient="records", date_format="iso"))
    for row in rows:
        if "evidence" in row:
            row["evidence"] = json.loads(row["evidence"]) if row["evidence"] else None
    return rows


def exception_history(warehouse: Warehouse, exception_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One exception (evidence parsed) and its events, oldest first, as JSON-ready dicts."""
    t, e = schema.exception, schema.exception_event
    frame = warehouse.read_table(t, t.c.exception_id == exception_id)
    if frame.empty:
        raise UnknownExceptionError([exception_id])
    events = warehouse.read_table(e, e.c.exception_id == exception_id, order_by=[e.c.at, e.c.event_id])
    return records(frame)[0], records(events)
