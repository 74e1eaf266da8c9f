"""The MES of both sites: production work orders as MESA B2MML V0701 ``OperationsSchedule`` files.

The MES drops ``OPS-SCHEDULE-0001.xml``, ``-0002``, ... (at most ``REQUESTS_PER_FILE`` work orders
each) into ``mes/outbox``. Each ``OperationsRequest`` is a work order: ID ``MO-26-000123``,
HierarchyScope/EquipmentID the site ('PLANT-N' = NORTH, 'PLANT-S' = SOUTH, level Site),
RequestState from the B2MML enumeration (Forecast, Released, Running, Completed, Closed,
Cancelled), OperationsDefinitionID the item the order makes. Each ``SegmentRequirement`` is an
operation (ID "10", "20", ...; ProcessSegmentID MACHINING, GRINDING, ASSEMBLY, INSPECTION,
HEAT_TREAT, PLATING, NDT, COATING) with the same nine ``SegmentParameter`` entries on every
operation, empty where they do not apply, so every file carries every column: WorkCenter,
OutsideProcessing, Process, Supplier, PurchaseOrder, PurchaseOrderLine (the MES's own link of an
OSP operation to its PO line, filled on some of them), InspectionRequired and
InspectionSignedOffBy (empty until signed) and MaterialLot (the lot the order runs under, which goes
out to the outside processor with the parts). Operations that have started list the material they
consumed as ``MaterialRequirement`` (MaterialUse Consumed); the last operation of a completed or
closed order also lists the finished lot it produced (MaterialUse Produced, ID ``OUT``).

Source keys, as the ``demo_mes`` specs build them: work order ``MO-26-000123``, operation
``MO-26-000123|20``, material ``MO-26-000123|20|1``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from threadline.demo.plant import AS_OF, Plant, to_dates

OUTBOX = Path("mes") / "outbox"
NAMESPACE = "http://www.mesa.org/xml/B2MML"
REQUESTS_PER_FILE = 500
FILES_PER_BLOCK = 8
SITE_CODE = {"NORTH": "PLANT-N", "SOUTH": "PLANT-S"}

STREAMS = {
    "work_orders": {"mapping": "demo_mes/OperationsRequest.yaml", "records": "OperationsRequest",
                    "key": ["ID"], "bookmark": ["_file"]},
    "operations": {"mapping": "demo_mes/SegmentRequirement.yaml", "records": "OperationsRequest/SegmentRequirement",
                   "key": ["OperationsRequest.ID", "ID"], "bookmark": ["_file"]},
    "material_issues": {"mapping": "demo_mes/MaterialRequirement.yaml",
                        "records": "OperationsRequest/SegmentRequirement/MaterialRequirement",
                        "key": ["OperationsRequest.ID", "SegmentRequirement.ID", "ID"], "bookmark": ["_file"]},
}


def source_key(ref: tuple) -> str:
    """The source key of a planted record (see ``Plant.defects``) in this source."""
    kind = ref[0]
    if kind == "mes_wo":
        return str(ref[1])
    if kind == "mes_op":
        return f"{ref[1]}|{int(ref[2])}"
    if kind == "mes_issue":
        return f"{ref[1]}|{int(ref[2])}|{ref[3]}"
    raise ValueError(f"the MES has no record of kind {kind!r}")


def _escape(values: pd.Series) -> pd.Series:
    text = values.astype(str)
    return text.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False).str.replace(
        ">", "&gt;", regex=False)


def _datetime(days: pd.Series, clock: str) -> pd.Series:
    return pd.Series(np.datetime_as_string(to_dates(days), unit="D"), index=days.index) + f"T{clock}"


def _parameter(name: str, values: pd.Series, data_type: str) -> pd.Series:
    return (f"<SegmentParameter><ID>{name}</ID><Value><ValueString>" + values
            + f"</ValueString><DataType>{data_type}</DataType></Value></SegmentParameter>")


def _bool(values: pd.Series) -> pd.Series:
    return pd.Series(np.where(values.to_numpy(dtype=bool), "true", "false"), index=values.index)


def produced_material(wos: pd.DataFrame, ops: pd.DataFrame) -> pd.DataFrame:
    """The finished lot of every completed or closed work order, produced by its last operation."""
    done = wos[wos["state"].isin(["Completed", "Closed"])]
    last_seq = ops.groupby("wo_number", sort=False)["seq"].max()
    done = done[done["wo_number"].isin(last_seq.index)]
    return pd.DataFrame({"wo_number": done["wo_number"].to_numpy(),
                         "seq": last_seq.reindex(done["wo_number"]).to_numpy(),
                         "mat_id": "OUT", "item": done["item"].to_numpy(), "lot": done["lot"].to_numpy(),
                         "qty": done["qty"].to_numpy(dtype=float), "uom": "EA", "use": "Produced"})


def _requests_xml(wos: pd.DataFrame, ops: pd.DataFrame, mats: pd.DataFrame, item_of_wo: dict) -> np.ndarray:
    """One ``OperationsRequest`` element (as text) per work order, built column-wise."""
    # consumed material first, then the finished lot the last operation produced (the material
    # mapping spec keeps only consumed records)
    mats = pd.concat([mats.assign(use="Consumed"), produced_material(wos, ops)], ignore_index=True)
    if mats.empty:
        # orders not started yet have consumed nothing
        return _requests_xml_with(wos, ops, np.full(len(ops), "", dtype=object), item_of_wo)
    m_xml = ("<MaterialRequirement><ID>" + mats["mat_id"].astype(str) + "</ID><MaterialDefinitionID>"
             + _escape(mats["item"]) + "</MaterialDefinitionID><MaterialLotID>" + _escape(mats["lot"])
             + "</MaterialLotID><MaterialUse>" + mats["use"] + "</MaterialUse><Quantity><QuantityString>"
             + mats["qty"].map("{:.3f}".format) + "</QuantityString><DataType>decimal</DataType><UnitOfMeasure>"
             + _escape(mats["uom"]) + "</UnitOfMeasure></Quantity></MaterialRequirement>")
    mat_by_op = m_xml.groupby([mats["wo_number"], mats["seq"]], sort=False).agg("".join)
    op_materials = mat_by_op.reindex(pd.MultiIndex.from_frame(ops[["wo_number", "seq"]])).fillna("").to_numpy()
    return _requests_xml_with(wos, ops, op_materials, item_of_wo)


def _requests_xml_with(wos: pd.DataFrame, ops: pd.DataFrame, op_materials: np.ndarray, item_of_wo: dict) -> np.ndarray:
    definition = _escape(ops["wo_number"].map(item_of_wo))
    lot_of_wo = dict(zip(wos["wo_number"], wos["lot"]))
    osp_process = pd.Series(np.where(ops["is_osp"], ops["segment"], ""), index=ops.index)
    seg_xml = (
        "<SegmentRequirement><ID>" + ops["seq"].astype(str) + "</ID><Description>" + _escape(ops["description"])
        + "</Description><EarliestStartTime>" + _datetime(ops["start_day"], "07:00:00")
        + "</EarliestStartTime><LatestEndTime>" + _datetime(ops["end_day"], "16:00:00")
        + "</LatestEndTime><ProcessSegmentID>" + _escape(ops["segment"]) + "</ProcessSegmentID>"
        + "<OperationsDefinitionID>" + definition + "</OperationsDefinitionID><OperationsSegmentID>"
        + _escape(ops["segment"]) + "-" + ops["seq"].astype(str) + "</OperationsSegmentID><SegmentState>"
        + ops["state"] + "</SegmentState>"
        + _parameter("WorkCenter", _escape(ops["work_centre"]), "string")
        + _parameter("Quantity", ops["qty"].map("{:g}".format), "decimal")
        + _parameter("OutsideProcessing", _bool(ops["is_osp"]), "boolean")
        + _parameter("Process", osp_process, "string")
        + _parameter("Supplier", _escape(ops["supplier"]), "string")
        + _parameter("PurchaseOrder", _escape(ops["po_ref"]), "string")
        + _parameter("PurchaseOrderLine", _escape(ops["po_line_ref"]), "string")
        + _parameter("InspectionRequired", _bool(ops["insp_required"]), "boolean")
        + _parameter("InspectionSignedOffBy", _escape(ops["signed_by"]), "string")
        + _parameter("MaterialLot", _escape(ops["wo_number"].map(lot_of_wo)), "string")
        + op_materials + "</SegmentRequirement>"
    )
    segments_of_wo = seg_xml.groupby(ops["wo_number"], sort=False).agg("".join)
    return (
        "<OperationsRequest><ID>" + wos["wo_number"] + "</ID><Description>" + _escape(wos["description"])
        + "</Description><StartTime>" + _datetime(wos["start_day"], "06:00:00") + "</StartTime><EndTime>"
        + _datetime(wos["end_day"], "17:00:00") + "</EndTime><HierarchyScope><EquipmentID>"
        + wos["site"].map(SITE_CODE) + "</EquipmentID><EquipmentElementLevel>Site</EquipmentElementLevel>"
        + "</HierarchyScope><OperationsType>Production</OperationsType><Priority>" + wos["priority"].astype(str)
        + "</Priority><RequestState>" + wos["state"] + "</RequestState><OperationsDefinitionID>"
        + _escape(wos["item"]) + "</OperationsDefinitionID>" + wos["wo_number"].map(segments_of_wo)
        + "</OperationsRequest>"
    ).to_numpy(dtype=object)


def write_mes(plant: Plant, out_dir: Path) -> dict[str, int]:
    """Write the B2MML outbox under ``out_dir``; returns the rows each stream will read."""
    outbox = out_dir / OUTBOX
    outbox.mkdir(parents=True, exist_ok=True)
    for old in outbox.glob("*.xml"):
        old.unlink()
    wos = plant.prod_wos.sort_values("wo_number", kind="stable").reset_index(drop=True)
    ops, mats = plant.prod_ops, plant.prod_materials
    item_of_wo = dict(zip(wos["wo_number"], wos["item"]))
    published = f"{AS_OF.isoformat()}T05:00:00"
    # the text of a few files at a time, so a large plant never holds its whole outbox in memory
    block = REQUESTS_PER_FILE * FILES_PER_BLOCK
    number = 0
    for first in range(0, len(wos), block):
        chunk = wos.iloc[first:first + block]
        wanted = set(chunk["wo_number"])
        request_xml = _requests_xml(chunk, ops[ops["wo_number"].isin(wanted)], mats[mats["wo_number"].isin(wanted)],
                                    item_of_wo)
        for start in range(0, len(request_xml), REQUESTS_PER_FILE):
            number += 1
            name = f"OPS-SCHEDULE-{number:04d}"
            body = "".join(request_xml[start:start + REQUESTS_PER_FILE])
            document = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<OperationsSchedule xmlns="{NAMESPACE}">'
                f"<ID>{name}</ID><Description>Production orders released to the shop floor</Description>"
                f"<PublishedDate>{published}</PublishedDate><OperationsType>Production</OperationsType>"
                f"{body}</OperationsSchedule>\n"
            )
            (outbox / f"{name}.xml").write_text(document, encoding="utf-8")
    return {"work_orders": len(wos), "operations": len(ops),
            "material_issues": len(mats) + len(produced_material(wos, ops))}
