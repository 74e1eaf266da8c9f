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

import numpy as np
import pandas as pd

from reconciliation import costs, links, osp, receiving, suggest, traceability
from reconciliation.catalogue import CATALOGUE, rule
from reconciliation.exceptions import FINDING_COLUMNS, empty_findings, make_findings
from reconciliation.frames import CanonicalFrames

RuleCheck = Callable[[CanonicalFrames, "ReconcileSettings"], pd.DataFrame]

#: what a source does for the plant (threadline.yaml ``sources[].role``); rules that compare systems use it
SOURCE_ROLES = ("erp", "cmms", "mes")
#: what a tolerance override may be scoped to: the row column each selector matches
OVERRIDE_SELECTORS = {"supplier": "supplier_id", "process": "process", "site": "site"}

#: the check behind each implemented rule id; CST-003 is derived from the cost roll-up
CHECKS: dict[str, RuleCheck] = {
    "LNK-001": links.po_line_names_missing_wo,
    "LNK-002": links.wo_names_missing_po_line,
    "LNK-003": links.links_disagree,
    "LNK-004": links.open_line_of_ended_wo,
    "LNK-005": links.closed_wo_with_unsettled_line,
    "LNK-006": suggest.unlinked_wo_driven_line,
    "LNK-007": links.osp_operation_bought_twice,
    "OSP-001": osp.osp_operation_without_po_line,
    "OSP-002": osp.osp_line_supplier_not_approved,
    "OSP-003": osp.osp_operation_done_before_receipt,
    "OSP-004": osp.osp_received_operation_not_completed,
    "OSP-005": osp.osp_po_line_overdue,
    "OSP-006": osp.osp_received_qty_differs,
    "OSP-007": receiving.receipt_without_certificate,
    "OSP-008": receiving.lot_or_serial_changed,
    "OSP-009": receiving.invoiced_beyond_received,
    "CST-001": receiving.invoice_price_differs,
    "TRC-001": traceability.closed_without_sign_off,
    "CST-002": costs.cost_over_estimate,
    "CST-004": costs.cost_after_close,
    "TRC-002": traceability.controlled_item_without_lot_or_serial,
    "TRC-003": traceability.production_wo_missing_counterpart,
    "TRC-004": traceability.copies_disagree,
    "TRC-005": traceability.wo_driven_receipt_not_consumed,
}
COST_RULE = "CST-003"

#: rule-specific checks of configured tolerances beyond name and kind: (values, where, scoped) -> problems
TOLERANCE_CHECKS: dict[str, Callable[..., list[str]]] = {
    "LNK-006": suggest.tolerance_problems,
}


@dataclass(frozen=True)
class ToleranceOverride:
    """Tolerances of one rule for one supplier, process or site (or a combination of them).

    Outside processors are bought on their own terms (a heat treater's minimum lot charge, per-kg
    pricing, a plater's rework loop), so a tolerance may differ per supplier and process. Among the
    overrides matching a row the most specific wins: supplier before process before site, so
    supplier + process beats supplier, which beats process + site, which beats process.
    """

    rule: str
    tolerances: Mapping[str, Any]
    supplier: str | None = None
    process: str | None = None
    site: str | None = None

    @property
    def selectors(self) -> dict[str, str]:
        """The selectors set, by name (supplier, process, site)."""
        return {name: getattr(self, name) for name in OVERRIDE_SELECTORS if getattr(self, name) is not None}

    @property
    def specificity(self) -> int:
        """Rank among matching overrides; higher wins (see the class docstring)."""
        return 4 * (self.supplier is not None) + 2 * (self.process is not None) + (self.site is not None)

    def describe(self) -> str:
        """'supplier 1001, process heat_treat' for messages and ``threadline rules list``."""
        return ", ".join(f"{name} {value}" for name, value in self.selectors.items())


