"""Page 3: training sessions, one per browser tab, each with its own network and thread.

A session is created with its settings (network, optimizer, learning rate, batch size,
epochs), then started, paused, resumed and stopped; it trains on the bundled
``mnist-sample`` with the book's loop (a shuffled permutation per epoch, then
``loss_and_gradient`` and ``optimizer.update``). What it does is a list of events, read by the
page as server-sent events: ``step`` (loss and each layer's gradient norm, at most
:data:`STEP_EVERY_S` apart), ``epoch`` (accuracies) and ``state``.

A session's network is touched only under its own lock, by its own thread and by
:meth:`TrainingSession.save`, which copies the weights under that lock and writes the copy
with :func:`layerwise.save_model` (atomic) to a file named by the server in the save folder:
two tabs never share a network or a file, and stopping never touches a saved file.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from layerwise.fast import training
from layerwise.networks.sequential import Sequential
from layerwise.optimizers import NAMES, by_name
from layerwise.playground.digits import sample_data
from layerwise.playground.validation import BadRequest, get_choice, get_float, get_int

__all__ = ["TrainingSession", "Sessions", "check_settings", "DEFAULTS", "DIVERGED_RATIO", "NETWORKS",
           "OPTIMIZERS", "MAX_SESSIONS", "ABANDONED_AFTER_S", "STEP_EVERY_S"]

#: The most sessions kept at once. Beyond it a finished one (stopped, finished, diverged,
#: failed) makes room, the longest finished first; then one not started or paused and not
#: asked about for :data:`ABANDONED_AFTER_S` (its tab is gone); else creation is refused (429).
#: A session that is running, or was just created, is never dropped.
MAX_SESSIONS = 16
#: A session not started or paused, untouched this long (seconds), counts as abandoned.
ABANDONED_AFTER_S = 1800.0
#: Step events are sent at most this often (seconds); the loss is the mean since the last one.
STEP_EVERY_S = 0.05
#: Images evaluated after every epoch (train and test each).
EVAL_SAMPLES = 1000


def _two_layer(rng: int) -> Sequential:
    from layerwise.networks import TwoLayerNet

    return TwoLayerNet(784, 50, 10, weight_init_std="he", rng=rng)


def _mlp(rng: int) -> Sequential:
    from layerwise.networks import MultiLayerNet

    return MultiLayerNet(784, [100, 100], 10, activation="relu", weight_init_std="he", rng=rng)


def _conv(rng: int) -> Sequential:
    from layerwise.networks import SimpleConvNet

    return SimpleConvNet(conv_param={"filter_num": 16, "filter_size": 5, "pad": 0, "stride": 1},
                         hidden_size=100, weight_init_std="he", rng=rng)


NETWORKS: dict[str, tuple[str, Callable[[int], Sequential]]] = {
    "TwoLayerNet": ("784-50-10, ReLU", _two_layer),
    "MLP": ("784-100-100-10, ReLU", _mlp),
    "SimpleConvNet": ("16 filters 5×5, pool, 100 hidden", _conv),
}
OPTIMIZERS: tuple[str, ...] = NAMES  # every rule of layerwise.optimizers, Nesterov included


def _optimizer(name: str, lr: float) -> Any:
    return by_name(name, lr=lr)


DEFAULTS: dict[str, Any] = {"network": "TwoLayerNet", "optimizer": "SGD", "lr": 0.1, "batch_size": 100,
                            "epochs": 10, "seed": 0}
#: An epoch whose mean loss is more than this times the first batch's loss has diverged (at
#: lr 9 SGD's loss goes 2.4, 630, 8081, then ReLUs die and it sits at 2.3, accuracy 10%).
DIVERGED_RATIO = 1.5


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` checked, every bad one named in one :class:`BadRequest` (400 if any is of the
    wrong type, else 422), so a learner fixes them all at once."""
    problems: list[BadRequest] = []
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        problems.append(BadRequest(f"unknown setting{'s' if len(unknown) > 1 else ''} "
                                   f"{', '.join(map(repr, unknown))}; settings: {', '.join(DEFAULTS)}", 422))
    checks: dict[str, Callable[[], Any]] = {
        "network": lambda: get_choice(settings, "network", tuple(NETWORKS), DEFAULTS["network"]),
        "optimizer": lambda: get_choice(settings, "optimizer", OPTIMIZERS, DEFAULTS["optimizer"]),
        "lr": lambda: get_float(settings, "lr", 0.0, 10.0, DEFAULTS["lr"]),
        "batch_size": lambda: get_int(settings, "batch_size", 1, 1000, DEFAULTS["batch_size"]),
        "epochs": lambda: get_int(settings, "epochs", 1, 100, DEFAULTS["epochs"]),
        "seed": lambda: get_int(settings, "seed", 0, 2**31 - 1, DEFAULTS["seed"]),
    }
    out: dict[str, Any] = {}
    for key, check in checks.items():
        try:
            out[key] = check()
        except BadRequest as exc:
            problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        status = min(p.status for p in problems)
        raise BadRequest(f"{len(problems)} settings to fix: " + "; ".join(p.message for p in problems),
                         status)
    return out


