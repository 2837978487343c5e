"""Inverted dropout (book §6.4.3, with the scaling moved to training time)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from layerwise.errors import ConfigError, ShapeError
from layerwise.functions import as_float_array
from layerwise.layers.base import Array, Layer, check_config, real_number

__all__ = ["Dropout"]


class Dropout(Layer):
    """Zero each unit with probability ``ratio`` in training mode; identity in inference mode.

    ``forward(x)`` takes ``x`` of any shape. In training mode (``self.training``) it draws a
    keep-mask ``u >= ratio`` for ``u ~ U[0, 1)`` from the generator ``rng`` and returns
    ``x * mask / (1 - ratio)``; ``backward(dout)`` returns ``dout * mask / (1 - ratio)``.
    In inference mode both are the identity (they return copies).

    This is *inverted* dropout: the book scales by ``1 - ratio`` at inference time instead.
    Scaling the kept units during training keeps the expected activation the same in both
    modes, so inference needs no correction and a network can switch modes freely.

    Parameters
    ----------
    ratio : float in [0, 1)
        The probability of dropping a unit (the book's ``dropout_ratio``).
    rng : numpy.random.Generator, int or None
        Source of the masks; an int or None seeds ``np.random.default_rng``.

    For gradient checks, :meth:`freeze_randomness` makes later forward passes reuse the last
    mask and :meth:`fix_mask` imposes a given one (for example one from :meth:`draw_mask`);
    :meth:`unfreeze_randomness` undoes both.
    """

    def __init__(self, ratio: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        ratio = real_number(ratio, "Dropout", "ratio")
        if not 0.0 <= ratio < 1.0:
            raise ConfigError(f"Invalid dropout ratio: {ratio} (must be in [0, 1))")
        self.ratio = ratio
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.mask: Array | None = None  # keep-mask of the last training-mode forward
        self.frozen = False
        self._shape: tuple[int, ...] | None = None  # shape of the last forward's input
        self._masked = False  # whether the last forward applied the mask (training mode)

    @property
    def dropout_ratio(self) -> float:
        """The book's name for :attr:`ratio`."""
        return self.ratio

    def _config_args(self) -> dict[str, Any]:
        # The generator's state is not architecture: checkpoints save it separately.
        return {"ratio": self.ratio}

    @classmethod
    def _from_config(cls, **args: Any) -> Dropout:
        return cls(check_config(args, cls.__name__, ["ratio"])["ratio"])

    def forward(self, x: ArrayLike) -> Array:
        x = as_float_array(x)
        self._shape = x.shape
        self._masked = self.training
        if not self.training:
            return x.copy()
        if self.frozen:
            assert self.mask is not None
            if self.mask.shape != x.shape:
                raise ShapeError(
                    f"Dropout: the frozen mask has shape {self.mask.shape}, got input of shape {x.shape}"
                )
        else:
            self.mask = self.draw_mask(x.shape)
        return x * self._scaled_mask(x.dtype)

    def backward(self, dout: ArrayLike) -> Array:
        self._require(self._shape)
        assert self._shape is not None
        d = np.asarray(dout)
        d = self._dout(d, self._shape, d.dtype if d.dtype.kind == "f" else np.dtype(np.float32))
        if not self._masked:
            return d.copy()
        return d * self._scaled_mask(d.dtype)

    def _scaled_mask(self, dtype: np.dtype[Any]) -> Array:
        assert self.mask is not None
        # cast first and scale by a scalar of the data's dtype, so float32 stays float32
        scaled = self.mask.astype(dtype)
        scaled *= dtype.type(1.0 / (1.0 - self.ratio))
        return scaled

    def draw_mask(self, shape: tuple[int, ...]) -> Array:
        """A fresh keep-mask for an input of ``shape``: ``u >= ratio`` for ``u ~ U[0, 1)``
        drawn from :attr:`rng`, as each training-mode :meth:`forward` draws it."""
        mask: Array = self.rng.random(shape) >= self.ratio
        return mask

    # -- fixed masks for gradient checks ---------------------------------------------------
    def freeze_randomness(self) -> None:
        """Reuse the mask of the last training-mode forward pass until unfrozen."""
        if self.mask is None:
            if self._shape is not None and not self._masked:
                return  # ran in inference mode only: nothing random to freeze
            raise RuntimeError("Dropout.freeze_randomness() called before a training-mode forward()")
        self.frozen = True

    def fix_mask(self, mask: ArrayLike) -> None:
        """Use ``mask`` (True = keep) in every training-mode forward pass until unfrozen."""
        m = np.asarray(mask)
        if m.dtype != np.bool_:
            raise TypeError(f"Dropout.fix_mask: mask must be boolean, got dtype {m.dtype}")
        self.mask = m.copy()
        self.frozen = True

    def unfreeze_randomness(self) -> None:
        self.frozen = False

    def __repr__(self) -> str:
        return f"Dropout(ratio={self.ratio:g})"
