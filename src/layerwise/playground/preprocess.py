"""A drawn digit made to look like an MNIST image (LeCun et al., 1998).

MNIST's digits were scaled, keeping their aspect ratio, to fit a 20×20 box (with
anti-aliasing, hence grey edges), then placed in a 28×28 field so that the centre of mass of
the pixels is at the centre of the field. A network trained on MNIST expects exactly that, so
a digit drawn large in a corner is predicted as well as one drawn in the middle.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["center_like_mnist", "area_resize", "SIZE", "BOX"]

SIZE = 28
BOX = 20
#: Pixels below this (of 1.0) count as background when finding the digit's bounding box.
INK = 0.05

Image = NDArray[np.float64]


def _area_matrix(n_in: int, n_out: int) -> Image:
    """``R`` of shape (n_out, n_in) with ``R @ v`` the box-filtered resampling of ``v``:
    output pixel ``i`` averages the input over ``[i·s, (i+1)·s)``, ``s = n_in / n_out``."""
    s = n_in / n_out
    lo = np.arange(n_out)[:, None] * s
    hi = lo + s
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0.0, None)
    return np.asarray(overlap / s, dtype=np.float64)


def area_resize(img: NDArray[Any], height: int, width: int) -> Image:
    """``img`` (H, W) resampled to (height, width) by area averaging (anti-aliased)."""
    a = np.asarray(img, dtype=np.float64)
    return _area_matrix(a.shape[0], height) @ a @ _area_matrix(a.shape[1], width).T


def center_like_mnist(img: NDArray[Any]) -> NDArray[np.float32] | None:
    """The (28, 28) float32 image of ``img`` (H, W) in [0, 1], ink bright: the digit's
    bounding box scaled to fit 20×20, its centre of mass moved to the centre of the 28×28
    field. ``None`` when nothing is drawn."""
    a = np.clip(np.asarray(img, dtype=np.float64), 0.0, 1.0)
    rows = np.flatnonzero(a.max(axis=1) > INK)
    cols = np.flatnonzero(a.max(axis=0) > INK)
    if rows.size == 0:
        return None
    crop = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.clip(area_resize(crop, nh, nw), 0.0, 1.0)
    top, left = (SIZE - nh) // 2, (SIZE - nw) // 2
    mass = small.sum()
    ys, xs = np.mgrid[0:nh, 0:nw]
    cy, cx = top + (ys * small).sum() / mass, left + (xs * small).sum() / mass
    centre = (SIZE - 1) / 2
    # integer shifts, as MNIST's, kept so that the digit stays inside the field
    dy = int(np.clip(round(centre - cy), -top, SIZE - nh - top))
    dx = int(np.clip(round(centre - cx), -left, SIZE - nw - left))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top + dy : top + dy + nh, left + dx : left + dx + nw] = small
    return out
