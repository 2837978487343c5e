"""Weight initializers: scales, dtypes, explicit generators, the book's names."""

from __future__ import annotations

import numpy as np
import pytest

from layerwise import initializers as init


@pytest.mark.parametrize(
    ("name", "shape", "std"),
    [
        ("he", (400, 300), np.sqrt(2 / 400)),
        ("relu", (400, 300), np.sqrt(2 / 400)),
        ("xavier", (400, 300), np.sqrt(1 / 400)),  # the book's Xavier: fan-in only
        ("sigmoid", (400, 300), np.sqrt(1 / 400)),
        ("glorot_normal", (400, 300), np.sqrt(2 / 700)),
        ("glorot_uniform", (400, 300), np.sqrt(6 / 700) / np.sqrt(3)),  # U[-a, a] has std a/sqrt(3)
        ("std", (400, 300), 0.01),
        ("he", (64, 16, 3, 3), np.sqrt(2 / (16 * 9))),  # conv filters: fan-in C*FH*FW
    ],
)
def test_standard_deviations(name: str, shape: tuple[int, ...], std: float) -> None:
    w = init.get_initializer(name)(shape, np.random.default_rng(0))
    assert w.shape == shape and w.dtype == np.float32
    # within four standard errors: the sample std's is about std/sqrt(2n), the mean's std/sqrt(n)
    n = w.size
    assert abs(float(w.std()) - std) < 4 * std / np.sqrt(2 * n)
    assert abs(float(w.mean())) < 4 * std / np.sqrt(n)


def test_glorot_uniform_bounds() -> None:
    a = np.sqrt(6 / (30 + 20))
    w = init.glorot_uniform((30, 20), np.random.default_rng(1))
    assert w.min() >= -a and w.max() <= a and w.max() > 0.9 * a


def test_a_number_is_a_fixed_std_and_matches_the_book_draw() -> None:
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    w = init.get_initializer(0.5)((3, 4), rng_a)
    np.testing.assert_array_equal(w, (0.5 * rng_b.standard_normal((3, 4))).astype(np.float32))
    assert init.get_initializer("STD")((2, 2), np.random.default_rng(0)).dtype == np.float32


def test_dtype_and_reproducibility() -> None:
    w64 = init.he((5, 5), np.random.default_rng(3), dtype=np.float64)
    w32 = init.he((5, 5), np.random.default_rng(3))
    assert w64.dtype == np.float64
    np.testing.assert_array_equal(w32, w64.astype(np.float32))  # same draws in every dtype
    assert not np.array_equal(w32, init.he((5, 5), np.random.default_rng(4)))


def test_fans() -> None:
    assert init.fans((10, 5)) == (10, 5)
    assert init.fans((8, 3, 5, 5)) == (75, 200)
    assert init.fans((7,)) == (7, 7)
    with pytest.raises(ValueError, match="at least one dimension"):
        init.fans(())


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"Unknown weight initializer 'kaiming'.*'he'"):
        init.get_initializer("kaiming")
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        init.he((2, 2), 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid weight init std: -1"):
        init.constant_std(-1.0)
    with pytest.raises(TypeError, match="name, a number or a callable"):
        init.get_initializer(None)  # type: ignore[arg-type]
    assert init.get_initializer(init.he) is init.he
