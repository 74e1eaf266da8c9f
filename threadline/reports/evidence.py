"""The evidence pack of one work order: everything the warehouse knows about it, on one HTML page.

The work order (every source's copy of it), its operations, the PO lines linked to it from either
side (the PO line naming the WO, the WO or an operation naming the PO line, links in
``wo_po_link``), their receipts, invoices and certificates, the lots and serials that went through
it, material issues and labour, the current cost roll-up with the cost lines behind it, and the
checks: every exception about the work order or its linked PO lines with its history, and the
rules that ran clean for it. Every item shows where it came from: source system, source key, the
run that loaded it and when it was extracted.

The page is self-contained (inline CSS, no scripts, no external references) and everything a
source said is escaped (Jinja2 autoescaping).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import and_, or_, select

from reconciliation.catalogue import CATALOGUE
from threadline.errors import FatalError
from threadline.reports.gap import _cell, _environment, _money, _pretty_evidence
from threadline.warehouse import schema
from threadline.warehouse.store import Warehouse

LINEAGE = ("source_system", "source_key", "run_id", "extracted_at")
#: exception statuses that mean the check fails for the work order now
OUTSTANDING = ("open", "acknowledged")
ACTIVE_LINKS = ("asserted", "confirmed")


class WorkOrderNotFoundError(FatalError):
    """No work order of that number (at that site) in the warehouse."""


class AmbiguousWorkOrderError(FatalError):
    """The work order number exists at several sites and no site was given."""


@dataclass
class Section:
    """One table of the pack: a title, a note, its columns and rows of text."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
    anchor: str = ""


@dataclass
class Check:
    """A rule's verdict on the work order, with its exceptions (newest state first)."""

    rule_id: str
    title: str
    severity: str
    verdict: str  # failed, waived, passed
    exceptions: list[dict[str, Any]] = field(default_factory=list)


def _live(table, *where):
    clauses = [table.c.deleted_at.is_(None), *where]
    return select(table).where(*clauses)


def _read(warehouse: Warehouse, query) -> pd.DataFrame:
    with warehouse.engine.connect() as conn:
        return pd.read_sql(query, conn)


def find_work_order(warehouse: Warehouse, wo_number: str, site: str | None = None) -> tuple[str, pd.DataFrame]:
    """The site and the copies (one per source) of work order ``wo_number``.

    Raises :class:`WorkOrderNotFoundError` when no live work order has that number (at ``site``),
    naming the sites that do have it, and :class:`AmbiguousWorkOrderError` when the number exists
    at several sites and ``site`` was not given.
    """
    table = schema.CANONICAL_TABLES["work_order"]
    copies = _read(warehouse, _live(table, table.c.wo_number == wo_number))
    sites = sorted(copies["site"].dropna().astype(str).unique())
    if site is not None:
        here = copies.loc[copies["site"] == site]
        if here.empty:
            elsewhere = f"; it exists at {', '.join(sites)} (pass --site with one of them)" if sites else ""
            raise WorkOrderNotFoundError(f"no work order {wo_number!r} at site {site!r} in the warehouse{elsewhere}")
        return site, here.reset_index(drop=True)
    if not sites:
        raise WorkOrderNotFoundError(f"no work order {wo_number!r} in the warehouse (at any site); check the "
                                     f"number with `threadline exceptions list` or the work-order source")
    if len(sites) > 1:
        raise AmbiguousWorkOrderError(f"work order {wo_number!r} exists at {len(sites)} sites ({', '.join(sites)}); "
                                      f"pass --site with one of them")
    return sites[0], copies.reset_index(drop=True)


def _value(value: Any) -> str:
    """Report text of a record's value; a number reads the same whichever database returned it
    (SQLite gives 10 where PostgreSQL gives 10.0)."""
    if isinstance(value, float) and value == value:
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return _cell(value)


def _lineage_cells(row: Any) -> list[str]:
    return [_cell(getattr(row, c)) for c in LINEAGE]


