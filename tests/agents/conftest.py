"""Fixtures for the agent tests: the scripted OpenAI-compatible stand-in (tests/chat/standin.py)."""

from __future__ import annotations

import pytest

from tests.chat.conftest import _no_vendor_keys, _standins, standin, vendor  # noqa: F401  (fixtures)
from tests.chat.standin import StandIn


@pytest.fixture
def local(standin) -> StandIn:  # noqa: F811  (the fixture imported above)
    """A key-less OpenAI-compatible server that plays back scripted replies."""
    return standin("local")


@pytest.fixture
def client(local):
    from lazycli.targets import for_url

    return for_url(local.url, model="stand-in")
