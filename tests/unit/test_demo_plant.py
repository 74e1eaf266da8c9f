"""The demo plant: reproducible, every defect planted at every scale, manifest keys real, clean data clean."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from mappings.spec import load_spec
from mappings.transforms import TRANSFORMS
from threadline.demo import erp_service, jde, maximo, mes
from threadline.demo.landscape import SOURCES, build_landscape
from threadline.demo.plant import defect_count

RULES = {"LNK-001", "LNK-002", "LNK-003", "LNK-004", "LNK-005", "LNK-006", "LNK-007", "OSP-001", "OSP-002", "OSP-003",
         "OSP-004", "OSP-005", "OSP-006", "CST-003", "TRC-001", "OSP-007", "OSP-008", "OSP-009", "CST-001", "CST-002",
         "CST-004",
         "TRC-002", "TRC-003", "TRC-004", "TRC-005", "DQ-001", "DQ-002"}
SPECS = Path(__file__).resolve().parents[2] / "mappings" / "specs"
B2MML = "{http://www.mesa.org/xml/B2MML}"


def _table_digests(db: Path) -> dict[str, str]:
    """A digest of every table's rows in key order, so equal data gives equal digests."""
    conn = sqlite3.connect(db)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        digests = {}
        for name in names:
            digest = hashlib.sha256()
            for row in conn.execute(f'SELECT * FROM "{name}" ORDER BY 1, 2, 3'):
                digest.update(repr(row).encode())
            digests[name] = digest.hexdigest()
        return digests
    finally:
        conn.close()


