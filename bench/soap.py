"""Benchmark: SOAP extraction of PO lines from the demo's legacy ERP, zeep against the fast path.

Builds a demo landscape big enough for ``--lines`` PO lines, serves its legacy ERP web service
from this process, and reads the ``po_lines`` stream once per parser, each in its own process (so
peak memory is that parser's and the service does not share its interpreter). The read goes
through ``prefetch`` as in a pipeline run, so it includes HTTP and the service's time. Also times
the response parsing alone on the same response bytes, without HTTP or the service. Prints lines/s
and peak memory (and its growth during the measured part: the parse-only runs hold every
response in memory first), the ratios (the goal: the fast path over HTTP at ``GOAL_RATIO`` times
zeep's parse-only lines/s), and writes the figures as JSON with ``--json``.

    .venv/bin/python bench/soap.py                      # 100,000 PO lines
    .venv/bin/python bench/soap.py --lines 20000 --page-size 500 --json /tmp/soap.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: PO lines the demo plant makes per work order of scale, measured; the build is sized from it
LINES_PER_SCALE = 0.42
PARSERS = ("zeep", "fast")
#: the fast path's extraction over HTTP must reach this many times zeep's parse-only lines/s
GOAL_RATIO = 4.0


def _peak_mb() -> float:
    """This process's peak resident memory in MB.

    VmHWM rather than ru_maxrss: Linux carries ru_maxrss over exec from the forking parent, which
    here holds the whole demo landscape.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warm_up() -> None:
    """Pay pyarrow's first-use cost (it imports pandas) before any clock starts."""
    from connectors.records import dicts_to_table

    dicts_to_table([{"number": 1, "text": "x"}])


def _source(config_path: Path):
    from connectors.soap import SoapConnector
    from threadline.config import load_config

    config = load_config(config_path, check_specs=False)
    source = config.source("erp_soap")
    connector = SoapConnector("erp_soap", config.connection_settings(source))
    stream = next(s for s in config.stream_settings(source) if s.name == "po_lines")
    return connector, stream


def extract(config_path: Path, parser: str, lines: int, page_size: int) -> dict:
    """Read at least ``lines`` PO lines through the connector with ``parser``; figures as a dict.

    The read is wrapped in ``prefetch`` as the pipeline wraps it, so this is what a run gets.
    """
    from connectors.records import prefetch

    connector, stream = _source(config_path)
    stream = stream.model_copy(update={"parser": parser, "paging": stream.paging.model_copy(
        update={"page_size": page_size})})
    connector._client_service()  # the WSDL load is set-up, not extraction
    _warm_up()
    before = _peak_mb()
    read, batches = 0, 0
    started, cpu_started = time.perf_counter(), time.process_time()
    tables = prefetch(connector.read(stream, None), connector.prefetch_depth(stream))
    for table in tables:
        read += table.num_rows
        batches += 1
        if read >= lines:
            break
    seconds = time.perf_counter() - started
    # this process's CPU only (not the service's): on a busy machine it shows what waiting cost
    cpu_seconds = time.process_time() - cpu_started
    # stopping waits for the batch being read ahead, which a run would go on to use: not timed
    tables.close()
    return {"parser": parser, "lines": read, "batches": batches, "seconds": seconds, "cpu_seconds": cpu_seconds,
            "lines_per_s": read / seconds, "peak_rss_mb": _peak_mb(), "rss_before_read_mb": before}


def parse_only(config_path: Path, lines: int, page_size: int, parser: str) -> dict:
    """Time only the response parsing of ``parser`` on pages fetched beforehand (same bytes for both)."""
    from zeep.helpers import serialize_object

    from connectors.records import dicts_to_table, flatten_nested
    from connectors.soap_fast import parse_response, plan_records

    connector, stream = _source(config_path)
    service = connector._client_service()
    client, binding = connector._client, service._binding
    operation = binding.get(stream.operation)
    plan = connector._plan(stream)
    pages, fetched, offset = [], 0, 0
    with client.settings(raw_response=True):
        while fetched < lines:
            response = getattr(service, stream.operation)(startRow=offset, maxRows=page_size)
            counted = parse_response(plan, response.content)
            if counted.top_records == 0:
                break
            pages.append(response)
            fetched += counted.rows
            offset += counted.top_records
    size_mb = sum(len(r.content) for r in pages) / 1e6
    # a fresh plan: the counting above must not leave warm value memos for the timed parse
    plan = plan_records(operation, stream.records, binding.nsmap["soap-env"])
    _warm_up()
    before = _peak_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    rows = 0
    for response in pages:
        if parser == "fast":
            rows += parse_response(plan, response.content).rows
        else:
            document = serialize_object(binding.process_reply(client, operation, response), dict)
            rows += dicts_to_table(flatten_nested(document, stream.records)).num_rows
    seconds = time.perf_counter() - started
    return {"parser": parser, "lines": rows, "response_mb": size_mb, "seconds": seconds,
            "cpu_seconds": time.process_time() - cpu_started,
            "lines_per_s": rows / seconds, "peak_rss_mb": _peak_mb(), "rss_before_parse_mb": before}


