"""The training loop: shuffling without replacement, determinism, divergence, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import layerwise as lw
from layerwise.optimizers import SGD
from layerwise.training.trainer import Trainer


def blobs(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((3, 10)) * 3
    t = rng.integers(0, 3, n)
    return (centers[t] + rng.standard_normal((n, 10))).astype(np.float32), t


def make(seed: int = 0, **kw):  # type: ignore[no-untyped-def]
    x, t = blobs()
    net = lw.TwoLayerNet(10, 8, 3, weight_init_std=0.1, rng=seed)
    defaults = dict(epochs=3, batch_size=32, rng=seed, progress=False, log=None)
    defaults.update(kw)
    return Trainer(net, SGD(lr=0.1), x[:200], t[:200], x[200:], t[200:], **defaults)


def test_fit_learns_and_records_history() -> None:
    tr = make(epochs=5)
    history = tr.fit()
    assert [r.epoch for r in history] == [1, 2, 3, 4, 5]
    assert history[-1].test_acc is not None and history[-1].test_acc > 0.9
    assert history[-1].train_loss < history[0].train_loss
    assert tr.iters_per_epoch == 7  # 200 / 32, the last batch smaller


def test_each_epoch_uses_every_sample_once() -> None:
    tr = make(epochs=1, batch_size=7, fast=False)  # the book's step, spied on below
    seen: list[np.ndarray] = []
    original = tr.network.loss_and_gradient

    def spy(x, t):  # type: ignore[no-untyped-def]
        seen.append(np.asarray(x).copy())
        return original(x, t)

    tr.network.loss_and_gradient = spy  # type: ignore[method-assign]
    tr.fit()
    rows = np.concatenate(seen)
    assert rows.shape == tr.x_train.shape
    key = lambda a: sorted(map(bytes, a))  # noqa: E731
    assert key(rows) == key(tr.x_train)


def test_train_loss_is_the_mean_of_the_epochs_batch_losses() -> None:
    # 200 samples in batches of 64: three of 64 and a last one of 8, so a mean weighted by
    # batch size, or a sum divided by anything but the number of batches, gives another value
    tr = make(epochs=2, batch_size=64, fast=False)  # the book's step, spied on below
    net = tr.network
    sizes: list[int] = []
    losses: list[float] = []  # each batch's loss, by a forward pass of its own
    original = net.loss_and_gradient

    def record(x, t):  # type: ignore[no-untyped-def]
        sizes.append(len(x))
        losses.append(float(net.loss(x, t)))  # the weights before this step's update
        loss, grads = original(x, t)
        assert loss == pytest.approx(losses[-1], rel=1e-6)
        net.last_loss = None  # the trainer takes the loss it is given, not this side attribute
        return loss, grads

    net.loss_and_gradient = record  # type: ignore[method-assign]
    for epoch in (1, 2):
        sizes.clear()
        losses.clear()
        rec = tr.train_epoch()
        assert rec.epoch == epoch and sizes == [64, 64, 64, 8]
        mean = sum(losses) / len(losses)
        weighted = sum(n * loss for n, loss in zip(sizes, losses, strict=True)) / sum(sizes)
        assert abs(mean - weighted) > 1e-4 * mean  # the two readings are told apart
        assert rec.train_loss == pytest.approx(mean, rel=1e-6)
    assert tr.history[1].train_loss < tr.history[0].train_loss


def test_same_seed_same_numbers() -> None:
    a, b, c = make(seed=4), make(seed=4), make(seed=5)
    for tr in (a, b, c):
        tr.fit()
    for key in a.network.params:
        np.testing.assert_array_equal(a.network.params[key], b.network.params[key])
    assert [r.train_loss for r in a.history] == [r.train_loss for r in b.history]
    assert not np.array_equal(a.network.params["W1"], c.network.params["W1"])


def test_divergence_stops_with_last_good_weights() -> None:
    tr = make(epochs=6)
    tr.train_epoch()
    good = {k: v.copy() for k, v in tr.network.params.items()}
    tr.optimizer = SGD(lr=1e30)
    with pytest.raises(lw.errors.TrainingDiverged,
                       match=r"diverged at epoch 2.*smaller learning rate") as info:
        tr.fit()
    assert info.value.epoch == 2
    for key, value in good.items():
        np.testing.assert_array_equal(tr.network.params[key], value)
    assert tr.epoch == 1


def test_checkpoint_resume_gives_identical_weights(tmp_path: Path) -> None:
    full = make(epochs=4)
    full.fit()
    ck = tmp_path / "ck.safetensors"
    first = make(epochs=4, checkpoint=ck)
    first.train_epoch()
    first.train_epoch()
    resumed = make(seed=99, epochs=4)  # different init and shuffling: everything comes from ck
    resumed.load_checkpoint(ck)
    assert resumed.epoch == 2 and len(resumed.history) == 2
    resumed.fit()
    for key in full.network.params:
        np.testing.assert_array_equal(resumed.network.params[key], full.network.params[key])
    assert [r.train_loss for r in resumed.history] == [r.train_loss for r in full.history]


def test_trainer_argument_errors() -> None:
    x, t = blobs(20)
    net = lw.TwoLayerNet(10, 4, 3, rng=0)
    with pytest.raises(lw.ConfigError, match="batch_size must be a positive integer, got 0"):
        Trainer(net, SGD(0.1), x, t, batch_size=0)
    with pytest.raises(lw.ConfigError, match="epochs must be a non-negative integer, got 1.5"):
        Trainer(net, SGD(0.1), x, t, epochs=1.5)  # type: ignore[arg-type]
    with pytest.raises(lw.ConfigError, match="no training data"):
        Trainer(net, SGD(0.1), x[:0], t[:0])
    with pytest.raises(lw.ConfigError, match="20 test inputs but 19 targets"):
        Trainer(net, SGD(0.1), x, t, x_test=x, t_test=t[:19])
    with pytest.raises(ValueError, match="20 training inputs but 19 targets"):
        Trainer(net, SGD(0.1), x, t[:19])
    with pytest.raises(ValueError, match="both x_test and t_test"):
        Trainer(net, SGD(0.1), x, t, x_test=x)


def test_test_loss_is_the_data_loss_without_the_weight_decay_penalty() -> None:
    from layerwise.networks import MultiLayerNet

    x, t = blobs(40)
    losses = []
    for lam in (0.0, 10.0):
        net = MultiLayerNet(10, [5], 3, weight_decay_lambda=lam, rng=0)
        tr = Trainer(net, SGD(lr=0.0), x, t, x, t, epochs=1, progress=False, log=None)
        losses.append(tr.fit()[0])
    assert losses[0].test_loss == pytest.approx(losses[1].test_loss, rel=1e-6)
    assert losses[1].train_loss > losses[0].train_loss + 1.0  # the objective includes it


@pytest.mark.parametrize("with_test_set", [True, False])
def test_divergence_on_the_last_step_of_an_epoch_is_caught(with_test_set: bool) -> None:
    # one batch per epoch: the step that blows up is never followed by a training loss
    x, t = blobs(20)
    net = lw.TwoLayerNet(10, 4, 3, weight_init_std=0.1, rng=0)
    first = {k: v.copy() for k, v in net.params.items()}
    tr = Trainer(net, SGD(lr=1e30), x, t, *((x, t) if with_test_set else ()), epochs=3, batch_size=20,
                 progress=False, log=None)
    with pytest.raises(lw.errors.TrainingDiverged, match=r"iteration 1") as info:
        tr.fit()
    if with_test_set:  # the test loss of epoch 1 already overflows
        assert info.value.epoch == 1 and tr.epoch == 0 and tr.history == []
        for key, value in first.items():
            np.testing.assert_array_equal(net.params[key], value)
    # without one, epoch 1 ends on huge but finite weights; the next loss overflows
    assert info.value.epoch <= 2
    assert all(np.isfinite(v).all() for v in net.params.values())


def test_non_finite_weights_after_the_last_step_are_caught() -> None:
    x, t = blobs(20)
    net = lw.TwoLayerNet(10, 4, 3, weight_init_std=0.1, rng=0)
    first = {k: v.copy() for k, v in net.params.items()}

    class Poison(SGD):
        def update(self, params, grads):  # type: ignore[no-untyped-def]
            super().update(params, grads)
            params["W2"][0, 0] = np.nan

    tr = Trainer(net, Poison(lr=0.1), x, t, epochs=2, batch_size=20, progress=False, log=None)
    with pytest.raises(lw.errors.TrainingDiverged, match=r"parameters \['W2'\] are NaN"):
        tr.fit()
    for key, value in first.items():
        np.testing.assert_array_equal(net.params[key], value)


def test_a_last_batch_of_one_sample_joins_the_previous_batch() -> None:
    from layerwise.networks import MultiLayerNetExtend

    x, t = blobs(21)
    net = MultiLayerNetExtend(10, [6], 3, use_batchnorm=True, rng=0)
    sizes: list[int] = []
    original = net.loss_and_gradient

    def spy(xb, tb):  # type: ignore[no-untyped-def]
        sizes.append(len(xb))
        return original(xb, tb)

    net.loss_and_gradient = spy  # type: ignore[method-assign]
    tr = Trainer(net, SGD(lr=0.1), x, t, epochs=1, batch_size=10, progress=False, log=None, fast=False)
    tr.fit()
    assert sizes == [10, 11] and tr.iters_per_epoch == 2


def test_lr_schedule_sets_the_rate_each_epoch_and_survives_a_resume(tmp_path: Path) -> None:
    from layerwise.training.schedules import Cosine, StepDecay

    tr = make(epochs=4, lr_schedule=StepDecay(2, 0.5))
    tr.fit()
    assert [r.lr for r in tr.history] == [0.1, 0.1, 0.05, 0.05]
    # a resumed run continues on the schedule of the base rate, not of the rate it stopped at
    full = make(epochs=4, lr_schedule=Cosine())
    full.fit()
    ck = tmp_path / "ck.safetensors"
    first = make(epochs=4, lr_schedule=Cosine(), checkpoint=ck)
    first.train_epoch()
    first.train_epoch()
    resumed = make(seed=7, epochs=4, lr_schedule=Cosine())
    resumed.optimizer.lr = 123.0  # type: ignore[attr-defined]
    resumed.base_lr = 123.0
    resumed.load_checkpoint(ck)
    resumed.fit()
    assert [r.lr for r in resumed.history] == [r.lr for r in full.history]
    for key in full.network.params:
        np.testing.assert_array_equal(resumed.network.params[key], full.network.params[key])


def test_lr_schedule_needs_an_lr() -> None:
    class NoRate:
        def update(self, params, grads):  # type: ignore[no-untyped-def]
            pass

    x, t = blobs(20)
    with pytest.raises(ValueError, match="lr_schedule needs an optimizer with an `lr` attribute; NoRate"):
        Trainer(lw.TwoLayerNet(10, 4, 3, rng=0), NoRate(), x, t, lr_schedule=lambda e, n: 1.0)
    with pytest.raises(ValueError, match="train_eval_samples must be a positive integer, got 0"):
        Trainer(lw.TwoLayerNet(10, 4, 3, rng=0), SGD(0.1), x, t, train_eval_samples=0)


def test_train_eval_samples_limits_only_the_training_accuracy() -> None:
    tr = make(epochs=1, train_eval_samples=50, fast=False)  # the book's evaluation, spied on below
    net = tr.network
    seen: list[int] = []
    accuracy = net.accuracy

    def spy(x, t, batch_size=None):  # type: ignore[no-untyped-def]
        seen.append(len(x))
        return accuracy(x, t, batch_size)

    net.accuracy = spy  # type: ignore[method-assign]
    rec = tr.fit()[0]
    assert seen == [50]  # the training subset; the test set goes through evaluate
    assert rec.train_acc == accuracy(tr.x_train[:50], tr.t_train[:50])
    assert tr.x_test is not None and tr.t_test is not None
    assert (rec.test_loss, rec.test_acc) == net.evaluate(tr.x_test, tr.t_test)


def test_schedules() -> None:
    from layerwise.training.schedules import Cosine, StepDecay, constant, parse_schedule

    assert [constant(e, 5) for e in range(5)] == [1.0] * 5
    cos = Cosine(min_factor=0.1)
    assert cos(0, 10) == 1.0 and cos(5, 10) == pytest.approx(0.55) and cos(10, 10) == pytest.approx(0.1)
    assert [StepDecay(3, 0.1)(e, 9) for e in (0, 2, 3, 6)] == pytest.approx([1.0, 1.0, 0.1, 0.01])
    assert parse_schedule("constant") is constant
    assert isinstance(parse_schedule("cosine"), Cosine)
    step = parse_schedule("step:10:0.5")
    assert isinstance(step, StepDecay) and (step.every, step.gamma) == (10, 0.5)
    for bad, match in (("cosine:2", "unknown"), ("step:a:0.5", "step:EVERY:GAMMA"),
                       ("step:5:2", "gamma must be in"), ("warm", "unknown")):
        with pytest.raises(ValueError, match=match):
            parse_schedule(bad)
    with pytest.raises(ValueError, match="min_factor"):
        Cosine(1.5)


def test_augment_sees_every_training_batch_and_survives_a_resume(tmp_path: Path) -> None:
    """The hook gets each batch and the trainer's generator; evaluation never sees it; a run
    resumed from a checkpoint draws the same transforms as an uninterrupted one."""
    calls: list[int] = []

    def jitter(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        calls.append(len(x))
        return x + rng.standard_normal(x.shape).astype(x.dtype)

    full = make(epochs=3, augment=jitter)
    full.fit()
    assert sum(calls) == 3 * 200 and len(calls) == 3 * full.iters_per_epoch
    plain = make(epochs=3)
    plain.fit()
    assert not np.array_equal(full.network.params["W1"], plain.network.params["W1"])
    # evaluation is on the data as given: same weights give the same recorded accuracy
    calls.clear()
    acc = full.network.accuracy(full.x_train, full.t_train)
    assert calls == [] and acc == full.history[-1].train_acc

    ck = tmp_path / "ck.safetensors"
    first = make(epochs=3, augment=jitter, checkpoint=ck)
    first.train_epoch()
    resumed = make(seed=9, epochs=3, augment=jitter)
    resumed.load_checkpoint(ck)
    resumed.fit()
    for key in full.network.params:
        np.testing.assert_array_equal(resumed.network.params[key], full.network.params[key])
