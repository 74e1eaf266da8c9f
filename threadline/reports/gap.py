"""The auditor's gap report: one self-contained HTML page and a CSV of the same exceptions.

The HTML groups the exceptions by rule (id, title, description and severity from the catalogue),
shows counts by rule and site, each gap with its keys, summary, status and evidence, and the ten
work orders with the highest actual cost. It has no external assets, so it can be mailed, archived
and printed as it is. Everything a source said is escaped (Jinja2 autoescaping is on).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from reconciliation.catalogue import CATALOGUE, SEVERITIES
from reconciliation.exceptions import FINDING_COLUMNS

TEMPLATES = Path(__file__).resolve().parent / "templates"
HTML_NAME = "gap_report.html"
CSV_NAME = "gap_report.csv"
EXCEPTION_COLUMNS = (*FINDING_COLUMNS, "status", "first_seen_at", "last_seen_at")
ROLLUP_COLUMNS = ("site", "wo_number", "kind", "status", "currency", "labour_cost", "material_cost", "outside_cost",
                  "committed_cost", "actual_cost", "estimate_cost", "variance", "variance_pct", "incomplete")
TOP_WORK_ORDERS = 10
#: a cell starting with one of these is a formula to a spreadsheet; such text from a source is quoted
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"gap report: the {what} frame lacks the column(s) {', '.join(missing)}; "
            f"it needs {', '.join(columns)} (pass the published exception table and the WO roll-up)"
        )


def _cell(value: Any) -> str:
    """A value as report text: NA empty, dates and times in ISO form, the rest as written."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def _money(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{value:,.2f}"


def _pretty_evidence(evidence: Any) -> str:
    text = _cell(evidence)
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _rule_groups(exceptions: pd.DataFrame) -> list[dict[str, Any]]:
    groups = []
    for rule_id, rows in exceptions.groupby("rule_id", sort=True):
        known = CATALOGUE.get(rule_id)
        severity = known.severity if known else _cell(rows["severity"].iloc[0])
        rows = rows.sort_values(["site", "wo_number", "po_number", "line_number", "subject_source_key"], na_position="last")
        gaps = []
        for row in rows.itertuples(index=False):
            keys = [(label, _cell(getattr(row, column))) for label, column in
                    (("site", "site"), ("WO", "wo_number"), ("op", "op_seq"), ("PO", "po_number"), ("line", "line_number"))]
            gaps.append({
                "exception_id": _cell(row.exception_id),
                "key_parts": [(label, value) for label, value in keys if value],
                "subject": f"{_cell(row.subject_entity)} {_cell(row.subject_source_key)} ({_cell(row.subject_source_system)})",
                "summary": _cell(row.summary),
                "status": _cell(row.status) or "open",
                "first_seen_at": _cell(row.first_seen_at),
                "last_seen_at": _cell(row.last_seen_at),
                "evidence": _pretty_evidence(row.evidence),
            })
        groups.append({
            "id": rule_id,
            "title": known.title if known else rule_id,
            "description": known.description if known else "",
            "severity": severity,
            "count": len(gaps),
            "gaps": gaps,
        })
    groups.sort(key=lambda g: (_severity_rank(g["severity"]), g["id"]))
    return groups


def _counts_by_site(exceptions: pd.DataFrame) -> tuple[list[str], list[dict[str, Any]]]:
    sites = sorted(exceptions["site"].fillna("(no site)").astype(str).unique())
    table = exceptions.assign(site=exceptions["site"].fillna("(no site)").astype(str)).pivot_table(
        index="rule_id", columns="site", values="exception_id", aggfunc="count", fill_value=0)
    rows = [{"rule_id": rule_id, "counts": [int(table.at[rule_id, s]) if s in table.columns else 0 for s in sites],
             "total": int(table.loc[rule_id].sum())} for rule_id in table.index]
    return sites, rows


