"""What the steward web app reads from the warehouse: every filter, sort, count and page in SQL.

The queue never reads the evidence column (the largest) and never loads more rows than one page;
a CSV export streams its rows in chunks instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterator

from sqlalchemy import and_, case, func, literal, select, tuple_

from threadline.exceptions import STATUSES
from threadline.links import LINK_TABLE, SUGGESTER
from threadline.warehouse import schema
from threadline.warehouse.store import Warehouse, utcnow

T = schema.exception

#: the queue's status filter: "active" is what still needs work
STATUS_CHOICES = ("active", *STATUSES, "any")
SEVERITY_RANK = case({"error": 0, "warning": 1, "info": 2}, value=T.c.severity, else_=3)
SORTS = {
    "age": T.c.first_seen_at,
    "last_seen": T.c.last_seen_at,
    "rule": T.c.rule_id,
    "severity": SEVERITY_RANK,
    "site": T.c.site,
    "status": T.c.status,
    "assignee": T.c.assignee,
    "id": T.c.exception_id,
}
PAGE_SIZES = (25, 50, 100, 200)
QUEUE_COLUMNS = (T.c.exception_id, T.c.rule_id, T.c.severity, T.c.site, T.c.status, T.c.assignee, T.c.summary,
                 T.c.wo_number, T.c.po_number, T.c.first_seen_at, T.c.last_seen_at)
#: entities shown on the work side of an exception's evidence; the rest go on the purchasing side
WORK_ENTITIES = ("work_order", "wo_operation", "material_issue", "labour_entry", "asset", "item")


@dataclass
class QueueQuery:
    """The queue's filters, sort and page as the query string gives them (validated)."""

    rule: str = ""
    severity: str = ""
    site: str = ""
    status: str = "active"
    assignee: str = ""
    min_age: int | None = None
    max_age: int | None = None
    sort: str = "age"
    desc: bool = False
    page: int = 1
    per_page: int = 50
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, params) -> "QueueQuery":
        """Read the query string; unknown values fall back to the defaults and are named in ``problems``."""
        q = cls()
        problems = q.problems
        for name in ("rule", "severity", "site", "assignee"):
            setattr(q, name, (params.get(name) or "").strip())
        status = params.get("status") or "active"
        if status in STATUS_CHOICES:
            q.status = status
        else:
            problems.append(f"unknown status {status!r}; valid: {', '.join(STATUS_CHOICES)}")
        sort = params.get("sort") or "age"
        if sort in SORTS:
            q.sort = sort
        else:
            problems.append(f"unknown sort {sort!r}; valid: {', '.join(SORTS)}")
        q.desc = params.get("dir") == "desc"
        for name, low in (("min_age", 0), ("max_age", 0), ("page", 1), ("per_page", 1)):
            raw = (params.get(name) or "").strip()
            if not raw:
                continue
            try:
                value = int(raw)
                if value < low:
                    raise ValueError
            except ValueError:
                problems.append(f"{name} must be a whole number from {low} up, not {raw!r}")
                continue
            setattr(q, name, value)
        if q.per_page not in PAGE_SIZES:
            q.per_page = min(PAGE_SIZES, key=lambda size: abs(size - q.per_page))
        return q

    def where(self, now: datetime) -> list:
        """The SQL conditions of the filters."""
        clauses = [column == value for column, value in ((T.c.rule_id, self.rule), (T.c.severity, self.severity),
                                                        (T.c.site, self.site)) if value]
        if self.assignee == "-":
            clauses.append(T.c.assignee.is_(None))
        elif self.assignee:
            clauses.append(T.c.assignee == self.assignee)
        if self.status == "active":
            clauses.append(T.c.status.in_(("open", "acknowledged")))
        elif self.status != "any":
            clauses.append(T.c.status == self.status)
        if self.min_age is not None:
            clauses.append(T.c.first_seen_at <= now - timedelta(days=self.min_age))
        if self.max_age is not None:
            clauses.append(T.c.first_seen_at > now - timedelta(days=self.max_age + 1))
        return clauses

    def order_by(self, *, reverse: bool = False) -> list:
        """The SQL order (``reverse`` turns it around, to read the last pages from the other end)."""
        column = SORTS[self.sort]
        # the id breaks ties, so a page never shows a row that the next page shows again
        desc = self.desc != reverse
        return [column.desc(), T.c.exception_id.desc()] if desc else [column.asc(), T.c.exception_id.asc()]

    def params(self, **changes: Any) -> dict[str, Any]:
        """The query string of this query with some values changed (for links to pages and sorts)."""
        values = {"rule": self.rule, "severity": self.severity, "site": self.site, "status": self.status,
                  "assignee": self.assignee, "min_age": self.min_age, "max_age": self.max_age, "sort": self.sort,
                  "dir": "desc" if self.desc else "asc", "page": self.page, "per_page": self.per_page}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "")}


