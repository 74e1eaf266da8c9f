"""The cost roll-up at every grain, its source lines, and the cost rules CST-002, CST-003 and CST-004.

The cost lines of each work order (site + WO number, across sources; a WO held by several sources
is rolled up once, on the copy of the MES or CMMS that runs it rather than an ERP's copy, else the
first by source system and key):

- labour: hours x rate of each labour entry, dated by its entry date;
- material: qty x unit cost of each issue (the item's standard cost and currency when the issue has
  no unit cost), dated by its issue date;
- outside: for each service or outside-processing PO line linked to the WO from any side, counted
  once per WO, its invoice lines (amount, invoice currency, invoice date) when it has any, else its
  receipts (qty converted to the PO line's unit x unit price, receipt date); material bought for the
  WO (an item, not a service, paying no outside processor) is not outside cost: it reaches the WO as
  material when it is issued (TRC-005 reports what never is);
- committed: for a linked PO line not closed or cancelled (material included), what is ordered and
  not yet received x unit price, dated by the PO header's order date (the need-by date without one).

Every line converts to the reporting currency at the rate of its own date: the latest rate from its
currency to the reporting one effective on or before that date, else the latest inverse rate as
1/rate. A line that cannot be valued or converted keeps its source amount, gets no reporting amount
and a ``problem``; every roll-up row it feeds is marked incomplete, with the count of such lines,
rather than silently short.

The lines roll up into one long frame, one row per grain and key (``GRAINS``), for accountants:

- ``operation``: per work order and operation (lines naming no operation form the WO's own row);
- ``wo``: per work order, with its estimate (labour + material + outside estimates, converted at the
  rate of its creation date) and the variance against it, absolute and percent;
- ``asset``: per asset, including the cost of every asset below it (``asset.parent_asset_id``); work
  orders without an asset form the site's row without one; a hierarchy that loops is refused;
- ``item``: per item a production work order makes (maintenance work orders are not in this grain);
- ``site``; ``cost_centre``: the work order's, else its asset's;
- ``supplier``: outside and committed cost by the PO line's supplier, else its PO header's;
- ``month``: by the calendar month of each line's own date.

Grains of work orders compare against the estimates of the work orders that have one
(``estimated_work_orders`` of ``work_orders``); ``supplier`` and ``month`` have no estimate. The
drill-down pairs name the cost lines behind every row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconciliation.exceptions import SUBJECT_COLUMNS, subject_frame
from reconciliation.frames import (
    TEXT,
    WO_KEY,
    CanonicalFrames,
    codes_in,
    grouped_records,
    known,
    material_lines,
    records,
    shadowed_erp_copies,
    text,
    to_json,
)

COST_TYPES = ("labour", "material", "outside", "committed")
COST_LINE_COLUMNS = (
    "line_id", "site", "wo_number", "op_seq", "cost_type", "entity", "source_system", "source_key", "line_date",
    "amount_source", "currency_source", "fx_rate", "amount", "converted", "problem", "supplier_id",
)
#: the grains of the roll-up, in the order their rows appear, and the columns that key a row of each
GRAINS = {
    "operation": ("site", "wo_number", "op_seq"),
    "wo": ("site", "wo_number"),
    "asset": ("site", "asset_id"),
    "item": ("site", "item_number"),
    "site": ("site",),
    "cost_centre": ("site", "cost_centre"),
    "supplier": ("site", "supplier_id"),
    "month": ("site", "month"),
}
#: key and descriptive columns of a roll-up row; a grain fills its own keys, the rest stay empty
_KEY_COLUMNS = ("site", "wo_number", "op_seq", "asset_id", "parent_asset_id", "item_number", "cost_centre",
                "supplier_id", "month", "wo_source_system", "wo_source_key", "kind", "status", "closed_date")
ROLLUP_COLUMNS = (
    "rollup_row_id", "grain", *_KEY_COLUMNS, "currency", "labour_cost", "material_cost", "outside_cost",
    "committed_cost", "actual_cost", "estimate_cost", "variance", "variance_pct", "work_orders",
    "estimated_work_orders", "cost_lines", "incomplete", "unconverted_lines",
)
DRILLDOWN_COLUMNS = ("rollup_row_id", "line_id")
#: PO line statuses that commit no further money
PO_DONE_STATUSES = ("closed", "cancelled")

_ENTITY_LABELS = {
    "labour_entry": "Labour entry", "material_issue": "Material issue", "invoice_line": "Invoice line",
    "receipt": "Receipt", "po_line": "The open commitment on",
}
#: internal text columns carried beside the published cost-line columns, for CST-003's evidence
_CONTEXT_TEXT = ("po_number", "line_number", "po_source_system", "po_source_key", "uom", "po_uom", "item_number",
                 "supplier_id", "own_problem", "receipt_problem")


@dataclass
class CostRollup:
    """The roll-up at every grain, the cost lines behind it, and the lines that could not be converted."""

    #: one row per grain and key (``ROLLUP_COLUMNS``); ``rollup_row_id`` numbers the rows
    rollup: pd.DataFrame
    #: which cost lines feed which roll-up row (``DRILLDOWN_COLUMNS``): every figure's source lines
    drilldown: pd.DataFrame
    #: the cost lines (``COST_LINE_COLUMNS``); ``line_id`` numbers them
    cost_lines: pd.DataFrame
    #: every cost line with its context columns (PO line, units, problems), for CST-003's evidence
    detailed_lines: pd.DataFrame
    #: receipts whose unit cannot be converted to their PO line's, with the PO line they belong to
    unconvertible_receipts: pd.DataFrame
    #: one row per work order of the roll-up (position = the lines' ``_wo``), with ``estimate_cost``
    work_orders: pd.DataFrame

    @cached_property
    def by_work_order(self) -> pd.DataFrame:
        """The roll-up rows of the work-order grain, in the order of ``work_orders``."""
        # the grain's rows are contiguous: a slice, not a copy of a million rows
        rows = np.flatnonzero((self.rollup["grain"] == "wo").to_numpy(dtype=bool))
        if not len(rows):
            return self.rollup.iloc[0:0]
        return self.rollup.iloc[rows[0]:rows[-1] + 1].reset_index(drop=True)


def _constant_text(value, size: int) -> pa.Array:
    """``size`` copies of one text (or NA) as an Arrow array, built from its buffers: pandas would
    repeat a one-row Arrow array, which costs seconds at millions of rows."""
    if value is None or value is pd.NA:
        return pa.nulls(size, pa.large_string())
    encoded = str(value).encode()
    offsets = np.arange(size + 1, dtype=np.int64) * len(encoded)
    return pa.LargeStringArray.from_buffers(size, pa.py_buffer(offsets), pa.py_buffer(encoded * size))


def _text(value, index) -> pd.Series:
    return pd.Series(pd.array(_constant_text(value, len(index)), dtype=TEXT), index=index, copy=False)


def _add_problem(problem: pd.Series, mask: pd.Series, message: pd.Series | str) -> pd.Series:
    """Append ``message`` to the rows' problem text where ``mask`` holds, keeping earlier problems.

    ``message`` is one text for all rows, or a Series indexed like ``problem`` (it may hold only the
    masked rows, so a costly message is built for the few rows that need it).
    """
    mask = mask.fillna(False).astype(bool)
    if not mask.any():
        return problem
    rows = problem.index[mask.to_numpy()]
    if isinstance(message, str):
        message = _text(message, rows)
    else:
        message = message.astype(TEXT).reindex(rows)
    current = problem.loc[rows]
    result = problem.copy()
    result.loc[rows] = (current + "; " + message).fillna(message)
    return result


def _dates_text(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").astype(TEXT)


def uom_factors(from_uom: pd.Series, to_uom: pd.Series, item_number: pd.Series, conversions: pd.DataFrame) -> pd.Series:
    """Factor turning a quantity in ``from_uom`` into ``to_uom``: 1 when the units agree or one is
    unknown; else the item's conversion, else the generic one (item_number empty); NA when neither."""
    factor = pd.Series(1.0, index=from_uom.index)
    differs = (from_uom.notna() & to_uom.notna() & (from_uom != to_uom)).fillna(False).astype(bool)
    if not differs.any():
        return factor
    usable = conversions.dropna(subset=["from_uom", "to_uom", "factor"])
    usable = usable[usable["factor"] > 0]
    specific = usable[usable["item_number"].notna()].drop_duplicates(["item_number", "from_uom", "to_uom"], keep="last")
    generic = usable[usable["item_number"].isna()].drop_duplicates(["from_uom", "to_uom"], keep="last")
    wanted = pd.DataFrame({"item_number": item_number[differs], "from_uom": from_uom[differs], "to_uom": to_uom[differs]})
    by_item = wanted.merge(specific[["item_number", "from_uom", "to_uom", "factor"]], how="left",
                           on=["item_number", "from_uom", "to_uom"])["factor"].to_numpy()
    by_unit = wanted.merge(generic[["from_uom", "to_uom", "factor"]], how="left", on=["from_uom", "to_uom"])["factor"].to_numpy()
    factor[differs] = np.where(np.isnan(by_item), by_unit, by_item)
    return factor


