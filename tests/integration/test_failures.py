"""When a source fails, the run says which and why, loses nothing, and does not reconcile stale data."""

from __future__ import annotations

from tests.integration.readback import row_count
from threadline.config import load_config
from threadline.pipeline import run_pipeline
from threadline.warehouse import schema
from threadline.warehouse.store import open_warehouse

PASSWORD_ENV = "THREADLINE_DEMO_ERP_PASSWORD"


def test_an_unreachable_service_fails_its_streams_and_skips_reconciliation(landscape):
    config = load_config(landscape.config_path)
    result = run_pipeline(config)  # the legacy ERP service was never started
    assert result.status == "failed"
    assert "source 'erp_soap', stream 'purchase_orders': the service did not answer" in result.error
    assert "[transient]" in result.error and "reconciliation skipped" in result.error
    by_stream = {(s.source, s.stream): s for s in result.streams}
    assert by_stream[("jde", "po_lines")].status == "succeeded"  # the other sources still loaded
    url = config.warehouse.url
    assert row_count(url, schema.CANONICAL_TABLES["po_line"]) > 0
    assert row_count(url, schema.exception) == 0 and row_count(url, schema.cost_rollup) == 0
    warehouse = open_warehouse(url)
    assert warehouse.get_bookmark("erp_soap", "purchase_orders") is None
    assert warehouse.get_bookmark("jde", "po_lines") is not None
    log = warehouse.read_table(schema.run_stream)
    failed = log[log["source"] == "erp_soap"]
    assert set(failed["status"]) == {"failed"} and failed["error"].str.contains("did not answer").all()
    assert set(failed["resumes"]) == {0}, "an outage before the first batch is not restarted"
    assert result.transient is True  # every failure may pass: a scheduler should retry the run later
    warehouse.dispose()


def test_rejected_credentials_are_fatal_and_the_message_keeps_the_secret(landscape, monkeypatch):
    config = load_config(landscape.config_path)
    real_password = landscape.env[PASSWORD_ENV]
    with landscape.start_erp_service():
        monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
        result = run_pipeline(config, sources=["erp_soap"])
    assert result.status == "failed"
    assert "HTTP 401" in result.error and "check username and password_env" in result.error
    assert "[fatal]" in result.error
    assert "not-the-password" not in result.error and real_password not in result.error


def test_a_missing_secret_names_the_variable(landscape, monkeypatch):
    config = load_config(landscape.config_path)
    monkeypatch.delenv(PASSWORD_ENV)
    result = run_pipeline(config, sources=["erp_soap"])
    assert result.status == "failed"
    assert f"environment variable {PASSWORD_ENV}, which is not set" in result.error
