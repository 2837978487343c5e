"""Data-parallel training steps (layerwise.fast.parallel): the same gradients as one thread."""

from __future__ import annotations

import os
import select
import signal
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import layerwise as lw
import layerwise.fast.optimizers as fast_optimizers
from layerwise.fast import parallel, training
from layerwise.layers.base import Layer
from layerwise.training.trainer import Trainer

# DataParallel is the engine's: these tests run with the engine on, through its training step.
pytestmark = pytest.mark.usefixtures("engine_on")


def _gradient(net: Any, x: Any, t: Any) -> dict[str, Any]:
    return training.loss_and_gradient(net, x, t)[1]


@pytest.fixture(autouse=True)
def _restore_threads() -> Iterator[None]:
    before = parallel.get_num_threads()
    yield
    parallel.set_num_threads(before)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records the shard count of every run_sharded call."""
    calls: list[int] = []
    real = parallel.run_sharded

    def recording(fn: Any, n: int) -> Any:
        calls.append(n)
        return real(fn, n)

    monkeypatch.setattr(parallel, "run_sharded", recording)
    return calls


def _conv_net(dtype: Any = np.float64) -> lw.SimpleConvNet:
    return lw.SimpleConvNet(input_dim=(1, 10, 10), conv_param={"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 1},
                            hidden_size=8, output_size=5, rng=3, dtype=dtype)


def _data(n: int, seed: int = 0, shape: tuple[int, ...] = (1, 10, 10), classes: int = 5) -> tuple[Any, Any]:
    r = np.random.default_rng(seed)
    return r.standard_normal((n, *shape)), r.integers(0, classes, n)


# -- the module ------------------------------------------------------------------------------
def test_set_num_threads_validates() -> None:
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="positive integer"):
            parallel.set_num_threads(bad)  # type: ignore[arg-type]
    parallel.set_num_threads(3)
    assert parallel.get_num_threads() == 3


def test_default_threads_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERWISE_NUM_THREADS", "5")
    assert parallel.default_num_threads() == 5
    monkeypatch.setenv("LAYERWISE_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="LAYERWISE_NUM_THREADS"):
        parallel.default_num_threads()
    monkeypatch.delenv("LAYERWISE_NUM_THREADS")
    assert parallel.default_num_threads() >= 1


def test_run_sharded_order_errstate_and_errors() -> None:
    parallel.set_num_threads(3)
    names = parallel.run_sharded(lambda i: (i, threading.current_thread() is threading.main_thread()), 3)
    assert names == [(0, True), (1, False), (2, False)]
    with np.errstate(divide="raise"):
        assert parallel.run_sharded(lambda i: np.geterr()["divide"], 3) == ["raise"] * 3
    done: list[int] = []

    def fail_second(i: int) -> int:
        if i == 1:
            raise KeyError("shard 1")
        done.append(i)
        return i

    with pytest.raises(KeyError, match="shard 1"):
        parallel.run_sharded(fail_second, 3)
    assert sorted(done) == [0, 2]  # the other shards ran to the end first
    # pool threads never fan out again
    assert parallel.run_sharded(lambda i: parallel.in_worker(), 2) == [False, True]


def test_blas_limit_is_counted_and_restored() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    if not before:
        pytest.skip("no BLAS library that threadpoolctl can control")
    with parallel.blas_single_threaded():
        with parallel.blas_single_threaded():
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {1}  # the outer block still holds the limit
    assert blas_threads() == before


# -- gradients ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("threads", "n"), [(2, 40), (3, 37), (4, 50)])
def test_parallel_gradient_equals_one_thread(threads: int, n: int, spy: list[int]) -> None:
    x, t = _data(n)
    one, many = _conv_net(), _conv_net()
    parallel.set_num_threads(1)
    ref = _gradient(one, x, t)
    parallel.set_num_threads(threads)
    _gradient(many, x[:2], t[:2])  # too few samples to split
    assert spy == []
    seq_min = parallel.MIN_SHARD_VALUES
    try:
        parallel.MIN_SHARD_VALUES = 64  # this small net is split too
        got = _gradient(many, x, t)
    finally:
        parallel.MIN_SHARD_VALUES = seq_min
    assert spy == [threads]
    assert many.last_loss == pytest.approx(one.last_loss, rel=1e-13)
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-10, atol=1e-14, err_msg=k)
        assert got[k] is many.grads[k]


def test_large_conv_batch_splits_by_default_and_small_nets_do_not(spy: list[int]) -> None:
    parallel.set_num_threads(2)
    net = lw.SimpleConvNet(rng=0)
    x, t = _data(100, shape=(1, 28, 28), classes=10)
    x = x.astype(np.float32)
    _gradient(net, x, t)  # the first step splits already: the decision has no history
    assert spy == [2]
    parallel.set_num_threads(1)
    _gradient(net, x, t)
    assert spy == [2]
    parallel.set_num_threads(2)
    two = lw.TwoLayerNet(784, 50, 10, rng=0)
    for _ in range(2):
        _gradient(two, x.reshape(100, -1), t)
    assert spy == [2]  # TwoLayerNet's step is too small to split


def test_weight_decay_is_added_once(spy: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_SHARD_VALUES", 64)
    x, t = _data(30, shape=(12,), classes=4)
    one, many = (lw.MultiLayerNet(12, [16], 4, weight_decay_lambda=0.1, rng=2, dtype=np.float64)
                 for _ in range(2))
    parallel.set_num_threads(1)
    ref = _gradient(one, x, t)
    parallel.set_num_threads(2)
    got = _gradient(many, x, t)
    assert spy == [2]
    assert many.last_loss == pytest.approx(one.last_loss, rel=1e-13)
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-10, atol=1e-14, err_msg=k)


def test_dropout_masks_are_those_of_an_unsplit_step(spy: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_SHARD_VALUES", 16)

    def make() -> lw.MultiLayerNetExtend:
        return lw.MultiLayerNetExtend(12, [16, 16], 4, use_dropout=True, dropout_ration=0.3, rng=7,
                                      dtype=np.float64)

    one, many = make(), make()
    r = np.random.default_rng(1)
    batches = [(r.standard_normal((33, 12)), r.integers(0, 4, 33)) for _ in range(3)]
    for i, (x, t) in enumerate(batches):
        parallel.set_num_threads(1)
        ref = _gradient(one, x, t)
        parallel.set_num_threads(3)
        got = _gradient(many, x, t)
        assert spy == [3] * (i + 1)
        assert many.last_loss == pytest.approx(one.last_loss, rel=1e-13)
        for k in ref:
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-10, atol=1e-14, err_msg=k)
        for name, layer in one.layers.items():
            if isinstance(layer, lw.Dropout):
                np.testing.assert_array_equal(many.layers[name].mask, layer.mask)
    for name, layer in one.layers.items():  # the generators advanced alike
        if isinstance(layer, lw.Dropout):
            assert many.layers[name].rng.random() == layer.rng.random()


def test_batchnorm_in_training_mode_is_never_split(spy: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_SHARD_VALUES", 16)
    parallel.set_num_threads(2)
    net = lw.MultiLayerNetExtend(12, [16], 4, use_batchnorm=True, rng=0)
    x, t = _data(40, shape=(12,), classes=4)
    for _ in range(2):
        _gradient(net, x, t)
    assert spy == []
    net.eval()  # running statistics: each sample on its own, so it splits
    _gradient(net, x, t)
    assert spy == [2]


class _Centre(Layer):
    """Subtracts the batch mean: the samples depend on each other (and nothing says otherwise)."""

    def forward(self, x: Any) -> Any:
        self.shape = np.shape(x)
        return np.asarray(x) - np.mean(x, axis=0)

    def backward(self, dout: Any) -> Any:
        d = np.asarray(dout)
        return d - d.mean(axis=0)


def test_layers_from_outside_are_not_split(spy: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_SHARD_VALUES", 16)
    parallel.set_num_threads(2)
    net = lw.Sequential([_Centre(), lw.Affine(np.ones((12, 4)) * 0.1, np.zeros(4))], lw.SoftmaxWithLoss())
    x, t = _data(40, shape=(12,), classes=4)
    for _ in range(2):
        _gradient(net, x, t)
    assert spy == []


def test_non_finite_loss_in_a_shard_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_SHARD_VALUES", 16)
    parallel.set_num_threads(2)
    net = _conv_net()
    x, t = _data(30)
    _gradient(net, x, t)
    x[25] = np.nan  # only in the second shard
    with np.errstate(invalid="ignore"), pytest.raises(lw.NonFiniteError, match="SoftmaxWithLoss"):
        _gradient(net, x, t)


def test_trainer_with_threads_matches_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_SHARD_VALUES", 64)
    x, t = _data(120)
    results = []
    for threads in (1, 2):
        parallel.set_num_threads(threads)
        net = _conv_net()
        trainer = Trainer(net, lw.Adam(lr=0.01), x, t, epochs=2, batch_size=40, rng=0,
                                     progress=False, log=None)
        trainer.fit()
        results.append((net.state_dict(), [r.train_loss for r in trainer.history]))
    (w1, l1), (w2, l2) = results
    np.testing.assert_allclose(l2, l1, rtol=1e-10)
    for k in w1:
        np.testing.assert_allclose(w2[k], w1[k], rtol=1e-8, atol=1e-12, err_msg=k)


# -- optimizers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [lw.SGD, lw.Momentum, lw.Nesterov, lw.AdaGrad, lw.RMSprop, lw.Adam])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_updates_in_parts_are_bitwise_those_of_one_pass(cls: Any, dtype: Any, monkeypatch: pytest.MonkeyPatch,
                                                        spy: list[int]) -> None:
    def run(threads: int, part: int, block: int) -> tuple[dict[str, Any], dict[str, Any]]:
        monkeypatch.setattr(fast_optimizers, "PARALLEL_MIN_PART", part)  # public knobs
        monkeypatch.setattr(fast_optimizers, "UPDATE_BLOCK", block)
        parallel.set_num_threads(threads)
        r = np.random.default_rng(4)
        params = {"W": r.standard_normal((37, 29)).astype(dtype), "b": r.standard_normal(29).astype(dtype)}
        o = cls(lr=0.05)
        for step in range(70):  # past a flush of tiny state (every 64 steps for Adam)
            grads = {k: (r.standard_normal(v.shape) * (step % 3)).astype(dtype) for k, v in params.items()}
            o.update(params, grads)
        return params, o.state_dict()

    ref_p, ref_s = run(1, 1 << 30, 1 << 30)
    assert spy == []
    for threads, block in ((1, 100), (3, 100), (3, 1 << 30)):
        got_p, got_s = run(threads, 50, block)
        for k in ref_p:
            np.testing.assert_array_equal(got_p[k], ref_p[k], err_msg=f"{k}, {threads} threads")
        assert got_s.keys() == ref_s.keys()
        for k, v in ref_s.items():
            np.testing.assert_array_equal(got_s[k], v, err_msg=k)
    assert 3 in spy  # W (1,073 entries) was split across three threads


def test_resumed_training_with_threads_and_dropout_is_exact(tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
                                                            spy: list[int]) -> None:
    # Split steps draw Dropout masks from the network's own generators, which checkpoints save:
    # a run resumed after epoch 1 ends with the weights of an uninterrupted one, bit for bit.
    monkeypatch.setattr(parallel, "MIN_SHARD_VALUES", 16)
    parallel.set_num_threads(2)
    x, t = _data(90, shape=(12,), classes=4)

    def trainer(epochs: int, ck: Any = None) -> Trainer:
        net = lw.MultiLayerNetExtend(12, [16, 16], 4, use_dropout=True, dropout_ration=0.3, rng=5)
        return Trainer(net, lw.Adam(lr=0.01), x, t, epochs=epochs, batch_size=30, rng=1,
                       progress=False, log=None, checkpoint=ck)

    full = trainer(3)
    full.fit()
    assert spy  # the steps were split
    ck = tmp_path / "ck.safetensors"
    trainer(1, ck).fit()
    resumed = trainer(3)
    resumed.load_checkpoint(ck)
    resumed.fit()
    for k, v in full.network.state_dict().items():
        np.testing.assert_array_equal(resumed.network.state_dict()[k], v, err_msg=k)


@pytest.mark.parametrize("batch_size", [7, 10, 30])
def test_evaluation_spread_over_threads_equals_one_thread(batch_size: int, spy: list[int],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_SHARD_VALUES", 64)
    x, t = _data(61)
    net = _conv_net()
    parallel.set_num_threads(1)
    ref_loss, ref_acc = training.evaluate(net, x, t, batch_size=batch_size)
    ref_one_hot = training.accuracy(net, x, np.eye(5)[t], batch_size=batch_size)
    net.train()
    parallel.set_num_threads(3)
    loss, acc = training.evaluate(net, x, t, batch_size=batch_size)
    assert spy == [3]
    assert acc == ref_acc and training.accuracy(net, x, np.eye(5)[t], batch_size=batch_size) == ref_one_hot
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert net.training  # the modes are restored
    assert all(layer.training for layer in net.layers.values())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_a_pool_of_its_own() -> None:
    # The child inherits the parent's pool object but none of its threads: without a fresh
    # pool, work handed to it would wait forever.
    parallel.set_num_threads(2)
    assert parallel.run_sharded(lambda i: i, 2) == [0, 1]  # the parent's pool exists
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave at once, whatever happens
        try:
            ok = parallel.run_sharded(lambda i: i * 10, 2) == [0, 10]
            os.write(write, b"ok" if ok else b"wrong")
        finally:
            os._exit(0)
    os.close(write)
    ready: list[int] = []
    try:
        ready, _, _ = select.select([read], [], [], 30)
        assert ready, "the forked child hung"
        assert os.read(read, 16) == b"ok"
    finally:
        os.close(read)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


# -- DataParallel as an object ---------------------------------------------------------------------
def test_data_parallel_runs_the_networks_methods_on_its_own_thread_count(
        spy: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_SHARD_VALUES", 64)
    x, t = _data(40)
    one, many = _conv_net(), _conv_net()
    parallel.set_num_threads(1)  # the global count; DataParallel's own one overrides it
    ref_loss, ref = one.loss_and_gradient(x, t)
    dp = parallel.DataParallel(many, threads=3)
    assert "threads=3" in repr(dp)
    assert dp.shard_count(x, t) == 3 and dp.worth_splitting(x, t)
    loss, got = dp.loss_and_gradient(x, t)
    assert spy == [3]
    assert loss == many.last_loss == pytest.approx(ref_loss, rel=1e-13)
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-10, atol=1e-14, err_msg=k)
    np.testing.assert_allclose(dp.gradient(x, t)["W1"], ref["W1"], rtol=1e-10, atol=1e-14)
    ref_eval = training.evaluate(one, x, t, batch_size=10)
    assert dp.evaluate(x, t, batch_size=10) == pytest.approx(ref_eval, rel=1e-12)
    assert dp.accuracy(x, t, batch_size=10) == ref_eval[1]
    assert spy == [3, 3, 3, 3]
    assert many.gradient(x, t) is not None and spy == [3, 3, 3, 3]  # the book's API: one thread
    with pytest.raises(ValueError, match="threads"):
        parallel.DataParallel(many, threads=0)


def test_split_gives_contiguous_even_shards() -> None:
    dp = parallel.DataParallel(_conv_net(), threads=3)
    assert dp.split(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert dp.split(40, 2) == [(0, 20), (20, 40)]


def test_another_backend_plugs_in_by_overriding_run_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    # The seam a process or MPI backend would use: split, run, sum. Here the shards run one
    # after another on the calling thread, and the gradients are still the unsplit ones.
    monkeypatch.setattr(parallel, "MIN_SHARD_VALUES", 64)
    ran: list[int] = []

    class Serial(parallel.DataParallel):
        def run_shards(self, fn: Any, shards: int) -> list[Any]:
            ran.append(shards)
            return [fn(i) for i in range(shards)]

    x, t = _data(37)
    one, many = _conv_net(), _conv_net()
    parallel.set_num_threads(1)
    ref = _gradient(one, x, t)
    got = Serial(many, threads=4).gradient(x, t)
    assert ran == [4]
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-10, atol=1e-14, err_msg=k)


def test_layers_carry_no_data_parallel_api() -> None:
    for cls in (Layer, lw.Dropout, lw.Relu, lw.Sigmoid):
        for name in ("samples_independent", "can_shard", "draw_batch_mask", "preset_mask"):
            assert not hasattr(cls, name), f"{cls.__name__}.{name}"


def test_a_layer_from_outside_joins_by_an_entry_or_an_attribute(spy: list[int],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_SHARD_VALUES", 16)
    parallel.set_num_threads(2)

    class Scale(Layer):
        def forward(self, x: Any) -> Any:
            return np.asarray(x) * 2.0

        def backward(self, dout: Any) -> Any:
            return np.asarray(dout) * 2.0

    class Flagged(Scale):
        samples_independent = True

    x, t = _data(40, shape=(12,), classes=4)
    for layer, splits in ((Scale(), False), (Flagged(), True)):
        net = lw.Sequential([layer, lw.Affine(np.ones((12, 4)) * 0.1, np.zeros(4))], lw.SoftmaxWithLoss())
        spy.clear()
        _gradient(net, x, t)
        assert spy == ([2] if splits else [])
    monkeypatch.setitem(parallel.PER_SAMPLE, Scale, lambda layer: True)
    spy.clear()
    _gradient(lw.Sequential([Scale(), lw.Affine(np.ones((12, 4)) * 0.1, np.zeros(4))], lw.SoftmaxWithLoss()), x, t)
    assert spy == [2]
