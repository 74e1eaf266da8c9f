"""Suggested links and what stewards decide about them: publish, list, show, confirm, reject.

LNK-006 (``reconciliation.suggest``) suggests links for PO lines that look WO-driven but are
linked to no work. They are kept as ``wo_po_link`` rows of source system ``threadline`` whose
source key is the link id, so the rules read the stewards' decisions like any other link:

- ``suggested``: written by each run (the run replaces the previous run's suggestions; one that is
  no longer made is withdrawn). Rules ignore them.
- ``confirmed``: a steward confirmed it. It is an active link: every later run links the PO line to
  the work (LNK-006 clears, the cost roll-up counts the line) until someone rejects it.
- ``rejected``: a steward rejected it. The evidence fingerprint it was rejected on is kept in the
  row's ``evidence``; a run suggests the same link again only when the fingerprint changes.

Every change is an append-only ``tl_link_event`` (who, when, from, to, why, fingerprint). Each
steward call is one transaction over every link it names, or nothing when any of them is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select, update

from reconciliation.suggest import SUGGESTER
from threadline.exceptions import ExceptionActionError, _checked_actor, _required_text
from threadline.warehouse import schema
from threadline.warehouse.store import Warehouse, lock_for_write, upsert, utcnow

LINK_TABLE = schema.CANONICAL_TABLES["wo_po_link"]
STATUSES = ("suggested", "confirmed", "rejected")
#: action -> the statuses it applies to and the status it leaves
TRANSITIONS = {
    "confirm": {"suggested": "confirmed", "rejected": "confirmed"},
    "reject": {"suggested": "rejected", "confirmed": "rejected"},
}


class LinkActionError(ExceptionActionError):
    """A link decision that cannot be made as asked; nothing was changed."""


@dataclass(frozen=True)
class LinkChange:
    """One decision a steward made."""

    link_id: str
    action: str
    actor: str
    at: datetime
    from_status: str
    to_status: str
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _record_hash(frame: pd.DataFrame) -> pd.Series:
    parts = frame[["status", "score", "evidence", "asserted_by"]].astype(str).agg("|".join, axis=1)
    return parts.map(lambda text: hashlib.sha1(text.encode()).hexdigest()[:16])


def _read_own(conn) -> pd.DataFrame:
    t = LINK_TABLE
    return pd.read_sql(select(t).where(t.c.source_system == SUGGESTER, t.c.deleted_at.is_(None)), conn)


def _fingerprint(evidence: Any) -> str | None:
    try:
        return json.loads(evidence).get("fingerprint") if isinstance(evidence, str) else None
    except (ValueError, AttributeError):
        return None


def publish_suggestions(warehouse: Warehouse, suggestions: pd.DataFrame, *, run_id: str) -> dict[str, int]:
    """Replace the previous run's suggested links with this run's, in one transaction.

    Confirmed links stay as they are; a rejected link comes back as suggested only when the rule
    suggests it again (its evidence changed). Returns counts: suggested, new, withdrawn.
    """
    now = utcnow()
    events = []
    with warehouse.engine.begin() as conn:
        lock_for_write(conn, LINK_TABLE)
        own = _read_own(conn).set_index("source_key")
        new_ids = set(suggestions["link_id"])
        stale = own[(own["status"] == "suggested") & ~own.index.isin(new_ids)]
        if len(stale):
            conn.execute(LINK_TABLE.delete().where(LINK_TABLE.c.source_system == SUGGESTER,
                                                   LINK_TABLE.c.source_key.in_(list(stale.index))))
            events += [_event(i, now, SUGGESTER, "withdrawn", "suggested", None,
                              f"not suggested by run {run_id}", row, run_id=run_id) for i, row in stale.iterrows()]
        confirmed = set(own.index[own["status"] == "confirmed"])
        fresh = suggestions[~suggestions["link_id"].isin(confirmed)]
        if len(fresh):
            rows = pd.DataFrame({
                "source_system": SUGGESTER, "source_key": fresh["link_id"].to_numpy(),
                "wo_number": fresh["wo_number"].to_numpy(), "op_seq": fresh["op_seq"].to_numpy(),
                "po_number": fresh["po_number"].to_numpy(), "line_number": fresh["line_number"].to_numpy(),
                "site": fresh["site"].to_numpy(), "asserted_by": SUGGESTER, "evidence": fresh["evidence"].to_numpy(),
                "status": "suggested", "score": fresh["score"].to_numpy(dtype=float), "run_id": run_id,
                "extracted_at": now, "loaded_at": now,
            })
            rows["record_hash"] = _record_hash(rows)
            upsert(conn, LINK_TABLE, rows)
            for link, fp, score in zip(fresh["link_id"], fresh["fingerprint"], fresh["score"]):
                before = own.loc[link] if link in own.index else None
                if before is not None and before["status"] == "suggested":
                    continue
                row = fresh[fresh["link_id"] == link].iloc[0]
                reason = (f"suggested by run {run_id}" if before is None else
                          f"suggested again by run {run_id}: the evidence changed since it was rejected")
                events.append(_event(link, now, SUGGESTER, "suggested", None if before is None else before["status"],
                                     "suggested", reason, row, fingerprint=fp, score=score, run_id=run_id))
        if events:
            conn.execute(schema.link_event.insert(), events)
    return {"suggested": int(len(fresh)), "new": sum(1 for e in events if e["action"] == "suggested"),
            "withdrawn": int(len(stale))}


def _event(link_id: str, at: datetime, actor: str, action: str, from_status: str | None, to_status: str | None,
           reason: str | None, row, *, fingerprint: str | None = None, score: float | None = None,
           run_id: str | None = None) -> dict[str, Any]:
    def get(name):
        value = row.get(name) if hasattr(row, "get") else None
        return None if value is None or (isinstance(value, float) and value != value) or value is pd.NA else value

    return {"link_id": link_id, "at": at, "actor": actor, "action": action, "from_status": from_status,
            "to_status": to_status, "reason": reason, "site": get("site"), "wo_number": get("wo_number"),
            "op_seq": get("op_seq"), "po_number": get("po_number"), "line_number": get("line_number"),
            "score": score if score is not None else get("score"),
            "fingerprint": fingerprint if fingerprint is not None else _fingerprint(get("evidence")),
            "run_id": run_id}


def _decide(warehouse: Warehouse, ids: Iterable[str], action: str, *, actor: str | None, reason: str | None,
            now: datetime | None = None) -> list[LinkChange]:
    ids = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if not ids:
        raise LinkActionError("name at least one link id (LK-...)")
    actor = _checked_actor(actor)
    now = now or utcnow()
    moves = TRANSITIONS[action]
    t = LINK_TABLE
    with warehouse.engine.begin() as conn:
        current = pd.read_sql(select(t).where(t.c.source_system == SUGGESTER, t.c.source_key.in_(ids),
                                              t.c.deleted_at.is_(None)), conn).set_index("source_key")
        missing = [i for i in ids if i not in current.index]
        if missing:
            raise LinkActionError(f"no suggested or decided link {', '.join(missing)} in the warehouse; nothing was "
                                  f"changed (see `threadline links list`)")
        refused = [(i, current.loc[i, "status"]) for i in ids if current.loc[i, "status"] not in moves]
        if refused:
            raise LinkActionError(f"cannot {action} {len(refused)} link(s); nothing was changed:\n" + "\n".join(
                f"  - {i} is {s}; {action} applies to {' or '.join(moves)} links" for i, s in refused))
        changes, events = [], []
        for i in ids:
            row = current.loc[i]
            from_status, to_status = row["status"], moves[row["status"]]
            fp = _fingerprint(row["evidence"])
            try:
                evidence = json.loads(row["evidence"]) if isinstance(row["evidence"], str) else {}
            except ValueError:
                evidence = {}
            evidence.update({"fingerprint": fp, "decided_by": actor, "decided_at": now.isoformat(timespec="seconds"),
                             "decision": to_status, "reason": reason})
            values = {"status": to_status, "asserted_by": actor, "evidence": json.dumps(evidence, default=str),
                      "loaded_at": now}
            values["record_hash"] = hashlib.sha1(
                f"{to_status}|{row['score']}|{values['evidence']}|{actor}".encode()).hexdigest()[:16]
            done = conn.execute(update(t).where(t.c.source_system == SUGGESTER, t.c.source_key == i,
                                                t.c.status == from_status).values(**values)).rowcount
            if done != 1:
                raise LinkActionError(f"link {i} changed while this {action} was being written; nothing was "
                                      f"changed: look at it again (`threadline links show {i}`) and retry")
            events.append(_event(i, now, actor, action, from_status, to_status, reason, row, fingerprint=fp))
            changes.append(LinkChange(i, action, actor, now, from_status, to_status, reason))
        conn.execute(schema.link_event.insert(), events)
    return changes


def confirm(warehouse: Warehouse, ids: Iterable[str], *, actor: str | None = None, reason: str | None = None,
            now: datetime | None = None) -> list[LinkChange]:
    """Confirm suggested (or previously rejected) links: every later run uses them as links."""
    return _decide(warehouse, ids, "confirm", actor=actor, reason=(reason or "").strip() or "confirmed", now=now)


def reject(warehouse: Warehouse, ids: Iterable[str], *, reason: str, actor: str | None = None,
           now: datetime | None = None) -> list[LinkChange]:
    """Reject suggested (or confirmed) links, saying why; they are suggested again only on new evidence."""
    return _decide(warehouse, ids, "reject", actor=actor, reason=_required_text(reason, "the reason to reject"),
                   now=now)


def find_links(warehouse: Warehouse, *, status: str | None = None, site: str | None = None,
               wo_number: str | None = None, po_number: str | None = None, min_score: float | None = None,
               limit: int | None = None) -> pd.DataFrame:
    """Suggested and decided links matching every filter given, best score first."""
    if status is not None and status not in STATUSES:
        raise LinkActionError(f"unknown link status {status!r}; valid: {', '.join(STATUSES)}")
    t = LINK_TABLE
    where = [t.c.source_system == SUGGESTER, t.c.deleted_at.is_(None)]
    where += [c for c, v in ((t.c.status == status, status), (t.c.site == site, site),
                             (t.c.wo_number == wo_number, wo_number), (t.c.po_number == po_number, po_number)) if v]
    if min_score is not None:
        where.append(t.c.score >= min_score)
    frame = warehouse.read_table(t, *where, order_by=[t.c.score.desc(), t.c.source_key], limit=limit or None)
    frame = frame.rename(columns={"source_key": "link_id"})
    return frame[["link_id", "status", "score", "site", "wo_number", "op_seq", "po_number", "line_number",
                  "asserted_by", "run_id", "evidence"]]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts with the evidence parsed."""
    rows = json.loads(frame.to_json(orient="records", date_format="iso"))
    for row in rows:
        if row.get("evidence"):
            try:
                row["evidence"] = json.loads(row["evidence"])
            except ValueError:
                pass
    return rows


def link_history(warehouse: Warehouse, link_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One link (evidence parsed) and its events, oldest first."""
    t, e = LINK_TABLE, schema.link_event
    frame = warehouse.read_table(t, t.c.source_system == SUGGESTER, t.c.source_key == link_id)
    events = warehouse.read_table(e, e.c.link_id == link_id, order_by=[e.c.at, e.c.event_id])
    if frame.empty and events.empty:
        raise LinkActionError(f"no link {link_id} in the warehouse (see `threadline links list`)")
    link = records(frame.rename(columns={"source_key": "link_id"}))[0] if not frame.empty else {
        "link_id": link_id, "status": "withdrawn"}
    return link, records(events)