def _landscape_digest(out: Path) -> dict[str, object]:
    files = sorted((out / mes.OUTBOX).glob("*.xml"))
    return {
        "jde": _table_digests(out / jde.FILE_NAME),
        "maximo": _table_digests(out / maximo.FILE_NAME),
        "soap": _table_digests(out / "legacy_erp" / erp_service.DATABASE),
        "mes": {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files},
        "manifest": json.loads((out / "manifest.json").read_text()),
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return build_landscape(tmp_path_factory.mktemp("scale50"), scale=50, seed=7)


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    return build_landscape(tmp_path_factory.mktemp("scale2000"), scale=2000, seed=7)


def _manifest(landscape) -> dict:
    return json.loads(landscape.manifest_path.read_text())


def test_same_seed_builds_the_same_data_even_into_the_same_folder(tmp_path, small):
    again = build_landscape(tmp_path, scale=50, seed=7)
    first = _landscape_digest(small.out_dir)
    assert _landscape_digest(again.out_dir) == first
    rebuilt = build_landscape(tmp_path, scale=50, seed=7)  # overwrites the folder it built before
    assert _landscape_digest(rebuilt.out_dir) == first


def test_another_seed_builds_other_data(tmp_path, small):
    other = build_landscape(tmp_path, scale=50, seed=8)
    mine, theirs = _landscape_digest(small.out_dir), _landscape_digest(other.out_dir)
    for source in ("jde", "maximo", "soap", "mes"):
        assert mine[source] != theirs[source], source
    assert mine["manifest"]["defects"] != theirs["manifest"]["defects"]


def test_rebuilding_another_plant_forgets_the_old_plants_warehouse(tmp_path):
    build_landscape(tmp_path, scale=50, seed=7)
    (tmp_path / "warehouse.sqlite").write_text("rows of plant 7")
    (tmp_path / "reports").mkdir()
    build_landscape(tmp_path, scale=50, seed=7)
    assert (tmp_path / "warehouse.sqlite").exists() and (tmp_path / "reports").is_dir()
    build_landscape(tmp_path, scale=50, seed=8)
    assert not (tmp_path / "warehouse.sqlite").exists() and not (tmp_path / "reports").exists()
    assert (tmp_path / "erp_jde.sqlite").exists()


def test_each_build_gets_its_own_secret_and_the_config_only_names_it(tmp_path, small):
    other = build_landscape(tmp_path, scale=50, seed=7)
    password = small.env["THREADLINE_DEMO_ERP_PASSWORD"]
    assert len(password) >= 24 and password != other.env["THREADLINE_DEMO_ERP_PASSWORD"]
    assert password not in small.config_path.read_text()
    assert password not in small.manifest_path.read_text()
    assert (small.out_dir / "demo.env").read_text() == f"THREADLINE_DEMO_ERP_PASSWORD={password}\n"


@pytest.mark.parametrize("fixture", ["small", "medium"])
def test_every_rule_is_planted_on_every_site_it_can_be(request, fixture):
    landscape = request.getfixturevalue(fixture)
    manifest = _manifest(landscape)
    defects = manifest["defects"]
    assert {d["rule_id"] for d in defects} == RULES
    n = defect_count(manifest["scale"])
    by_rule_source = pd.DataFrame(defects).groupby(["rule_id", "subject_entity", "source_system"]).size().to_dict()
    # both ERPs name missing work and operations; both sites' OSP lines run late
    assert by_rule_source[("LNK-001", "po_line", "jde")] == 2 * n
    assert by_rule_source[("LNK-001", "po_line", "erp_soap")] == 2 * n
    assert by_rule_source[("OSP-005", "po_line", "jde")] == n
    assert by_rule_source[("OSP-005", "po_line", "erp_soap")] == n
    assert by_rule_source[("LNK-002", "work_order", "maximo")] == 2 * n
    assert by_rule_source[("LNK-002", "wo_po_link", "maximo")] == 2 * n
    assert by_rule_source[("CST-003", "invoice_line", "erp_soap")] == n
    assert by_rule_source[("CST-003", "material_issue", "maximo")] == 2 * n
    assert by_rule_source[("TRC-001", "work_order", "mes")] == 2 * n
    # the link defects of production work, on both sites
    for erp in ("jde", "erp_soap"):
        assert by_rule_source[("LNK-003", "po_line", erp)] == n
        assert by_rule_source[("LNK-004", "po_line", erp)] == n
    assert by_rule_source[("LNK-005", "work_order", "mes")] == 2 * n
    # outside processing on both sites: unapproved processors, operations done before or long after
    # the parts came back, batches back short and per-kg heat treatment that cannot be compared
    for erp in ("jde", "erp_soap"):
        assert by_rule_source[("OSP-002", "po_line", erp)] == n
        assert by_rule_source[("OSP-006", "po_line", erp)] == 2 * n
    assert by_rule_source[("OSP-003", "wo_operation", "mes")] == 2 * n
    assert by_rule_source[("OSP-004", "wo_operation", "mes")] == 2 * n
    assert by_rule_source[("LNK-007", "wo_operation", "mes")] == 2 * n
    # receiving and invoices, in each site's ERP: two OSP-009 variants (never received, over-invoiced)
    for erp in ("jde", "erp_soap"):
        assert by_rule_source[("OSP-007", "receipt", erp)] == n
        assert by_rule_source[("OSP-008", "receipt", erp)] == n
        assert by_rule_source[("OSP-009", "po_line", erp)] == 2 * n
        assert by_rule_source[("CST-001", "invoice_line", erp)] == n
    # a maintenance overrun and a late invoice on a closed production order, on both sites
    assert by_rule_source[("CST-002", "work_order", "maximo")] == 2 * n
    assert by_rule_source[("CST-004", "work_order", "mes")] == 2 * n
    # traceability: both sites issue and buy material for orders; only NORTH's ERP copies the MES's orders
    assert by_rule_source[("TRC-002", "material_issue", "mes")] == 2 * n
    assert by_rule_source[("TRC-002", "receipt", "erp_soap")] == n
    for erp in ("jde", "erp_soap"):
        assert by_rule_source[("TRC-005", "receipt", erp)] == n
    # a data-quality defect: JD Edwards lines keyed with a negative price, held back by the po_line suite
    assert by_rule_source[("DQ-001", "po_line", "jde")] == n
    # and its secondary: the tasks of the Maximo work orders quarantined for an unknown status
    assert by_rule_source[("DQ-002", "wo_operation", "maximo")] >= 1
    assert by_rule_source[("TRC-003", "work_order", "mes")] == n
    assert by_rule_source[("TRC-003", "work_order", "jde")] == n
    assert by_rule_source[("TRC-004", "work_order", "jde")] == n
    # a dangling MES PO reference on an OSP op is two findings about the same op
    dangling = {d["source_key"] for d in defects if d["rule_id"] == "LNK-002" and d["subject_entity"] == "wo_operation"}
    osp001 = {d["source_key"] for d in defects if d["rule_id"] == "OSP-001"}
    assert dangling and dangling <= osp001
    # each line that lost its link to work (LNK-006) leaves its released operation without a PO line too
    unlinked = manifest["link_truth"]
    assert len(osp001) == 4 * n + len(unlinked)
    assert sum(v for k, v in by_rule_source.items() if k[0] == "LNK-006") == len(unlinked) >= 1
    if manifest["scale"] >= 1000:
        assert {t["site"] for t in unlinked} == {"NORTH", "SOUTH"}
        assert {t["kind"] for t in unlinked} == {"osp", "service"}
    assert {q["stream"] for q in manifest["quarantine"]} == {"po_lines", "work_orders", "operations"}
    assert len({(d["rule_id"], d["subject_entity"], d["source_system"], d["source_key"]) for d in defects}) == len(defects)
    assert len({d["exception_id"] for d in defects}) == len(defects)


def test_defect_counts_grow_with_scale(small, medium):
    def counted(landscape):
        # the unlinked lines grow with the open lines there are to unlink (threadline.demo.suggestions);
        # DQ-002 counts the tasks of the quarantined work orders, one to three each
        return [d for d in _manifest(landscape)["defects"]
                if d["rule_id"] not in ("LNK-006", "DQ-002") and "(LNK-006)" not in d["note"]]
    assert len(counted(medium)) == 4 * len(counted(small))


# ---------------------------------------------------------------------------- source keys

def _sql_frame(db: Path, settings: dict) -> pd.DataFrame:
    sql = settings.get("query") or f'SELECT * FROM "{settings["table"]}"'
    conn = sqlite3.connect(db)
    try:
        return pd.read_sql_query(sql, conn)
    finally:
        conn.close()


def _soap_frame(data_dir: Path, stream: str) -> pd.DataFrame:
    conn = sqlite3.connect(data_dir / erp_service.DATABASE)
    try:
        if stream == "po_lines":
            # the web service nests lines in their PO: the header's fields come prefixed
            return pd.read_sql_query(
                'SELECT l.*, h.PONumber AS "PurchaseOrder.PONumber", h.Site AS "PurchaseOrder.Site" '
                "FROM PO_LINE l JOIN PURCHASE_ORDER h ON h.PONumber = l.PONumber", conn)
        table = {"purchase_orders": "PURCHASE_ORDER", "receipts": "RECEIPT", "invoices": "INVOICE",
                 "vendors": "VENDOR"}[stream]
        return pd.read_sql_query(f"SELECT * FROM {table}", conn)
    finally:
        conn.close()


def _mes_frame(outbox: Path, stream: str) -> pd.DataFrame:
    rows = []
    for path in sorted(outbox.glob("*.xml")):
        for request in etree.parse(str(path)).getroot().iter(f"{B2MML}OperationsRequest"):
            wo = request.findtext(f"{B2MML}ID")
            if stream == "work_orders":
                rows.append({"ID": wo})
                continue
            for segment in request.iter(f"{B2MML}SegmentRequirement"):
                seq = segment.findtext(f"{B2MML}ID")
                if stream == "operations":
                    rows.append({"OperationsRequest.ID": wo, "ID": seq})
                    continue
                for material in segment.iter(f"{B2MML}MaterialRequirement"):
                    rows.append({"OperationsRequest.ID": wo, "SegmentRequirement.ID": seq,
                                 "ID": material.findtext(f"{B2MML}ID")})
    return pd.DataFrame(rows)


def _source_keys(spec_path: Path, frame: pd.DataFrame) -> set[str]:
    """The source keys the spec builds from these rows (its key columns and transforms, joined)."""
    rule = load_spec(spec_path).source_key
    parts = []
    for column in rule.columns:
        values = frame[column]
        for step in rule.transforms:
            values = TRANSFORMS[step.name].func(values, step.arg).values
        parts.append(values.astype(str))
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + rule.join + part
    return set(joined)


def _stream_frame(landscape, source: str, stream: str) -> pd.DataFrame:
    out = landscape.out_dir
    if source == "jde":
        return _sql_frame(out / jde.FILE_NAME, jde.STREAMS[stream])
    if source == "maximo":
        return _sql_frame(out / maximo.FILE_NAME, maximo.STREAMS[stream])
    if source == "erp_soap":
        return _soap_frame(out / "legacy_erp", stream)
    return _mes_frame(out / mes.OUTBOX, stream)


def test_manifest_counts_and_keys_are_those_of_the_source_data(medium):
    manifest = _manifest(medium)
    stream_of_subject = {
        ("jde", "po_line"): "po_lines", ("erp_soap", "po_line"): "po_lines",
        ("erp_soap", "invoice_line"): "invoices", ("maximo", "work_order"): "work_orders",
        ("jde", "receipt"): "receipts", ("erp_soap", "receipt"): "receipts", ("jde", "invoice_line"): "vouchers",
        ("maximo", "wo_po_link"): "po_links", ("maximo", "material_issue"): "material_issues",
        ("mes", "wo_operation"): "operations", ("mes", "work_order"): "work_orders",
        ("maximo", "wo_operation"): "tasks",
        ("mes", "material_issue"): "material_issues", ("jde", "work_order"): "work_orders",
        ("jde", "receipt"): "receipts", ("erp_soap", "receipt"): "receipts",
    }
    keys: dict[tuple[str, str], set[str]] = {}
    for source, (_, streams) in SOURCES.items():
        for stream, settings in streams.items():
            frame = _stream_frame(medium, source, stream)
            assert len(frame) == manifest["counts"][source][stream], (source, stream)
            keys[(source, stream)] = _source_keys(SPECS / settings["mapping"], frame)
            assert len(keys[(source, stream)]) == len(frame), f"{source}.{stream} source keys are not unique"
    for defect in manifest["defects"]:
        stream = stream_of_subject[(defect["source_system"], defect["subject_entity"])]
        assert defect["source_key"] in keys[(defect["source_system"], stream)], defect
    for row in manifest["quarantine"]:
        assert row["source_key"] in keys[(row["source"], row["stream"])], row


# ---------------------------------------------------------------------------- clean references

def _planted_keys(manifest: dict, rule: str, subject: str) -> set[str]:
    return {d["source_key"] for d in manifest["defects"] if d["rule_id"] == rule and d["subject_entity"] == subject}


def test_clean_work_order_references_resolve_at_their_own_site(medium):
    out, manifest = medium.out_dir, _manifest(medium)
    cmms = _sql_frame(out / maximo.FILE_NAME, {"query": "SELECT WONUM, SITEID, ISTASK, PARENT, TASKID FROM WORKORDER"})
    wos = _mes_frame(out / mes.OUTBOX, "operations")
    tasks = cmms[cmms["ISTASK"] == 1].astype({"TASKID": "int64"})
    north_ops = {(p, str(t)) for p, t in zip(tasks.loc[tasks["SITEID"] == "NTH", "PARENT"],
                                             tasks.loc[tasks["SITEID"] == "NTH", "TASKID"])}
    south_ops = {(p, str(t)) for p, t in zip(tasks.loc[tasks["SITEID"] == "STH", "PARENT"],
                                             tasks.loc[tasks["SITEID"] == "STH", "TASKID"])}
    site_of_mes = {}
    for path in sorted((out / mes.OUTBOX).glob("*.xml")):
        for request in etree.parse(str(path)).getroot().iter(f"{B2MML}OperationsRequest"):
            site_of_mes[request.findtext(f"{B2MML}ID")] = request.findtext(f"{B2MML}HierarchyScope/{B2MML}EquipmentID")
    for wo, seq in zip(wos["OperationsRequest.ID"], wos["ID"]):
        (north_ops if site_of_mes[wo] == "PLANT-N" else south_ops).add((wo, seq))
    # material bought for a work order names the order and no operation
    north_ops |= {(wo, "0") for wo, site in site_of_mes.items() if site == "PLANT-N"}
    south_ops |= {(wo, "") for wo, site in site_of_mes.items() if site == "PLANT-S"}

    planted = _planted_keys(manifest, "LNK-001", "po_line")
    f4311 = _sql_frame(out / jde.FILE_NAME, {"table": "F4311"})
    named = f4311[f4311["PDRORN"].str.strip() != ""]
    assert len(named) > 10
    assert named["PDRORN"].str.len().eq(12).all()
    checked = 0
    for row in named.itertuples():
        key = jde.line_source_key(row.PDDOCO, row.PDLNID // 1000)
        wo = row.PDRORN.strip().lstrip("0")
        found = (wo, str(row.PDRLLN // 100)) in north_ops
        assert found != (key in planted), (key, wo, row.PDRLLN)
        checked += 1
    soap = _soap_frame(out / "legacy_erp", "po_lines")
    named = soap[soap["WorkOrderRef"].notna()]
    for row in named.itertuples():
        key = f"{row.PONumber}|{row.LineNo}"
        found = (row.WorkOrderRef, row.OperationRef if isinstance(row.OperationRef, str) else "") in south_ops
        assert found != (key in planted), (key, row.WorkOrderRef, row.OperationRef)
        checked += 1
    assert checked > 100


def test_clean_po_references_from_the_work_side_resolve(medium):
    out, manifest = medium.out_dir, _manifest(medium)
    north = _sql_frame(out / jde.FILE_NAME, {"table": "F4311"})
    lines = {("NTH", str(d), str(n // 1000)) for d, n in zip(north["PDDOCO"], north["PDLNID"])}
    south = _soap_frame(out / "legacy_erp", "po_lines")
    lines |= {("STH", p, str(n)) for p, n in zip(south["PONumber"], south["LineNo"])}

    workorders = _sql_frame(out / maximo.FILE_NAME, {"query": "SELECT * FROM WORKORDER WHERE GENERATEDFORPO IS NOT NULL"})
    planted = _planted_keys(manifest, "LNK-002", "work_order")
    assert len(workorders) > len(planted) > 0
    for row in workorders.itertuples():
        found = (row.SITEID, row.GENERATEDFORPO, str(int(row.GENFORPOLINEID))) in lines
        assert found != (f"{row.SITEID}|{row.WONUM}" in planted), row

    polines = _sql_frame(out / maximo.FILE_NAME, {"table": "POLINE"})
    planted = _planted_keys(manifest, "LNK-002", "wo_po_link")
    for row in polines.itertuples():
        found = (row.SITEID, row.PONUM, str(row.POLINENUM)) in lines
        assert found != (f"{row.SITEID}|{row.PONUM}|{row.POLINENUM}" in planted), row

    planted = _planted_keys(manifest, "LNK-002", "wo_operation")
    named = 0
    for path in sorted((out / mes.OUTBOX).glob("*.xml")):
        for request in etree.parse(str(path)).getroot().iter(f"{B2MML}OperationsRequest"):
            site = "NTH" if request.findtext(f"{B2MML}HierarchyScope/{B2MML}EquipmentID") == "PLANT-N" else "STH"
            for segment in request.iter(f"{B2MML}SegmentRequirement"):
                params = {p.findtext(f"{B2MML}ID"): p.findtext(f"{B2MML}Value/{B2MML}ValueString") or ""
                          for p in segment.iter(f"{B2MML}SegmentParameter")}
                if not params["PurchaseOrder"]:
                    continue
                named += 1
                key = f"{request.findtext(f'{B2MML}ID')}|{segment.findtext(f'{B2MML}ID')}"
                found = (site, params["PurchaseOrder"], params["PurchaseOrderLine"]) in lines
                assert found != (key in planted), key
    assert named > len(planted)


def test_open_po_lines_are_not_overdue_unless_planted(medium):
    out, manifest = medium.out_dir, _manifest(medium)
    planted = _planted_keys(manifest, "OSP-005", "po_line")
    as_of = int(datetime.fromisoformat(manifest["as_of"]).strftime("%j")) + (2026 - 1900) * 1000
    north = _sql_frame(out / jde.FILE_NAME, {"table": "F4311"})
    overdue = north[(north["PDLTTR"] == "220") & (north["PDPDDJ"] < as_of)]
    assert {jde.line_source_key(d, n // 1000) for d, n in zip(overdue["PDDOCO"], overdue["PDLNID"])} == \
        {k for k in planted if k.startswith("00001|")}
    south = _soap_frame(out / "legacy_erp", "po_lines")
    overdue = south[(south["Status"] == "OPEN") & (south["NeedByDate"] < manifest["as_of"])]
    assert {f"{p}|{n}" for p, n in zip(overdue["PONumber"], overdue["LineNo"])} == \
        {k for k in planted if k.startswith("PO-")}


def test_jde_supplier_approvals_and_per_kg_heat_treatment(medium):
    """F550401 approves every OSP line's processor but the planted ones; per-kg lines convert to pieces."""
    out, manifest = medium.out_dir, _manifest(medium)
    suppliers = _sql_frame(out / jde.FILE_NAME, jde.STREAMS["suppliers"])
    approved = {(int(s), p) for s, procs in zip(suppliers["ABAN8"], suppliers["APPRCSL"].fillna(""))
                for p in procs.split(",") if p}
    lines = _sql_frame(out / jde.FILE_NAME, {"table": "F4311"})
    osp = lines[lines["PDLNTY"].str.strip() == "OP"]
    # an OSP line's description starts with its process ("Heat Treat of MO-26-000123 op 30"); the
    # lines that lost their link to work (LNK-006) are described otherwise and left out here
    process = {"Heat Treat ": "HEAT_TREAT", "Plating ": "PLATING", "Ndt ": "NDT", "Coating ": "COATING"}
    named = [(jde.line_source_key(d, n // 1000), int(s), next((v for k, v in process.items() if text.startswith(k)), None))
             for d, n, s, text in zip(osp["PDDOCO"], osp["PDLNID"], osp["PDAN8"], osp["PDDSC1"].str.strip())]
    unapproved = {key for key, supplier, proc in named if proc and (supplier, proc) not in approved}
    assert unapproved == {k for k in _planted_keys(manifest, "OSP-002", "po_line") if k.startswith("00001|")}
    assert (osp["PDUOM"].str.strip() == "KG").sum() == 2 * defect_count(manifest["scale"])
