"""Benchmark: mapping throughput of ``mappings.engine.map_batch`` on JD Edwards-like PO lines.

Builds ``--rows`` F4311-like rows in memory (padded CHAR codes, implied decimals, Julian dates,
zero-filled work order numbers, 1 in 1,000 rows with a bad date to quarantine), then maps them in
batches of ``--batch-size`` with each spec, in a fresh process per spec, and prints rows/s and the
peak RSS of that process (which holds the source table too). Specs:

- ``five``: ``bench/specs/po_lines_five_transforms.yaml`` (strip_padding, implied_decimals,
  jde_julian_date, code_map, currency_code);
- ``f4311``: the shipped ``mappings/specs/demo_jde/F4311.yaml`` (twelve transforms over 19 fields).

    .venv/bin/python bench/mapping.py
    .venv/bin/python bench/mapping.py --rows 1000000 --batch-size 50000 --repeat 3 --json out.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPECS = {"five": REPO / "bench" / "specs" / "po_lines_five_transforms.yaml",
         "f4311": REPO / "mappings" / "specs" / "demo_jde" / "F4311.yaml"}


def source_rows(n: int, seed: int = 5):
    """``n`` F4311-like rows as the pandas frame the pipeline maps (``pyarrow.Table.to_pandas``)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    order = 4000 + np.arange(n) // 4
    line = (np.arange(n) % 4 + 1) * 1000
    julian = 126000 + rng.integers(1, 365, size=n)
    julian[rng.random(n) < 0.001] = 126399  # day 399: not a date, quarantined
    wo = rng.integers(10000, 99999, size=n)

    def text(values) -> pa.Array:
        return pa.array(np.asarray(values, dtype=object), pa.string())

    table = pa.table({
        "PDKCOO": text(np.full(n, "00001")), "PDDOCO": pa.array(order), "PDDCTO": text(np.full(n, "OP")),
        "PDSFXO": text(np.full(n, "000")), "PDLNID": pa.array(line),
        "PDMCU": text(np.char.rjust(rng.choice(["P100", "P110"], size=n), 12)),
        "PDLITM": text(np.char.ljust(np.char.add("ITEM-", (rng.integers(1, 5000, size=n)).astype(str)), 25)),
        "PDDSC1": text(np.char.ljust(np.char.add("Part ", rng.integers(1, 5000, size=n).astype(str)), 30)),
        "PDLNTY": text(rng.choice(["S ", "J ", "OP"], size=n)),
        "PDUORG": pa.array(rng.integers(100, 100000, size=n)), "PDUREC": pa.array(rng.integers(0, 100000, size=n)),
        "PDUOM": text(rng.choice(["EA", "KG", "M "], size=n)), "PDPRRC": pa.array(rng.integers(1000, 9999999, size=n)),
        "PDCRCD": text(rng.choice(["USD", "EUR", "usd"], size=n)), "PDPDDJ": pa.array(julian),
        "PDRORN": text(np.char.ljust(np.char.zfill(wo.astype(str), 8), 8)),
        "PDRLLN": pa.array(rng.choice([0, 1000, 2000], size=n)),
        "PDANI": text(np.char.ljust(np.char.add("4100.", rng.integers(10, 99, size=n).astype(str)), 29)),
        "PDAN8": pa.array(rng.integers(20000, 20100, size=n)),
        "PDLTTR": text(rng.choice(["220", "400", "999", "980"], size=n)),
    })
    return table.to_pandas()  # as the pipeline hands a batch to the mapping


def measure(spec_name: str, rows: int, batch_size: int) -> dict:
    """Map ``rows`` rows with one spec in batches; runs in its own process (see ``main``)."""
    from mappings.engine import map_batch
    from mappings.spec import load_spec

    spec = load_spec(SPECS[spec_name])
    frame = source_rows(rows)
    started = time.perf_counter()
    mapped = quarantined = 0
    for first in range(0, rows, batch_size):
        result = map_batch(spec, frame.iloc[first:first + batch_size], source_system="jde", run_id="bench",
                           extracted_at=datetime(2026, 11, 22))
        mapped += len(result.mapped)
        quarantined += len(result.quarantined)
    seconds = time.perf_counter() - started
    return {"spec": spec_name, "rows": rows, "batch_size": batch_size, "seconds": round(seconds, 3),
            "rows_per_second": round(rows / seconds), "mapped": mapped, "quarantined": quarantined,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per spec; the fastest counts")
    parser.add_argument("--spec", action="append", choices=sorted(SPECS), help="default: all")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.rows, args.batch_size)))
        return
    results = []
    for name in args.spec or sorted(SPECS):
        runs = []
        for _ in range(args.repeat):
            done = subprocess.run([sys.executable, __file__, "--child", name, "--rows", str(args.rows),
                                   "--batch-size", str(args.batch_size)], capture_output=True, text=True,
                                  check=True, cwd=REPO)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        best = min(runs, key=lambda r: r["seconds"])
        results.append(best)
        print(f"{name:6s} {best['rows']:>10,} rows  batch {best['batch_size']:>7,}  {best['seconds']:7.2f} s  "
              f"{best['rows_per_second']:>10,} rows/s  mapped {best['mapped']:,}  quarantined "
              f"{best['quarantined']:,}  peak RSS {best['peak_rss_mb']:,} MB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
