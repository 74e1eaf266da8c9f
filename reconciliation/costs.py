"""The work-order cost roll-up, its source lines, and CST-003 for the lines that cannot be converted.

Per work order (site + WO number, across sources):

- labour: hours x rate of each labour entry, dated by its entry date;
- material: qty x unit cost of each issue (the item's standard cost and currency when the issue has
  no unit cost), dated by its issue date;
- outside: for each PO line linked to the WO from any side, counted once per WO, its invoice lines
  (amount, invoice currency, invoice date) when it has any, else its receipts (qty converted to the
  PO line's unit x unit price, receipt date);
- committed: for a linked PO line not closed or cancelled, what is ordered and not yet received
  x unit price, dated by the PO header's order date (the need-by date without one).

Every line converts to the reporting currency at the rate of its own date: the latest rate from its
currency to the reporting one effective on or before that date, else the latest inverse rate as
1/rate. A line that cannot be valued or converted keeps its source amount, gets no reporting amount
and a ``problem``; its work order is marked incomplete rather than silently short.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reconciliation.exceptions import SUBJECT_COLUMNS, subject_frame
from reconciliation.frames import (
    PO_LINE_KEY,
    TEXT,
    WO_KEY,
    CanonicalFrames,
    grouped_records,
    records,
    text,
    to_json,
)

COST_TYPES = ("labour", "material", "outside", "committed")
COST_LINE_COLUMNS = (
    "site", "wo_number", "op_seq", "cost_type", "entity", "source_system", "source_key", "line_date",
    "amount_source", "currency_source", "fx_rate", "amount", "converted", "problem",
)
ROLLUP_COLUMNS = (
    "site", "wo_number", "wo_source_system", "wo_source_key", "kind", "status", "currency", "labour_cost",
    "material_cost", "outside_cost", "committed_cost", "actual_cost", "estimate_cost", "variance",
    "variance_pct", "incomplete", "unconverted_lines",
)
#: PO line statuses that commit no further money
PO_DONE_STATUSES = ("closed", "cancelled")

_ENTITY_LABELS = {
    "labour_entry": "Labour entry", "material_issue": "Material issue", "invoice_line": "Invoice line",
    "receipt": "Receipt", "po_line": "The open commitment on",
}
#: internal text columns carried beside the published cost-line columns, for CST-003's evidence
_CONTEXT_TEXT = ("po_number", "line_number", "po_source_system", "po_source_key", "uom", "po_uom", "item_number",
                 "own_problem", "receipt_problem")


@dataclass
class CostRollup:
    """The roll-up per work order, the cost lines behind it, and the lines that could not be converted."""

    rollup: pd.DataFrame
    cost_lines: pd.DataFrame
    #: every cost line with its context columns (PO line, units, problems), for CST-003's evidence
    detailed_lines: pd.DataFrame
    #: receipts whose unit cannot be converted to their PO line's, with the PO line they belong to
    unconvertible_receipts: pd.DataFrame


def _text(value, index) -> pd.Series:
    return pd.Series(value, index=index, dtype=TEXT)


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


def _work_orders(data: CanonicalFrames) -> pd.DataFrame:
    """One row per work order (site + WO number); a WO known to several sources takes the first by
    source system and key, so its costs are counted once."""
    wos = data["work_order"].dropna(subset=WO_KEY)
    wos = wos.sort_values([*WO_KEY, "source_system", "source_key"]).drop_duplicates(WO_KEY).reset_index(drop=True)
    return wos.assign(_wo=np.arange(len(wos)))


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
    entries = data["labour_entry"].merge(wo_keys, on=WO_KEY)
    return _lines(entries, "labour", "labour_entry", line_date=entries["entry_date"],
                  amount_source=entries["hours"] * entries["rate"],
                  currency_source=entries["currency"].fillna(reporting_currency),
                  own_problem=_add_problem(_text(pd.NA, entries.index), entries["rate"].isna(), "no labour rate"))


def _material(data: CanonicalFrames, wo_keys: pd.DataFrame, reporting_currency: str) -> pd.DataFrame:
    issues = data["material_issue"].merge(wo_keys, on=WO_KEY)
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
    """(links, lines): one row per WO and linked PO line; and the linked PO lines with their fields."""
    links = data.resolved_links.merge(wo_keys, on=WO_KEY)
    # the same PO line linked to a WO several ways is counted once, under the operation a link names
    links = links.sort_values([*WO_KEY, "po_source_system", "po_source_key", "op_seq"], na_position="last")
    links = links.drop_duplicates([*WO_KEY, "po_source_system", "po_source_key"])
    links = links[["_wo", *WO_KEY, "op_seq", "po_source_system", "po_source_key"]].reset_index(drop=True)
    ids = links[["po_source_system", "po_source_key"]].drop_duplicates()
    lines = data.po_lines.rename(columns={"source_system": "po_source_system", "source_key": "po_source_key"})
    lines = lines.merge(ids, on=["po_source_system", "po_source_key"])
    return links, lines


def _receipts(data: CanonicalFrames, lines: pd.DataFrame) -> pd.DataFrame:
    """Receipts of the linked PO lines with their quantity in the PO line's unit (NA: no conversion)."""
    fields = lines[[*PO_LINE_KEY, "po_source_system", "po_source_key", "uom", "item_number", "unit_price",
                    "effective_currency"]].rename(columns={"uom": "po_uom"})
    receipts = data["receipt"].merge(fields, on=PO_LINE_KEY)
    factor = uom_factors(receipts["uom"], receipts["po_uom"], receipts["item_number"], data["uom_conversion"])
    receipts["qty_po"] = receipts["qty"] * factor
    receipts["uom_problem"] = _add_problem(
        _text(pd.NA, receipts.index), factor.isna(),
        "received in " + receipts["uom"] + " but the PO line is priced per " + receipts["po_uom"] + ", and no "
        + receipts["uom"] + "->" + receipts["po_uom"] + " unit conversion exists"
        + (" for item " + receipts["item_number"] + " nor a generic one").fillna(""),
    )
    return receipts


