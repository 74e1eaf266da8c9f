"""Fixtures of the integration tier."""

from __future__ import annotations

import pytest

from tests.integration.commands import threadline
from threadline.demo.landscape import build_landscape


@pytest.fixture()
def landscape_scale() -> int:
    """Work orders of the ``landscape`` fixture; a module needing more planted rows overrides it."""
    return 60


@pytest.fixture()
def landscape(tmp_path, monkeypatch, landscape_scale):
    """A small demo landscape of its own for one test, with its secrets in the environment."""
    built = build_landscape(tmp_path / "demo", scale=landscape_scale)
    for name, value in built.env.items():
        monkeypatch.setenv(name, value)
    return built


@pytest.fixture()
def steward(landscape):
    """``threadline --config <demo> ...`` as a steward named alice."""
    def run(*args: str, env: dict | None = None):
        return threadline("--config", landscape.config_path, *args, env={"THREADLINE_ACTOR": "alice", **(env or {})})
    return run
