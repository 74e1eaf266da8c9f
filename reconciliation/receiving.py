"""Receiving and invoice rules: what comes back from the outside processor, and what it bills.

OSP-007 and OSP-008 judge receipts on outside-processing PO lines, i.e. lines linked at operation
level (``CanonicalFrames.op_links``) to an outside-processing operation: the certificate of
conformance that must come with the parts, and the lot or serial that must be the one sent out.
OSP-009 compares what each PO line has been invoiced with what it has received
(``CanonicalFrames.line_totals``), and CST-001 each invoice line's unit price with its PO line's.

A PO line known to several sources under the same site, PO and line number is one line: its
receipts and invoices are matched on that key, and its fields (price, currency, supplier, process)
are those of its first row, as ``line_totals`` reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from reconciliation.costs import to_reporting_rates
from reconciliation.exceptions import SUBJECT_COLUMNS, subject_frame
from reconciliation.frames import (
    TEXT,
    CanonicalFrames,
    codes_in,
    describe_po_line,
    flag,
    quantity_text,
    records,
    text,
    to_json,
)

if TYPE_CHECKING:
    from reconciliation.engine import ReconcileSettings

#: receipts and invoices are summed from decimals, so a comparison allows for rounding
_QTY_SLACK = 1e-6
#: relative slack on price comparisons, so a price exactly at the tolerance does not fire
_PRICE_SLACK = 1e-9

_RECEIPT_FIELDS = ("site", "receipt_id", "po_number", "line_number", "qty", "uom", "receipt_date", "lot", "serial",
                   "inspection_result", "certificate_ref")
_INVOICE_FIELDS = ("site", "invoice_number", "invoice_line", "po_number", "line_number", "qty", "amount", "currency",
                   "invoice_date")
_LINE_FIELDS = ("site", "po_number", "line_number", "status", "supplier_id", "process", "is_service", "item_number",
                "qty_ordered", "qty_received", "uom", "unit_price", "currency", "wo_ref", "op_ref")
_OP_FIELDS = ("site", "wo_number", "op_seq", "process", "status", "expected_supplier", "qty", "lot")
_WO_FIELDS = ("site", "wo_number", "kind", "status", "item_number", "qty", "lot", "serial")
_SUPPLIER_FIELDS = ("supplier_id", "name", "site", "approved_processes", "certificate_required")


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=list(SUBJECT_COLUMNS))


# ---------------------------------------------------------------------------- shared context

def _first_line_rows(data: CanonicalFrames, codes: pd.Series | np.ndarray) -> np.ndarray:
    """Position in ``data["po_line"]`` of the first PO line with each ``_k_line`` code (-1: none)."""
    return data.at_first_row("po_line", "_k_line", codes)


def _take(values: pd.Series, rows: np.ndarray) -> pd.Series:
    """``values`` at positions ``rows`` (NA where -1), without converting the whole column."""
    rows = np.asarray(rows, dtype=np.int64)
    found = rows >= 0
    out = values.take(np.where(found, rows, 0)).reset_index(drop=True) if len(values) else \
        pd.Series([pd.NA] * len(rows), dtype=values.dtype)
    return out.where(found) if not found.all() else out


def _line_context(data: CanonicalFrames, line_rows: np.ndarray) -> pd.DataFrame:
    """Who supplies each PO line (by position) and for which work: site, supplier_id (the line's,
    else its PO header's), process (the line's, else its operation's), wo_number and op_seq (the
    operation it is linked to at operation level, else what the line names) and whether that
    operation is outside processing (``is_osp``). One row per position, in order."""
    lines = data["po_line"].take(line_rows).reset_index(drop=True)
    header_rows = data.at_first_row("purchase_order", "_k_po", lines["_k_po"])
    header_supplier = _take(data["purchase_order"]["supplier_id"], header_rows)

    links = data.op_links
    links = links[codes_in(links["_k_line"], lines["_k_line"])]
    # an outside-processing operation before any other, so the line names its outside work
    links = links.assign(_osp=pd.array(codes_in(links["_k_op"], data.osp_codes), dtype="boolean"))
    links = links.sort_values("_osp", ascending=False, kind="stable")
    links = links.drop_duplicates("_k_line").reset_index(drop=True)
    op_process = _take(data["wo_operation"]["process"], data.at_first_row("wo_operation", "_k_op", links["_k_op"]))
    link_at = pd.Index(links["_k_line"]).get_indexer(lines["_k_line"])

    def from_links(values: pd.Series) -> pd.Series:
        return _take(values, link_at)

    return pd.DataFrame({
        "site": lines["site"],
        "supplier_id": lines["supplier_id"].fillna(header_supplier),
        "process": lines["process"].fillna(from_links(op_process)),
        "wo_number": from_links(links["wo_number"].astype(TEXT)).fillna(lines["wo_ref"]),
        "op_seq": from_links(links["op_seq"].astype(TEXT)).fillna(lines["op_ref"]),
        "is_osp": from_links(links["_osp"]).fillna(False).to_numpy(dtype=bool),
    })


def _rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    return frame.take(positions).reset_index(drop=True)


def _money(value) -> str:
    """A price or amount for a sentence: at most four decimals, no trailing zeros."""
    return f"{float(value):,.4f}".rstrip("0").rstrip(".")


def _for_op(wo_number, op_seq, process) -> str:
    """' for operation 30 (heat_treat) of work order 1001', or '' when the line names no work."""
    if not text(wo_number):
        return ""
    proc = f" ({process})" if text(process) else ""
    return f" for operation {op_seq}{proc} of work order {wo_number}" if text(op_seq) else f" for work order {wo_number}"


# ---------------------------------------------------------------------------- OSP-007

def receipt_without_certificate(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """OSP-007: receipts of a positive quantity on outside-processing PO lines without a certificate
    of conformance (empty ``certificate_ref``) where one is required.

    Required when the supplier master says so (``certificate_required`` of the line's supplier, the
    line's own or else its PO header's, at the line's site or without a site), or when the rule's
    ``certificate_required`` tolerance is true for the line's supplier, process (the line's, else the
    operation's) and site. The tolerance adds requirements (a process that always needs a
    certificate, a site whose ERP keeps no such flag); it cannot lift the supplier master's.
    """
    receipts = data["receipt"]
    osp = data.osp_links
    candidates = (codes_in(receipts["_k_line"], osp["_k_line"]) & (receipts["qty"] > 0).fillna(False).to_numpy()
                  & receipts["certificate_ref"].isna().to_numpy())
    if not candidates.any():
        return _empty()
    uncertified = _rows(receipts, np.flatnonzero(candidates))
    line_rows = _first_line_rows(data, uncertified["_k_line"])
    context = _line_context(data, line_rows)

    suppliers = data["supplier"]
    requiring = suppliers[flag(suppliers["certificate_required"]).to_numpy() & suppliers["supplier_id"].notna().to_numpy()]
    sited = set(zip(requiring["site"].astype(object).where(requiring["site"].notna(), None), requiring["supplier_id"]))
    by_master = np.array([(site, supplier) in sited or (None, supplier) in sited
                          for site, supplier in zip(context["site"], context["supplier_id"])], dtype=bool)
    configured = settings.tolerance_for("OSP-007", "certificate_required", context)
    by_config = np.array([bool(value) for value in configured], dtype=bool)
    required = by_master | by_config
    offending = uncertified[required].reset_index(drop=True)
    if offending.empty:
        return _empty()
    context = context[required].reset_index(drop=True)
    by_master, by_config = by_master[required], by_config[required]
    line_rows = line_rows[required]

    lines = _rows(data["po_line"], line_rows)
    line_records = records(lines, "po_line", _LINE_FIELDS)
    supplier_records = {}
    wanted = set(context["supplier_id"].dropna())
    for record in records(suppliers[suppliers["supplier_id"].isin(wanted)], "supplier", _SUPPLIER_FIELDS):
        supplier_records.setdefault(record["supplier_id"], []).append(record)
    op_records = _op_records(data, osp, lines["_k_line"])
    line_codes = lines["_k_line"].to_numpy()

    summaries, evidence = [], []
    own = records(offending, "receipt", _RECEIPT_FIELDS)
    for i, (record, row, ctx) in enumerate(zip(own, offending.itertuples(index=False), context.itertuples(index=False))):
        why = []
        if by_master[i]:
            why.append(f"supplier {ctx.supplier_id}'s master record requires a certificate")
        if by_config[i]:
            scope = [f"supplier {ctx.supplier_id}" if text(ctx.supplier_id) else "",
                     f"process {ctx.process}" if text(ctx.process) else "", f"site {ctx.site}"]
            why.append(f"the OSP-007 setting certificate_required is on for {', '.join(p for p in scope if p)}")
        summaries.append(
            f"Receipt {row.receipt_id} (site {row.site}, {row.source_system}) of {quantity_text(row.qty)}"
            f"{' ' + row.uom if text(row.uom) else ''} on "
            f"outside-processing {describe_po_line(row.po_number, row.line_number)}"
            f"{_for_op(ctx.wo_number, ctx.op_seq, ctx.process)} from supplier {text(ctx.supplier_id, 'unknown')} "
            f"on {text(row.receipt_date)} has no certificate of conformance; {' and '.join(why)}."
        )
        evidence.append(to_json({
            "records": [record, line_records[i], *op_records.get(int(line_codes[i]), []),
                        *supplier_records.get(ctx.supplier_id, [])[:2]],
            "required_by": [w for w, on in (("supplier_master", by_master[i]), ("tolerance", by_config[i])) if on],
        }))
    return subject_frame(offending, "receipt", wo_number=context["wo_number"], op_seq=context["op_seq"],
                         po_number=offending["po_number"], line_number=offending["line_number"],
                         summary=summaries, evidence=evidence)


def _op_records(data: CanonicalFrames, osp: pd.DataFrame, line_codes: pd.Series) -> dict[int, list[dict]]:
    """Evidence records of the outside-processing operations (``osp``: ``CanonicalFrames.osp_links``) each PO line
    (by ``_k_line``) pays for."""
    osp = osp[codes_in(osp["_k_line"], line_codes)].drop_duplicates(["_k_line", "_k_op"])
    if osp.empty:
        return {}
    ops = _rows(data["wo_operation"], osp["op_row"].to_numpy())
    out: dict[int, list[dict]] = {}
    for code, record in zip(osp["_k_line"].to_numpy(), records(ops, "wo_operation", _OP_FIELDS)):
        bucket = out.setdefault(int(code), [])
        if len(bucket) < 5:
            bucket.append(record)
    return out


# ---------------------------------------------------------------------------- OSP-008

def _normalized(values: pd.Series) -> pd.Series:
    """Lot and serial numbers compared as the same when they differ only in case or outer blanks."""
    return values.astype(TEXT).str.strip().str.upper()


def lot_or_serial_changed(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """OSP-008: receipts on outside-processing PO lines whose lot or serial is not the one sent out.

    Sent out: the operation's lot, else its work order's lot; the work order's serial. A receipt
    without a lot (serial) where one was sent out counts as a difference: the parts that came back
    cannot be shown to be the parts that went out. Nothing sent out under a lot (serial) leaves the
    receipt's lot (serial) unjudged. Differences in case and outer blanks are not differences. A PO
    line paying for several operations is judged against each: the receipt must match one of them.
    """
    receipts = data["receipt"]
    osp = data.osp_links
    mine = codes_in(receipts["_k_line"], osp["_k_line"]) & (receipts["qty"] > 0).fillna(False).to_numpy()
    if not mine.any():
        return _empty()
    receipt_rows = np.flatnonzero(mine)
    pairs = pd.DataFrame({"r": np.arange(len(receipt_rows)), "_k_line": receipts["_k_line"].to_numpy()[receipt_rows]})
    pairs = pairs.merge(osp[["_k_line", "_k_wo", "op_row"]].drop_duplicates(["_k_line", "op_row"]), on="_k_line")
    ops, wos = data["wo_operation"], data["work_order"]
    wo_rows = data.at_first_row("work_order", "_k_wo", pairs["_k_wo"])
    op_lot = _take(ops["lot"], pairs["op_row"].to_numpy())
    sent = {"lot": op_lot.fillna(_take(wos["lot"], wo_rows)), "serial": _take(wos["serial"], wo_rows)}
    differs_any = np.zeros(len(receipt_rows), dtype=bool)
    what: dict[str, tuple[np.ndarray, pd.Series]] = {}
    for field in ("lot", "serial"):
        back = _take(receipts[field], receipt_rows[pairs["r"].to_numpy()])
        judged = sent[field].notna().to_numpy()
        same = (_normalized(back) == _normalized(sent[field])).fillna(False).to_numpy(dtype=bool)
        r = pairs["r"].to_numpy()
        any_judged = np.bincount(r[judged], minlength=len(receipt_rows)) > 0
        any_same = np.bincount(r[judged & same], minlength=len(receipt_rows)) > 0
        differs = any_judged & ~any_same
        differs_any |= differs
        what[field] = (differs, sent[field])
    if not differs_any.any():
        return _empty()

    offending = _rows(receipts, receipt_rows[differs_any])
    index_of = np.cumsum(differs_any) - 1
    pairs = pairs[differs_any[pairs["r"].to_numpy()]].assign(o=lambda p: index_of[p["r"].to_numpy()])
    sent_by = {field: {} for field in what}
    for field, (_, values) in what.items():
        for o, value in zip(pairs["o"].to_numpy(), values[pairs.index].astype(object)):
            if value is not pd.NA and value not in sent_by[field].setdefault(int(o), []):
                sent_by[field][int(o)].append(value)
    flags = {field: differs[differs_any] for field, (differs, _) in what.items()}
    first_pair = pairs.drop_duplicates("o")
    op_rows = first_pair["op_row"].to_numpy()
    first_ops = _rows(ops, op_rows)
    op_records = records(_rows(ops, pairs["op_row"].to_numpy()), "wo_operation", _OP_FIELDS)
    op_records_of: dict[int, list[dict]] = {}
    for o, record in zip(pairs["o"].to_numpy(), op_records):
        op_records_of.setdefault(int(o), []).append(record)
    first_wo_rows = wo_rows[first_pair.index.to_numpy()]
    wo_rows = wos.take(first_wo_rows[first_wo_rows >= 0])
    wo_records = {(r["site"], r["wo_number"]): r for r in records(wo_rows, "work_order", _WO_FIELDS)}
    line_rows = _first_line_rows(data, offending["_k_line"])
    line_records = records(_rows(data["po_line"], line_rows), "po_line", _LINE_FIELDS)

    summaries, evidence = [], []
    own = records(offending, "receipt", _RECEIPT_FIELDS)
    for i, (record, row, op) in enumerate(zip(own, offending.itertuples(index=False), first_ops.itertuples(index=False))):
        gaps = []
        for field in ("lot", "serial"):
            if not flags[field][i]:
                continue
            out = " or ".join(str(v) for v in sent_by[field].get(i, []))
            back = text(getattr(row, field))
            gaps.append(f"{field} {out} went out and {field} {back} came back" if back
                        else f"{field} {out} went out but the receipt records no {field}")
        summaries.append(
            f"Receipt {row.receipt_id} (site {row.site}, {row.source_system}) on outside-processing "
            f"{describe_po_line(row.po_number, row.line_number)}{_for_op(op.wo_number, op.op_seq, op.process)}: "
            f"{'; '.join(gaps)}."
        )
        wo_record = wo_records.get((op.site, op.wo_number))
        evidence.append(to_json({
            "records": [record, line_records[i], *op_records_of.get(i, [])[:5], *([wo_record] if wo_record else [])],
            "sent_out": {field: sent_by[field].get(i, []) for field in ("lot", "serial")},
        }))
    return subject_frame(offending, "receipt", wo_number=first_ops["wo_number"], op_seq=first_ops["op_seq"],
                         po_number=offending["po_number"], line_number=offending["line_number"],
                         summary=summaries, evidence=evidence)


# ---------------------------------------------------------------------------- OSP-009

def invoiced_beyond_received(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """OSP-009: PO lines invoiced without any receipt, or invoiced above their received quantity by
    more than ``qty_tolerance_pct`` percent of it.

    Received and invoiced are ``line_totals``'s (receipts in the line's unit, or the line's own
    received quantity when larger; invoiced quantity, or amount / unit price in the line's
    currency). No receipt at all means no receipt row and no received quantity on the line. A
    service line (``is_service``) that pays for no outside-processing operation may be received by
    its invoice, so having no receipt is no finding for it; once it has receipts they count as for
    goods. An invoiced quantity that cannot be told, or a receipt whose unit cannot be converted
    (CST-003), leaves the quantity comparison unjudged. One finding per line (site, PO and line
    number), about its first row.
    """
    totals = data.line_totals
    invoiced_lines = np.flatnonzero(totals["invoices"].to_numpy() > 0)
    if not len(invoiced_lines):
        return _empty()
    line_rows = _first_line_rows(data, totals["_k_line"].to_numpy()[invoiced_lines])
    lines = data["po_line"]
    own_received = lines["qty_received"].to_numpy(dtype="float64", na_value=np.nan)[line_rows]
    received = totals["received"].to_numpy()[invoiced_lines]
    invoiced = totals["invoiced"].to_numpy()[invoiced_lines]
    # invoices netting to nothing (an invoice and its credit note) bill nothing; unknown still bills
    nothing = (totals["receipts"].to_numpy()[invoiced_lines] == 0) & ~(own_received > 0) & ~(invoiced <= 0)
    # any positive tolerance only narrows this; NaN (unknown) compares False and stays unjudged
    above = ~nothing & (invoiced > received + _QTY_SLACK)
    candidates = np.flatnonzero(nothing | above)
    if not len(candidates):
        return _empty()
    line_rows, nothing, above = line_rows[candidates], nothing[candidates], above[candidates]
    received, invoiced = received[candidates], invoiced[candidates]
    context = _line_context(data, line_rows)
    service = flag(_take(lines["is_service"], line_rows)).to_numpy() & ~context["is_osp"].to_numpy()
    tolerance = settings.tolerance_for("OSP-009", "qty_tolerance_pct", context).to_numpy()
    beyond = above & (invoiced > received * (1.0 + tolerance / 100.0) + _QTY_SLACK)
    fires = (nothing & ~service) | beyond
    if not fires.any():
        return _empty()
    line_rows, nothing, context = line_rows[fires], nothing[fires], context[fires].reset_index(drop=True)
    received, invoiced, tolerance = received[fires], invoiced[fires], tolerance[fires]
    offending = _rows(lines, line_rows)

    codes = offending["_k_line"]
    invoices = data["invoice_line"]
    invoices = invoices[codes_in(invoices["_k_line"], codes)]
    receipts = data["receipt"]
    receipts = receipts[codes_in(receipts["_k_line"], codes)]
    invoice_records = _by_line(invoices, "invoice_line", _INVOICE_FIELDS)
    receipt_records = _by_line(receipts, "receipt", _RECEIPT_FIELDS)

    summaries, evidence = [], []
    own = records(offending, "po_line", _LINE_FIELDS)
    for i, (record, code, row, ctx) in enumerate(zip(own, codes.to_numpy(), offending.itertuples(index=False),
                                                     context.itertuples(index=False))):
        code = int(code)
        bills = invoice_records.get(code, [])
        named = ", ".join(f"{r['invoice_number']}/{r['invoice_line']} ({r['source_system']})" for r in bills[:5])
        unit = f" {row.uom}" if text(row.uom) else ""
        billed = f"{quantity_text(invoiced[i])}{unit}" if invoiced[i] == invoiced[i] else "an unknown quantity"
        kind = "outside-processing " if ctx.is_osp else ""
        where = (f"{kind}{describe_po_line(row.po_number, row.line_number)} (site {row.site}, {row.source_system})"
                 f"{_for_op(ctx.wo_number, ctx.op_seq, ctx.process)}")
        where = where[:1].upper() + where[1:]
        named = f"invoice{'s' if len(bills) > 1 else ''} {named}"
        if nothing[i]:
            summaries.append(f"{where} is invoiced {billed} ({named}) but nothing has been received against it.")
        else:
            within = f", more than the {tolerance[i]:g}% tolerance" if tolerance[i] else ""
            summaries.append(f"{where} is invoiced {billed} ({named}) but only {quantity_text(received[i])}{unit} "
                             f"has been received{within}.")
        evidence.append(to_json({
            "records": [record, *bills[:10], *receipt_records.get(code, [])[:10]],
            "received": None if received[i] != received[i] else float(received[i]),
            "invoiced": None if invoiced[i] != invoiced[i] else float(invoiced[i]),
            "qty_tolerance_pct": float(tolerance[i]),
        }))
    return subject_frame(offending, "po_line", wo_number=context["wo_number"], op_seq=context["op_seq"],
                         po_number=offending["po_number"], line_number=offending["line_number"],
                         summary=summaries, evidence=evidence)


def _by_line(frame: pd.DataFrame, entity_name: str, fields: tuple[str, ...]) -> dict[int, list[dict]]:
    """Evidence records of ``frame`` grouped by ``_k_line``."""
    out: dict[int, list[dict]] = {}
    for code, record in zip(frame["_k_line"].to_numpy(), records(frame, entity_name, fields)):
        out.setdefault(int(code), []).append(record)
    return out


# ---------------------------------------------------------------------------- CST-001

def _rates_between(source: pd.Series, target: pd.Series, on: pd.Series, fx: pd.DataFrame,
                   reporting_currency: str) -> np.ndarray:
    """Rate turning an amount in ``source`` into ``target`` at each date: the latest direct (or
    inverse) rate between the two effective on or before the date, else the cross rate through the
    reporting currency; NaN where none exists."""
    source = source.astype(TEXT).reset_index(drop=True)
    target = target.astype(TEXT).reset_index(drop=True)
    on = on.reset_index(drop=True)
    rates = np.full(len(source), np.nan)
    for currency in target.dropna().unique():
        rows = np.flatnonzero((target == currency).fillna(False).to_numpy(dtype=bool))
        found, _ = to_reporting_rates(source.take(rows), on.take(rows), str(currency), fx)
        rates[rows] = found
    missing = np.flatnonzero(np.isnan(rates))
    if len(missing):
        there, _ = to_reporting_rates(source.take(missing), on.take(missing), reporting_currency, fx)
        back, _ = to_reporting_rates(target.take(missing), on.take(missing), reporting_currency, fx)
        with np.errstate(divide="ignore", invalid="ignore"):
            rates[missing] = there / back
    return rates


def invoice_price_differs(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """CST-001: invoice lines whose unit price differs from their PO line's by more than
    ``price_tolerance_pct`` percent of the PO price.

    The invoice's unit price is its amount / quantity, converted from the invoice currency to the
    PO line's (its own, else its header's) at the invoice date (direct, inverse or cross rate through
    the reporting currency). A supplier's minimum lot charge (``min_lot_charge``, an amount in the
    PO line's currency, set per supplier or process) is a price too: an invoice whose amount is
    within the price tolerance of it, for a quantity whose value at the PO price is below it, does
    not fire. Not judged: invoice lines without a quantity or amount (no unit price), PO lines
    without a positive price, and invoices that cannot be converted (no rate; CST-003 reports such
    a line when it is a work order's cost).
    """
    invoices = data["invoice_line"]
    line_rows = _first_line_rows(data, invoices["_k_line"])
    qty = invoices["qty"].to_numpy(dtype="float64", na_value=np.nan)
    amount = invoices["amount"].to_numpy(dtype="float64", na_value=np.nan)
    matched = (line_rows >= 0) & (qty != 0) & ~np.isnan(qty) & ~np.isnan(amount)
    lines = data.po_lines
    po_price = np.full(len(invoices), np.nan)
    po_price[matched] = lines["unit_price"].to_numpy(dtype="float64", na_value=np.nan)[line_rows[matched]]
    judged = matched & (po_price > 0)
    po_currency = _take(lines["effective_currency"], np.where(judged, line_rows, -1))
    invoice_currency = invoices["currency"].fillna(po_currency)
    rate = np.where(judged, 1.0, np.nan)
    other = judged & ~(invoice_currency == po_currency).fillna(False).to_numpy(dtype=bool)
    if other.any():
        rows = np.flatnonzero(other)
        rate[rows] = _rates_between(invoice_currency.take(rows), po_currency.take(rows),
                                    invoices["invoice_date"].take(rows), data["fx_rate"],
                                    settings.reporting_currency.strip().upper())
    with np.errstate(divide="ignore", invalid="ignore"):
        converted = amount * rate
        unit_price = converted / qty
        deviation = np.abs(unit_price - po_price) / po_price * 100.0
    # the smallest tolerance any row can have: rows within it are fine whatever their overrides say
    floor = min([float(settings.tolerance("CST-001", "price_tolerance_pct")),
                 *(float(o.tolerances["price_tolerance_pct"]) for o in settings.overrides
                   if o.rule == "CST-001" and "price_tolerance_pct" in o.tolerances)])
    candidates = np.flatnonzero(judged & ~np.isnan(deviation) & (deviation > floor * (1 + _PRICE_SLACK) + _PRICE_SLACK))
    if not len(candidates):
        return _empty()
    context = _line_context(data, line_rows[candidates])
    tolerance = settings.tolerance_for("CST-001", "price_tolerance_pct", context).to_numpy()
    min_charge = settings.tolerance_for("CST-001", "min_lot_charge", context).to_numpy()
    dev = deviation[candidates]
    beyond = dev > tolerance * (1 + _PRICE_SLACK) + _PRICE_SLACK
    value_at_po_price = qty[candidates] * po_price[candidates]
    with np.errstate(divide="ignore", invalid="ignore"):
        from_min = np.abs(converted[candidates] - min_charge) / min_charge * 100.0
    at_min_charge = (min_charge > 0) & (np.abs(value_at_po_price) < min_charge) & (
        from_min <= tolerance * (1 + _PRICE_SLACK) + _PRICE_SLACK)
    fires = beyond & ~at_min_charge
    if not fires.any():
        return _empty()
    positions = candidates[fires]
    offending = _rows(invoices, positions)
    context = context[fires].reset_index(drop=True)
    tolerance, min_charge = tolerance[fires], min_charge[fires]
    line_frame = _rows(data["po_line"], line_rows[positions])
    line_records = records(line_frame, "po_line", _LINE_FIELDS)
    po_currency = po_currency.to_numpy()[positions]

    summaries, evidence = [], []
    own = records(offending, "invoice_line", _INVOICE_FIELDS)
    for i, (record, row, ctx) in enumerate(zip(own, offending.itertuples(index=False), context.itertuples(index=False))):
        k = positions[i]
        currency = text(po_currency[i])
        invoiced_in = text(row.currency, currency)
        converted_note = ""
        if invoiced_in != currency:
            converted_note = (f" ({_money(amount[k] / qty[k])} {invoiced_in} at the {invoiced_in}->{currency} rate "
                              f"{rate[k]:.6g} of {text(row.invoice_date)})")
        direction = "above" if unit_price[k] > po_price[k] else "below"
        # the minimum lot charge is named where it could have applied: a lot worth less than it
        minimum = (f"; the supplier's minimum lot charge of {_money(min_charge[i])} {currency} does not explain "
                   f"an invoice of {_money(converted[k])} {currency}"
                   if 0 < abs(qty[k] * po_price[k]) < min_charge[i] else "")
        summaries.append(
            f"Invoice {row.invoice_number} line {row.invoice_line} (site {row.site}, {row.source_system}) bills "
            f"{describe_po_line(row.po_number, row.line_number)}{_for_op(ctx.wo_number, ctx.op_seq, ctx.process)} from "
            f"supplier {text(ctx.supplier_id, 'unknown')} at {_money(unit_price[k])} {currency} per unit"
            f"{converted_note}, {deviation[k]:.1f}% {direction} the PO price of {_money(po_price[k])} {currency} "
            f"(tolerance {tolerance[i]:g}%){minimum}."
        )
        evidence.append(to_json({
            "records": [record, line_records[i]],
            "invoice_unit_price": round(float(unit_price[k]), 6), "po_unit_price": float(po_price[k]),
            "po_currency": currency, "fx_rate": float(rate[k]), "deviation_pct": round(float(deviation[k]), 4),
            "price_tolerance_pct": float(tolerance[i]), "min_lot_charge": float(min_charge[i]),
        }))
    return subject_frame(offending, "invoice_line", wo_number=context["wo_number"], op_seq=context["op_seq"],
                         po_number=offending["po_number"], line_number=offending["line_number"],
                         summary=summaries, evidence=evidence)
