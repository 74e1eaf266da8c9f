"""The threadline command line as the integration tests run it: the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

THREADLINE = str(Path(sys.executable).with_name("threadline"))


def threadline(*args: str, env: dict | None = None, cwd: Path | None = None,
               timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``threadline args...`` and return what it did (exit code, stdout, stderr)."""
    return subprocess.run([THREADLINE, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, "CI": "true", **(env or {})})


#: the demo sources that need no service started (JD Edwards, Maximo, MES)
LOCAL_SOURCES = ("--source", "jde", "--source", "maximo", "--source", "mes")


def run_local_sources(steward) -> dict:
    """``threadline run`` over the demo's local sources through ``steward``; its JSON summary."""
    done = steward("run", *LOCAL_SOURCES, "--json")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout)


def mappings_check(config_path: Path) -> list[dict[str, Any]]:
    """``threadline mappings check --json`` on a config; fails the test unless every spec is valid."""
    done = threadline("--config", config_path, "mappings", "check", "--json", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def write_config(tmp_path: Path, sources: list[dict[str, Any]], *, sites: list[dict] | None = None,
                 reporting_currency: str = "USD") -> Path:
    """A minimal threadline.yaml in ``tmp_path`` with a SQLite warehouse there and these sources."""
    path = tmp_path / "threadline.yaml"
    path.write_text(yaml.safe_dump({
        "warehouse": {"url": f"sqlite:///{tmp_path / 'warehouse.sqlite'}"}, "landing_dir": "landing",
        "reports_dir": "reports", "reporting_currency": reporting_currency, "sites": sites or [{"id": "NORTH"}],
        "sources": sources}, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
