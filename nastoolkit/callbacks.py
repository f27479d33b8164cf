"""Keras-style training callbacks: ``History``, ``EarlyStopping``, ``ModelCheckpoint``, progress.

A callback sees the model through ``set_model`` and the epoch's ``logs`` dict
(``{"loss": ..., "val_loss": ..., "accuracy": ...}``); it may set ``model.stop_training = True``.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import warnings
from collections.abc import Iterable

import numpy as np

from . import _checks

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ProgressLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]


_BATCH_HOOKS = {
    "train": ("on_train_batch_begin", "on_train_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


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
    """True when ``callback`` answers one of ``hooks`` (its class or, as a ``LambdaCallback``
    does, the instance replaces the base class's no-op)."""
    cls = type(callback)
    return any(
        hook in vars(callback) or getattr(cls, hook) is not getattr(Callback, hook)
        for hook in hooks
    )


def _pythonify(logs) -> dict:
    """Keras's ``pythonify_logs``: a fresh dict, keys sorted, nested dicts flattened, and every
    value that ``float()`` accepts (NumPy scalars, 0-d arrays) made a Python float."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(_pythonify(value))
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            pass  # kept as it is, e.g. predict's batch of outputs
        result[key] = value
    return result


class CallbackList:
    """Fans each Keras hook out to a list of callbacks, in list order.

    Every callback gets ``set_model(model)`` and ``set_params(params)`` once. Batch hooks go only
    to callbacks that override them, so a loop can skip building batch logs when
    ``wants_batches`` (train), ``wants_test_batches`` or ``wants_predict_batches`` is False.
    ``logs`` reach the callbacks as one shared dict per hook, made as Keras makes it (keys
    sorted, values as Python floats where possible, ``{}`` for None), so a key that a callback
    adds (``LearningRateScheduler`` adds ``learning_rate``) is seen by the callbacks after it;
    Keras puts ``History`` after the user's callbacks for that reason.

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
                raise TypeError(
                    "callbacks must be nastoolkit.callbacks.Callback instances "
                    f"(subclass Callback or use LambdaCallback). Received: "
                    f"{type(cb).__name__}"
                )
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

    ``fit`` returns it. ``epoch`` lists the epoch indices seen; ``stopped_reason`` says why
    training ended early (NaN loss, early stopping), else None.

    Examples
    --------
    >>> history = History()
    >>> history.on_train_begin()
    >>> history.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75})
    >>> history.history, history.epoch
    ({'loss': [0.5], 'val_loss': [0.75]}, [0])
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


def _auto_direction(monitor: str, model=None) -> str | None:
    """Keras's ``mode="auto"``: "min" for a loss, else the monitored metric's direction (from the
    model's compiled metrics, then from the metric registry), or None when it cannot be told."""
    name = monitor.removeprefix("val_")
    if name == "loss":
        return "min"
    compiled = getattr(model, "_compiled", None)
    for metric in getattr(compiled, "metrics", None) or ():
        if getattr(metric, "name", None) == name and hasattr(metric, "direction"):
            return "max" if metric.direction == "up" else "min"
    from . import metrics  # level 2: the metric classes know their direction

    try:
        metric = metrics.get(name)
    except (ValueError, TypeError):
        return None
    return "max" if getattr(metric, "direction", "down") == "up" else "min"


def _resolve_mode(mode: str, monitor: str) -> str:
    _checks.one_of("mode", mode, ("auto", "min", "max"))
    if mode != "auto":
        return mode
    return _auto_direction(monitor) or "auto"


class _MonitorCallback(Callback):
    """Keras's ``MonitorCallback``: ``monitor``, ``mode`` and ``min_delta`` decide whether a value
    improves on the best so far (the first value always does)."""

    def __init__(self, monitor="val_loss", mode="auto", min_delta=0.0):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(
                f"monitor must be the name of a logs key such as 'val_loss'. "
                f"Received: monitor={monitor!r}"
            )
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor)
        self.min_delta = abs(_checks.finite_number("min_delta", min_delta))
        self.best = None

    def _direction(self) -> str:
        if self.mode == "auto":  # a metric unknown at construction: ask the compiled model
            mode = _auto_direction(self.monitor, self.model)
            if mode is None:
                raise ValueError(
                    f"{type(self).__name__} received monitor={self.monitor!r}, but cannot tell "
                    "whether it should be minimized or maximized. Pass mode='max' or mode='min'."
                )
            self.mode = mode
        return self.mode

    def _is_improvement(self, current, reference) -> bool:
        improved = _better(self._direction(), self.min_delta)  # raises for an unknown direction
        return reference is None or improved(current, reference)

    def _monitored(self, logs, what: str):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(
                f"{what} is conditioned on {self.monitor!r}, which is not in the logs. "
                f"Available: {sorted(logs or {})}. Pass validation data or change "
                "monitor.",
                RuntimeWarning,
                stacklevel=3,
            )
        return current


