"""Outside-processing rules: OSP operations and the PO lines that pay the outside processor.

An OSP operation's PO line is one linked at operation level: the PO line naming the operation
(``wo_ref`` + ``op_ref``), the operation naming the PO line (``po_ref``/``po_line_ref``), or an
asserted/confirmed ``wo_po_link`` for the operation. A work order naming a PO is not enough, since it
does not say which operation the PO pays for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from reconciliation.exceptions import SUBJECT_COLUMNS, subject_frame
from reconciliation.frames import (
    ACTIVE_LINK_STATUSES,
    OP_KEY,
    PO_LINE_KEY,
    WO_KEY,
    CanonicalFrames,
    codes_in,
    describe_po_line,
    flag,
    grouped_records,
    key_tuples,
    known,
    quantity_text,
    records,
    rows_matching,
    text,
    to_json,
)

if TYPE_CHECKING:
    from reconciliation.engine import ReconcileSettings

#: operation statuses in which the outside processor may be working, so a PO must exist
OSP_ACTIVE_STATUSES = ("released", "in_progress", "completed", "closed")
#: PO line statuses after which nothing more is expected from the supplier
PO_DONE_STATUSES = ("closed", "cancelled")

_OP_FIELDS = ("site", "wo_number", "op_seq", "process", "status", "expected_supplier", "qty", "po_ref", "po_line_ref")
_PO_LINE_FIELDS = ("site", "po_number", "line_number", "status", "supplier_id", "qty_ordered", "qty_received",
                   "need_by_date", "wo_ref", "op_ref")


def osp_operation_without_po_line(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """OSP-001: OSP operations released or later with no existing PO line linked at operation level."""
    ops = data["wo_operation"]
    candidates = ops[flag(ops["is_outside_processing"]) & ops["status"].isin(OSP_ACTIVE_STATUSES)]
    offending = candidates[~codes_in(candidates["_k_op"], data.op_links["_k_op"])].reset_index(drop=True)
    if offending.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))

    links = data["wo_po_link"]
    links = links[links["status"].isin(ACTIVE_LINK_STATUSES).to_numpy() & codes_in(links["_k_op"], offending["_k_op"])]
    link_records = grouped_records(links, OP_KEY, "wo_po_link", ("po_number", "line_number", "status", "asserted_by"), limit=5)
    lines = data["po_line"]
    # lines naming the work order without an operation are the likely candidates for a steward
    lines_naming_wo = lines[lines["op_ref"].isna().to_numpy() & codes_in(lines["_k_ref_wo"], offending["_k_wo"])]
    wo_line_records = grouped_records(lines_naming_wo, ["site", "wo_ref"], "po_line", _PO_LINE_FIELDS, limit=5)

    summaries, evidence = [], []
    own = records(offending, "wo_operation", _OP_FIELDS)
    for record, op_key, wo_key, row in zip(own, key_tuples(offending, OP_KEY), key_tuples(offending, WO_KEY),
                                           offending.itertuples(index=False)):
        process = f" ({row.process})" if text(row.process) else ""
        notes = []
        if text(row.po_ref):
            notes.append(f"the {describe_po_line(row.po_ref, row.po_line_ref)} it names does not exist")
        for link in link_records.get(op_key, []):
            named = describe_po_line(link["po_number"], link["line_number"])
            notes.append(f"its {link['status']} link names {named}, which does not exist")
        other_lines = wo_line_records.get(wo_key, [])
        if other_lines:
            named = ", ".join(describe_po_line(r["po_number"], r["line_number"]) for r in other_lines)
            verb = "names" if len(other_lines) == 1 else "name"
            notes.append(f"{named} {verb} the work order without an operation")
        detail = f"; {'; '.join(notes)}" if notes else ""
        summaries.append(
            f"Outside-processing operation {row.op_seq}{process} of work order {row.wo_number} (site {row.site}, "
            f"{row.source_system}) is {row.status} but no PO line is linked to it{detail}."
        )
        evidence.append(to_json({"records": [record, *link_records.get(op_key, []), *other_lines]}))
    return subject_frame(offending, "wo_operation", wo_number=offending["wo_number"], op_seq=offending["op_seq"],
                         po_number=offending["po_ref"], line_number=offending["po_line_ref"],
                         summary=summaries, evidence=evidence)


def osp_po_line_overdue(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """OSP-005: open OSP PO lines past need-by date plus grace days with no receipt of a positive qty."""
    grace_days = int(settings.tolerance("OSP-005", "grace_days"))
    as_of = pd.Timestamp(settings.as_of)
    ops = data["wo_operation"]
    osp_ops = ops[flag(ops["is_outside_processing"])]
    osp_links = data.op_links[codes_in(data.op_links["_k_op"], osp_ops["_k_op"])]
    lines = data["po_line"].take(np.unique(osp_links["po_row"].to_numpy()))
    overdue = (
        ~lines["status"].isin(PO_DONE_STATUSES)
        & lines["need_by_date"].notna()
        & (lines["need_by_date"] + pd.Timedelta(days=grace_days) < as_of).fillna(False).astype(bool)
    )
    receipts = data["receipt"]
    received = pd.Series(codes_in(lines["_k_line"], receipts.loc[(receipts["qty"] > 0).fillna(False), "_k_line"]),
                         index=lines.index)
    offending = lines[overdue & ~received].reset_index(drop=True)
    if offending.empty:
        return pd.DataFrame(columns=list(SUBJECT_COLUMNS))

    receipts_of = rows_matching(receipts, offending[PO_LINE_KEY].drop_duplicates(), PO_LINE_KEY)
    receipt_records = grouped_records(receipts_of, PO_LINE_KEY, "receipt", ("qty", "receipt_date"), limit=5)
    line_ops = osp_links.rename(columns={"po_source_system": "line_system", "po_source_key": "line_key"})
    line_ops = rows_matching(
        line_ops[["line_system", "line_key", *OP_KEY]],
        offending[["source_system", "source_key"]].rename(columns={"source_system": "line_system", "source_key": "line_key"}),
        ["line_system", "line_key"],
    )
    op_rows = rows_matching(osp_ops, line_ops, OP_KEY).sort_values(["line_system", "line_key", "wo_number", "op_seq"])
    op_records = grouped_records(op_rows, ["line_system", "line_key"], "wo_operation", _OP_FIELDS, limit=5)

    summaries, evidence = [], []
    own = records(offending, "po_line", _PO_LINE_FIELDS)
    for record, line_key, own_key, row in zip(own, key_tuples(offending, PO_LINE_KEY),
                                              key_tuples(offending, ["source_system", "source_key"]),
                                              offending.itertuples(index=False)):
        ops_of_line = op_records.get(own_key, [])
        # the same operation may come from two sources; name it once
        for_ops = ", ".join(dict.fromkeys(f"operation {o['op_seq']} of work order {o['wo_number']}" for o in ops_of_line))
        nothing = "nothing has been received" if line_key not in receipt_records else "no receipt has a positive quantity"
        grace = f" plus {grace_days} grace day(s)" if grace_days else ""
        summaries.append(
            f"Outside-processing {describe_po_line(row.po_number, row.line_number)} (site {row.site}, {row.source_system}) "
            f"for {for_ops} was needed by {text(row.need_by_date)}{grace}; {nothing} as of {as_of.date().isoformat()}."
        )
        evidence.append(to_json({
            "records": [record, *ops_of_line, *receipt_records.get(line_key, [])],
            "as_of": as_of.date().isoformat(), "grace_days": grace_days,
        }))
    first_op = op_rows.drop_duplicates(["line_system", "line_key"])[["line_system", "line_key", "wo_number", "op_seq"]]
    first_op.columns = ["source_system", "source_key", "op_wo_number", "op_seq"]
    offending = offending.merge(first_op, how="left", on=["source_system", "source_key"])
    return subject_frame(offending, "po_line", wo_number=offending["op_wo_number"], op_seq=offending["op_seq"],
                         po_number=offending["po_number"], line_number=offending["line_number"],
                         summary=summaries, evidence=evidence)


# ---------------------------------------------------------------------------- OSP-002, 003, 004, 006

#: operation statuses in which the operation is done
OP_DONE_STATUSES = ("completed", "closed")
#: operation statuses in which work on the operation has begun
OP_STARTED_STATUSES = ("in_progress", "completed", "closed")
#: relative slack on quantity comparisons: stored conversion factors are rounded (1/2.4 = 0.4166667)
_QTY_SLACK = 1e-6

_OSP_OP_FIELDS = ("site", "wo_number", "op_seq", "process", "status", "qty", "start_date", "finish_date",
                  "expected_supplier")
_OSP_LINE_FIELDS = ("site", "po_number", "line_number", "status", "supplier_id", "qty_ordered", "uom",
                    "qty_received", "wo_ref", "op_ref", "process")
_SUPPLIER_FIELDS = ("site", "supplier_id", "name", "approved_processes", "source_status")
_RECEIPT_FIELDS = ("site", "po_number", "line_number", "receipt_id", "qty", "uom", "receipt_date")


def _no_findings() -> pd.DataFrame:
    return pd.DataFrame(columns=list(SUBJECT_COLUMNS))


def _osp_pairs(data: CanonicalFrames) -> pd.DataFrame:
    """Every outside-processing operation row with each PO line row linked to it at operation level
    and not cancelled: columns ``op_row`` and ``po_row`` (positions in the typed frames), ``_k_op``,
    ``_k_wo`` and ``_k_line``. A cancelled line buys nothing, so it says nothing about the work."""
    ops = data["wo_operation"]
    rows = np.flatnonzero(flag(ops["is_outside_processing"]).to_numpy())
    osp = pd.DataFrame({"_k_op": ops["_k_op"].to_numpy()[rows], "_k_wo": ops["_k_wo"].to_numpy()[rows], "op_row": rows})
    pairs = osp.merge(data.op_links[["_k_op", "po_row", "_k_line"]], on="_k_op")
    cancelled = (data["po_line"]["status"] == "cancelled").to_numpy(dtype=bool, na_value=False)
    return pairs[~cancelled[pairs["po_row"].to_numpy()]].reset_index(drop=True)


def _with_op_status(data: CanonicalFrames, pairs: pd.DataFrame, exclude: tuple[str, ...]) -> pd.DataFrame:
    """``pairs`` without the operations whose status is one of ``exclude``."""
    status = data["wo_operation"]["status"].take(pairs["op_row"].to_numpy())
    return pairs[~status.isin(exclude).to_numpy()].reset_index(drop=True)


def _line_figures(data: CanonicalFrames, pairs: pd.DataFrame) -> pd.DataFrame:
    """Per pair: what the line received (in its unit, NaN when unknown), how many receipts it has and
    the date of its first receipt of a positive quantity (``CanonicalFrames.line_totals``)."""
    totals = data.line_totals
    at = pd.Index(totals["_k_line"]).get_indexer(pairs["_k_line"].to_numpy())
    found = at >= 0
    received = np.zeros(len(pairs))
    receipts = np.zeros(len(pairs), dtype=np.int64)
    first = np.full(len(pairs), np.datetime64("NaT"), dtype="datetime64[us]")
    received[found] = totals["received"].to_numpy()[at[found]]
    receipts[found] = totals["receipts"].to_numpy()[at[found]]
    first[found] = totals["first_receipt_date"].to_numpy()[at[found]]
    return pd.DataFrame({"received": received, "receipts": receipts, "first_receipt": first}, index=pairs.index)


def _line_suppliers(data: CanonicalFrames, po_rows: np.ndarray) -> pd.Series:
    """The supplier of each PO line row: the line's own, else its PO header's (same site and PO)."""
    lines = data["po_line"]
    supplier = lines["supplier_id"].take(po_rows).reset_index(drop=True)
    missing = supplier.isna().to_numpy()
    if missing.any():
        headers = data["purchase_order"]
        headers = headers[known(headers["_k_po"]) & headers["supplier_id"].notna().to_numpy()].drop_duplicates("_k_po")
        at = pd.Index(headers["_k_po"]).get_indexer(lines["_k_po"].to_numpy()[po_rows[missing]])
        from_header = pd.Series(pd.NA, index=np.flatnonzero(missing), dtype=supplier.dtype)
        from_header[at >= 0] = headers["supplier_id"].to_numpy()[at[at >= 0]]
        supplier[missing] = from_header
    return supplier


def _tolerance_rows(data: CanonicalFrames, pairs: pd.DataFrame) -> pd.DataFrame:
    """Site, process (the operation's, else the line's) and supplier of each pair, as
    ``ReconcileSettings.tolerance_for`` matches overrides."""
    ops, lines = data["wo_operation"], data["po_line"]
    op_rows, po_rows = pairs["op_row"].to_numpy(), pairs["po_row"].to_numpy()
    process = ops["process"].take(op_rows).reset_index(drop=True).fillna(lines["process"].take(po_rows).reset_index(drop=True))
    return pd.DataFrame({"site": ops["site"].take(op_rows).reset_index(drop=True), "process": process,
                         "supplier_id": _line_suppliers(data, po_rows)}, index=pairs.index)


def _op_records(data: CanonicalFrames, op_rows) -> dict[int, dict]:
    ops = data["wo_operation"]
    op_rows = sorted(set(int(r) for r in op_rows))
    return dict(zip(op_rows, records(ops.take(op_rows), "wo_operation", _OSP_OP_FIELDS)))


def _line_records(data: CanonicalFrames, po_rows) -> dict[int, dict]:
    lines = data["po_line"]
    po_rows = sorted(set(int(r) for r in po_rows))
    return dict(zip(po_rows, records(lines.take(po_rows), "po_line", _OSP_LINE_FIELDS)))


def _receipt_records(data: CanonicalFrames, k_lines) -> dict[int, list[dict]]:
    """The receipts of the given line key codes, by code, in date order (at most 10 per line)."""
    receipts = data["receipt"]
    mine = receipts[codes_in(receipts["_k_line"], np.asarray(list(k_lines), dtype=np.int64))]
    mine = mine.sort_values(["receipt_date", "source_key"], kind="stable")
    out: dict[int, list[dict]] = {}
    for code, record in zip(mine["_k_line"].to_numpy(), records(mine, "receipt", _RECEIPT_FIELDS)):
        bucket = out.setdefault(int(code), [])
        if len(bucket) < 10:
            bucket.append(record)
    return out


def _op_label(op) -> str:
    process = f" ({op['process']})" if op.get("process") else ""
    return f"operation {op['op_seq']}{process} of work order {op['wo_number']}"


def _line_label(line) -> str:
    """'PO 4711 line 1 (site NORTH, erp, open)'."""
    return (f"{describe_po_line(line['po_number'], line['line_number'])} "
            f"(site {line['site']}, {line['source_system']}, {line['status']})")


def _day(value) -> str:
    return pd.Timestamp(value).date().isoformat()


def _approvals(suppliers: pd.DataFrame) -> tuple[dict, dict, dict]:
    """The supplier masters' approvals: by (site, supplier_id), and by (source_system, supplier_id) for
    master rows that name no site; plus the master records by either key. Approvals of the same
    supplier from two sources of a site add up."""
    by_site: dict[tuple, set[str]] = {}
    by_source: dict[tuple, set[str]] = {}
    shown: dict[tuple, list[dict]] = {}
    plain = suppliers[["site", "source_system", "supplier_id", "approved_processes"]].astype(object)
    plain = plain.where(suppliers[plain.columns].notna(), None)
    for (site, source, supplier_id, approved), record in zip(
            plain.itertuples(index=False, name=None), records(suppliers, "supplier", _SUPPLIER_FIELDS)):
        if supplier_id is None:
            continue
        processes = {p.strip().lower() for p in (approved or "").split(",") if p.strip()}
        key = ("site", site, supplier_id) if site is not None else ("source", source, supplier_id)
        (by_site if site is not None else by_source).setdefault(key[1:], set()).update(processes)
        shown.setdefault(key, []).append(record)
    return by_site, by_source, shown


def osp_line_supplier_not_approved(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """OSP-002: OSP PO lines to a supplier the supplier master does not approve for the operation's process.

    The supplier is the line's, else its header's; it is looked up in the supplier master of the
    line's site (a master row without a site counts for its own source system). A supplier no master
    has, or a line naming no supplier, is reported as well. The process is the operation's, else the
    line's; where neither names one there is nothing to check the approval against.
    """
    pairs = _osp_pairs(data)
    if pairs.empty:
        return _no_findings()
    lines = data["po_line"]
    po_rows = pairs["po_row"].to_numpy()
    facts = _tolerance_rows(data, pairs)
    facts["source_system"] = lines["source_system"].take(po_rows).to_numpy()
    # judge each distinct (site, source, supplier, process) once: there are few of them
    columns = ["site", "source_system", "supplier_id", "process"]
    codes = np.zeros(len(facts), dtype=np.int64)
    uniques = []
    for column in columns:
        code, values = pd.factorize(facts[column], use_na_sentinel=True)
        codes = codes * (len(values) + 1) + (code + 1)
        uniques.append(values)
    distinct, first_at, inverse = np.unique(codes, return_index=True, return_inverse=True)
    by_site, by_source, shown = _approvals(data["supplier"])
    verdicts = []
    distinct_facts = facts[columns].take(first_at).astype(object)
    distinct_facts = distinct_facts.where(facts[columns].take(first_at).notna(), None)
    for site, source, supplier_id, process in distinct_facts.itertuples(index=False, name=None):
        if supplier_id is None:
            verdicts.append("none")
        elif (site, supplier_id) in by_site:
            verdicts.append("ok" if process is None or process in by_site[(site, supplier_id)] else "not_approved")
        elif (source, supplier_id) in by_source:
            verdicts.append("ok" if process is None or process in by_source[(source, supplier_id)] else "not_approved")
        else:
            verdicts.append("unknown")
    verdict = np.asarray(verdicts, dtype=object)[inverse.ravel()]
    bad = verdict != "ok"
    if not bad.any():
        return _no_findings()
    as_objects = facts[["supplier_id", "process"]][bad].astype(object)
    as_objects = as_objects.where(facts[["supplier_id", "process"]][bad].notna(), None)
    pairs = pairs[bad].assign(verdict=verdict[bad], supplier_id=as_objects["supplier_id"].to_numpy(),
                              process=as_objects["process"].to_numpy())
    pairs = pairs.sort_values(["po_row", "op_row"], kind="stable").reset_index(drop=True)
    op_records = _op_records(data, pairs["op_row"])
    line_records = _line_records(data, pairs["po_row"])

    summaries, evidence, subject_rows, wo_numbers, op_seqs = [], [], [], [], []
    for po_row, group in pairs.groupby("po_row", sort=True):
        line = line_records[int(po_row)]
        ops = [op_records[int(r)] for r in group["op_row"]]
        first = group.iloc[0]
        supplier_id = None if pd.isna(first["supplier_id"]) else first["supplier_id"]
        where = _line_label(line)
        for_ops = ", ".join(dict.fromkeys(_op_label(op) for op in ops))
        masters = []
        if first["verdict"] == "none":
            reason = "names no supplier, on the line or its PO header, so its approval cannot be checked"
        elif first["verdict"] == "unknown":
            reason = (f"goes to supplier {supplier_id}, which no supplier master of site {line['site']} "
                      f"({line['source_system']}) knows: an unknown supplier cannot be approved for anything")
        else:
            masters = shown.get(("site", line["site"], supplier_id)) or shown.get(("source", line["source_system"], supplier_id), [])
            approved = (by_site.get((line["site"], supplier_id)) or by_source.get((line["source_system"], supplier_id))
                        or set())
            processes = ", ".join(sorted(set(group["process"].dropna())))
            name = f" ({masters[0]['name']})" if masters and masters[0].get("name") else ""
            holds = f"approved only for {', '.join(sorted(approved))}" if approved else "approved for no process"
            reason = f"goes to supplier {supplier_id}{name}, which is not approved for {processes}: it is {holds}"
        summaries.append(f"Outside-processing {where} for {for_ops} {reason}.")
        evidence.append(to_json({"records": [line, *ops, *masters[:3]], "supplier_id": supplier_id,
                                 "processes": sorted(set(group["process"].dropna()))}))
        subject_rows.append(int(po_row))
        wo_numbers.append(ops[0]["wo_number"])
        op_seqs.append(ops[0]["op_seq"])
    offending = lines.take(subject_rows).reset_index(drop=True)
    return subject_frame(offending, "po_line", wo_number=wo_numbers, op_seq=op_seqs,
                         po_number=offending["po_number"], line_number=offending["line_number"],
                         summary=summaries, evidence=evidence)


def _per_operation(data: CanonicalFrames, pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per operation row of ``pairs``: the earliest first receipt over its lines
    (``first_receipt``), whether some line has received a quantity without a dated receipt
    (``undated``), and the pair whose line was received first (else the first pair) as ``pick``."""
    figures = _line_figures(data, pairs)
    own = data["po_line"]["qty_received"].to_numpy(dtype="float64", na_value=np.nan)[pairs["po_row"].to_numpy()]
    got = (np.nan_to_num(figures["received"].to_numpy(), nan=0.0) > 0) | (np.nan_to_num(own, nan=0.0) > 0)
    frame = pd.DataFrame({"op_row": pairs["op_row"].to_numpy(), "first_receipt": figures["first_receipt"].to_numpy(),
                          "undated": got & np.isnat(figures["first_receipt"].to_numpy()),
                          "pick": np.arange(len(pairs))})
    # earliest receipt first, pairs without a receipt last, so the first row per operation is the pick
    frame = frame.sort_values(["op_row", "first_receipt", "pick"], na_position="last", kind="stable")
    undated = frame.groupby("op_row", sort=False)["undated"].any()
    out = frame.drop_duplicates("op_row").reset_index(drop=True)
    out["undated"] = undated.reindex(out["op_row"]).to_numpy()
    return out