def _rate_tables(fx: pd.DataFrame, reporting_currency: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rates into the reporting currency per (currency, effective date): direct ones and inverted ones."""
    usable = fx[(fx["rate"] > 0) & fx["effective_date"].notna() & fx["from_currency"].notna() & fx["to_currency"].notna()]
    usable = usable.sort_values(["effective_date", "source_system", "source_key"])
    direct = usable[usable["to_currency"] == reporting_currency]
    inverse = usable[usable["from_currency"] == reporting_currency]
    tables = []
    for rows, currency, rate in ((direct, direct["from_currency"], direct["rate"]),
                                 (inverse, inverse["to_currency"], 1.0 / inverse["rate"])):
        table = pd.DataFrame({"currency": currency.astype(TEXT), "effective_date": rows["effective_date"], "rate": rate})
        # two rows for the same currency and day: the last by source system and key wins, so reruns agree
        table = table.drop_duplicates(["currency", "effective_date"], keep="last").sort_values("effective_date")
        tables.append(table.reset_index(drop=True))
    return tables[0], tables[1]


def to_reporting_rates(
    currency: pd.Series, on: pd.Series, reporting_currency: str, fx: pd.DataFrame
) -> tuple[np.ndarray, pd.Series]:
    """The rate converting each amount into the reporting currency at its date, and why not where none.

    Same currency is rate 1 whatever the date. Otherwise the latest direct rate effective on or
    before ``on`` is used, else the latest inverse rate as 1/rate. Returns the rates (NaN where none)
    and a problem text per row (NA where converted).
    """
    currency = currency.astype(TEXT).reset_index(drop=True)
    on = on.reset_index(drop=True)
    rates = np.full(len(currency), np.nan)
    same = (currency == reporting_currency).fillna(False).to_numpy(dtype=bool)
    rates[same] = 1.0
    wanted = ~same & currency.notna().to_numpy() & on.notna().to_numpy()
    if wanted.any():
        direct, inverse = _rate_tables(fx, reporting_currency)
        pending = pd.DataFrame({"currency": currency[wanted], "on": on[wanted], "_row": np.flatnonzero(wanted)})
        pending = pending.sort_values("on", kind="stable")
        for table in (direct, inverse):
            if pending.empty or table.empty:
                continue
            found = pd.merge_asof(pending, table, left_on="on", right_on="effective_date", by="currency",
                                  direction="backward")
            hit = found["rate"].notna().to_numpy()
            rates[found["_row"].to_numpy()[hit]] = found["rate"].to_numpy()[hit]
            pending = pending[~hit]
    problem = pd.Series(pd.NA, index=currency.index, dtype=TEXT)
    missing = np.isnan(rates)
    if missing.any():
        no_currency = pd.Series(missing & currency.isna().to_numpy())
        no_date = pd.Series(missing & ~no_currency.to_numpy() & on.isna().to_numpy())
        no_rate = pd.Series(missing & ~no_currency.to_numpy() & ~no_date.to_numpy())
        problem = _add_problem(problem, no_currency, "no currency on the line or its PO header")
        dateless = currency[no_date.to_numpy()]
        problem = _add_problem(problem, no_date, "no date to choose a " + dateless + "->" + reporting_currency
                               + " exchange rate")
        rateless = no_rate.to_numpy()
        problem = _add_problem(problem, no_rate, "no " + currency[rateless] + "->" + reporting_currency
                               + " exchange rate on or before " + _dates_text(on[rateless]))
    return rates, problem


def _work_orders(data: CanonicalFrames, erp_sources: Iterable[str] = ()) -> pd.DataFrame:
    """One row per work order (site + WO number), so its costs are counted once: an ERP's copy of a
    work order another source holds gives way to that source's (the MES or CMMS that runs the work,
    whose estimate and status the roll-up shows); among the rest the first by source system and key.
    ``_wo`` numbers them."""
    all_wos = data["work_order"]
    rows = np.flatnonzero(known(all_wos["_k_wo"]) & ~shadowed_erp_copies(all_wos, erp_sources))
    twice = np.flatnonzero(pd.Series(all_wos["_k_wo"].to_numpy()[rows]).duplicated(keep=False).to_numpy())
    if len(twice):
        # decide on the few duplicated rows' keys alone: sorting the whole wide frame, or copying it
        # more than once, costs seconds at a million work orders
        keys = all_wos[["_k_wo", "source_system", "source_key"]].iloc[rows[twice]].assign(_row=twice)
        first = keys.sort_values(["_k_wo", "source_system", "source_key"], kind="stable").drop_duplicates("_k_wo")
        keep = np.ones(len(rows), dtype=bool)
        keep[twice] = False
        keep[first["_row"].to_numpy()] = True
        rows = rows[keep]
    # only the columns the grains and the cost rules read: the work-order frame is wide
    wos = all_wos[list(_ROLLUP_WO_COLUMNS)].iloc[rows]
    if len(twice) and not wos.index.is_monotonic_increasing:
        wos = wos.sort_index()
    wos = wos.reset_index(drop=True)
    return wos.assign(_wo=np.arange(len(wos)))


#: the work-order columns the roll-up and the cost rules read
_ROLLUP_WO_COLUMNS = ("site", "wo_number", "kind", "status", "asset_id", "item_number", "cost_centre", "currency",
                      "created_date", "closed_date", "estimate_labour", "estimate_material", "estimate_outside",
                      "source_system", "source_key", "_k_wo")


def _of_work_orders(frame: pd.DataFrame, wo_keys: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """The ``columns`` of the rows of ``frame`` whose work order (``_k_wo``) is in the roll-up, with
    the WO key, lineage and the work order's number ``_wo``."""
    at = pd.Index(wo_keys["_k_wo"]).get_indexer(frame["_k_wo"])
    mine = at >= 0
    # only the columns a cost line reads are taken: labour and material frames are wide
    read = list(dict.fromkeys(("site", "wo_number", "op_seq", "source_system", "source_key", *columns)))
    return frame[read][mine].assign(_wo=wo_keys["_wo"].to_numpy()[at[mine]]).reset_index(drop=True)


def _lines(frame: pd.DataFrame, cost_type: str, entity_name: str, *, line_date: pd.Series, amount_source: pd.Series,
           currency_source: pd.Series, **context: pd.Series) -> pd.DataFrame:
    """A block of cost lines in the common layout, from a frame that carries ``_wo`` and the WO key.

    ``context`` may override the subject's lineage (``source_system``, ``source_key``), ``op_seq`` and
    fill the internal context columns; the rest start empty.
    """
    index = frame.index

    def given(name: str) -> pd.Series:
        return context.pop(name) if name in context else frame[name]

    out = {
        "_wo": frame["_wo"], "site": frame["site"], "wo_number": frame["wo_number"], "op_seq": given("op_seq"),
        "cost_type": _text(cost_type, index), "entity": _text(entity_name, index),
        "source_system": given("source_system"), "source_key": given("source_key"),
        "line_date": line_date, "amount_source": amount_source, "currency_source": currency_source,
    }
    for name in _CONTEXT_TEXT:
        out[name] = context.pop(name, None)
        if out[name] is None:
            out[name] = _text(pd.NA, index)
    if context:
        raise TypeError(f"unknown cost-line columns {sorted(context)}")
    return pd.DataFrame(out, index=index)


def _labour(data: CanonicalFrames, wo_keys: pd.DataFrame, reporting_currency: str) -> pd.DataFrame:
    entries = _of_work_orders(data["labour_entry"], wo_keys, ("entry_date", "hours", "rate", "currency"))
    return _lines(entries, "labour", "labour_entry", line_date=entries["entry_date"],
                  amount_source=entries["hours"] * entries["rate"],
                  currency_source=entries["currency"].fillna(reporting_currency),
                  own_problem=_add_problem(_text(pd.NA, entries.index), entries["rate"].isna(), "no labour rate"))


