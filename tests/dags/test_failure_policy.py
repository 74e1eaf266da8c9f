"""Which failures Airflow retries: transient ones (with backoff), never the fatal ones (threadline.errors)."""

from __future__ import annotations

import pytest
import yaml

from connectors.base import ConnectorError
from threadline.airflow import tasks
from threadline.errors import ConfigError, SourceError, SourceUnavailableError


@pytest.mark.parametrize("error", [
    ConfigError("threadline.yaml", ["sources[0].kind: bad"]),
    SourceError("source 'jde', stream 'po_lines': table F4311 does not exist"),
    ConnectorError("source 'erp_soap', stream 'po_lines': HTTP 401 from the service", transient=False),
])
def test_fatal_errors_fail_the_task_without_retries(error):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException) as caught:
        with tasks.fatal_errors_fail_fast():
            raise error
    assert str(caught.value) == str(error) and caught.value.__cause__ is error


@pytest.mark.parametrize("error", [
    SourceUnavailableError("source 'jde': the database did not answer"),
    ConnectorError("source 'erp_soap', stream 'po_lines': the service did not answer", transient=True),
    OSError("disk full"),  # not threadline's to judge: Airflow's own retries apply
])
def test_other_errors_stay_retryable(error):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(type(error)) as caught:
        with tasks.fatal_errors_fail_fast():
            raise error
    assert not isinstance(caught.value, AirflowFailException)


def test_a_source_that_does_not_answer_fails_its_sync_as_retryable(tmp_path, monkeypatch):
    """The demo ERP service is not started: the sync fails on transient errors only, so Airflow retries it."""
    from airflow.sdk.exceptions import AirflowFailException

    from threadline.demo import erp_service
    from threadline.demo.landscape import build_landscape

    landscape = build_landscape(tmp_path, scale=20)
    config = yaml.safe_load(landscape.config_path.read_text())
    config["sources"][1]["connection"]["retries"] = 0  # erp_soap: fail on the first refused page
    landscape.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    for name, value in landscape.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("THREADLINE_CONFIG", str(landscape.config_path))
    with pytest.raises(tasks.SyncInterruptedError) as caught:
        tasks.sync_source("erp_soap")
    assert not isinstance(caught.value, AirflowFailException)
    assert caught.value.source == "erp_soap" and caught.value.streams == sorted(erp_service.STREAMS)
    assert "[transient]" in str(caught.value) and "did not answer" in str(caught.value)
