"""The rule catalogue: id, severity, what an auditor reads, and default tolerances.

Ids are stable; an exception's id is derived from its rule id, so never renumber a rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "info")
#: how rules about a work order treat an ERP's copy of it (see ``reconciliation.frames.shadowed_erp_copies``)
_ON_COPY_OF_RECORD = (" A work order the MES or CMMS holds and an ERP copies (by the sources' roles) is judged "
                      "once, on the MES's or CMMS's copy.")


@dataclass(frozen=True)
class Rule:
    """A rule's identity and documentation; its check is registered in ``reconciliation.engine.CHECKS``."""

    id: str
    severity: str
    title: str
    description: str
    subject: str  # what an exception of this rule is about (a canonical entity, for auditors)
    tolerances: dict[str, Any] = field(default_factory=dict)
    implemented: bool = True


CATALOGUE: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "LNK-001", "error", "PO line names a work order that does not exist",
            "A purchase order line references a work order (or an operation of one) that exists in no "
            "work-order source of the same site. Money is committed against work nobody can find: the "
            "reference is mistyped, the WO was deleted, or it lives in a system threadline does not read.",
            "po_line",
        ),
        Rule(
            "LNK-002", "error", "Work order names a PO line that does not exist",
            "A work order or one of its operations references a purchase order line that no ERP source of "
            "the same site has. The work claims a purchase the books do not show.",
            "work_order, wo_operation or wo_po_link (whichever asserted the link)",
        ),
        Rule(
            "LNK-003", "error", "PO line and work order name each other but disagree",
            "A purchase order line names a work order (and operation), and the work side names PO lines "
            "too, but the two do not match: the operation the line names is paid, by its own record, with "
            "another PO line, or a work order, operation or asserted link names this line while the line "
            "names other work. One of the two references is wrong, so cost and progress land on the wrong "
            "work. A reference naming only a PO is compatible with every line of that PO.",
            "po_line",
        ),
        Rule(
            "LNK-004", "warning", "PO line still open for a closed or cancelled work order",
            "A purchase order line that is still draft or open is linked (from either side) to a work order "
            "that was closed or cancelled more than the grace period ago: an orphaned commitment. The "
            "supplier may still deliver and invoice work nobody needs; cancel or close the line. The work "
            "order ended on its closed date, else its finish date; when neither is known the line is "
            "reported, since the grace period cannot be measured." + _ON_COPY_OF_RECORD,
            "po_line",
            {"grace_days": 0},
        ),
        Rule(
            "LNK-005", "warning", "Work order closed while a linked PO line is not fully received or invoiced",
            "A work order is closed while a purchase order line linked to it (from either side), and not "
            "closed or cancelled by the buyer, has received or invoiced less than its ordered quantity "
            "(less the quantity tolerance). The work order's cost is not final: goods or an invoice are "
            "still to come, or the line should be closed short." + _ON_COPY_OF_RECORD,
            "work_order",
            {"qty_tolerance_pct": 0.0},
        ),
        Rule(
            "LNK-006", "warning", "PO line looks WO-driven but is linked to no work: suggested links",
            "A purchase order line that is not cancelled looks bought for a work order (a service or "
            "outside-processing line, a cost account charged to work, or a work-order number in its "
            "description) but no side links it to any work order or operation. Its cost is missing from the "
            "work's roll-up. Candidate work orders and operations are scored from the supplier (the "
            "operation's expected supplier, or one approved for its process), the item or service, the "
            "quantity, the dates and work-order numbers in the line's text; those at or above the threshold "
            "are suggested for a steward to confirm or reject (threadline links). A warning, not an error: "
            "which work the line is for is a judgement the evidence supports, not a contradiction.",
            "po_line",
            {"threshold": 0.6, "weight_text": 0.35, "weight_supplier": 0.25, "weight_item": 0.15,
             "weight_qty": 0.15, "weight_dates": 0.10, "date_window_days": 14, "qty_tolerance_pct": 1.0,
             "linked_op_factor": 0.5, "max_suggestions": 1,
             "wo_account_pattern": r"(?i)\b(WO|MRO|MAINT\w*|OSP|SVC|SERV\w*|REPAIR\w*)\b"},
        ),
        Rule(
            "LNK-007", "error", "Outside-processing operation bought on several PO lines",
            "An outside-processing operation is linked at operation level (the PO line naming the operation, "
            "the operation naming the line, or an asserted/confirmed link) to more PO lines that are not "
            "cancelled than its process allows (one, unless a rework loop is allowed for the process): the "
            "same outside work may be bought, received and paid twice.",
            "wo_operation",
            {"max_active_lines": 1},
        ),
        Rule(
            "OSP-001", "error", "Outside-processing operation without a PO line",
            "An outside-processing operation (heat treat, plating, NDT, ...) that is released or later has "
            "no purchase order line linked to it from either side: the supplier works without a PO, or the "
            "PO cannot be traced to the operation.",
            "wo_operation",
        ),
        Rule(
            "OSP-002", "error", "Outside-processing PO line to a supplier not approved for the process",
            "A purchase order line for an outside-processing operation goes to a supplier whose master "
            "record (of the line's site) does not list the operation's process among its approved "
            "processes: the parts are heat treated, plated or tested by a processor nobody qualified for "
            "it. A supplier no supplier master knows, or a line naming no supplier at all, is reported "
            "too. The supplier is the line's, else its PO header's; the process is the operation's, else "
            "the line's.",
            "po_line",
        ),
        Rule(
            "OSP-003", "error", "Outside-processing operation done before its parts came back",
            "An outside-processing operation is completed or closed (by its finish date), or a later "
            "operation of the same production work order has started (by its start date; the tasks of "
            "maintenance work are worked side by side), before the first receipt "
            "on the operation's PO lines, plus a grace period: the parts cannot have been back from the "
            "processor yet. Either the receipt is booked late, or the work went on without the parts. An "
            "operation done while nothing has been received is reported too.",
            "wo_operation",
            {"grace_days": 0},
        ),
        Rule(
            "OSP-004", "warning", "Outside-processing parts received but the operation not completed",
            "The parts of an outside-processing operation came back (the first receipt on one of its PO "
            "lines) more than the allowed number of days ago, and the operation is still not completed "
            "or closed: work in progress stands still, or the operation was never reported.",
            "wo_operation",
            {"days": 5},
        ),
        Rule(
            "OSP-005", "warning", "Outside-processing PO line past its need-by date without receipt",
            "A purchase order line for an outside-processing operation is past its need-by date (plus a "
            "grace period) and nothing has been received against it: the parts are still at the supplier.",
            "po_line",
            {"grace_days": 0},
        ),
        Rule(
            "OSP-006", "warning", "Received quantity differs from the operation quantity",
            "The quantity received on a purchase order line for an outside-processing operation (all its "
            "receipts added up, converted to the unit the operation counts in with the item's unit "
            "conversion, e.g. a heat treater paid per kg for parts counted in pieces) differs from the "
            "operation's quantity by more than the tolerance (a percentage of the operation quantity or "
            "an absolute quantity, whichever is larger). More is reported at once, less once nothing "
            "more is expected (line received or closed, or operation completed). The operation's "
            "quantity is its own, else its work order's. A received quantity that cannot be converted "
            "is reported as not comparable, never passed.",
            "po_line",
            {"qty_tolerance_pct": 0.0, "qty_tolerance_abs": 0.0},
        ),
        Rule(
            "OSP-007", "error", "Outside-processing receipt without a certificate of conformance",
            "A receipt of parts back from an outside processor (a receipt on a PO line linked at operation "
            "level to an outside-processing operation) records no certificate of conformance although one "
            "is required: by the supplier master (certificate_required of the line's supplier) or by the "
            "certificate_required setting, which adds requirements per process, supplier or site (for "
            "processes that always need a certificate, or an ERP that keeps no such flag) and cannot lift "
            "the supplier master's. Parts without their heat-treat, plating or NDT certificate cannot be "
            "released to the next operation or shipped.",
            "receipt",
            {"certificate_required": False},
        ),
        Rule(
            "OSP-008", "error", "Lot or serial received back differs from the one sent out",
            "A receipt on an outside-processing PO line records another lot or serial number than the "
            "work was sent out under: the operation's lot (else its work order's) and the work order's "
            "serial. A receipt recording no lot or serial where one was sent out counts as a difference, "
            "since the parts that came back cannot be shown to be the parts that went out; a work order "
            "without a lot or serial leaves the receipt unjudged. Case and outer blanks do not count. The "
            "supplier may have mixed up lots: traceability of the parts is broken.",
            "receipt",
        ),
        Rule(
            "OSP-009", "error", "Invoice without receipt, or invoiced above received",
            "A PO line is invoiced while nothing has been received against it, or invoiced for more than "
            "its received quantity plus the quantity tolerance (percent of the received quantity). The "
            "supplier bills goods or outside work the plant has not acknowledged. A service line that pays "
            "for no outside-processing operation may be received by its invoice, so an invoice without a "
            "receipt is no finding for it; once it has receipts they count as for goods. An invoiced or "
            "received quantity that cannot be told (an invoice without quantity in another currency, a "
            "receipt unit without conversion) is not compared.",
            "po_line",
            {"qty_tolerance_pct": 0.0},
        ),
        Rule(
            "CST-001", "warning", "Invoice price differs from PO price",
            "An invoice line's unit price (amount / quantity, converted from the invoice currency to the PO "
            "line's at the invoice date) differs from the PO line's unit price by more than the price "
            "tolerance (percent of the PO price), above or below. A supplier's minimum lot charge (an "
            "amount in the PO line's currency, set per supplier or process) is a price too: an invoice "
            "amounting to it, within the tolerance, for a quantity worth less than it at the PO price is "
            "accepted. Invoice lines without quantity or amount, PO lines without price and invoices whose "
            "currency cannot be converted (CST-003) are not judged.",
            "invoice_line",
            {"price_tolerance_pct": 2.0, "min_lot_charge": 0.0},
        ),
        Rule(
            "CST-003", "error", "Cost line cannot be converted; roll-up incomplete",
            "A cost line behind a work order cannot be converted to the reporting currency (no exchange "
            "rate on or before its date) or to the unit of its price (no unit-of-measure conversion), or "
            "cannot be valued at all (labour without a rate, material without a unit or standard cost, a PO "
            "line without price or quantity). The work order's roll-up is marked incomplete instead of "
            "being silently short.",
            "the cost line (labour_entry, material_issue, po_line, receipt or invoice_line)",
        ),
        Rule(
            "CST-002", "warning", "Work order cost above its estimate beyond tolerance",
            "A work order's actual cost (labour, material and outside services, each line converted to the "
            "reporting currency at the rate of its own date; commitments not yet received are not counted) "
            "exceeds its estimate (labour + material + outside estimates, converted at the rate of the work "
            "order's creation date) by more than variance_pct percent of the estimate and by more than "
            "min_variance_amount in the reporting currency. Only work orders with an estimate above zero are "
            "judged: work orders without one (most production orders) are never reported. An incomplete "
            "roll-up (CST-003) can only understate the overrun.",
            "work_order",
            {"variance_pct": 10.0, "min_variance_amount": 100.0},
        ),
        Rule(
            "CST-004", "warning", "Cost posted to a work order after it was closed",
            "A labour entry, material issue, receipt or invoice line dated more than grace_days after the "
            "closed date of a closed work order is in its cost roll-up: the figure accountants closed is "
            "restated (a late invoice, a late time booking). The evidence shows the work order's roll-up before "
            "(without the late lines) and after, and the late lines. Open commitments are not posted cost and "
            "do not count; a closed work order without a closed date cannot be judged and is not reported.",
            "work_order",
            {"grace_days": 0},
        ),
        Rule(
            "TRC-001", "error", "Work order closed without a required inspection sign-off",
            "A work order is completed or closed while it, or one of its operations, requires an "
            "inspection sign-off that was never recorded." + _ON_COPY_OF_RECORD,
            "work_order",
        ),
        Rule(
            "TRC-002", "error", "Lot- or serial-controlled item issued or received without its lot or serial",
            "Material of an item that the item master (any source) marks lot-controlled, or serial-controlled, "
            "is issued to a work order without a lot (resp. serial) number. Also a receipt of such an item on a "
            "PO line bought for a work order (the line names the work order, or a work order, operation or "
            "asserted link names the line) that records no lot (resp. serial). The part can no longer be traced "
            "from the supplier to the work it went into.",
            "material_issue or receipt",
        ),
        Rule(
            "TRC-003", "error", "Production work order in the MES without a counterpart in the ERP, or the reverse",
            "A production work order that a source with role mes holds has no production work order of the same "
            "site and number in any source with role erp, or the reverse. Only sites where both an MES and an "
            "ERP source hold production work orders are judged. Orders still planned or cancelled are not "
            "expected in the other system, and an order is given grace days from its created date (else its "
            "start date) to be interfaced; an order with neither date is reported. Work reported in one system "
            "and costed in the other is missing on one side.",
            "work_order",
            {"grace_days": 1},
        ),
        Rule(
            "TRC-004", "warning", "The same work order or PO line in two sources with conflicting attributes",
            "A work order (same site and number) or a PO line (same site, PO number and line number) is held by "
            "two sources that disagree. Work orders: status class (open, done, cancelled), kind, item, quantity "
            "beyond qty_tolerance_pct, start or finish date more than date_tolerance_days apart. PO lines: "
            "supplier, item, currency, unit price beyond price_tolerance_pct, ordered quantity beyond "
            "qty_tolerance_pct. Values one source leaves empty are not compared. Each copy is compared with "
            "the copy of record (for a work order the system that runs the work, not an ERP copy; for a PO "
            "line the ERP's); the finding is about the disagreeing copy and names every attribute in conflict.",
            "work_order or po_line (the copy that disagrees with the copy of record)",
            {"qty_tolerance_pct": 0.0, "price_tolerance_pct": 0.5, "date_tolerance_days": 1},
        ),
        Rule(
            "TRC-005", "warning", "Material bought for a work order never consumed",
            "A receipt of a positive quantity on a PO line bought as material for a work order (the line names "
            "an item, is not a service and has no outside process, and names the work order or is linked to it "
            "from the work side) is older than grace_days, and no material issue consumes it: none of the same "
            "item to that work order (same site), and none of the received lot of that item to any work order "
            "of the site. The parts may lie unused, have gone to other work untraced, or the work order's "
            "material is booked without its issue.",
            "receipt",
            {"grace_days": 30},
        ),
        Rule(
            "DQ-001", "error", "Row held back by a data-quality expectation",
            "A row failed a row-level expectation of its entity's data-quality suite (a Great Expectations "
            "suite under expectations/: keys present and unique, statuses and currencies in their sets, "
            "quantities positive, prices not negative, dates in order) and was quarantined instead of "
            "loaded. The evidence names the suite and expectation and holds the failing row as the source "
            "sent it. Fix the row in the source (the next read loads it and the exception clears), or "
            "relax the expectation in the suite file if the data is right.",
            "the quarantined row (any canonical entity)",
        ),
        Rule(
            "DQ-002", "warning", "Loaded rows break a data-quality expectation across tables",
            "A canonical row in the warehouse is returned by a query of the warehouse data-quality suite "
            "(expectations/expectations/warehouse.json, Great Expectations unexpected-rows queries): a PO "
            "line whose purchase order its source does not have, a receipt whose PO line is missing, an "
            "operation whose work order is missing. Only sources that send the parent records are judged. "
            "The row is loaded; the evidence names the expectation and holds the row.",
            "the row the query returned (po_line, receipt, wo_operation)",
        ),
    )
}

#: rules whose findings come from the data-quality suites (threadline.quality), not reconciliation.engine
DATA_QUALITY_RULES = ("DQ-001", "DQ-002")


def rule(rule_id: str) -> Rule:
    """The rule with this id; the error lists the known ids."""
    try:
        return CATALOGUE[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule id {rule_id!r}; valid: {', '.join(CATALOGUE)}") from None
