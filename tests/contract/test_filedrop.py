"""The connector contract for the file-drop connector, over CSV and XLSX exports written here.

The same checks the other connectors pass (tests/contract/test_connector_contract.py): records
come back with one schema, keys present and unique, batches of the stream's size, a second
incremental read returns nothing older than the bookmark, legacy text survives; and the settings
are strict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import ValidationError

from connectors import connector_class
from connectors.filedrop import FileDropConnector, FileDropStream
from threadline.pipeline import _last_bookmark

FILES, PER_FILE = 4, 9
TEXT = "Dichtung für Pumpe 0 é"


@dataclass
class Backend:
    connector: FileDropConnector
    stream: FileDropStream
    total: int
    #: the first two quantities as the export shows them (a workbook stores numbers, a CSV text)
    quantities: list[str]


def lines(f: int) -> list[list[str]]:
    return [[f"PO-{f:03d}", str(n), f"{n * 1.5:.2f}", TEXT] for n in range(1, PER_FILE + 1)]


def write_csv(folder: Path) -> None:
    for f in range(FILES):
        body = "\r\n".join(";".join(r) for r in [["po_number", "line", "qty", "text"], *lines(f)])
        (folder / f"lines_{f:03d}.csv").write_bytes((body + "\r\n").encode("cp1252"))


def write_xlsx(folder: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    for f in range(FILES):
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "Lines"
        sheet.append(["po_number", "line", "qty", "text"])
        for po, line, qty, text in lines(f):
            sheet.append([po, int(line), float(qty), text])
        book.save(folder / f"lines_{f:03d}.xlsx")


@pytest.fixture(params=["csv-cp1252", "xlsx"])
def backend(request, tmp_path) -> Backend:
    if request.param == "xlsx":
        write_xlsx(tmp_path)
        stream = FileDropStream(name="lines", mapping="unused.yaml", pattern="lines_*.xlsx", sheet="Lines",
                                key=["po_number", "line"], batch_size=7)
        return Backend(FileDropConnector("drops", {"path": str(tmp_path)}), stream, FILES * PER_FILE, ["1.5", "3"])
    write_csv(tmp_path)
    stream = FileDropStream(name="lines", mapping="unused.yaml", pattern="lines_*.csv", key=["po_number", "line"],
                            batch_size=7)
    connection = {"path": str(tmp_path), "encoding": "cp1252", "delimiter": ";"}
    return Backend(FileDropConnector("drops", connection), stream, FILES * PER_FILE, ["1.50", "3.00"])


def read_all(backend: Backend, bookmark=None) -> tuple[list[pa.Table], pa.Table]:
    batches = list(backend.connector.read(backend.stream, bookmark))
    return batches, pa.concat_tables(batches)


def test_records_come_back_as_text_with_one_schema_and_unique_keys(backend):
    batches, table = read_all(backend)
    assert table.num_rows == backend.total
    assert len(batches) > 1 and all(b.num_rows <= backend.stream.batch_size for b in batches)
    assert {b.schema for b in batches} == {table.schema}
    assert all(pa.types.is_string(table.schema.field(c).type) for c in ("po_number", "line", "qty", "text"))
    for column in [*backend.stream.key, *backend.stream.bookmark]:
        assert table[column].null_count == 0
    keys = set(zip(*(table[c].to_pylist() for c in backend.stream.key)))
    assert len(keys) == backend.total
    assert table["qty"].to_pylist()[:2] == backend.quantities


def test_second_incremental_read_returns_nothing_older_than_the_bookmark(backend):
    batches, first = read_all(backend)
    bookmark = json.loads(json.dumps(_last_bookmark(batches[len(batches) // 2], backend.stream.bookmark)))
    _, second = read_all(backend, bookmark)
    files = second["_file"].to_pylist()
    assert files == sorted(files) and min(files) >= bookmark["_file"]
    assert second.num_rows == sum(1 for f in first["_file"].to_pylist() if f >= bookmark["_file"])
    assert 0 < second.num_rows < first.num_rows


def test_legacy_text_survives(backend):
    _, table = read_all(backend)
    assert set(table["text"].to_pylist()) == {TEXT}


def test_settings_are_strict_and_the_kind_is_registered(tmp_path):
    assert connector_class("files") is FileDropConnector
    with pytest.raises(ValidationError):
        FileDropConnector("drops", {"path": str(tmp_path), "delimeter": ";"})
    with pytest.raises(ValidationError):
        FileDropStream(name="s", mapping="m.yaml")  # a stream names its files
