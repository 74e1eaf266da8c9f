"""JD Edwards and Maximo purchasing tables at production volume, in PostgreSQL, MariaDB and SQLite.

Column names and types come from the real-world catalogues next to the checkout
(``shared/realworld/jde-e1/jde_e1_po_wo_columns.csv`` and ``shared/realworld/maximo/maximo.sql``);
the rows are generated here, vectorized with numpy, and carry each system's own conventions:

* JD Edwards (F4301 headers, F4311 lines, F43121 receipts and voucher matches): fixed-width CHAR
  columns (the catalogue gives NCHAR byte lengths, two per character), business units
  right-justified, Julian dates CYYDDD with a separate HHMMSS time, and quantities, prices and
  amounts as integers with implied decimals. Batch jobs stamp many lines with the same
  (PDUPMJ, PDTDAY), so the bookmark has ties.
* Maximo (PO, POLINE, MATRECTRANS): VARCHAR codes, real decimals (NUMBER(p,s)), DATE columns with
  a time of day, Y/N flags; ENTERDATE and TRANSDATE repeat across rows (one requisition run, one
  receiving session), so the bookmark needs the id beside the date.

Some supplier and item text is non-ASCII and every character of it exists in cp1252, so a layout can
be held in a legacy code page: MariaDB latin1 tables (MariaDB's latin1 is cp1252) or a PostgreSQL
SQL_ASCII database holding cp1252 bytes.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

#: item and supplier text with the characters legacy European data holds (all of them in cp1252)
DESCRIPTIONS = np.array([
    "Wärmebehandlung Welle", "Société Générale de Tôlerie", "Dichtung für Pumpe", "Zahnrad geschliffen",
    "Bohrung Ø 12 mm", "Kalibrierung Messschieber 50 €", "Galvanik Verzinkung", "Roulement à billes",
    "Hydraulikschlauch DN12", "Pièce usinée Größe 3", "Bearing housing", "Gasket kit",
], dtype=object)
JDE_PLANTED_BAD_LINES = 3
MAXIMO_PLANTED_BAD_LINES = 3
#: the field and reason the demo JDE and shipped Maximo specs quarantine the planted rows for
JDE_BAD_FIELD, JDE_BAD_REASON = "need_by_date", "need_by_date from PDPDDJ: not a JD Edwards Julian date (CYYDDD)"
MAXIMO_BAD_FIELD, MAXIMO_BAD_REASON = "qty_ordered", "po_line.qty_ordered is required but empty"


@dataclass(frozen=True)
class Column:
    """A source column: its name and a portable type (char, varchar, int, bigint, decimal, float, datetime)."""

    name: str
    kind: str
    length: int | None = None
    scale: int | None = None
    nullable: bool = True


@dataclass
class SourceTable:
    """One legacy table: its columns (in catalogue types), its rows and the indexes the system keeps."""

    name: str
    columns: list[Column]
    rows: pd.DataFrame
    indexes: list[tuple[str, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rows = self.rows[[c.name for c in self.columns]]


# ------------------------------------------------------------------ catalogues


def jde_catalogue(realworld: Path) -> dict[str, dict[str, Column]]:
    """JD Edwards columns by table: String as CHAR(bytes / 2) (E1 keeps NCHAR), Numeric as BIGINT."""
    tables: dict[str, dict[str, Column]] = {}
    with open(realworld / "jde-e1" / "jde_e1_po_wo_columns.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["jde_type"] == "String":
                column = Column(row["column"], "char", int(row["max_length"]) // 2)
            elif row["jde_type"] == "Numeric":
                column = Column(row["column"], "bigint")
            else:
                column = Column(row["column"], "datetime")
            tables.setdefault(row["table"], {})[row["column"]] = column
    return tables


_ORACLE_COLUMN = re.compile(r"^\s*(\w+)\s+(VARCHAR2|NUMBER|FLOAT|DATE)(?:\((\d+)(?:,(\d+))?\))?(\s+NOT NULL)?", re.I)


def maximo_catalogue(realworld: Path, tables: tuple[str, ...] = ("po", "poline", "matrectrans")
                     ) -> dict[str, dict[str, Column]]:
    """Maximo columns by upper-case table name from the Oracle DDL: VARCHAR2(n) as VARCHAR(n),
    NUMBER(p,s) as DECIMAL(p,s), NUMBER as BIGINT, FLOAT(126) (a binary float, hours and durations) as a
    double, DATE (which keeps the time of day) as a timestamp."""
    text = (realworld / "maximo" / "maximo.sql").read_text(encoding="utf-8", errors="replace")
    found: dict[str, dict[str, Column]] = {}
    for table in tables:
        match = re.search(rf"^CREATE TABLE {table}\s*\((.*?)^\s*\)", text, re.M | re.S | re.I)
        if match is None:
            raise LookupError(f"table {table} not found in maximo.sql")
        columns = {}
        for line in match.group(1).splitlines():
            parsed = _ORACLE_COLUMN.match(line)
            if parsed is None:
                continue
            name, kind, precision, scale, not_null = parsed.groups()
            name, kind = name.upper(), kind.upper()
            if kind == "VARCHAR2":
                column = Column(name, "varchar", int(precision))
            elif kind == "DATE":
                column = Column(name, "datetime")
            elif kind == "FLOAT":
                column = Column(name, "float")
            elif precision is None:
                column = Column(name, "bigint")
            else:
                column = Column(name, "decimal", int(precision), int(scale or 0))
            columns[name] = Column(column.name, column.kind, column.length, column.scale, nullable=not not_null)
        found[table.upper()] = columns
    return found


def _pick(catalogue: dict[str, Column], table: str, names: list[str]) -> list[Column]:
    missing = [n for n in names if n not in catalogue]
    if missing:
        raise KeyError(f"{table}: columns {missing} are not in the real-world catalogue")
    return [catalogue[n] for n in names]


# ------------------------------------------------------------------ value helpers


def char(values, width: int, right: bool = False) -> np.ndarray:
    """Fixed-width CHAR text, blank-padded (right-justified if asked), as JD Edwards stores it."""
    text = pd.Series(np.asarray(values, dtype=object)).astype(str).str.slice(0, width)
    return (text.str.rjust(width) if right else text.str.ljust(width)).to_numpy(dtype=object)


def julian(dates: np.ndarray) -> np.ndarray:
    """datetime64 days as JD Edwards Julian dates CYYDDD."""
    stamps = pd.DatetimeIndex(dates)
    return ((stamps.year - 1900) * 1000 + stamps.day_of_year).to_numpy(dtype="int64")


def hhmmss(seconds: np.ndarray) -> np.ndarray:
    """Seconds after midnight as the HHMMSS integer JD Edwards keeps beside a Julian date."""
    s = np.asarray(seconds, dtype="int64")
    return (s // 3600) * 10000 + (s % 3600 // 60) * 100 + s % 60


def _lines_per_order(rng: np.random.Generator, n_lines: int) -> np.ndarray:
    """Order number (0-based) and line number (1-based) of ``n_lines`` lines, 1 to 9 lines per order."""
    counts = rng.integers(1, 10, size=n_lines)
    ends = np.cumsum(counts)
    orders = int(np.searchsorted(ends, n_lines)) + 1
    counts = counts[:orders]
    counts[-1] -= ends[orders - 1] - n_lines
    order = np.repeat(np.arange(orders), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return order, np.arange(n_lines) - starts + 1


BASE_DAY = np.datetime64("2026-01-05")
#: times of day the batch jobs stamp rows at (UBE runs, receiving sessions): many rows share each
STAMP_SECONDS = np.array([6 * 3600, 6 * 3600 + 1, 9 * 3600 + 30 * 60, 13 * 3600 + 15 * 60 + 7, 22 * 3600], dtype="int64")


# ------------------------------------------------------------------ JD Edwards


def jde_tables(realworld: Path, n_lines: int, seed: int = 7) -> dict[str, SourceTable]:
    """F4301, F4311 and F43121 with ``n_lines`` PO lines; ``JDE_PLANTED_BAD_LINES`` lines carry
    day 400 in their Julian need-by date (PDPDDJ), which the mapping must quarantine."""
    catalogue = jde_catalogue(realworld)
    rng = np.random.default_rng(seed)
    order, line_no = _lines_per_order(rng, n_lines)
    n_orders = int(order.max()) + 1

    po_number = 4_700_001 + np.arange(n_orders)
    order_type = np.where(rng.random(n_orders) < 0.9, "OP", "OB")
    branch = np.where(rng.random(n_orders) < 0.7, "P100", "P110")
    supplier = rng.integers(4001, 4201, size=n_orders)
    currency = np.where(supplier % 5 == 0, "EUR", "USD")
    order_day = BASE_DAY + rng.integers(0, 120, size=n_orders).astype("timedelta64[D]")
    # the last-update stamp: a day and one of a few batch-job times, so thousands of rows tie
    header_changed = order_day + rng.integers(0, 30, size=n_orders).astype("timedelta64[D]")
    header_time = STAMP_SECONDS[rng.integers(0, len(STAMP_SECONDS), size=n_orders)]
    buyer = np.array(["JSMITH", "MKRAUSE", "LDUBOIS", "TNGUYEN"], dtype=object)[rng.integers(0, 4, n_orders)]

    f4301 = pd.DataFrame({
        "PHKCOO": "00001", "PHDOCO": po_number, "PHDCTO": order_type, "PHSFXO": "000",
        "PHMCU": char(branch, 12, right=True), "PHAN8": supplier,
        "PHTRDJ": julian(order_day), "PHDRQJ": julian(order_day + np.timedelta64(14, "D")),
        "PHCRCD": currency, "PHCRRM": np.where(currency == "USD", "D", "F"),
        "PHORBY": char(buyer, 10), "PHHOLD": char(np.where(rng.random(n_orders) < 0.95, "", "H1"), 2),
        "PHDESC": char(DESCRIPTIONS[rng.integers(0, len(DESCRIPTIONS), n_orders)], 30),
        "PHUSER": char(buyer, 10), "PHPID": char(["EP4310"] * n_orders, 10),
        "PHUPMJ": julian(header_changed), "PHTDAY": hhmmss(header_time),
    })

    kind = rng.choice(np.array(["S", "J", "OP"]), size=n_lines, p=[0.7, 0.2, 0.1])
    qty = rng.integers(1, 500, size=n_lines)
    received = np.where(rng.random(n_lines) < 0.5, qty, np.where(rng.random(n_lines) < 0.5, qty // 2, 0))
    status = np.select([received == qty, received > 0], ["400", "220"], "220")
    status = np.where(rng.random(n_lines) < 0.03, "980", status)
    status = np.where((status == "400") & (rng.random(n_lines) < 0.3), "999", status)
    next_status = pd.Series(status).map({"220": "400", "400": "510", "999": "999", "980": "999"}).to_numpy()
    price = rng.integers(100, 50_000_000, size=n_lines)  # 4 implied decimals: 0.0100 .. 5000.0000
    line_day = order_day[order] + rng.integers(0, 45, size=n_lines).astype("timedelta64[D]")
    line_time = STAMP_SECONDS[rng.integers(0, len(STAMP_SECONDS), size=n_lines)]
    wo_linked = kind != "S"
    need_by = julian(order_day[order] + rng.integers(7, 60, size=n_lines).astype("timedelta64[D]"))
    bad = rng.choice(n_lines, size=JDE_PLANTED_BAD_LINES, replace=False)
    need_by[bad] = 126_400
    line_branch = branch[order]
    f4311 = pd.DataFrame({
        "PDKCOO": "00001", "PDDOCO": po_number[order], "PDDCTO": order_type[order], "PDSFXO": "000",
        "PDLNID": line_no * 1000, "PDMCU": char(line_branch, 12, right=True), "PDCO": "00001",
        "PDAN8": supplier[order], "PDITM": 60_000 + rng.integers(1, 5000, size=n_lines),
        "PDLITM": char(pd.Series(rng.integers(100_001, 105_000, size=n_lines)).astype(str).radd("RM-"), 25),
        "PDDSC1": char(DESCRIPTIONS[rng.integers(0, len(DESCRIPTIONS), n_lines)], 30),
        "PDLNTY": char(kind, 2), "PDUORG": qty * 100, "PDUREC": received * 100, "PDPRRC": price,
        "PDAEXP": (qty * price) // 100,
        "PDUOM": char(np.where(kind == "S", "EA", "HR"), 2),
        "PDTRDJ": julian(order_day[order]), "PDPDDJ": need_by,
        "PDRORN": char(np.where(wo_linked, pd.Series(rng.integers(10_000, 99_999, size=n_lines)).astype(str)
                                .str.zfill(8), ""), 8),
        "PDRCTO": char(np.where(wo_linked, "WO", ""), 2),
        "PDRLLN": np.where(wo_linked, rng.integers(1, 9, size=n_lines) * 1000, 0),
        "PDLTTR": status, "PDNXTR": next_status, "PDCRCD": currency[order],
        "PDANI": char(pd.Series(line_branch) + ".4410." + pd.Series(kind).map({"S": "100", "J": "200", "OP": "300"}), 29),
        "PDUSER": char(buyer[order], 10), "PDPID": char(["EP4310"] * n_lines, 10),
        "PDUPMJ": julian(line_day), "PDTDAY": hhmmss(line_time),
    })

    receipted = np.flatnonzero(received > 0)
    n_receipts = len(receipted)
    receipt_day = line_day[receipted] + np.timedelta64(1, "D")
    receipts = pd.DataFrame({
        "PRMATC": "1", "PRKCOO": "00001", "PRDOCO": f4311["PDDOCO"].to_numpy()[receipted],
        "PRDCTO": f4311["PDDCTO"].to_numpy()[receipted], "PRSFXO": "000",
        "PRLNID": f4311["PDLNID"].to_numpy()[receipted], "PRNLIN": 1,
        "PRDOC": 300_001 + np.arange(n_receipts), "PRDCT": "OV", "PRAN8": f4311["PDAN8"].to_numpy()[receipted],
        "PRLITM": f4311["PDLITM"].to_numpy()[receipted], "PRUREC": received[receipted] * 100,
        "PRAREC": (received[receipted] * price[receipted]) // 100, "PRUOM": f4311["PDUOM"].to_numpy()[receipted],
        "PRCRCD": currency[order][receipted], "PRRCDJ": julian(receipt_day),
        "PRLOTN": char(pd.Series(np.arange(n_receipts)).astype(str).str.zfill(7).radd("L"), 30),
        "PRVINV": char([""] * n_receipts, 25), "PRMCU": f4311["PDMCU"].to_numpy()[receipted],
        # the remark carries the certificate of conformance number on outside-processing receipts
        "PRVRMK": char(np.where(kind[receipted] == "OP",
                                pd.Series(np.arange(n_receipts)).astype(str).radd("COC-").to_numpy(), ""), 30),
        "PRUPMJ": julian(receipt_day), "PRTDAY": hhmmss(line_time[receipted]),
    })
    # voucher matches share F43121; the receipts stream must leave them out
    vouchered = receipts.iloc[: n_receipts // 5]
    vouchers = vouchered.assign(PRMATC="2", PRDCT="PV", PRDOC=700_001 + np.arange(len(vouchered)),
                                PRVINV=char(pd.Series(np.arange(len(vouchered))).astype(str).radd("INV-"), 25))
    f43121 = pd.concat([receipts, vouchers], ignore_index=True)

    return {
        "F4301": SourceTable("F4301", _pick(catalogue["F4301"], "F4301", list(f4301.columns)), f4301,
                             [("PHDOCO", "PHDCTO", "PHKCOO", "PHSFXO"), ("PHUPMJ", "PHTDAY")]),
        "F4311": SourceTable("F4311", _pick(catalogue["F4311"], "F4311", list(f4311.columns)), f4311,
                             [("PDDOCO", "PDDCTO", "PDKCOO", "PDSFXO", "PDLNID"), ("PDUPMJ", "PDTDAY")]),
        "F43121": SourceTable("F43121", _pick(catalogue["F43121"], "F43121", list(f43121.columns)), f43121,
                              [("PRDCT", "PRDOC", "PRNLIN"), ("PRUPMJ", "PRTDAY")]),
    }


# ------------------------------------------------------------------ Maximo


def maximo_tables(realworld: Path, n_lines: int, seed: int = 11) -> dict[str, SourceTable]:
    """PO, POLINE and MATRECTRANS with ``n_lines`` PO lines; ``MAXIMO_PLANTED_BAD_LINES`` lines have
    no ORDERQTY, which the mapping must quarantine (a PO line needs a quantity)."""
    catalogue = maximo_catalogue(realworld)
    rng = np.random.default_rng(seed)
    order, line_no = _lines_per_order(rng, n_lines)
    n_orders = int(order.max()) + 1
    site = np.where(rng.random(n_orders) < 0.6, "BEDFORD", "NASHUA")
    ponum = pd.Series(10_001 + np.arange(n_orders)).astype(str).to_numpy(dtype=object)
    order_day = BASE_DAY + rng.integers(0, 120, size=n_orders).astype("timedelta64[D]")
    order_time = order_day.astype("datetime64[s]") + STAMP_SECONDS[rng.integers(0, len(STAMP_SECONDS), n_orders)]
    changed = order_time + (rng.integers(0, 20, size=n_orders) * 86_400).astype("timedelta64[s]")
    status = rng.choice(np.array(["APPR", "INPRG", "WAPPR", "CLOSE", "CAN"]), size=n_orders,
                        p=[0.5, 0.2, 0.1, 0.17, 0.03])
    vendor = np.array(["SOCGEN", "WAERMETEC", "ROULMAX", "GALVA", "HYDRA"], dtype=object)[
        rng.integers(0, 5, n_orders)]
    agent = np.array(["WILSON", "MÜLLER", "LEFÈVRE", "SMITH"], dtype=object)[rng.integers(0, 4, n_orders)]
    currency = np.where(vendor == "ROULMAX", "EUR", "USD")
    # a standard order, or a release against a blanket agreement (POTYPE is 6 characters wide)
    potype = np.where(rng.random(n_orders) < 0.9, "STD", "REL")

    qty = np.round(rng.integers(100, 50_000, size=n_lines) / 100, 2)
    unit_cost = np.round(rng.integers(1, 500_000, size=n_lines) / 100, 2)
    line_cost = np.round(qty * unit_cost, 2)
    received = np.where(rng.random(n_lines) < 0.5, qty, 0.0)
    service = np.where(rng.random(n_lines) < 0.25, "Y", "N")
    # one requisition run enters all lines of its orders in the same second
    enter_date = order_time[order]
    polineid = 1 + np.arange(n_lines)
    ordered = pd.Series(qty, dtype="float64")
    bad = rng.choice(n_lines, size=MAXIMO_PLANTED_BAD_LINES, replace=False)
    ordered.iloc[bad] = np.nan
    poline = pd.DataFrame({
        "ROWSTAMP": pd.Series(500_000 + polineid).astype(str), "PONUM": ponum[order],
        "POLINENUM": line_no, "POLINEID": polineid,
        "ITEMNUM": np.where(service == "Y", None, pd.Series(rng.integers(1000, 9999, n_lines)).astype(str)
                            .radd("ITM-")),
        "STORELOC": np.where(service == "Y", None, "CENTRAL"),
        "DESCRIPTION": DESCRIPTIONS[rng.integers(0, len(DESCRIPTIONS), n_lines)],
        "ORDERQTY": ordered, "ORDERUNIT": np.where(service == "Y", "HR", "EACH"), "UNITCOST": unit_cost,
        "CONVERSION": 1.0, "RECEIVEDQTY": received, "RECEIVEDUNITCOST": np.where(received > 0, unit_cost, 0.0),
        "RECEIVEDTOTALCOST": np.round(received * unit_cost, 2), "REJECTEDQTY": 0.0,
        "ENTERDATE": enter_date, "ENTERBY": agent[order],
        "REQDELIVERYDATE": (order_day[order] + rng.integers(7, 60, n_lines).astype("timedelta64[D]"))
        .astype("datetime64[s]"),
        "ISSUE": np.where(service == "Y", "Y", "N"), "TAXED": "N", "CHARGESTORE": "N",
        "GLDEBITACCT": np.where(service == "Y", "6200-300-100", "1400-100-200"),
        "LINECOST": line_cost, "RECEIPTREQD": "Y", "SERVICE": service,
        "RECEIPTSCOMPLETE": np.where(received >= qty, "Y", "N"),
        "REFWO": np.where(service == "Y", pd.Series(rng.integers(1000, 99_999, n_lines)).astype(str), None),
        "SITEID": site[order], "ORGID": "EAGLENA",
    })
    totals = pd.Series(line_cost).groupby(order).sum().round(2).to_numpy()
    po = pd.DataFrame({
        "ROWSTAMP": pd.Series(100_000 + np.arange(n_orders)).astype(str), "PONUM": ponum,
        "DESCRIPTION": DESCRIPTIONS[rng.integers(0, len(DESCRIPTIONS), n_orders)],
        "PURCHASEAGENT": agent, "ORDERDATE": order_time,
        "REQUIREDDATE": order_time + np.timedelta64(14 * 86_400, "s"), "POTYPE": potype, "STATUS": status,
        "STATUSDATE": changed, "VENDOR": vendor, "TOTALCOST": totals, "CHANGEBY": agent, "CHANGEDATE": changed,
        "PRIORITY": 0, "HISTORYFLAG": np.where(np.isin(status, ["CLOSE", "CAN"]), "Y", "N"),
        "CURRENCYCODE": currency, "SITEID": site, "ORGID": "EAGLENA",
    })

    receipted = np.flatnonzero(received > 0)
    n_receipts = len(receipted)
    # a receiving session books many receipts in the same second
    session = rng.integers(0, max(1, n_receipts // 40), size=n_receipts)
    trans_date = (BASE_DAY.astype("datetime64[s]") + (session * 3 * 3600).astype("timedelta64[s]"))
    matrectrans = pd.DataFrame({
        "ROWSTAMP": pd.Series(900_000 + np.arange(n_receipts)).astype(str),
        "MATRECTRANSID": 1 + np.arange(n_receipts), "ITEMNUM": poline["ITEMNUM"].to_numpy()[receipted],
        "TOSTORELOC": poline["STORELOC"].to_numpy()[receipted], "TRANSDATE": trans_date, "ACTUALDATE": trans_date,
        "QUANTITY": received[receipted], "RECEIVEDUNIT": poline["ORDERUNIT"].to_numpy()[receipted],
        "ISSUETYPE": "RECEIPT", "UNITCOST": unit_cost[receipted], "ACTUALCOST": unit_cost[receipted],
        "PONUM": ponum[order][receipted], "POLINENUM": line_no[receipted], "ENTERBY": "RECEIVER",
        "LINECOST": np.round(received[receipted] * unit_cost[receipted], 2), "CURRENCYCODE": currency[order][receipted],
        "TOLOT": pd.Series(np.arange(n_receipts)).astype(str).str.zfill(7).radd("L").to_numpy(),
        "PACKINGSLIPNUM": pd.Series(session).astype(str).radd("PS-").to_numpy(),
        "DESCRIPTION": poline["DESCRIPTION"].to_numpy()[receipted], "STATUS": "COMP",
        "SITEID": site[order][receipted], "ORGID": "EAGLENA",
    })
    # transfers between store rooms share MATRECTRANS; the receipts stream leaves them out
    transfers = matrectrans.iloc[: n_receipts // 10].assign(
        ISSUETYPE="TRANSFER", PONUM=None, POLINENUM=None,
        MATRECTRANSID=n_receipts + 1 + np.arange(n_receipts // 10))
    matrectrans = pd.concat([matrectrans, transfers], ignore_index=True)
    matrectrans["POLINENUM"] = matrectrans["POLINENUM"].astype("Int64")

    def columns(table: str, frame: pd.DataFrame) -> list[Column]:
        return _pick(catalogue[table], table, list(frame.columns))

    return {
        "PO": SourceTable("PO", columns("PO", po), po, [("ORGID", "PONUM"), ("CHANGEDATE",)]),
        "POLINE": SourceTable("POLINE", columns("POLINE", poline), poline,
                              [("ORGID", "POLINEID"), ("ORGID", "PONUM", "POLINENUM"), ("ENTERDATE", "POLINEID")]),
        "MATRECTRANS": SourceTable("MATRECTRANS", columns("MATRECTRANS", matrectrans), matrectrans,
                                   [("SITEID", "MATRECTRANSID"), ("TRANSDATE", "MATRECTRANSID")]),
    }


# ------------------------------------------------------------------ DDL and loading


def column_type(column: Column, dialect: str) -> str:
    """The column's SQL type in ``dialect`` (postgresql, mariadb, sqlite)."""
    if column.kind == "char":
        return f"CHAR({column.length})"
    if column.kind == "varchar":
        return f"VARCHAR({column.length})"
    if column.kind == "bigint":
        return "BIGINT"
    if column.kind == "int":
        return "INTEGER"
    if column.kind == "decimal":
        return f"DECIMAL({column.length},{column.scale})"
    if column.kind == "float":
        return {"postgresql": "DOUBLE PRECISION", "mariadb": "DOUBLE", "sqlite": "REAL"}[dialect]
    if column.kind == "datetime":
        return {"postgresql": "TIMESTAMP(0)", "mariadb": "DATETIME", "sqlite": "TIMESTAMP"}[dialect]
    raise ValueError(f"{column.name}: unknown column kind {column.kind!r}")


