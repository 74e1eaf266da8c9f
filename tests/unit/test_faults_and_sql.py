"""The retry/fail table and the incremental SELECT."""

import pytest

from connectors.base import ConnectorError
from connectors.faults import classify
from connectors.sqlbuild import build_select


@pytest.mark.parametrize("kind,code,decision", [
    ("http", 503, "retry"), ("http", 429, "retry"), ("http", 401, "fail"), ("http", 404, "fail"),
    ("soap", "soap:Server", "retry"), ("soap", "{http://www.w3.org/2003/05/soap-envelope}Receiver", "retry"),
    ("soap", "soapenv:Client", "fail"), ("sqlstate", "08S01", "retry"), ("sqlstate", "40001", "retry"),
    ("sqlstate", "28000", "fail"), ("sqlstate", "42S02", "fail"), ("sqlstate", "HYT00", "retry"),
    ("sqlstate", None, "fail"),
])
def test_fault_table(kind, code, decision):
    assert classify(kind, code) == decision


def quote(name):
    return f'"{name}"'


def test_composite_bookmark_reads_ties_again_and_orders_by_bookmark_then_key():
    sql, params = build_select(table="F4311", query=None, bookmark=["PDUPMJ", "PDTDAY"], key=["PDDOCO", "PDLNID"],
                               bookmark_value={"PDUPMJ": 126100, "PDTDAY": 93000}, quote=quote,
                               placeholder=lambda i: f":p{i}", where="test")
    assert sql == ('SELECT * FROM "F4311" WHERE ("PDUPMJ" > :p0) OR ("PDUPMJ" = :p1 AND "PDTDAY" >= :p2) '
                   'ORDER BY "PDUPMJ", "PDTDAY", "PDDOCO", "PDLNID"')
    assert params == [126100, 126100, 93000]


def test_query_streams_are_wrapped_and_first_reads_have_no_filter():
    sql, params = build_select(table=None, query="SELECT * FROM WORKORDER WHERE ISTASK = 0", bookmark=["CHANGEDATE"],
                               key=["WONUM"], bookmark_value=None, quote=quote, placeholder=lambda i: "?", where="t")
    assert sql == 'SELECT * FROM (SELECT * FROM WORKORDER WHERE ISTASK = 0) src ORDER BY "CHANGEDATE", "WONUM"'
    assert params == []


@pytest.mark.parametrize("name", ["F4311; DROP TABLE x", "a  b", " a", "a ", "a\tb", 'tab"x', "1abc", "x.y.z"])
def test_identifiers_from_config_are_refused_unless_plain(name):
    with pytest.raises(ConnectorError):
        build_select(table=name, query=None, bookmark=[], key=[], bookmark_value=None, quote=quote,
                     placeholder=lambda i: "?", where="t")


def test_table_names_with_inner_spaces_are_quoted_whole():
    """ERPNext keeps a DocType in ``tab<DocType name>``, spaces included."""
    sql, _ = build_select(table="tabPurchase Order Item", query=None, bookmark=["modified"], key=["name"],
                          bookmark_value=None, quote=quote, placeholder=lambda i: "?", where="t")
    assert sql == 'SELECT * FROM "tabPurchase Order Item" ORDER BY "modified", "name"'
    sql, _ = build_select(table="erp.tabWork Order", query=None, bookmark=[], key=[], bookmark_value=None,
                          quote=quote, placeholder=lambda i: "?", where="t")
    assert sql == 'SELECT * FROM "erp"."tabWork Order"'


def test_timestamp_bookmarks_are_bound_with_a_space_so_text_timestamps_compare_right():
    from connectors.sqlbuild import sql_bookmark_value

    assert sql_bookmark_value("2026-05-04T22:00:00") == "2026-05-04 22:00:00"
    assert sql_bookmark_value("2026-05-04T22:00:00.125000+00:00") == "2026-05-04 22:00:00.125000+00:00"
    assert sql_bookmark_value("2026-05-04") == "2026-05-04"
    assert sql_bookmark_value("PO-2026T1") == "PO-2026T1"
    assert sql_bookmark_value(126124) == 126124
