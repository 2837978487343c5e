"""Optimizers: textbook formulas by hand, torch parity, in-place updates, dtypes, state."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import layerwise as lw
from layerwise import fast
from layerwise import optimizers as opt

# Two steps on one parameter W = [1, -2] with gradients g1 then g2; the expected values
# below are worked out by hand from each method's formula, not taken from the code.
W0 = [1.0, -2.0]
G1 = [0.5, -1.0]
G2 = [-0.25, 2.0]


def two_steps(optimizer: opt.Optimizer, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    w = np.array(W0, dtype=dtype)
    params = {"W": w}
    optimizer.update(params, {"W": np.array(G1, dtype=dtype)})
    w1 = w.copy()
    optimizer.update(params, {"W": np.array(G2, dtype=dtype)})
    assert params["W"] is w  # updated in place, never rebound
    return w1, w


def test_sgd_by_hand() -> None:
    # W -= 0.1 * g
    w1, w2 = two_steps(opt.SGD(lr=0.1))
    np.testing.assert_allclose(w1, [0.95, -1.9], rtol=1e-12)
    np.testing.assert_allclose(w2, [0.975, -2.1], rtol=1e-12)


def test_momentum_by_hand() -> None:
    # v1 = -0.1*g1 = [-0.05, 0.1];            W1 = [0.95, -1.9]
    # v2 = 0.9*v1 - 0.1*g2 = [-0.02, -0.11];  W2 = [0.93, -2.01]
    o = opt.Momentum(lr=0.1, momentum=0.9)
    w1, w2 = two_steps(o)
    np.testing.assert_allclose(w1, [0.95, -1.9], rtol=1e-12)
    np.testing.assert_allclose(w2, [0.93, -2.01], rtol=1e-12)
    np.testing.assert_allclose(o.state["v"]["W"], [-0.02, -0.11], rtol=1e-12)


def test_nesterov_by_hand() -> None:
    # W += 0.81*v_prev - 1.9*0.1*g, then v = 0.9*v - 0.1*g
    # step 1: v_prev = 0: W1 = W0 - 0.19*g1 = [0.905, -1.81];  v1 = [-0.05, 0.1]
    # step 2: W2 = W1 + 0.81*[-0.05, 0.1] - 0.19*[-0.25, 2] = W1 + [0.007, -0.299]
    w1, w2 = two_steps(opt.Nesterov(lr=0.1, momentum=0.9))
    np.testing.assert_allclose(w1, [0.905, -1.81], rtol=1e-12)
    np.testing.assert_allclose(w2, [0.912, -2.109], rtol=1e-12)


def test_adagrad_by_hand() -> None:
    # h1 = g1^2 = [0.25, 1];        W1 = W0 - 0.1*g1/(sqrt(h1) + 1e-7)
    # h2 = h1 + g2^2 = [0.3125, 5]; W2 = W1 - 0.1*g2/(sqrt(h2) + 1e-7)
    w1, w2 = two_steps(opt.AdaGrad(lr=0.1))
    e = 1e-7
    np.testing.assert_allclose(w1, [1 - 0.05 / (0.5 + e), -2 + 0.1 / (1 + e)], rtol=1e-12)
    np.testing.assert_allclose(w2, [w1[0] + 0.025 / (np.sqrt(0.3125) + e), w1[1] - 0.2 / (np.sqrt(5) + e)],
                               rtol=1e-12)
    np.testing.assert_allclose(w2, [0.9447214, -1.9894427], rtol=1e-6)


def test_rmsprop_by_hand() -> None:
    # h1 = 0.01*g1^2 = [0.0025, 0.01], sqrt = [0.05, 0.1]: W1 = W0 - 0.1*[10, -10] = [0, -1]
    # h2 = 0.99*h1 + 0.01*g2^2 = [0.0031, 0.0499]:         W2 = W1 - 0.1*g2/sqrt(h2)
    w1, w2 = two_steps(opt.RMSprop(lr=0.1, decay_rate=0.99, eps=0.0))
    np.testing.assert_allclose(w1, [0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(w2, [0.025 / np.sqrt(0.0031), -1 - 0.2 / np.sqrt(0.0499)], rtol=1e-12)
    np.testing.assert_allclose(w2, [0.449013, -1.895323], rtol=1e-5)


def test_adam_by_hand() -> None:
    # step 1: m = 0.1*g1, v = 0.001*g1^2: m_hat = g1, v_hat = g1^2, so W1 = W0 - 0.1*sign(g1)
    # step 2: m = 0.9*m + 0.1*g2 = [0.02, 0.11],  v = 0.999*v + 0.001*g2^2 = [0.00031225, 0.004999]
    #         m_hat = m/0.19, v_hat = v/0.001999, W2 = W1 - 0.1*m_hat/(sqrt(v_hat) + 1e-8)
    o = opt.Adam(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    w1, w2 = two_steps(o)
    np.testing.assert_allclose(w1, [0.9, -1.9], rtol=1e-7)
    m_hat = np.array([0.02, 0.11]) / 0.19
    v_hat = np.array([0.00031225, 0.004999]) / 0.001999
    np.testing.assert_allclose(w2, w1 - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(w2, [0.9 - 0.026634, -1.9 - 0.036610], rtol=1e-5)
    assert o.t == 2
    np.testing.assert_allclose(o.state["m"]["W"], [0.02, 0.11], rtol=1e-12)


def test_adam_differs_from_the_book_variant_only_near_eps() -> None:
    # the book: lr_t = lr*sqrt(1 - b2^t)/(1 - b1^t); W -= lr_t*m/(sqrt(v) + 1e-7)
    rng = np.random.default_rng(0)
    w = rng.standard_normal(20)
    book_w, m, v = w.copy(), np.zeros(20), np.zeros(20)
    o = opt.Adam(lr=0.01)
    for t in range(1, 6):
        g = rng.standard_normal(20)
        o.update({"W": w}, {"W": g})
        m += 0.1 * (g - m)
        v += 0.001 * (g**2 - v)
        book_w -= 0.01 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(w, book_w, rtol=1e-5)


ALL: dict[str, Callable[[], opt.Optimizer]] = {
    "SGD": lambda: opt.SGD(lr=0.1),
    "Momentum": lambda: opt.Momentum(lr=0.1),
    "Nesterov": lambda: opt.Nesterov(lr=0.1),
    "AdaGrad": lambda: opt.AdaGrad(lr=0.1),
    "RMSprop": lambda: opt.RMSprop(lr=0.01),
    "Adam": lambda: opt.Adam(lr=0.01),
    "Adam+wd+clip": lambda: opt.Adam(lr=0.01, weight_decay=0.1, clip_norm=0.5),
}


@pytest.mark.parametrize("name", sorted(ALL))
def test_float32_stays_float32(name: str) -> None:
    rng = np.random.default_rng(1)
    w32 = rng.standard_normal((3, 4)).astype(np.float32)
    w64 = w32.astype(np.float64)
    o32, o64 = ALL[name](), ALL[name]()
    for _ in range(3):
        g = rng.standard_normal((3, 4))
        o32.update({"W": w32}, {"W": g})  # float64 gradients into float32 parameters
        o64.update({"W": w64}, {"W": g})
    assert w32.dtype == np.float32
    for table in o32.state.values():
        assert all(a.dtype == np.float32 for a in table.values())
    np.testing.assert_allclose(w32, w64, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ALL))
def test_step_updates_the_network_layers_in_place(name: str) -> None:
    net = lw.TwoLayerNet(4, 5, 3, weight_init_std=0.5, rng=0)
    x = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    t = np.array([0, 1, 2, 0, 1, 2])
    w_layer = net.layers["Affine1"].W
    before = net.copy()
    net.gradient(x, t)
    grads_before = {k: v.copy() for k, v in net.grads.items()}
    o = ALL[name]()
    o.step(net)
    assert net.layers["Affine1"].W is w_layer
    assert not np.array_equal(w_layer, before.params["W1"])
    for k in net.grads:  # hooks never touch the layers' gradients
        np.testing.assert_array_equal(net.grads[k], grads_before[k])
    # step(net) is update(net.params, net.grads)
    o2 = ALL[name]()
    before.gradient(x, t)
    o2.update(before.params, before.grads)
    for k in net.params:
        np.testing.assert_array_equal(net.params[k], before.params[k])


@pytest.mark.parametrize("name", ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"])
def test_each_optimizer_trains_the_two_layer_net(name: str) -> None:
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 8)) * 3
    t = rng.integers(0, 3, 300)
    x = (centers[t] + rng.standard_normal((300, 8))).astype(np.float32)
    net = lw.TwoLayerNet(8, 16, 3, weight_init_std=0.1, rng=1)
    o = ALL[name]()
    for _ in range(100):
        idx = rng.choice(300, 50, replace=False)
        net.gradient(x[idx], t[idx])
        o.step(net)
    assert net.accuracy(x, t) > 0.9


# -- torch parity ------------------------------------------------------------------------------------

def _against_torch(ours: opt.Optimizer, make_torch: Callable[[list[Any]], Any], dtype: Any,
                   clip: float | None = None, steps: int = 6) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    params = {"W1": rng.standard_normal((4, 3)).astype(dtype), "b1": rng.standard_normal(3).astype(dtype)}
    tparams = [torch.tensor(params[k].copy(), requires_grad=True) for k in params]
    topt = make_torch(tparams)
    # float32: a few ulps of the parameters' scale (about 1), also for entries near zero
    rtol, atol = (1e-12, 1e-14) if dtype == np.float64 else (2e-6, 1e-6)
    for _ in range(steps):
        grads = {k: (rng.standard_normal(v.shape) * 3).astype(dtype) for k, v in params.items()}
        for tp, g in zip(tparams, grads.values(), strict=True):
            tp.grad = torch.tensor(g.copy())
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(tparams, clip)
        topt.step()
        ours.update(params, grads)
        for tp, k in zip(tparams, params, strict=True):
            np.testing.assert_allclose(params[k], tp.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_matches_torch(dtype: Any) -> None:
    torch = pytest.importorskip("torch")
    _against_torch(opt.Adam(lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01), dtype)
    _against_torch(opt.Adam(lr=0.05, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1),
                   lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
                   dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sgd_family_matches_torch(dtype: Any) -> None:
    torch = pytest.importorskip("torch")
    _against_torch(opt.SGD(lr=0.1, weight_decay=0.01),
                   lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01), dtype)
    # the book's velocity form and torch's buffer form give the same trajectory (constant lr)
    _against_torch(opt.Momentum(lr=0.05, momentum=0.9),
                   lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), dtype)
    _against_torch(opt.Nesterov(lr=0.05, momentum=0.9),
                   lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adaptive_methods_match_torch(dtype: Any) -> None:
    torch = pytest.importorskip("torch")
    _against_torch(opt.AdaGrad(lr=0.1, eps=1e-10), lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-10), dtype)
    _against_torch(opt.RMSprop(lr=0.01, decay_rate=0.9, eps=1e-8),
                   lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8), dtype)


def test_clip_norm_matches_torch_clip_grad_norm() -> None:
    torch = pytest.importorskip("torch")
    _against_torch(opt.SGD(lr=0.1, clip_norm=1.0), lambda p: torch.optim.SGD(p, lr=0.1), np.float64, clip=1.0)


# -- hooks ----------------------------------------------------------------------------------------------

def test_clip_grad_norm_hook() -> None:
    params = {"a": np.zeros(1), "b": np.zeros(1)}
    grads = {"a": np.array([3.0]), "b": np.array([4.0])}  # global norm 5
    clipped = opt.ClipGradNorm(1.0)(params, grads)
    np.testing.assert_allclose([clipped["a"][0], clipped["b"][0]], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_array_equal(grads["a"], [3.0])  # not modified
    assert opt.ClipGradNorm(10.0)(params, grads) is grads
    assert opt.global_norm(grads.values()) == 5.0


def test_clip_then_weight_decay_then_rule() -> None:
    # g = 10 is clipped to ~1, then 0.5 * W = 1 is added: W = 2 - 1 * 2 = 0
    # (decay before clipping would give 2 - 1 = 1)
    w = np.array([2.0])
    opt.SGD(lr=1.0, clip_norm=1.0, weight_decay=0.5).update({"W": w}, {"W": np.array([10.0])})
    np.testing.assert_allclose(w, [0.0], atol=1e-5)


def test_custom_hooks_run_first() -> None:
    def double(params: Any, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: 2 * g for k, g in grads.items()}

    w = np.array([1.0])
    o = opt.SGD(lr=0.1, hooks=[double])
    o.update({"W": w}, {"W": np.array([1.0])})
    np.testing.assert_allclose(w, [0.8])
    o.add_hook(opt.WeightDecay(1.0))  # (2 * 1) + 0.8 = 2.8
    o.update({"W": w}, {"W": np.array([0.5])})
    np.testing.assert_allclose(w, [0.8 - 0.1 * (1.0 + 0.8)])


# -- state --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ALL))
def test_state_dict_round_trip_continues_identically(name: str) -> None:
    rng = np.random.default_rng(4)
    net = lw.TwoLayerNet(5, 4, 3, weight_init_std=0.5, rng=0)
    batches = [(rng.standard_normal((6, 5)).astype(np.float32), rng.integers(0, 3, 6)) for _ in range(6)]
    a = ALL[name]()
    for x, t in batches[:3]:
        net.gradient(x, t)
        a.step(net)
    state = a.state_dict()
    assert state["t"] == 3 and isinstance(state["t"], int)
    for k, v in state.items():
        if k != "t":
            assert isinstance(v, np.ndarray) and v.dtype == np.float32
    frozen = copy.deepcopy(state)

    net_b = net.copy()
    b = ALL[name]()
    b.load_state_dict(state, params=net_b.params)
    for x, t in batches[3:]:
        net.gradient(x, t)
        a.step(net)
        net_b.gradient(x, t)
        b.step(net_b)
    for k in net.params:
        np.testing.assert_array_equal(net.params[k], net_b.params[k])
    assert a.t == b.t == 6
    for k, v in frozen.items():  # a snapshot: later steps did not change it
        np.testing.assert_array_equal(state[k], v)


def test_state_dict_keys() -> None:
    net = lw.TwoLayerNet(3, 2, 2, rng=0)
    net.gradient(np.ones((2, 3)), np.array([0, 1]))
    o = opt.Adam()
    assert o.state_dict() == {"t": 0}
    o.step(net)
    assert sorted(o.state_dict()) == sorted(
        ["t", *(f"{s}.{k}" for s in ("m", "v") for k in ("W1", "b1", "W2", "b2"))])
    s = opt.SGD()
    s.step(net)
    assert s.state_dict() == {"t": 1}


def test_load_state_dict_is_strict() -> None:
    w = {"W1": np.zeros((2, 3), np.float32)}
    a = opt.Adam()
    a.update(w, {"W1": np.ones((2, 3), np.float32)})
    state = a.state_dict()

    with pytest.raises(ValueError, match=r"unexpected key\(s\) \['h.W1'\]"):
        opt.Adam().load_state_dict({**state, "h.W1": np.zeros((2, 3))})
    opt.Adam().load_state_dict({**state, "h.W1": np.zeros((2, 3))}, strict=False)
    with pytest.raises(ValueError, match=r"missing \['v.W1'\]"):
        opt.Adam().load_state_dict({k: v for k, v in state.items() if k != "v.W1"})
    with pytest.raises(ValueError, match="missing key 't'"):
        opt.Adam().load_state_dict({k: v for k, v in state.items() if k != "t"})
    for bad in (-1, 1.5, np.zeros(2), "3"):
        with pytest.raises(ValueError, match="'t' must be a non-negative integer"):
            opt.Adam().load_state_dict({**state, "t": bad})
    with pytest.raises(ValueError, match=r"m.W1 has shape \(2, 3\), parameter 'W1' has shape \(3, 2\)"):
        opt.Adam().load_state_dict(state, params={"W1": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="parameter 'W1' the network lacks"):
        opt.Adam().load_state_dict(state, params={"W2": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="unexpected"):
        opt.SGD().load_state_dict(state)

    # a 0-d array counter (as safetensors stores it) is fine; shapes are checked at update
    c = opt.Adam()
    c.load_state_dict({**state, "t": np.array(1, dtype=np.int64)})
    assert c.t == 1
    w_bad = np.zeros((3, 2), np.float32)
    with pytest.raises(lw.ShapeError,
                       match=r"state m.W1 has shape \(2, 3\) but parameter 'W1' has shape \(3, 2\)"):
        c.update({"W1": w_bad}, {"W1": np.ones((3, 2), np.float32)})
    assert c.t == 1 and not w_bad.any()  # checked before anything changed


# -- validation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: opt.SGD(lr=-0.1), "Invalid learning rate: -0.1"),
        (lambda: opt.Adam(lr=float("nan")), "Invalid learning rate: nan"),
        (lambda: opt.SGD(lr="fast"), "Invalid learning rate: 'fast'"),
        (lambda: opt.Momentum(momentum=1.5), "Invalid momentum value: 1.5"),
        (lambda: opt.Nesterov(momentum=-0.1), "Invalid momentum value: -0.1"),
        (lambda: opt.Adam(beta1=1.0), "Invalid beta1 value: 1.0"),
        (lambda: opt.Adam(beta2=-0.5), "Invalid beta2 value: -0.5"),
        (lambda: opt.Adam(eps=-1e-8), "Invalid epsilon value: -1e-08"),
        (lambda: opt.RMSprop(decay_rate=1.0), "Invalid decay_rate value: 1.0"),
        (lambda: opt.SGD(weight_decay=-1), "Invalid weight_decay value: -1"),
        (lambda: opt.SGD(clip_norm=0.0), "Invalid clip_norm value: 0.0"),
    ],
)
def test_invalid_hyperparameters_name_the_value(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_lr_is_validated_on_assignment_too() -> None:
    o = opt.SGD(lr=0.1)
    o.lr = 0.05
    assert o.lr == 0.05
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        o.lr = -1


def test_update_errors() -> None:
    o = opt.SGD()
    with pytest.raises(KeyError, match=r"no gradient for parameter\(s\) \['b'\]"):
        o.update({"W": np.zeros(2), "b": np.zeros(1)}, {"W": np.zeros(2)})
    with pytest.raises(lw.ShapeError, match=r"gradient 'W' has shape \(3,\), parameter has \(2,\)"):
        o.update({"W": np.zeros(2)}, {"W": np.zeros(3)})
    with pytest.raises(TypeError, match="floating NumPy array"):
        o.update({"W": [1.0, 2.0]}, {"W": np.zeros(2)})  # type: ignore[dict-item]
    assert o.t == 0  # nothing counted for failed updates


def test_repr() -> None:
    assert repr(opt.Adam()) == "Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08)"
    assert repr(opt.SGD(weight_decay=1e-4, clip_norm=5)) == "SGD(lr=0.01, weight_decay=0.0001, clip_norm=5)"
    assert repr(opt.Momentum()) == "Momentum(lr=0.01, momentum=0.9)"


def test_state_dict_survives_safetensors() -> None:
    st = pytest.importorskip("safetensors.numpy")
    net = lw.MultiLayerNetExtend(4, [5], 3, use_batchnorm=True, rng=0)
    net.gradient(np.ones((3, 4), np.float32), np.array([0, 1, 2]))
    a = opt.Adam()
    a.step(net)
    blob = st.save({k: np.asarray(v) for k, v in a.state_dict().items()})  # t as a 0-d int64 array
    b = opt.Adam()
    b.load_state_dict(st.load(blob), params=net.params)
    assert b.t == 1
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)


def test_weight_decay_does_not_hide_a_wrong_gradient_shape() -> None:
    import layerwise as lw
    from layerwise.optimizers import SGD

    with pytest.raises(lw.ShapeError, match=r"gradient 'W' has shape \(3,\), parameter has \(2, 3\)"):
        SGD(0.1, weight_decay=0.1).update({"W": np.ones((2, 3))}, {"W": np.ones(3)})


# -- decaying state never turns subnormal -------------------------------------------------------------

def _subnormals(arr: np.ndarray) -> int:
    mag = np.abs(arr)
    return int(np.count_nonzero((mag > 0) & (mag < np.finfo(arr.dtype).tiny)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("make", "decayed"), [
    (lambda **kw: opt.Momentum(lr=0.01, momentum=0.9, **kw), {"v.W"}),
    (lambda **kw: opt.Nesterov(lr=0.01, momentum=0.9, **kw), {"v.W"}),
    (lambda **kw: opt.RMSprop(lr=0.01, decay_rate=0.5, **kw), {"h.W"}),
    (lambda **kw: opt.Adam(lr=0.01, **kw), {"m.W"}),  # m decays by beta1 = 0.9, v by 0.999 (slowly)
    (lambda **kw: opt.Adam(lr=0.01, beta1=0.5, beta2=0.5, **kw), {"m.W", "v.W"}),
], ids=["momentum", "nesterov", "rmsprop", "adam", "adam-fast-decay"])
def test_decaying_state_is_flushed_before_it_turns_subnormal(
        make: Callable[..., opt.Optimizer], decayed: set[str], dtype: Any, engine_or_book: str) -> None:
    """A gradient that stops (a pixel never on again) lets the state decay geometrically. The
    optimizer sets entries below tiny_threshold to zero, so none is ever subnormal (slow on
    x86), and the parameters come out exactly as without the flush, on either path."""
    steps = 1100 if dtype == np.float32 else 8000  # through the subnormal range of the dtype
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 4)).astype(dtype)
    grads = [rng.standard_normal((3, 4)).astype(dtype) for _ in range(5)]
    zero = np.zeros((3, 4), dtype=dtype)

    def run(flush: bool) -> tuple[np.ndarray, int, opt.Optimizer]:
        optimizer = make(flush_subnormals=flush)
        params = {"W": w0.copy()}
        worst = 0
        for i in range(steps):
            optimizer.update(params, {"W": grads[i] if i < len(grads) else zero})
            worst = max(worst, *(_subnormals(a) for a in optimizer.state_dict().values()
                                 if isinstance(a, np.ndarray)))
        return params["W"], worst, optimizer

    w_plain, subnormal_plain, _ = run(flush=False)
    w_flushed, subnormal_flushed, flushed = run(flush=True)
    assert subnormal_plain > 0, "the scenario must drive the unflushed state through subnormals"
    assert subnormal_flushed == 0
    np.testing.assert_array_equal(w_flushed, w_plain)
    state = flushed.state_dict()
    for name in decayed:
        arr = state[name]
        assert isinstance(arr, np.ndarray) and arr.dtype == dtype
        assert not arr.any(), f"{name} should have decayed to exactly zero"


def test_tiny_threshold() -> None:
    assert opt.tiny_threshold(np.float32) == 2.0**-103
    assert opt.tiny_threshold(np.float64) == 2.0**-970
    assert opt.tiny_threshold(np.float16) == float(np.finfo(np.float16).tiny)


def test_flush_period_keeps_the_state_far_above_the_subnormals() -> None:
    for decay in (0.999, 0.99, 0.9, 0.5, 0.1, 0.001):
        period = opt.flush_period(decay)
        assert 1 <= period <= 64
        assert decay**period >= 2.0**-12 or period == 1  # shrinks by at most 2**-12 in between
    assert opt.flush_period(0.9) == 64 and opt.flush_period(0.5) == 12


# -- the fast path and the reference rules agree -------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: opt.SGD(lr=0.1),
    lambda: opt.Momentum(lr=0.05, momentum=0.9),
    lambda: opt.Nesterov(lr=0.05, momentum=0.8),
    lambda: opt.AdaGrad(lr=0.05),
    lambda: opt.RMSprop(lr=0.01, decay_rate=0.5),
    lambda: opt.Adam(lr=0.01, weight_decay=0.01, clip_norm=50.0),
], ids=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_updates_equal_the_reference_rules(make: Callable[[], opt.Optimizer], dtype: Any) -> None:
    """Every optimizer, run with layerwise.fast on and off, on parameters small and large
    (blocked and split across threads by fast.optimizers), C-ordered and not."""
    from layerwise.fast import optimizers as fast_optimizers
    from layerwise.fast import parallel

    assert fast_optimizers.kernel_for(make()) is not None
    big = 2 * fast_optimizers.PARALLEL_MIN_PART + 1000  # two parts, each over one block
    assert big > fast_optimizers.UPDATE_BLOCK

    def run(use_fast: bool) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        r = np.random.default_rng(7)
        params = {"W": r.standard_normal(big).astype(dtype),
                  "T": np.asarray(r.standard_normal((40, 30)).astype(dtype).T),  # F-ordered
                  "b": r.standard_normal(30).astype(dtype)}
        o = make()
        with fast.enabled() if use_fast else fast.disabled():
            for step in range(6):
                grads = {k: (r.standard_normal(p.shape) * (step % 3)).astype(dtype)
                         for k, p in params.items()}
                o.update(params, grads)
        return params, o.state_dict()

    before = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        fast_p, fast_s = run(True)
        ref_p, ref_s = run(False)
    finally:
        parallel.set_num_threads(before)
    tol = {"rtol": 2e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    for k in ref_p:
        np.testing.assert_allclose(fast_p[k], ref_p[k], err_msg=k, **tol)
    assert fast_s.keys() == ref_s.keys()
    for k, v in ref_s.items():
        np.testing.assert_allclose(fast_s[k], v, err_msg=k, **tol)


def test_a_rule_of_ones_own_runs_its_update_one_even_when_fast() -> None:
    from layerwise.fast import optimizers as fast_optimizers

    class Halving(opt.SGD):
        def update_one(self, key: str, param: np.ndarray, grad: np.ndarray) -> None:
            param *= 0.5

    o = Halving(lr=0.1)
    assert fast_optimizers.kernel_for(o) is None
    params = {"W": np.ones(3)}
    o.update(params, {"W": np.ones(3)})
    np.testing.assert_array_equal(params["W"], 0.5)


def test_flush_subnormals_is_an_option_shown_when_off() -> None:
    assert opt.Adam().flush_subnormals
    assert "flush_subnormals=False" in repr(opt.Adam(flush_subnormals=False))
    assert "flush_subnormals" not in repr(opt.Adam())


@pytest.mark.parametrize("name", ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"])
def test_one_by_name_serves_the_command_line_and_the_playground(name: str) -> None:
    from layerwise.cli.commands.models import OPTIMIZERS
    from layerwise.playground.training import OPTIMIZERS as PLAYGROUND

    assert type(opt.by_name(name, lr=0.5)).__name__ == name
    assert type(opt.by_name(name.lower(), lr=0.5)) is type(opt.by_name(name, lr=0.5))
    assert opt.by_name(name, lr=0.5).lr == 0.5
    assert name.lower() in OPTIMIZERS and name in PLAYGROUND


def test_an_unknown_optimizer_name_is_a_config_error_naming_the_choices() -> None:
    with pytest.raises(lw.ConfigError, match="Nesterov.*got 'adamw'"):
        opt.by_name("adamw")
