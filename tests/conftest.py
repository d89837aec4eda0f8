"""Shared test setup: hypothesis profiles and seeded fixtures.

`ci` (the default) is derandomized and bounded, so a run is reproducible and fast; choose the long run with
`pytest --hypothesis-profile thorough`.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

SEED = 20261124

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(SEED)