def _op_numbers(op_seq: pd.Series) -> np.ndarray:
    """Operation numbers as numbers (NaN where one is not a number), parsing each distinct text once."""
    codes, distinct = pd.factorize(op_seq)
    numbers = pd.to_numeric(pd.Series(distinct, dtype=object), errors="coerce").to_numpy(dtype="float64")
    return np.where(codes >= 0, numbers[np.maximum(codes, 0)] if len(numbers) else np.nan, np.nan)


def _later_started(data: CanonicalFrames, op_rows: np.ndarray) -> np.ndarray:
    """For each of ``op_rows``: the earliest start date of a later operation (higher number) of the
    same work order that has started (in progress, completed or closed); NaT when none has.

    Only the started operations of the work orders of ``op_rows`` are read. The same operation from
    two sources has the same number, so it is never 'later' than itself.
    """
    ops = data["wo_operation"]
    k_wo = ops["_k_wo"].to_numpy()
    out = np.full(len(op_rows), np.datetime64("NaT"), dtype="datetime64[us]")
    same_wo = np.flatnonzero(codes_in(k_wo, k_wo[op_rows]))
    dated = same_wo[ops["start_date"].notna().to_numpy()[same_wo]]
    started = dated[ops["status"].take(dated).isin(OP_STARTED_STATUSES).to_numpy()]
    if not len(started) or not len(op_rows):
        return out
    seq = ops["op_seq"]
    candidates = pd.DataFrame({"_k_wo": k_wo[started], "seq": _op_numbers(seq.take(started)),
                               "start": ops["start_date"].to_numpy()[started]})
    own = pd.DataFrame({"at": np.arange(len(op_rows)), "_k_wo": k_wo[op_rows],
                        "own_seq": _op_numbers(seq.take(op_rows))})
    pairs = own.merge(candidates, on="_k_wo")
    # NaN (a number that is no number) compares False: neither before nor after anything
    pairs = pairs[(pairs["seq"] > pairs["own_seq"]).to_numpy()]
    earliest = pairs.groupby("at", sort=False)["start"].min()
    out[earliest.index.to_numpy()] = earliest.to_numpy()
    return out