def identifier(name: str, dialect: str) -> str:
    """``name`` as the dialect keeps it upper-case: PostgreSQL folds unquoted names to lower case,
    so the tables there are created (and must be queried) with quoted upper-case names, as a JD
    Edwards or Maximo schema moved to PostgreSQL keeps them."""
    return f'"{name}"' if dialect == "postgresql" else name


def quote_identifiers(sql: str, names: set[str], dialect: str) -> str:
    """``sql`` with every table or column name of ``names`` written as ``identifier`` writes it
    (text inside single-quoted literals is left alone)."""
    if dialect != "postgresql":
        return sql
    pieces = re.split(r"('(?:[^']|'')*')", sql)
    word = re.compile(r"\b[A-Z][A-Z0-9_]*\b")
    return "".join(piece if piece.startswith("'") else
                   word.sub(lambda m: identifier(m.group(0), dialect) if m.group(0) in names else m.group(0), piece)
                   for piece in pieces)


def create_statements(table: SourceTable, dialect: str, charset: str | None = None) -> list[str]:
    """CREATE TABLE and CREATE INDEX statements; ``charset`` sets a MariaDB table's character set."""
    def q(name: str) -> str:
        return identifier(name, dialect)

    body = ", ".join(f"{q(c.name)} {column_type(c, dialect)}{'' if c.nullable else ' NOT NULL'}"
                     for c in table.columns)
    suffix = f" CHARACTER SET {charset}" if charset and dialect == "mariadb" else ""
    statements = [f"CREATE TABLE {q(table.name)} ({body}){suffix}"]
    for i, index in enumerate(table.indexes):
        statements.append(f"CREATE INDEX {q(f'{table.name}_{i}')} ON {q(table.name)} "
                          f"({', '.join(q(c) for c in index)})")
    return statements


