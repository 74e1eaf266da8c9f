"""Pieces of the ODBC connector that need no database: code pages, bound parameters, errors."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
import pytest

from connectors.odbc import OdbcConnector, OdbcSettings, _parameter_text, _sqlstate, decode_code_page


def _random_values(seed: int, count: int = 400) -> list[bytes | None]:
    rng = random.Random(seed)
    return [None if rng.random() < 0.1 else bytes(rng.randrange(256) for _ in range(rng.randrange(0, 30)))
            for _ in range(count)]


def _python_decode(value: bytes, encoding: str) -> str:
    # the connector's rule for bytes a code page leaves undefined: the C1 control of that number
    return "".join(bytes([b]).decode(encoding, errors="ignore") or chr(b) for b in value)


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "cp850", "iso8859-15", "cp1250"])
def test_single_byte_code_pages_decode_like_python_codecs(encoding):
    values = _random_values(sum(map(ord, encoding)))
    decoded = decode_code_page(pa.array(values, type=pa.binary()), encoding)
    assert decoded.type == pa.string()
    assert decoded.to_pylist() == [None if v is None else _python_decode(v, encoding) for v in values]


def test_decoding_respects_slices_and_chunks():
    values = [b"Dichtung f\xfcr Pumpe \x80", None, b"", b"\xe9t\xe9", b"plain"]
    array = pa.array(values, type=pa.binary())
    assert decode_code_page(array.slice(2, 2), "cp1252").to_pylist() == ["", "été"]
    assert decode_code_page(array.slice(1, 1), "cp1252").to_pylist() == [None]
    chunked = pa.chunked_array([array.slice(0, 2), array.slice(3)])
    assert decode_code_page(chunked, "cp1252").to_pylist() == ["Dichtung für Pumpe €", None, "été", "plain"]


def test_multi_byte_code_pages_decode_value_by_value():
    values = ["ポンプ用シール".encode("cp932"), None, b"ABC"]
    assert decode_code_page(pa.array(values, type=pa.binary()), "cp932").to_pylist() == ["ポンプ用シール", None, "ABC"]


@pytest.mark.parametrize("value,bound", [
    (126001, "126001"), (126001.0, "126001"), (12.5, "12.5"), ("C3", "C3"), (None, None), (True, "1"),
    (dt.date(2026, 2, 5), "2026-02-05"), (dt.datetime(2026, 2, 5, 8, 30, 1), "2026-02-05 08:30:01"),
])
def test_bookmark_values_bind_as_text_the_database_converts(value, bound):
    assert _parameter_text(value) == bound


def test_sqlstate_is_found_in_pyodbc_and_arrow_odbc_errors():
    assert _sqlstate(Exception("08S01", "[08S01] link failure")) == "08S01"
    assert _sqlstate(Exception("ODBC emitted an error calling 'SQLFetch':\nState: 57P01, Native error: 35")) == "57P01"
    assert _sqlstate(Exception("no state here")) is None


def test_settings_refuse_unknown_code_pages_and_passwords_in_the_string():
    with pytest.raises(ValueError, match="unknown encoding 'cp9999'"):
        OdbcSettings(connection_string="Driver=X;", encoding="cp9999")
    with pytest.raises(ValueError, match="PWD"):
        OdbcSettings(connection_string="Driver=X;PWD=x")


def test_password_stays_out_of_the_connection_string_and_error_text(monkeypatch):
    monkeypatch.setenv("ODBC_TEST_SECRET", "pa;ss}word")
    connector = OdbcConnector("erp", {"connection_string": "Driver=X;Server=h", "username": "u",
                                      "password_env": "ODBC_TEST_SECRET"})
    assert connector._connection_string() == "Driver=X;Server=h;UID=u;"
    error = connector._error(Exception("State: 28000, Message: login as u with pa;ss}word failed"), None)
    assert "pa;ss}word" not in str(error) and "***" in str(error) and not error.transient
    lost = connector._error(Exception("State: HY000, Message: server closed the connection unexpectedly"), None)
    assert lost.transient
