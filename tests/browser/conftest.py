"""Fixtures of the browser tier: the demo landscape run through the pipeline, the web app serving
it from `threadline serve`, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.integration.commands import THREADLINE
from tests.integration.conftest import landscape, landscape_scale, steward  # noqa: F401 (fixtures used here)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "correct-horse-battery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def artifacts(request) -> Path:
    """Folder for this test's screenshots and downloads (tests/artifacts/<test>/, kept after the run)."""
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture()
def add_user(steward):  # noqa: F811
    """``threadline users add NAME --role ROLE`` with the password from the environment."""
    def add(name: str, role: str) -> None:
        done = steward("users", "add", name, "--role", role, env={"THREADLINE_USER_PASSWORD": PASSWORD})
        assert done.returncode == 0, done.stderr
    return add


@pytest.fixture()
def web_server(landscape):  # noqa: F811
    """Start ``threadline serve`` on the landscape's warehouse; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "THREADLINE_WEB_SECRET": "s" * 8 + os.urandom(24).hex(), "CI": "true"}

    def start() -> str:
        process = subprocess.Popen([THREADLINE, "--config", str(landscape.config_path), "serve", "--port", str(port)],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"threadline serve stopped: {process.stdout.read()}")
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return url
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError("threadline serve did not answer within 30 s")

    started: list[subprocess.Popen] = []
    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture()
def browser():
    """Debian's Chromium, headless, through Playwright (no browser download)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (scripts/test.sh does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()
