"""`threadline check` on an ODBC source says what is wrong: driver, DSN, server, in words to act on."""

from __future__ import annotations

import socket

import pyodbc

from connectors.odbc import OdbcConnector


def test_a_driver_that_is_not_installed_is_named_with_the_installed_ones():
    problems = OdbcConnector("jde", {"connection_string": "Driver=IBM i Access ODBC;System=as400"}).check()
    assert len(problems) == 1
    assert "source 'jde'" in problems[0]
    assert "the ODBC driver 'IBM i Access ODBC' is not installed" in problems[0]
    for installed in pyodbc.drivers():
        assert installed in problems[0]


def test_an_unknown_dsn_is_named():
    problems = OdbcConnector("jde", {"dsn": "JDE_PROD_MISSING"}).check()
    assert "the DSN 'JDE_PROD_MISSING' is not defined in odbc.ini" in problems[0]


def test_a_server_that_does_not_answer_points_at_server_and_port():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    problems = OdbcConnector("jde", {"connection_string": f"Driver=PostgreSQL Unicode;Server=127.0.0.1;"
                                                          f"Port={port};Database=jde"}).check()
    assert "08001" in problems[0] and "check Server, Port and Database" in problems[0]
