"""BatchNormalization: batch and running statistics, per-channel images, modes, torch parity."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import layerwise as lw


def _bn(d: int, **kw: object) -> lw.BatchNormalization:
    return lw.BatchNormalization(np.ones(d, np.float32), np.zeros(d, np.float32), **kw)  # type: ignore[arg-type]


def test_train_mode_normalises_each_feature() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3)) * [1.0, 5.0, 0.1] + [0.0, -3.0, 10.0]
    out = _bn(3).forward(x.astype(np.float32))
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-3)


def test_gamma_and_beta_scale_and_shift() -> None:
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    layer = lw.BatchNormalization(np.array([2.0, 1.0]), np.array([0.5, -1.0]), eps=1e-12)
    # per feature: mean (2, 20), biased std (1, 10) -> xn = [[-1, -1], [1, 1]]
    np.testing.assert_allclose(layer.forward(x), [[-1.5, -2.0], [2.5, 0.0]], rtol=1e-9, atol=1e-12)


def test_running_statistics_follow_the_book_update() -> None:
    layer = lw.BatchNormalization(np.ones(2), np.zeros(2), momentum=0.9)
    np.testing.assert_array_equal(layer.running_mean, [0.0, 0.0])
    np.testing.assert_array_equal(layer.running_var, [1.0, 1.0])
    live_mean = layer.buffers["running_mean"]
    layer.forward(np.array([[1.0, 2.0], [3.0, 6.0]]))  # mean (2, 4), biased var (1, 4)
    np.testing.assert_allclose(layer.running_mean, [0.2, 0.4])  # 0.9*0 + 0.1*mean
    np.testing.assert_allclose(layer.running_var, [1.0, 1.3])  # 0.9*1 + 0.1*var
    layer.forward(np.array([[0.0, 0.0], [0.0, 2.0]]))  # mean (0, 1), var (0, 1)
    np.testing.assert_allclose(layer.running_mean, [0.18, 0.46])
    np.testing.assert_allclose(layer.running_var, [0.9, 1.27])
    assert layer.buffers["running_mean"] is live_mean  # updated in place: views stay live


def test_eval_mode_uses_running_statistics_and_leaves_them() -> None:
    layer = lw.BatchNormalization(np.array([2.0]), np.array([1.0]), eps=1e-6,
                                  running_mean=np.array([3.0]), running_var=np.array([4.0]))
    layer.eval()
    x = np.array([[5.0], [3.0], [7.0]])
    expected = 2.0 * (x - 3.0) / np.sqrt(4.0 + 1e-6) + 1.0
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)
    # one sample at a time gives the same answer: no batch statistics in inference
    np.testing.assert_allclose(layer.forward(x[1:2]), expected[1:2], rtol=1e-12)
    np.testing.assert_array_equal(layer.running_mean, [3.0])
    np.testing.assert_array_equal(layer.running_var, [4.0])
    dx = layer.backward(np.ones((1, 1)))
    np.testing.assert_allclose(dx, [[2.0 / np.sqrt(4.0 + 1e-6)]])


def test_backward_follows_the_mode_of_its_forward() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 3))
    dout = rng.standard_normal((6, 3))
    a = lw.BatchNormalization(np.ones(3), np.zeros(3))
    a.forward(x)
    b = copy.deepcopy(a)
    dx = a.backward(dout)
    b.eval()  # switching after forward does not change what backward differentiates
    np.testing.assert_array_equal(b.backward(dout), dx)


def test_images_are_normalised_per_channel() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 5, 5)) * np.array([1.0, 3.0, 0.5]).reshape(1, 3, 1, 1)
    layer = lw.BatchNormalization(np.ones(3), np.zeros(3))
    out = layer.forward(x)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1.0, rtol=1e-4)
    # not per activation: a single position is not normalised over the batch on its own
    assert not np.allclose(out.mean(axis=0), 0.0)
    np.testing.assert_allclose(layer.running_mean, 0.1 * x.mean(axis=(0, 2, 3)))
    # the same as 2-D normalisation of the (N*H*W, C) matrix
    flat = lw.BatchNormalization(np.ones(3), np.zeros(3)).forward(x.transpose(0, 2, 3, 1).reshape(-1, 3))
    np.testing.assert_allclose(out, flat.reshape(4, 5, 5, 3).transpose(0, 3, 1, 2), rtol=1e-12)


def test_keeps_float32() -> None:
    layer = _bn(3)
    x = np.random.default_rng(3).standard_normal((5, 3, 2, 2))  # float64 input, float32 layer
    for mode in (True, False):
        layer.train(mode)
        out = layer.forward(x)
        assert out.dtype == np.float32
        dx = layer.backward(np.ones_like(x))
        assert dx.dtype == np.float32
        assert layer.dgamma.dtype == np.float32 and layer.dbeta.dtype == np.float32
        assert layer.running_mean.dtype == np.float32 and layer.running_var.dtype == np.float32


def test_buffers_are_state_not_params() -> None:
    layer = _bn(2)
    assert list(layer.params) == ["gamma", "beta"]
    assert list(layer.buffers) == ["running_mean", "running_var"]
    layer.set_buffer("running_var", [2.0, 3.0])
    assert layer.running_var.dtype == np.float32
    np.testing.assert_array_equal(layer.running_var, [2.0, 3.0])
    with pytest.raises(lw.ShapeError,
                       match=r"BatchNormalization.running_var: expected shape \(2,\), got \(3,\)"):
        layer.set_buffer("running_var", np.ones(3))
    with pytest.raises(KeyError, match="no buffer 'gamma'"):
        layer.set_buffer("gamma", np.ones(2))
    layer.astype(np.float64)
    assert layer.running_mean.dtype == np.float64 and layer.gamma.dtype == np.float64


def test_shape_and_value_errors() -> None:
    layer = _bn(3)
    with pytest.raises(lw.ShapeError, match=r"\(N, 3\) or \(N, 3, H, W\), got \(2, 12\)"):
        layer.forward(np.zeros((2, 12)))
    with pytest.raises(lw.ShapeError, match=r"got \(2, 3, 4\)"):
        layer.forward(np.zeros((2, 3, 4)))
    # the book's per-activation gamma on images
    with pytest.raises(lw.ShapeError, match=r"got \(2, 3, 2, 2\).*per channel"):
        lw.BatchNormalization(np.ones(12), np.zeros(12)).forward(np.zeros((2, 3, 2, 2)))
    with pytest.raises(lw.ShapeError, match="beta of shape"):
        lw.BatchNormalization(np.ones(3), np.zeros(2))
    with pytest.raises(lw.ShapeError, match="running_var of shape"):
        lw.BatchNormalization(np.ones(3), np.zeros(3), running_var=np.ones(4))
    with pytest.raises(ValueError, match="Invalid momentum value: 1.5"):
        _bn(3, momentum=1.5)
    with pytest.raises(ValueError, match="Invalid epsilon value: 0.0"):
        _bn(3, eps=0.0)
    layer.forward(np.zeros((2, 3)))
    with pytest.raises(lw.ShapeError, match=r"BatchNormalization.backward.*\(2, 3\).*\(2, 4\)"):
        layer.backward(np.zeros((2, 4)))


def test_repr() -> None:
    assert repr(_bn(4)) == "BatchNormalization(D=4, momentum=0.9, eps=1e-06)"


@pytest.mark.parametrize("training", [True, False])
def test_per_channel_matches_torch_batch_norm(training: bool) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 5, 2)) * 2 + 1
    gamma, beta = rng.uniform(0.5, 2, 4), rng.standard_normal(4)
    rm, rv = rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    dout = rng.standard_normal(x.shape)
    eps = 1e-5

    layer = lw.BatchNormalization(gamma, beta, momentum=0.9, eps=eps, running_mean=rm, running_var=rv)
    layer.train(training)
    out = layer.forward(x)
    dx = layer.backward(dout)

    tx = torch.tensor(x, requires_grad=True)
    tg = torch.tensor(gamma, requires_grad=True)
    tb = torch.tensor(beta, requires_grad=True)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    tout = torch.nn.functional.batch_norm(tx, trm, trv, tg, tb, training=training, momentum=0.1, eps=eps)
    tout.backward(torch.tensor(dout))

    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(layer.dgamma, tg.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(layer.dbeta, tb.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(layer.running_mean, trm.numpy(), rtol=1e-12)
    if training:
        # torch updates the running variance with the unbiased batch variance, we (as the
        # book) with the biased one: undo the difference before comparing
        m = x.shape[0] * x.shape[2] * x.shape[3]
        torch_batch_var_unbiased = (trv.numpy() - 0.9 * rv) / 0.1
        np.testing.assert_allclose(layer.running_var, 0.9 * rv + 0.1 * torch_batch_var_unbiased * (m - 1) / m,
                                   rtol=1e-12)
    else:
        np.testing.assert_allclose(layer.running_var, trv.numpy())
