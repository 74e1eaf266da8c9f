"""The auditor's gap report: one self-contained HTML page and a CSV of the same exceptions.

The HTML groups the exceptions by rule (id, title, description and severity from the catalogue),
shows counts by rule and site, each gap with its keys, summary, status and evidence, and the ten
work orders with the highest actual cost. It has no external assets, so it can be mailed, archived
and printed as it is. Everything a source said is escaped (Jinja2 autoescaping is on).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from reconciliation.catalogue import CATALOGUE, SEVERITIES
from reconciliation.exceptions import FINDING_COLUMNS
from threadline.errors import FatalError

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


def _event_rows(events: pd.DataFrame | None) -> dict[str, list[dict[str, str]]]:
    """Each exception's events, oldest first, as report text."""
    if events is None or events.empty:
        return {}
    ordered = events.sort_values(["exception_id", "at", "event_id"] if "event_id" in events else ["exception_id", "at"],
                                 kind="stable")
    out: dict[str, list[dict[str, str]]] = {}
    for e in ordered.itertuples(index=False):
        action = getattr(e, "action", None)
        out.setdefault(e.exception_id, []).append({
            "at": _cell(e.at), "actor": _cell(e.actor), "action": _cell(action) or "run",
            "move": (_cell(e.to_status) if e.from_status == e.to_status
                     else f"{_cell(e.from_status) or '(new)'} -> {_cell(e.to_status)}"),
            "reason": _cell(e.reason), "run_id": _cell(e.run_id)})
    return out