def _top_work_orders(rollup: pd.DataFrame) -> list[dict[str, Any]]:
    top = rollup.sort_values(["actual_cost", "site", "wo_number"], ascending=[False, True, True], na_position="last")
    out = []
    for row in top.head(TOP_WORK_ORDERS).itertuples(index=False):
        out.append({
            "site": _cell(row.site), "wo_number": _cell(row.wo_number), "kind": _cell(row.kind),
            "status": _cell(row.status), "currency": _cell(row.currency),
            "labour": _money(row.labour_cost), "material": _money(row.material_cost),
            "outside": _money(row.outside_cost), "committed": _money(row.committed_cost),
            "actual": _money(row.actual_cost), "estimate": _money(row.estimate_cost),
            "variance": _money(row.variance),
            "variance_pct": "" if pd.isna(row.variance_pct) else f"{row.variance_pct:,.1f} %",
            "incomplete": bool(row.incomplete),
        })
    return out


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Quote text a spreadsheet would run as a formula (CSV injection); numbers stay as they are."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if not (pd.api.types.is_string_dtype(values.dtype) or values.dtype == object):
            continue
        text = values.map(_cell)
        risky = text.str.startswith(_FORMULA_START) & pd.to_numeric(text, errors="coerce").isna()
        safe[column] = text.where(~risky, "'" + text)
    return safe


def write_gap_report(
    exceptions: pd.DataFrame, rollup: pd.DataFrame, *, run: Mapping[str, Any], out_dir: Path
) -> dict[str, Path]:
    """Write ``gap_report.html`` and ``gap_report.csv`` into ``out_dir`` and return their paths.

    ``exceptions`` is the published exception table (the findings columns plus ``status``,
    ``first_seen_at`` and ``last_seen_at``), one CSV row per exception. ``rollup`` is the per-WO
    roll-up; its ten highest actual costs are shown. ``run`` describes the run the report comes from
    (``run_id`` and a time such as ``finished_at`` or ``started_at`` are shown in the heading; every
    entry is listed).
    """
    _require(exceptions, EXCEPTION_COLUMNS, "exceptions")
    _require(rollup, ROLLUP_COLUMNS, "roll-up")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    ordered = exceptions.assign(_rank=exceptions["severity"].map(_severity_rank)).sort_values(
        ["_rank", "rule_id", "site", "wo_number", "po_number", "line_number", "subject_source_key"],
        na_position="last", kind="stable").drop(columns="_rank")
    extra = [c for c in ordered.columns if c not in EXCEPTION_COLUMNS]
    csv_path = out_dir / CSV_NAME
    csv_safe(ordered[[*EXCEPTION_COLUMNS, *extra]]).to_csv(csv_path, index=False, encoding="utf-8")

    sites, site_rows = _counts_by_site(exceptions) if len(exceptions) else ([], [])
    severity_counts = {s: int((exceptions["severity"] == s).sum()) for s in SEVERITIES}
    run_time = next((run[k] for k in ("finished_at", "started_at", "time", "as_of") if run.get(k) is not None), None)
    html = _environment().get_template("gap_report.html").render(
        run_id=_cell(run.get("run_id")) or "(no run id)",
        run_time=_cell(run_time),
        run_items=[(str(k), _cell(v)) for k, v in run.items()],
        generated_at=datetime.now(timezone.utc).isoformat(sep=" ", timespec="seconds"),
        total=len(exceptions),
        severity_counts=severity_counts,
        status_counts=exceptions["status"].fillna("open").astype(str).value_counts().sort_index().to_dict(),
        rules=_rule_groups(exceptions) if len(exceptions) else [],
        sites=sites,
        site_rows=site_rows,
        top_work_orders=_top_work_orders(rollup),
        work_order_count=len(rollup),
        incomplete_count=int(rollup["incomplete"].fillna(False).astype(bool).sum()),
    )
    html_path = out_dir / HTML_NAME
    html_path.write_text(html, encoding="utf-8")
    return {"html": html_path, "csv": csv_path}