class TrainingSession:
    """One tab's training run: its network, optimizer, thread and events."""

    def __init__(self, settings: dict[str, Any], save_dir: Path) -> None:
        self.id = secrets.token_urlsafe(12)
        checked = check_settings(settings)
        self.network_name: str = checked["network"]
        self.optimizer_name: str = checked["optimizer"]
        self.lr: float = checked["lr"]
        self.batch_size: int = checked["batch_size"]
        self.epochs: int = checked["epochs"]
        self.seed: int = checked["seed"]
        self.save_dir = save_dir
        self.net: Sequential | None = NETWORKS[self.network_name][1](self.seed)
        self.optimizer: Any = _optimizer(self.optimizer_name, self.lr)
        self.state = "ready"
        self.message = ""
        self.details: dict[str, Any] = {}  # the message's facts, for a page that words it itself
        self.epoch = 0
        self.iteration = 0
        self.saved: list[str] = []
        self.created = time.monotonic()
        self.touched = self.created  # the last request about it (Sessions.get)
        self.ended = 0.0  # when it became finished
        self._weights: dict[str, Any] | None = None  # the final weights, once the network is let go
        self._net_lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._events_lock = threading.Lock()
        self._resume = threading.Event()
        self._resume.set()
        self._parked = threading.Event()  # set while the thread waits out a pause
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._layer_of = self._param_layers()
        self._layers = sorted(set(self._layer_of.values()), key=list(self.net.layers).index)

    def _param_layers(self) -> dict[str, str]:
        """Each parameter key (``W1``) to the name of the layer that owns it (``Affine1``)."""
        assert self.net is not None
        owner: dict[str, str] = {}
        for key in self.net.params:
            array = self.net.params[key]
            for name, layer in self.net.layers.items():
                if any(getattr(layer, p) is array for p in layer.param_names):
                    owner[key] = name
        return owner

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "network": self.network_name, "optimizer": self.optimizer_name,
                "lr": self.lr, "batch_size": self.batch_size, "epochs": self.epochs, "state": self.state,
                "epoch": self.epoch, "iteration": self.iteration, "saved": list(self.saved),
                "message": self.message, "details": dict(self.details), "layers": list(self._layers)}

    # -- events -------------------------------------------------------------------------------
    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        with self._events_lock:
            self._events.append({"id": len(self._events), "type": kind, "data": data})

    def events_since(self, n: int) -> list[dict[str, Any]]:
        with self._events_lock:
            return self._events[n:]

    @property
    def finished(self) -> bool:
        return self.state in ("stopped", "finished", "diverged", "failed")

    def _set_state(self, state: str, message: str = "", **details: Any) -> None:
        """``details``: the facts ``message`` states (``why`` names its wording), so the page
        can say it in the reader's language."""
        self.state, self.message, self.details = state, message, details
        self._emit("state", {"state": state, "message": message, "details": details, "epoch": self.epoch,
                             "iteration": self.iteration})

    # -- controls -------------------------------------------------------------------------------
    def start(self) -> None:
        if self.state != "ready":
            raise BadRequest(f"this session is {self.state}; start a new one to train again", 409)
        self._thread = threading.Thread(target=self._run, name=f"playground-train-{self.id[:6]}", daemon=True)
        self._set_state("running")
        self._thread.start()

    def pause(self, wait: float = 10.0) -> None:
        """Pause after the present step; returns once no step runs (the weights hold still)."""
        if self.state != "running":
            raise BadRequest(f"only a running session can pause; this one is {self.state}", 409)
        self._resume.clear()
        self._set_state("paused")
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        deadline = time.monotonic() + wait
        while not self._parked.wait(0.02) and thread.is_alive() and time.monotonic() < deadline:
            pass

    def resume(self) -> None:
        if self.state != "paused":
            raise BadRequest(f"only a paused session can resume; this one is {self.state}", 409)
        self._set_state("running")
        self._resume.set()

    def stop(self, wait: float = 10.0) -> None:
        """Stop training after the present step; the weights stay and can still be saved."""
        if self.finished:
            return
        self._stop.set()
        self._resume.set()
        if self._thread is None:
            self._set_state("stopped")
            self._release()
            return
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=wait)

    def weights(self) -> dict[str, Any]:
        """A copy of the present weights (``W1``, ``b1``...), during training or after it."""
        with self._net_lock:
            if self.net is not None:
                return self.net.state_dict()
            assert self._weights is not None
            return {k: v.copy() for k, v in self._weights.items()}

    def save(self) -> Path:
        """Write the present weights to a new file in the save folder; returns its path."""
        from layerwise.files.model_files import save_model

        with self._net_lock:
            if self.net is not None:
                snapshot = self.net.copy()
            else:  # finished: the network was let go, its weights kept
                assert self._weights is not None
                snapshot = NETWORKS[self.network_name][1](self.seed)
                snapshot.load_state_dict(self._weights)
            epoch, iteration = self.epoch, self.iteration
        stamp = time.strftime("%Y%m%d-%H%M%S")
        n = len(self.saved) + 1
        name = f"playground-{self.network_name.lower()}-{stamp}-{self.id[:8]}-{n}.safetensors"
        path = self.save_dir / name
        save_model(snapshot, path, {"data": "mnist-sample", "playground": {
            "optimizer": self.optimizer_name, "lr": self.lr, "batch_size": self.batch_size,
            "epoch": epoch, "iteration": iteration}})
        self.saved.append(name)
        self._emit("saved", {"file": name, "path": str(path), "epoch": epoch, "iteration": iteration})
        return path

    # -- the loop -----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._train()
        except Exception as exc:  # shown on the page, never a dead thread with no word
            self._set_state("failed", f"{type(exc).__name__}: {exc}", why="failed",
                            error=f"{type(exc).__name__}: {exc}")
        finally:
            self._release()

    def _release(self) -> None:
        """Let go of what training held once it is over: the network with its layers' caches
        (a conv net's im2col of 1000 test images is tens of MB) and the optimizer's state. The
        weights are kept, as a copy, for :meth:`save`; the events (numbers, for the page) stay."""
        with self._net_lock:
            if self.net is not None:
                self._weights = self.net.state_dict()
            self.net = None
            self.optimizer = None
        self.ended = time.monotonic()

    def _train(self) -> None:
        (x, t), (x_test, t_test) = sample_data()
        if self.network_name != "SimpleConvNet":
            x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
        rng = np.random.default_rng(self.seed)
        net, opt = self.net, self.optimizer
        assert net is not None
        good = net.state_dict()
        losses: list[float] = []
        last_emit = 0.0
        first_loss: float | None = None
        for epoch in range(self.epochs):
            epoch_losses: list[float] = []
            perm = rng.permutation(len(x))
            for lo in range(0, len(x), self.batch_size):
                if not self._resume.is_set():
                    self._parked.set()
                    self._resume.wait()
                    self._parked.clear()
                if self._stop.is_set():
                    self._set_state("stopped", f"stopped in epoch {self.epoch + 1}, "
                                               f"iteration {self.iteration}",
                                    why="stopped", epoch=self.epoch + 1, iteration=self.iteration)
                    return
                idx = perm[lo : lo + self.batch_size]
                with self._net_lock, np.errstate(over="ignore", invalid="ignore"):
                    net.train()
                    loss, grads = training.loss_and_gradient(net, x[idx], t[idx])  # the engine, if on
                    if not np.isfinite(loss):
                        net.load_state_dict(good)
                        self._set_state("diverged", f"training diverged: the loss became {loss} at "
                                        f"iteration {self.iteration + 1}; the weights are back at the "
                                        "last epoch's end: try a smaller learning rate, e.g. "
                                        f"{self.lr / 10:g}", why="diverged.nonfinite", loss=str(loss),
                                        iteration=self.iteration + 1, lr=f"{self.lr / 10:g}")
                        return
                    norms = self._grad_norms(grads)
                    opt.update(net.params, grads)
                    self.iteration += 1
                losses.append(float(loss))
                epoch_losses.append(float(loss))
                if first_loss is None:
                    first_loss = float(loss)
                now = time.monotonic()
                if now - last_emit >= STEP_EVERY_S:
                    self._emit("step", {"iteration": self.iteration, "epoch": epoch + lo / len(x),
                                        "loss": float(np.mean(losses)), "grad_norms": norms})
                    losses, last_emit = [], now
            mean_loss = float(np.mean(epoch_losses)) if epoch_losses else 0.0
            if first_loss is not None and mean_loss > DIVERGED_RATIO * first_loss:
                with self._net_lock:
                    net.load_state_dict(good)
                self._set_state("diverged", f"training diverged in epoch {epoch + 1}: the loss went from "
                                f"{first_loss:.3g} at the start to {max(epoch_losses):.3g} "
                                f"(mean {mean_loss:.3g} over the epoch); the weights are back at the start "
                                f"of epoch {epoch + 1}: "
                                f"try a smaller learning rate, e.g. {self.lr / 10:g}",
                                why="diverged.grew", epoch=epoch + 1, first=f"{first_loss:.3g}",
                                max=f"{max(epoch_losses):.3g}", mean=f"{mean_loss:.3g}",
                                lr=f"{self.lr / 10:g}")
                return
            with self._net_lock:
                train_acc = net.accuracy(x[:EVAL_SAMPLES], t[:EVAL_SAMPLES])
                test_loss, test_acc = net.evaluate(x_test[:EVAL_SAMPLES], t_test[:EVAL_SAMPLES])
                self.epoch = epoch + 1
                good = net.state_dict()
            self._emit("epoch", {"epoch": self.epoch, "iteration": self.iteration, "train_acc": train_acc,
                                 "test_acc": test_acc, "test_loss": test_loss})
        self._set_state("finished", f"{self.epochs} epochs done", why="finished", epochs=self.epochs)

    def _grad_norms(self, grads: dict[str, Any]) -> dict[str, float]:
        """The norm of each layer's parameter gradients together, by layer name."""
        squares: dict[str, float] = {}
        for key, g in grads.items():
            layer = self._layer_of.get(key, key)
            squares[layer] = squares.get(layer, 0.0) + float(np.sum(np.square(g, dtype=np.float64)))
        return {k: float(np.sqrt(v)) for k, v in squares.items()}