def _material(data: CanonicalFrames, wo_keys: pd.DataFrame, reporting_currency: str) -> pd.DataFrame:
    issues = _of_work_orders(data["material_issue"], wo_keys,
                             ("issue_date", "qty", "unit_cost", "currency", "item_number"))
    unit_cost = issues["unit_cost"].copy()
    currency = issues["currency"].copy()
    needs_standard = unit_cost.isna()
    if needs_standard.any():
        items = data["item"].dropna(subset=["item_number"])
        # an item known to several sources: prefer a row that has a standard cost
        items = items.assign(_no_cost=items["standard_cost"].isna()).sort_values(
            ["item_number", "_no_cost", "source_system", "source_key"]).drop_duplicates("item_number")
        standard = issues.loc[needs_standard, ["item_number", "currency"]].reset_index(drop=True).merge(
            items[["item_number", "standard_cost", "currency"]].rename(columns={"currency": "item_currency"}),
            how="left", on="item_number")
        unit_cost[needs_standard] = standard["standard_cost"].to_numpy()
        currency[needs_standard] = standard["item_currency"].fillna(standard["currency"]).to_numpy()
    return _lines(issues, "material", "material_issue", line_date=issues["issue_date"],
                  amount_source=issues["qty"] * unit_cost, currency_source=currency.fillna(reporting_currency),
                  item_number=issues["item_number"],
                  own_problem=_add_problem(
                      _text(pd.NA, issues.index), unit_cost.isna(),
                      "no unit cost on the issue and no standard cost for item "
                      + issues.loc[unit_cost.isna(), "item_number"].fillna("(none)")))


