"""The cost export for accountants: the roll-up as XLSX (a sheet per grain plus the drill-down) or CSV.

Each grain (operation, wo, asset, item, site, cost_centre, supplier, month) gets its own sheet or
CSV file with the key columns of that grain and every figure in the reporting currency; the
``drilldown`` sheet pairs each roll-up row with the cost lines behind it (source system and key,
date, source amount and currency, the rate used, the converted amount or the problem).

The figures are those of one run's roll-up: the current one (``is_current``) unless a run id is
given. A sheet holds at most ``XLSX_MAX_ROWS`` rows; a longer grain continues on sheets named
"wo (2)", "wo (3)"... so nothing is cut off.

XLSX is written with XlsxWriter in constant-memory mode (rows stream to temporary files, so a
million rows need no million-row object tree) and every cell through its typed writer: text a
source wrote, such as "=HYPERLINK(...)", stays text and never becomes a formula. CSV cells that a
spreadsheet would run as a formula are quoted the same way as in the gap report.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from threadline.errors import FatalError
from threadline.reports.gap import csv_safe
from threadline.warehouse import schema
from threadline.warehouse.store import Warehouse

GRAINS = ("operation", "wo", "asset", "item", "site", "cost_centre", "supplier", "month")
#: key and descriptive columns each grain's sheet shows, before the figures
GRAIN_KEYS: dict[str, tuple[str, ...]] = {
    "operation": ("site", "wo_number", "op_seq", "kind", "status", "wo_source_system", "wo_source_key"),
    "wo": ("site", "wo_number", "kind", "status", "closed_date", "wo_source_system", "wo_source_key"),
    "asset": ("site", "asset_id", "parent_asset_id"),
    "item": ("site", "item_number"),
    "site": ("site",),
    "cost_centre": ("site", "cost_centre"),
    "supplier": ("site", "supplier_id"),
    "month": ("site", "month"),
}
MONEY_COLUMNS = ("labour_cost", "material_cost", "outside_cost", "committed_cost", "actual_cost", "estimate_cost",
                 "variance", "previous_actual_cost")
FIGURE_COLUMNS = ("currency", *MONEY_COLUMNS[:7], "variance_pct", "work_orders", "estimated_work_orders",
                  "cost_lines", "incomplete", "unconverted_lines", "previous_actual_cost", "restated")
TRAILING_COLUMNS = ("run_id", "as_of", "rollup_row_id")
LINE_COLUMNS = ("cost_type", "line_site", "line_wo_number", "line_op_seq", "entity", "source_system", "source_key",
                "line_date", "amount_source", "currency_source", "fx_rate", "amount", "converted", "problem",
                "line_supplier_id", "line_id")
DRILLDOWN_COLUMNS = ("grain", "rollup_key", "rollup_row_id", *LINE_COLUMNS)
DRILLDOWN_SHEET = "drilldown"
#: rows of data a worksheet holds below its header (Excel's limit is 1,048,576 rows in all)
XLSX_MAX_ROWS = 1_048_575

_MONEY_FORMAT = "#,##0.00"
_RATE_FORMAT = "0.000000"
_PERCENT_FORMAT = '#,##0.0" %"'  # variance_pct is already in percent
_COUNT_FORMAT = "#,##0"
_DATE_FORMAT = "yyyy-mm-dd"
_COUNT_COLUMNS = ("work_orders", "estimated_work_orders", "cost_lines", "unconverted_lines")


class NoRollupError(FatalError):
    """The warehouse holds no roll-up (of the run asked for)."""


@dataclass
class CostExport:
    """One run's roll-up split by grain, and its drill-down (both as read from the warehouse)."""

    run_id: str
    as_of: date | None
    grains: dict[str, pd.DataFrame]
    drilldown: pd.DataFrame | None

    def sheets(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """(name, frame) of every sheet in order: the grains, then the drill-down when it was read."""
        yield from self.grains.items()
        if self.drilldown is not None:
            yield DRILLDOWN_SHEET, self.drilldown


def _raw_frame(conn, query) -> pd.DataFrame:
    """Run a select as plain SQL: values come as the driver gives them, without SQLAlchemy's per-value
    result processing (dates stay ISO text on SQLite and are converted column-wise afterwards)."""
    compiled = query.compile(dialect=conn.dialect)
    params = compiled.params
    args = tuple(params[name] for name in compiled.positiontup) if compiled.positional else params
    result = conn.exec_driver_sql(str(compiled), args)
    return pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys()))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("as_of", "closed_date", "line_date"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], errors="coerce")
    for column in ("incomplete", "restated", "converted"):
        if column in frame and frame[column].notna().all():
            frame[column] = frame[column].astype(bool)
    return frame