class Sessions:
    """The server's training sessions, by id (an unguessable token given to the tab)."""

    def __init__(self, save_dir: Path, max_sessions: int = MAX_SESSIONS,
                 abandoned_after: float = ABANDONED_AFTER_S) -> None:
        self.save_dir = save_dir
        self.max_sessions = max_sessions
        self.abandoned_after = abandoned_after
        self._sessions: dict[str, TrainingSession] = {}
        self._dropped: dict[str, str] = {}  # id -> why, so a late tab is told the truth
        self._lock = threading.Lock()

    def _room(self) -> None:
        """Drop one session to make room (the caller holds the lock), or refuse with 429."""
        now = time.monotonic()
        finished = sorted((s for s in self._sessions.values() if s.finished), key=lambda s: s.ended)
        abandoned = sorted((s for s in self._sessions.values() if s.state in ("ready", "paused")
                            and now - s.touched >= self.abandoned_after), key=lambda s: s.touched)
        if finished:
            victim, why = finished[0], f"it had {finished[0].state}"
        elif abandoned:
            victim = abandoned[0]
            why = f"it was {victim.state} and unused for {self.abandoned_after / 60:g} minutes"
            victim.stop()
        else:
            raise BadRequest(f"the server holds {len(self._sessions)} training sessions, its limit "
                             f"(MAX_SESSIONS = {self.max_sessions}), none finished: stop one, or wait "
                             "for one to finish", 429)
        del self._sessions[victim.id]
        if len(self._dropped) >= 10 * self.max_sessions:
            self._dropped.pop(next(iter(self._dropped)))
        self._dropped[victim.id] = why

    def create(self, settings: dict[str, Any]) -> TrainingSession:
        session = TrainingSession(settings, self.save_dir)
        with self._lock:
            if len(self._sessions) >= self.max_sessions:
                self._room()
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> TrainingSession:
        with self._lock:
            session = self._sessions.get(session_id)
            dropped = self._dropped.get(session_id)
        if session is None:
            if dropped is not None:
                raise BadRequest(f"this training session was closed to make room for others ({dropped}): "
                                 "start a new one", 404)
            raise BadRequest("no such training session (the server may have restarted): start a new one", 404)
        session.touched = time.monotonic()
        return session

    def close(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
        for s in sessions:
            s.stop(wait=5.0)
