"""Fixtures for the registry client tests: anyio on asyncio (the lying proxy double is in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