_LINE_ID = ["po_source_system", "po_source_key"]


def _outside_and_committed(data: CanonicalFrames, wo_keys: pd.DataFrame) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """Outside (invoiced, else received) and committed cost lines of the PO lines linked to each WO,
    and the receipts whose unit conversion is missing while an open commitment depends on them."""
    links, lines = _linked_po_lines(data, wo_keys)
    receipts = _receipts(data, lines)
    no_price = "no unit price on the PO line"

    invoices = data["invoice_line"].merge(lines[[*PO_LINE_KEY, *_LINE_ID, "effective_currency"]], on=PO_LINE_KEY)
    on_invoice = links.merge(invoices.drop(columns=["site"]), on=_LINE_ID)
    invoice_lines = _lines(
        on_invoice, "outside", "invoice_line", line_date=on_invoice["invoice_date"], amount_source=on_invoice["amount"],
        currency_source=on_invoice["currency"].fillna(on_invoice["effective_currency"]),
        **{c: on_invoice[c] for c in ("po_number", "line_number", *_LINE_ID)},
    )

    invoiced = invoices[_LINE_ID].drop_duplicates().assign(_invoiced=True)
    not_invoiced = links.merge(invoiced, how="left", on=_LINE_ID)
    not_invoiced = not_invoiced[not_invoiced["_invoiced"].isna()].drop(columns="_invoiced")
    on_receipt = not_invoiced.merge(receipts.drop(columns=["site"]), on=_LINE_ID)
    receipt_lines = _lines(
        on_receipt, "outside", "receipt", line_date=on_receipt["receipt_date"],
        amount_source=on_receipt["qty_po"] * on_receipt["unit_price"], currency_source=on_receipt["effective_currency"],
        own_problem=_add_problem(on_receipt["uom_problem"], on_receipt["unit_price"].isna(), no_price),
        **{c: on_receipt[c] for c in ("po_number", "line_number", *_LINE_ID, "uom", "po_uom", "item_number")},
    )

    received = receipts.assign(_unknown=receipts["qty_po"].isna()).groupby(_LINE_ID, observed=True).agg(
        received_qty=("qty_po", "sum"), receipts_unknown=("_unknown", "any")).reset_index()
    open_lines = lines[~lines["status"].isin(PO_DONE_STATUSES)].merge(received, how="left", on=_LINE_ID)
    unknown = open_lines["receipts_unknown"].astype("boolean").fillna(False).astype(bool)
    remaining = (open_lines["qty_ordered"] - open_lines["received_qty"].astype("float64").fillna(0.0)).clip(lower=0.0)
    bad_receipts = receipts[receipts["qty_po"].isna()]
    bad_keys = bad_receipts.groupby(_LINE_ID, observed=True)["source_key"].agg(lambda k: ", ".join(k.astype(str)))
    if len(bad_keys):
        keys_text = bad_keys.reindex(pd.MultiIndex.from_frame(open_lines[_LINE_ID])).to_numpy()
    else:
        keys_text = np.full(len(open_lines), None, dtype=object)
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
            "the received quantity is unknown: receipt(s) " + pd.Series(keys_text, index=open_lines.index).astype(TEXT).fillna("")
            + " cannot be converted to " + open_lines["uom"].fillna("the PO line's unit")),
    )
    worth_a_line = (open_lines["remaining"] > 0).fillna(False).astype(bool) | unknown | open_lines["own_problem"].notna()
    open_lines = open_lines[worth_a_line]
    committed = links.merge(open_lines.drop(columns=["site"]), on=_LINE_ID)
    committed_lines = _lines(
        committed, "committed", "po_line", line_date=committed["commit_date"],
        amount_source=committed["remaining"] * committed["unit_price"], currency_source=committed["effective_currency"],
        source_system=committed["po_source_system"], source_key=committed["po_source_key"],
        own_problem=committed["own_problem"], receipt_problem=committed["receipt_problem"],
        **{c: committed[c] for c in ("po_number", "line_number", *_LINE_ID, "uom", "item_number")},
    )
    blocking = bad_receipts.merge(open_lines.loc[open_lines["receipts_unknown"], _LINE_ID], on=_LINE_ID)
    return [invoice_lines, receipt_lines, committed_lines], blocking


