"""B2MML files: flattening rules, version check, malformed files, hardened parsing."""

import pytest

from connectors.b2mml import B2mmlConnector, B2mmlStream
from connectors.base import ConnectorError

NS = "http://www.mesa.org/xml/B2MML"
DOC = f"""<?xml version="1.0" encoding="UTF-8"?>
<OperationsSchedule xmlns="{NS}">
  <ID>SCHED-1</ID>
  <OperationsRequest>
    <ID>MO-26-000123</ID>
    <Description>Shaft, heat treated</Description>
    <HierarchyScope><EquipmentID>PLANT-N</EquipmentID><EquipmentElementLevel>Site</EquipmentElementLevel></HierarchyScope>
    <RequestState>Released</RequestState>
    <SegmentRequirement>
      <ID>30</ID>
      <ProcessSegmentID>HEAT_TREAT</ProcessSegmentID>
      <SegmentParameter><ID>OutsideProcessing</ID><Value><ValueString>true</ValueString><DataType>boolean</DataType></Value></SegmentParameter>
      <SegmentParameter><ID>Supplier</ID><Value><ValueString>ACME Heat</ValueString></Value></SegmentParameter>
      <MaterialRequirement>
        <MaterialDefinitionID>SHAFT-01</MaterialDefinitionID>
        <MaterialLotID>LOT-77</MaterialLotID>
        <Quantity><QuantityString>12</QuantityString><UnitOfMeasure>EA</UnitOfMeasure></Quantity>
      </MaterialRequirement>
    </SegmentRequirement>
  </OperationsRequest>
</OperationsSchedule>
"""


def read(tmp_path, records, text=DOC, name="OPS-0001.xml", version="V0701"):
    (tmp_path / name).write_text(text)
    connector = B2mmlConnector("mes", {"path": str(tmp_path), "version": version})
    stream = B2mmlStream(name="s", mapping="x.yaml", records=records)
    return [row for batch in connector.read(stream, None) for row in batch.to_pylist()]


def test_segment_rows_carry_parameters_ancestors_and_file(tmp_path):
    [row] = read(tmp_path, "OperationsRequest/SegmentRequirement")
    assert row["ID"] == "30" and row["ProcessSegmentID"] == "HEAT_TREAT"
    assert row["SegmentParameter.OutsideProcessing"] == "true"
    assert row["SegmentParameter.Supplier"] == "ACME Heat"
    assert row["OperationsRequest.ID"] == "MO-26-000123"
    assert row["OperationsRequest.HierarchyScope.EquipmentID"] == "PLANT-N"
    assert row["OperationsSchedule.ID"] == "SCHED-1"
    assert row["_file"] == "OPS-0001.xml"
    assert "MaterialRequirement.MaterialLotID" not in row  # deeper records belong to their own stream


def test_material_rows_flatten_quantity(tmp_path):
    [row] = read(tmp_path, "OperationsRequest/SegmentRequirement/MaterialRequirement")
    assert (row["MaterialLotID"], row["Quantity.QuantityString"], row["Quantity.UnitOfMeasure"]) == ("LOT-77", "12", "EA")
    assert row["SegmentRequirement.ID"] == "30"


def test_a_repeated_element_keeps_every_value(tmp_path):
    doc = DOC.replace("<MaterialLotID>LOT-77</MaterialLotID>",
                      "<MaterialLotID>LOT-77</MaterialLotID><MaterialLotID></MaterialLotID><MaterialLotID>LOT-78</MaterialLotID>")
    doc = doc.replace("<UnitOfMeasure>EA</UnitOfMeasure></Quantity>",
                      "<UnitOfMeasure>EA</UnitOfMeasure></Quantity><Quantity><QuantityString>3</QuantityString></Quantity>")
    [row] = read(tmp_path, "OperationsRequest/SegmentRequirement/MaterialRequirement", text=doc)
    assert row["MaterialLotID"] == "LOT-77|LOT-78"
    assert (row["Quantity.QuantityString"], row["Quantity.UnitOfMeasure"]) == ("12|3", "EA")


def test_a_file_of_another_b2mml_version_is_refused_naming_file_and_namespace(tmp_path, realworld):
    example = sorted((realworld / "b2mml-v0701" / "examples-v0401").glob("PRO-*.xml"))[0]
    with pytest.raises(ConnectorError) as info:
        read(tmp_path, "ProductionRequest", text=example.read_text(encoding="utf-8"), name=example.name)
    assert example.name in str(info.value) and "http://www.wbf.org/xml/B2MML-V0401" in str(info.value)
    assert "V0401" in str(info.value) and "expects V0701" in str(info.value)


