"""Connectors, mappings, the validate stage (with the real GX suites) and rules over a freshly built
landscape, without the warehouse in between: the findings (data-quality ones included) and the
quarantined rows must equal the manifest exactly, no more and no less."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pandas as pd
import pytest

import connectors
import reconciliation.engine as reconciliation
import threadline.config as config_module
from mappings import engine
from mappings.spec import load_spec
from threadline.demo.landscape import build_landscape
from threadline.quality import BatchValidator, load_suites, quarantine_findings, warehouse_findings
from threadline.validate import validate_batch
from threadline.warehouse import schema
from threadline.warehouse.store import open_warehouse, upsert

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=[1000, 2000], ids=["default-scale", "scale2000"])
def medium(request, tmp_path_factory):
    # the default scale is what `threadline demo` builds; 2000 plants two of each defect
    return build_landscape(tmp_path_factory.mktemp(f"scale{request.param}"), scale=request.param, seed=7)


def _manifest(landscape) -> dict:
    return json.loads(landscape.manifest_path.read_text())


def _warehouse_suite_findings(canonical: dict[str, pd.DataFrame], suites_dir, tmp_path) -> pd.DataFrame:
    """The warehouse suite's findings over the canonical rows, written to a scratch SQLite warehouse."""
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    warehouse = open_warehouse(url)
    with warehouse.engine.begin() as conn:
        for entity, frame in canonical.items():
            upsert(conn, schema.CANONICAL_TABLES[entity], frame.assign(loaded_at=datetime(2026, 6, 30)))
    warehouse.dispose()
    return warehouse_findings(load_suites(suites_dir)["warehouse"], url)


def test_the_rules_find_exactly_what_the_manifest_lists(medium, tmp_path):
    """Connectors, mappings and rules over the landscape: findings and quarantine equal the manifest."""
    manifest = _manifest(medium)
    os.environ.update(medium.env)
    config = config_module.load_config(medium.config_path)
    frames: dict[str, list[pd.DataFrame]] = {}
    quarantined, counts, table_rows = [], {}, []
    validator = BatchValidator(load_suites(config.suites_dir))
    with medium.start_erp_service():
        for source in config.sources:
            with connectors.connector_class(source.kind)(source.name, config.connection_settings(source)) as conn:
                for stream in config.stream_settings(source):
                    spec = load_spec(config.resolve_mapping(stream.mapping))
                    counts.setdefault(source.name, {})[stream.name] = 0
                    for batch in conn.read(stream, None):
                        rows = batch.to_pandas()
                        counts[source.name][stream.name] += len(rows)
                        result = engine.map_batch(spec, rows, source_system=source.name, run_id="test",
                                                  extracted_at=datetime(2026, 6, 30))
                        valid, invalid = validate_batch(spec.entity, result.mapped)
                        checked = validator.validate(spec.entity.name, valid, source=source.name,
                                                     stream=stream.name, batch_no=1)
                        frames.setdefault(spec.entity.name, []).append(checked.valid)
                        held = pd.concat([result.quarantined, invalid, checked.quarantined], ignore_index=True)
                        quarantined += [(source.name, stream.name, q.source_key, q.field, q.reason)
                                        for q in held.itertuples()]
                        table_rows += [{"quarantine_id": f"Q{len(table_rows) + i}", "source": source.name,
                                        "stream": stream.name, "entity": spec.entity.name, "source_key": q.source_key,
                                        "field": q.field, "raw_value": q.raw_value, "check_name": q.check,
                                        "reason": q.reason, "record": q.record, "last_run_id": "test",
                                        "last_seen_at": datetime(2026, 6, 30)} for i, q in enumerate(held.itertuples())]
    assert counts == manifest["counts"]
    assert sorted(q[:4] for q in quarantined) == sorted(
        (q["source"], q["stream"], q["source_key"], q["field"]) for q in manifest["quarantine"])
    for q, expected in zip(sorted(quarantined), sorted(manifest["quarantine"], key=lambda m: (m["source"], m["stream"], m["source_key"]))):
        assert expected["reason_contains"] in q[4]

    settings = config.reconcile_settings(config.rules.as_of)
    canonical = {k: pd.concat(v, ignore_index=True) for k, v in frames.items()}
    findings = pd.concat([reconciliation.reconcile(canonical, settings).findings,
                          quarantine_findings(pd.DataFrame(table_rows), canonical),
                          _warehouse_suite_findings(canonical, config.suites_dir, tmp_path)], ignore_index=True)
    found = sorted(zip(findings["rule_id"], findings["subject_entity"], findings["subject_source_system"],
                       findings["subject_source_key"]))
    expected = sorted((d["rule_id"], d["subject_entity"], d["source_system"], d["source_key"]) for d in manifest["defects"])
    assert found == expected
    assert sorted(findings["exception_id"]) == sorted(d["exception_id"] for d in manifest["defects"])
