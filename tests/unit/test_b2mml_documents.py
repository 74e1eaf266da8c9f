"""The shipped b2mml specs read columns the B2MML documents really have.

A b2mml source is sparse (a record carries only the elements it has), so a column a spec names
that no record ever has would map to empty without an error. Every column each shipped spec reads
must therefore appear in some record of its stream in the builder's documents.
"""

import pytest

from connectors.b2mml import B2mmlConnector, B2mmlStream
from mappings.spec import load_spec
from tests import b2mml_documents
from tests.integration.test_b2mml_specs import STREAMS
from threadline.config import SHIPPED_SPECS


@pytest.fixture(scope="module")
def outbox(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outbox")
    b2mml_documents.write_documents(folder)
    return folder


@pytest.mark.parametrize("stream_name", list(STREAMS))
def test_every_column_a_spec_reads_is_in_its_records(outbox, stream_name):
    records, mapping = STREAMS[stream_name]
    connector = B2mmlConnector("mes", {"path": str(outbox)})
    rows = [row for batch in connector.read(B2mmlStream(name=stream_name, mapping=mapping, records=records), None)
            for row in batch.to_pylist()]
    assert rows, f"no {records} records in the documents"
    seen = {column for row in rows for column, value in row.items() if value is not None}
    spec = load_spec(SHIPPED_SPECS / mapping)
    assert set(spec.source_columns) - seen == set()


def test_osp_parameters_are_written_only_for_outside_processing_steps():
    orders, _ = b2mml_documents.production_orders()
    tree = b2mml_documents.operations_schedule("OPS-T", orders)
    ns = {"b": b2mml_documents.NAMESPACE}
    flagged = {(s.getparent().findtext("b:ID", namespaces=ns), s.findtext("b:ID", namespaces=ns))
               for s in tree.iterfind(".//b:SegmentRequirement", ns)
               if s.find("b:SegmentParameter[b:ID='OutsideProcessing']", ns) is not None}
    assert flagged == {(wo.number, op.seq) for wo in orders for op in wo.operations if op.osp}
    assert flagged  # the plant has outside processing at all
