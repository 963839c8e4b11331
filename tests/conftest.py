"""Fixtures shared by the whole suite."""

from pathlib import Path

import pytest

from tests.emulator_fixture import emulator, emulator_server  # noqa: F401  (fixtures)

FIXTURES_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "fireworks-recorded"


@pytest.fixture
def recorded_dir() -> Path:
    """The folder of real recorded Fireworks traffic (vcrpy YAML)."""
    return FIXTURES_DIR
