"""SOAP connection and stream settings: retry and parser choices are validated, defaults are safe."""

from __future__ import annotations

import logging

import pydantic
import pytest

from connectors.base import ConnectorError
from connectors.soap import SoapSettings, SoapStream, _RedactPasswords, render_request

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


NAV_PAGING = {"style": "bookmark_key", "key_param": "bookmarkKey", "key_field": "Key", "limit_param": "setSize"}


def test_offset_paging_keeps_its_defaults():
    paging = SoapStream(**STREAM).paging
    assert (paging.style, paging.offset_param, paging.limit_param) == ("offset", "startRow", "maxRows")
    assert paging.request_params() == ["startRow", "maxRows"]


@pytest.mark.parametrize("paging, message", [
    ({"style": "bookmark_key", "key_param": "bookmarkKey", "limit_param": "setSize"}, "needs key_field"),
    ({"style": "bookmark_key", "key_param": "bookmarkKey", "key_field": "Key"}, "needs limit_param"),
    ({"style": "page_token", "token_param": "pageToken"}, "needs next_token_field"),
    ({"style": "page_token", "token_param": "t", "next_token_field": "n", "offset_param": "rsStart"},
     "offset_param do(es) not apply to paging style page_token"),
    ({"style": "offset", "key_field": "Key"}, "key_field do(es) not apply to paging style offset"),
    ({"style": "cursor"}, "'bookmark_key'"),
])
def test_paging_settings_must_fit_the_style(paging, message):
    with pytest.raises(pydantic.ValidationError) as raised:
        SoapStream(**STREAM, paging=paging)
    assert message in str(raised.value)


def test_bookmark_key_and_page_token_paging_name_their_request_parameters():
    assert SoapStream(**STREAM, paging=NAV_PAGING).paging.request_params() == ["bookmarkKey", "setSize"]
    tokens = SoapStream(**STREAM, paging={"style": "page_token", "token_param": "pageToken",
                                          "next_token_field": "nextPageToken"}).paging
    assert tokens.limit_param is None and tokens.request_params() == ["pageToken"]


def test_a_request_template_may_only_use_the_bookmark_placeholder():
    with pytest.raises(pydantic.ValidationError) as raised:
        SoapStream(**STREAM, bookmark=["CHANGEDATE"], request={"Query": {"WHERE": "X >= '{bookmark.__class__}'"}})
    assert "request.Query.WHERE: unknown placeholder {bookmark.__class__}" in str(raised.value)
    with pytest.raises(pydantic.ValidationError) as raised:
        SoapStream(**STREAM, request={"WHERE": "CHANGEDATE >= '{bookmark}'"})
    assert "needs bookmark" in str(raised.value)
    with pytest.raises(pydantic.ValidationError) as raised:
        SoapStream(**STREAM, request={"maxRows": 10})
    assert "request sets maxRows, which paging fills in" in str(raised.value)


def test_the_bookmark_is_put_into_the_template_as_text_and_only_there():
    template = {"Query": {"WHERE": "CHANGEDATE >= '{bookmark:%Y-%m-%d %H:%M:%S}'", "orderby": "CHANGEDATE"},
                "filter": [{"Field": "No", "Criteria": ">={bookmark}"}, {"Field": "Status", "Criteria": "Open"}],
                "setOf": 3}
    rendered = render_request(template, "2024-05-01T10:15:00")
    assert rendered == {"Query": {"WHERE": "CHANGEDATE >= '2024-05-01 10:15:00'", "orderby": "CHANGEDATE"},
                        "filter": [{"Field": "No", "Criteria": ">=2024-05-01T10:15:00"},
                                   {"Field": "Status", "Criteria": "Open"}], "setOf": 3}
    assert template["filter"][0]["Criteria"] == ">={bookmark}"  # the template itself is untouched
    full = render_request(template, None)
    assert full["Query"]["WHERE"] == "" and full["filter"][0]["Criteria"] == ""
    assert full["filter"][1]["Criteria"] == "Open"
    assert render_request({"c": "{bookmark}{bookmark}"}, 42) == {"c": "4242"}


@pytest.mark.parametrize("value", ["SO-1' OR '1'='1", "a\\b", "line\nbreak", 'say "x"'])
def test_a_bookmark_that_could_break_out_of_a_quoted_value_is_refused(value):
    with pytest.raises(ConnectorError, match="cannot be put into the request template safely"):
        render_request({"WHERE": "WONUM >= '{bookmark}'"}, value)


def test_a_date_format_needs_a_date_bookmark():
    with pytest.raises(ConnectorError, match="is not a date or time"):
        render_request({"WHERE": "{bookmark:%Y}"}, "SO-1")


def test_wsse_needs_username_and_password_env_and_digest_needs_wsse():
    settings = SoapSettings(wsdl="w.wsdl", username="u", password_env="P", auth="wsse_username_token",
                            wsse_password_digest=True)
    assert settings.auth == "wsse_username_token" and settings.wsse_password_digest
    with pytest.raises(pydantic.ValidationError, match="needs username and password_env"):
        SoapSettings(wsdl="w.wsdl", username="u", auth="wsse_username_token")
    with pytest.raises(pydantic.ValidationError, match="wsse_password_digest applies to"):
        SoapSettings(wsdl="w.wsdl", username="u", password_env="P", wsse_password_digest=True)
    with pytest.raises(pydantic.ValidationError):
        SoapSettings(wsdl="w.wsdl", auth="ntlm")


def test_logged_envelopes_have_their_password_masked():
    record = logging.LogRecord("zeep.transports", logging.DEBUG, __file__, 1, "HTTP Post to %s:\n%s", (
        "http://x", b'<wsse:Password Type="...#PasswordText">hunter2</wsse:Password><Password>pw</Password>'), None)
    _RedactPasswords().filter(record)
    assert "hunter2" not in record.getMessage() and ">pw<" not in record.getMessage()
    assert record.getMessage().count("***") == 2
