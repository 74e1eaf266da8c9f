"""Benchmark: the cost export (XLSX and CSV) at the demo's scale and at about a million roll-up rows.

1. The demo landscape (``--demo-scale`` work orders, default 1,000) is built and run once; then the
   export is read from its warehouse and written as XLSX (with the drill-down) and as CSV files.
2. ``--rows`` roll-up rows (default 1,000,000), spread over the grains as in a plant (operations and
   work orders most of them), are written into a SQLite warehouse as one run's current roll-up; the
   export is read back and written as XLSX and CSV without the drill-down (its pairs would be several
   million rows: an accountant drills into them in the CSV or the warehouse, not in one workbook).
   With ``--openpyxl`` the same sheets are also written with openpyxl's write-only mode, the
   alternative library, for comparison.

Prints seconds, rows/s and the peak memory of each step.

    .venv/bin/python bench/cost_export.py
    .venv/bin/python bench/cost_export.py --rows 200000 --openpyxl --skip-demo
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: share of the roll-up rows per grain in a plant (operations ~3 per work order; few sites)
_GRAIN_SHARE = {"operation": 0.62, "wo": 0.25, "asset": 0.05, "item": 0.03, "site": 0.0, "cost_centre": 0.01,
                "supplier": 0.02, "month": 0.02}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, rows: int, do) -> float:
    started = time.perf_counter()
    do()
    seconds = time.perf_counter() - started
    print(f"  {label:<42} {seconds:8.2f} s  {rows / seconds:>11,.0f} rows/s  peak {peak_mb():,.0f} MB", flush=True)
    return seconds


def synthetic_rollup(rows: int, run_id: str):
    """``rows`` roll-up rows of one run, keyed per grain as the roll-up keys them."""
    import numpy as np
    import pandas as pd

    from reconciliation.costs import ROLLUP_COLUMNS
    from threadline.publish import rollup_keys

    rng = np.random.default_rng(5)
    counts = {g: max(2, int(rows * share)) for g, share in _GRAIN_SHARE.items()}
    grain = np.repeat(list(counts), list(counts.values()))
    n = len(grain)
    seq = np.arange(n)
    wo = (100000 + seq // 3).astype(str)
    text = {
        "site": np.where(seq % 2 == 0, "NORTH", "SOUTH"),
        "wo_number": np.where(np.isin(grain, ["operation", "wo"]), wo, None),
        "op_seq": np.where(grain == "operation", ((seq % 3 + 1) * 10).astype(str), None),
        "asset_id": np.where(grain == "asset", np.char.add("A-", seq.astype(str)), None),
        "item_number": np.where(grain == "item", np.char.add("FG-", seq.astype(str)), None),
        "cost_centre": np.where(grain == "cost_centre", np.char.add("CC-", seq.astype(str)), None),
        "supplier_id": np.where(grain == "supplier", np.char.add("S-", seq.astype(str)), None),
        "month": np.where(grain == "month", np.char.add("2026-", (seq % 12 + 1).astype(str)), None),
        "wo_source_system": np.where(np.isin(grain, ["operation", "wo"]), "maximo", None),
        "wo_source_key": np.where(np.isin(grain, ["operation", "wo"]), np.char.add("NTH|", wo), None),
        "kind": np.where(np.isin(grain, ["operation", "wo"]), "maintenance", None),
        "status": np.where(np.isin(grain, ["operation", "wo"]), "closed", None),
    }
    labour, material, outside = (rng.gamma(2, 400, n).round(2) for _ in range(3))
    actual = labour + material + outside
    estimate = (actual * rng.uniform(0.8, 1.3, n)).round(2)
    frame = pd.DataFrame({
        "rollup_row_id": seq, "grain": grain, **{k: v for k, v in text.items()}, "parent_asset_id": None,
        "closed_date": pd.Timestamp("2026-05-31"), "currency": "USD", "labour_cost": labour,
        "material_cost": material, "outside_cost": outside, "committed_cost": 0.0, "actual_cost": actual,
        "estimate_cost": estimate, "variance": actual - estimate, "variance_pct": (actual - estimate) / estimate * 100,
        "work_orders": 1, "estimated_work_orders": 1, "cost_lines": rng.integers(1, 12, n), "incomplete": False,
        "unconverted_lines": 0,
    })[list(ROLLUP_COLUMNS)]
    frame["rollup_key"] = rollup_keys(frame)
    return frame


def write_synthetic_warehouse(url: str, rows: int) -> None:
    """Put ``rows`` synthetic roll-up rows into the warehouse as run BENCH's current roll-up."""
    from datetime import date

    import pandas as pd

    from threadline.warehouse import schema
    from threadline.warehouse.store import insert_rows, open_warehouse, utcnow

    warehouse = open_warehouse(url)
    frame = synthetic_rollup(rows, "BENCH").assign(
        run_id="BENCH", as_of=pd.Timestamp(date(2026, 6, 30)), computed_at=utcnow(), is_current=True,
        previous_actual_cost=float("nan"), restated=False)
    frame["rollup_row_id"] = "BENCH." + frame["rollup_row_id"].astype(str)
    with warehouse.engine.begin() as conn:
        insert_rows(conn, schema.cost_rollup, frame[[c.name for c in schema.cost_rollup.columns]])
    warehouse.dispose()