def _rule_groups(exceptions: pd.DataFrame, events: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    history = _event_rows(events)
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
                "status_now": _cell(getattr(row, "status_now", None)),
                "waiver": (f"{_cell(getattr(row, 'waiver_justification', None))} (until "
                           f"{_cell(getattr(row, 'waiver_until', None))})"
                           if _cell(getattr(row, "waiver_justification", None)) else ""),
                "events": history.get(row.exception_id, []),
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


def _ordered(exceptions: pd.DataFrame) -> pd.DataFrame:
    """Errors before warnings, then by rule, site and keys."""
    return exceptions.assign(_rank=exceptions["severity"].map(_severity_rank)).sort_values(
        ["_rank", "rule_id", "site", "wo_number", "po_number", "line_number", "subject_source_key"],
        na_position="last", kind="stable").drop(columns="_rank")


def gap_csv_text(exceptions: pd.DataFrame) -> str:
    """The CSV of the gap report: one row per exception, the exception columns first, formulas defused."""
    _require(exceptions, EXCEPTION_COLUMNS, "exceptions")
    ordered = _ordered(exceptions)
    extra = [c for c in ordered.columns if c not in EXCEPTION_COLUMNS]
    return csv_safe(ordered[[*EXCEPTION_COLUMNS, *extra]]).to_csv(index=False, lineterminator="\n")


def gap_html_text(exceptions: pd.DataFrame, rollup: pd.DataFrame, *, run: Mapping[str, Any],
                  events: pd.DataFrame | None = None, period: Mapping[str, Any] | None = None,
                  data_docs: list[tuple[str, str]] | None = None) -> str:
    """The HTML of the gap report (see :func:`write_gap_report`).

    With ``events`` (rows of ``tl_exception_event``) every gap shows its history; with ``period``
    (from :func:`period_summary`) the page shows the period, the counts by rule for it and the trend;
    ``data_docs`` lists (label, href) links to Great Expectations Data Docs shown in the heading.
    """
    _require(exceptions, EXCEPTION_COLUMNS, "exceptions")
    _require(rollup, ROLLUP_COLUMNS, "roll-up")
    sites, site_rows = _counts_by_site(exceptions) if len(exceptions) else ([], [])
    severity_counts = {s: int((exceptions["severity"] == s).sum()) for s in SEVERITIES}
    run_time = next((run[k] for k in ("finished_at", "started_at", "time", "as_of") if run.get(k) is not None), None)
    return _environment().get_template("gap_report.html").render(
        run_id=_cell(run.get("run_id")) or "(no run id)",
        run_time=_cell(run_time),
        run_items=[(str(k), _cell(v)) for k, v in run.items()],
        generated_at=datetime.now(timezone.utc).isoformat(sep=" ", timespec="seconds"),
        total=len(exceptions),
        severity_counts=severity_counts,
        status_counts=exceptions["status"].fillna("open").astype(str).value_counts().sort_index().to_dict(),
        rules=_rule_groups(exceptions, events) if len(exceptions) else [],
        sites=sites,
        site_rows=site_rows,
        top_work_orders=_top_work_orders(rollup),
        work_order_count=len(rollup),
        incomplete_count=int(rollup["incomplete"].fillna(False).astype(bool).sum()),
        period=period,
        data_docs=data_docs or [],
    )


def _links(pages: Mapping[str, Path], out_dir: Path) -> list[tuple[str, str]]:
    """(label, href relative to the report) for each page that exists."""
    return [(label, Path(os.path.relpath(page, out_dir)).as_posix()) for label, page in pages.items()
            if Path(page).is_file()]


def write_gap_report(
    exceptions: pd.DataFrame, rollup: pd.DataFrame, *, run: Mapping[str, Any], out_dir: Path,
    events: pd.DataFrame | None = None, data_docs: Mapping[str, Path] | None = None,
) -> dict[str, Path]:
    """Write ``gap_report.html`` and ``gap_report.csv`` into ``out_dir`` and return their paths.

    ``exceptions`` is the published exception table (the findings columns plus ``status``,
    ``first_seen_at`` and ``last_seen_at``), one CSV row per exception. ``rollup`` is the per-WO
    roll-up; its ten highest actual costs are shown. ``run`` describes the run the report comes from
    (``run_id`` and a time such as ``finished_at`` or ``started_at`` are shown in the heading; every
    entry is listed). With ``events`` each gap shows its history. ``data_docs`` names Great
    Expectations Data Docs index pages by label; those that exist are linked from the heading.
    """
    out_dir = Path(out_dir)
    html = gap_html_text(exceptions, rollup, run=run, events=events, data_docs=_links(data_docs or {}, out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / CSV_NAME
    csv_path.write_text(gap_csv_text(exceptions), encoding="utf-8")
    html_path = out_dir / HTML_NAME
    html_path.write_text(html, encoding="utf-8")
    return {"html": html_path, "csv": csv_path}


# ------------------------------------------------------------------ the report for a period, from the warehouse

#: statuses of a gap that stands (not resolved) at a point in time
STANDING = ("open", "acknowledged", "waived")
DEFAULT_TREND_PERIODS = 6


class PeriodError(FatalError):
    """A report period that cannot be read or is empty."""


@dataclass(frozen=True)
class Period:
    """A report period: ``start`` to ``end``, both days included."""

    start: date
    end: date

    @property
    def label(self) -> str:
        if self.start.day == 1 and (self.end + timedelta(days=1)).day == 1 and \
                (self.start.year, self.start.month) == (self.end.year, self.end.month):
            return f"{self.start:%Y-%m}"
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def _month_end(day: date) -> date:
    return (pd.Timestamp(day) + pd.offsets.MonthEnd(0)).date()


def parse_period(period: str | None = None, start: date | None = None, end: date | None = None, *,
                 today: date | None = None) -> Period:
    """The period of ``--period YYYY-MM`` (a month) or ``YYYY`` (a year), or of ``--from``/``--to``.

    Without any, the current month up to today. ``--to`` alone runs from the first of its month;
    ``--from`` alone runs to today. Raises :class:`PeriodError` saying what is wrong.
    """
    today = today or datetime.now(timezone.utc).date()
    if period and (start or end):
        raise PeriodError("give either --period or --from/--to, not both")
    if period:
        text = period.strip()
        try:
            if len(text) == 4:
                year = int(text)
                return Period(date(year, 1, 1), date(year, 12, 31))
            first = datetime.strptime(text, "%Y-%m").date()
        except ValueError:
            raise PeriodError(f"period {period!r} is not a month (YYYY-MM, e.g. 2026-06) or a year (YYYY)") from None
        return Period(first, _month_end(first))
    end = end or today
    start = start or end.replace(day=1)
    if start > end:
        raise PeriodError(f"the period starts ({start.isoformat()}) after it ends ({end.isoformat()})")
    return Period(start, end)


def status_at(events: pd.DataFrame, moment: pd.Timestamp) -> pd.Series:
    """Each exception's status just before ``moment``, from its events (exception id -> status).

    An exception with no event before ``moment`` did not exist yet and is left out.
    """
    before = events.loc[pd.to_datetime(events["at"]) < moment]
    if before.empty:
        return pd.Series(dtype=object)
    order = ["at", "event_id"] if "event_id" in before else ["at"]
    return before.sort_values(order, kind="stable").groupby("exception_id")["to_status"].last()


def period_summary(exceptions: pd.DataFrame, events: pd.DataFrame, period: Period, *,
                   trend_periods: int = DEFAULT_TREND_PERIODS) -> dict[str, Any]:
    """Counts by rule for the period and the trend of standing gaps at the end of each month before it.

    For each rule (and in total): gaps standing at the period's end (open or acknowledged, and
    waived), found new in the period, resolved in it; and, for the ``trend_periods`` months ending
    with the period's last month, the gaps standing at each month's end.
    """
    end_moment = pd.Timestamp(period.end) + pd.Timedelta(days=1)
    start_moment = pd.Timestamp(period.start)
    at = pd.to_datetime(events["at"]) if len(events) else pd.Series(dtype="datetime64[ns]")
    in_period = events.loc[(at >= start_moment) & (at < end_moment)] if len(events) else events
    rule_of = exceptions.set_index("exception_id")["rule_id"]
    status_end = status_at(events, end_moment) if len(events) else pd.Series(dtype=object)

    def per_rule(ids: pd.Index | pd.Series) -> pd.Series:
        return rule_of.reindex(pd.Index(ids).unique()).dropna().value_counts()

    standing = per_rule(status_end.index[status_end.isin(["open", "acknowledged"])])
    waived = per_rule(status_end.index[status_end.eq("waived")])
    new = per_rule(in_period.loc[in_period["from_status"].isna(), "exception_id"]) if len(in_period) else pd.Series()
    resolved = per_rule(in_period.loc[in_period["to_status"].eq("resolved") & in_period["from_status"].ne("resolved"),
                                      "exception_id"]) if len(in_period) else pd.Series(dtype=int)

    months = [(pd.Timestamp(period.end).to_period("M") - k) for k in range(max(trend_periods, 1) - 1, -1, -1)]
    trend_counts = []
    for month in months:
        moment = min(month.end_time.normalize() + pd.Timedelta(days=1), end_moment)
        statuses = status_at(events, moment) if len(events) else pd.Series(dtype=object)
        trend_counts.append(per_rule(statuses.index[statuses.isin(STANDING)]))
    rule_ids = sorted(set(rule_of) & (set(standing.index) | set(waived.index) | set(new.index)
                                      | set(resolved.index) | {r for t in trend_counts for r in t.index}),
                      key=lambda r: (_severity_rank(CATALOGUE[r].severity) if r in CATALOGUE else 9, r))
    rows = [{"rule_id": r, "title": CATALOGUE[r].title if r in CATALOGUE else r,
             "severity": CATALOGUE[r].severity if r in CATALOGUE else "",
             "standing": int(standing.get(r, 0)), "waived": int(waived.get(r, 0)), "new": int(new.get(r, 0)),
             "resolved": int(resolved.get(r, 0)), "trend": [int(t.get(r, 0)) for t in trend_counts]}
            for r in rule_ids]
    totals = {k: sum(row[k] for row in rows) for k in ("standing", "waived", "new", "resolved")}
    totals["trend"] = [sum(row["trend"][i] for row in rows) for i in range(len(months))]
    return {"label": period.label, "start": period.start.isoformat(), "end": period.end.isoformat(),
            "months": [str(m) for m in months], "rows": rows, "totals": totals}


@dataclass
class GapReport:
    """What the period's gap report shows: its gaps (standing at the end), their events, the summary."""

    period: Period
    site: str | None
    exceptions: pd.DataFrame
    events: pd.DataFrame
    rollup: pd.DataFrame
    summary: dict[str, Any]
    run: dict[str, Any]


def read_gap_report(warehouse, period: Period, *, site: str | None = None,
                    trend_periods: int = DEFAULT_TREND_PERIODS) -> GapReport:
    """Read the gap report of ``period`` (and ``site``) from the warehouse.

    Its gaps are the exceptions standing at the period's end (open, acknowledged or waived then,
    by their event history), each with its status now, evidence and every event up to now.
    """
    from sqlalchemy import select

    from threadline.warehouse import schema

    table, event_table, rollup_table, run_table = (schema.exception, schema.exception_event, schema.cost_rollup,
                                                   schema.run)
    where = [table.c.site == site] if site else []
    with warehouse.engine.connect() as conn:
        exceptions = pd.read_sql(select(table).where(*where), conn)
        events = pd.read_sql(select(event_table).where(event_table.c.exception_id.in_(
            select(table.c.exception_id).where(*where))) if site else select(event_table), conn)
        rollup = pd.read_sql(select(rollup_table).where(rollup_table.c.is_current.is_(True),
                                                        rollup_table.c.grain == "wo",
                                                        *([rollup_table.c.site == site] if site else [])), conn)
        last_run = pd.read_sql(select(run_table.c.run_id, run_table.c.finished_at).where(
            run_table.c.status == "succeeded", run_table.c.finished_at < pd.Timestamp(period.end)
            + pd.Timedelta(days=1)).order_by(run_table.c.finished_at.desc()).limit(1), conn)
    summary = period_summary(exceptions, events, period, trend_periods=trend_periods)
    status_end = status_at(events, pd.Timestamp(period.end) + pd.Timedelta(days=1)) if len(events) else \
        pd.Series(dtype=object)
    standing = status_end.index[status_end.isin(STANDING)]
    listed = exceptions.loc[exceptions["exception_id"].isin(standing)].copy()
    listed["status_now"] = listed["status"]
    listed["status"] = listed["exception_id"].map(status_end)
    run = {"period": period.label, "site": site or "all sites",
           "last run in the period": _cell(last_run["run_id"].iloc[0]) if len(last_run) else "(none)",
           "finished_at": last_run["finished_at"].iloc[0] if len(last_run) else None}
    return GapReport(period, site, listed, events.loc[events["exception_id"].isin(standing)], rollup, summary, run)


def gap_report_html(warehouse, period: Period, *, site: str | None = None,
                    trend_periods: int = DEFAULT_TREND_PERIODS) -> str:
    """The period's gap report as one self-contained HTML page (for a download or a file)."""
    report = read_gap_report(warehouse, period, site=site, trend_periods=trend_periods)
    return gap_html_text(report.exceptions, report.rollup, run=report.run, events=report.events,
                         period=report.summary)


def gap_report_csv(warehouse, period: Period, *, site: str | None = None) -> str:
    """The period's gaps as CSV: one row per gap standing at the period's end (``status`` then) with
    ``status_now``, its evidence, and its events as one text column."""
    report = read_gap_report(warehouse, period, site=site, trend_periods=1)
    frame = report.exceptions
    history = _event_rows(report.events)
    frame = frame.assign(events=[" | ".join(f"{e['at']} {e['actor']} {e['action']} {e['move']}"
                                            + (f": {e['reason']}" if e["reason"] else "") for e in history.get(i, []))
                                 for i in frame["exception_id"]])
    return gap_csv_text(frame)


def gap_file_stem(period: Period, site: str | None) -> str:
    """``gap_report_<period>[_<site>]`` for files of the period's report."""
    label = period.label.replace(" to ", "_")
    safe_site = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in site) if site else ""
    return f"gap_report_{label}" + (f"_{safe_site}" if safe_site else "")