def _of_maintenance_work(data: CanonicalFrames, op_rows: np.ndarray) -> np.ndarray:
    """Whether each operation row belongs to a work order that a source holds as maintenance work."""
    wos = data["work_order"]
    maintenance = wos[(wos["kind"] == "maintenance").to_numpy(dtype=bool, na_value=False)]
    return codes_in(data["wo_operation"]["_k_wo"].to_numpy()[op_rows], maintenance["_k_wo"])


def osp_operation_done_before_receipt(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """OSP-003: OSP operations completed, or followed by a started later operation, before the parts
    came back: before the first receipt (of a positive quantity) on any of the operation's PO lines.

    Completed means status completed or closed, dated by the finish date; a later operation is one
    with a higher number of the same work order that is in progress, completed or closed, dated by its
    start date (not for maintenance work, whose tasks are worked side by side). ``grace_days`` (per supplier, process and site) allows a receipt booked a few days
    late. An operation done while nothing has been received fires too; one whose lines show a received
    quantity without a dated receipt cannot be judged and is left out.
    """
    pairs = _with_op_status(data, _osp_pairs(data), ("cancelled",))
    if pairs.empty:
        return _no_findings()
    per_op = _per_operation(data, pairs)
    ops = data["wo_operation"]
    op_rows = per_op["op_row"].to_numpy()
    grace = settings.tolerance_for("OSP-003", "grace_days", _tolerance_rows(data, pairs.take(per_op["pick"])).reset_index(drop=True))
    grace = pd.to_timedelta(grace.to_numpy(), unit="D").to_numpy()
    first = per_op["first_receipt"].to_numpy()
    nothing = np.isnat(first) & ~per_op["undated"].to_numpy()
    done = ops["status"].take(op_rows).isin(OP_DONE_STATUSES).to_numpy()
    finish = ops["finish_date"].to_numpy()[op_rows]
    later = _later_started(data, op_rows)
    # the tasks of a maintenance work order are worked side by side by several crafts: their numbers
    # say nothing about order, unlike the operations of a production routing
    later[_of_maintenance_work(data, op_rows)] = np.datetime64("NaT")
    # NaT compares False: an unknown date is never 'before'
    done_early = done & ((finish + grace < first) | nothing)
    later_early = ~np.isnat(later) & ((later + grace < first) | nothing)
    hit = done_early | later_early
    if not hit.any():
        return _no_findings()
    per_op = per_op[hit].reset_index(drop=True)
    done_early, later_early, grace_days = done_early[hit], later_early[hit], (grace[hit] / np.timedelta64(1, "D"))
    later = later[hit]
    op_rows = per_op["op_row"].to_numpy()
    picked = pairs.take(per_op["pick"].to_numpy()).reset_index(drop=True)
    op_records = _op_records(data, op_rows)
    line_records = _line_records(data, pairs.loc[pairs["op_row"].isin(op_rows), "po_row"])
    receipts = _receipt_records(data, picked["_k_line"])
    lines_of_op = pairs[pairs["op_row"].isin(op_rows)].groupby("op_row")["po_row"].apply(list).to_dict()
    later_ops = ops[codes_in(ops["_k_wo"], ops["_k_wo"].to_numpy()[op_rows])]

    summaries, evidence, po_numbers, line_numbers = [], [], [], []
    for i, (op_row, k_line) in enumerate(zip(op_rows, picked["_k_line"].to_numpy())):
        op = op_records[int(op_row)]
        lines = [line_records[int(r)] for r in lines_of_op[op_row]]
        first_receipt = per_op["first_receipt"].iloc[i]
        back = (f"the first receipt is dated {_day(first_receipt)}" if not pd.isna(first_receipt)
                else "nothing has been received")
        what, shown_later = [], []
        if done_early[i]:
            finished = f", finished on {op['finish_date']}" if op["finish_date"] else ""
            what.append(f"it is {op['status']}{finished}")
        if later_early[i]:
            own_seq = pd.to_numeric(pd.Series([op["op_seq"]]), errors="coerce").iat[0]
            started = later_ops[(later_ops["_k_wo"].to_numpy() == ops["_k_wo"].iat[op_row])
                                & (later_ops["start_date"].to_numpy() == later[i])
                                & later_ops["status"].isin(OP_STARTED_STATUSES).to_numpy()
                                & (pd.to_numeric(later_ops["op_seq"], errors="coerce") > own_seq).to_numpy()]
            shown_later = records(started.head(1), "wo_operation", _OSP_OP_FIELDS)
            seq = f" {shown_later[0]['op_seq']}" if shown_later else ""
            what.append(f"the later operation{seq} started on {_day(later[i])}")
        grace_text = f" (grace {grace_days[i]:g} day(s))" if grace_days[i] else ""
        named = ", ".join(_line_label(line) for line in lines)
        summaries.append(
            f"Outside-processing {_op_label(op)} (site {op['site']}, {op['source_system']}) went on before its "
            f"parts came back from the processor: {' and '.join(what)}, while {back} on {named}{grace_text}."
        )
        evidence.append(to_json({"records": [op, *lines, *shown_later, *receipts.get(int(k_line), [])],
                                 "first_receipt_date": None if pd.isna(first_receipt) else _day(first_receipt),
                                 "grace_days": grace_days[i]}))
        po_numbers.append(lines[0]["po_number"])
        line_numbers.append(lines[0]["line_number"])
    offending = ops.take(op_rows).reset_index(drop=True)
    return subject_frame(offending, "wo_operation", wo_number=offending["wo_number"], op_seq=offending["op_seq"],
                         po_number=po_numbers, line_number=line_numbers, summary=summaries, evidence=evidence)


def osp_received_operation_not_completed(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """OSP-004: OSP operations whose parts came back (first receipt on one of their PO lines) more than
    ``days`` ago (per supplier, process and site) while the operation is still not completed or closed.
    """
    as_of = pd.Timestamp(settings.as_of)
    pairs = _with_op_status(data, _osp_pairs(data), ("cancelled", *OP_DONE_STATUSES))
    if pairs.empty:
        return _no_findings()
    per_op = _per_operation(data, pairs)
    per_op = per_op[per_op["first_receipt"].notna()].reset_index(drop=True)
    if per_op.empty:
        return _no_findings()
    days = settings.tolerance_for("OSP-004", "days", _tolerance_rows(data, pairs.take(per_op["pick"])).reset_index(drop=True))
    waited = (as_of - per_op["first_receipt"]).dt.days.to_numpy()
    hit = waited > days.to_numpy()
    if not hit.any():
        return _no_findings()
    per_op = per_op[hit].reset_index(drop=True)
    days, waited = days.to_numpy()[hit], waited[hit]
    op_rows = per_op["op_row"].to_numpy()
    picked = pairs.take(per_op["pick"].to_numpy()).reset_index(drop=True)
    op_records = _op_records(data, op_rows)
    line_records = _line_records(data, picked["po_row"])
    receipts = _receipt_records(data, picked["_k_line"])

    summaries, evidence = [], []
    for i, (op_row, po_row, k_line) in enumerate(zip(op_rows, picked["po_row"], picked["_k_line"])):
        op, line = op_records[int(op_row)], line_records[int(po_row)]
        first = _day(per_op["first_receipt"].iloc[i])
        summaries.append(
            f"Outside-processing {_op_label(op)} (site {op['site']}, {op['source_system']}) is still {op['status']} "
            f"{int(waited[i])} days after its parts came back: {_line_label(line)} was first received on {first}, "
            f"and the operation should be completed within {days[i]:g} days of the receipt (as of "
            f"{as_of.date().isoformat()})."
        )
        evidence.append(to_json({"records": [op, line, *receipts.get(int(k_line), [])], "first_receipt_date": first,
                                 "days": days[i], "as_of": as_of.date().isoformat()}))
    offending = data["wo_operation"].take(op_rows).reset_index(drop=True)
    return subject_frame(offending, "wo_operation", wo_number=offending["wo_number"], op_seq=offending["op_seq"],
                         po_number=picked["po_row"].map(lambda r: line_records[int(r)]["po_number"]).to_list(),
                         line_number=picked["po_row"].map(lambda r: line_records[int(r)]["line_number"]).to_list(),
                         summary=summaries, evidence=evidence)


def _operation_units(data: CanonicalFrames, op_rows: np.ndarray) -> tuple[pd.Series, pd.Series]:
    """The unit each operation counts in and the item it works on: the item the work order makes
    (same site and WO number) and that item's unit in the item master. NA where unknown."""
    ops, wos, items = data["wo_operation"], data["work_order"], data["item"]
    wos = wos[known(wos["_k_wo"]) & wos["item_number"].notna().to_numpy()].drop_duplicates("_k_wo")
    at = pd.Index(wos["_k_wo"]).get_indexer(ops["_k_wo"].to_numpy()[op_rows])
    item = pd.Series(pd.NA, index=range(len(op_rows)), dtype=ops["wo_number"].dtype)
    item[at >= 0] = wos["item_number"].to_numpy()[at[at >= 0]]
    master = items[items["item_number"].notna() & items["uom"].notna()].drop_duplicates("item_number")
    at = pd.Index(master["item_number"]).get_indexer(item.fillna("").to_numpy())
    at[item.isna().to_numpy()] = -1
    unit = pd.Series(pd.NA, index=item.index, dtype=item.dtype)
    unit[at >= 0] = master["uom"].to_numpy()[at[at >= 0]]
    return unit, item


def _operation_quantities(data: CanonicalFrames, op_rows: np.ndarray) -> np.ndarray:
    """The quantity each operation works on: its own, else its work order's (same site and number)."""
    ops, wos = data["wo_operation"], data["work_order"]
    qty = ops["qty"].to_numpy(dtype="float64", na_value=np.nan)[op_rows]
    missing = np.isnan(qty)
    if missing.any():
        wos = wos[known(wos["_k_wo"]) & wos["qty"].notna().to_numpy()].drop_duplicates("_k_wo")
        at = pd.Index(wos["_k_wo"]).get_indexer(ops["_k_wo"].to_numpy()[op_rows[missing]])
        from_wo = np.full(len(at), np.nan)
        from_wo[at >= 0] = wos["qty"].to_numpy(dtype="float64")[at[at >= 0]]
        qty[missing] = from_wo
    return qty


def _qty_text(value: float, unit) -> str:
    number = quantity_text(value)
    return f"{number} {unit}" if text(unit) else number


def osp_received_qty_differs(data: CanonicalFrames, settings: ReconcileSettings) -> pd.DataFrame:
    """OSP-006: OSP PO lines whose received quantity differs from their operation's quantity beyond
    tolerance (``qty_tolerance_pct`` of the operation quantity or ``qty_tolerance_abs``, whichever is
    larger; per supplier, process and site).

    Received is the sum of the line's receipts (partial receipts add up) in the line's unit, turned
    into the unit the operation counts in (the unit of the item its work order makes) with the item's
    conversion, else a generic one. A line received in a unit that cannot be converted, or whose
    operation has no quantity, is reported as not comparable rather than passed. More received than
    the operation needs is reported at once; less only when nothing more is expected: the line is
    received or closed, or the operation completed or closed. The operation's quantity is its own,
    else its work order's; without either there is nothing to compare with.
    """
    from reconciliation.costs import uom_factors  # the conversion rules live with the roll-up

    pairs = _with_op_status(data, _osp_pairs(data), ("cancelled",))
    if pairs.empty:
        return _no_findings()
    figures = _line_figures(data, pairs)
    lines, ops = data["po_line"], data["wo_operation"]
    po_rows, op_rows = pairs["po_row"].to_numpy(), pairs["op_row"].to_numpy()
    own = lines["qty_received"].to_numpy(dtype="float64", na_value=np.nan)[po_rows]
    was_received = (figures["receipts"].to_numpy() > 0) | (np.nan_to_num(own, nan=0.0) > 0)
    pairs, figures = pairs[was_received].reset_index(drop=True), figures[was_received].reset_index(drop=True)
    if pairs.empty:
        return _no_findings()
    po_rows, op_rows = pairs["po_row"].to_numpy(), pairs["op_row"].to_numpy()
    op_unit, op_item = _operation_units(data, op_rows)
    line_unit = lines["uom"].take(po_rows).reset_index(drop=True)
    item = op_item.fillna(lines["item_number"].take(po_rows).reset_index(drop=True))
    factor = uom_factors(line_unit, op_unit, item, data["uom_conversion"]).to_numpy(dtype="float64")
    received = figures["received"].to_numpy() * factor
    op_qty = _operation_quantities(data, op_rows)
    rows = _tolerance_rows(data, pairs)
    pct = settings.tolerance_for("OSP-006", "qty_tolerance_pct", rows).to_numpy()
    absolute = settings.tolerance_for("OSP-006", "qty_tolerance_abs", rows).to_numpy()
    allowed = np.maximum(np.abs(op_qty) * pct / 100.0, absolute) + _QTY_SLACK * np.maximum(np.abs(op_qty), 1.0)
    difference = received - op_qty
    settled = (lines["status"].take(po_rows).isin(("received", "closed")).to_numpy()
               | ops["status"].take(op_rows).isin(OP_DONE_STATUSES).to_numpy())
    # an operation without a quantity (nor one of its work order) states nothing to compare with
    not_comparable = np.isnan(received) & ~np.isnan(op_qty)
    over = difference > allowed
    short = settled & (difference < -allowed)
    hit = not_comparable | over | short
    if not hit.any():
        return _no_findings()
    keep = np.flatnonzero(hit)
    pairs = pairs.take(keep).reset_index(drop=True)
    po_rows, op_rows = pairs["po_row"].to_numpy(), pairs["op_row"].to_numpy()
    line_records = _line_records(data, po_rows)
    op_records = _op_records(data, op_rows)
    receipts = _receipt_records(data, pairs["_k_line"])

    summaries, evidence = [], []
    for j, i in enumerate(keep):
        line, op = line_records[int(po_rows[j])], op_records[int(op_rows[j])]
        in_line = figures["received"].iat[i]
        where = f"Outside-processing {_line_label(line)} for {_op_label(op)} ({op['source_system']})"
        tolerance = f"tolerance {pct[i]:g}% or {absolute[i]:g}, whichever is larger"
        note = {"op_unit": None if pd.isna(op_unit.iat[i]) else op_unit.iat[i],
                "line_unit": None if pd.isna(line_unit.iat[i]) else line_unit.iat[i],
                "item_number": None if pd.isna(item.iat[i]) else item.iat[i],
                "qty_tolerance_pct": pct[i], "qty_tolerance_abs": absolute[i]}
        if np.isnan(in_line):
            summary = (f"{where}: a receipt is in a unit that cannot be converted to the line's unit "
                       f"({text(line_unit.iat[i], 'unknown')}), so the quantities cannot be compared.")
        elif np.isnan(factor[i]):
            summary = (f"{where}: received {_qty_text(in_line, line_unit.iat[i])}, but no unit conversion from "
                       f"{line_unit.iat[i]} to {op_unit.iat[i]} exists for item {text(item.iat[i], '(none)')}, so it "
                       f"cannot be compared with the operation's {_qty_text(op_qty[i], op_unit.iat[i])}.")
        else:
            converted = "" if factor[i] == 1.0 else f" ({_qty_text(in_line, line_unit.iat[i])} as received)"
            unit = op_unit.iat[i] if not pd.isna(op_unit.iat[i]) else line_unit.iat[i]
            summary = (f"{where}: received {_qty_text(received[i], unit)}{converted} in "
                       f"{int(figures['receipts'].iat[i])} receipt(s) against the operation's "
                       f"{_qty_text(op_qty[i], unit)}, {'more' if over[i] else 'less'} by "
                       f"{_qty_text(abs(difference[i]), unit)} ({tolerance}).")
            note.update(received=float(received[i]), operation_qty=float(op_qty[i]))
        summaries.append(summary)
        evidence.append(to_json({"records": [line, op, *receipts.get(int(pairs["_k_line"].iat[j]), [])], **note}))
    offending = lines.take(po_rows).reset_index(drop=True)
    return subject_frame(offending, "po_line", wo_number=[op_records[int(r)]["wo_number"] for r in op_rows],
                         op_seq=[op_records[int(r)]["op_seq"] for r in op_rows], po_number=offending["po_number"],
                         line_number=offending["line_number"], summary=summaries, evidence=evidence)
