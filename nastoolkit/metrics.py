"""Stateful metrics for ``compile(metrics=[...])``: accuracy variants, MAE and MSE.

Each metric averages a per-sample value over every sample seen since ``reset()``, as Keras's
``MeanMetricWrapper`` does, so batches of different sizes are weighted by their sample counts:

    result = (sum over batches of sum_i m_i) / (number of samples),   m_i per sample:

- BinaryAccuracy:              m_i = mean_k [ (p_ik > t) == (y_ik > t) ],  t = 0.5
- CategoricalAccuracy:         m_i = [ argmax_k p_ik == argmax_k y_ik ]
- SparseCategoricalAccuracy:   m_i = [ argmax_k p_ik == label_i ]
- MeanAbsoluteError:           m_i = mean_k |p_ik - y_ik|
- MeanSquaredError:            m_i = mean_k (p_ik - y_ik)^2

``get("accuracy", loss=...)`` picks the accuracy that fits the loss, as Keras does; without a
known loss it decides from the shapes of the first batch (width 1: binary; integer labels of
shape (n,) or (n, 1): sparse; otherwise categorical). The metric keeps the name it was asked
for, so ``History`` holds ``"accuracy"``, ``"mae"``, ``"mse"``.
"""

from __future__ import annotations

import functools

import numpy as np

from ._registry import Registry
from .backend import array_module

__all__ = [
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "SparseCategoricalAccuracy",
    "deserialize",
    "get",
    "serialize",
]


# --- pure per-sample values: (y_true, y_pred) -> array of shape (n,) --------------------------

def _rows(y_true, y_pred):
    """Both as (n, k) arrays on y_pred's device (y_true reshaped to y_pred's shape)."""
    xp = array_module(y_pred)
    y_pred = xp.asarray(y_pred)
    y_pred = y_pred.reshape(y_pred.shape[0], -1)
    y_true = xp.asarray(y_true)
    if y_true.size != y_pred.size:
        raise ValueError(f"y_true must have as many values as y_pred. Received: "
                         f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}")
    return y_true.reshape(y_pred.shape), y_pred


def binary_accuracy(y_true, y_pred, threshold: float = 0.5):
    """m_i = mean_k [(p_ik > threshold) == (y_ik > threshold)] (as Keras for 0/1 labels)."""
    y_true, y_pred = _rows(y_true, y_pred)
    return ((y_pred > threshold) == (y_true > threshold)).mean(axis=-1)


def categorical_accuracy(y_true, y_pred):
    """m_i = [argmax_k p_ik == argmax_k y_ik]."""
    y_true, y_pred = _rows(y_true, y_pred)
    return (y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """m_i = [argmax_k p_ik == label_i], labels of shape (n,) or (n, 1)."""
    xp = array_module(y_pred)
    y_pred = xp.asarray(y_pred)
    labels = xp.asarray(y_true).reshape(-1)
    if labels.shape[0] != y_pred.shape[0]:
        raise ValueError(f"y_true must hold one label per row of y_pred. Received: "
                         f"{labels.shape[0]} labels, y_pred.shape={y_pred.shape}")
    return (y_pred.argmax(axis=-1) == labels).astype(np.float64)


def mean_absolute_error(y_true, y_pred):
    """m_i = mean_k |p_ik - y_ik|."""
    y_true, y_pred = _rows(y_true, y_pred)
    return array_module(y_pred).abs(y_pred - y_true).mean(axis=-1)


def mean_squared_error(y_true, y_pred):
    """m_i = mean_k (p_ik - y_ik)^2."""
    y_true, y_pred = _rows(y_true, y_pred)
    return ((y_pred - y_true) ** 2).mean(axis=-1)


# --- stateful metrics ----------------------------------------------------------------------------

class Metric:
    """The running mean of a per-sample value: state ``total`` (sum) and ``count`` (samples)."""

    default_name = "metric"
    direction = "down"  # "up" when larger is better (Keras's ``_direction``), for mode="auto"

    def __init__(self, name: str | None = None):
        self.name = self.default_name if name is None else str(name)
        self.reset()

    def values(self, y_true, y_pred):
        """Per-sample values, shape (n,)."""
        raise NotImplementedError

    def update(self, y_true, y_pred) -> None:
        """Add one batch: total += sum_i m_i, count += n."""
        values = self.values(y_true, y_pred)
        self.total += float(values.sum())
        self.count += int(values.shape[0])

    def result(self) -> float:
        """total / count (0.0 before any update, as Keras)."""
        return self.total / self.count if self.count else 0.0

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    update_state = update  # Keras names
    reset_state = reset

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, result={self.result():.6g})"


