"""Keras-style training callbacks: ``History``, ``EarlyStopping``, ``ModelCheckpoint``, progress.

A callback sees the model through ``set_model`` and the epoch's ``logs`` dict
(``{"loss": ..., "val_loss": ..., "accuracy": ...}``); it may set ``model.stop_training = True``.
"""

from __future__ import annotations

import math
import os
import sys
import warnings

import numpy as np

__all__ = [
    "BackupAndRestore",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "ModelCheckpoint",
    "ProgressLogger",
    "TerminateOnNaN",
]


_BATCH_HOOKS = {"train": ("on_train_batch_begin", "on_train_batch_end"),
                "test": ("on_test_batch_begin", "on_test_batch_end"),
                "predict": ("on_predict_batch_begin", "on_predict_batch_end")}


class Callback:
    """Base class: every Keras hook is a no-op, so subclasses override only what they need.

    ``fit`` calls, in Keras's order: ``on_train_begin``, then per epoch ``on_epoch_begin``, per
    batch ``on_train_batch_begin``/``on_train_batch_end`` (logs: running means of the loss and
    compiled metrics), the validation pass (``on_test_begin``, ``on_test_batch_*``,
    ``on_test_end``), ``on_epoch_end`` (logs: ``loss``, metrics, ``val_*``), and finally
    ``on_train_end``. ``evaluate`` calls the ``on_test_*`` hooks and ``predict`` the
    ``on_predict_*`` ones. ``logs`` is always a dict (empty for the ``*_begin`` hooks).

    Examples
    --------
    >>> class Count(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(epoch, sorted(logs))
    >>> Count().on_epoch_end(0, {"loss": 0.5})
    0 ['loss']
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        """Keep ``model`` as ``self.model`` (called by ``CallbackList``)."""
        self.model = model

    def set_params(self, params):
        """Keep the run's ``params`` (``epochs``, ``steps``, ``verbose``) as ``self.params``."""
        self.params = dict(params)

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...

    def on_batch_begin(self, batch, logs=None):
        """Keras's older name: ``on_train_batch_begin`` calls it."""

    def on_batch_end(self, batch, logs=None):
        """Keras's older name: ``on_train_batch_end`` calls it."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...

    def __repr__(self):
        return f"{type(self).__name__}()"


def _overrides(callback: Callback, *hooks: str) -> bool:
    cls = type(callback)
    return any(getattr(cls, hook) is not getattr(Callback, hook) for hook in hooks)


def _pythonify(logs) -> dict:
    """A fresh dict whose scalar values are Python floats, as Keras's ``pythonify_logs``."""
    if not logs:
        return {}
    out = {}
    for key, value in logs.items():
        if isinstance(value, (np.floating, np.integer)) or (
                getattr(value, "ndim", None) == 0 and hasattr(value, "item")):
            value = float(value)
        out[key] = value
    return out


class CallbackList:
    """Fans each Keras hook out to a list of callbacks, in list order.

    Every callback gets ``set_model(model)`` and ``set_params(params)`` once. Batch hooks go only
    to callbacks that override them, so a loop can skip building batch logs when
    ``wants_batches`` (train), ``wants_test_batches`` or ``wants_predict_batches`` is False.
    ``logs`` reach the callbacks as one shared dict of Python floats (``{}`` for None), so a
    callback that adds a key (``LearningRateScheduler`` adds ``learning_rate``) is seen by the
    callbacks after it, as in Keras, where ``History`` comes last.

    Parameters
    ----------
    callbacks : iterable of Callback
        The callbacks, called in this order.
    model : Sequential
        The model the callbacks see as ``self.model``.
    params : dict
        The run's parameters, e.g. ``{"epochs": 2, "steps": 3, "verbose": 0}``.

    Examples
    --------
    >>> from nastoolkit.callbacks import History
    >>> history = History()
    >>> calls = CallbackList([history], model=None, params={"epochs": 1, "steps": 1})
    >>> calls.on_train_begin()
    >>> calls.on_epoch_end(0, {"loss": np.float32(0.5)})
    >>> history.history
    {'loss': [0.5]}
    """

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError("callbacks must be nastoolkit.callbacks.Callback instances "
                                f"(subclass Callback or use LambdaCallback). Received: "
                                f"{type(cb).__name__}")
        self.model = model
        self.params = dict(params or {})
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(self.params)
        self._batch = {}
        for kind, hooks in _BATCH_HOOKS.items():
            extra = ("on_batch_begin", "on_batch_end") if kind == "train" else ()
            self._batch[kind] = [cb for cb in self.callbacks if _overrides(cb, *hooks, *extra)]

    def __repr__(self):
        return f"CallbackList({self.callbacks!r})"

    @property
    def wants_batches(self) -> bool:
        """True when some callback overrides a train-batch hook."""
        return bool(self._batch["train"])

    @property
    def wants_test_batches(self) -> bool:
        """True when some callback overrides a test-batch hook."""
        return bool(self._batch["test"])

    @property
    def wants_predict_batches(self) -> bool:
        """True when some callback overrides a predict-batch hook."""
        return bool(self._batch["predict"])

    def _run(self, hook: str, logs) -> None:
        logs = _pythonify(logs)
        for cb in self.callbacks:
            getattr(cb, hook)(logs)

    def _at(self, hook: str, index: int, logs, targets) -> None:
        logs = _pythonify(logs)
        for cb in targets:
            getattr(cb, hook)(index, logs)

    def on_train_begin(self, logs=None):
        self._run("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._run("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._run("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._run("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._run("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._run("on_predict_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._at("on_epoch_begin", epoch, logs, self.callbacks)

    def on_epoch_end(self, epoch, logs=None):
        self._at("on_epoch_end", epoch, logs, self.callbacks)

    def on_train_batch_begin(self, batch, logs=None):
        self._at("on_train_batch_begin", batch, logs, self._batch["train"])

    def on_train_batch_end(self, batch, logs=None):
        self._at("on_train_batch_end", batch, logs, self._batch["train"])

    def on_test_batch_begin(self, batch, logs=None):
        self._at("on_test_batch_begin", batch, logs, self._batch["test"])

    def on_test_batch_end(self, batch, logs=None):
        self._at("on_test_batch_end", batch, logs, self._batch["test"])

    def on_predict_batch_begin(self, batch, logs=None):
        self._at("on_predict_batch_begin", batch, logs, self._batch["predict"])

    def on_predict_batch_end(self, batch, logs=None):
        self._at("on_predict_batch_end", batch, logs, self._batch["predict"])


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"][i]`` is epoch i's mean training loss.

    ``stopped_reason`` says why training ended early (NaN loss, early stopping), else None.
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stopped_reason: str | None = None

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}
        self.stopped_reason = None

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))

    def __repr__(self):
        keys = ", ".join(self.history)
        return f"History(epochs={len(self.epoch)}, keys=[{keys}])"


