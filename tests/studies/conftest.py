"""Fixtures shared by the tests of the studies layer."""

from pathlib import Path

import pytest

from studies.families import FAMILIES

HERE = Path(__file__).parent


@pytest.fixture
def slow(monkeypatch):
    """Register the test family 'slow' (tests/studies/slowfam.py)."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setitem(FAMILIES, "slow", "slowfam")
