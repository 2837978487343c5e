"""Batch normalization (book §6.3), per feature for ``(N, D)`` and per channel for images."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from layerwise.errors import ConfigError, ShapeError, check_int
from layerwise.layers.base import Array, Layer, check_config, parameter_array, real_number

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    """``out = gamma * (x - mean) / sqrt(var + eps) + beta``, statistics per feature/channel.

    Parameters
    ----------
    gamma, beta : ndarray of shape (D,)
        Scale and shift; ``D`` is the number of features of a 2-D input ``(N, D)`` or the
        number of channels ``C`` of a 4-D input ``(N, C, H, W)``.
    momentum : float in [0, 1]
        Weight of the old value in the running statistics, as in the book:
        ``running = momentum * running + (1 - momentum) * batch``. (``torch`` calls
        ``1 - momentum`` its momentum, 0.1 by default.)
    eps : float
        Added to the variance. The book's code writes ``10e-7``, which is 1e-6, the default
        here; ``torch`` uses 1e-5.
    running_mean, running_var : ndarray of shape (D,), optional
        Initial running statistics; zeros and ones by default (``torch``'s choice; the book
        starts the variance at zero, which makes early inference divide by ``sqrt(eps)``).

    In training mode (``self.training``) ``forward`` normalises with the batch mean and the
    biased batch variance (over ``N``, or over ``N, H, W`` per channel for 4-D input, not per
    activation as in the book) and updates the running statistics with that biased variance
    (``torch`` uses the unbiased one there). In inference mode it uses the running statistics.

    ``backward(dout)`` in training mode follows the computational graph of the book's figure
    6-17 backwards, node by node, with ``M`` samples per feature (sums over the batch axes)::

        forward                         backward
        mu  = sum(x) / M
        xc  = x - mu                    dbeta  = sum(dout)
        var = sum(xc**2) / M            dgamma = sum(dout * xn)
        std = sqrt(var + eps)           dxn    = gamma * dout
        xn  = xc / std                  dxc    = dxn / std
        out = gamma * xn + beta         dstd   = -sum(dxn * xc / std**2)
                                        dvar   = 0.5 * dstd / std
                                        dxc   += (2 / M) * xc * dvar
                                        dmu    = sum(dxc)
                                        dx     = dxc - dmu / M

    Substituting each line into the next collapses it into the one line computed here::

        dx = (dxn - mean(dxn) - xn * mean(dxn * xn)) / std

    In inference mode the layer is affine: ``dx = dout * gamma / std``.

    ``running_mean`` and ``running_var`` are buffers: saved with the model, never trained.
    """

    param_names = ("gamma", "beta")
    buffer_names = ("running_mean", "running_var")

    def __init__(
        self,
        gamma: ArrayLike,
        beta: ArrayLike,
        momentum: float = 0.9,
        eps: float = 1e-6,
        running_mean: ArrayLike | None = None,
        running_var: ArrayLike | None = None,
    ) -> None:
        super().__init__()
        who = "BatchNormalization"
        gamma = parameter_array(gamma, who, "gamma")
        if gamma.ndim != 1:
            raise ShapeError(f"BatchNormalization: gamma must be 1-D (D,), got shape {gamma.shape}")
        dim = gamma.shape[0]
        beta = parameter_array(beta, who, "beta", gamma.dtype)
        if beta.shape != (dim,):
            raise ShapeError(f"BatchNormalization: expected beta of shape ({dim},), got {beta.shape}")
        momentum = real_number(momentum, who, "momentum")
        if not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"Invalid momentum value: {momentum} (must be in [0, 1])")
        eps = real_number(eps, who, "eps")
        if not 0.0 < eps < math.inf:
            raise ConfigError(f"Invalid epsilon value: {eps} (must be > 0 and finite)")
        self.gamma: Array = gamma
        self.beta: Array = beta
        self.dgamma: Array = np.zeros_like(gamma)
        self.dbeta: Array = np.zeros_like(beta)
        self.momentum = momentum
        self.eps = eps
        self.running_mean: Array = self._stat("running_mean", running_mean, 0.0)
        self.running_var: Array = self._stat("running_var", running_var, 1.0)
        # cache for backward
        self.input_shape: tuple[int, ...] | None = None
        self.batch_size: int | None = None  # the book's name: samples per feature (N or N*H*W)
        self.xn: Array | None = None
        self.std: Array | None = None
        self._train_stats = True  # whether the last forward used batch statistics

    def _stat(self, name: str, value: ArrayLike | None, fill: float) -> Array:
        dim = self.gamma.shape[0]
        if value is None:
            return np.full(dim, fill, dtype=self.gamma.dtype)
        arr = parameter_array(value, "BatchNormalization", name, self.gamma.dtype)
        if arr.shape != (dim,):
            raise ShapeError(f"BatchNormalization: expected {name} of shape ({dim},), got {arr.shape}")
        return arr

    # -- (N, C, H, W) <-> (N*H*W, C) ----------------------------------------------------------
    def _to_2d(self, x: Array) -> Array:
        dim = self.gamma.shape[0]
        if x.ndim == 2 and x.shape[1] == dim:
            return x
        if x.ndim == 4 and x.shape[1] == dim:
            return x.transpose(0, 2, 3, 1).reshape(-1, dim)
        hint = ""
        if x.ndim == 4 and x.shape[1] * x.shape[2] * x.shape[3] == dim:
            hint = f" (gamma and beta have one entry per channel, shape ({x.shape[1]},), not per activation)"
        raise ShapeError(
            f"BatchNormalization: expected input of shape (N, {dim}) or (N, {dim}, H, W), got {x.shape}{hint}"
        )

    def _from_2d(self, y: Array, shape: tuple[int, ...]) -> Array:
        if len(shape) == 2:
            return y
        n, c, h, w = shape
        return y.reshape(n, h, w, c).transpose(0, 3, 1, 2)

    # -- the protocol -----------------------------------------------------------------------
    def _config_args(self) -> dict[str, Any]:
        return {"num_features": int(self.gamma.shape[0]), "momentum": self.momentum, "eps": self.eps}

    @classmethod
    def _from_config(cls, **args: Any) -> BatchNormalization:
        config = check_config(args, cls.__name__, ["num_features"], ["momentum", "eps"])
        n = check_int(config.pop("num_features"), cls.__name__, "num_features")
        return cls(np.ones(n, np.float32), np.zeros(n, np.float32), **config)

    @classmethod
    def _config_shapes(cls, **args: Any) -> dict[str, tuple[int, ...]]:
        config = check_config(args, cls.__name__, ["num_features"], ["momentum", "eps"])
        n = check_int(config["num_features"], cls.__name__, "num_features")
        return {name: (n,) for name in (*cls.param_names, *cls.buffer_names)}

    def forward(self, x: ArrayLike) -> Array:
        x = self._input(x)
        x2 = self._to_2d(x)
        if self.training:
            if x2.shape[0] < 2:
                per = "sample" if x.ndim == 2 else "value per channel (N * H * W)"
                raise ShapeError(
                    f"BatchNormalization: training mode needs at least 2 values per feature to "
                    f"normalise by batch statistics, got {x2.shape[0]} {per} from input {x.shape}; "
                    "use a larger batch, or eval() mode"
                )
            mu = x2.mean(axis=0)
            xc = x2 - mu
            var = np.mean(xc * xc, axis=0)
            std = np.sqrt(var + self.gamma.dtype.type(self.eps))
            # in place, so the arrays returned by ``buffers`` stay live; Python floats times
            # arrays keep the arrays' dtype (float32 stays float32)
            m = self.momentum
            self.running_mean *= m
            self.running_mean += (1.0 - m) * mu
            self.running_var *= m
            self.running_var += (1.0 - m) * var
        else:
            xc = x2 - self.running_mean
            std = np.sqrt(self.running_var + self.gamma.dtype.type(self.eps))
        xn = xc / std
        self.input_shape = x.shape
        self.batch_size = x2.shape[0]
        self.xn, self.std = xn, std
        self._train_stats = self.training
        return self._from_2d(self.gamma * xn + self.beta, x.shape)

    def backward(self, dout: ArrayLike) -> Array:
        self._require(self.xn)
        assert self.xn is not None and self.std is not None and self.input_shape is not None
        d = self._to_2d(self._dout(dout, self.input_shape, self.gamma.dtype))
        xn = self.xn
        self.dbeta = d.sum(axis=0)
        self.dgamma = np.sum(d * xn, axis=0)
        dxn = self.gamma * d
        if self._train_stats:
            dx = (dxn - dxn.mean(axis=0) - xn * np.mean(dxn * xn, axis=0)) / self.std
        else:
            dx = dxn / self.std
        return self._from_2d(dx, self.input_shape)

    def __repr__(self) -> str:
        return f"BatchNormalization(D={self.gamma.shape[0]}, momentum={self.momentum:g}, eps={self.eps:g})"