def _section(title: str, frame: pd.DataFrame, columns: Iterable[str], *, note: str = "", anchor: str = "",
             money: Iterable[str] = ()) -> Section:
    """A table of ``frame``'s columns followed by its lineage columns."""
    columns = [c for c in columns if c in frame.columns]
    money = set(money)
    rows = [[_money(getattr(row, c)) if c in money else _value(getattr(row, c)) for c in columns]
            + _lineage_cells(row) for row in frame.itertuples(index=False)]
    return Section(title, [*columns, *LINEAGE], rows, note or ("none" if frame.empty else ""), anchor)


def _linked_lines(warehouse: Warehouse, site: str, wo_number: str, copies: pd.DataFrame,
                  operations: pd.DataFrame, links: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The PO lines linked to the work order from any side, and why each is linked."""
    lines_table = schema.CANONICAL_TABLES["po_line"]
    refs: list[tuple[str, str | None, str]] = []  # (po_number, line_number or None, who names it)
    for row in copies.itertuples(index=False):
        if _cell(row.po_ref):
            refs.append((row.po_ref, _cell(row.po_line_ref) or None, f"work order ({row.source_system})"))
    for row in operations.itertuples(index=False):
        if _cell(row.po_ref):
            refs.append((row.po_ref, _cell(row.po_line_ref) or None, f"operation {row.op_seq} ({row.source_system})"))
    for row in links.itertuples(index=False):
        if row.status in ACTIVE_LINKS:
            refs.append((row.po_number, _cell(row.line_number) or None, f"wo_po_link {row.status} by {row.asserted_by}"))
    named = or_(lines_table.c.wo_ref == wo_number,
                *[and_(lines_table.c.po_number == po, *([lines_table.c.line_number == line] if line else []))
                  for po, line, _ in refs])
    lines = _read(warehouse, _live(lines_table, lines_table.c.site == site, named).order_by(
        lines_table.c.po_number, lines_table.c.line_number, lines_table.c.source_system))
    why = []
    for row in lines.itertuples(index=False):
        reasons = [f"PO line names it ({row.source_system})"] if _cell(row.wo_ref) == wo_number else []
        reasons += [who for po, line, who in refs if po == row.po_number and (line is None or line == row.line_number)]
        why.append("; ".join(dict.fromkeys(reasons)))
    return lines.assign(linked_by=why), pd.DataFrame(refs, columns=["po_number", "line_number", "named_by"])


def _by_po_line(warehouse: Warehouse, entity: str, site: str, lines: pd.DataFrame, order_by: str) -> pd.DataFrame:
    table = schema.CANONICAL_TABLES[entity]
    keys = sorted({(p, ln) for p, ln in zip(lines["po_number"], lines["line_number"])})
    if not keys:
        return _read(warehouse, _live(table, table.c.site == site, table.c.source_key.is_(None)))
    match = or_(*[and_(table.c.po_number == p, table.c.line_number == ln) for p, ln in keys])
    return _read(warehouse, _live(table, table.c.site == site, match).order_by(table.c[order_by]))


def _by_wo(warehouse: Warehouse, entity: str, site: str, wo_number: str, order_by: str) -> pd.DataFrame:
    table = schema.CANONICAL_TABLES[entity]
    return _read(warehouse, _live(table, table.c.site == site, table.c.wo_number == wo_number).order_by(
        table.c[order_by], table.c.source_system, table.c.source_key))


def _lots_and_serials(copies, operations, issues, receipts) -> pd.DataFrame:
    parts = []
    for frame, where in ((copies, "work order"), (operations, "operation"), (issues, "material issue"),
                         (receipts, "receipt")):
        if frame.empty:
            continue
        lot = frame["lot"] if "lot" in frame else pd.Series(pd.NA, index=frame.index)
        serial = frame["serial"] if "serial" in frame else pd.Series(pd.NA, index=frame.index)
        has = lot.notna() | serial.notna()
        if not has.any():
            continue
        chosen = frame.loc[has]
        detail = {"work order": chosen.get("wo_number"), "operation": chosen.get("op_seq"),
                  "material issue": chosen.get("item_number"), "receipt": chosen.get("po_number")}[where]
        parts.append(pd.DataFrame({"where": where, "detail": detail.astype(object).to_numpy(),
                                   "lot": lot[has].to_numpy(), "serial": serial[has].to_numpy(),
                                   **{c: chosen[c].to_numpy() for c in LINEAGE}}))
    if not parts:
        return pd.DataFrame(columns=["where", "detail", "lot", "serial", *LINEAGE])
    return pd.concat(parts, ignore_index=True)


def _costs(warehouse: Warehouse, site: str, wo_number: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The current roll-up rows of the work order (wo and operation grains) and the lines behind its wo row."""
    rollup, line, pairs = schema.cost_rollup, schema.cost_line, schema.cost_drilldown
    rows = _read(warehouse, select(rollup).where(rollup.c.is_current.is_(True), rollup.c.site == site,
                                                 rollup.c.wo_number == wo_number,
                                                 rollup.c.grain.in_(["wo", "operation"]))
                 .order_by(rollup.c.grain.desc(), rollup.c.op_seq))
    wo_rows = rows.loc[rows["grain"] == "wo", "rollup_row_id"].tolist()
    lines = _read(warehouse, select(line).join(pairs, pairs.c.line_id == line.c.line_id)
                  .where(pairs.c.rollup_row_id.in_(wo_rows))
                  .order_by(line.c.cost_type, line.c.line_date, line.c.source_key)) if wo_rows else \
        pd.DataFrame(columns=[c.name for c in line.columns])
    return rows, lines


def _checks(warehouse: Warehouse, site: str, wo_number: str, lines: pd.DataFrame,
            rules_run: Iterable[str] | None) -> tuple[list[Check], int]:
    """Each rule's verdict on the work order, from the exceptions about it or its linked PO lines."""
    table, events = schema.exception, schema.exception_event
    about = [table.c.wo_number == wo_number]
    about += [and_(table.c.po_number == p, table.c.line_number == ln)
              for p, ln in {(p, ln) for p, ln in zip(lines["po_number"], lines["line_number"])}]
    found = _read(warehouse, select(table).where(table.c.site == site, or_(*about))
                  .order_by(table.c.rule_id, table.c.exception_id))
    history = _read(warehouse, select(events).where(events.c.exception_id.in_(found["exception_id"].tolist()))
                    .order_by(events.c.at, events.c.event_id)) if len(found) else pd.DataFrame(
        columns=[c.name for c in events.columns])
    ran = list(rules_run) if rules_run is not None else [r.id for r in CATALOGUE.values() if r.implemented]
    checks = []
    for rule_id in sorted(set(ran) | set(found["rule_id"])):
        rule = CATALOGUE.get(rule_id)
        mine = found.loc[found["rule_id"] == rule_id]
        statuses = set(mine["status"])
        verdict = "failed" if statuses & set(OUTSTANDING) else "waived" if "waived" in statuses else "passed"
        items = []
        for row in mine.itertuples(index=False):
            story = history.loc[history["exception_id"] == row.exception_id]
            items.append({
                "exception_id": row.exception_id, "status": row.status, "summary": _cell(row.summary),
                "keys": ", ".join(f"{label} {_cell(v)}" for label, v in (
                    ("WO", row.wo_number), ("op", row.op_seq), ("PO", row.po_number), ("line", row.line_number))
                    if _cell(v)),
                "subject": f"{row.subject_entity} {row.subject_source_key} ({row.subject_source_system})",
                "evidence": _pretty_evidence(row.evidence),
                "waiver": (f"{_cell(row.waiver_justification)} (until {_cell(row.waiver_until)})"
                           if row.status == "waived" else ""),
                "resolution": _cell(row.resolution) if row.status == "resolved" else "",
                "events": [{"at": _cell(e.at), "actor": _cell(e.actor), "action": _cell(e.action) or "run",
                            "move": (_cell(e.to_status) if e.from_status == e.to_status
                                     else f"{_cell(e.from_status) or '(new)'} -> {_cell(e.to_status)}"),
                            "reason": _cell(e.reason), "run_id": _cell(e.run_id)}
                           for e in story.itertuples(index=False)],
            })
        checks.append(Check(rule_id, rule.title if rule else rule_id, rule.severity if rule else "", verdict, items))
    order = {"failed": 0, "waived": 1, "passed": 2}
    checks.sort(key=lambda c: (order[c.verdict], c.rule_id))
    return checks, len(found)


def evidence_pack_html(warehouse: Warehouse, wo_number: str, *, site: str | None = None,
                       rules_run: Iterable[str] | None = None) -> str:
    """The evidence pack of work order ``wo_number`` (at ``site``) as one self-contained HTML page.

    ``rules_run`` are the rules the runs apply (the config's enabled rules); a rule with no
    outstanding exception about the work order is shown as passed. Raises
    :class:`WorkOrderNotFoundError` or :class:`AmbiguousWorkOrderError` with the sites named.
    """
    site, copies = find_work_order(warehouse, wo_number, site)
    operations = _by_wo(warehouse, "wo_operation", site, wo_number, "op_seq")
    links = _by_wo(warehouse, "wo_po_link", site, wo_number, "po_number")
    lines, references = _linked_lines(warehouse, site, wo_number, copies, operations, links)
    receipts = _by_po_line(warehouse, "receipt", site, lines, "receipt_date")
    invoices = _by_po_line(warehouse, "invoice_line", site, lines, "invoice_date")
    issues = _by_wo(warehouse, "material_issue", site, wo_number, "issue_date")
    labour = _by_wo(warehouse, "labour_entry", site, wo_number, "entry_date")
    rollup, cost_lines = _costs(warehouse, site, wo_number)
    checks, exception_count = _checks(warehouse, site, wo_number, lines, rules_run)

    unresolved = [r for r in references.itertuples(index=False)
                  if not ((lines["po_number"] == r.po_number)
                          & ((lines["line_number"] == r.line_number) if r.line_number else True)).any()]
    certificates = receipts.loc[receipts["certificate_ref"].notna()] if not receipts.empty else receipts
    money = ("labour_cost", "material_cost", "outside_cost", "committed_cost", "actual_cost", "estimate_cost",
             "variance", "previous_actual_cost")
    sections = [
        _section("Work order", copies, ["wo_number", "site", "kind", "status", "source_status", "description",
                                        "asset_id", "item_number", "qty", "lot", "serial", "created_date",
                                        "start_date", "finish_date", "closed_date", "cost_centre", "po_ref",
                                        "po_line_ref", "inspection_required", "inspection_signed_off"],
                 anchor="work-order", note="one row per source holding the work order"),
        _section("Operations", operations, ["op_seq", "description", "work_centre", "is_outside_processing",
                                            "process", "expected_supplier", "qty", "status", "start_date",
                                            "finish_date", "inspection_required", "inspection_signed_off",
                                            "inspector", "po_ref", "po_line_ref", "lot"], anchor="operations"),
        _section("Linked PO lines", lines, ["po_number", "line_number", "release", "linked_by", "item_number",
                                            "description", "is_service", "process", "supplier_id", "qty_ordered",
                                            "qty_received", "uom", "unit_price", "currency", "need_by_date",
                                            "status", "cost_account"], anchor="po-lines",
                 note=("references to PO lines the ERP does not hold: " + "; ".join(
                     f"PO {r.po_number}{' line ' + r.line_number if r.line_number else ''} named by {r.named_by}"
                     for r in unresolved)) if unresolved else ""),
        _section("Links (wo_po_link)", links, ["op_seq", "po_number", "line_number", "status", "asserted_by",
                                               "score", "evidence"], anchor="links"),
        _section("Receipts", receipts, ["receipt_id", "po_number", "line_number", "qty", "uom", "receipt_date",
                                        "lot", "serial", "inspection_result", "certificate_ref"], anchor="receipts"),
        _section("Invoices", invoices, ["invoice_number", "invoice_line", "po_number", "line_number", "qty",
                                        "amount", "currency", "invoice_date"], anchor="invoices", money=("amount",)),
        _section("Certificates of conformance", certificates, ["certificate_ref", "receipt_id", "po_number",
                                                               "line_number", "receipt_date", "inspection_result"],
                 anchor="certificates",
                 note="" if not certificates.empty else "no receipt of a linked PO line names a certificate"),
        _section("Lots and serials", _lots_and_serials(copies, operations, issues, receipts),
                 ["where", "detail", "lot", "serial"], anchor="lots"),
        _section("Material issues", issues, ["issue_id", "op_seq", "item_number", "qty", "uom", "unit_cost",
                                             "currency", "issue_date", "lot", "serial"], anchor="material"),
        _section("Labour", labour, ["entry_id", "op_seq", "person", "craft", "hours", "rate", "currency",
                                    "entry_date"], anchor="labour"),
    ]
    rollup_section = Section(
        "Cost roll-up (current run, reporting currency)",
        ["grain", "op_seq", "currency", *money[:7], "variance_pct", "cost_lines", "incomplete", "restated",
         "previous_actual_cost", "run_id", "as_of"],
        [[_cell(r.grain), _cell(r.op_seq), _cell(r.currency), *[_money(getattr(r, m)) for m in money[:7]],
          "" if pd.isna(r.variance_pct) else f"{r.variance_pct:,.1f} %", _cell(r.cost_lines),
          "incomplete" if r.incomplete else "complete", "restated" if r.restated else "",
          _money(r.previous_actual_cost), _cell(r.run_id), _cell(r.as_of)] for r in rollup.itertuples(index=False)],
        "" if not rollup.empty else "the work order is in no current roll-up (it may be an ERP's copy of a work "
                                    "order another source holds, or no run has reconciled since it was loaded)",
        "costs")
    line_section = Section(
        "Cost lines behind the work order's figure",
        ["cost_type", "op_seq", "entity", "line_date", "amount_source", "currency_source", "fx_rate", "amount",
         "problem", "supplier_id", "source_system", "source_key", "run_id"],
        [[_cell(r.cost_type), _cell(r.op_seq), _cell(r.entity), _cell(r.line_date), _money(r.amount_source),
          _cell(r.currency_source), _cell(r.fx_rate), _money(r.amount), _cell(r.problem), _cell(r.supplier_id),
          _cell(r.source_system), _cell(r.source_key), _cell(r.run_id)] for r in cost_lines.itertuples(index=False)],
        "" if not cost_lines.empty else "none", "cost-lines")

    return _environment().get_template("evidence_pack.html").render(
        wo_number=wo_number, site=site,
        description=_cell(copies["description"].dropna().iloc[0]) if copies["description"].notna().any() else "",
        generated_at=datetime.now(timezone.utc).isoformat(sep=" ", timespec="seconds"),
        sections=sections, rollup=rollup_section, cost_lines=line_section, checks=checks,
        failed=sum(c.verdict == "failed" for c in checks), waived=sum(c.verdict == "waived" for c in checks),
        passed=sum(c.verdict == "passed" for c in checks), exception_count=exception_count,
        rules_note="" if rules_run is not None else "every implemented rule of the catalogue",
    )


def evidence_file_name(wo_number: str, site: str) -> str:
    """``evidence_<site>_<wo>.html`` with anything but letters, digits, dot and dash replaced."""
    safe = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in f"{site}_{wo_number}")
    return f"evidence_{safe}.html"


def write_evidence_pack(warehouse: Warehouse, wo_number: str, *, site: str | None = None, out: Path,
                        rules_run: Iterable[str] | None = None) -> Path:
    """Write the evidence pack to ``out`` (a file, or a folder to put ``evidence_<site>_<wo>.html`` in)."""
    resolved_site, _ = find_work_order(warehouse, wo_number, site)
    html = evidence_pack_html(warehouse, wo_number, site=resolved_site, rules_run=rules_run)
    out = Path(out)
    path = out / evidence_file_name(wo_number, resolved_site) if out.is_dir() or not out.suffix else out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path

