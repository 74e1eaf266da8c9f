"""MESA B2MML V0701 documents as a production MES exchanges them, built with lxml, for the b2mml specs.

Two ways a plant's MES publishes the same production orders, and the actuals that answer each:

* ``OperationsSchedule`` (ISA-95 level 4 to 3): an ``OperationsRequest`` per work order, a
  ``SegmentRequirement`` per routing operation. Answered by ``OperationsPerformance``: an
  ``OperationsResponse`` per work order, a ``SegmentResponse`` per operation with the
  ``MaterialActual`` and ``PersonnelActual`` booked on it.
* ``WorkSchedule`` (level 3 dispatch): a ``WorkRequest`` per work order, a ``JobOrder`` per
  operation (ID ``<WO>/<op>``, the routing operation in ``SegmentRequirementID``, the work centre
  as ``HierarchyScope`` at WorkCenter level). Answered by ``WorkPerformance``: a ``WorkResponse``
  per work order, a ``JobResponse`` per job order with its actuals.

An outside-processing (OSP) operation carries the parameters ``OutsideProcessing`` (``true``),
``Supplier``, ``PurchaseOrder`` and ``PurchaseOrderLine`` (SegmentParameter or JobOrderParameter),
and runs at the virtual work centre ``OSP``. Material lots are ``MaterialLotID``, serial numbers
``MaterialSubLotID`` (a serialized part is a sublot of one); ``MaterialUse`` tells consumed
material from produced. Every element is written in the order the V0701 schema requires, so the
documents validate against ``shared/realworld/b2mml-v0701/Schema``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

NAMESPACE = "http://www.mesa.org/xml/B2MML"
PUBLISHED = "2026-03-02T05:00:00Z"
OSP_WORK_CENTRE = "OSP"


@dataclass(frozen=True)
class Material:
    """Material booked on an operation: planned on the schedule, actual on the performance."""

    id: str
    item: str
    qty: str
    uom: str
    lot: str | None = None
    serial: str | None = None
    use: str = "Consumed"


@dataclass(frozen=True)
class Labour:
    """Hours a person booked on an operation."""

    id: str
    person: str
    craft: str
    hours: str
    uom: str = "h"


@dataclass(frozen=True)
class Operation:
    """A routing operation; ``performed_state`` is None until the MES reports on it."""

    seq: str
    segment: str
    description: str
    work_centre: str
    state: str
    start: str
    end: str
    performed_state: str | None = None
    actual_start: str | None = None
    actual_end: str | None = None
    osp: bool = False
    supplier: str | None = None
    po: str | None = None
    po_line: str | None = None
    materials: tuple[Material, ...] = ()
    labour: tuple[Labour, ...] = ()


@dataclass(frozen=True)
class WorkOrder:
    """A production work order: what it makes, where, its state and its operations."""

    number: str
    site: str
    item: str
    description: str
    priority: int
    state: str
    start: str
    end: str
    operations: tuple[Operation, ...] = field(default_factory=tuple)

    @property
    def performed(self) -> tuple[Operation, ...]:
        """The operations the MES has reported on."""
        return tuple(op for op in self.operations if op.performed_state is not None)


# ------------------------------------------------------------------ element helpers


def _el(tag: str, *children: etree._Element | None, text: str | None = None) -> etree._Element:
    element = etree.Element(f"{{{NAMESPACE}}}{tag}", nsmap={None: NAMESPACE})
    if text is not None:
        element.text = text
    for child in children:
        if child is not None:
            element.append(child)
    return element


def _leaf(tag: str, value: object | None) -> etree._Element | None:
    """A simple element, or nothing when the value is missing (B2MML leaves optional elements out)."""
    return None if value is None else _el(tag, text=str(value))


def _scope(equipment_id: str, level: str) -> etree._Element:
    return _el("HierarchyScope", _leaf("EquipmentID", equipment_id), _leaf("EquipmentElementLevel", level))


def _quantity(qty: str, uom: str, data_type: str = "decimal") -> etree._Element:
    return _el("Quantity", _leaf("QuantityString", qty), _leaf("DataType", data_type), _leaf("UnitOfMeasure", uom))


def _parameter(tag: str, name: str, value: str, data_type: str) -> etree._Element:
    return _el(tag, _leaf("ID", name), _el("Value", _leaf("ValueString", value), _leaf("DataType", data_type)))


def _osp_parameters(tag: str, op: Operation) -> list[etree._Element]:
    """The OSP flag and, where the MES knows them, the processor and its purchase order."""
    if not op.osp:
        return []
    found = [_parameter(tag, "OutsideProcessing", "true", "boolean")]
    for name, value in (("Supplier", op.supplier), ("PurchaseOrder", op.po), ("PurchaseOrderLine", op.po_line)):
        if value is not None:
            found.append(_parameter(tag, name, value, "Identifier"))
    return found


def _material(tag: str, m: Material) -> etree._Element:
    return _el(tag, _leaf("ID", m.id), _leaf("MaterialDefinitionID", m.item), _leaf("MaterialLotID", m.lot),
               _leaf("MaterialSubLotID", m.serial), _leaf("MaterialUse", m.use), _quantity(m.qty, m.uom))


def _personnel_actual(person: Labour) -> etree._Element:
    return _el("PersonnelActual", _leaf("ID", person.id), _leaf("PersonnelClassID", person.craft),
               _leaf("PersonID", person.person), _quantity(person.hours, person.uom))


def _document(root: etree._Element) -> etree._ElementTree:
    return etree.ElementTree(root)


# ------------------------------------------------------------------ documents


def operations_schedule(schedule_id: str, orders: list[WorkOrder]) -> etree._ElementTree:
    """An ``OperationsSchedule``: a request per work order, a segment requirement per operation."""
    requests = []
    for wo in orders:
        segments = []
        for op in wo.operations:
            segments.append(_el(
                "SegmentRequirement", _leaf("ID", op.seq), _leaf("Description", op.description),
                _leaf("EarliestStartTime", op.start), _leaf("LatestEndTime", op.end),
                _scope(op.work_centre, "WorkCenter"), _leaf("OperationsType", "Production"),
                _leaf("ProcessSegmentID", op.segment), _leaf("OperationsDefinitionID", wo.item),
                _leaf("OperationsSegmentID", f"{op.segment}-{op.seq}"), _leaf("SegmentState", op.state),
                *_osp_parameters("SegmentParameter", op),
                *(_material("MaterialRequirement", m) for m in op.materials if m.use == "Consumed"),
            ))
        requests.append(_el(
            "OperationsRequest", _leaf("ID", wo.number), _leaf("Description", wo.description),
            _leaf("StartTime", wo.start), _leaf("EndTime", wo.end), _scope(wo.site, "Site"),
            _leaf("OperationsType", "Production"), _leaf("Priority", wo.priority), _leaf("RequestState", wo.state),
            _leaf("OperationsDefinitionID", wo.item), *segments,
        ))
    return _document(_el("OperationsSchedule", _leaf("ID", schedule_id),
                         _leaf("Description", "Production orders released to the shop floor"),
                         _leaf("PublishedDate", PUBLISHED), _leaf("OperationsType", "Production"), *requests))


def operations_performance(performance_id: str, schedule_id: str, orders: list[WorkOrder]) -> etree._ElementTree:
    """An ``OperationsPerformance``: a response per work order, a segment response per performed operation."""
    responses = []
    for wo in orders:
        if not wo.performed:
            continue
        segments = [_el(
            "SegmentResponse", _leaf("ID", f"{wo.number}-{op.seq}"), _leaf("PostingDate", op.actual_end or op.actual_start),
            _leaf("ActualStartTime", op.actual_start), _leaf("ActualEndTime", op.actual_end),
            _scope(op.work_centre, "WorkCenter"), _leaf("OperationsType", "Production"),
            _leaf("ProcessSegmentID", op.segment), _leaf("OperationsRequestID", wo.number),
            _leaf("SegmentRequirementID", op.seq), _leaf("SegmentState", op.performed_state),
            *(_personnel_actual(p) for p in op.labour), *(_material("MaterialActual", m) for m in op.materials),
        ) for op in wo.performed]
        responses.append(_el(
            "OperationsResponse", _leaf("ID", f"RSP-{wo.number}"), _scope(wo.site, "Site"),
            _leaf("OperationsType", "Production"), _leaf("OperationsRequestID", wo.number),
            _leaf("ResponseState", "Completed" if all(op.performed_state == "Completed" for op in wo.operations)
                  else "Running"), *segments,
        ))
    return _document(_el("OperationsPerformance", _leaf("ID", performance_id), _leaf("PublishedDate", PUBLISHED),
                         _leaf("OperationsType", "Production"), _leaf("OperationsScheduleID", schedule_id),
                         _leaf("PerformanceState", "Running"), *responses))


def work_schedule(schedule_id: str, orders: list[WorkOrder]) -> etree._ElementTree:
    """A ``WorkSchedule``: a work request per work order, a job order per operation."""
    requests = []
    for wo in orders:
        jobs = [_el(
            "JobOrder", _leaf("ID", f"{wo.number}/{op.seq}"), _leaf("Description", op.description),
            _leaf("StartTime", op.start), _leaf("EndTime", op.end), _scope(op.work_centre, "WorkCenter"),
            _leaf("WorkType", "Production"), _leaf("WorkMasterID", op.segment), _leaf("Priority", wo.priority),
            _leaf("DispatchStatus", op.state), *_osp_parameters("JobOrderParameter", op),
            *(_material("MaterialRequirement", m) for m in op.materials if m.use == "Consumed"),
            _leaf("SegmentRequirementID", op.seq),
        ) for op in wo.operations]
        requests.append(_el(
            "WorkRequest", _leaf("ID", wo.number), _leaf("Description", wo.description), _scope(wo.site, "Site"),
            _leaf("WorkType", "Production"), _leaf("StartTime", wo.start), _leaf("EndTime", wo.end),
            _leaf("Priority", wo.priority), _leaf("RequestState", wo.state), *jobs,
        ))
    return _document(_el("WorkSchedule", _leaf("ID", schedule_id), _leaf("Description", "Jobs dispatched to work centres"),
                         _leaf("PublishedDate", PUBLISHED), _leaf("WorkType", "Production"), *requests))


def work_performance(performance_id: str, schedule_id: str, orders: list[WorkOrder]) -> etree._ElementTree:
    """A ``WorkPerformance``: a work response per work order, a job response per performed job order."""
    responses = []
    for wo in orders:
        if not wo.performed:
            continue
        jobs = [_el(
            "JobResponse", _leaf("ID", f"JR-{wo.number}/{op.seq}"), _leaf("StartTime", op.actual_start),
            _leaf("EndTime", op.actual_end), _scope(op.work_centre, "WorkCenter"), _leaf("WorkType", "Production"),
            _leaf("JobOrderID", f"{wo.number}/{op.seq}"), _leaf("WorkMasterID", op.segment),
            _leaf("JobState", op.performed_state), *(_personnel_actual(p) for p in op.labour),
            *(_material("MaterialActual", m) for m in op.materials),
        ) for op in wo.performed]
        responses.append(_el(
            "WorkResponse", _leaf("ID", f"RSP-{wo.number}"), _scope(wo.site, "Site"), _leaf("WorkType", "Production"),
            _leaf("WorkRequestID", wo.number), _leaf("ResponseState", "Running"), *jobs,
        ))
    return _document(_el("WorkPerformance", _leaf("ID", performance_id), _leaf("PublishedDate", PUBLISHED),
                         _leaf("WorkType", "Production"), _leaf("WorkScheduleID", schedule_id),
                         _leaf("WorkState", "Running"), *responses))


# ------------------------------------------------------------------ the plant's orders


def _shaft_routing(*, heat_treat: Operation, grinding_state: str = "Released") -> tuple[Operation, ...]:
    return (
        Operation("0010", "MACHINING", "Turn shaft from bar", "WC-LATHE-2", "Completed", "2026-02-23T07:00:00Z",
                  "2026-02-23T16:00:00Z", "Completed", "2026-02-23T07:12:00Z", "2026-02-23T15:40:00Z",
                  materials=(Material("1", "BAR-42CRMO4-50", "12.500", "KG", lot="L-2026-0412"),),
                  labour=(Labour("1", "E1007", "MACHINIST", "6.5"),)),
        heat_treat,
        Operation("0030", "GRINDING", "Grind bearing seats", "WC-GRIND-1", grinding_state, "2026-03-03T07:00:00Z",
                  "2026-03-03T16:00:00Z"),
    )


def production_orders() -> tuple[list[WorkOrder], list[WorkOrder]]:
    """The plant's orders: those published as an OperationsSchedule, and those as a WorkSchedule.

    Among them: OSP heat treatment and plating with supplier and PO (one PO written ``PO-...``),
    an OSP coating the MES has no PO for yet, a serialized assembly (serials as sublots, one
    produced serial that is not an issue), a cancelled order, and one material actual whose
    quantity a terminal keyed with a decimal comma (``12,5``), which the specs quarantine.
    """
    operations_orders = [
        WorkOrder("MO-26-000123", "NORTH", "SHAFT-0815", "Drive shaft, heat treated", 2, "Running",
                  "2026-02-23T06:00:00Z", "2026-03-06T17:00:00Z", _shaft_routing(heat_treat=Operation(
                      "0020", "HEAT_TREAT", "Case harden 58 HRC", OSP_WORK_CENTRE, "Completed",
                      "2026-02-24T07:00:00Z", "2026-03-02T16:00:00Z", "Completed", "2026-02-24T08:00:00Z",
                      "2026-03-02T11:30:00Z", osp=True, supplier="SUP-0042", po="4500012345", po_line="10",
                      materials=(Material("1", "SHAFT-0815-M", "1", "EA", lot="L-2026-0412", serial="SN-0815-0001"),
                                 Material("2", "SHAFT-0815-M", "1", "EA", lot="L-2026-0412", serial="SN-0815-0002"))),
                      grinding_state="Running")),
        WorkOrder("MO-26-000124", "SOUTH", "HOUSING-22", "Pump housing, zinc plated", 3, "Released",
                  "2026-03-02T06:00:00Z", "2026-03-13T17:00:00Z", (
                      Operation("0010", "MACHINING", "Mill housing", "WC-MILL-4", "Completed", "2026-03-02T07:00:00Z",
                                "2026-03-03T16:00:00Z", "Completed", "2026-03-02T07:05:00Z", "2026-03-03T12:00:00Z",
                                materials=(Material("1", "CAST-GG25-22", "12,5", "KG", lot="L-2026-0377"),),
                                labour=(Labour("1", "E2003", "MACHINIST", "7.25"),
                                        Labour("2", "E2011", "SETTER", "45", uom="min"))),
                      Operation("0020", "PLATING", "Zinc plate 8 um", OSP_WORK_CENTRE, "Released",
                                "2026-03-04T07:00:00Z", "2026-03-10T16:00:00Z", osp=True, supplier="SUP-0077",
                                po="PO-4500012399", po_line="20"),
                  )),
        WorkOrder("MO-26-000125", "NORTH", "SHAFT-0815", "Drive shaft, spare", 5, "Cancelled",
                  "2026-03-09T06:00:00Z", "2026-03-20T17:00:00Z", (
                      Operation("0010", "MACHINING", "Turn shaft from bar", "WC-LATHE-2", "Cancelled",
                                "2026-03-09T07:00:00Z", "2026-03-09T16:00:00Z"),
                  )),
    ]
    work_orders = [
        WorkOrder("MO-26-000201", "NORTH", "GEARBOX-7", "Gearbox assembly, serialized", 1, "Running",
                  "2026-02-25T06:00:00Z", "2026-03-11T17:00:00Z", (
                      Operation("0010", "NDT", "Magnetic particle inspection of gears", OSP_WORK_CENTRE, "Completed",
                                "2026-02-25T07:00:00Z", "2026-02-27T16:00:00Z", "Completed", "2026-02-25T09:00:00Z",
                                "2026-02-27T10:00:00Z", osp=True, supplier="SUP-0090", po="4500012410", po_line="1",
                                materials=(Material("1", "GEAR-Z31", "2", "EA", lot="L-2026-0501"),)),
                      Operation("0020", "ASSEMBLY", "Assemble gearbox", "WC-ASSY-1", "Running", "2026-03-02T07:00:00Z",
                                "2026-03-04T16:00:00Z", "Running", "2026-03-02T07:30:00Z", None,
                                materials=(Material("1", "GEAR-Z31", "1", "EA", lot="L-2026-0501", serial="SN-Z31-0007"),
                                           Material("2", "GEAR-Z31", "1", "EA", lot="L-2026-0501", serial="SN-Z31-0008"),
                                           Material("3", "GEARBOX-7", "1", "EA", lot="L-2026-0560",
                                                    serial="GB7-26-0001", use="Produced")),
                                labour=(Labour("1", "E1020", "FITTER", "3.75"),)),
                      Operation("0030", "COATING", "Powder coat RAL 5010", OSP_WORK_CENTRE, "Waiting",
                                "2026-03-05T07:00:00Z", "2026-03-09T16:00:00Z", osp=True, supplier="SUP-0105"),
                      Operation("0040", "INSPECTION", "Final inspection", "WC-QA-1", "Pending", "2026-03-10T07:00:00Z",
                                "2026-03-11T16:00:00Z"),
                  )),
        WorkOrder("MO-26-000202", "SOUTH", "HOUSING-22", "Pump housing, rework", 4, "Held",
                  "2026-03-03T06:00:00Z", "2026-03-12T17:00:00Z", (
                      Operation("0010", "GRINDING", "Regrind sealing face", "WC-GRIND-3", "Held",
                                "2026-03-03T07:00:00Z", "2026-03-03T16:00:00Z"),
                  )),
    ]
    return operations_orders, work_orders


def write_documents(folder: Path) -> dict[str, Path]:
    """Write the plant's four documents into ``folder`` (the MES outbox); returns their paths by root element."""
    folder.mkdir(parents=True, exist_ok=True)
    operations_orders, work_orders = production_orders()
    documents = {
        "OperationsSchedule": ("OPS-SCHEDULE-0001.xml", operations_schedule("OPS-SCHEDULE-0001", operations_orders)),
        "OperationsPerformance": ("OPS-PERFORMANCE-0001.xml",
                                  operations_performance("OPS-PERFORMANCE-0001", "OPS-SCHEDULE-0001", operations_orders)),
        "WorkSchedule": ("WORK-SCHEDULE-0001.xml", work_schedule("WORK-SCHEDULE-0001", work_orders)),
        "WorkPerformance": ("WORK-PERFORMANCE-0001.xml",
                            work_performance("WORK-PERFORMANCE-0001", "WORK-SCHEDULE-0001", work_orders)),
    }
    written = {}
    for root, (name, tree) in documents.items():
        path = folder / name
        tree.write(str(path), xml_declaration=True, encoding="UTF-8", pretty_print=True)
        written[root] = path
    return written


def load_schema(schema_dir: Path) -> etree.XMLSchema:
    """The V0701 schema set, loaded from its folder (includes resolve there) without network access."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(schema_dir / "AllSchemas.xsd"), parser))