def _better(mode: str, min_delta: float):
    if mode == "min":
        return lambda current, best: current < best - min_delta
    return lambda current, best: current > best + min_delta


def _resolve_mode(mode: str, monitor: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
    if mode != "auto":
        return mode
    return "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs (Keras semantics).

    With ``restore_best_weights=True`` the weights of the best epoch are put back at the end.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if not isinstance(patience, (int, np.integer)) or patience < 0:
            raise ValueError(f"patience must be a non-negative integer. Received: patience={patience!r}")
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = _resolve_mode(mode, monitor)
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self._improved = _better(self.mode, self.min_delta)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"EarlyStopping is monitoring {self.monitor!r}, which is not in the logs "
                          f"(available: {sorted(logs or {})}). Pass validation data or change monitor.",
                          RuntimeWarning, stacklevel=2)
            return
        if epoch < self.start_from_epoch or not math.isfinite(current):
            return
        self.wait += 1
        if self._improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # restart the count only when the baseline is beaten too (Keras semantics)
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            self.model.stop_reason = (f"early stopping: {self.monitor} did not improve for "
                                      f"{self.wait} epochs (best {self.best:.6g} at epoch "
                                      f"{self.best_epoch + 1})")

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", file=sys.stderr)


class ModelCheckpoint(Callback):
    """Save the model after each epoch (atomically), or only when ``monitor`` improves.

    ``filepath`` may contain ``{epoch}`` and log keys, e.g. ``"ckpt-{epoch:03d}-{val_loss:.3f}.npz"``.
    A run interrupted at any moment keeps the last completed epoch's file intact.
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto", verbose=0):
        super().__init__()
        self.filepath = str(filepath)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = _resolve_mode(mode, monitor)
        self.verbose = verbose
        self._improved = _better(self.mode, 0.0)
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None or not self._improved(current, self.best):
                return
            self.best = current
        path = self.filepath.format(epoch=epoch + 1, **logs)
        self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved model to {path}", file=sys.stderr)


class BackupAndRestore(Callback):
    """Survive interruption: back up the whole training state after every epoch, and when the same
    ``fit`` is run again, continue after the last finished epoch.

    The backup (``backup_dir/backup.npz``, written atomically) holds the weights, the optimizer's
    slots, the shuffling RNG and the dropout streams, so an interrupted and resumed run ends with
    exactly the weights of an uninterrupted one. It is deleted when training completes
    (``delete_checkpoint=True``), as in Keras.
    """

    def __init__(self, backup_dir, delete_checkpoint=True):
        super().__init__()
        self.backup_dir = os.fspath(backup_dir)
        self.path = os.path.join(self.backup_dir, "backup.npz")
        self.delete_checkpoint = delete_checkpoint
        self._completed = False

    def on_train_begin(self, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        self._completed = False
        if os.path.exists(self.path):
            self.model._resume_epoch = self.model._restore_backup(self.path)

    def on_epoch_end(self, epoch, logs=None):
        if math.isfinite((logs or {}).get("loss", math.nan)):
            self.model.save(self.path, extra=self.model._backup_extra(epoch))
        if epoch + 1 >= self.params.get("epochs", 0) or self.model.stop_training:
            self._completed = True

    def on_train_end(self, logs=None):
        if self._completed and self.delete_checkpoint and os.path.exists(self.path):
            os.remove(self.path)


class TerminateOnNaN(Callback):
    """Stop training when an epoch's loss is NaN or infinite (``fit`` also does this itself)."""

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.model.stop_training = True


def format_logs(logs: dict) -> str:
    """``"loss: 0.1234 - val_loss: 0.2345"``, Keras's epoch-line format."""
    return " - ".join(f"{key}: {value:.4g}" for key, value in logs.items())


class ProgressLogger(Callback):
    """verbose=1: one tqdm bar over epochs showing the latest logs; verbose=2: one line per epoch."""

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose
        self._bar = None

    def on_train_begin(self, logs=None):
        if self.verbose == 1:
            from tqdm.auto import tqdm  # imported late: only verbose fits need it; .auto picks
            # the notebook bar inside Jupyter

            self._bar = tqdm(total=self.params.get("epochs"), initial=self.params.get("initial_epoch", 0),
                             unit="epoch", desc="fit", leave=True)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs or {}), refresh=False)
            self._bar.update(1)
        elif self.verbose == 2:
            print(f"Epoch {epoch + 1}/{self.params.get('epochs')} - {format_logs(logs or {})}")

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
