from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.config import Settings
from sandbox import Sandbox

from .helpers import sandbox_settings


@pytest.fixture(scope="module")
def channel_sandbox() -> Iterator[Sandbox]:
    with Sandbox(callback_delay=0.0) as sb:
        yield sb


@pytest.fixture
def sb(channel_sandbox: Sandbox) -> Sandbox:
    """The module's sandbox, emptied: inbox, faults, stats, retry keys."""
    channel_sandbox.clear()
    return channel_sandbox


@pytest.fixture
def settings(sb: Sandbox) -> Settings:
    return sandbox_settings(sb.http_url, sb.smtp_port)
