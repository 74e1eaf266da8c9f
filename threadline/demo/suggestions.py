"""Ground truth for link suggestions (LNK-006): WO-driven PO lines whose link was lost.

On both sites, open outside-processing lines (MES operations) and open service lines (Maximo
tasks with a planned outside service) lose every reference between them and their work: the PO
line's work-order and operation reference, the operation's PO reference, Maximo's GENERATEDFORPO
and its POLINE copy. Their true work order and operation are kept as ``Plant.link_truth``, which
the manifest lists, so the suggestions LNK-006 makes can be scored (precision and recall, see
``bench/suggestions.py`` and ``tests/integration/test_link_suggestions.py``).

The descriptions vary the way buyers write them: the work-order number zero-padded after "WO",
the MES number with spaces for dashes, only its last digits after "#", or no number at all (then
only the supplier, the service, the quantity and the dates point at the work). Each line is an
LNK-006 finding, and its operation, released and now without a PO line, an OSP-001 finding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: role of the PO lines planted here
ROLE = "lnk006"
#: how the description names the work, in turn: zero padded, spaced, last digits only, not at all
TEXT_STYLES = ("padded", "spaced", "hash", "none")


def unlinked_line_count(scale: int) -> int:
    """Lines planted per site and kind (outside processing, maintenance service): one per 100 WOs, at least 1."""
    return max(1, scale // 100)


def _named(wo_number: str, style: str) -> str:
    digits = wo_number.split("-")
    if style == "padded":
        return f"WO {digits[-1].zfill(8)}"
    if style == "spaced":
        return " ".join(digits) if len(digits) > 1 else f"W/O {wo_number}"
    if style == "hash":
        return f"#{digits[-1].lstrip('0')}"
    return ""


def plant_unlinked_lines(seed: int, scale: int, lines: pd.DataFrame, mnt: dict[str, pd.DataFrame],
                         prod: dict[str, pd.DataFrame], po_links: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Unlink chosen open OSP and service lines from their work (in place); returns the Maximo POLINE
    copy without the unlinked lines and the truth (one entry per line)."""
    rng = np.random.default_rng(seed + 6006)  # a stream of its own: the rest of the plant stays as it was
    per_kind = unlinked_line_count(scale)
    truth: list[dict[str, Any]] = []
    ops, wos = prod["ops"], mnt["wos"]
    services = mnt["services"]
    style_at = 0
    for site in sorted(lines["site"].unique()):
        for origin in ("osp", "service"):
            pool = lines.index[(lines["site"] == site) & (lines["origin"] == origin) & (lines["role"] == "")
                               & (lines["status"] == "open")]
            hosts = np.sort(rng.choice(pool, size=min(per_kind, len(pool)), replace=False)) if len(pool) else []
            for host in hosts:
                line = lines.loc[host]
                style = TEXT_STYLES[style_at % len(TEXT_STYLES)]
                style_at += 1
                if origin == "osp":
                    op = ops.loc[line["origin_row"]]
                    wo_number, op_seq = str(op["wo_number"]), str(int(op["seq"]))
                    ops.loc[line["origin_row"], ["po_ref", "po_line_ref"]] = ""
                    what = str(line["segment"]).replace("_", " ").capitalize()
                    text = f"{what} {int(line['qty'])} pcs"
                    op_ref = ("mes_op", wo_number, int(op["seq"]))
                else:
                    service = services.loc[line["origin_row"]]
                    wo_number, op_seq = str(int(service["parent"])), str(int(service["taskid"]))
                    wos.loc[service["parent_row"], ["gen_po", "gen_po_line"]] = ["", 0]
                    drop = (po_links["ponum"] == line["po_label"]) & (po_links["polinenum"] == line["line_no"])
                    po_links = po_links[~drop]
                    text = str(line["description"])
                    op_ref = ("maximo_task", site, int(service["parent"]), int(service["taskid"]))
                named = _named(wo_number, style)
                lines.loc[host, ["wo_ref", "op_ref", "role"]] = ["", 0, ROLE]
                # the number first: JD Edwards keeps 30 characters of a description
                lines.loc[host, "description"] = f"{named} {text}" if named else text
                truth.append({"site": site, "erp": line["erp"], "po_number": int(line["po_number"]),
                              "line_no": int(line["line_no"]), "po_label": line["po_label"], "wo_number": wo_number,
                              "op_seq": op_seq, "kind": origin, "text_style": style, "op_ref": op_ref})
    return po_links.reset_index(drop=True), truth


def collect_defects(plant, defect) -> None:
    """LNK-006 on each unlinked line and OSP-001 on its operation, now bought on no linked line."""
    for entry in plant.link_truth:
        ref = ("po_line", entry["erp"], entry["po_number"], entry["line_no"])
        plant.defects.append(defect("LNK-006", "po_line", entry["erp"], ref,
                                    f"{entry['kind']} line for {entry['wo_number']} op {entry['op_seq']} lost its "
                                    f"references (description: {entry['text_style']})"))
        source = "mes" if entry["op_ref"][0] == "mes_op" else "maximo"
        plant.defects.append(defect("OSP-001", "wo_operation", source, entry["op_ref"],
                                    f"secondary: the line bought for op {entry['op_seq']} of {entry['wo_number']} "
                                    f"names no work (LNK-006)"))
