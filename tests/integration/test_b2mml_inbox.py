"""The MES's B2MML outbox as an inbox, through the real pipeline into the demo's SQLite warehouse.

The demo MES files load and move to processed/; a malformed file, a file of another B2MML version
(the MESA V0401 examples) and a file invalid against the V0701 XSD are rejected with their reasons
while the good files still load; the same files dropped again are duplicates.
"""

from __future__ import annotations

import json
import shutil

from lxml import etree
from sqlalchemy import select

from tests.integration.readback import _query, stream_log
from threadline.config import load_config
from threadline.demo import mes
from threadline.pipeline import run_pipeline
from threadline.warehouse import schema

B2MML = f"{{{mes.NAMESPACE}}}"


def ledger(url: str) -> dict[str, str]:
    t = schema.inbox_file
    return {r["file_name"]: r["status"] for r in _query(url, select(t.c.file_name, t.c.status))}


def test_bad_b2mml_files_are_rejected_with_reasons_and_the_good_ones_load(landscape, realworld):
    xsd = realworld / "b2mml-v0701" / "Schema" / "AllSchemas.xsd"
    outbox = landscape.out_dir / mes.OUTBOX
    good = sorted(p.name for p in outbox.glob("*.xml"))
    first = (outbox / good[0]).read_bytes()
    (outbox / "OPS-SCHEDULE-9001.xml").write_bytes(first.replace(b"</RequestState>", b"</RequestStat>", 1))
    invalid = etree.fromstring(first)
    invalid.find(f"{B2MML}OperationsRequest/{B2MML}RequestState").text = "Finished"
    (outbox / "OPS-SCHEDULE-9002.xml").write_bytes(etree.tostring(invalid, xml_declaration=True, encoding="UTF-8"))
    old = sorted((realworld / "b2mml-v0701" / "examples-v0401").glob("PRO-*.xml"))[0]
    shutil.copyfile(old, outbox / old.name)

    config = load_config(landscape.config_path)
    config.source("mes").connection["schema"] = str(xsd)
    url = config.warehouse.resolved_url()
    run = run_pipeline(config, sources=["mes"], reconcile=False, command="sync")
    assert run.status == "succeeded", run.error
    counts = json.loads(landscape.manifest_path.read_text())["counts"]["mes"]
    loaded = {s.stream: s.rows_read for s in run.streams}
    assert loaded == counts, "every record of the good files, none of the rejected ones"
    assert sorted(p.name for p in (outbox / "processed").iterdir()) == good
    assert not list(outbox.glob("*.xml")), "the inbox is empty after a good run"

    rejected = outbox / "rejected"
    malformed = (rejected / "OPS-SCHEDULE-9001.xml.reason.txt").read_text()
    assert "not well-formed XML" in malformed and "line: " in malformed
    version = (rejected / f"{old.name}.reason.txt").read_text()
    assert "V0401" in version and "http://www.wbf.org/xml/B2MML-V0401" in version and "expects V0701" in version
    schema_error = (rejected / "OPS-SCHEDULE-9002.xml.reason.txt").read_text()
    assert "not valid against AllSchemas.xsd" in schema_error and "Finished" in schema_error
    assert "line: " in schema_error
    assert ledger(url) == {**{name: "processed" for name in good}, "OPS-SCHEDULE-9001.xml": "rejected",
                           "OPS-SCHEDULE-9002.xml": "rejected", old.name: "rejected"}
    assert all("3 rejected" in s["notes"] for s in stream_log(url, run.run_id))

    # the MES sends the same files again: nothing is read twice
    for name in good:
        shutil.copyfile(outbox / "processed" / name, outbox / name)
    again = run_pipeline(config, sources=["mes"], reconcile=False, command="sync")
    assert again.status == "succeeded", again.error
    assert all(s.rows_read == 0 for s in again.streams)
    assert sorted(p.name for p in (outbox / "duplicate").iterdir()) == good