class EarlyStopping(_MonitorCallback):
    """Stop training when ``monitor`` has stopped improving (Keras 3 semantics).

    An epoch improves when its value beats the best so far by more than ``min_delta`` (the first
    monitored epoch always does). The wait count restarts only when the value also beats
    ``baseline`` (when given); training stops once ``wait >= patience`` after epoch 0. Epochs
    before ``start_from_epoch`` are not monitored. With ``restore_best_weights=True`` the best
    epoch's weights are put back at the end of training, whether it stopped early or not.

    Parameters
    ----------
    monitor : str
        The logs key to watch, e.g. ``"val_loss"`` or ``"val_accuracy"``.
    min_delta : float
        The smallest change that counts as an improvement.
    patience : int
        Epochs without improvement after which training stops.
    verbose : int
        1 prints when it stops and when it restores weights.
    mode : {"auto", "min", "max"}
        Direction of improvement; ``"auto"`` takes it from the loss or metric name.
    baseline : float or None
        The value to beat before the wait count restarts.
    restore_best_weights : bool
        Put back the weights of the best epoch at the end of training.
    start_from_epoch : int
        Warm-up epochs that are not monitored.

    Examples
    --------
    >>> stop = EarlyStopping(monitor="val_accuracy", patience=3)
    >>> stop.mode
    'max'
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta)
        self.patience = _checks.non_negative_int("patience", patience)
        self.verbose = verbose
        self.baseline = None if baseline is None else _checks.finite_number("baseline", baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = _checks.non_negative_int("start_from_epoch", start_from_epoch)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        # re-usable across fit calls, as in Keras
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitored(logs, "Early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # restart the count only when the baseline is beaten too (Keras semantics)
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            self.model.stop_reason = (
                f"early stopping: {self.monitor} did not improve for "
                f"{self.wait} epochs (best {self.best:.6g} at epoch "
                f"{self.best_epoch + 1})"
            )

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)


def _learning_rate_of(optimizer) -> float:
    """The optimizer's current learning rate as a float (a schedule's value at this step)."""
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError('Optimizer must have a "learning_rate" attribute.')
    if callable(optimizer.learning_rate):
        return float(optimizer.current_learning_rate)
    return float(optimizer.learning_rate)


def _set_learning_rate(optimizer, value: float, who: str) -> None:
    if callable(optimizer.learning_rate):
        raise TypeError(
            f"{who} cannot set the learning rate of an optimizer created with a "
            f"schedule ({type(optimizer.learning_rate).__name__}); give the "
            "optimizer a float learning_rate, or drop the callback."
        )
    optimizer.learning_rate = float(value)


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of every epoch from ``schedule``.

    ``schedule(epoch, lr)`` (or the older one-argument ``schedule(epoch)``) receives the 0-based
    epoch and the current learning rate and returns the new one as a float. Each epoch's logs get
    the ``learning_rate`` it ran with, so ``History`` records it.

    Parameters
    ----------
    schedule : callable
        ``(epoch, lr) -> float`` or ``epoch -> float``.
    verbose : int
        1 prints each update.

    Examples
    --------
    >>> scheduler = LearningRateScheduler(lambda epoch, lr: lr if epoch < 10 else lr * 0.9)
    >>> scheduler.verbose
    0
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                f"schedule must be a function (epoch, lr) -> float. Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:  # Keras's current form first, then its older one-argument form
            learning_rate = self.schedule(epoch, _learning_rate_of(optimizer))
        except TypeError:
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.floating)):
            # ValueError, not TypeError: the error Keras raises here
            raise ValueError(  # noqa: TRY004
                f"The output of the `schedule` function should be a float. Got: {learning_rate!r}"
            )
        _set_learning_rate(optimizer, learning_rate, "LearningRateScheduler")
        if self.verbose > 0:
            print(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                f"{learning_rate}."
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _learning_rate_of(self.model.optimizer)


class ReduceLROnPlateau(_MonitorCallback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving (Keras 3).

    After ``patience`` epochs without an improvement larger than ``min_delta``, the rate becomes
    ``max(lr * factor, min_lr)`` (only while ``lr > min_lr``); then ``cooldown`` epochs pass
    before the wait count resumes. Each epoch's logs get its ``learning_rate``.

    Parameters
    ----------
    monitor : str
        The logs key to watch.
    factor : float
        The multiplier, in (0, 1).
    patience : int
        Epochs without improvement before a reduction.
    verbose : int
        1 prints each reduction.
    mode : {"auto", "min", "max"}
        Direction of improvement.
    min_delta : float
        The smallest change that counts as an improvement.
    cooldown : int
        Epochs to wait after a reduction before counting again.
    min_lr : float
        The lower bound of the learning rate.

    Examples
    --------
    >>> reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=0.001)
    >>> reduce.factor, reduce.patience
    (0.2, 5)
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__(monitor, mode, min_delta)
        self.factor = _checks.number_in(
            "factor",
            factor,
            0.0,
            1.0,
            low_open=True,
            high_open=True,
            fix="ReduceLROnPlateau only reduces.",
        )
        self.patience = _checks.non_negative_int("patience", patience)
        self.verbose = verbose
        self.cooldown = _checks.non_negative_int("cooldown", cooldown)
        self.min_lr = _checks.non_negative("min_lr", min_lr)
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        """True while the epochs after a reduction are still being waited out."""
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        logs["learning_rate"] = _learning_rate_of(self.model.optimizer)
        current = self._monitored(logs, "Learning rate reduction")
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce(self, epoch) -> bool:
        optimizer = self.model.optimizer
        old_lr = _learning_rate_of(optimizer)
        # Keras compares in float32, the dtype of its learning-rate variable
        if not old_lr > np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        _set_learning_rate(optimizer, new_lr, "ReduceLROnPlateau")
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
        return True


class CSVLogger(Callback):
    """Stream each epoch's logs to a CSV file: a header ``epoch,<sorted keys>`` then one row per
    epoch, as Keras writes it (``val_*`` columns added when the first epoch has none).

    Parameters
    ----------
    filename : str or path-like
        The CSV file.
    separator : str
        The field separator.
    append : bool
        Append to an existing file (no second header) instead of overwriting it.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> logger = CSVLogger(path)
    >>> logger.on_train_begin()
    >>> logger.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75})
    >>> logger.on_train_end()
    >>> print(open(path).read().strip())
    epoch,loss,val_loss
    0,0.5,0.75
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(
                "separator must be a one-character string such as ',' or ';'. "
                f"Received: separator={separator!r}"
            )
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = bool(append)
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                self.append_header = not f.readline()
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        # open for the whole run (rows are flushed per epoch), closed in on_train_end
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
        if self.writer is None:
            dialect = type("Dialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch", *self.keys], dialect=dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _csv_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


