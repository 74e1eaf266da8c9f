"""The canonical model: one definition of every entity threadline reconciles.

The warehouse tables, the mapping-spec validation and the row-level checks of the
validate stage are all generated from the entities declared here, so a field added
here is known everywhere at once.

Every canonical row carries lineage (``source_system``, ``source_key``, ``run_id``,
``extracted_at``, ``record_hash``) and is keyed by ``(source_system, source_key)``:
two plants may both have PO 4500012345.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Field types the mapping engine can produce and the warehouse can store.
FIELD_TYPES = ("text", "int", "decimal", "date", "datetime", "bool")

LINEAGE_FIELDS = ("source_system", "source_key", "run_id", "extracted_at", "record_hash")


@dataclass(frozen=True)
class Field:
    """One canonical column: its type, whether a row needs it, and its allowed values."""

    name: str
    type: str
    required: bool = False
    allowed: tuple[str, ...] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name}: unknown type {self.type!r}; valid: {FIELD_TYPES}")


@dataclass(frozen=True)
class Entity:
    """A canonical entity: a warehouse table and the target of mapping specs."""

    name: str
    description: str
    fields: tuple[Field, ...]
    #: canonical fields that identify the row inside its source system, in order;
    #: documented for users, the stored key is ``source_key``.
    natural_key: tuple[str, ...] = field(default_factory=tuple)

    def field(self, name: str) -> Field:
        """Return the field called ``name`` or raise ``KeyError``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)


def _f(name: str, type_: str = "text", required: bool = False, allowed=None, description: str = "") -> Field:
    return Field(name, type_, required, tuple(allowed) if allowed else None, description)


PO_TYPES = ("standard", "blanket", "planned", "contract")
PO_STATUSES = ("draft", "open", "received", "closed", "cancelled")
WO_KINDS = ("maintenance", "production")
WO_STATUSES = ("planned", "released", "in_progress", "completed", "closed", "cancelled", "on_hold")
OP_STATUSES = ("planned", "released", "in_progress", "completed", "closed", "cancelled")
PROCESSES = ("machining", "assembly", "inspection", "heat_treat", "plating", "coating", "ndt", "grinding",
             "repair", "calibration", "service", "other")
LINK_STATUSES = ("asserted", "suggested", "confirmed", "rejected")

_SUPPLIER = Entity(
    "supplier",
    "A supplier as one source system knows it.",
    (
        _f("supplier_id", required=True),
        _f("name"),
        _f("site"),
        _f("approved_processes", description="comma-separated canonical processes the supplier is approved for"),
        _f("certificate_required", "bool"),
        _f("source_status", description="the status code as the source says it"),
    ),
    ("supplier_id",),
)

_ITEM = Entity(
    "item",
    "A part, material or service item.",
    (
        _f("item_number", required=True),
        _f("description"),
        _f("uom"),
        _f("lot_controlled", "bool"),
        _f("serial_controlled", "bool"),
        _f("standard_cost", "decimal"),
        _f("currency"),
    ),
    ("item_number",),
)

_ASSET = Entity(
    "asset",
    "A piece of equipment in the maintenance hierarchy.",
    (
        _f("asset_id", required=True),
        _f("site", required=True),
        _f("parent_asset_id"),
        _f("description"),
        _f("cost_centre"),
    ),
    ("site", "asset_id"),
)

_PURCHASE_ORDER = Entity(
    "purchase_order",
    "A purchase order header.",
    (
        _f("po_number", required=True),
        _f("po_type", allowed=PO_TYPES),
        _f("supplier_id"),
        _f("site", required=True),
        _f("currency", required=True),
        _f("status", required=True, allowed=PO_STATUSES),
        _f("source_status"),
        _f("order_date", "date"),
        _f("approved", "bool"),
        _f("buyer"),
    ),
    ("po_number",),
)

_PO_LINE = Entity(
    "po_line",
    "A purchase order line (and release).",
    (
        _f("po_number", required=True),
        _f("line_number", required=True),
        _f("release"),
        _f("site", required=True),
        _f("item_number"),
        _f("description"),
        _f("is_service", "bool"),
        _f("qty_ordered", "decimal", required=True),
        _f("qty_received", "decimal"),
        _f("uom"),
        _f("unit_price", "decimal", required=True),
        _f("currency", description="line currency; empty means the header's"),
        _f("need_by_date", "date"),
        _f("wo_ref", description="work order number the PO line names, normalized"),
        _f("op_ref", description="operation sequence the PO line names, normalized"),
        _f("process", allowed=PROCESSES),
        _f("cost_account"),
        _f("supplier_id"),
        _f("status", required=True, allowed=PO_STATUSES),
        _f("source_status"),
    ),
    ("po_number", "line_number", "release"),
)

_RECEIPT = Entity(
    "receipt",
    "A goods or service receipt against a PO line.",
    (
        _f("receipt_id", required=True),
        _f("po_number", required=True),
        _f("line_number", required=True),
        _f("site", required=True),
        _f("qty", "decimal", required=True),
        _f("uom"),
        _f("receipt_date", "date", required=True),
        _f("lot"),
        _f("serial"),
        _f("inspection_result"),
        _f("certificate_ref"),
    ),
    ("receipt_id",),
)

