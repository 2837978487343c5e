"""Data augmentation: each transform against a per-sample loop, shapes, errors, no mutation."""

from __future__ import annotations

import numpy as np
import pytest

from layerwise.training.augment import Compose, RandomFlip, RandomShift, parse_augment


def images(shape: tuple[int, ...] = (13, 2, 7, 9), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def shifted_by_loop(x: np.ndarray, s: int, seed: int, fill: float = 0.0) -> np.ndarray:
    """Sample i moved by (dy - s, dx - s), written one image and one pixel at a time."""
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    dy, dx = rng.integers(0, 2 * s + 1, n), rng.integers(0, 2 * s + 1, n)
    out = np.full_like(x, fill)
    h, w = x.shape[-2:]
    for i in range(n):
        for r in range(h):
            for c in range(w):
                sr, sc = r + dy[i] - s, c + dx[i] - s  # the source pixel
                if 0 <= sr < h and 0 <= sc < w:
                    out[i, ..., r, c] = x[i, ..., sr, sc]
    return out


@pytest.mark.parametrize("shape", [(13, 2, 7, 9), (5, 6, 4), (8, 1, 28, 28)])
@pytest.mark.parametrize("s", [0, 1, 3])
def test_shift_matches_a_pixel_loop(shape: tuple[int, ...], s: int) -> None:
    x = images(shape)
    before = x.copy()
    y = RandomShift(s)(x, np.random.default_rng(11))
    np.testing.assert_array_equal(y, shifted_by_loop(x, s, 11))
    assert y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_array_equal(x, before)  # the caller's batch is untouched
    assert not np.shares_memory(x, y)


def test_shift_fill_and_flat_rows() -> None:
    x = images((6, 1, 5, 5))
    y = RandomShift(2, fill=-1.0, image_shape=(1, 5, 5))(x.reshape(6, 25), np.random.default_rng(3))
    assert y.shape == (6, 25)
    np.testing.assert_array_equal(y.reshape(x.shape), shifted_by_loop(x, 2, 3, fill=-1.0))


def test_shift_moves_every_pixel_somewhere_over_many_draws() -> None:
    """Not always the identity: some sample moves, and the offsets cover the whole range."""
    x = np.zeros((400, 1, 9, 9), np.float32)
    x[:, 0, 4, 4] = 1.0  # a single bright pixel in the centre
    y = RandomShift(2)(x, np.random.default_rng(0))
    rows, cols = np.nonzero(y[:, 0].sum(axis=0))
    assert set(rows) == set(cols) == {2, 3, 4, 5, 6}
    assert (y.reshape(400, -1).sum(axis=1) == 1).all()  # a 2-pixel shift never loses the centre


def test_flip_mirrors_about_half() -> None:
    x = images((200, 3, 4, 5))
    y = RandomFlip()(x, np.random.default_rng(1))
    flipped = np.array([np.array_equal(y[i], x[i, ..., ::-1]) for i in range(200)])
    kept = np.array([np.array_equal(y[i], x[i]) for i in range(200)])
    assert (flipped ^ kept).all()
    assert 70 < flipped.sum() < 130
    assert RandomFlip(0.0)(x, np.random.default_rng(1)).tolist() == x.tolist()
    np.testing.assert_array_equal(RandomFlip(1.0)(x, np.random.default_rng(1)), x[..., ::-1])


def test_compose_and_parse() -> None:
    x = images((10, 1, 6, 6))
    aug = parse_augment("shift:1, flip:0.25", (1, 6, 6))
    assert repr(aug) == "Compose([RandomShift(max_shift=1), RandomFlip(p=0.25)])"
    by_hand = RandomFlip(0.25)(RandomShift(1)(x, g := np.random.default_rng(5)), g)
    np.testing.assert_array_equal(aug(x, np.random.default_rng(5)), by_hand)
    none = parse_augment("none")
    assert isinstance(none, Compose) and not none.transforms
    y = none(x, np.random.default_rng(0))
    np.testing.assert_array_equal(y, x)
    assert not np.shares_memory(x, y)


@pytest.mark.parametrize("call, match", [
    (lambda: RandomShift(2)(np.zeros((4, 25), np.float32), np.random.default_rng()),
     r"RandomShift: got flat rows of shape \(4, 25\); pass image_shape"),
    (lambda: RandomShift(2, image_shape=(5, 6))(np.zeros((4, 25), np.float32), np.random.default_rng()),
     r"image_shape \(5, 6\) holds 30 values, but the rows have 25"),
    (lambda: RandomFlip()(np.zeros((4,), np.float32), np.random.default_rng()),
     r"RandomFlip: expected images .* got shape \(4,\)"),
    (lambda: RandomShift(-1), "max_shift must be at least 0, got -1"),
    (lambda: RandomFlip(1.5), r"p must be in \[0, 1\], got 1.5"),
    (lambda: RandomFlip(image_shape=(0, 3)), "image_shape must be"),
    (lambda: parse_augment("rotate:10"), "unknown transform 'rotate'"),
    (lambda: parse_augment("shift"), "shift needs a number of pixels"),
    (lambda: parse_augment("shift:x"), "augmentation 'shift:x'"),
])
def test_errors_name_the_transform_and_the_value(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call()
