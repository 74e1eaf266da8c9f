"""Benchmark: what the data-quality suites (Great Expectations) cost.

1. The PO line suite on ``--rows`` canonical PO lines (JD Edwards-like rows from ``bench/mapping.py``
   mapped through the shipped F4311 spec; 1 in 1,000 with a negative price, quarantined), validated
   in one batch the way the pipeline does it (``BatchValidator.validate``: the whole suite, once,
   result format COMPLETE); beside it the model's own checks as pandas masks
   (``threadline.validate.validate_batch``) and GX with result format BOOLEAN_ONLY. Medians of
   ``--repeat`` runs, reported per 1,000,000 rows.
2. With ``--demo``: the demo pipeline (``run_pipeline`` over a freshly built landscape of
   ``--demo-scale`` work orders), each in a fresh process so that importing GX counts, with the
   shipped suites and with none.

    .venv/bin/python bench/gx.py
    .venv/bin/python bench/gx.py --rows 1000000 --repeat 3 --demo --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))


def canonical_po_lines(rows: int):
    """``rows`` canonical PO lines, as the validate stage receives them from the mapping."""
    import numpy as np

    from mapping import SPECS, source_rows
    from mappings.engine import map_batch
    from mappings.spec import load_spec

    mapped = map_batch(load_spec(SPECS["f4311"]), source_rows(rows), source_system="jde", run_id="bench",
                       extracted_at=datetime(2026, 6, 30)).mapped
    # the bench rows' currencies are written as a legacy system might ("usd"); the F4311 spec keeps them
    mapped["currency"] = mapped["currency"].str.upper()
    negative = np.arange(len(mapped)) % 1000 == 7
    mapped.loc[negative, "unit_price"] = -mapped.loc[negative, "unit_price"]
    return mapped


def _median_seconds(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def suite_figures(rows: int, repeat: int) -> dict:
    from mappings.canonical import entity
    from threadline.quality import SHIPPED_EXPECTATIONS, BatchValidator, _ephemeral_context, _gx_suite, load_suites
    from threadline.validate import validate_batch

    frame = canonical_po_lines(rows)
    suites = load_suites(SHIPPED_EXPECTATIONS)
    validator = BatchValidator(suites)
    outcome = validator.validate("po_line", frame, source="jde", stream="po_lines", batch_no=1)  # warm-up
    per_million = 1_000_000 / len(frame)
    masks = _median_seconds(lambda: validate_batch(entity("po_line"), frame), repeat)
    complete = _median_seconds(
        lambda: validator.validate("po_line", frame, source="jde", stream="po_lines", batch_no=1), repeat)

    context = _ephemeral_context(None)
    batch = context.data_sources.add_pandas("bench").add_dataframe_asset("po_line") \
        .add_batch_definition_whole_dataframe("all")
    suite = _gx_suite(suites["po_line"])
    boolean = _median_seconds(lambda: batch.get_batch(batch_parameters={"dataframe": frame}).validate(
        suite, result_format={"result_format": "BOOLEAN_ONLY"}), repeat)
    return {
        "rows": len(frame), "expectations": len(suites["po_line"].expectations),
        "quarantined": len(outcome.quarantined),
        "seconds_per_million": {"model_checks_pandas_masks": round(masks * per_million, 3),
                                "gx_suite_pipeline_complete": round(complete * per_million, 3),
                                "gx_suite_boolean_only": round(boolean * per_million, 3)},
    }


_DEMO_RUN = """
import json, os, sys, time
from pathlib import Path
started = time.perf_counter()
from threadline.config import load_config
from threadline.demo.landscape import build_landscape
from threadline.pipeline import run_pipeline
out, scale, suites = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
landscape = build_landscape(out, scale=scale)
os.environ.update(landscape.env)
config = load_config(landscape.config_path)
if suites == "none":
    (out / "no_suites" / "expectations").mkdir(parents=True)
    config.expectations_dir = out / "no_suites"
built = time.perf_counter()
with landscape.start_erp_service():
    result = run_pipeline(config)
done = time.perf_counter()
validate = sum(s.seconds_validate for s in result.streams)
print(json.dumps({"status": result.status, "pipeline_seconds": done - built, "process_seconds": done - started,
                  "validate_seconds": validate, "dq_findings": result.findings_by_rule.get("DQ-001", 0)}))
"""


def demo_figures(scale: int, repeat: int) -> dict:
    figures = {}
    for suites in ("shipped", "none"):
        runs = []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as folder:
                done = subprocess.run([sys.executable, "-c", _DEMO_RUN, folder, str(scale), suites], cwd=REPO,
                                      capture_output=True, text=True, check=True)
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        figures[suites] = {key: round(statistics.median(r[key] for r in runs), 2)
                           for key in ("pipeline_seconds", "process_seconds", "validate_seconds")}
        figures[suites]["dq_findings"] = runs[0]["dq_findings"]
    figures["added_seconds"] = round(figures["shipped"]["process_seconds"] - figures["none"]["process_seconds"], 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--demo", action="store_true", help="also time the demo pipeline with and without suites")
    parser.add_argument("--demo-scale", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures = {"po_line_suite": suite_figures(args.rows, args.repeat)}
    if args.demo:
        figures["demo"] = demo_figures(args.demo_scale, args.repeat)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
