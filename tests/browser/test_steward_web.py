"""A steward works the demo landscape in Chromium through `threadline serve`.

Screenshots of every page land in tests/artifacts/<test name>/.
"""

from __future__ import annotations

import csv
import sqlite3

import pytest
from openpyxl import load_workbook

from tests.browser.conftest import PASSWORD
from tests.integration.commands import run_local_sources

SCRIPT = "<script>alert(1)</script>"
pytestmark = pytest.mark.browser


def plant_script_in_a_po_description(landscape) -> None:
    """The JD Edwards line of PO 4529 (planted: names a work order nobody has) gets a hostile description."""
    with sqlite3.connect(landscape.out_dir / "erp_jde.sqlite") as conn:
        changed = conn.execute("UPDATE F4311 SET PDDSC1 = ? WHERE PDDOCO = 4529", (SCRIPT,)).rowcount
    assert changed == 1


def sign_in(page, url: str, name: str) -> None:
    page.goto(f"{url}/queue")
    assert page.url.startswith(f"{url}/login")  # anonymous: sent to sign in
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/queue")


def test_a_steward_works_the_queue_links_and_costs(landscape, steward, add_user, web_server, browser, artifacts):
    plant_script_in_a_po_description(landscape)
    run_local_sources(steward)
    add_user("sam", "steward")
    url = web_server()
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    sign_in(page, url, "sam")
    page.screenshot(path=artifacts / "01-queue.png", full_page=True)
    everything = page.locator("table.queue tbody tr").count()

    # filter by rule: the select submits the filter form by itself
    page.select_option("select[name=rule]", "OSP-009")
    page.wait_for_url("**rule=OSP-009**")
    rules = page.locator("table.queue tbody tr td:nth-child(3)").all_inner_texts()
    assert rules and set(rules) == {"OSP-009"} and len(rules) < everything
    page.screenshot(path=artifacts / "02-queue-filtered.png", full_page=True)

    # open one and resolve it with a reason
    page.locator("table.queue tbody tr td:nth-child(2) a").first.click()
    page.wait_for_url(f"{url}/exceptions/**")
    exception_id = page.url.rsplit("/", 1)[1]
    assert page.locator(".evidence .record").count() >= 2  # PO line, receipt and invoice side by side
    assert "extracted at" in page.locator(".evidence").inner_text()
    page.screenshot(path=artifacts / "03-exception.png", full_page=True)
    page.select_option("#resolve select[name=reason]", "fixed_in_source")
    page.fill("#resolve input[name=note]", "supplier credited the extra units")
    page.click("#resolve button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("h1 .status").inner_text() == "resolved"
    history = page.locator("table.history tbody tr").last.inner_text()
    assert "sam" in history and "resolve" in history and "supplier credited the extra units" in history
    page.screenshot(path=artifacts / "04-exception-resolved.png", full_page=True)
    done = steward("exceptions", "show", exception_id, "--json")
    assert '"status": "resolved"' in done.stdout  # the CLI sees the same lifecycle

    # a source's description with a script tag shows as text, and runs nothing
    page.goto(f"{url}/queue?rule=LNK-001&status=any")
    page.locator("table.queue tbody tr", has_text="PO 4529 line 1").locator("td:nth-child(2) a").click()
    page.wait_for_url(f"{url}/exceptions/**")
    assert SCRIPT in page.locator(".evidence").inner_text()
    assert dialogs == []
    page.screenshot(path=artifacts / "05-exception-script-as-text.png", full_page=True)

    # confirm a suggested link
    page.goto(f"{url}/links")
    card = page.locator("article.link-card").first
    link_id = card.get_attribute("id")
    card.locator("form:has(input[value=confirm]) input[name=reason]").fill("the WO number is on the PO text")
    page.screenshot(path=artifacts / "06-links.png", full_page=True)
    card.locator("form:has(input[value=confirm]) button").click()
    page.wait_for_load_state()
    assert f"{link_id}: confirmed" in page.locator(".flash-ok").inner_text()
    assert steward("links", "show", link_id, "--json").stdout.count('"status": "confirmed"') == 1

    # costs by supplier with charts, a CSV and an XLSX export
    page.goto(f"{url}/costs?grain=supplier")
    assert page.locator("figure.chart svg rect.bar").count() > 0
    page.screenshot(path=artifacts / "07-costs.png", full_page=True)
    with page.expect_download() as download:
        page.click("a[data-export=csv]")
    csv_path = artifacts / "costs-supplier.csv"
    download.value.save_as(csv_path)
    with csv_path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    shown = page.locator("table.costs tbody tr").count()
    assert len(rows) == shown and rows[0]["supplier_id"] and float(rows[0]["actual_cost"]) >= 0
    with page.expect_download() as download:
        page.click("a[data-export=xlsx]")
    xlsx_path = artifacts / "costs-supplier.xlsx"
    download.value.save_as(xlsx_path)
    sheet = load_workbook(xlsx_path, read_only=True).active
    values = list(sheet.values)
    assert values[0][:2] == ("site", "supplier_id") and len(values) == shown + 1

    with page.expect_download() as download:
        page.click("a[data-export=full-xlsx]")
    full_path = artifacts / "costs-full.xlsx"
    download.value.save_as(full_path)
    assert {"supplier", "wo", "drilldown"} <= {name.lower() for name in load_workbook(full_path, read_only=True)
                                               .sheetnames}

    # drill down to the source lines of the first row
    page.locator("table.costs tbody tr td a", has_text="lines").first.click()
    page.wait_for_url(f"{url}/costs/rows/**")
    assert page.locator("table.lines tbody tr").count() >= 1
    page.screenshot(path=artifacts / "08-cost-lines.png", full_page=True)

    for name, path in (("09-runs", "/runs"), ("10-quarantine", "/quarantine"), ("11-reports", "/reports")):
        page.goto(f"{url}{path}")
        page.screenshot(path=artifacts / f"{name}.png", full_page=True)
    assert "balanced" in page.goto(f"{url}/runs").text()
    context.close()
