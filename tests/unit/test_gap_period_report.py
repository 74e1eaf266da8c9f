"""The gap report of a period read from the warehouse: gaps standing at its end, counts, trend, history."""

from __future__ import annotations

import csv
import datetime
import io
import re

import lxml.html
import pandas as pd
import pytest
from sqlalchemy import update

from tests.unit.report_warehouse import reconciled_warehouse
from tests.unit.test_costs import plant_frames
from threadline.exceptions import resolve, waive
from threadline.reports.gap import (
    Period, PeriodError, gap_report_csv, gap_report_html, parse_period, read_gap_report,
)
from threadline.warehouse import schema

SCRIPT = "<script>alert('owned')</script>"
FOUND = datetime.datetime(2024, 3, 10, 8, 0)
WAIVED = datetime.datetime(2024, 4, 15, 9, 0)
RESOLVED = datetime.datetime(2024, 5, 20, 10, 0)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Exceptions found on 10 March 2024; one waived on 15 April, one resolved on 20 May."""
    warehouse = reconciled_warehouse(tmp_path_factory.mktemp("gaps") / "warehouse.sqlite", plant_frames())
    events = schema.exception_event
    with warehouse.engine.begin() as conn:
        conn.execute(update(events).values(at=FOUND))
    exceptions = warehouse.read_table(schema.exception).sort_values("exception_id")
    assert len(exceptions) >= 3
    waived_id, resolved_id = exceptions["exception_id"].iloc[0], exceptions["exception_id"].iloc[1]
    waive(warehouse, [waived_id], justification="agreed with finance", until=datetime.date.today()
          + datetime.timedelta(days=30), actor="alice")
    resolve(warehouse, [resolved_id], "fixed_in_source", note="corrected", actor="bob")
    with warehouse.engine.begin() as conn:
        conn.execute(update(events).where(events.c.exception_id == waived_id, events.c.actor == "alice")
                     .values(at=WAIVED))
        conn.execute(update(events).where(events.c.exception_id == resolved_id, events.c.actor == "bob")
                     .values(at=RESOLVED))
        # what a source said reaches the evidence
        conn.execute(update(schema.exception).where(schema.exception.c.exception_id == resolved_id)
                     .values(evidence=f'{{"records": [{{"description": "{SCRIPT}"}}]}}'))
        conn.execute(update(schema.exception).where(schema.exception.c.exception_id == waived_id)
                     .values(summary=f"PO line says {SCRIPT}"))
    return warehouse, exceptions, waived_id, resolved_id


def test_parse_period():
    assert parse_period("2026-06") == Period(datetime.date(2026, 6, 1), datetime.date(2026, 6, 30))
    assert parse_period("2026") == Period(datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    assert parse_period(None, None, datetime.date(2026, 2, 10)) == Period(datetime.date(2026, 2, 1),
                                                                           datetime.date(2026, 2, 10))
    assert parse_period(today=datetime.date(2026, 12, 4)) == Period(datetime.date(2026, 12, 1),
                                                                     datetime.date(2026, 12, 4))
    assert parse_period("2026-06").label == "2026-06"
    with pytest.raises(PeriodError, match="'2026-13' is not a month"):
        parse_period("2026-13")
    with pytest.raises(PeriodError, match="starts .* after it ends"):
        parse_period(None, datetime.date(2026, 3, 1), datetime.date(2026, 2, 1))
    with pytest.raises(PeriodError, match="either --period or --from/--to"):
        parse_period("2026-06", datetime.date(2026, 6, 1))


def test_gaps_standing_at_the_period_end_with_their_status_then(history):
    warehouse, exceptions, waived_id, resolved_id = history
    may = read_gap_report(warehouse, parse_period("2024-05"))
    assert set(may.exceptions["exception_id"]) == set(exceptions["exception_id"]) - {resolved_id}
    assert may.exceptions.set_index("exception_id").at[waived_id, "status"] == "waived"
    april = read_gap_report(warehouse, parse_period("2024-04"))
    assert set(april.exceptions["exception_id"]) == set(exceptions["exception_id"])
    assert april.exceptions.set_index("exception_id").at[resolved_id, "status"] == "open"
    assert april.exceptions.set_index("exception_id").at[resolved_id, "status_now"] == "resolved"
    assert read_gap_report(warehouse, parse_period("2024-02")).exceptions.empty


def test_counts_by_rule_and_trend_match_the_warehouse(history):
    warehouse, exceptions, waived_id, resolved_id = history
    summary = read_gap_report(warehouse, parse_period("2024-05"), trend_periods=4).summary
    assert summary["months"] == ["2024-02", "2024-03", "2024-04", "2024-05"]
    by_rule = {row["rule_id"]: row for row in summary["rows"]}
    expected = exceptions["rule_id"].value_counts()
    rule_of = exceptions.set_index("exception_id")["rule_id"]
    for rule_id, count in expected.items():
        row = by_rule[rule_id]
        gone = int(rule_of[resolved_id] == rule_id)
        assert row["trend"] == [0, count, count, count - gone]
        assert row["standing"] + row["waived"] == count - gone
        assert row["new"] == 0 and row["resolved"] == gone
    assert summary["totals"]["waived"] == 1 and summary["totals"]["resolved"] == 1
    march = read_gap_report(warehouse, parse_period("2024-03")).summary
    assert march["totals"]["new"] == len(exceptions) and march["totals"]["standing"] == len(exceptions)


def test_html_is_self_contained_escaped_and_prints_a_page_per_rule(history):
    warehouse, exceptions, waived_id, resolved_id = history
    html = gap_report_html(warehouse, parse_period("2024-04"))
    doc = lxml.html.fromstring(html)
    assert "<script" not in html.lower() and "&lt;script&gt;" in html
    assert not doc.xpath("//script | //link | //img | //iframe")
    for element in doc.iter():
        for attribute in ("src", "href"):
            assert not re.match(r"\s*(https?:)?//", element.get(attribute) or "")
    style = doc.xpath("//style")[0].text_content()
    assert "@media print" in style and re.search(r"\.rule-page\s*\{\s*break-before:\s*page", style)
    rules = doc.xpath("//div[contains(@class, 'rule-page')]")
    assert {r.get("id") for r in rules} == set(exceptions["rule_id"])
    text = doc.text_content()
    assert "Period 2024-04" in text
    assert "found by run R1" in text and "alice" in text and "agreed with finance" in text
    assert "now resolved" in text  # open at the end of April, resolved since


def test_csv_has_a_row_per_standing_gap_with_its_history(history):
    warehouse, exceptions, waived_id, resolved_id = history
    rows = list(csv.DictReader(io.StringIO(gap_report_csv(warehouse, parse_period("2024-05")))))
    assert len(rows) == len(exceptions) - 1
    by_id = {r["exception_id"]: r for r in rows}
    assert by_id[waived_id]["status"] == "waived" and "alice" in by_id[waived_id]["events"]
    assert "found by run R1" in by_id[waived_id]["events"]
    assert resolved_id not in by_id


def test_a_site_filter_keeps_only_that_sites_gaps(history):
    warehouse, exceptions, *_ = history
    assert read_gap_report(warehouse, parse_period("2024-04"), site="SOUTH").exceptions.empty
    north = read_gap_report(warehouse, parse_period("2024-04"), site="NORTH")
    assert len(north.exceptions) == int((exceptions["site"] == "NORTH").sum())
    assert isinstance(north.rollup, pd.DataFrame) and (north.rollup["site"] == "NORTH").all()
