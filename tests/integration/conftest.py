"""Fixtures of the integration tier."""

from __future__ import annotations

import pytest

from threadline.demo.landscape import build_landscape


@pytest.fixture()
def landscape(tmp_path, monkeypatch):
    """A small demo landscape of its own for one test, with its secrets in the environment."""
    built = build_landscape(tmp_path / "demo", scale=60)
    for name, value in built.env.items():
        monkeypatch.setenv(name, value)
    return built
