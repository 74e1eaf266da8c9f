"""SOAP connection and stream settings: retry and parser choices are validated, defaults are safe."""

from __future__ import annotations

import pydantic
import pytest

from connectors.soap import SoapSettings, SoapStream

STREAM = {"name": "po_lines", "mapping": "demo_soap/po_lines.yaml", "operation": "GetPurchaseOrders",
          "records": "PurchaseOrder/Lines/Line"}


def test_defaults_retry_three_times_from_one_second_and_stream_with_the_fast_path():
    settings = SoapSettings(wsdl="purchasing.wsdl")
    assert (settings.retries, settings.backoff_seconds, settings.backoff_max_seconds) == (3, 1.0, 30.0)
    assert SoapStream(**STREAM).parser == "fast"


@pytest.mark.parametrize("setting, value", [("retries", -1), ("retries", 1000), ("backoff_seconds", -0.5),
                                            ("backoff_max_seconds", -1), ("retry", 3)])
def test_bad_retry_settings_are_refused(setting, value):
    with pytest.raises(pydantic.ValidationError) as raised:
        SoapSettings(wsdl="purchasing.wsdl", **{setting: value})
    assert setting in str(raised.value)


def test_an_unknown_parser_is_refused_naming_the_choices():
    with pytest.raises(pydantic.ValidationError) as raised:
        SoapStream(**STREAM, parser="lxml")
    assert "'fast'" in str(raised.value) and "'zeep'" in str(raised.value)
