from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from layerwise import fast


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(params=["fast", "reference"])
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with :mod:`layerwise.fast` enabled, then disabled (the book's code)."""
    if request.param == "reference":
        with fast.disabled():
            yield request.param
    else:
        yield request.param
