"""Benchmark: the steward web app's exception queue with 100,000 exceptions.

Seeds ``--exceptions`` exceptions (default 100,000: 20 rules, 4 sites, statuses and assignees
mixed as in a plant that has run for a year, first seen over 365 days, a summary and evidence of
realistic size) into a fresh SQLite warehouse, and into PostgreSQL when ``--pg-url`` names a server
(a database is created and dropped), then asks the app for queue pages in-process (Starlette's test
client: no network) and prints the server time per page (median and p95 over ``--repeat`` requests)
for the default page, deep pages, filters, sorts and a CSV export.

    .venv/bin/python bench/web_queue.py
    .venv/bin/python bench/web_queue.py --pg-url postgresql+psycopg2://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PASSWORD = "bench-password-123"
RULES = {f"OSP-00{i}": "error" for i in range(1, 10)} | {f"LNK-00{i}": "error" for i in range(1, 6)} | {
    f"TRC-00{i}": "warning" for i in range(1, 6)} | {"CST-001": "info"}
SITES = ("NORTH", "SOUTH", "EAST", "WEST")
ASSIGNEES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")


def seed(url: str, count: int) -> None:
    """A warehouse at the newest schema holding ``count`` exceptions and a steward user."""
    import numpy as np
    import pandas as pd

    from threadline.warehouse import schema
    from threadline.warehouse.store import insert_rows, open_warehouse
    from threadline.web.users import add_user

    rng = np.random.default_rng(11)
    now = datetime.utcnow()
    rules = np.array(list(RULES))
    rule = rules[rng.integers(0, len(rules), count)]
    status = rng.choice(["open", "acknowledged", "resolved", "waived"], count, p=[0.55, 0.15, 0.25, 0.05])
    assignee = np.where(rng.random(count) < 0.5, None, np.array(ASSIGNEES)[rng.integers(0, len(ASSIGNEES), count)])
    first = pd.Timestamp(now) - pd.to_timedelta(rng.integers(0, 365 * 24 * 3600, count), unit="s")
    last = first + pd.to_timedelta(rng.integers(0, 30 * 24 * 3600, count), unit="s")
    seq = np.arange(count)
    wo = np.char.add("WO-", (100000 + seq // 3).astype(str))
    po = (4000000 + seq // 2).astype(str)
    evidence = json.dumps({"records": [
        {"entity": "po_line", "source_system": "jde", "source_key": "00001|4502|OP|000|1000", "site": "NORTH",
         "po_number": "4502", "line_number": "1", "supplier_id": "4100", "qty_ordered": 39.0, "unit_price": 4.46},
        {"entity": "wo_operation", "source_system": "mes", "source_key": "MO-24-000005|40", "op_seq": "40",
         "process": "heat_treat", "status": "completed"}], "received": 39.0, "invoiced": 43.0})
    frame = pd.DataFrame({
        "exception_id": [f"EX-{uuid.UUID(int=int(i) + 1).hex[-16:]}" for i in rng.permutation(count)],
        "rule_id": rule, "severity": [RULES[r] for r in rule],
        "site": np.array(SITES)[rng.integers(0, len(SITES), count)],
        "subject_entity": "po_line", "subject_source_system": "jde",
        "subject_source_key": np.char.add("00001|", po), "wo_number": wo, "op_seq": "40", "po_number": po,
        "line_number": "1",
        "summary": np.char.add(np.char.add("Outside-processing PO ", po),
                               " line 1 for operation 40 (heat_treat) of work order is invoiced 43 EA but only "
                               "39 EA has been received."),
        "evidence": evidence, "evidence_hash": "0123456789abcdef", "status": status, "assignee": assignee,
        "first_seen_run": "R-BENCH-1", "last_seen_run": "R-BENCH-2", "first_seen_at": first,
        "last_seen_at": last, "status_changed_at": last,
    })
    warehouse = open_warehouse(url)
    with warehouse.engine.begin() as conn:
        insert_rows(conn, schema.exception, frame)
    with warehouse.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE tl_exception")
        else:
            conn.exec_driver_sql("ANALYZE")
        conn.commit()
    add_user(warehouse, "bench", "steward", PASSWORD)
    warehouse.dispose()


SCENARIOS = [
    ("default (open or acknowledged, oldest first)", "/queue"),
    ("page 2", "/queue?page=2"),
    ("deep page (offset 25,000)", "/queue?page=501"),
    ("last page", "/queue?page=100000"),
    ("status any, newest first", "/queue?status=any&sort=age&dir=desc"),
    ("rule + site", "/queue?rule=OSP-009&site=NORTH"),
    ("rule + site + status open, 200 per page", "/queue?rule=OSP-009&site=NORTH&status=open&per_page=200"),
    ("assignee", "/queue?assignee=carol"),
    ("unassigned, severity sort", "/queue?assignee=-&sort=severity"),
    ("age 30-90 days", "/queue?min_age=30&max_age=90"),
    ("sort by rule desc, page 100", "/queue?sort=rule&dir=desc&page=100"),
    ("resolved, sort by assignee", "/queue?status=resolved&sort=assignee"),
]


def measure(url: str, repeat: int) -> list[tuple[str, float, float, int]]:
    """(scenario, first request ms, median ms, p95 ms, rows matched) for each queue scenario."""
    from fastapi.testclient import TestClient

    from threadline.web.app import WebSettings, create_app

    app = create_app(WebSettings(warehouse_url=url, secret="b" * 40))
    client = TestClient(app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token},
                       follow_redirects=False).status_code == 303
    results = []
    for label, path in SCENARIOS:
        times = []
        text = ""
        for _ in range(repeat + 1):
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            text = response.text
            assert response.status_code == 200, (path, response.status_code)
        first, times = times[0], sorted(times[1:])  # the first request fills caches (the filters' choices)
        matched = int(re.search(r'([\d,]+) exception\(s\)', text).group(1).replace(",", ""))
        results.append((label, first, statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)],
                        matched))
    started = time.perf_counter()
    exported = client.get("/queue?status=any&format=csv")
    seconds = (time.perf_counter() - started) * 1000
    results.append(("CSV export of every exception", seconds, seconds, seconds, exported.text.count("\n") - 1))
    app.state.warehouse.dispose()
    return results


def report(name: str, results) -> None:
    print(f"\n{name}")
    print(f"  {'page':<48} {'first ms':>9} {'median ms':>10} {'p95 ms':>8} {'matched':>9}")
    for label, first, median, p95, matched in results:
        print(f"  {label:<48} {first:9.1f} {median:10.1f} {p95:8.1f} {matched:9,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exceptions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20, help="requests per scenario (after one warm-up)")
    parser.add_argument("--pg-url", help="a PostgreSQL server URL; a scratch database is made there")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'warehouse.sqlite'}"
        started = time.perf_counter()
        seed(url, args.exceptions)
        print(f"SQLite: seeded {args.exceptions:,} exceptions in {time.perf_counter() - started:.1f} s")
        report(f"SQLite, {args.exceptions:,} exceptions (server time per request, in-process)",
               measure(url, args.repeat))
    if args.pg_url:
        from sqlalchemy import create_engine, make_url, text

        server = make_url(args.pg_url)
        name = f"threadline_bench_web_{uuid.uuid4().hex[:8]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        try:
            url = server.set(database=name).render_as_string(hide_password=False)
            started = time.perf_counter()
            seed(url, args.exceptions)
            print(f"\nPostgreSQL: seeded {args.exceptions:,} exceptions in {time.perf_counter() - started:.1f} s")
            report(f"PostgreSQL, {args.exceptions:,} exceptions (server time per request, in-process)",
                   measure(url, args.repeat))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()


if __name__ == "__main__":
    main()