def roll_up(data: CanonicalFrames, reporting_currency: str) -> CostRollup:
    """Cost lines per work order converted to the reporting currency, and their roll-up per WO."""
    wos = _work_orders(data)
    wo_keys = wos[[*WO_KEY, "_wo"]]
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
    return CostRollup(
        rollup=_rollup(wos, lines, reporting_currency, data),
        cost_lines=lines[list(COST_LINE_COLUMNS)],
        detailed_lines=lines,
        unconvertible_receipts=blocking_receipts,
    )


def _rollup(wos: pd.DataFrame, lines: pd.DataFrame, reporting_currency: str, data: CanonicalFrames) -> pd.DataFrame:
    count = len(wos)
    wo_index = lines["_wo"].to_numpy(dtype=np.int64)
    converted = lines["converted"].to_numpy()
    amounts = lines["amount"].to_numpy(dtype="float64", na_value=np.nan)
    cost_type = lines["cost_type"].to_numpy(dtype=object)
    sums = {}
    for kind in COST_TYPES:
        take = converted & (cost_type == kind)
        sums[kind] = np.bincount(wo_index[take], weights=amounts[take], minlength=count)
    unconverted = np.bincount(wo_index[~converted], minlength=count)

    estimate = wos[["estimate_labour", "estimate_material", "estimate_outside"]].sum(axis=1, min_count=1)
    rates, _ = to_reporting_rates(wos["currency"].fillna(reporting_currency), wos["created_date"], reporting_currency,
                                  data["fx_rate"])
    estimate_cost = estimate.to_numpy() * rates
    actual = sums["labour"] + sums["material"] + sums["outside"]
    variance = actual - estimate_cost
    with np.errstate(divide="ignore", invalid="ignore"):
        variance_pct = np.where(np.isnan(estimate_cost) | (estimate_cost == 0), np.nan, variance / estimate_cost * 100.0)
    rollup = pd.DataFrame({
        "site": wos["site"], "wo_number": wos["wo_number"], "wo_source_system": wos["source_system"],
        "wo_source_key": wos["source_key"], "kind": wos["kind"], "status": wos["status"],
        "currency": _text(reporting_currency, wos.index),
        "labour_cost": sums["labour"], "material_cost": sums["material"], "outside_cost": sums["outside"],
        "committed_cost": sums["committed"], "actual_cost": actual, "estimate_cost": estimate_cost,
        "variance": variance, "variance_pct": variance_pct,
        "incomplete": unconverted > 0, "unconverted_lines": unconverted.astype("int64"),
    })
    return rollup


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
