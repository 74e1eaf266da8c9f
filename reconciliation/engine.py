"""Run the rule catalogue and the cost roll-up over one set of canonical frames.

``reconcile`` is the whole reconcile stage: it reads the canonical frames (one per entity), runs
every enabled rule and the work-order cost roll-up, and returns the findings (one row per offending
subject per rule, with a stable exception id), the roll-up and the cost lines behind it. It reads
nothing and writes nothing else; publishing is the caller's job.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from reconciliation import costs, links, osp, traceability
from reconciliation.catalogue import CATALOGUE, rule
from reconciliation.exceptions import FINDING_COLUMNS, empty_findings, make_findings
from reconciliation.frames import CanonicalFrames

RuleCheck = Callable[[CanonicalFrames, "ReconcileSettings"], pd.DataFrame]

#: the check behind each implemented rule id; CST-003 is derived from the cost roll-up
CHECKS: dict[str, RuleCheck] = {
    "LNK-001": links.po_line_names_missing_wo,
    "LNK-002": links.wo_names_missing_po_line,
    "LNK-003": links.links_disagree,
    "LNK-004": links.open_line_of_ended_wo,
    "LNK-005": links.closed_wo_with_unsettled_line,
    "LNK-007": links.osp_operation_bought_twice,
    "OSP-001": osp.osp_operation_without_po_line,
    "OSP-005": osp.osp_po_line_overdue,
    "TRC-001": traceability.closed_without_sign_off,
}
COST_RULE = "CST-003"


@dataclass(frozen=True)
class ReconcileSettings:
    """What the rules judge against: the as-of date, the reporting currency, tolerances, rules off.

    ``tolerances`` overrides the catalogue's defaults per rule id (``{"OSP-005": {"grace_days": 3}}``).
    Unknown rule ids or tolerance names are refused, so a typo cannot switch a rule off or leave a
    tolerance at its default unnoticed.
    """

    as_of: datetime.date
    reporting_currency: str
    tolerances: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.reporting_currency, str) or len(self.reporting_currency.strip()) != 3:
            problems.append(f"reporting_currency {self.reporting_currency!r} is not a 3-letter currency code")
        for rule_id in sorted(set(self.disabled) | set(self.tolerances)):
            if rule_id not in CATALOGUE:
                problems.append(f"unknown rule id {rule_id!r}; valid: {', '.join(CATALOGUE)}")
        for rule_id, values in self.tolerances.items():
            if rule_id in CATALOGUE:
                known = CATALOGUE[rule_id].tolerances
                for name in values:
                    if name not in known:
                        valid = ", ".join(known) or "none"
                        problems.append(f"rule {rule_id} has no tolerance {name!r}; valid: {valid}")
        if problems:
            raise ValueError("reconcile settings: " + "; ".join(problems))
        object.__setattr__(self, "disabled", frozenset(self.disabled))

    def tolerance(self, rule_id: str, name: str) -> Any:
        """The tolerance ``name`` of a rule: the configured value, else the catalogue default."""
        configured = self.tolerances.get(rule_id, {})
        if name in configured:
            return configured[name]
        return rule(rule_id).tolerances[name]

    def enabled(self, rule_id: str) -> bool:
        """Whether the rule runs in this reconcile."""
        return rule_id not in self.disabled


@dataclass
class ReconcileResult:
    """What one reconcile found: findings, the per-WO roll-up and the cost lines behind it."""

    findings: pd.DataFrame
    rollup: pd.DataFrame
    cost_lines: pd.DataFrame


def reconcile(frames: Mapping[str, pd.DataFrame], settings: ReconcileSettings) -> ReconcileResult:
    """Run every enabled rule and the cost roll-up over the canonical frames.

    ``frames`` maps canonical entity names to DataFrames; a missing entity counts as empty. Findings
    are sorted by rule, site and subject; disabled rules produce none. The roll-up is computed
    whatever rules are disabled, since its figures do not depend on them.
    """
    data = CanonicalFrames(frames)
    reporting = settings.reporting_currency.strip().upper()
    parts = []
    for rule_id, check in CHECKS.items():
        if settings.enabled(rule_id):
            parts.append(make_findings(rule_id, check(data, settings)))
    cost_rollup = costs.roll_up(data, reporting)
    if settings.enabled(COST_RULE):
        parts.append(make_findings(COST_RULE, costs.unconvertible_lines(cost_rollup, data, reporting)))
    findings = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else empty_findings()
    findings = findings.sort_values(
        ["rule_id", "site", "subject_entity", "subject_source_system", "subject_source_key"], kind="stable"
    ).reset_index(drop=True)[list(FINDING_COLUMNS)]
    return ReconcileResult(findings=findings, rollup=cost_rollup.rollup, cost_lines=cost_rollup.cost_lines)