@dataclass(frozen=True)
class ReconcileSettings:
    """What the rules judge against: the as-of date, the reporting currency, tolerances, rules off.

    ``tolerances`` overrides the catalogue's defaults per rule id (``{"OSP-005": {"grace_days": 3}}``);
    ``overrides`` narrow a rule's tolerances further to a supplier, process or site
    (:class:`ToleranceOverride`). Unknown rule ids or tolerance names are refused, so a typo cannot
    switch a rule off or leave a tolerance at its default unnoticed.

    ``source_roles`` names the role of each source system (``{"mes": "mes", "jde": "erp"}``, from
    threadline.yaml's ``sources[].role``): TRC-003 pairs MES and ERP production orders by it, and a
    work order's ERP copy gives way to the copy of the system that runs the work (MES or CMMS) in
    TRC-001, TRC-004, LNK-004, LNK-005, LNK-006 and the cost roll-up. A source without a role is neither.
    """

    as_of: datetime.date
    reporting_currency: str
    tolerances: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()
    overrides: tuple[ToleranceOverride, ...] = ()
    source_roles: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        for source, role in self.source_roles.items():
            if role not in SOURCE_ROLES:
                problems.append(f"source {source!r} has role {role!r}; valid: {', '.join(SOURCE_ROLES)}")
        if not isinstance(self.reporting_currency, str) or len(self.reporting_currency.strip()) != 3:
            problems.append(f"reporting_currency {self.reporting_currency!r} is not a 3-letter currency code")
        for rule_id in sorted(set(self.disabled) | set(self.tolerances)):
            if rule_id not in CATALOGUE:
                problems.append(f"unknown rule id {rule_id!r}; valid: {', '.join(CATALOGUE)}")
        for rule_id, values in self.tolerances.items():
            problems += _unknown_tolerances(rule_id, values, f"rule {rule_id}")
            if rule_id in TOLERANCE_CHECKS:
                merged = {**CATALOGUE[rule_id].tolerances, **values}
                problems += TOLERANCE_CHECKS[rule_id](merged, f"rule {rule_id}", scoped=False)
        seen: dict[tuple, int] = {}
        for i, override in enumerate(self.overrides):
            where = f"override {i + 1} ({override.rule}{': ' + override.describe() if override.selectors else ''})"
            if override.rule not in CATALOGUE:
                problems.append(f"{where}: unknown rule id {override.rule!r}; valid: {', '.join(CATALOGUE)}")
                continue
            if not override.selectors:
                problems.append(f"{where}: name a supplier, process or site (rule-wide values go in tolerances)")
            if not override.tolerances:
                problems.append(f"{where}: sets no tolerance")
            problems += _unknown_tolerances(override.rule, override.tolerances, where)
            if override.rule in TOLERANCE_CHECKS:
                problems += TOLERANCE_CHECKS[override.rule](override.tolerances, where, scoped=True)
            scope = (override.rule, tuple(sorted(override.selectors.items())))
            if scope in seen:
                problems.append(f"{where}: the same scope as override {seen[scope] + 1}; merge the two")
            seen.setdefault(scope, i)
        if problems:
            raise ValueError("reconcile settings: " + "; ".join(problems))
        object.__setattr__(self, "disabled", frozenset(self.disabled))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        object.__setattr__(self, "source_roles", dict(self.source_roles))

    def sources_with_role(self, role: str) -> list[str]:
        """The source systems that have ``role`` (erp, cmms or mes)."""
        return sorted(source for source, r in self.source_roles.items() if r == role)

    def tolerance(self, rule_id: str, name: str) -> Any:
        """The tolerance ``name`` of a rule: the configured value, else the catalogue default."""
        configured = self.tolerances.get(rule_id, {})
        if name in configured:
            return configured[name]
        return rule(rule_id).tolerances[name]

    def tolerance_for(self, rule_id: str, name: str, rows: pd.DataFrame) -> pd.Series:
        """The tolerance ``name`` of a rule for each row, with supplier/process/site overrides applied.

        A row matches an override when its ``supplier_id``, ``process`` and ``site`` columns equal
        every selector the override sets (a selector whose column ``rows`` lacks never matches). Rows
        no override matches get :meth:`tolerance`. The result is aligned with ``rows``.
        """
        default = self.tolerance(rule_id, name)
        values = pd.Series([default] * len(rows), index=rows.index, dtype=object)
        relevant = [o for o in self.overrides if o.rule == rule_id and name in o.tolerances]
        # least specific first, so a more specific override writes over it
        for override in sorted(relevant, key=lambda o: o.specificity):
            hit = np.ones(len(rows), dtype=bool)
            for selector, value in override.selectors.items():
                column = OVERRIDE_SELECTORS[selector]
                if column not in rows:
                    hit[:] = False
                    break
                hit &= (rows[column] == value).fillna(False).to_numpy(dtype=bool)
            if hit.any():
                values[hit] = override.tolerances[name]
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            return pd.to_numeric(values).astype("float64")
        return values

    def enabled(self, rule_id: str) -> bool:
        """Whether the rule runs in this reconcile."""
        return rule_id not in self.disabled


def _unknown_tolerances(rule_id: str, values: Mapping[str, Any], where: str) -> list[str]:
    """Problems with tolerance names a rule does not have, or values of the wrong kind."""
    if rule_id not in CATALOGUE:
        return []
    known = CATALOGUE[rule_id].tolerances
    problems = []
    for name, value in values.items():
        if name not in known:
            problems.append(f"{where} has no tolerance {name!r}; valid: {', '.join(known) or 'none'}")
            continue
        default = known[name]
        numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
        if numeric and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append(f"{where}: tolerance {name} must be a number, not {value!r}")
        elif isinstance(default, bool) and not isinstance(value, bool):
            problems.append(f"{where}: tolerance {name} must be true or false, not {value!r}")
    return problems


@dataclass
class ReconcileResult:
    """What one reconcile found: findings, the roll-up at every grain, the cost lines behind it and
    the drill-down pairs (roll-up row, cost line)."""

    findings: pd.DataFrame
    rollup: pd.DataFrame
    cost_lines: pd.DataFrame
    drilldown: pd.DataFrame
    #: the links LNK-006 suggests (``reconciliation.suggest.SUGGESTION_COLUMNS``), to publish as wo_po_link rows
    suggestions: pd.DataFrame = field(default_factory=suggest.empty_suggestions)

    @property
    def wo_rollup(self) -> pd.DataFrame:
        """The roll-up rows of the work-order grain."""
        return self.rollup[(self.rollup["grain"] == "wo").to_numpy()].reset_index(drop=True)


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
    cost_rollup = costs.cost_rollup_of(data, reporting, settings.sources_with_role("erp"))
    if settings.enabled(COST_RULE):
        parts.append(make_findings(COST_RULE, costs.unconvertible_lines(cost_rollup, data, reporting)))
    findings = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else empty_findings()
    findings = findings.sort_values(
        ["rule_id", "site", "subject_entity", "subject_source_system", "subject_source_key"], kind="stable"
    ).reset_index(drop=True)[list(FINDING_COLUMNS)]
    suggestions = getattr(data, "suggested_links", None)
    return ReconcileResult(findings=findings, rollup=cost_rollup.rollup, cost_lines=cost_rollup.cost_lines,
                           drilldown=cost_rollup.drilldown,
                           suggestions=suggestions if suggestions is not None else suggest.empty_suggestions())
