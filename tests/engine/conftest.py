"""Engine test fixtures. durable_rules' Host starts timer threads and cannot be closed: one per test session."""

from __future__ import annotations

import pytest

from engine.streaming_host import StreamingHost


@pytest.fixture(scope="session")
def streaming_host() -> StreamingHost:
    return StreamingHost()
