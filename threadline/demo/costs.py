"""The demo plant's cost figures: clean estimates and closing dates, and the planted cost defects.

Clean data must not trip the cost rules, so after the plant is generated:

- a maintenance work order's estimates cover what it costs (labour and material with a fifth to
  spare, a planned service with 15 %), so CST-002 finds only the planted overruns;
- an invoice for the work of a closed work order is dated on or before the day it was closed (Maximo's
  STATUSDATE, the MES order's EndTime), so CST-004 finds only the planted late invoices.

Planted, on both sites (``defect_count`` of each per site):

- CST-002: a maintenance work order in progress whose labour was booked at full shifts while its
  estimate covers less than half of it (the ``cst002`` hosts);
- CST-004: a closed production order whose outside processor invoiced days after the order was
  closed (the ``cst004`` hosts).

The randomness here comes from its own generator, so the rest of the plant is the same with or
without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: host roles reserved in plant._maintenance and plant._production
CST002_ROLE = "cst002"
CST004_ROLE = "cst004"
#: how much of the labour cost the overrun host's estimate covers
_OVERRUN_ESTIMATE_SHARE = 0.4
#: spare the clean estimates keep above the actual cost
_LABOUR_MATERIAL_SPARE, _SERVICE_SPARE = 1.2, 1.15


def settle_costs(plant: Any, seed: int) -> None:
    """Make the clean cost data consistent (estimates, invoice dates) and plant CST-002 and CST-004."""
    rng = np.random.default_rng([seed, 2002, 4004])
    _cover_estimates(plant)
    _invoice_before_closing(plant)
    _plant_overruns(plant)
    _plant_late_invoices(rng, plant)


def _wo_sums(frame: pd.DataFrame, wos: pd.DataFrame, value: str) -> np.ndarray:
    """``frame[value]`` summed per maintenance work order (by site and WONUM), aligned with ``wos``."""
    sums = frame.groupby(["site", "refwo"])[value].sum()
    return sums.reindex(pd.MultiIndex.from_frame(wos[["site", "wonum"]])).fillna(0.0).to_numpy()


def _cover_estimates(plant: Any) -> None:
    wos = plant.maint_wos
    labour = _wo_sums(plant.labour, wos, "linecost")
    material = _wo_sums(plant.material_use, wos, "linecost")
    wos["est_lab"] = np.round(np.maximum(wos["est_lab"], labour * _LABOUR_MATERIAL_SPARE), 2)
    wos["est_mat"] = np.round(np.maximum(wos["est_mat"], material * _LABOUR_MATERIAL_SPARE), 2)
    wos["est_serv"] = np.round(wos["est_serv"] * _SERVICE_SPARE, 2)


def _closing_day_of_lines(plant: Any) -> pd.Series:
    """The day the work order of each PO line was closed (NaN: not a closed work order's line)."""
    lines = plant.po_lines
    closing = pd.Series(np.nan, index=lines.index)
    osp = lines["origin"] == "osp"
    ops, prod = plant.prod_ops, plant.prod_wos
    wo_row = ops["wo_row"].to_numpy()[lines.loc[osp, "origin_row"].to_numpy(dtype="int64")]
    closed = prod["state"].to_numpy()[wo_row] == "Closed"
    closing[osp] = np.where(closed, prod["end_day"].to_numpy()[wo_row], np.nan)
    service = lines["origin"] == "service"
    parent = plant.services["parent_row"].to_numpy()[lines.loc[service, "origin_row"].to_numpy(dtype="int64")]
    wos = plant.maint_wos
    closed = wos["status"].to_numpy()[parent] == "CLOSE"
    closing[service] = np.where(closed, wos["status_day"].to_numpy()[parent], np.nan)
    # material bought for a production order names the order (threadline.demo.traceability)
    for_order = (lines["origin"] == "wo_material").to_numpy()
    if for_order.any():
        by_number = prod.drop_duplicates("wo_number").set_index("wo_number")
        named = lines.loc[for_order, "wo_ref"]
        closed = (named.map(by_number["state"]) == "Closed").to_numpy()
        closing[for_order] = np.where(closed, named.map(by_number["end_day"]).to_numpy(dtype="float64"), np.nan)
    return closing


def _invoice_day_limit(plant: Any) -> np.ndarray:
    """Per invoice, the closing day of its line's work order (NaN where the work order is not closed)."""
    lines = plant.po_lines
    closing = _closing_day_of_lines(plant)
    key = ["erp", "po_number", "line_no"]
    by_line = pd.Series(closing.to_numpy(), index=pd.MultiIndex.from_frame(lines[key]))
    by_line = by_line[~by_line.index.duplicated()]
    return by_line.reindex(pd.MultiIndex.from_frame(plant.invoices[key])).to_numpy(dtype="float64")


def _invoice_before_closing(plant: Any) -> None:
    invoices = plant.invoices
    limit = _invoice_day_limit(plant)
    late = ~np.isnan(limit) & (invoices["day"].to_numpy() > limit)
    _keep_value_in_line_currency(plant, late, limit[late].astype("int64"))
    invoices.loc[late, "day"] = limit[late].astype("int64")


def _keep_value_in_line_currency(plant: Any, rows: np.ndarray, new_days: np.ndarray) -> None:
    """Re-date invoices in another currency than their PO line's without changing what they are worth
    in the line's currency: the amount follows the rates of the new day (a rate nobody publishes, such
    as CHF, leaves it as it is)."""
    invoices = plant.invoices
    key = ["erp", "po_number", "line_no"]
    line_currency = plant.po_lines.drop_duplicates(key).set_index(key)["currency"].reindex(
        pd.MultiIndex.from_frame(invoices.loc[rows, key])).to_numpy(dtype=object)
    currency = invoices.loc[rows, "currency"].to_numpy(dtype=object)
    foreign = currency != line_currency
    if not foreign.any():
        return
    to_usd = plant.fx_rates.set_index(["from_currency", "day"])["rate"]

    def rate(codes: np.ndarray, days: np.ndarray) -> np.ndarray:
        found = to_usd.reindex(pd.MultiIndex.from_arrays([codes, days])).to_numpy(dtype="float64")
        return np.where(codes == "USD", 1.0, found)

    old_days = invoices.loc[rows, "day"].to_numpy()
    factor = (rate(currency, old_days) / rate(line_currency, old_days)
              * rate(line_currency, new_days) / rate(currency, new_days))
    factor = np.where(foreign & ~np.isnan(factor), factor, 1.0)
    at = invoices.index[rows]
    invoices.loc[at, "amount"] = np.round(invoices.loc[at, "amount"].to_numpy() * factor, 2)


def _plant_overruns(plant: Any) -> None:
    """CST-002: full shifts booked on the host, against an estimate of less than half the labour."""
    wos, labour = plant.maint_wos, plant.labour
    hosts = wos.index[wos["role"] == CST002_ROLE]
    mine = labour["refwo"].isin(wos.loc[hosts, "wonum"]) & labour["site"].isin(wos.loc[hosts, "site"].unique())
    labour.loc[mine, "hours"] = 8.0
    labour["linecost"] = np.round(labour["hours"] * labour["rate"], 2)
    cost = _wo_sums(labour, wos, "linecost")
    wos.loc[hosts, "est_lab"] = np.round(cost[hosts] * _OVERRUN_ESTIMATE_SHARE, 2)
    wos.loc[hosts, ["est_mat", "est_serv"]] = 0.0


def _plant_late_invoices(rng: np.random.Generator, plant: Any) -> None:
    """CST-004: the host's outside-processing invoice dated 3 to 10 days after the order was closed."""
    lines, prod = plant.po_lines, plant.prod_wos
    invoices = plant.invoices
    hosts = set(prod.loc[prod["role"] == CST004_ROLE, "wo_number"])
    host_lines = lines[(lines["origin"] == "osp") & lines["wo_ref"].isin(hosts)]
    key = ["erp", "po_number", "line_no"]
    at = invoices.reset_index().merge(host_lines[[*key, "wo_ref"]], on=key)
    end_day = prod.set_index("wo_number")["end_day"]
    late = np.minimum(end_day.loc[at["wo_ref"]].to_numpy() + rng.integers(3, 11, size=len(at)), -1)
    invoices.loc[at["index"].to_numpy(), "day"] = late
    invoices.loc[at["index"].to_numpy(), "role"] = CST004_ROLE


def collect_cost_defects(plant: Any, defect) -> None:
    """The CST-002 and CST-004 findings the plant must produce (``defect`` builds a manifest entry)."""
    wos = plant.maint_wos
    for _, wo in wos[wos["role"] == CST002_ROLE].iterrows():
        plant.defects.append(defect(
            "CST-002", "work_order", "maximo", ("maximo_wo", wo["site"], wo["wonum"]),
            f"labour booked at full shifts; estimate {wo['est_lab']:.2f} covers under half of it"))
    for _, wo in plant.prod_wos[plant.prod_wos["role"] == CST004_ROLE].iterrows():
        plant.defects.append(defect(
            "CST-004", "work_order", "mes", ("mes_wo", wo["wo_number"]),
            f"closed on day {wo['end_day']}; the outside processor's invoice is dated 3 to 10 days later"))