def _arrow(table: SourceTable) -> pa.Table:
    """The rows as Arrow columns: timestamps to the second, text as text, missing values null."""
    frame = table.rows.copy()
    for c in table.columns:
        if c.kind == "datetime":
            frame[c.name] = pd.to_datetime(frame[c.name]).astype("datetime64[s]")
    return pa.Table.from_pandas(frame, preserve_index=False)


def _csv(table: SourceTable) -> bytes:
    """UTF-8 CSV without header, written in C by Arrow: text is always quoted and a missing value
    is an empty unquoted field, so a blank CHAR value ("  ") and NULL stay apart."""
    sink = io.BytesIO()
    pa_csv.write_csv(_arrow(table), sink, pa_csv.WriteOptions(include_header=False))
    return sink.getvalue()


def load_postgres(dsn: str, tables: dict[str, SourceTable], encoding: str = "utf-8") -> None:
    """Create the tables and fill them with COPY ... FROM STDIN (CSV) through psycopg2.

    With a legacy ``encoding`` (for a SQL_ASCII database, which stores bytes as given) the text goes
    in as that code page's bytes, as a cp1252 ERP wrote it.
    """
    import psycopg2

    with psycopg2.connect(dsn) as conn, conn.cursor() as cursor:
        for table in tables.values():
            create_table, *create_indexes = create_statements(table, "postgresql")
            cursor.execute(create_table)
            names = ", ".join(identifier(c.name, "postgresql") for c in table.columns)
            cursor.copy_expert(f"COPY {identifier(table.name, 'postgresql')} ({names}) "
                               f"FROM STDIN WITH (FORMAT csv)", io.BytesIO(_csv(table).decode("utf-8").encode(encoding)))
            # indexes after the rows: one sort instead of 100,000 index insertions
            for statement in create_indexes:
                cursor.execute(statement)