class BinaryAccuracy(Metric):
    """Fraction of outputs with (p > threshold) == (y > threshold), labels y in {0, 1}."""

    default_name = "binary_accuracy"
    direction = "up"

    def __init__(self, name: str | None = None, threshold: float = 0.5):
        self.threshold = float(threshold)
        super().__init__(name)

    def values(self, y_true, y_pred):
        return binary_accuracy(y_true, y_pred, self.threshold)

    def get_config(self) -> dict:
        return {"name": self.name, "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    """Fraction of rows whose argmax matches the one-hot target's argmax."""

    default_name = "categorical_accuracy"
    direction = "up"

    def values(self, y_true, y_pred):
        return categorical_accuracy(y_true, y_pred)


class SparseCategoricalAccuracy(Metric):
    """Fraction of rows whose argmax equals the integer label."""

    default_name = "sparse_categorical_accuracy"
    direction = "up"

    def values(self, y_true, y_pred):
        return sparse_categorical_accuracy(y_true, y_pred)


def _accuracy_kind(y_true, y_pred) -> str:
    """Keras's rule from the shapes: width 1 -> binary; labels (n,)/(n, 1) -> sparse; else
    categorical."""
    pred_shape = np.shape(y_pred) if not hasattr(y_pred, "shape") else y_pred.shape
    true_shape = np.shape(y_true) if not hasattr(y_true, "shape") else y_true.shape
    if len(pred_shape) < 2 or pred_shape[-1] == 1:
        return "binary"
    if len(true_shape) < len(pred_shape) or true_shape[-1] == 1:
        return "sparse"
    return "categorical"


_ACCURACY_VALUES = {"binary": binary_accuracy, "sparse": sparse_categorical_accuracy,
                    "categorical": categorical_accuracy}


class Accuracy(Metric):
    """``"accuracy"`` with no known loss: binary, sparse or categorical, fixed by the first batch's
    shapes (see ``_accuracy_kind``) and kept until ``reset``."""

    default_name = "accuracy"
    direction = "up"
    def values(self, y_true, y_pred):
        if self.kind is None:
            self.kind = _accuracy_kind(y_true, y_pred)
        return _ACCURACY_VALUES[self.kind](y_true, y_pred)

    def reset(self) -> None:
        super().reset()
        self.kind = None


class MeanAbsoluteError(Metric):
    """mean |y_pred - y_true| over samples and outputs."""

    default_name = "mean_absolute_error"

    def values(self, y_true, y_pred):
        return mean_absolute_error(y_true, y_pred)


class MeanSquaredError(Metric):
    """mean (y_pred - y_true)^2 over samples and outputs."""

    default_name = "mean_squared_error"

    def values(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)


_REGISTRY = Registry("metric", Metric)
for _cls in (BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, MeanAbsoluteError,
             MeanSquaredError):
    _REGISTRY.add(_cls, _cls.default_name)
_REGISTRY.add(Accuracy, "accuracy")
_REGISTRY.add(functools.partial(Accuracy, name="acc"), "acc")
_REGISTRY.add(functools.partial(MeanAbsoluteError, name="mae"), "mae")
_REGISTRY.add(functools.partial(MeanSquaredError, name="mse"), "mse")

# The accuracy a loss implies (Keras), keyed by the loss's canonical name.
_ACCURACY_FOR_LOSS = {
    "binary_crossentropy": BinaryAccuracy,
    "categorical_crossentropy": CategoricalAccuracy,
    "sparse_categorical_crossentropy": SparseCategoricalAccuracy,
}


def _loss_key(loss) -> str | None:
    """The canonical name of a loss given as a string or a ``losses.Loss`` (by its class)."""
    if loss is None:
        return None
    if isinstance(loss, str):
        return {"bce": "binary_crossentropy"}.get(loss.lower(), loss.lower())
    return getattr(type(loss), "default_name", None)


def get(identifier, loss=None) -> Metric:
    """A ``Metric`` from a name (``"accuracy"``/``"acc"``, ``"mae"``, ``"mse"``,
    ``"binary_accuracy"``, ...), an instance, a class or a serialized dict.

    ``"accuracy"`` becomes the accuracy the ``loss`` implies (binary for BinaryCrossentropy,
    sparse for SparseCategoricalCrossentropy, categorical for CategoricalCrossentropy), named
    as asked; for other losses it decides from the output width at the first update.
    """
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        cls = _ACCURACY_FOR_LOSS.get(_loss_key(loss), Accuracy)
        return cls(name=identifier.lower())
    return _REGISTRY.get(identifier)


def serialize(metric: Metric) -> dict:
    """``{"class_name": ..., "config": ...}``: JSON-ready (state is not saved)."""
    return _REGISTRY.serialize(get(metric))


def deserialize(config: dict, custom_objects: dict | None = None) -> Metric:
    """The inverse of ``serialize`` (a fresh metric with no state)."""
    return _REGISTRY.deserialize(config, custom_objects)