def read_cost_export(warehouse: Warehouse, *, run_id: str | None = None, drilldown: bool = True) -> CostExport:
    """Read one run's roll-up (the current one by default) and, unless told not to, its drill-down lines.

    Each grain is read on its own with only its columns, so a million rows stay a few hundred MB.
    Raises :class:`NoRollupError` naming the run when there is nothing to export.
    """
    table = schema.cost_rollup
    which = table.c.run_id == run_id if run_id else table.c.is_current.is_(True)
    grains = {}
    with warehouse.engine.connect() as conn:
        for grain in GRAINS:
            columns = [*GRAIN_KEYS[grain], *FIGURE_COLUMNS, *TRAILING_COLUMNS]
            query = select(*(table.c[c] for c in columns)).where(table.c.grain == grain, which).order_by(
                *(table.c[c] for c in GRAIN_KEYS[grain][:3]))
            grains[grain] = _typed(_raw_frame(conn, query))
    if not any(len(frame) for frame in grains.values()):
        raise NoRollupError(f"the warehouse holds no cost roll-up of run {run_id}: pick a run that reconciled "
                            f"from `threadline runs list`" if run_id else
                            "the warehouse holds no cost roll-up yet: run `threadline run` first")
    first = next(frame for frame in grains.values() if len(frame))
    as_of = first["as_of"].dropna()
    export_run = str(first["run_id"].iloc[0])
    return CostExport(run_id=export_run, as_of=as_of.iloc[0].date() if len(as_of) else None, grains=grains,
                      drilldown=_read_drilldown(warehouse, export_run) if drilldown else None)


def _read_drilldown(warehouse: Warehouse, run_id: str) -> pd.DataFrame:
    """The cost lines behind every roll-up row of the run, with the row's grain and key beside them."""
    pairs, line, table = schema.cost_drilldown, schema.cost_line, schema.cost_rollup
    # row and line ids start with the run id and a dot, so a prefix range picks one run's pairs on the index
    query = (select(pairs.c.rollup_row_id, line.c.cost_type, line.c.site.label("line_site"),
                    line.c.wo_number.label("line_wo_number"), line.c.op_seq.label("line_op_seq"), line.c.entity,
                    line.c.source_system, line.c.source_key, line.c.line_date, line.c.amount_source,
                    line.c.currency_source, line.c.fx_rate, line.c.amount, line.c.converted, line.c.problem,
                    line.c.supplier_id.label("line_supplier_id"), line.c.line_id)
             .join(line, line.c.line_id == pairs.c.line_id)
             .where(pairs.c.rollup_row_id >= run_id + ".", pairs.c.rollup_row_id < run_id + "/"))
    with warehouse.engine.connect() as conn:
        frame = _typed(_raw_frame(conn, query))
        keys = _raw_frame(conn, select(table.c.rollup_row_id, table.c.grain, table.c.rollup_key)
                          .where(table.c.run_id == run_id))
    frame = frame.merge(keys, on="rollup_row_id", how="left", validate="many_to_one")
    order = pd.Categorical(frame["grain"], categories=GRAINS, ordered=True)
    frame = frame.assign(_grain=order).sort_values(["_grain", "rollup_key", "line_id"], kind="stable")
    return frame[list(DRILLDOWN_COLUMNS)].reset_index(drop=True)


# ------------------------------------------------------------------ XLSX

def _column_format(name: str) -> str | None:
    if name in MONEY_COLUMNS or name in ("amount", "amount_source"):
        return _MONEY_FORMAT
    if name == "fx_rate":
        return _RATE_FORMAT
    if name == "variance_pct":
        return _PERCENT_FORMAT
    if name in _COUNT_COLUMNS:
        return _COUNT_FORMAT
    if name in ("as_of", "closed_date", "line_date"):
        return _DATE_FORMAT
    return None