def write_openpyxl(export, path: Path) -> None:
    """The same sheets through openpyxl's write-only mode (header bold, money formatted), for comparison."""
    import math

    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = openpyxl.Workbook(write_only=True)
    for name, frame in export.sheets():
        sheet = book.create_sheet(name)
        sheet.freeze_panes = "A2"
        header = []
        for column in frame.columns:
            cell = WriteOnlyCell(sheet, value=column)
            cell.font = Font(bold=True)
            header.append(cell)
        sheet.append(header)
        columns = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in frame.columns]
        for row in zip(*columns):
            sheet.append([None if isinstance(v, float) and math.isnan(v) else v for v in row])
    book.save(path)


def bench_export(label: str, url: str, out: Path, *, drilldown: bool, openpyxl_too: bool) -> None:
    from threadline.reports.costs import read_cost_export, write_costs_csv, write_costs_xlsx
    from threadline.warehouse.store import open_warehouse

    warehouse = open_warehouse(url, migrate=False)
    holder = {}
    started = time.perf_counter()
    holder["export"] = read_cost_export(warehouse, drilldown=drilldown)
    export = holder["export"]
    sheet_rows = {name: len(frame) for name, frame in export.sheets()}
    rollup_rows = sum(len(f) for f in export.grains.values())
    total = sum(sheet_rows.values())
    print(f"{label}: {rollup_rows:,} roll-up rows, {total - rollup_rows:,} drill-down rows "
          f"({', '.join(f'{k} {v:,}' for k, v in sheet_rows.items())})")
    seconds = time.perf_counter() - started
    print(f"  {'read from the warehouse':<42} {seconds:8.2f} s  {total / seconds:>11,.0f} rows/s  "
          f"peak {peak_mb():,.0f} MB", flush=True)
    timed("XLSX (XlsxWriter, constant memory)", total, lambda: write_costs_xlsx(export, out / "costs.xlsx"))
    print(f"  {'':<42} {(out / 'costs.xlsx').stat().st_size / 1e6:8.1f} MB file")
    timed("CSV files", total, lambda: write_costs_csv(export, out / "csv"))
    if openpyxl_too:
        timed("XLSX (openpyxl, write-only)", total, lambda: write_openpyxl(export, out / "costs-openpyxl.xlsx"))
    warehouse.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-scale", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--openpyxl", action="store_true", help="also write the XLSX with openpyxl")
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tl-bench-costs-") as tmp:
        tmp = Path(tmp)
        if not args.skip_demo:
            import os

            from threadline.config import load_config
            from threadline.demo.landscape import build_landscape
            from threadline.pipeline import run_pipeline

            landscape = build_landscape(tmp / "demo", scale=args.demo_scale)
            os.environ.update(landscape.env)
            config = load_config(landscape.config_path)
            with landscape.start_erp_service():
                result = run_pipeline(config, command="bench")
            assert result.status == "succeeded", result.error
            (tmp / "demo-out").mkdir()
            bench_export(f"demo landscape, {args.demo_scale:,} work orders", config.warehouse.resolved_url(),
                         tmp / "demo-out", drilldown=True, openpyxl_too=args.openpyxl)
        if args.rows:
            url = f"sqlite:///{tmp / 'synthetic.sqlite'}"
            started = time.perf_counter()
            write_synthetic_warehouse(url, args.rows)
            print(f"(synthetic roll-up written to SQLite in {time.perf_counter() - started:.1f} s)")
            (tmp / "synthetic-out").mkdir()
            bench_export(f"synthetic roll-up, {args.rows:,} rows", url, tmp / "synthetic-out", drilldown=False,
                         openpyxl_too=args.openpyxl)


if __name__ == "__main__":
    main()