def _linked_po_lines(data: CanonicalFrames, wo_keys: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(links, lines): one row per WO and linked PO line (``po_row``: its position in the PO lines);
    and the linked PO lines with their fields, the supplier (the line's, else its header's) and ``po_row``."""
    resolved = data.resolved_links
    at = pd.Index(wo_keys["_k_wo"]).get_indexer(resolved["_k_wo"])
    # only the columns a cost line carries are filtered
    links = resolved[[*WO_KEY, "op_seq", "po_row", "po_source_system", "po_source_key"]][at >= 0].assign(
        _wo=wo_keys["_wo"].to_numpy()[at[at >= 0]])
    # the same PO line linked to a WO several ways is counted once, under the operation a link names
    pair = links["_wo"].to_numpy(dtype=np.int64) * (len(data["po_line"]) + 1) + links["po_row"].to_numpy(dtype=np.int64)
    twice = pd.Series(pair).duplicated(keep=False).to_numpy()
    if twice.any():
        first = links[twice].sort_values(["_wo", "po_row", "op_seq"], na_position="last").drop_duplicates(["_wo", "po_row"])
        links = pd.concat([links[~twice], first])
    links = links[["_wo", *WO_KEY, "op_seq", "po_row", "po_source_system", "po_source_key"]].reset_index(drop=True)
    rows = np.unique(links["po_row"].to_numpy(dtype=np.int64))
    lines = data.po_lines[list(_PO_LINE_FIELDS)].iloc[rows].rename(columns={"source_system": "po_source_system", "source_key": "po_source_key"})
    lines = lines.assign(po_row=rows).reset_index(drop=True)
    # the header's supplier, found by position (-1: no header reads as missing)
    header_row = data.at_first_row("purchase_order", "_k_po", lines["_k_po"])
    header_supplier = pd.Series(data["purchase_order"]["supplier_id"].array.take(header_row, allow_fill=True),
                                index=lines.index)
    lines["supplier_id"] = lines["supplier_id"].fillna(header_supplier)
    return links, lines


#: the columns of PO lines, receipts and invoice lines the roll-up reads (the rest are not carried through joins)
_PO_LINE_FIELDS = ("site", "po_number", "line_number", "status", "qty_ordered", "uom", "item_number", "unit_price",
                   "need_by_date", "supplier_id", "effective_currency", "header_order_date", "source_system",
                   "source_key", "is_service", "process", "_k_po", "_k_line")
_EVENT_FIELDS = {
    "receipt": ("site", "po_number", "line_number", "qty", "uom", "receipt_date", "source_system", "source_key",
                "_k_line"),
    "invoice_line": ("site", "po_number", "line_number", "amount", "currency", "invoice_date", "source_system",
                     "source_key", "_k_line"),
}


def _by_line_code(data: CanonicalFrames, entity_name: str, lines: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """Rows of ``entity_name`` (receipts, invoice lines) joined to the linked PO lines of their key code
    ``_k_line`` (one row per PO line of that key), with the lines' ``fields``."""
    frame = data[entity_name]
    frame = frame.loc[codes_in(frame["_k_line"], lines["_k_line"]), list(_EVENT_FIELDS[entity_name])]
    return frame.merge(lines[["_k_line", *fields]], on="_k_line")


def _receipts(data: CanonicalFrames, lines: pd.DataFrame) -> pd.DataFrame:
    """Receipts of the linked PO lines with their quantity in the PO line's unit (NA: no conversion)."""
    fields = ["po_row", "po_source_system", "po_source_key", "uom", "item_number", "unit_price", "effective_currency",
              "supplier_id"]
    receipts = _by_line_code(data, "receipt", lines.rename(columns={"uom": "po_uom"}),
                             [f if f != "uom" else "po_uom" for f in fields])
    factor = uom_factors(receipts["uom"], receipts["po_uom"], receipts["item_number"], data["uom_conversion"])
    receipts["qty_po"] = receipts["qty"] * factor
    bad = receipts[factor.isna().to_numpy()]
    receipts["uom_problem"] = _add_problem(
        _text(pd.NA, receipts.index), factor.isna(),
        "received in " + bad["uom"] + " but the PO line is priced per " + bad["po_uom"] + ", and no "
        + bad["uom"] + "->" + bad["po_uom"] + " unit conversion exists"
        + (" for item " + bad["item_number"] + " nor a generic one").fillna(""),
    )
    return receipts


_LINE_ID = ["po_source_system", "po_source_key"]


def _outside_and_committed(data: CanonicalFrames, wo_keys: pd.DataFrame) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """Outside (invoiced, else received) and committed cost lines of the PO lines linked to each WO,
    and the receipts whose unit conversion is missing while an open commitment depends on them."""
    links, lines = _linked_po_lines(data, wo_keys)
    receipts = _receipts(data, lines)
    no_price = "no unit price on the PO line"
    link_side = links.drop(columns=_LINE_ID)
    # Material bought for a work order (an item, not a service, paying no outside processor) reaches
    # the work order when it is issued to it, as material at the lot's price: its receipts and
    # invoices are not outside services, else it would be counted twice. Until received it is committed.
    material = material_lines(lines) & ~np.isin(lines["po_row"].to_numpy(), data.osp_links["po_row"].to_numpy())
    bought_outside = link_side[~np.isin(link_side["po_row"].to_numpy(), lines["po_row"].to_numpy()[material])]

    invoices = _by_line_code(data, "invoice_line", lines, ["po_row", *_LINE_ID, "effective_currency", "supplier_id"])
    on_invoice = bought_outside.merge(invoices.drop(columns=["site"]), on="po_row")
    invoice_lines = _lines(
        on_invoice, "outside", "invoice_line", line_date=on_invoice["invoice_date"], amount_source=on_invoice["amount"],
        currency_source=on_invoice["currency"].fillna(on_invoice["effective_currency"]),
        **{c: on_invoice[c] for c in ("po_number", "line_number", *_LINE_ID, "supplier_id")},
    )

    not_invoiced = bought_outside[~codes_in(bought_outside["po_row"], invoices["po_row"])]
    on_receipt = not_invoiced.merge(receipts.drop(columns=["site"]), on="po_row")
    receipt_lines = _lines(
        on_receipt, "outside", "receipt", line_date=on_receipt["receipt_date"],
        amount_source=on_receipt["qty_po"] * on_receipt["unit_price"], currency_source=on_receipt["effective_currency"],
        own_problem=_add_problem(on_receipt["uom_problem"], on_receipt["unit_price"].isna(), no_price),
        **{c: on_receipt[c] for c in ("po_number", "line_number", *_LINE_ID, "uom", "po_uom", "item_number",
                                      "supplier_id")},
    )

    received = receipts.assign(_unknown=receipts["qty_po"].isna()).groupby("po_row").agg(
        received_qty=("qty_po", "sum"), receipts_unknown=("_unknown", "any")).reset_index()
    open_lines = lines[~lines["status"].isin(PO_DONE_STATUSES)].merge(received, how="left", on="po_row")
    unknown = open_lines["receipts_unknown"].astype("boolean").fillna(False).astype(bool)
    remaining = (open_lines["qty_ordered"] - open_lines["received_qty"].astype("float64").fillna(0.0)).clip(lower=0.0)
    bad_receipts = receipts[receipts["qty_po"].isna()]
    bad_keys = bad_receipts.groupby("po_row")["source_key"].agg(lambda k: ", ".join(k.astype(str)))
    keys_text = bad_keys.reindex(open_lines["po_row"]).to_numpy() if len(bad_keys) else \
        np.full(len(open_lines), None, dtype=object)
    no_quantity = open_lines["qty_ordered"].isna()
    open_lines = open_lines.assign(
        remaining=remaining.where(~unknown),
        receipts_unknown=unknown,
        commit_date=open_lines["header_order_date"].fillna(open_lines["need_by_date"]),
        own_problem=_add_problem(
            _add_problem(_text(pd.NA, open_lines.index), open_lines["unit_price"].isna(), no_price),
            no_quantity, "no ordered quantity on the PO line"),
        receipt_problem=_add_problem(
            _text(pd.NA, open_lines.index), unknown,
            "the received quantity is unknown: receipt(s) "
            + pd.Series(keys_text, index=open_lines.index)[unknown.to_numpy()].astype(TEXT).fillna("")
            + " cannot be converted to " + open_lines.loc[unknown.to_numpy(), "uom"].fillna("the PO line's unit")),
    )
    worth_a_line = (open_lines["remaining"] > 0).fillna(False).astype(bool) | unknown | open_lines["own_problem"].notna()
    open_lines = open_lines[worth_a_line]
    committed = link_side.merge(open_lines.drop(columns=["site", "wo_ref", "op_ref"], errors="ignore"), on="po_row")
    committed_lines = _lines(
        committed, "committed", "po_line", line_date=committed["commit_date"],
        amount_source=committed["remaining"] * committed["unit_price"], currency_source=committed["effective_currency"],
        source_system=committed["po_source_system"], source_key=committed["po_source_key"],
        own_problem=committed["own_problem"], receipt_problem=committed["receipt_problem"],
        **{c: committed[c] for c in ("po_number", "line_number", *_LINE_ID, "uom", "item_number", "supplier_id")},
    )
    blocking = bad_receipts.merge(open_lines.loc[open_lines["receipts_unknown"], ["po_row"]], on="po_row")
    return [invoice_lines, receipt_lines, committed_lines], blocking


def cost_rollup_of(data: CanonicalFrames, reporting_currency: str, erp_sources: Iterable[str] = ()) -> CostRollup:
    """The roll-up of ``data``, computed once per reconcile and shared by the cost rules (CST-002..004).

    ``erp_sources`` are the sources with role erp: their copy of a work order that the MES or CMMS
    also holds is not the one rolled up (see ``_work_orders``).
    """
    erp_sources = tuple(sorted(erp_sources))
    cache = data.__dict__.setdefault("_cost_rollups", {})
    if (reporting_currency, erp_sources) not in cache:
        cache[(reporting_currency, erp_sources)] = roll_up(data, reporting_currency, erp_sources)
    return cache[(reporting_currency, erp_sources)]


def roll_up(data: CanonicalFrames, reporting_currency: str, erp_sources: Iterable[str] = ()) -> CostRollup:
    """Cost lines per work order converted to the reporting currency, rolled up at every grain."""
    wos = _work_orders(data, erp_sources)
    wo_keys = wos[["_k_wo", "_wo"]]
    outside_parts, blocking_receipts = _outside_and_committed(data, wo_keys)
    parts = [_labour(data, wo_keys, reporting_currency), _material(data, wo_keys, reporting_currency), *outside_parts]
    lines = pd.concat(parts, ignore_index=True)
    for column in ("site", "wo_number", "op_seq", "cost_type", "entity", "source_system", "source_key",
                   "currency_source", *_CONTEXT_TEXT):
        lines[column] = lines[column].astype(TEXT)
    lines["_wo"] = lines["_wo"].astype("int64")
    lines["line_date"] = lines["line_date"].astype("datetime64[us]")
    lines["amount_source"] = lines["amount_source"].astype("float64")

    rates, fx_problem = to_reporting_rates(lines["currency_source"], lines["line_date"], reporting_currency, data["fx_rate"])
    lines["fx_rate"] = rates
    lines["own_problem"] = _add_problem(lines["own_problem"], fx_problem.notna(), fx_problem)
    lines["problem"] = _add_problem(lines["own_problem"], lines["receipt_problem"].notna(), lines["receipt_problem"])
    lines["converted"] = lines["problem"].isna().to_numpy(dtype=bool)
    lines["amount"] = (lines["amount_source"] * lines["fx_rate"]).where(lines["converted"])
    lines["line_id"] = np.arange(len(lines), dtype=np.int64)
    wos = _with_estimates(wos, reporting_currency, data)
    rollup, drilldown = _Rollups(wos, lines, data).build(reporting_currency)
    return CostRollup(
        rollup=rollup,
        drilldown=drilldown,
        cost_lines=lines[list(COST_LINE_COLUMNS)],
        detailed_lines=lines,
        unconvertible_receipts=blocking_receipts,
        work_orders=wos,
    )


def _with_estimates(wos: pd.DataFrame, reporting_currency: str, data: CanonicalFrames) -> pd.DataFrame:
    """The work orders with their estimate in the reporting currency, at the rate of their creation date."""
    estimate = wos[["estimate_labour", "estimate_material", "estimate_outside"]].sum(axis=1, min_count=1)
    rates, _ = to_reporting_rates(wos["currency"].fillna(reporting_currency), wos["created_date"], reporting_currency,
                                  data["fx_rate"])
    return wos.assign(estimate_cost=estimate.to_numpy() * rates)


class AssetHierarchyError(ValueError):
    """The asset hierarchy loops back on itself, so no asset's roll-up can include its children's."""


def _value_codes(column: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """Codes of a column's values (NA: -1) and how many distinct values there are; text is encoded by
    Arrow without leaving its buffers."""
    if isinstance(column, pd.Series) and isinstance(column.dtype, pd.StringDtype):
        arrow = pa.chunked_array(pa.array(column.array)).combine_chunks() if len(column) else pa.array([], pa.string())
        encoded = arrow.dictionary_encode()
        codes = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        return codes, len(encoded.dictionary)
    column = np.asarray(column)
    if column.dtype.kind in "iu" and len(column) and 0 <= column.min() and column.max() < 2**31:
        # already small non-negative codes (work-order positions): the groups only need them distinct
        return column.astype(np.int64, copy=False), int(column.max()) + 1
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), len(uniques)


def _group_codes(*columns: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A group number per row for the combination of the columns (NA is a value of its own), and one
    row of each group (any: every row of a group has the same values)."""
    size = len(columns[0])
    combined = np.zeros(size, dtype=np.int64)
    for column in columns:
        codes, count = _value_codes(column)
        combined = combined * (count + 1) + (codes + 1)
    groups, uniques = pd.factorize(combined)
    groups = np.asarray(groups, dtype=np.int64)
    one_row = np.zeros(len(uniques), dtype=np.int64)
    one_row[groups] = np.arange(size, dtype=np.int64)
    return groups, one_row


def _expand(owner: np.ndarray, member_counts: np.ndarray, members: np.ndarray, starts: np.ndarray,
            ) -> tuple[np.ndarray, np.ndarray]:
    """(row, member) pairs: each row of ``owner`` (an index into the groups) repeated once per member of
    its group, where group g's members are ``members[starts[g]:starts[g] + member_counts[g]]``."""
    counts = member_counts[owner]
    first = np.cumsum(counts) - counts
    total = int(counts.sum())
    # int32: the pairs are the asset grain's drill-down, kept as int32 anyway
    rows, of = np.empty(total, dtype=np.int32), np.empty(total, dtype=np.int32)
    begin = starts[owner]
    # member by member (a hierarchy is a few levels deep): no pair-sized temporaries, which at tens of
    # millions of pairs cost more than the work itself
    holding = np.arange(len(owner), dtype=np.int64)
    for depth in range(int(counts.max()) if len(counts) else 0):
        holding = holding[counts[holding] > depth]
        at = first[holding] + depth
        rows[at] = holding
        of[at] = members[begin[holding] + depth]
    return rows, of


@dataclass
class _Block:
    """The rows of one grain before assembly: key columns (see ``_Rollups.add``), figures, drill-down pairs."""

    grain: str
    size: int
    keys: dict[str, Any]
    figures: dict[str, np.ndarray | None]
    group: np.ndarray
    line: np.ndarray


def _as_text(array: pa.Array | pa.ChunkedArray) -> pd.arrays.ArrowStringArray:
    return pd.array(array, dtype=TEXT)


class _ArrowSources:
    """The Arrow text behind the Series the grains take their keys from.

    A grain's piece of a key column is a chunk of the assembled column: taken rows, a Series' own
    chunks, or a slice of one shared all-NA array, so no text is copied twice and the empty keys of
    millions of rows cost nothing."""

    def __init__(self, largest_block: int):
        self._arrays: dict[int, tuple[pd.Series, pa.ChunkedArray]] = {}
        self._nulls = pa.nulls(largest_block, pa.large_string())

    def arrow_of(self, series: pd.Series) -> pa.ChunkedArray:
        """The text of ``series`` as large_string chunks (kept while building)."""
        known_array = self._arrays.get(id(series))
        if known_array is None:
            if isinstance(series.dtype, pd.StringDtype):
                array = pa.chunked_array(pa.array(series.array)) if len(series) else pa.chunked_array([], pa.string())
            else:
                values = np.asarray(series, dtype=object)
                array = pa.chunked_array([pa.array(values, pa.large_string(), from_pandas=True)])
            if array.type != pa.large_string():
                array = array.cast(pa.large_string())
            known_array = self._arrays[id(series)] = (series, array)
        return known_array[1]

    def chunks_of(self, value: Any, size: int) -> list[pa.Array]:
        """A key column of one grain: ``(source, rows)`` taken from its source, values as given, or all NA."""
        if value is None:
            return [self._nulls.slice(0, size)]
        if isinstance(value, tuple):
            source, rows = value
            return self.arrow_of(source).take(pa.array(rows, pa.int64())).chunks
        return self.arrow_of(value if isinstance(value, pd.Series) else pd.Series(value, dtype=object)).chunks


def _counts(parts: list[np.ndarray | None], sizes: list[int]) -> np.ndarray | pd.arrays.IntegerArray:
    """Count columns of the grains as one column: nullable when some grain has none (None)."""
    if not parts:
        return np.empty(0, np.int64)
    values = np.concatenate([np.zeros(size, np.int64) if part is None else part for part, size in zip(parts, sizes)])
    if all(part is not None for part in parts):
        return values
    missing = np.concatenate([np.full(size, part is None) for part, size in zip(parts, sizes)])
    return pd.arrays.IntegerArray(values, missing)


#: the largest (groups x work orders) bitmap ``_Rollups._distinct_wos`` builds, in bytes
_BITMAP_LIMIT = 64_000_000


class _Rollups:
    """Builds the roll-up rows of every grain and the drill-down pairs (roll-up row, cost line)."""

    def __init__(self, wos: pd.DataFrame, lines: pd.DataFrame, data: CanonicalFrames):
        self.wos, self.lines, self.data = wos, lines, data
        self.wo_of_line = lines["_wo"].to_numpy(dtype=np.int64)
        # the cost type's position in COST_TYPES, found by Arrow: no Python string per line
        cost_types = pa.chunked_array(pa.array(lines["cost_type"].array)) if len(lines) else pa.chunked_array([], pa.string())
        self.type_of_line = np.asarray(
            pc.fill_null(pc.index_in(cost_types, value_set=pa.array(COST_TYPES, cost_types.type)), -1)
            .to_numpy(), dtype=np.int64)
        self.converted = lines["converted"].to_numpy(dtype=bool)
        self.amount = np.where(self.converted, lines["amount"].to_numpy(dtype="float64", na_value=np.nan), 0.0)
        estimate = wos["estimate_cost"].to_numpy(dtype="float64", na_value=np.nan)
        self.has_estimate = ~np.isnan(estimate) & (estimate > 0)
        self.estimate = np.where(self.has_estimate, estimate, 0.0)
        n_wo = len(wos)
        per_wo = np.bincount(self.wo_of_line * 4 + self.type_of_line, weights=self.amount,
                             minlength=4 * n_wo).reshape(n_wo, 4)
        self.actual_of_wo = per_wo[:, :3].sum(axis=1)
        self.blocks: list[_Block] = []
        #: the lines of a grain that every line feeds once (pass this very array to ``add``)
        self.every_line = np.arange(len(lines), dtype=np.int64)
        self.every_line32 = self.every_line.astype(np.int32)

    # ------------------------------------------------------------------ one block per grain
    def add(self, grain: str, keys: dict[str, Any], n_groups: int, line_pairs: tuple[np.ndarray, np.ndarray],
            wo_pairs: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Roll the lines up into ``n_groups`` rows of ``grain``.

        ``keys`` maps key columns to their values: a text column ``(source, rows)`` is the rows of a
        text Series, taken once when the frame is assembled; anything else is the values themselves.
        ``line_pairs`` (group, line) say which cost lines feed each row; ``wo_pairs`` (group, work order)
        which work orders' estimates it compares against (None: the grain has no estimate)."""
        group, line = line_pairs
        # grains fed by every line once use the line arrays as they are: no copies of millions of rows
        every = line is self.every_line
        type_of_line = self.type_of_line if every else self.type_of_line[line]
        sums = np.bincount(group * 4 + type_of_line, weights=self.amount if every else self.amount[line],
                           minlength=4 * n_groups).reshape(n_groups, 4)
        del type_of_line
        not_converted = ~self.converted if every else ~self.converted[line]
        unconverted = np.bincount(group[not_converted], minlength=n_groups).astype(np.int64)
        del not_converted
        # figures stay numpy arrays (None: NA) until ``build`` assembles every grain at once
        figures: dict[str, np.ndarray | None] = {
            "labour_cost": sums[:, 0], "material_cost": sums[:, 1], "outside_cost": sums[:, 2],
            "committed_cost": sums[:, 3], "actual_cost": sums[:, :3].sum(axis=1),
        }
        if wo_pairs is None:
            figures["estimate_cost"] = np.full(n_groups, np.nan)
            figures["variance"] = np.full(n_groups, np.nan)
            figures["estimated_work_orders"] = None
            work_orders = keys.get("_work_orders")
            figures["work_orders"] = None if work_orders is None else np.asarray(work_orders, dtype=np.int64)
        else:
            g, wo = wo_pairs
            has = self.has_estimate[wo]
            estimated = np.bincount(g, weights=has, minlength=n_groups)
            estimate = np.bincount(g, weights=self.estimate[wo], minlength=n_groups)
            variance = np.bincount(g, weights=np.where(has, self.actual_of_wo[wo] - self.estimate[wo], 0.0),
                                   minlength=n_groups)
            figures["estimate_cost"] = np.where(estimated > 0, estimate, np.nan)
            figures["variance"] = np.where(estimated > 0, variance, np.nan)
            figures["estimated_work_orders"] = estimated.astype(np.int64)
            figures["work_orders"] = np.bincount(g, minlength=n_groups).astype(np.int64)
        figures["cost_lines"] = np.bincount(group, minlength=n_groups).astype(np.int64)
        figures["unconverted_lines"] = unconverted
        figures["incomplete"] = unconverted > 0
        # the pairs are the drill-down; int32 keeps the largest arrays of the roll-up at half the size
        lines32 = self.every_line32 if every else line.astype(np.int32, copy=False)
        self.blocks.append(_Block(grain, n_groups, keys, figures, group.astype(np.int32, copy=False), lines32))

    def build(self, reporting_currency: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every grain's rows as one long frame (``ROLLUP_COLUMNS``) and the drill-down pairs."""
        self._operations()
        self._wo_grain()
        self._assets()
        self._by_work_order_attribute("item", "item_number", self._production_items())
        self._by_work_order_attribute("site", None, None)
        self._by_work_order_attribute("cost_centre", "cost_centre", self._cost_centres())
        self._suppliers()
        self._months()
        blocks, self.blocks = self.blocks, []
        sizes = [block.size for block in blocks]
        total = sum(sizes)
        columns: dict[str, Any] = {"rollup_row_id": np.arange(total, dtype=np.int64)}
        grain_names = pa.array([block.grain for block in blocks], pa.large_string())
        columns["grain"] = _as_text(grain_names.take(np.repeat(np.arange(len(blocks)), sizes)))
        sources = _ArrowSources(max(sizes, default=0))
        for column in _KEY_COLUMNS:
            if column == "closed_date":
                dates = [np.full(block.size, np.datetime64("NaT"), dtype="datetime64[us]")
                         if block.keys.get(column) is None
                         else np.asarray(block.keys[column], dtype="datetime64[us]") for block in blocks]
                columns[column] = np.concatenate(dates) if dates else np.empty(0, "datetime64[us]")
                continue
            chunks = [chunk for block in blocks for chunk in sources.chunks_of(block.keys.get(column), block.size)]
            columns[column] = _as_text(pa.chunked_array(chunks, pa.large_string()))
        columns["currency"] = _as_text(_constant_text(reporting_currency, total))
        for name in ("labour_cost", "material_cost", "outside_cost", "committed_cost", "actual_cost", "estimate_cost",
                     "variance"):
            # each grain's figure is dropped once copied, so the roll-up is not held twice
            columns[name] = np.concatenate([block.figures.pop(name) for block in blocks])
        estimate, variance = columns["estimate_cost"], columns["variance"]
        with np.errstate(divide="ignore", invalid="ignore"):
            columns["variance_pct"] = np.where(np.isnan(estimate) | (estimate == 0), np.nan, variance / estimate * 100.0)
        for name in ("work_orders", "estimated_work_orders"):
            columns[name] = _counts([block.figures.pop(name) for block in blocks], sizes)
        for name in ("cost_lines", "unconverted_lines", "incomplete"):
            columns[name] = np.concatenate([block.figures.pop(name) for block in blocks])
        rollup = pd.DataFrame({name: columns[name] for name in ROLLUP_COLUMNS}, copy=False)
        # int32 halves the largest frame of the roll-up (lines x grains); ids stay far below 2**31. The
        # pairs are written in place: tens of millions of them, so every temporary copy counts
        n_pairs = sum(len(block.line) for block in blocks)
        row_ids, line_ids = np.empty(n_pairs, np.int32), np.empty(n_pairs, np.int32)
        at, offset = 0, 0
        for block in blocks:
            np.add(block.group, np.int32(offset), out=row_ids[at:at + len(block.group)])
            line_ids[at:at + len(block.line)] = block.line
            at += len(block.line)
            offset += block.size
            block.group = block.line = None  # drop each block's pairs once copied
        drilldown = pd.DataFrame({"rollup_row_id": row_ids, "line_id": line_ids}, copy=False)
        return rollup, drilldown

    # ------------------------------------------------------------------ the grains
    def _all_lines(self, group_of_line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = group_of_line >= 0
        if keep.all():
            return group_of_line, self.every_line
        return group_of_line[keep], np.flatnonzero(keep)

    def _wo_grain(self) -> None:
        wos = self.wos
        n = len(wos)
        wo = np.arange(n, dtype=np.int64)
        # each work order's own row: its columns as they are (taken whole when the frame is assembled)
        keys: dict[str, Any] = {name: wos[name] for name in ("site", "wo_number", "kind", "status", "asset_id",
                                                               "item_number")}
        keys["wo_source_system"] = wos["source_system"]
        keys["wo_source_key"] = wos["source_key"]
        keys["closed_date"] = wos["closed_date"].to_numpy(dtype="datetime64[us]")
        keys["cost_centre"] = self._cost_centres()
        self.add("wo", keys, n, (self.wo_of_line, self.every_line), (wo, wo))
        # the work order's own estimate, zero included, as the per-WO roll-up always showed it
        figures = self.blocks[-1].figures
        figures["estimate_cost"] = wos["estimate_cost"].to_numpy(dtype="float64", na_value=np.nan)
        figures["variance"] = figures["actual_cost"] - figures["estimate_cost"]

    def _operations(self) -> None:
        groups, one_line = _group_codes(self.wo_of_line, self.lines["op_seq"])
        # the work order's status and lineage are on its own row; an operation row names only its keys
        keys: dict[str, Any] = {name: (self.lines[name], one_line) for name in ("site", "wo_number", "op_seq")}
        keys["_work_orders"] = np.ones(len(one_line), dtype=np.int64)
        self.add("operation", keys, len(one_line), (groups, self.every_line), None)

    def _by_work_order_attribute(self, grain: str, column: str | None, values: pd.Series | None) -> None:
        """A grain keyed by (site, one attribute of the work order); NA groups the WOs without it."""
        site = self.wos["site"]
        if column is None:
            group_of_wo, one_wo = _group_codes(site)
            keys = {"site": (site, one_wo)}
        else:
            in_grain = values.attrs.get("in_grain")
            values = values.reset_index(drop=True)
            group_of_wo, one_wo = _group_codes(site, values)
            if in_grain is not None:
                group_of_wo = np.where(in_grain, group_of_wo, -1)
                kept = np.unique(group_of_wo[group_of_wo >= 0])
                renumber = np.full(len(one_wo), -1, dtype=np.int64)
                renumber[kept] = np.arange(len(kept))
                group_of_wo = np.where(group_of_wo >= 0, renumber[np.maximum(group_of_wo, 0)], -1)
                one_wo = one_wo[kept]
            keys = {"site": (site, one_wo), column: (values, one_wo)}
        wo = np.flatnonzero(group_of_wo >= 0)
        self.add(grain, keys, len(one_wo), self._all_lines(group_of_wo[self.wo_of_line]), (group_of_wo[wo], wo))

    def _production_items(self) -> pd.Series:
        """The item a production work order makes; maintenance work orders are not in the item grain."""
        items = self.wos["item_number"].reset_index(drop=True).copy()
        items.attrs["in_grain"] = (self.wos["kind"] == "production").fillna(False).to_numpy(dtype=bool)
        return items

    def _asset_nodes(self) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The assets (site, asset_id) the work orders and the asset table name, each with its parent
        (position, -1 for none), and the node of each work order (its asset, or the site's "no asset")."""
        assets = self.data["asset"].dropna(subset=["site", "asset_id"])
        assets = assets.sort_values(["site", "asset_id", "source_system", "source_key"]).drop_duplicates(["site", "asset_id"])
        n_assets = len(assets)
        site = pd.concat([assets["site"], assets["site"], self.wos["site"]], ignore_index=True)
        asset_id = pd.concat([assets["asset_id"], assets["parent_asset_id"], self.wos["asset_id"]], ignore_index=True)
        node, one_row = _group_codes(site, asset_id)
        nodes = pd.DataFrame({"site": site.take(one_row).to_numpy(), "asset_id": asset_id.take(one_row).to_numpy()})
        nodes = nodes.astype(TEXT)
        parent = np.full(len(one_row), -1, dtype=np.int64)
        has_parent = assets["parent_asset_id"].notna().to_numpy()
        parent[node[:n_assets][has_parent]] = node[n_assets:2 * n_assets][has_parent]
        nodes["parent_asset_id"] = pd.Series(pd.NA, index=nodes.index, dtype=TEXT)
        nodes.loc[parent >= 0, "parent_asset_id"] = nodes["asset_id"].to_numpy()[parent[parent >= 0]]
        nodes["cost_centre"] = pd.Series(pd.NA, index=nodes.index, dtype=TEXT)
        nodes.loc[node[:n_assets], "cost_centre"] = assets["cost_centre"].to_numpy()
        nodes["source"] = pd.Series(pd.NA, index=nodes.index, dtype=TEXT)
        nodes.loc[node[:n_assets], "source"] = (assets["source_system"] + " " + assets["source_key"]).to_numpy()
        return nodes, parent, node[2 * n_assets:]

    def _ancestors(self, nodes: pd.DataFrame, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each node's chain up the hierarchy (itself first), as members/starts/counts for ``_expand``.

        A parent chain that never ends is a cycle: refused, naming the assets on it."""
        n = len(parent)
        pairs_node, pairs_anc = [np.arange(n, dtype=np.int64)], [np.arange(n, dtype=np.int64)]
        current = np.arange(n, dtype=np.int64)
        for _ in range(n + 1):
            current = np.where(current >= 0, parent[np.maximum(current, 0)], -1)
            walking = current >= 0
            if not walking.any():
                break
            pairs_node.append(np.flatnonzero(walking))
            pairs_anc.append(current[walking])
        else:
            raise AssetHierarchyError(_describe_cycle(nodes, parent, int(np.flatnonzero(current >= 0)[0])))
        node = np.concatenate(pairs_node)
        ancestor = np.concatenate(pairs_anc)
        order = np.argsort(node, kind="stable")
        counts = np.bincount(node, minlength=n)
        return ancestor[order], np.cumsum(counts) - counts, counts

    def _assets(self) -> None:
        nodes, parent, node_of_wo = self._asset_nodes()
        self._nodes, self._node_of_wo = nodes, node_of_wo
        members, starts, counts = self._ancestors(nodes, parent)
        wo_rows, wo_groups = _expand(node_of_wo, counts, members, starts)
        line_rows, line_groups = _expand(node_of_wo[self.wo_of_line], counts, members, starts)
        keys = {"site": nodes["site"], "asset_id": nodes["asset_id"], "parent_asset_id": nodes["parent_asset_id"],
                "cost_centre": nodes["cost_centre"]}
        self.add("asset", keys, len(nodes), (line_groups, line_rows), (wo_groups, wo_rows))

    def _cost_centres(self) -> pd.Series:
        """The work order's cost centre, else its asset's."""
        if not hasattr(self, "_nodes"):
            self._nodes, _, self._node_of_wo = self._asset_nodes()
        of_asset = self._nodes["cost_centre"].take(self._node_of_wo).reset_index(drop=True)
        return self.wos["cost_centre"].reset_index(drop=True).fillna(of_asset)

    def _suppliers(self) -> None:
        """Outside and committed cost by the supplier of the PO line (else its PO header)."""
        bought = np.flatnonzero(self.type_of_line >= 2)
        site = self.lines["site"].take(bought).reset_index(drop=True)
        supplier = self.lines["supplier_id"].take(bought).reset_index(drop=True)
        groups, one = _group_codes(site, supplier)
        keys = {"site": (self.lines["site"], bought[one]), "supplier_id": (self.lines["supplier_id"], bought[one]),
                "_work_orders": self._distinct_wos(groups, bought, len(one))}
        self.add("supplier", keys, len(one), (groups, bought), None)

    def _months(self) -> None:
        """Cost by the calendar month of each line's own date; lines without a date form their own row."""
        dates = self.lines["line_date"].to_numpy(dtype="datetime64[us]")
        site = self.lines["site"].reset_index(drop=True)
        month_number = np.where(np.isnat(dates), np.iinfo(np.int64).min, dates.astype("datetime64[M]").astype(np.int64))
        groups, one = _group_codes(site, month_number)
        months = dates[one].astype("datetime64[M]")
        month_text = pd.Series(np.datetime_as_string(months, unit="M"), dtype=object).where(~np.isnat(months), None)
        every = self.every_line
        keys = {"site": (site, one), "month": month_text,
                "_work_orders": self._distinct_wos(groups, every, len(one))}
        self.add("month", keys, len(one), (groups, every), None)

    def _distinct_wos(self, groups: np.ndarray, lines: np.ndarray, n_groups: int) -> np.ndarray:
        """How many distinct work orders the ``lines`` of each group belong to."""
        n_wo = len(self.wos)
        if n_groups * n_wo <= _BITMAP_LIMIT:
            # few groups (months, sites): mark (group, work order) in a bitmap, far cheaper than hashing pairs
            seen = np.zeros((n_groups, n_wo), dtype=bool)
            seen[groups, self.wo_of_line[lines]] = True
            return seen.sum(axis=1).astype(np.int64)
        pairs = pd.unique(groups * (n_wo + 1) + self.wo_of_line[lines])
        return np.bincount(pairs // (n_wo + 1), minlength=n_groups).astype(np.int64)


def _describe_cycle(nodes: pd.DataFrame, parent: np.ndarray, start: int) -> str:
    """'site NORTH: P-1 -> P-2 -> P-1' for the cycle reached from ``start``, with the asset rows' sources."""
    seen: list[int] = []
    node = start
    while node not in seen:
        seen.append(node)
        node = int(parent[node])
    loop = seen[seen.index(node):] + [node]
    names = " -> ".join(str(nodes.at[i, "asset_id"]) for i in loop)
    sources = ", ".join(sorted({str(nodes.at[i, "source"]) for i in loop[:-1] if not pd.isna(nodes.at[i, "source"])}))
    return (f"the asset hierarchy of site {nodes.at[node, 'site']} loops: {names} (asset.parent_asset_id; rows "
            f"{sources}). An asset's cost includes its children's, so the cost roll-up needs a tree: fix the "
            f"parent asset of one of these assets in its source")


_LINE_FIELDS = ("site", "wo_number", "op_seq", "cost_type", "line_date", "amount_source", "currency_source",
                "po_number", "line_number")


def unconvertible_lines(costs: CostRollup, data: CanonicalFrames, reporting_currency: str) -> pd.DataFrame:
    """CST-003: one finding per cost line that cannot be valued or converted, about that line.

    A commitment that is unknown only because a receipt's unit cannot be converted is reported on
    that receipt, the line that needs fixing.
    """
    lines = costs.detailed_lines
    own = lines[lines["own_problem"].notna()]
    via_receipts = costs.unconvertible_receipts
    if own.empty and via_receipts.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    receipt_subjects = pd.DataFrame({
        "site": via_receipts["site"], "wo_number": pd.NA, "op_seq": pd.NA, "cost_type": "committed",
        "entity": "receipt", "source_system": via_receipts["source_system"], "source_key": via_receipts["source_key"],
        "line_date": via_receipts["receipt_date"], "amount_source": np.nan, "currency_source": pd.NA,
        "po_number": via_receipts["po_number"], "line_number": via_receipts["line_number"],
        "po_source_system": via_receipts["po_source_system"], "po_source_key": via_receipts["po_source_key"],
        "uom": via_receipts["uom"], "po_uom": via_receipts["po_uom"], "item_number": via_receipts["item_number"],
        "own_problem": via_receipts["uom_problem"],
    })
    # the work orders whose commitment waits on the receipt
    committed = lines.loc[lines["receipt_problem"].notna(), ["po_source_system", "po_source_key", "wo_number", "op_seq"]]
    receipt_subjects = receipt_subjects.drop(columns=["wo_number", "op_seq"]).merge(
        committed, on=["po_source_system", "po_source_key"])
    subjects = pd.concat([own, receipt_subjects], ignore_index=True)
    for column in ("site", "wo_number", "op_seq", "entity", "source_system", "source_key", "po_number", "line_number"):
        subjects[column] = subjects[column].astype(TEXT)

    identity = ["entity", "source_system", "source_key"]
    first = subjects.drop_duplicates(identity).reset_index(drop=True)
    first["work_orders"] = first["wo_number"].astype(object).where(first["wo_number"].notna(), "")
    # a PO line's receipt or invoice may sit in several WOs' roll-ups; name them all (rare, so looped)
    pairs = subjects[[*identity, "wo_number"]].dropna(subset=["wo_number"]).drop_duplicates()
    shared = pairs[pairs.duplicated(identity, keep=False)]
    if not shared.empty:
        named: dict[tuple, list[str]] = {}
        for *key, wo_number in shared.itertuples(index=False, name=None):
            named.setdefault(tuple(key), []).append(str(wo_number))
        keys = list(zip(first["entity"], first["source_system"], first["source_key"]))
        first["work_orders"] = [", ".join(named[k]) if k in named else w for k, w in zip(keys, first["work_orders"])]

    return subject_frame(first, first["entity"], wo_number=first["wo_number"], op_seq=first["op_seq"],
                         po_number=first["po_number"], line_number=first["line_number"],
                         summary=_cst_summaries(first, reporting_currency),
                         evidence=_cst_evidence(first, data, reporting_currency))


def _cst_summaries(first: pd.DataFrame, reporting_currency: str) -> pd.Series:
    """One sentence per unconvertible line, built column-wise since there may be many."""
    def part(values: pd.Series) -> pd.Series:
        return values.astype(TEXT).fillna("")

    label = part(first["entity"].map(_ENTITY_LABELS).fillna(first["entity"]))
    is_commitment = (first["entity"] == "po_line").to_numpy()
    subject = (label + " " + part(first["source_key"])).where(
        ~is_commitment, label + " PO " + part(first["po_number"]) + " line " + part(first["line_number"]))
    has_value = (first["amount_source"].notna() & first["currency_source"].notna()).to_numpy()
    amount = pd.Series([f"{v:,.2f}" for v in first["amount_source"].fillna(0.0)], index=first.index, dtype=TEXT)
    value = (" (" + amount + " " + part(first["currency_source"]) + " on "
             + _dates_text(first["line_date"]).fillna("no date") + ")").where(has_value, "")
    work_orders = part(first["work_orders"])
    whose = ("the cost of work order " + work_orders).where(
        ~work_orders.str.contains(",", regex=False), "the costs of work orders " + work_orders)
    return (subject + " (" + part(first["source_system"]) + ", site " + part(first["site"]) + ") in " + whose + value
            + " cannot be valued in " + reporting_currency + ": " + part(first["own_problem"])
            + ". The roll-up is marked incomplete.")


def _cst_evidence(first: pd.DataFrame, data: CanonicalFrames, reporting_currency: str) -> list[str]:
    """Evidence per unconvertible line: the line, its problem, the rates of its currency pair, its units."""
    rates_of = _rates_evidence(data["fx_rate"], first["currency_source"], reporting_currency)
    evidence = []
    line_records = records(first, "", _LINE_FIELDS)
    for record, row in zip(line_records, first[["entity", "work_orders", "own_problem", "currency_source", "uom",
                                                 "po_uom", "item_number"]].itertuples(index=False)):
        record["entity"] = row.entity
        record["work_orders"] = row.work_orders
        extra = {}
        currency = text(row.currency_source)
        if currency and currency != reporting_currency:
            extra["rates_for_pair"] = rates_of.get(currency, [])
        if text(row.po_uom) or text(row.uom):
            extra["units"] = {"received_uom": text(row.uom) or None, "po_line_uom": text(row.po_uom) or None,
                              "item_number": text(row.item_number) or None}
        evidence.append(to_json({"records": [record], "problem": row.own_problem, **extra}))
    return evidence


def _rates_evidence(fx: pd.DataFrame, currencies: pd.Series, reporting_currency: str) -> dict[str, list[dict]]:
    """The latest few rates between each currency and the reporting currency, either direction."""
    wanted = set(currencies.dropna().astype(str)) - {reporting_currency}
    if not wanted:
        return {}
    pair = fx[(fx["from_currency"].isin(wanted) & (fx["to_currency"] == reporting_currency))
              | (fx["to_currency"].isin(wanted) & (fx["from_currency"] == reporting_currency))]
    pair = pair.assign(other=pair["from_currency"].where(pair["from_currency"] != reporting_currency, pair["to_currency"]))
    pair = pair.sort_values("effective_date", ascending=False)
    grouped = grouped_records(pair, ["other"], "fx_rate", ("from_currency", "to_currency", "effective_date", "rate"), limit=5)
    return {key[0]: value for key, value in grouped.items()}


# ---------------------------------------------------------------------------- CST-002 and CST-004

_WO_FIELDS = ("site", "wo_number", "kind", "status", "currency", "created_date", "closed_date", "estimate_labour",
              "estimate_material", "estimate_outside")
_FIGURES = ("labour_cost", "material_cost", "outside_cost", "committed_cost", "actual_cost", "estimate_cost", "variance",
            "variance_pct", "incomplete", "unconverted_lines")
_LATE_FIELDS = ("site", "wo_number", "op_seq", "cost_type", "line_date", "amount_source", "currency_source", "fx_rate",
                "amount", "po_number", "line_number")


def _money(value: Any) -> str:
    return "unknown" if value is None or pd.isna(value) else f"{value:,.2f}"


def _plain(value: Any) -> Any:
    """A figure for evidence JSON: NaN and NA as null, numpy numbers as Python ones."""
    if value is None or pd.isna(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    return round(float(value), 6)


def _figures(row: pd.Series | dict) -> dict[str, Any]:
    return {name: _plain(row[name]) for name in _FIGURES if name in row}


def cost_over_estimate(data: CanonicalFrames, settings) -> pd.DataFrame:
    """CST-002: work orders whose actual cost exceeds their estimate beyond both tolerances.

    Actual cost is labour + material + outside (committed cost is not spent yet). Only work orders with
    an estimate above zero are judged. Fires when the variance exceeds ``variance_pct`` percent of the
    estimate and also ``min_variance_amount`` (reporting currency); both are overridable per site.
    """
    reporting = settings.reporting_currency.strip().upper()
    costs = cost_rollup_of(data, reporting, settings.sources_with_role("erp"))
    rows = costs.by_work_order
    estimate = rows["estimate_cost"].to_numpy(dtype="float64", na_value=np.nan)
    variance = rows["variance"].to_numpy(dtype="float64", na_value=np.nan)
    pct = settings.tolerance_for("CST-002", "variance_pct", rows).to_numpy(dtype="float64")
    amount = settings.tolerance_for("CST-002", "min_variance_amount", rows).to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        over = (estimate > 0) & (variance > estimate * pct / 100.0) & (variance > amount)
    hits = np.flatnonzero(np.nan_to_num(over, nan=0).astype(bool))
    if not len(hits):
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    found = rows.iloc[hits].reset_index(drop=True)
    wos = costs.work_orders.iloc[hits].reset_index(drop=True)
    summaries, evidence = [], []
    for (_, row), wo_record, tol_pct, tol_amount in zip(found.iterrows(), records(wos, "work_order", _WO_FIELDS),
                                                        pct[hits], amount[hits]):
        incomplete = (f" Its roll-up is incomplete ({row['unconverted_lines']} line(s) could not be converted, "
                      "see CST-003), so the overrun may be larger." if row["incomplete"] else "")
        summaries.append(
            f"Work order {row['wo_number']} ({row['wo_source_system']}, site {row['site']}) has cost "
            f"{_money(row['actual_cost'])} {reporting} (labour {_money(row['labour_cost'])}, material "
            f"{_money(row['material_cost'])}, outside {_money(row['outside_cost'])}) against an estimate of "
            f"{_money(row['estimate_cost'])} {reporting}: {_money(row['variance'])} ({row['variance_pct']:.1f}%) over, "
            f"beyond the tolerance of {tol_pct:g}% and {tol_amount:,.2f} {reporting}.{incomplete}")
        evidence.append(to_json({
            "records": [wo_record], "rollup": {"currency": reporting, **_figures(row)},
            "tolerance": {"variance_pct": _plain(tol_pct), "min_variance_amount": _plain(tol_amount)},
        }))
    subjects = found.assign(source_system=found["wo_source_system"], source_key=found["wo_source_key"])
    return subject_frame(subjects, "work_order", wo_number=subjects["wo_number"], summary=summaries, evidence=evidence)


def cost_after_close(data: CanonicalFrames, settings) -> pd.DataFrame:
    """CST-004: closed work orders with cost lines dated after their closed date (plus ``grace_days``).

    Labour, material and outside lines count (not commitments, which are not posted cost). One finding
    per work order; its evidence shows the roll-up before (without the late lines) and after, and the
    late lines. A closed work order without a closed date cannot be judged and is not reported.
    """
    reporting = settings.reporting_currency.strip().upper()
    costs = cost_rollup_of(data, reporting, settings.sources_with_role("erp"))
    wos = costs.work_orders
    lines = costs.detailed_lines
    closed_on = wos["closed_date"].to_numpy(dtype="datetime64[us]")
    grace = settings.tolerance_for("CST-004", "grace_days", wos).to_numpy(dtype="float64")
    limit = closed_on + (grace * 86400e6).astype("int64").astype("timedelta64[us]")
    is_closed = (wos["status"] == "closed").fillna(False).to_numpy(dtype=bool) & ~np.isnat(closed_on)
    wo_of_line = lines["_wo"].to_numpy(dtype=np.int64)
    posted = (lines["cost_type"] != "committed").fillna(False).to_numpy(dtype=bool)
    dates = lines["line_date"].to_numpy(dtype="datetime64[us]")
    candidates = np.flatnonzero(posted & is_closed[wo_of_line] & ~np.isnat(dates))
    late = candidates[dates[candidates] > limit[wo_of_line[candidates]]]
    if not len(late):
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))
    late_lines = lines.iloc[late].reset_index(drop=True)
    by_wo = costs.by_work_order
    hit_wos, slot = np.unique(wo_of_line[late], return_inverse=True)
    after_rows = by_wo.iloc[hit_wos].reset_index(drop=True)
    # the roll-up before the late lines: each cost type less the late lines' converted amounts
    late_amount = late_lines["amount"].fillna(0.0).to_numpy(dtype="float64")
    late_type = pd.Categorical(late_lines["cost_type"].astype(object), categories=COST_TYPES).codes
    before_rows = after_rows.copy()
    for code, kind in enumerate(("labour", "material", "outside")):
        taken = np.bincount(slot, weights=np.where(late_type == code, late_amount, 0.0), minlength=len(hit_wos))
        before_rows[f"{kind}_cost"] = after_rows[f"{kind}_cost"].to_numpy() - taken
    before_rows["actual_cost"] = before_rows[["labour_cost", "material_cost", "outside_cost"]].sum(axis=1)
    before_rows["variance"] = before_rows["actual_cost"] - before_rows["estimate_cost"]
    with np.errstate(divide="ignore", invalid="ignore"):
        before_rows["variance_pct"] = np.where(before_rows["estimate_cost"] > 0,
                                               before_rows["variance"] / before_rows["estimate_cost"] * 100.0, np.nan)
    not_converted = np.bincount(slot, weights=~late_lines["converted"].to_numpy(dtype=bool), minlength=len(hit_wos))
    before_rows["unconverted_lines"] = after_rows["unconverted_lines"].to_numpy() - not_converted.astype(np.int64)
    before_rows["incomplete"] = before_rows["unconverted_lines"] > 0

    # the late lines as evidence records and as words, grouped by work order (few: a loop is fine)
    line_records = records(late_lines, "", _LATE_FIELDS)
    records_of: dict[int, list[dict]] = {}
    words_of: dict[int, list[str]] = {}
    for record, row, at in zip(line_records, late_lines[["entity", "source_key", "line_date", "amount_source",
                                                         "currency_source"]].itertuples(index=False), slot):
        record["entity"] = row.entity
        records_of.setdefault(at, []).append(record)
        words_of.setdefault(at, []).append(
            f"{row.entity} {row.source_key} of {text(row.line_date)} ({_money(row.amount_source)} {text(row.currency_source)})")
    summaries, evidence = [], []
    wo_records = records(wos.iloc[hit_wos], "work_order", _WO_FIELDS)
    for at, (wo, wo_record) in enumerate(zip(hit_wos, wo_records)):
        after, before = after_rows.iloc[at], before_rows.iloc[at]
        words = words_of[at]
        more = f" and {len(words) - 5} more" if len(words) > 5 else ""
        summaries.append(
            f"Work order {after['wo_number']} ({after['wo_source_system']}, site {after['site']}) was closed on "
            f"{text(after['closed_date'])}, but {len(words)} cost line(s) dated after that are posted to it: "
            f"{'; '.join(words[:5])}{more}. They restate its closed roll-up: actual cost "
            f"{_money(before['actual_cost'])} -> {_money(after['actual_cost'])} {reporting} (grace {grace[wo]:g} days).")
        evidence.append(to_json({
            "records": [wo_record, *records_of[at]],
            "rollup_before": {"currency": reporting, **_figures(before)},
            "rollup_after": {"currency": reporting, **_figures(after)},
            "late_lines": len(words), "grace_days": _plain(grace[wo]),
        }))
    subjects = after_rows.assign(source_system=after_rows["wo_source_system"], source_key=after_rows["wo_source_key"])
    return subject_frame(subjects, "work_order", wo_number=subjects["wo_number"], summary=summaries, evidence=evidence)