def load_mariadb(connect_args: dict, tables: dict[str, SourceTable], folder: Path,
                 charset: str = "latin1") -> None:
    """Create the tables with ``charset`` (MariaDB's latin1 is cp1252) and fill them with
    LOAD DATA LOCAL INFILE through PyMySQL; the server converts the UTF-8 file to the table's code page.

    LOAD DATA reads an empty field as an empty string, so columns that hold missing values are read
    through a variable and set to NULL when empty (no such column holds an empty string).
    """
    import pymysql

    conn = pymysql.connect(**connect_args, local_infile=True, autocommit=True)
    try:
        with conn.cursor() as cursor:
            for table in tables.values():
                create_table, *create_indexes = create_statements(table, "mariadb", charset)
                cursor.execute(create_table)
                path = folder / f"{table.name}.csv"
                path.write_bytes(_csv(table))
                with_nulls = [c.name for c in table.columns if table.rows[c.name].isna().any()]
                targets = ", ".join(f"@{c.name}" if c.name in with_nulls else c.name for c in table.columns)
                nulls = (" SET " + ", ".join(f"{c} = NULLIF(@{c}, '')" for c in with_nulls)) if with_nulls else ""
                cursor.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {table.name} CHARACTER SET utf8mb4 "
                               f"FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' "
                               f"LINES TERMINATED BY '\\n' ({targets}){nulls}", (str(path),))
                if cursor.rowcount != len(table.rows):
                    raise RuntimeError(f"{table.name}: LOAD DATA loaded {cursor.rowcount} of {len(table.rows)} rows")
                path.unlink()
                for statement in create_indexes:
                    cursor.execute(statement)
    finally:
        conn.close()