_INVOICE_LINE = Entity(
    "invoice_line",
    "A supplier invoice line matched to a PO line.",
    (
        _f("invoice_number", required=True),
        _f("invoice_line", required=True),
        _f("po_number", required=True),
        _f("line_number", required=True),
        _f("site", required=True),
        _f("qty", "decimal"),
        _f("amount", "decimal", required=True),
        _f("currency", required=True),
        _f("invoice_date", "date", required=True),
    ),
    ("invoice_number", "invoice_line"),
)

_WORK_ORDER = Entity(
    "work_order",
    "A maintenance (CMMS) or production (MES) work order.",
    (
        _f("wo_number", required=True),
        _f("kind", required=True, allowed=WO_KINDS),
        _f("site", required=True),
        _f("status", required=True, allowed=WO_STATUSES),
        _f("source_status"),
        _f("description"),
        _f("asset_id"),
        _f("item_number"),
        _f("priority", "int"),
        _f("created_date", "date"),
        _f("start_date", "date"),
        _f("finish_date", "date"),
        _f("closed_date", "date"),
        _f("qty", "decimal"),
        _f("lot"),
        _f("serial"),
        _f("estimate_labour", "decimal"),
        _f("estimate_material", "decimal"),
        _f("estimate_outside", "decimal"),
        _f("currency"),
        _f("cost_centre"),
        _f("po_ref", description="PO number the WO names (e.g. Maximo GENERATEDFORPO), normalized"),
        _f("po_line_ref", description="PO line the WO names (e.g. Maximo GENFORPOLINEID), normalized"),
        _f("inspection_required", "bool"),
        _f("inspection_signed_off", "bool"),
    ),
    ("wo_number",),
)

_WO_OPERATION = Entity(
    "wo_operation",
    "An operation (routing step or task) of a work order.",
    (
        _f("wo_number", required=True),
        _f("op_seq", required=True),
        _f("site", required=True),
        _f("description"),
        _f("work_centre"),
        _f("is_outside_processing", "bool", required=True),
        _f("process", allowed=PROCESSES),
        _f("expected_supplier"),
        _f("qty", "decimal"),
        _f("status", required=True, allowed=OP_STATUSES),
        _f("source_status"),
        _f("start_date", "date"),
        _f("finish_date", "date"),
        _f("inspection_required", "bool"),
        _f("inspection_signed_off", "bool"),
        _f("inspector"),
        _f("po_ref", description="PO number the operation names, normalized"),
        _f("po_line_ref", description="PO line the operation names, normalized"),
        _f("lot"),
    ),
    ("wo_number", "op_seq"),
)

_MATERIAL_ISSUE = Entity(
    "material_issue",
    "Material issued to a work order (operation).",
    (
        _f("issue_id", required=True),
        _f("wo_number", required=True),
        _f("op_seq"),
        _f("site", required=True),
        _f("item_number", required=True),
        _f("qty", "decimal", required=True),
        _f("uom"),
        _f("unit_cost", "decimal"),
        _f("currency"),
        _f("issue_date", "date", required=True),
        _f("lot"),
        _f("serial"),
        _f("po_ref"),
        _f("po_line_ref"),
    ),
    ("issue_id",),
)

_LABOUR_ENTRY = Entity(
    "labour_entry",
    "Hours booked against a work order (operation).",
    (
        _f("entry_id", required=True),
        _f("wo_number", required=True),
        _f("op_seq"),
        _f("site", required=True),
        _f("person"),
        _f("craft"),
        _f("hours", "decimal", required=True),
        _f("rate", "decimal"),
        _f("currency"),
        _f("entry_date", "date", required=True),
    ),
    ("entry_id",),
)

_FX_RATE = Entity(
    "fx_rate",
    "Exchange rate effective from a date: 1 unit of from_currency = rate units of to_currency.",
    (
        _f("from_currency", required=True),
        _f("to_currency", required=True),
        _f("effective_date", "date", required=True),
        _f("rate", "decimal", required=True),
    ),
    ("from_currency", "to_currency", "effective_date"),
)

_UOM_CONVERSION = Entity(
    "uom_conversion",
    "Unit-of-measure conversion: 1 from_uom = factor to_uom (item-specific when item_number is set).",
    (
        _f("item_number"),
        _f("from_uom", required=True),
        _f("to_uom", required=True),
        _f("factor", "decimal", required=True),
    ),
    ("item_number", "from_uom", "to_uom"),
)

_WO_PO_LINK = Entity(
    "wo_po_link",
    "A link between a work order (operation) and a PO line, with who asserted it.",
    (
        _f("wo_number", required=True),
        _f("op_seq"),
        _f("po_number", required=True),
        _f("line_number"),
        _f("site", required=True),
        _f("asserted_by", required=True, description="source system or person that asserted the link"),
        _f("evidence", description="where the assertion was found, e.g. POLINE.REFWO"),
        _f("status", required=True, allowed=LINK_STATUSES),
        _f("score", "decimal"),
    ),
    ("wo_number", "op_seq", "po_number", "line_number"),
)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        _SUPPLIER, _ITEM, _ASSET, _PURCHASE_ORDER, _PO_LINE, _RECEIPT, _INVOICE_LINE, _WORK_ORDER,
        _WO_OPERATION, _MATERIAL_ISSUE, _LABOUR_ENTRY, _FX_RATE, _UOM_CONVERSION, _WO_PO_LINK,
    )
}


def entity(name: str) -> Entity:
    """Return the canonical entity ``name``; the error lists the valid names."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise KeyError(f"unknown canonical entity {name!r}; valid: {', '.join(ENTITIES)}") from None
