"""The demo's legacy layouts: JD Edwards quirks, Maximo tables, B2MML that validates, shipped specs that load."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from mappings.spec import load_spec
from threadline.demo import erp_service, jde, maximo, mes
from threadline.demo.landscape import SOURCES, build_landscape
from threadline.demo.plant import AS_OF, HORIZON_DAYS

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "mappings" / "specs"
REALWORLD = REPO / ".." / "shared" / "realworld"
B2MML = "{http://www.mesa.org/xml/B2MML}"
PARAMETERS = {"WorkCenter", "Quantity", "OutsideProcessing", "Process", "Supplier", "PurchaseOrder", "PurchaseOrderLine",
              "InspectionRequired", "InspectionSignedOffBy", "MaterialLot"}


@pytest.fixture(scope="module")
def landscape(tmp_path_factory):
    return build_landscape(tmp_path_factory.mktemp("layouts"), scale=600, seed=21)


def _read(db: Path, sql: str) -> pd.DataFrame:
    conn = sqlite3.connect(db)
    try:
        return pd.read_sql_query(sql, conn)
    finally:
        conn.close()


def _from_julian(value: int) -> date:
    return date(1900 + value // 1000, 1, 1) + timedelta(days=value % 1000 - 1)


# ---------------------------------------------------------------------------- JD Edwards

def test_jde_keeps_char_padding_with_right_justified_business_units(landscape):
    db = landscape.out_dir / jde.FILE_NAME
    lines = _read(db, "SELECT * FROM F4311")
    assert set(lines["PDMCU"]) <= {"        P100", "        P110"}
    assert set(lines["PDMCU"]) == {"        P100", "        P110"}
    assert lines["PDLITM"].str.len().eq(25).all() and lines["PDDSC1"].str.len().eq(30).all()
    stock = lines[lines["PDLNTY"] == "S "]
    assert (stock["PDLITM"].str.rstrip() != stock["PDLITM"]).all()
    assert set(lines["PDLNTY"]) == {"S ", "J ", "OP"}
    declared = {row[1]: row[2] for row in sqlite3.connect(db).execute("PRAGMA table_info(F4311)")}
    assert declared["PDMCU"] == "CHAR(12)" and declared["PDUORG"] == "INTEGER"
    items = _read(db, "SELECT IMLITM FROM F4101")
    assert items["IMLITM"].str.len().eq(25).all()


def test_jde_dates_are_julian_within_the_plant_horizon(landscape):
    db = landscape.out_dir / jde.FILE_NAME
    headers = _read(db, "SELECT PHTRDJ, PHUPMJ, PHTDAY FROM F4301")
    earliest = AS_OF - timedelta(days=HORIZON_DAYS + 10)
    for value in headers["PHTRDJ"]:
        assert 100000 < value < 200000
        assert earliest <= _from_julian(value) <= AS_OF
    assert headers["PHTDAY"].between(0, 235959).all()
    lines = _read(db, "SELECT PDPDDJ FROM F4311")
    invalid = lines[lines["PDPDDJ"] % 1000 > 366]
    assert list(invalid["PDPDDJ"]) == [126400]  # the one planted for quarantine at this scale


def test_jde_implied_decimals_agree_with_each_other(landscape):
    db = landscape.out_dir / jde.FILE_NAME
    lines = _read(db, "SELECT PDLNID, PDRLLN, PDUORG, PDPRRC, PDAEXP, PDRORN FROM F4311")
    assert (lines["PDLNID"] % 1000 == 0).all()
    linked = lines[lines["PDRORN"].str.strip() != ""]
    assert (linked["PDRLLN"] % 1000 == 0).all()
    # an operation is named (x 100), except by material bought for the whole work order (0)
    assert (linked["PDRLLN"] > 0).any() and (linked["PDRLLN"] == 0).any()
    extended = lines["PDUORG"] / 100 * lines["PDPRRC"] / 10000
    assert (abs(extended - lines["PDAEXP"] / 100) <= 0.01).all()
    rates = _read(db, "SELECT CXCRCD, CXCRDC, CXEFT, CXCRR FROM F0015")
    assert set(rates["CXCRCD"]) == {"EUR", "GBP"} and set(rates["CXCRDC"]) == {"USD"}
    assert _from_julian(int(rates["CXEFT"].min())) < AS_OF - timedelta(days=HORIZON_DAYS)
    receipts = _read(db, "SELECT PRMATC, PRDCT FROM F43121")
    assert set(zip(receipts["PRMATC"], receipts["PRDCT"])) == {("1", "OV"), ("2", "PV")}


# ---------------------------------------------------------------------------- Maximo

def test_maximo_tasks_follow_their_parents_and_services_join_to_tasks(landscape):
    db = landscape.out_dir / maximo.FILE_NAME
    orders = _read(db, "SELECT * FROM WORKORDER")
    parents = orders[orders["ISTASK"] == 0]
    tasks = orders[orders["ISTASK"] == 1]
    assert parents["PARENT"].isna().all() and tasks["PARENT"].isin(parents["WONUM"]).all()
    assert (tasks["TASKID"] % 10 == 0).all()
    assert not set(tasks["WONUM"]) & set(parents["WONUM"])
    assert set(orders["SITEID"]) == {"NTH", "STH"}
    assert orders["CHANGEDATE"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    joined = _read(db, maximo.STREAMS["tasks"]["query"])
    assert len(joined) == len(tasks)
    services = _read(db, "SELECT COUNT(*) AS n FROM WPSERVICE")["n"][0]
    assert (joined["OUTSIDE"] == "Y").sum() == services > 0
    issues = _read(db, "SELECT QUANTITY, ISSUETYPE, CURRENCYCODE FROM MATUSETRANS")
    assert (issues["QUANTITY"] < 0).all() and set(issues["ISSUETYPE"]) == {"ISSUE"}
    assert set(issues["CURRENCYCODE"]) == {"USD", "EUR", "CHF"}


# ---------------------------------------------------------------------------- MES

def test_every_mes_operation_carries_every_parameter(landscape):
    files = sorted((landscape.out_dir / mes.OUTBOX).glob("*.xml"))
    assert files and [f.name for f in files] == [f"OPS-SCHEDULE-{i + 1:04d}.xml" for i in range(len(files))]
    operations = 0
    for path in files:
        root = etree.parse(str(path)).getroot()
        requests = root.findall(f"{B2MML}OperationsRequest")
        assert 0 < len(requests) <= mes.REQUESTS_PER_FILE
        for segment in root.iter(f"{B2MML}SegmentRequirement"):
            names = [p.findtext(f"{B2MML}ID") for p in segment.findall(f"{B2MML}SegmentParameter")]
            assert sorted(names) == sorted(PARAMETERS)
            operations += 1
    assert operations == json.loads(landscape.manifest_path.read_text())["counts"]["mes"]["operations"]


def test_mes_files_validate_against_the_b2mml_v0701_schema(landscape):
    xsd = (REALWORLD / "b2mml-v0701" / "Schema" / "AllSchemas.xsd").resolve()
    if not xsd.is_file():
        pytest.skip(f"the MESA B2MML V0701 schemas are not at {xsd} (the shared folder next to the checkout)")
    schema = etree.XMLSchema(etree.parse(str(xsd)))
    for path in sorted((landscape.out_dir / mes.OUTBOX).glob("*.xml")):
        document = etree.parse(str(path))
        assert schema.validate(document), f"{path.name}: {schema.error_log.last_error}"
    broken = etree.fromstring((landscape.out_dir / mes.OUTBOX / "OPS-SCHEDULE-0001.xml").read_bytes())
    broken.find(f"{B2MML}OperationsRequest/{B2MML}RequestState").text = "Finished"
    assert not schema.validate(broken)


# ---------------------------------------------------------------------------- legacy ERP and config

def test_legacy_erp_numbers_pos_the_legacy_way(landscape):
    data = landscape.out_dir / "legacy_erp"
    orders = _read(data / erp_service.DATABASE, "SELECT PONumber, Currency, Site FROM PURCHASE_ORDER")
    assert orders["PONumber"].str.fullmatch(r"PO-\d{7}").all()
    assert set(orders["Currency"]) <= {"EUR", "GBP"} and set(orders["Site"]) == {erp_service.SITE_CODE}
    wsdl = etree.parse(str(data / erp_service.WSDL))
    location = wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address").get("location")
    assert location == f"http://127.0.0.1:{landscape.erp_port}{erp_service.SERVICE_PATH}"


def test_config_names_every_stream_with_a_spec_that_loads(landscape):
    import threadline.config as config
    os.environ.update(landscape.env)
    loaded = config.load_config(landscape.config_path)
    assert [s.name for s in loaded.sources] == list(SOURCES)
    assert loaded.rules.as_of == AS_OF
    soap = loaded.source("erp_soap")
    assert soap.connection["password_env"] == "THREADLINE_DEMO_ERP_PASSWORD" and "password" not in soap.connection
    for source in loaded.sources:
        assert [s["name"] for s in source.streams] == list(SOURCES[source.name][1])


def test_every_shipped_demo_spec_loads():
    specs = sorted(SPECS.glob("demo_*/*.yaml"))
    assert len(specs) == sum(len(streams) for _, streams in SOURCES.values())
    for path in specs:
        assert load_spec(path).source_key.columns, path


@pytest.mark.parametrize("source, db", [("jde", jde.FILE_NAME), ("maximo", maximo.FILE_NAME)])
def test_sql_specs_read_only_columns_their_stream_has(landscape, source, db):
    for stream, settings in SOURCES[source][1].items():
        sql = settings.get("query") or f'SELECT * FROM "{settings["table"]}"'
        columns = set(_read(landscape.out_dir / db, f"SELECT * FROM ({sql}) LIMIT 1").columns)
        spec = load_spec(SPECS / settings["mapping"])
        assert set(spec.source_columns) <= columns, (stream, set(spec.source_columns) - columns)
        assert set(settings["key"]) | set(settings["bookmark"]) <= columns, stream
