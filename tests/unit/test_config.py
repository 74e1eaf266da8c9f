"""threadline.yaml is validated as a whole, with key paths, and never holds a secret."""

import textwrap

import pytest

from threadline.config import load_config
from threadline.errors import ConfigError, SecretMissingError

SPEC = textwrap.dedent("""
    entity: fx_rate
    source_key: {from: [CXCRCD, CXCRDC, CXEFT]}
    fields:
      from_currency: {from: CXCRCD, transforms: [strip_padding]}
      to_currency: {from: CXCRDC, transforms: [strip_padding]}
      effective_date: {from: CXEFT, transforms: [jde_julian_date]}
      rate: {from: CXCRR}
""")


def write_config(tmp_path, body: str):
    (tmp_path / "fx.yaml").write_text(SPEC)
    path = tmp_path / "threadline.yaml"
    path.write_text(textwrap.dedent(body))
    return path


VALID = """
    warehouse: {url: "sqlite:///warehouse.sqlite"}
    landing_dir: landing
    reports_dir: reports
    reporting_currency: USD
    sites: [{id: NORTH}]
    rules: {as_of: 2026-06-30, tolerances: {OSP-005: {grace_days: 3}}}
    sources:
      - name: jde
        kind: sql
        role: erp
        connection: {url: "sqlite:///erp.sqlite", password_env: JDE_PASSWORD}
        streams:
          - {name: fx, table: F0015, key: [CXCRCD, CXCRDC, CXEFT], bookmark: [CXEFT], mapping: fx.yaml}
"""


def test_a_valid_config_resolves_paths_against_its_own_folder(tmp_path):
    config = load_config(write_config(tmp_path, VALID))
    assert config.warehouse.url == f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    assert config.landing_dir == tmp_path / "landing"
    assert config.resolve_mapping("fx.yaml") == tmp_path / "fx.yaml"
    assert config.rules.tolerances["OSP-005"] == {"grace_days": 3}
    assert [s.name for s in config.stream_settings(config.sources[0])] == ["fx"]


def test_every_problem_is_reported_with_its_key_path(tmp_path):
    body = """
        warehouse: {}
        landing_dir: landing
        reports_dir: reports
        reporting_currency: DOLLARS
        sites: [{id: NORTH}]
        rules: {disabled: [LNK-999]}
        sources:
          - name: Legacy-ERP
            kind: telnet
            role: erp
            streams: [{name: po}]
          - name: jde
            kind: sql
            role: erp
            connection: {url: "sqlite:///x.sqlite", password: hunter2, sitee: NORTH}
            streams:
              - {name: fx, table: F0015, mapping: nowhere.yaml}
              - {name: fx, query: "select 1", table: F0015, mapping: fx.yaml}
    """
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, body))
    text = "\n".join(info.value.problems)
    assert "config.sources[1].connection.password: secrets are not written in the config" in text
    assert "reporting_currency" in text
    assert "sources[0].name" in text and "sources[0].kind" in text
    assert "hunter2" not in str(info.value)


def test_source_level_problems_are_collected_together(tmp_path):
    body = VALID.replace("password_env: JDE_PASSWORD", "password_env: JDE_PASSWORD, sitee: NORTH") \
        .replace("mapping: fx.yaml", "mapping: nowhere.yaml") + """
          - {name: fx, query: "select 1", table: F0015, mapping: fx.yaml}
    """
    body = body.replace("tolerances: {OSP-005: {grace_days: 3}}", "disabled: [LNK-999]")
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, body))
    text = "\n".join(info.value.problems)
    assert "rules: unknown rule id 'LNK-999'" in text
    assert "sources[0].connection.sitee: Extra inputs are not permitted" in text
    assert "sources[0].streams[0].mapping: mapping spec 'nowhere.yaml' not found" in text
    assert "sources[0].streams[1]" in text and "exactly one of `table` and `query`" in text
    assert len(info.value.problems) == 4


