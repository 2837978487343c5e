"""Data augmentation: random transforms of a training batch, drawn fresh every step.

An augmentation is a callable ``augment(x, rng) -> x`` that takes a batch of images and the
trainer's :class:`numpy.random.Generator` and returns a new batch of the same shape and dtype;
the caller's array is never changed. :class:`~layerwise.training.trainer.Trainer` applies it to every
training batch (never to evaluation), and because the draws come from the trainer's own
generator, a run resumed from a checkpoint draws the same transforms as an uninterrupted one.

Images are ``(N, C, H, W)`` or ``(N, H, W)``; flat rows ``(N, H*W*C)`` need ``image_shape``
(``(C, H, W)`` or ``(H, W)``) to know where the pixels are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from layerwise.errors import ConfigError

__all__ = ["Augmentation", "RandomShift", "RandomFlip", "Compose", "parse_augment"]

Augmentation = Callable[[NDArray[Any], np.random.Generator], NDArray[Any]]


class _ImageTransform:
    """Shared by the transforms: view flat rows as images and check the shape."""

    def __init__(self, image_shape: Sequence[int] | None) -> None:
        if image_shape is not None:
            image_shape = tuple(int(d) for d in image_shape)
            if len(image_shape) not in (2, 3) or min(image_shape) < 1:
                raise ConfigError(f"{type(self).__name__}: image_shape must be (H, W) or (C, H, W) "
                                 f"with positive sizes, got {image_shape}")
        self.image_shape = image_shape

    def _as_images(self, x: NDArray[Any]) -> NDArray[Any]:
        name = type(self).__name__
        if x.ndim == 2:
            if self.image_shape is None:
                raise ConfigError(f"{name}: got flat rows of shape {x.shape}; pass image_shape=(H, W) "
                                 "or (C, H, W) so the pixels can be found")
            if int(np.prod(self.image_shape)) != x.shape[1]:
                raise ConfigError(f"{name}: image_shape {self.image_shape} holds "
                                 f"{int(np.prod(self.image_shape))} values, but the rows have {x.shape[1]}")
            return x.reshape((x.shape[0], *self.image_shape))
        if x.ndim not in (3, 4):
            raise ConfigError(f"{name}: expected images (N, C, H, W) or (N, H, W), or flat rows (N, D), "
                             f"got shape {x.shape}")
        return x


class RandomShift(_ImageTransform):
    """Move each image by a random whole number of pixels, up to ``max_shift`` in each direction
    along both axes, filling the uncovered border with ``fill`` (0, the background of MNIST).

    Equivalent to padding by ``max_shift`` and taking a random crop of the original size.
    """

    def __init__(self, max_shift: int = 2, *, fill: float = 0.0,
                 image_shape: Sequence[int] | None = None) -> None:
        super().__init__(image_shape)
        if max_shift < 0:
            raise ConfigError(f"RandomShift: max_shift must be at least 0, got {max_shift}")
        if self.image_shape is not None and max_shift >= min(self.image_shape[-2:]):
            # a shift of the whole image or more leaves only the fill: no image at all
            raise ConfigError(f"RandomShift: max_shift must be smaller than the images "
                              f"{self.image_shape[-2]}x{self.image_shape[-1]}, got {max_shift}")
        self.max_shift = int(max_shift)
        self.fill = fill

    def __call__(self, x: NDArray[Any], rng: np.random.Generator) -> NDArray[Any]:
        img = self._as_images(x)
        s = self.max_shift
        n, h, w = img.shape[0], img.shape[-2], img.shape[-1]
        dy = rng.integers(0, 2 * s + 1, size=n)
        dx = rng.integers(0, 2 * s + 1, size=n)
        if s == 0:
            return x.copy()
        pad = [(0, 0)] * (img.ndim - 2) + [(s, s), (s, s)]
        padded = np.pad(img, pad, constant_values=np.asarray(self.fill, dtype=img.dtype))
        # Every (H, W) window of the padded images; pick window (dy, dx) of sample i.
        windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(-2, -1))
        rows = np.arange(n)
        if img.ndim == 4:
            out = windows[rows, :, dy, dx]  # (N, C, H, W): the advanced axes come first
        else:
            out = windows[rows, dy, dx]
        return out.reshape(x.shape)

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift})"


class RandomFlip(_ImageTransform):
    """Mirror each image left to right with probability ``p``.

    Right for data whose classes are symmetric (clothes in Fashion-MNIST), wrong for digits or
    letters, where a mirrored image is not of the same class.
    """

    def __init__(self, p: float = 0.5, *, image_shape: Sequence[int] | None = None) -> None:
        super().__init__(image_shape)
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"RandomFlip: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, x: NDArray[Any], rng: np.random.Generator) -> NDArray[Any]:
        img = self._as_images(x)
        flip = rng.random(img.shape[0]) < self.p
        out = img.copy()
        out[flip] = img[flip, ..., ::-1]
        return out.reshape(x.shape)

    def __repr__(self) -> str:
        return f"RandomFlip(p={self.p})"


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms: Sequence[Augmentation]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: NDArray[Any], rng: np.random.Generator) -> NDArray[Any]:
        if not self.transforms:
            return x.copy()
        for transform in self.transforms:
            x = transform(x, rng)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


def parse_augment(spec: str, image_shape: Sequence[int] | None = None) -> Compose:
    """An augmentation from its command-line form: comma-separated ``shift:PIXELS`` and
    ``flip`` (or ``flip:P``), e.g. ``shift:2,flip``; ``none`` for no augmentation."""
    transforms: list[Augmentation] = []
    if spec.strip() == "none":
        return Compose(transforms)
    for part in spec.split(","):
        name, _, arg = part.strip().partition(":")
        try:
            if name == "shift":
                if not arg:
                    raise ConfigError("shift needs a number of pixels, e.g. shift:2")
                transforms.append(RandomShift(int(arg), image_shape=image_shape))
            elif name == "flip":
                transforms.append(RandomFlip(float(arg) if arg else 0.5, image_shape=image_shape))
            else:
                raise ConfigError(f"unknown transform {name!r}: use shift:PIXELS and flip[:P]")
        except ValueError as exc:
            raise ConfigError(f"augmentation {spec!r}: {exc}") from None
    return Compose(transforms)
