"""Every mapping spec shipped under mappings/specs loads and validates, and says what it maps."""

from pathlib import Path

import pytest

from mappings.spec import load_spec

SPECS = Path(__file__).resolve().parents[2] / "mappings" / "specs"
SHIPPED = sorted(SPECS.rglob("*.yaml"))


def test_the_spec_folder_is_found():
    assert len(SHIPPED) > 20, f"expected the shipped specs under {SPECS}"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(SPECS)))
def test_shipped_spec_loads_with_a_description(path: Path):
    spec = load_spec(path)
    # a steward reads the description to know what the source table is and which quirks are handled
    assert len(spec.description.split()) >= 8, f"{path}: the description is missing or too short"
