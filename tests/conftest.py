from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from layerwise import fast


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(params=["engine", "book"])
def engine_or_book(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with the engine (:mod:`layerwise.fast`) on, then with the book's code."""
    if request.param == "engine":
        with fast.enabled():
            yield request.param
    else:
        with fast.disabled():
            yield request.param


@pytest.fixture
def engine_on() -> Iterator[None]:
    """The engine (:mod:`layerwise.fast`) on for the test, off again after it."""
    with fast.enabled():
        yield
