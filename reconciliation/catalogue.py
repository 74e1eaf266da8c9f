"""The rule catalogue: id, severity, what an auditor reads, and default tolerances.

Ids are stable; an exception's id is derived from its rule id, so never renumber a rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "info")


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
            "OSP-001", "error", "Outside-processing operation without a PO line",
            "An outside-processing operation (heat treat, plating, NDT, ...) that is released or later has "
            "no purchase order line linked to it from either side: the supplier works without a PO, or the "
            "PO cannot be traced to the operation.",
            "wo_operation",
        ),
        Rule(
            "OSP-005", "warning", "Outside-processing PO line past its need-by date without receipt",
            "A purchase order line for an outside-processing operation is past its need-by date (plus a "
            "grace period) and nothing has been received against it: the parts are still at the supplier.",
            "po_line",
            {"grace_days": 0},
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
            "TRC-001", "error", "Work order closed without a required inspection sign-off",
            "A work order is completed or closed while it, or one of its operations, requires an "
            "inspection sign-off that was never recorded.",
            "work_order",
        ),
    )
}


def rule(rule_id: str) -> Rule:
    """The rule with this id; the error lists the known ids."""
    try:
        return CATALOGUE[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule id {rule_id!r}; valid: {', '.join(CATALOGUE)}") from None
