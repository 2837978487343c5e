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


def test_a_zero_nan_or_infinite_std_is_refused_with_the_librarys_error() -> None:
    from layerwise.errors import ConfigError

    for bad in (0.0, -0.5, float("nan"), float("inf"), 10**400):
        with pytest.raises(ConfigError, match="Invalid weight init std"):
            init.get_initializer(bad)
    with pytest.raises(ConfigError, match="constant_std: std must be a number, got 'big'"):
        init.constant_std("big")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Unknown weight initializer"):
        init.get_initializer("kaiming")


@pytest.mark.parametrize("name", ["he", "xavier", "glorot_normal", "glorot_uniform", "std"])
def test_initializers_refuse_a_dtype_that_would_truncate_the_weights(name: str) -> None:
    from layerwise.errors import ConfigError

    with pytest.raises(ConfigError, match="dtype must be float16, float32 or float64, got numpy.int8"):
        init.get_initializer(name)((3, 3), np.random.default_rng(0), np.int8)
    assert init.get_initializer(name)((3, 3), np.random.default_rng(0), np.float16).dtype == np.float16


def test_check_init_std_names_the_network_and_keeps_names_as_given() -> None:
    from layerwise.errors import ConfigError

    assert init.check_init_std("He", "Net") == "He"
    assert init.check_init_std(np.float32(0.5), "Net") == 0.5
    assert init.check_init_std(init.he, "Net") is init.he
    with pytest.raises(ConfigError, match=r"Net: weight_init_std must be a positive, finite number or one of"):
        init.check_init_std(init.he, "Net", callables=False)
    with pytest.raises(ConfigError, match=r"Net: weight_init_std must be .*, got False"):
        init.check_init_std(False, "Net")
