"""The streaming fast path gives exactly zeep's records, for every stream of the demo's legacy ERP."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pytest

from connectors.soap import SoapConnector
from threadline.config import load_config
from threadline.demo import erp_service
from threadline.demo.landscape import build_landscape


@pytest.fixture(scope="module")
def erp(tmp_path_factory):
    landscape = build_landscape(tmp_path_factory.mktemp("soap_fast"), scale=200)
    with landscape.start_erp_service():
        yield landscape


@pytest.fixture()
def connector_and_streams(erp, monkeypatch):
    for name, value in erp.env.items():
        monkeypatch.setenv(name, value)
    config = load_config(erp.config_path, check_specs=False)
    source = config.source("erp_soap")
    connector = SoapConnector("erp_soap", config.connection_settings(source))
    return connector, {s.name: s for s in config.stream_settings(source)}


def _read(connector, stream, parser: str, page_size: int, bookmark=None) -> list[pa.Table]:
    paging = stream.paging.model_copy(update={"page_size": page_size})
    return list(connector.read(stream.model_copy(update={"parser": parser, "paging": paging}), bookmark))


def test_every_demo_stream_is_streamed_not_handed_to_zeep(connector_and_streams):
    connector, streams = connector_and_streams
    assert set(streams) == set(erp_service.STREAMS)
    assert {name: connector.fast_path_reason(s) for name, s in streams.items()} == dict.fromkeys(streams)


@pytest.mark.parametrize("stream_name", list(erp_service.STREAMS))
@pytest.mark.parametrize("page_size", [13, 500])
def test_fast_path_and_zeep_give_identical_batches(connector_and_streams, stream_name, page_size):
    connector, streams = connector_and_streams
    stream = streams[stream_name]
    by_zeep = _read(connector, stream, "zeep", page_size)
    fast = _read(connector, stream, "fast", page_size)
    assert sum(t.num_rows for t in by_zeep) > 0
    assert len(fast) == len(by_zeep)
    for zeep_batch, fast_batch in zip(by_zeep, fast):
        assert fast_batch.schema == zeep_batch.schema
        assert fast_batch.column_names == zeep_batch.column_names
        assert fast_batch.equals(zeep_batch), f"{stream_name}: batches differ"


def test_fast_path_types_follow_the_wsdl(connector_and_streams):
    connector, streams = connector_and_streams
    table = pa.concat_tables(_read(connector, streams["po_lines"], "fast", 500))
    row = table.slice(0, 1).to_pylist()[0]
    assert isinstance(row["PurchaseOrder.LastChanged"], datetime)
    assert isinstance(row["PurchaseOrder.OrderDate"], date)
    assert isinstance(row["PurchaseOrder.Approved"], bool)
    assert isinstance(row["LineNo"], int)
    assert pa.types.is_float64(table.schema.field("Quantity").type)
    assert "Lines" not in table.column_names and "PurchaseOrder.Lines" not in table.column_names


def test_fast_path_and_zeep_agree_on_an_incremental_read(connector_and_streams, erp):
    connector, streams = connector_and_streams
    stream = streams["receipts"]
    everything = pa.concat_tables(_read(connector, stream, "zeep", 500))
    stamps = sorted(everything.column("LastChanged").to_pylist())
    bookmark = {"LastChanged": stamps[len(stamps) // 2].isoformat()}
    by_zeep = pa.concat_tables(_read(connector, stream, "zeep", 17, bookmark))
    fast = pa.concat_tables(_read(connector, stream, "fast", 17, bookmark))
    assert 0 < fast.num_rows < everything.num_rows
    assert fast.equals(by_zeep)


def test_a_stream_the_wsdl_cannot_guide_is_read_by_zeep_and_says_why(connector_and_streams, caplog):
    connector, streams = connector_and_streams
    stream = streams["purchase_orders"].model_copy(update={"records": "PurchaseOrder/Remarks"})
    with caplog.at_level("WARNING", logger="connectors.soap"):
        reason = connector.fast_path_reason(stream)
    assert "no element Remarks in PurchaseOrder" in reason
    assert any("stream 'purchase_orders'" in r.getMessage() and reason in r.getMessage() for r in caplog.records)
    assert _read(connector, stream, "fast", 500) == _read(connector, stream, "zeep", 500) == []
    assert connector.fast_path_reason(stream.model_copy(update={"parser": "zeep"})) is None
