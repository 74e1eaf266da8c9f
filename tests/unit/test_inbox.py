"""The inbox lifecycle on its own (no warehouse): verdicts, reasons, encodings, workbooks, one parse per run."""

from __future__ import annotations

import pytest

from connectors.base import ConnectorError
from connectors.filedrop import FileDropConnector, FileDropStream, _cell_text
from connectors.inbox import ProcessedFile, sha256_of

SUPPLIERS = "supplier_id,name\nS1,Acme\nS2,Bolt & Nut\n"


def connector(folder, **connection) -> FileDropConnector:
    return FileDropConnector("drops", {"path": str(folder), **connection})


def stream(name="suppliers", pattern="suppliers_*.csv", **more) -> FileDropStream:
    return FileDropStream(name=name, mapping="unused.yaml", pattern=pattern, **more)


def rows(conn, s, bookmark=None) -> list[dict]:
    return [r for batch in conn.read(s, bookmark) for r in batch.to_pylist()]


def test_good_bad_and_duplicate_files_get_their_verdicts_before_anything_is_read(tmp_path):
    (tmp_path / "suppliers_1.csv").write_text(SUPPLIERS)
    (tmp_path / "suppliers_2.csv").write_text(SUPPLIERS)  # same content, same delivery
    (tmp_path / "suppliers_3.csv").write_text("supplier_id,name\nS3,Old\n")
    (tmp_path / "suppliers_4.csv").write_text("code,name\nS4,No id column\n")
    (tmp_path / "notes.txt").write_text("not for any stream\n")
    (tmp_path / "~$suppliers_5.csv").write_text("an Office lock file\n")
    earlier = {sha256_of(tmp_path / "suppliers_3.csv"): ProcessedFile("suppliers_0.csv", "R-OLD")}
    conn = connector(tmp_path)
    snapshot = conn.open_inbox([stream()], {"suppliers": ("supplier_id", "name")}, earlier)
    verdicts = {f.name: f.status for f in snapshot}
    assert verdicts == {"notes.txt": "rejected", "suppliers_1.csv": "accepted", "suppliers_2.csv": "duplicate",
                        "suppliers_3.csv": "duplicate", "suppliers_4.csv": "rejected"}
    by_name = {f.name: f for f in snapshot}
    assert "suppliers_0.csv" in by_name["suppliers_3.csv"].reason and "R-OLD" in by_name["suppliers_3.csv"].reason
    assert "suppliers_1.csv" in by_name["suppliers_2.csv"].reason
    missing = by_name["suppliers_4.csv"].reason
    assert "['supplier_id']" in missing and "'code'" in missing and "suppliers" in missing
    assert "no stream" in by_name["notes.txt"].reason
    assert [r["supplier_id"] for r in rows(conn, stream())] == ["S1", "S2"]


def test_an_open_inbox_reads_every_accepted_file_whatever_the_stored_bookmark(tmp_path):
    for n in (1, 2):
        (tmp_path / f"suppliers_{n}.csv").write_text(f"supplier_id,name\nS{n},x\n")
    conn = connector(tmp_path)
    assert [r["_file"] for r in rows(conn, stream(), {"_file": "suppliers_2.csv"})] == ["suppliers_2.csv"]
    conn.open_inbox([stream()], {}, {})
    # a file named before the bookmark that is still in the inbox was never processed: it is read
    assert [r["_file"] for r in rows(conn, stream(), {"_file": "suppliers_2.csv"})] == ["suppliers_1.csv",
                                                                                     "suppliers_2.csv"]