def test_missing_config_file_says_how_to_get_one(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "threadline demo" in str(info.value)


def test_a_secret_missing_from_the_environment_names_the_variable_only(tmp_path, monkeypatch):
    from connectors.sql import SqlConnector

    monkeypatch.delenv("JDE_PASSWORD", raising=False)
    (tmp_path / "erp.sqlite").write_bytes(b"")
    with pytest.raises(SecretMissingError) as info:
        SqlConnector("jde", {"url": f"sqlite:///{tmp_path / 'erp.sqlite'}", "password_env": "JDE_PASSWORD"})
    assert "JDE_PASSWORD" in str(info.value) and "source 'jde'" in str(info.value)


def test_the_example_config_in_the_repository_is_valid():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "threadline.example.yaml"
    config = load_config(example)
    assert {s.kind for s in config.sources} == {"odbc", "soap", "sql", "b2mml"}
    assert config.warehouse.url_env == "THREADLINE_WAREHOUSE_URL"


def test_tolerance_overrides_are_validated_with_the_rest(tmp_path):
    body = VALID.replace("rules: {as_of: 2026-06-30, tolerances: {OSP-005: {grace_days: 3}}}", """rules:
      as_of: 2026-06-30
      overrides:
        - {rule: OSP-005, process: heat_treat, tolerances: {grace_days: 5}}
        - {rule: OSP-005, supplier: "1001", site: NORTH, tolerances: {grace_days: 9}}""")
    config = load_config(write_config(tmp_path, body))
    settings = config.rules.reconcile_settings(as_of=config.rules.as_of, reporting_currency="USD")
    assert [o.describe() for o in settings.overrides] == ["process heat_treat", "supplier 1001, site NORTH"]

    bad = body.replace("grace_days: 5", "grace_dayz: 5").replace("site: NORTH", "site: WEST")
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, bad))
    text = "\n".join(info.value.problems)
    assert "rules.overrides[1].site: 'WEST' is not a configured site" in text
    assert "override 1 (OSP-005: process heat_treat) has no tolerance 'grace_dayz'; valid: grace_days" in text


def test_link_suggestion_weights_and_threshold_are_read_and_checked(tmp_path):
    body = VALID.replace("tolerances: {OSP-005: {grace_days: 3}}",
                         "tolerances: {LNK-006: {threshold: 0.7, weight_text: 0.5}}")
    config = load_config(write_config(tmp_path, body))
    settings = config.rules.reconcile_settings(as_of=config.rules.as_of, reporting_currency="USD")
    assert settings.tolerance("LNK-006", "threshold") == 0.7 and settings.tolerance("LNK-006", "weight_text") == 0.5
    assert settings.tolerance("LNK-006", "weight_dates") == 0.10  # the catalogue's default

    bad = body.replace("threshold: 0.7", "threshold: 7").replace("weight_text: 0.5", "weight_text: -1")
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, bad))
    text = "\n".join(info.value.problems)
    assert "LNK-006 threshold must be above 0 and at most 1, not 7" in text
    assert "LNK-006 weight_text must not be negative" in text


def test_the_source_name_of_suggested_links_is_reserved(tmp_path):
    from reconciliation.suggest import SUGGESTER
    from threadline.config import RESERVED_SOURCE

    assert RESERVED_SOURCE == SUGGESTER
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, VALID.replace("name: jde", "name: threadline")))
    assert "'threadline' is reserved" in "\n".join(info.value.problems)


def test_a_source_names_its_airflow_connection_and_schedule(tmp_path):
    body = VALID.replace("        role: erp\n", "        role: erp\n        schedule: '*/15 * * * *'\n"
                                                "        connection_id: jde_readonly\n")
    config = load_config(write_config(tmp_path, body + "    airflow: {reconcile_schedule: '30 5 * * *'}\n"))
    source = config.sources[0]
    assert (source.schedule, source.connection_id, source.secret_env) == ("*/15 * * * *", "jde_readonly", "JDE_PASSWORD")
    assert config.airflow.reconcile_schedule == "30 5 * * *" and config.airflow.owner == "threadline"


def test_a_connection_id_needs_a_variable_for_the_connector_to_read(tmp_path):
    body = VALID.replace(", password_env: JDE_PASSWORD", "").replace(
        "        role: erp\n", "        role: erp\n        connection_id: jde_readonly\n")
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, body))
    assert any(p.startswith("sources[0].connection_id:") and "password_env" in p for p in caught.value.problems)
