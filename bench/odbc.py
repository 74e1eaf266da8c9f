"""Benchmark: ODBC bulk reads of an F4311-like PO line table in PostgreSQL and MariaDB.

For each database and each size (1,000,000 then 2,000,000 rows, the second million added to the
same table), it measures in a fresh process each:

- ``bare``: arrow-odbc alone, the connector's SELECT (same ORDER BY), batches counted and dropped;
- ``connector``: ``OdbcConnector.read`` (arrow-odbc plus type normalization);
- ``connector+map``: the same batches mapped into canonical ``po_line`` with
  ``mappings/specs/demo_jde/F4311.yaml`` through ``mappings.engine.map_batch``, read ahead with
  ``connectors.records.prefetch`` as the pipeline reads them;
- ``chunked+map`` (MariaDB only): as above with the read chunked by key range, which is what
  bounds memory on MariaDB Connector/ODBC (it buffers whole results).

and prints rows/s and peak RSS. Each path runs ``--repeat`` times, the paths in turn, and its fastest
run counts: on a shared machine the slower runs measure the neighbours. The scratch databases on the
loopback servers are dropped at the end.

    .venv/bin/python bench/odbc.py
    .venv/bin/python bench/odbc.py --rows 1000000 --rows 2000000 --batch-size 50000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "mappings" / "specs" / "demo_jde" / "F4311.yaml"
SCRATCH = "tl_mapspeed_bench_odbc"
PG_URL = os.environ.get("THREADLINE_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
MARIADB_URL = os.environ.get("THREADLINE_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")

KEY = ["PDKCOO", "PDDOCO", "PDDCTO", "PDSFXO", "PDLNID"]
BOOKMARK = ["PDUPMJ", "PDTDAY"]
COLUMNS = [
    ("PDKCOO", "CHAR(5)"), ("PDDOCO", "INTEGER"), ("PDDCTO", "CHAR(2)"), ("PDSFXO", "CHAR(3)"),
    ("PDLNID", "INTEGER"), ("PDMCU", "CHAR(12)"), ("PDAN8", "INTEGER"), ("PDITM", "INTEGER"),
    ("PDLITM", "CHAR(25)"), ("PDDSC1", "CHAR(30)"), ("PDLNTY", "CHAR(2)"), ("PDUORG", "BIGINT"),
    ("PDUREC", "BIGINT"), ("PDPRRC", "BIGINT"), ("PDAEXP", "BIGINT"), ("PDUOM", "CHAR(2)"),
    ("PDTRDJ", "INTEGER"), ("PDPDDJ", "INTEGER"), ("PDRORN", "CHAR(12)"), ("PDRCTO", "CHAR(2)"),
    ("PDRLLN", "INTEGER"), ("PDLTTR", "CHAR(3)"), ("PDNXTR", "CHAR(3)"), ("PDCRCD", "CHAR(3)"),
    ("PDANI", "CHAR(29)"), ("PDUPMJ", "INTEGER"), ("PDTDAY", "INTEGER"),
]
# rows per changed day: 2M rows span 333 Julian days of 2026, so the bookmark stays a valid date
ROWS_PER_DAY = 6000


def _values(idiv, concat) -> list[str]:
    """Column expressions over the generated row number ``g`` (the dialects differ in / and ||)."""
    part, description, empty = (concat(text, "g % " + n) for text, n in
                                (("'PART-'", "4000"), ("'Dichtung für Pumpe '", "97"), ("''", "90000")))
    return [
        "'00100'", f"4700000 + {idiv('g', 4)}", "'OP'", "'000'", "(g % 4 + 1) * 1000", "'        P100'",
        "10000 + g % 500", "g % 9000", f"RPAD({part}, 25, ' ')",
        f"RPAD({description}, 30, ' ')",
        "CASE g % 3 WHEN 0 THEN 'S ' WHEN 1 THEN 'J ' ELSE 'OP' END",
        "(g % 50 + 1) * 100", "(g % 50) * 100", "(g % 9000 + 1) * 100", "(g % 50 + 1) * (g % 9000 + 1)", "'EA'",
        f"126001 + {idiv('g', ROWS_PER_DAY)}", f"126030 + {idiv('g', ROWS_PER_DAY)}",
        f"RPAD(LPAD({empty}, 8, '0'), 12, ' ')", "'WO'", "(g % 5) * 100", "'400'", "'999'",
        "'USD'", "RPAD('P100.1310.01', 29, ' ')", f"126001 + {idiv('g', ROWS_PER_DAY)}",
        "(g % 24) * 10000 + (g % 60) * 100 + g % 60",
    ]


class Database:
    """One scratch database on a loopback server: its table, fill and ODBC connection string."""

    def __init__(self, kind: str):
        from sqlalchemy.engine import make_url

        self.kind = kind
        self.server = make_url(PG_URL if kind == "postgresql" else MARIADB_URL)
        self.url = self.server.set(database=SCRATCH)

    def _admin(self):
        from sqlalchemy import create_engine

        return create_engine(self.server, isolation_level="AUTOCOMMIT")

    def create(self) -> None:
        """(Re)create the scratch database with an empty F4311 table, its key and bookmark index."""
        from sqlalchemy import create_engine, text

        admin = self._admin()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH}"))
            conn.execute(text(f"CREATE DATABASE {SCRATCH}" + (" ENCODING 'UTF8' TEMPLATE template0"
                                                               if self.kind == "postgresql" else "")))
        admin.dispose()
        q = self.quote
        columns = ", ".join(f"{q(name)} {kind} NOT NULL" for name, kind in COLUMNS)
        engine = create_engine(self.url)
        with engine.begin() as conn:
            conn.execute(text(f"CREATE TABLE {q('F4311')} ({columns}, PRIMARY KEY ({', '.join(map(q, KEY))}))"
                              + (" CHARACTER SET utf8mb4" if self.kind == "mariadb" else "")))
            # the stream reads in bookmark order, as JDE's own F4311 indexes allow
            conn.execute(text(f"CREATE INDEX F4311_UPMJ ON {q('F4311')} ({', '.join(map(q, BOOKMARK + KEY))})"))
        engine.dispose()

    def quote(self, name: str) -> str:
        """An identifier quoted for this server (PostgreSQL keeps the JDE upper-case names only quoted)."""
        return f'"{name}"' if self.kind == "postgresql" else f"`{name}`"

    def fill(self, first: int, last: int) -> float:
        """Insert rows ``first..last`` generated inside the server; returns the seconds it took."""
        from sqlalchemy import create_engine, text

        if self.kind == "postgresql":
            values = _values(lambda a, b: f"({a} / {b})", lambda a, b: f"{a} || ({b})::text")
            source = f"generate_series({first}, {last}) AS s(g)"
        else:
            values = _values(lambda a, b: f"({a} DIV {b})", lambda a, b: f"CONCAT({a}, {b})")
            source = f"(SELECT seq AS g FROM seq_{first}_to_{last}) s"
        started = time.perf_counter()
        engine = create_engine(self.url)
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO {self.quote('F4311')} SELECT {', '.join(values)} FROM {source}"))
            conn.execute(text(f"ANALYZE {'TABLE ' if self.kind == 'mariadb' else ''}{self.quote('F4311')}"))
        engine.dispose()
        return time.perf_counter() - started

    def odbc_settings(self) -> dict:
        """The ``connection`` settings of an ODBC source reading the scratch database."""
        u = self.url
        if self.kind == "postgresql":
            # UseDeclareFetch=1: psqlODBC otherwise holds the whole result in memory
            string = (f"Driver=PostgreSQL Unicode;Server={u.host};Port={u.port or 5432};Database={u.database};"
                      f"UseDeclareFetch=1;Fetch=10000;CommLog=0")
        else:
            string = f"Driver=MariaDB Unicode;Server={u.host};Port={u.port or 3306};Database={u.database}"
        return {"connection_string": string, "username": u.username}

    def drop(self) -> None:
        """Drop the scratch database."""
        from sqlalchemy import text

        admin = self._admin()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH}"))
        admin.dispose()


def measure(kind: str, path: str, batch_size: int, chunk_size: int) -> dict:
    """One path over the whole table, in this (fresh) process: rows, seconds, peak RSS."""
    sys.path.insert(0, str(REPO))
    import arrow_odbc

    from connectors.odbc import OdbcConnector

    database = Database(kind)
    connector = OdbcConnector("erp", database.odbc_settings())
    stream = OdbcConnector.stream_model(name="po_lines", mapping=str(SPEC), table="F4311", key=KEY,
                                        bookmark=BOOKMARK, batch_size=batch_size,
                                        chunk_by="PDUPMJ" if path.startswith("chunked") else None,
                                        chunk_size=chunk_size)
    rows = mapped = 0
    started = time.perf_counter()
    if path == "bare":
        sql = (f"SELECT * FROM {database.quote('F4311')} ORDER BY "
               + ", ".join(database.quote(c) for c in BOOKMARK + KEY))
        reader = arrow_odbc.read_arrow_batches_from_odbc(query=sql, connection_string=connector._connection_string(),
                                                         batch_size=batch_size)
        for batch in reader:
            rows += batch.num_rows
    elif path == "connector":
        for table in connector.read(stream, None):
            rows += table.num_rows
    else:
        from connectors.records import prefetch
        from mappings.engine import map_batch
        from mappings.spec import load_spec

        spec = load_spec(SPEC)
        extracted_at = datetime.now(timezone.utc)
        # as the pipeline reads: the next batch is fetched while this one is mapped
        for table in prefetch(connector.read(stream, None), connector.prefetch_depth(stream)):
            rows += table.num_rows
            result = map_batch(spec, table.to_pandas(), source_system="erp", run_id="bench",
                               extracted_at=extracted_at)
            mapped += len(result.mapped)
    seconds = time.perf_counter() - started
    connector.close()
    return {"database": kind, "path": path, "rows": rows, "mapped": mapped if path.endswith("map") else None,
            "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def _in_subprocess(kind: str, path: str, batch_size: int, chunk_size: int) -> dict:
    """Run ``measure`` in a new interpreter so that its peak memory is this path's alone."""
    completed = subprocess.run([sys.executable, __file__, "--measure", kind, path, "--batch-size", str(batch_size),
                                "--chunk-size", str(chunk_size)], capture_output=True, text=True, cwd=REPO)
    if completed.returncode != 0:
        raise RuntimeError(f"measuring {path} on {kind} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _best_of(repeat: int, paths: list[str], run) -> dict[str, dict]:
    """Each path run ``repeat`` times, the paths in turn so that a busy spell hits all of them alike;
    per path the fastest run, with the highest peak RSS of all its runs and every run's rows/s."""
    runs: dict[str, list[dict]] = {path: [] for path in paths}
    for _ in range(max(repeat, 1)):
        for path in paths:
            runs[path].append(run(path))
    best = {}
    for path, results in runs.items():
        if len({r["rows"] for r in results}) != 1:
            raise RuntimeError(f"{path} read a different number of rows in each run: {[r['rows'] for r in results]}")
        fastest = max(results, key=lambda r: r["rows_per_s"])
        best[path] = {**fastest, "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
                      "runs_rows_per_s": [r["rows_per_s"] for r in results]}
    return best


def main(argv: list[str] | None = None) -> None:
    """Fill each database to each size in turn and print the figures of every path at that size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="table sizes, ascending (default 1M and 2M)")
    parser.add_argument("--database", action="append", choices=["postgresql", "mariadb"])
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help=(
        "runs of each path, taken in turn; the fastest counts (on a shared machine the others measure "
        "the neighbours), the peak RSS is the highest"))
    parser.add_argument("--chunk-size", type=int, default=10, help=(
        "chunk_by width in Julian days (MariaDB); narrow enough (about 60,000 rows here) that the server "
        "reads each range through the bookmark index instead of scanning the table"))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--measure", nargs=2, metavar=("DATABASE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(*args.measure, args.batch_size, args.chunk_size)))
        return
    sizes = sorted(args.rows or [1_000_000, 2_000_000])
    figures = []
    for kind in args.database or ["postgresql", "mariadb"]:
        database = Database(kind)
        database.create()
        try:
            filled = 0
            for size in sizes:
                seconds = database.fill(filled + 1, size)
                filled = size
                print(f"\n== {kind}: {size:,} rows (filled in {seconds:.1f} s), batch_size {args.batch_size:,}")
                paths = ["bare", "connector", "connector+map"] + (["chunked+map"] if kind == "mariadb" else [])
                results = _best_of(args.repeat, paths, lambda path: _in_subprocess(kind, path, args.batch_size,
                                                                                   args.chunk_size))
                for path, result in results.items():
                    if result["rows"] != size:
                        raise RuntimeError(f"{path} on {kind} read {result['rows']:,} rows of {size:,}")
                    ratio = result["rows_per_s"] / results["bare"]["rows_per_s"]
                    print(f"{path:>14}: {result['rows_per_s']:>9,} rows/s ({result['seconds']:>6.1f} s, "
                          f"{ratio:4.2f} x bare), peak RSS {result['peak_rss_mb']:,} MB"
                          + (f", {result['mapped']:,} mapped" if result["mapped"] is not None else "")
                          + f" (runs: {', '.join(f'{r:,}' for r in result['runs_rows_per_s'])} rows/s)")
                    figures.append({**result, "table_rows": size, "ratio_to_bare": round(ratio, 3)})
        finally:
            database.drop()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