def test_rejected_file_moves_with_a_reason_file_naming_line_problem_and_fix(tmp_path):
    (tmp_path / "suppliers_1.csv").write_bytes(b"supplier_id,name\nS1,ok\nS2,M\xfcller\n")
    conn = connector(tmp_path)
    [file] = conn.open_inbox([stream()], {}, {})
    assert file.status == "rejected" and file.error.line == 3
    text = conn.reason_text(file, run_id="R-1", at="2026-11-22T10:00:00")
    target = conn.settle_file(file, "rejected", run_id="R-1", reason_text=text)
    assert target == tmp_path / "rejected" / "suppliers_1.csv" and not (tmp_path / "suppliers_1.csv").exists()
    reason = (tmp_path / "rejected" / "suppliers_1.csv.reason.txt").read_text()
    assert "file: suppliers_1.csv" in reason and "line: 3" in reason and "R-1" in reason
    assert "not utf-8" in reason and "connection.encoding" in reason
    # the same name rejected again does not overwrite the first one
    (tmp_path / "suppliers_1.csv").write_bytes(b"supplier_id,name\nS1,M\xfcller\n")
    [again] = connector(tmp_path).open_inbox([stream()], {}, {})
    second = conn.settle_file(again, "rejected", run_id="R-2", reason_text="x")
    assert second.name == "suppliers_1.R-2.csv" and (tmp_path / "rejected" / "suppliers_1.csv").exists()


def test_encodings_declared_bom_utf8_and_fallback(tmp_path):
    text = "supplier_id,name\nS1,Dichtung für Pumpe – é\n"
    (tmp_path / "suppliers_cp.csv").write_bytes(text.encode("cp1252"))
    assert rows(connector(tmp_path, encoding="cp1252"), stream())[0]["name"] == "Dichtung für Pumpe – é"
    assert rows(connector(tmp_path, fallback_encoding="cp1252"), stream())[0]["name"] == "Dichtung für Pumpe – é"
    with pytest.raises(ConnectorError, match=r"suppliers_cp.csv, line 2: its bytes are not utf-8"):
        rows(connector(tmp_path), stream())
    (tmp_path / "suppliers_cp.csv").unlink()
    (tmp_path / "suppliers_bom.csv").write_bytes(text.encode("utf-16"))
    [row] = rows(connector(tmp_path), stream())
    assert row["supplier_id"] == "S1" and row["name"] == "Dichtung für Pumpe – é"
    (tmp_path / "suppliers_bom.csv").write_bytes(text.encode("utf-8-sig"))
    assert list(rows(connector(tmp_path), stream())[0]) == ["supplier_id", "name", "_file", "_row"]
    with pytest.raises(ValueError, match="unknown text encoding"):
        connector(tmp_path, encoding="cp9999")


def test_dialect_text_columns_empty_cells_and_decimal_comma(tmp_path):
    (tmp_path / "export.csv").write_text('Titel der Liste\nPO;Menge;Preis;Text\n'
                                         'PO-1;1.234,5;0012,50;"Zeile mit ; und\nUmbruch"\nPO-2;;7;\nNA;1;1;NULL\n')
    conn = connector(tmp_path, delimiter=";", decimal=",", thousands=".", skip_rows=1)
    got = rows(conn, stream(pattern="*.csv", numbers=["Menge", "Preis"]))
    assert got[0] == {"PO": "PO-1", "Menge": "1234.5", "Preis": "0012.50", "Text": "Zeile mit ; und\nUmbruch",
                      "_file": "export.csv", "_row": 1}
    assert got[1]["Menge"] is None and got[1]["Text"] is None and got[1]["_row"] == 2
    assert (got[2]["PO"], got[2]["Text"]) == ("NA", "NULL"), "only an empty field is missing"


def test_a_row_with_the_wrong_number_of_fields_rejects_the_file_naming_its_line(tmp_path):
    (tmp_path / "suppliers_1.csv").write_text("supplier_id,name\nS1,a\nS2,b,extra\n")
    [file] = connector(tmp_path).open_inbox([stream()], {}, {})
    assert file.status == "rejected" and file.error.line == 3 and "3 field(s)" in file.reason