def load_sqlite(path: Path, tables: dict[str, SourceTable]) -> None:
    """Create the tables in a SQLite file and fill them with one executemany per table."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        for table in tables.values():
            create_table, *create_indexes = create_statements(table, "sqlite")
            conn.execute(create_table)
            # whole columns become Python values at once; timestamps as ISO text, as SQLite keeps them
            arrow = _arrow(table)
            values = [(pc.strftime(column, "%Y-%m-%d %H:%M:%S") if pa.types.is_timestamp(column.type) else column)
                      .to_pylist() for column in arrow.columns]
            placeholders = ", ".join("?" * len(table.columns))
            conn.executemany(f"INSERT INTO {table.name} VALUES ({placeholders})", zip(*values))
            for statement in create_indexes:
                conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


@dataclass
class LayoutDatabase:
    """A layout's tables loaded into one backend: the ODBC settings that reach them and an engine to
    check them with SQL written in the layout's upper-case names."""

    backend: str
    odbc: dict
    engine: object
    tables: dict
    #: names the checks use besides the tables and their columns (aliases in a stream's query)
    extra_names: ClassVar[tuple[str, ...]] = ()

    def sql(self, statement: str) -> str:
        """``statement`` with the layout's upper-case names quoted where the backend needs it."""
        names = {*self.extra_names, *self.tables, *(c.name for t in self.tables.values() for c in t.columns)}
        return quote_identifiers(statement, names, self.backend)

    def frame(self, statement: str) -> pd.DataFrame:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return pd.read_sql(text(self.sql(statement)), conn)

    def scalar(self, statement: str):
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text(self.sql(statement))).scalar()

    def execute(self, *statements: str) -> None:
        from sqlalchemy import text

        with self.engine.begin() as conn:
            for statement in statements:
                conn.execute(text(self.sql(statement)))