def _column_width(name: str, values: pd.Series) -> float:
    """A width that fits the header and, for text, the longest of the first thousand values."""
    width = len(name) + 2
    if name in MONEY_COLUMNS or name in ("amount", "amount_source"):
        return max(width, 14)
    if name in ("as_of", "closed_date", "line_date"):
        return max(width, 11)
    sample = values.head(1000).dropna()
    if len(sample) and (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
        width = max(width, int(sample.astype(str).str.len().max()) + 2)
    return min(width, 60)


def _cell_columns(frame: pd.DataFrame) -> list[tuple[str, list[Any]]]:
    """Each column as a Python list of cell values and its kind: text, number, bool or date (None = empty)."""
    out = []
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            cells = [None if pd.isna(v) else v for v in values.dt.to_pydatetime().tolist()]
            out.append(("date", cells))
        elif pd.api.types.is_bool_dtype(values.dtype):
            out.append(("bool", values.tolist()))
        elif pd.api.types.is_numeric_dtype(values.dtype):
            numbers = values.to_numpy(dtype="float64", na_value=np.nan)
            cells = numbers.tolist()
            if np.isnan(numbers).any():
                cells = [None if c != c else c for c in cells]
            out.append(("number", cells))
        else:
            missing = pd.isna(values).to_numpy()
            cells = values.astype(object).to_numpy()
            if missing.any():
                cells = cells.copy()
                cells[missing] = None
            kind = "bool" if len(values) and all(isinstance(v, (bool, np.bool_)) for v in cells[~missing][:100]) \
                and (~missing).any() else "text"
            out.append((kind, [str(c) if kind == "text" and c is not None else c for c in cells.tolist()]))
    return out


def write_costs_xlsx(export: CostExport, target: str | Path | IO[bytes]) -> None:
    """Write the export as one workbook: a sheet per grain, then the drill-down.

    Each sheet has a bold, shaded header row frozen above the data, money as ``#,##0.00``, rates,
    percentages and dates formatted, and column widths set from the header and the values.
    """
    import xlsxwriter

    workbook = xlsxwriter.Workbook(target if not isinstance(target, Path) else str(target), {
        "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
        "strings_to_numbers": False})
    header = workbook.add_format({"bold": True, "bg_color": "#DCE6F1", "bottom": 1, "text_wrap": True,
                                  "valign": "top"})
    formats = {code: workbook.add_format({"num_format": code}) for code in
               (_MONEY_FORMAT, _RATE_FORMAT, _PERCENT_FORMAT, _COUNT_FORMAT, _DATE_FORMAT)}
    try:
        for name, frame in export.sheets():
            pieces = max(1, -(-len(frame) // XLSX_MAX_ROWS))
            for piece in range(pieces):
                part = frame.iloc[piece * XLSX_MAX_ROWS:(piece + 1) * XLSX_MAX_ROWS]
                _write_sheet(workbook, name if piece == 0 else f"{name} ({piece + 1})", part, header, formats)
    finally:
        workbook.close()


def _write_sheet(workbook, name: str, frame: pd.DataFrame, header, formats: dict[str, Any]) -> None:
    sheet = workbook.add_worksheet(name)
    sheet.freeze_panes(1, 0)
    for col, column in enumerate(frame.columns):
        code = _column_format(column)
        sheet.set_column(col, col, _column_width(column, frame[column]), formats[code] if code else None)
        sheet.write_string(0, col, column, header)
    if len(frame):
        sheet.autofilter(0, 0, len(frame), len(frame.columns) - 1)
    date_format = formats[_DATE_FORMAT]
    writers = []
    for kind, cells in _cell_columns(frame):
        if kind == "number":
            writers.append((sheet.write_number, cells, None))
        elif kind == "bool":
            writers.append((sheet.write_boolean, cells, None))
        elif kind == "date":
            writers.append((sheet.write_datetime, cells, date_format))
        else:
            writers.append((sheet.write_string, cells, None))
    # constant-memory mode takes rows in order, so the cells are written row by row
    for row in range(len(frame)):
        excel_row = row + 1
        for col, (write, cells, cell_format) in enumerate(writers):
            value = cells[row]
            if value is not None:
                if cell_format is None:
                    write(excel_row, col, value)
                else:
                    write(excel_row, col, value, cell_format)


def costs_xlsx(warehouse: Warehouse, *, run_id: str | None = None, drilldown: bool = True) -> bytes:
    """The cost export as XLSX bytes (for a download); see :func:`write_costs_xlsx`."""
    buffer = io.BytesIO()
    write_costs_xlsx(read_cost_export(warehouse, run_id=run_id, drilldown=drilldown), buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------ CSV

def _csv_text(frame: pd.DataFrame) -> str:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column].dtype):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return csv_safe(out).to_csv(index=False, lineterminator="\n")


def csv_file_name(sheet: str) -> str:
    """The CSV file of a sheet: ``costs_wo.csv``, ``costs_drilldown.csv``..."""
    return f"costs_{sheet}.csv"


def write_costs_csv(export: CostExport, out_dir: Path) -> list[Path]:
    """Write one CSV file per grain (and the drill-down) into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in export.sheets():
        path = out_dir / csv_file_name(name)
        path.write_text(_csv_text(frame), encoding="utf-8")
        paths.append(path)
    return paths


def write_costs_zip(export: CostExport, target: str | Path | IO[bytes]) -> None:
    """Write the CSV files of :func:`write_costs_csv` into one zip archive."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, frame in export.sheets():
            archive.writestr(csv_file_name(name), _csv_text(frame))


def costs_csv_zip(warehouse: Warehouse, *, run_id: str | None = None, drilldown: bool = True) -> bytes:
    """The cost export as a zip of CSV files, one per grain plus the drill-down (for a download)."""
    buffer = io.BytesIO()
    write_costs_zip(read_cost_export(warehouse, run_id=run_id, drilldown=drilldown), buffer)
    return buffer.getvalue()


def export_name(export: CostExport) -> str:
    """A file name stem for the export: ``costs_<run id>``."""
    return f"costs_{export.run_id}"