def _child(args: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], env={**os.environ, **env}, cwd=ROOT,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench child {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Build the landscape, serve it, measure both parsers, print and optionally save the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000, help="PO lines to extract (default 100,000)")
    parser.add_argument("--page-size", type=int, default=1000, help="purchase orders per SOAP page")
    parser.add_argument("--scale", type=int, help="demo scale (work orders); default sized from --lines")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PARSER"), help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    if args.child:
        kind, which = args.child
        measure = extract if kind == "extract" else parse_only
        print(json.dumps(measure(args.config, which, args.lines, args.page_size) if kind == "extract"
                         else measure(args.config, args.lines, args.page_size, which)))
        return

    from threadline.demo.landscape import build_landscape

    scale = args.scale or math.ceil(args.lines / LINES_PER_SCALE * 1.05)
    with tempfile.TemporaryDirectory(prefix="threadline-bench-soap-") as folder:
        started = time.perf_counter()
        landscape = build_landscape(Path(folder), scale=scale)
        available = json.loads(landscape.manifest_path.read_text())["counts"]["erp_soap"]["po_lines"]
        print(f"demo landscape at scale {scale:,}: {available:,} PO lines, built in "
              f"{time.perf_counter() - started:.1f}s")
        if available < args.lines:
            print(f"note: only {available:,} PO lines exist; raise --scale for {args.lines:,}")
        common = ["--config", str(landscape.config_path), "--lines", str(args.lines),
                  "--page-size", str(args.page_size)]
        results: dict[str, dict] = {}
        with landscape.start_erp_service():
            for which in PARSERS:
                results[f"extract_{which}"] = _child(["--child", "extract", which, *common], landscape.env)
            for which in PARSERS:
                results[f"parse_{which}"] = _child(["--child", "parse", which, *common], landscape.env)

    print(f"\nSOAP extraction of PO lines, {args.page_size} purchase orders per page")
    print(f"{'measure':<34}{'lines':>10}{'seconds':>10}{'CPU s':>8}{'lines/s':>12}{'peak RSS MB':>13}"
          f"{'growth MB':>11}")
    for key, label in (("extract_zeep", "extract over HTTP, zeep"), ("extract_fast", "extract over HTTP, fast path"),
                       ("parse_zeep", "parse only, zeep"), ("parse_fast", "parse only, fast path")):
        r = results[key]
        before = r.get("rss_before_read_mb", r.get("rss_before_parse_mb", 0.0))
        print(f"{label:<34}{r['lines']:>10,}{r['seconds']:>10.2f}{r['cpu_seconds']:>8.2f}{r['lines_per_s']:>12,.0f}"
              f"{r['peak_rss_mb']:>13.0f}{r['peak_rss_mb'] - before:>11.0f}")
    speed = {key: r["lines_per_s"] for key, r in results.items()}
    goal_ratio = speed["extract_fast"] / speed["parse_zeep"]
    extract_ratio = speed["extract_fast"] / speed["extract_zeep"]
    parse_ratio = speed["parse_fast"] / speed["parse_zeep"]
    print(f"fast path over HTTP / zeep parse only: x{goal_ratio:.2f} (goal: x{GOAL_RATIO:g} or more, "
          f"{'met' if goal_ratio >= GOAL_RATIO else 'NOT met'})")
    print(f"fast path over HTTP / zeep over HTTP:  x{extract_ratio:.2f}")
    print(f"fast path parse only / zeep parse only: x{parse_ratio:.2f} "
          f"({results['parse_fast']['response_mb']:.1f} MB of responses)")
    figures = {"lines": args.lines, "page_size": args.page_size, "scale": scale, **results,
               "goal_ratio": goal_ratio, "extract_ratio": extract_ratio, "parse_ratio": parse_ratio}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