def test_malformed_xml_names_file_and_line(tmp_path):
    broken = DOC.replace("</RequestState>", "</RequestStat>")
    with pytest.raises(ConnectorError) as info:
        read(tmp_path, "OperationsRequest", text=broken, name="OPS-0009.xml")
    assert "OPS-0009.xml" in str(info.value) and "line 8" in str(info.value)


def test_entities_are_not_expanded(tmp_path):
    evil = DOC.replace('<?xml version="1.0" encoding="UTF-8"?>',
                       '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>') \
        .replace("Shaft, heat treated", "&e;")
    [row] = read(tmp_path, "OperationsRequest", text=evil)
    assert "root:" not in str(row.get("Description"))


def test_rebatch_cuts_exact_batches_and_keeps_every_row():
    import pyarrow as pa

    from connectors.records import rebatch

    pages = [pa.table({"n": list(range(i * 7, i * 7 + 7))}) for i in range(5)]  # 35 rows in pages of 7
    batches = list(rebatch(pages, 10))
    assert [b.num_rows for b in batches] == [10, 10, 10, 5]
    assert pa.concat_tables(batches)["n"].to_pylist() == list(range(35))
    clash = [pa.table({"d": pa.array([None, None], pa.string())}), pa.table({"d": pa.array([1.5])})]
    assert sum(b.num_rows for b in rebatch(clash, 100)) == 3


def _one_path_at_a_time(root, steps, file_name):
    """The reference: each record path walked on its own, ancestors flattened without the next step."""
    from connectors.b2mml import _local, flatten_element

    out = []
    root_columns = {f"{_local(root.tag)}.{k}": v for k, v in flatten_element(root, steps[0]).items()}

    def walk(parent, depth, context):
        for element in parent:
            if _local(element.tag) != steps[depth]:
                continue
            skip = steps[depth + 1] if depth + 1 < len(steps) else None
            columns = flatten_element(element, skip)
            if skip is None:
                out.append({**context, **columns, "_file": file_name})
            else:
                walk(element, depth + 1, {**context, **{f"{steps[depth]}.{k}": v for k, v in columns.items()}})

    walk(root, 0, root_columns)
    return out


def test_one_walk_for_every_stream_gives_each_stream_its_records(tmp_path):
    from lxml import etree

    from connectors.b2mml import records_by_path

    doc = DOC.replace("</OperationsRequest>", "</OperationsRequest>" + DOC[DOC.index("<OperationsRequest>"):
                                                                              DOC.index("</OperationsSchedule>")]
                      .replace("MO-26-000123", "MO-26-000124").replace("<ID>30</ID>", "<ID>40</ID>"), 1)
    root = etree.fromstring(doc.encode())
    paths = [("OperationsRequest",), ("OperationsRequest", "SegmentRequirement"),
             ("OperationsRequest", "SegmentRequirement", "MaterialRequirement"), ("OperationsRequest", "HierarchyScope")]
    together = records_by_path(root, paths, "f.xml")
    for steps in paths:
        assert together[steps] == _one_path_at_a_time(root, list(steps), "f.xml"), steps
    assert [r["OperationsRequest.ID"] for r in together[paths[2]]] == ["MO-26-000123", "MO-26-000124"]
    # a path whose last step is a group of leaves: the ancestor's dotted columns are left out below it
    assert "OperationsRequest.HierarchyScope.EquipmentID" not in together[paths[3]][0]


def test_a_run_parses_each_file_once_for_all_its_streams(tmp_path):
    (tmp_path / "OPS-0001.xml").write_text(DOC)
    connector = B2mmlConnector("mes", {"path": str(tmp_path)})
    streams = [B2mmlStream(name=n, mapping="x.yaml", records=r) for n, r in (
        ("wo", "OperationsRequest"), ("ops", "OperationsRequest/SegmentRequirement"),
        ("mat", "OperationsRequest/SegmentRequirement/MaterialRequirement"))]
    connector.open_inbox(streams, {}, {})
    rows = {s.name: [r for b in connector.read(s, None) for r in b.to_pylist()] for s in streams}
    assert connector.parses == 1
    assert [len(rows[n]) for n in ("wo", "ops", "mat")] == [1, 1, 1]
    assert rows["mat"][0]["SegmentRequirement.ID"] == "30"