def test_workbooks_read_as_text_and_bad_workbooks_are_rejected(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from datetime import date, datetime

    book = openpyxl.Workbook()
    book.active.title = "Summary"
    sheet = book.create_sheet("Lines")
    sheet.append(["po_number", "line", "qty", "price", "due", "confirmed"])
    sheet.append(["PO-1", 1, 12, 12.5, date(2026, 1, 5), datetime(2026, 1, 5, 8, 30)])
    sheet.append([None, None, None, None, None, None])
    book.save(tmp_path / "lines_1.xlsx")
    (tmp_path / "lines_2.xlsx").write_text("po_number,line\nPO-2,1\n")  # a CSV named .xlsx
    s = stream("lines", "lines_*.xlsx", sheet="Lines")
    conn = connector(tmp_path)
    snapshot = {f.name: f for f in conn.open_inbox([s, stream("other", "lines_*.xlsx", sheet="Nope")], {}, {})}
    assert "no sheet 'Nope'" in snapshot["lines_1.xlsx"].reason and "Lines" in snapshot["lines_1.xlsx"].reason
    assert "not an XLSX workbook" in snapshot["lines_2.xlsx"].reason
    conn = connector(tmp_path)
    conn.open_inbox([s], {"lines": ("po_number", "qty")}, {})
    [row] = rows(conn, s)
    assert row == {"po_number": "PO-1", "line": "1", "qty": "12", "price": "12.5", "due": "2026-01-05",
                   "confirmed": "2026-01-05 08:30:00", "_file": "lines_1.xlsx", "_row": 1}
    assert (_cell_text(True), _cell_text(3.0), _cell_text(""), _cell_text(0.1)) == ("true", "3", None, "0.1")


def test_each_file_is_parsed_once_per_run_for_every_stream(tmp_path):
    (tmp_path / "suppliers_1.csv").write_text(SUPPLIERS)
    conn = connector(tmp_path)
    both = [stream(), stream("names", "suppliers_*.csv")]
    conn.open_inbox(both, {}, {})
    for s in both:
        assert len(rows(conn, s)) == 2
    assert conn.parses == 1
    uncached = connector(tmp_path, cache_mb=0)
    uncached.open_inbox(both, {}, {})
    for s in both:
        rows(uncached, s)
    assert uncached.parses == 3


def test_b2mml_files_are_parsed_once_for_all_streams_and_bad_ones_rejected_before_reading(tmp_path):
    from connectors.b2mml import B2mmlConnector, B2mmlStream
    from tests.unit.test_b2mml_connector import DOC

    (tmp_path / "OPS-0001.xml").write_text(DOC)
    (tmp_path / "OPS-0002.xml").write_text(DOC.replace("MO-26-000123", "MO-26-000124"))
    (tmp_path / "OPS-0003.xml").write_text(DOC.replace("</RequestState>", "</RequestStat>"))
    streams = [B2mmlStream(name=n, mapping="x.yaml", records=r) for n, r in [
        ("orders", "OperationsRequest"), ("operations", "OperationsRequest/SegmentRequirement"),
        ("materials", "OperationsRequest/SegmentRequirement/MaterialRequirement")]]
    conn = B2mmlConnector("mes", {"path": str(tmp_path)})
    verdicts = {f.name: (f.status, f.error.line if f.error else None) for f in conn.open_inbox(streams, {}, {})}
    assert verdicts == {"OPS-0001.xml": ("accepted", None), "OPS-0002.xml": ("accepted", None),
                        "OPS-0003.xml": ("rejected", 8)}
    read = {s.name: [r["_file"] for r in rows(conn, s)] for s in streams}
    assert read == {name: ["OPS-0001.xml", "OPS-0002.xml"] for name in read}
    assert conn.parses == 3, "each file parsed once, by the check, for all three streams"
    assert conn.snapshot_reads is False


def test_b2mml_schema_that_does_not_exist_is_a_clear_source_error(tmp_path):
    from connectors.b2mml import B2mmlConnector, B2mmlStream
    from tests.unit.test_b2mml_connector import DOC

    (tmp_path / "OPS-0001.xml").write_text(DOC)
    conn = B2mmlConnector("mes", {"path": str(tmp_path), "schema": str(tmp_path / "nope.xsd")})
    with pytest.raises(ConnectorError, match=r"source 'mes': the B2MML schema .*nope.xsd does not exist"):
        conn.open_inbox([B2mmlStream(name="s", mapping="x.yaml", records="OperationsRequest")], {}, {})


def test_check_names_a_missing_inbox_folder(tmp_path):
    assert connector(tmp_path).check() == []
    [problem] = connector(tmp_path / "gone").check()
    assert "gone does not exist" in problem and "connection.path" in problem and "'drops'" in problem
