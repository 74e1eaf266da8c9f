"""Fixtures shared by every test tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.servers import ScratchDatabase, mariadb_server, postgres_server

REPO = Path(__file__).resolve().parents[1]
REALWORLD = REPO.parent / "shared" / "realworld"


@pytest.fixture(scope="session")
def realworld() -> Path:
    """The shared real-world layouts next to the checkout; tests that need them skip without them."""
    if not REALWORLD.is_dir():
        pytest.skip(f"real-world material not found at {REALWORLD} (the shared/ folder next to the checkout)")
    return REALWORLD


@pytest.fixture(scope="session")
def pg_server_url():
    url, throwaway = postgres_server()
    yield url
    if throwaway:
        throwaway.stop()


@pytest.fixture(scope="session")
def mariadb_server_url():
    url, throwaway = mariadb_server()
    yield url
    if throwaway:
        throwaway.stop()


@pytest.fixture()
def pg_database(pg_server_url):
    """A fresh PostgreSQL database for one test (its SQLAlchemy URL)."""
    db = ScratchDatabase(pg_server_url)
    yield db
    db.drop()


@pytest.fixture()
def mariadb_database(mariadb_server_url):
    db = ScratchDatabase(mariadb_server_url)
    yield db
    db.drop()