@dataclass
class QueuePage:
    rows: list[dict[str, Any]]
    total: int
    pages: int


def queue_page(warehouse: Warehouse, query: QueueQuery, *, now: datetime | None = None) -> QueuePage:
    """One page of the queue and the number of exceptions matching the filters."""
    now = now or utcnow()
    where = query.where(now)
    with warehouse.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(T).where(*where)).scalar_one()
        pages = max(1, -(-total // query.per_page))
        query.page = min(query.page, pages)
        offset = (query.page - 1) * query.per_page
        limit = min(query.per_page, total - offset) if total else query.per_page
        # a page in the back half is read from the other end: the database skips at most half the rows
        reverse = offset > total // 2
        stmt = select(*QUEUE_COLUMNS).where(*where).order_by(*query.order_by(reverse=reverse)).limit(limit)
        stmt = stmt.offset(total - offset - limit if reverse else offset)
        rows = conn.execute(stmt).mappings().all()
    rows = rows[::-1] if reverse else rows
    return QueuePage([_with_age(dict(r), now) for r in rows], total, pages)


def _with_age(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    first = row.get("first_seen_at")
    if isinstance(first, str):
        first = datetime.fromisoformat(first)
    row["age_days"] = (now - first).days if first else None
    return row


def queue_rows(warehouse: Warehouse, query: QueueQuery, *, chunk: int = 5000,
               now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Every row matching the queue's filters in its order (for an export), read in chunks."""
    now = now or utcnow()
    with warehouse.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(
            select(*QUEUE_COLUMNS).where(*query.where(now)).order_by(*query.order_by()))
        for row in result.mappings():
            yield _with_age(dict(row), now)


def queue_choices(warehouse: Warehouse) -> dict[str, list[str]]:
    """The rules, severities, sites and assignees the queue's filters offer (a pass over four indexes)."""
    out = {}
    with warehouse.engine.connect() as conn:
        for name, column in (("rule", T.c.rule_id), ("severity", T.c.severity), ("site", T.c.site),
                             ("assignee", T.c.assignee)):
            out[name] = [v for v in conn.execute(select(column).distinct().order_by(column)).scalars() if v]
    return out


# ------------------------------------------------------------------ one exception

def evidence_lineage(warehouse: Warehouse, records: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict]:
    """(entity, source system, source key) -> the warehouse row's run, extracted-at, loaded-at, deleted-at."""
    wanted: dict[str, set[tuple[str, str]]] = {}
    for record in records:
        entity = record.get("entity")
        if entity in schema.CANONICAL_TABLES and record.get("source_system") and record.get("source_key"):
            wanted.setdefault(entity, set()).add((str(record["source_system"]), str(record["source_key"])))
    found = {}
    with warehouse.engine.connect() as conn:
        for entity, keys in wanted.items():
            t = schema.CANONICAL_TABLES[entity]
            rows = conn.execute(select(t.c.source_system, t.c.source_key, t.c.run_id, t.c.extracted_at,
                                       t.c.loaded_at, t.c.deleted_at)
                                .where(tuple_(t.c.source_system, t.c.source_key).in_(list(keys)))).mappings()
            for r in rows:
                found[(entity, r["source_system"], r["source_key"])] = dict(r)
    return found


def split_evidence(evidence: Any) -> tuple[list[dict], list[dict], dict[str, Any]]:
    """An exception's evidence as (work-side records, purchasing-side records, the rule's other findings)."""
    if not isinstance(evidence, dict):
        return [], [], ({"evidence": evidence} if evidence is not None else {})
    records = [r for r in evidence.get("records") or [] if isinstance(r, dict)]
    work = [r for r in records if r.get("entity") in WORK_ENTITIES]
    purchasing = [r for r in records if r.get("entity") not in WORK_ENTITIES]
    return work, purchasing, {k: v for k, v in evidence.items() if k != "records"}


def related_records(warehouse: Warehouse, exception: dict[str, Any], *, work: bool, purchasing: bool,
                    limit: int = 10) -> list[dict[str, Any]]:
    """The exception's work order (and operation) and PO line (with receipts and invoices) as the warehouse
    holds them now, for the sides (``work``, ``purchasing``) its evidence leaves empty."""
    from mappings.canonical import ENTITIES

    site, wo, op, po, line = (exception.get(k) for k in ("site", "wo_number", "op_seq", "po_number", "line_number"))
    wanted = []
    if work and wo:
        wanted += [("work_order", {"wo_number": wo}), ("wo_operation", {"wo_number": wo, "op_seq": op})]
    if purchasing and po:
        wanted += [(entity, {"po_number": po, "line_number": line}) for entity in ("po_line", "receipt", "invoice_line")]
    found = []
    with warehouse.engine.connect() as conn:
        for entity, keys in wanted:
            t = schema.CANONICAL_TABLES[entity]
            fields = [f.name for f in ENTITIES[entity].fields]
            where = [t.c.deleted_at.is_(None)] + ([t.c.site == site] if site else [])
            where += [t.c[k] == v for k, v in keys.items() if v]
            rows = conn.execute(select(t.c.source_system, t.c.source_key, *(t.c[f] for f in fields)).where(*where)
                                .order_by(t.c.source_system, t.c.source_key).limit(limit)).mappings()
            found += [{"entity": entity, **dict(r), "looked_up": True} for r in rows]
    return found


# ------------------------------------------------------------------ links

def link_rows(warehouse: Warehouse, *, status: str = "suggested", limit: int = 500) -> list[dict[str, Any]]:
    """Suggested or decided links, best score first, with their evidence parsed."""
    t = LINK_TABLE
    where = [t.c.source_system == SUGGESTER, t.c.deleted_at.is_(None)]
    if status != "any":
        where.append(t.c.status == status)
    with warehouse.engine.connect() as conn:
        rows = conn.execute(select(t.c.source_key.label("link_id"), t.c.status, t.c.score, t.c.site, t.c.wo_number,
                                   t.c.op_seq, t.c.po_number, t.c.line_number, t.c.asserted_by, t.c.run_id,
                                   t.c.evidence).where(*where).order_by(t.c.score.desc(), t.c.source_key)
                            .limit(limit)).mappings().all()
    out = []
    for r in rows:
        row = dict(r)
        try:
            row["evidence"] = json.loads(row["evidence"]) if row["evidence"] else {}
        except ValueError:
            row["evidence"] = {"text": row["evidence"]}
        out.append(row)
    return out


# ------------------------------------------------------------------ costs

#: the roll-up grains the cost page offers, with the key columns each shows
COST_GRAINS = {
    "site": ("site",),
    "asset": ("site", "asset_id", "parent_asset_id"),
    "wo": ("site", "wo_number", "kind", "status"),
    "supplier": ("site", "supplier_id"),
    "month": ("site", "month"),
    "operation": ("site", "wo_number", "op_seq"),
    "item": ("site", "item_number"),
    "cost_centre": ("site", "cost_centre"),
}
COST_FIGURES = ("labour_cost", "material_cost", "outside_cost", "committed_cost", "actual_cost", "estimate_cost",
                "variance", "variance_pct", "work_orders", "cost_lines", "currency", "incomplete", "restated")
COST_SORTS = ("actual_cost", "variance", "variance_pct", "outside_cost", "key")


def cost_rows(warehouse: Warehouse, grain: str, *, site: str = "", sort: str = "actual_cost",
              limit: int | None = 500) -> list[dict[str, Any]]:
    """The current roll-up rows of one grain, largest first (or by key)."""
    r = schema.cost_rollup
    keys = COST_GRAINS[grain]
    where = [r.c.grain == grain, r.c.is_current == True]  # noqa: E712 (SQL, not Python)
    if site:
        where.append(r.c.site == site)
    order = [r.c[k] for k in keys] if sort == "key" else [r.c[sort].desc().nulls_last(), r.c.rollup_row_id]
    stmt = select(r.c.rollup_row_id, *(r.c[k] for k in keys), *(r.c[f] for f in COST_FIGURES), r.c.run_id,
                  r.c.as_of).where(*where).order_by(*order)
    if limit:
        stmt = stmt.limit(limit)
    with warehouse.engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


def cost_row(warehouse: Warehouse, rollup_row_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """One roll-up row (any run) and the source lines behind it."""
    r, d, line = schema.cost_rollup, schema.cost_drilldown, schema.cost_line
    with warehouse.engine.connect() as conn:
        row = conn.execute(select(r).where(r.c.rollup_row_id == rollup_row_id)).mappings().first()
        lines = conn.execute(select(line).join(d, d.c.line_id == line.c.line_id)
                             .where(d.c.rollup_row_id == rollup_row_id)
                             .order_by(line.c.cost_type, line.c.line_date, line.c.line_id)).mappings().all()
    return (dict(row) if row else None), [dict(x) for x in lines]


def outside_spend(warehouse: Warehouse, *, site: str = "") -> list[dict[str, Any]]:
    """Outside-processing spend of the latest roll-up run by supplier and process (the operation's process)."""
    line, op, r = schema.cost_line, schema.CANONICAL_TABLES["wo_operation"], schema.cost_rollup
    with warehouse.engine.connect() as conn:
        run_id = conn.execute(select(r.c.run_id).where(r.c.is_current == True).limit(1)).scalar()  # noqa: E712
        if run_id is None:
            return []
        # one process per operation, whichever source the operation came from
        process = (select(op.c.site, op.c.wo_number, op.c.op_seq, func.max(op.c.process).label("process"))
                   .where(op.c.deleted_at.is_(None)).group_by(op.c.site, op.c.wo_number, op.c.op_seq).subquery())
        where = [line.c.run_id == run_id, line.c.cost_type == "outside"]
        if site:
            where.append(line.c.site == site)
        stmt = (select(func.coalesce(line.c.supplier_id, literal("(unknown)")).label("supplier_id"),
                       func.coalesce(process.c.process, literal("(unknown)")).label("process"),
                       func.sum(line.c.amount).label("amount"), func.count().label("lines"))
                .select_from(line.outerjoin(process, and_(process.c.site == line.c.site,
                                                          process.c.wo_number == line.c.wo_number,
                                                          process.c.op_seq == line.c.op_seq)))
                .where(*where).group_by("supplier_id", "process").order_by(func.sum(line.c.amount).desc()))
        return [dict(x) for x in conn.execute(stmt).mappings()]


def cost_sites(warehouse: Warehouse) -> list[str]:
    r = schema.cost_rollup
    with warehouse.engine.connect() as conn:
        return [s for s in conn.execute(select(r.c.site).where(r.c.grain == "site", r.c.is_current == True)  # noqa
                                        .distinct().order_by(r.c.site)).scalars() if s]


# ------------------------------------------------------------------ runs and quarantine

def recent_runs(warehouse: Warehouse, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs, newest first, each with its streams' counts and control sums."""
    run, stream = schema.run, schema.run_stream
    with warehouse.engine.connect() as conn:
        runs = [dict(r) for r in conn.execute(select(run).order_by(run.c.started_at.desc()).limit(limit)).mappings()]
        streams = conn.execute(select(stream).where(stream.c.run_id.in_([r["run_id"] for r in runs]))
                               .order_by(stream.c.source, stream.c.stream)).mappings().all()
    by_run: dict[str, list] = {}
    for s in streams:
        s = dict(s)
        try:
            s["control_sums"] = json.loads(s["control_sums"]) if s["control_sums"] else {}
        except ValueError:
            s["control_sums"] = {"unreadable": s["control_sums"]}
        s["balanced"] = s["rows_landed"] == s["rows_loaded"] + s["rows_quarantined"] + (s["rows_skipped"] or 0)
        by_run.setdefault(s["run_id"], []).append(s)
    for r in runs:
        r["streams"] = by_run.get(r["run_id"], [])
    return runs


def quarantine_rows(warehouse: Warehouse, *, source: str = "", stream: str = "", page: int = 1,
                    per_page: int = 100) -> tuple[list[dict[str, Any]], int]:
    """One page of quarantined rows (newest first) and how many match."""
    q = schema.quarantine
    where = [c for c, v in ((q.c.source == source, source), (q.c.stream == stream, stream)) if v]
    with warehouse.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(q).where(*where)).scalar_one()
        rows = conn.execute(select(q.c.quarantine_id, q.c.source, q.c.stream, q.c.entity, q.c.source_key, q.c.field,
                                   q.c.source_column, q.c.raw_value, q.c.check_name, q.c.reason, q.c.times_seen,
                                   q.c.first_seen_at, q.c.last_seen_at, q.c.last_run_id).where(*where)
                            .order_by(q.c.last_seen_at.desc(), q.c.quarantine_id)
                            .limit(per_page).offset((max(page, 1) - 1) * per_page)).mappings().all()
    return [dict(r) for r in rows], total


def quarantine_sources(warehouse: Warehouse) -> list[tuple[str, str]]:
    q = schema.quarantine
    with warehouse.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(q.c.source, q.c.stream).distinct()
                                               .order_by(q.c.source, q.c.stream))]


# ------------------------------------------------------------------ audit log

def audit_events(warehouse: Warehouse, *, actor: str = "", limit: int = 500) -> list[dict[str, Any]]:
    """The newest exception and link events together, newest first."""
    e, le = schema.exception_event, schema.link_event
    ex = select(literal("exception").label("kind"), e.c.exception_id.label("subject"), e.c.at, e.c.actor,
                func.coalesce(e.c.action, literal("run")).label("action"), e.c.from_status, e.c.to_status,
                e.c.reason, e.c.run_id)
    lk = select(literal("link").label("kind"), le.c.link_id.label("subject"), le.c.at, le.c.actor, le.c.action,
                le.c.from_status, le.c.to_status, le.c.reason, le.c.run_id)
    if actor:
        ex, lk = ex.where(e.c.actor == actor), lk.where(le.c.actor == actor)
    union = ex.union_all(lk).subquery()
    with warehouse.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(union).order_by(union.c.at.desc()).limit(limit)).mappings()]