def _csv_value(value):
    if isinstance(value, str) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value
    if isinstance(value, Iterable):
        return f'"[{", ".join(map(str, value))}]"'
    return value


_LAMBDA_HOOKS = (
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_begin",
    "on_train_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)


class LambdaCallback(Callback):
    """A callback made of plain functions, one per hook (Keras's ``LambdaCallback``).

    ``on_epoch_begin``/``on_epoch_end`` and the batch hooks take ``(index, logs)``;
    ``on_train_begin``/``on_train_end`` take ``(logs)``. Any other Keras hook may be given by
    keyword (``on_test_end=...``).

    Parameters
    ----------
    on_epoch_begin, on_epoch_end : callable or None
        ``f(epoch, logs)``.
    on_train_begin, on_train_end : callable or None
        ``f(logs)``.
    on_train_batch_begin, on_train_batch_end : callable or None
        ``f(batch, logs)``.
    **kwargs : callable
        Other hooks by name.

    Examples
    --------
    >>> seen = []
    >>> callback = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs["loss"]))
    >>> callback.on_epoch_end(0, {"loss": 0.5})
    >>> seen
    [0.5]
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        unknown = sorted(set(kwargs) - set(_LAMBDA_HOOKS))
        if unknown:
            raise TypeError(
                f"LambdaCallback got unknown hooks {unknown}; expected names from "
                f"{list(_LAMBDA_HOOKS)}."
            )
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
            **kwargs,
        }
        for name, function in hooks.items():
            if function is None:
                continue
            if not callable(function):
                raise TypeError(f"{name} must be a function or None. Received: {name}={function!r}")
            setattr(self, name, function)

    def __repr__(self):
        hooks = [name for name in _LAMBDA_HOOKS if name in vars(self)]
        return f"LambdaCallback({', '.join(hooks)})"


class ModelCheckpoint(_MonitorCallback):
    """Save the model after each epoch (atomically), or only when ``monitor`` improves.

    ``filepath`` may contain ``{epoch}`` (1-based) and log keys, e.g.
    ``"ckpt-{epoch:03d}-{val_loss:.3f}.npz"``. A run interrupted at any moment keeps the last
    completed epoch's file intact.

    Parameters
    ----------
    filepath : str or path-like
        Where to save, formatted with the epoch and the logs.
    monitor : str
        The logs key that decides "best" with ``save_best_only``.
    verbose : int
        1 prints each save.
    save_best_only : bool
        Save only when ``monitor`` improves on the best so far.
    mode : {"auto", "min", "max"}
        Direction of improvement.
    initial_value_threshold : float or None
        The value the first save must beat (with ``save_best_only``).

    Examples
    --------
    >>> ModelCheckpoint("best.npz", monitor="val_accuracy", save_best_only=True).mode
    'max'
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        mode="auto",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode, 0.0)
        self.filepath = os.fspath(filepath)
        self.save_best_only = bool(save_best_only)
        self.verbose = verbose
        self.initial_value_threshold = (
            None
            if initial_value_threshold is None
            else _checks.finite_number("initial_value_threshold", initial_value_threshold)
        )
        self.best = self.initial_value_threshold

    def on_train_begin(self, logs=None):
        self.best = self.initial_value_threshold

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = self._monitored(logs, "ModelCheckpoint")
            if current is None or not self._is_improvement(current, self.best):
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

    Parameters
    ----------
    backup_dir : str or path-like
        The folder for ``backup.npz`` (created if missing).
    delete_checkpoint : bool
        Remove the backup once training completes.

    Examples
    --------
    >>> import os, tempfile
    >>> backup = BackupAndRestore(os.path.join(tempfile.mkdtemp(), "bk"))
    >>> os.path.basename(backup.path)
    'backup.npz'
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
    """Stop training at the batch whose loss is NaN or infinite, as Keras's does (``fit`` also
    stops on a non-finite loss by itself, restoring the epoch's starting weights).

    Examples
    --------
    >>> TerminateOnNaN()
    TerminateOnNaN()
    """

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.model.stop_training = True


def format_logs(logs: dict) -> str:
    """``"loss: 0.1234 - val_loss: 0.2345"``, Keras's epoch-line format."""
    return " - ".join(f"{key}: {value:.4g}" for key, value in logs.items())


class ProgressLogger(Callback):
    """Progress output for ``fit(verbose=...)``: 1 is one tqdm bar over epochs showing the latest
    logs; 2 is one printed line per epoch.

    Parameters
    ----------
    verbose : int
        1 or 2.

    Examples
    --------
    >>> logger = ProgressLogger(verbose=2)
    >>> logger.set_params({"epochs": 3})
    >>> logger.on_epoch_end(0, {"loss": 0.25})
    Epoch 1/3 - loss: 0.25
    """

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose
        self._bar = None

    def on_train_begin(self, logs=None):
        if self.verbose == 1:
            from tqdm.auto import tqdm  # imported late: only verbose fits need it; .auto picks
            # the notebook bar inside Jupyter

            self._bar = tqdm(
                total=self.params.get("epochs"),
                initial=self.params.get("initial_epoch", 0),
                unit="epoch",
                desc="fit",
                leave=True,
            )

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
