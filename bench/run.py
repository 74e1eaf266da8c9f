"""Benchmark: the demo landscape end to end at one or more scales.

Prints rows/s per stage (extract, map, validate, load per stream; reconcile and publish for the
run) and peak memory, and writes the figures as JSON. Each scale runs in its own process so that
peak memory is that scale's.

    .venv/bin/python bench/run.py --scale 10000 --scale 100000
    .venv/bin/python bench/run.py --scale 10000 --warehouse-url postgresql+psycopg2://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(scale: int, out: Path, warehouse_url: str | None) -> dict:
    """Build the landscape at ``scale`` WOs, run the pipeline once, return the figures."""
    from threadline.config import load_config
    from threadline.demo.landscape import build_landscape
    from threadline.pipeline import run_pipeline

    if out.exists():
        shutil.rmtree(out)  # a warehouse left from an earlier run would make this an incremental run
    started = time.perf_counter()
    landscape = build_landscape(out, scale=scale)
    build_seconds = time.perf_counter() - started
    os.environ.update(landscape.env)
    config = load_config(landscape.config_path)
    if warehouse_url:
        config.warehouse.url = warehouse_url
    with landscape.start_erp_service():
        started = time.perf_counter()
        result = run_pipeline(config, command="bench")
        run_seconds = time.perf_counter() - started
    streams = []
    for s in result.streams:
        streams.append({
            "stream": f"{s.source}.{s.stream}", "rows": s.rows_read,
            "extract_rows_per_s": s.rows_read / s.seconds_extract if s.seconds_extract else None,
            "map_rows_per_s": s.rows_read / s.seconds_map if s.seconds_map else None,
            "validate_rows_per_s": s.rows_mapped / s.seconds_validate if s.seconds_validate else None,
            "load_rows_per_s": s.rows_loaded / s.seconds_load if s.seconds_load else None,
            "seconds": s.seconds_extract + s.seconds_map + s.seconds_validate + s.seconds_load,
        })
    total_rows = sum(s.rows_read for s in result.streams)
    stage_seconds = {stage: sum(getattr(s, f"seconds_{stage}") for s in result.streams)
                     for stage in ("extract", "map", "validate", "load")}
    return {
        "scale_work_orders": scale,
        "warehouse": config.warehouse.url.split("://")[0],
        "status": result.status,
        "build_landscape_seconds": round(build_seconds, 2),
        "run_seconds": round(run_seconds, 2),
        "rows_extracted": total_rows,
        "rows_per_s_end_to_end": round(total_rows / run_seconds),
        "rows_per_s_by_stage": {k: round(total_rows / v) if v else None for k, v in stage_seconds.items()},
        "seconds_by_stage": {**{k: round(v, 2) for k, v in stage_seconds.items()},
                             **{k: round(v, 2) for k, v in result.seconds.items()}},
        "findings": result.findings_by_rule,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "streams": streams,
    }


def print_figures(figures: dict) -> None:
    print(f"\n== {figures['scale_work_orders']:,} work orders, {figures['warehouse']} warehouse: "
          f"{figures['status']}")
    print(f"build landscape {figures['build_landscape_seconds']} s; pipeline {figures['run_seconds']} s for "
          f"{figures['rows_extracted']:,} source rows ({figures['rows_per_s_end_to_end']:,} rows/s end to end); "
          f"peak RSS {figures['peak_rss_mb']:,} MB")
    print("rows/s by stage (all streams): " + ", ".join(
        f"{k} {v:,}" for k, v in figures["rows_per_s_by_stage"].items() if v))
    print("seconds by stage: " + ", ".join(f"{k} {v}" for k, v in figures["seconds_by_stage"].items()))
    print(f"{'stream':<34}{'rows':>10}{'extract/s':>12}{'map/s':>12}{'validate/s':>12}{'load/s':>12}")
    for s in figures["streams"]:
        cells = [f"{v:>12,.0f}" if v else f"{'-':>12}" for v in
                 (s["extract_rows_per_s"], s["map_rows_per_s"], s["validate_rows_per_s"], s["load_rows_per_s"])]
        print(f"{s['stream']:<34}{s['rows']:>10,}" + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, action="append", help="work orders (repeatable); default 10000")
    parser.add_argument("--out", type=Path, default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--warehouse-url", default=None, help="warehouse URL instead of the demo's SQLite file")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()
    scales = args.scale or [10_000]

    if args.one:
        print(json.dumps(measure(scales[0], args.out, args.warehouse_url)))
        return
    results = []
    for scale in scales:
        out = (args.out or Path(tempfile.mkdtemp(prefix="threadline-bench-"))) / f"scale-{scale}"
        command = [sys.executable, __file__, "--one", "--scale", str(scale), "--out", str(out)]
        if args.warehouse_url:
            command += ["--warehouse-url", args.warehouse_url]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0:
            sys.exit(f"scale {scale} failed:\n{completed.stderr[-4000:]}")
        figures = json.loads(completed.stdout.strip().splitlines()[-1])
        print_figures(figures)
        results.append(figures)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
