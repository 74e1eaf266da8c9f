"""The README's worked example, run as written: a new CSV source added with a config entry and a
mapping spec, synced and reconciled, with no code change."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.commands import THREADLINE, threadline
from tests.integration.readback import canonical_rows

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def readme_commands() -> list[list[str]]:
    """The commands of the README's worked-example block, split into words."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Adding a source: a worked example"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [shlex.split(line) for line in block.splitlines() if line.strip()]


def run(words: list[str], cwd: Path) -> subprocess.CompletedProcess:
    if words[0] == ".venv/bin/threadline":
        words = [THREADLINE, *words[1:]]
    if words[0] == "cat" and ">>" in words:  # the one shell redirection of the block
        source, target = words[1], words[words.index(">>") + 1]
        with (cwd / target).open("a", encoding="utf-8") as out:
            out.write((cwd / source).read_text(encoding="utf-8"))
        return subprocess.CompletedProcess(words, 0, "", "")
    return subprocess.run(words, cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "CI": "true"})


def test_the_worked_example_adds_a_source_without_code(tmp_path):
    commands = readme_commands()
    assert [c[0] for c in commands[:3]] == ["cp", "cp", "cat"]
    # the user's clone: the example folder, and a demo built where the README builds it
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    demo = threadline("demo", "--out", "threadline-demo", "--json", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr

    outputs = []
    for words in commands:
        done = run(words, tmp_path)
        assert done.returncode == 0, f"{shlex.join(words)} failed: {done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)

    config = tmp_path / "threadline-demo" / "threadline.yaml"
    synced = threadline("--config", config, "runs", "list", "--json", "--limit", "2")
    sync_run = json.loads(synced.stdout)[1]
    assert sync_run["command"] == "sync"
    stream = next(s for s in sync_run["streams"] if s["source"] == "facility_cmms")
    assert (stream["rows_read"], stream["rows_loaded"], stream["rows_quarantined"], stream["rows_skipped"]) == (8, 6, 1, 1)
    inbox = tmp_path / "threadline-demo" / "facility-inbox"
    assert [p.name for p in (inbox / "processed").iterdir()] == ["facility_wo_2026-06-29.csv"]
    assert not list(inbox.glob("*.csv"))

    url = f"sqlite:///{tmp_path / 'threadline-demo' / 'warehouse.sqlite'}"
    columns = ("po_ref", "po_line_ref", "currency", "site", "status", "estimate_labour", "description",
               "finish_date")
    rows = {key: dict(zip(columns, values))
            for key, values in canonical_rows(url, "work_order", "facility_cmms", *columns).items()}
    assert sorted(rows) == ["FP-000101", "FP-000102", "FP-000103", "FP-000104", "FP-000105", "FP-000106"]
    first = rows["FP-000101"]
    assert (first["po_ref"], first["po_line_ref"], first["currency"], first["site"], first["status"]) == (
        "PO-0001005", "1", "USD", "SOUTH", "closed")
    assert first["estimate_labour"] == 1250.0 and "Kesselprüfung" in first["description"]
    assert str(first["finish_date"])[:10] == "2026-06-10"
    assert rows["FP-000103"]["finish_date"] is None  # 01.01.1900 means not finished
    assert rows["FP-000106"]["status"] == "cancelled"

    exceptions = threadline("--config", config, "exceptions", "list", "--rule", "LNK-002", "--json")
    facility = [e for e in json.loads(exceptions.stdout) if "facility_cmms" in json.dumps(e)]
    assert len(facility) == 1 and "FP-000104" in json.dumps(facility[0]) and "PO-0009999" in json.dumps(facility[0])
    quarantined = threadline("--config", config, "quarantine", "list", "--source", "facility_cmms", "--json")
    (only,) = json.loads(quarantined.stdout)
    assert only["source_key"] == "FP-000107" and only["field"] == "created_date"
