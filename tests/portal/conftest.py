"""Portal test helpers. Rate-limit counters live in the shared Redis, and two test processes run at once: each test
gets its own client address and email addresses, so counters never cross tests."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client


@pytest.fixture
def visitor() -> Client:
    """A browser at an address no other test uses."""
    n = uuid.uuid4().int
    return Client(REMOTE_ADDR=f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}")


@pytest.fixture
def unique_email() -> str:
    return f"records-{uuid.uuid4().hex[:10]}@lawfirm.example.com"
