"""Stateful metrics for ``compile(metrics=[...])``, with Keras 3's names, arguments and numbers.

Mean metrics average a per-sample value over every sample seen since ``reset()``, as Keras's
``MeanMetricWrapper`` does, so batches of different sizes are weighted by their sample counts
and ``sample_weight`` w_i weights each sample:

    result = (sum over batches of sum_i w_i m_i) / (sum over batches of sum_i w_i),   with

- Accuracy:                    m_i = mean_k [ p_ik == y_ik ]   (labels predicted directly)
- BinaryAccuracy:              m_i = mean_k [ (p_ik > t) == (y_ik > t) ],  t = 0.5
- CategoricalAccuracy:         m_i = [ argmax_k p_ik == argmax_k y_ik ]
- SparseCategoricalAccuracy:   m_i = [ argmax_k p_ik == label_i ]
- MeanAbsoluteError:           m_i = mean_k |p_ik - y_ik|
- MeanSquaredError:            m_i = mean_k (p_ik - y_ik)^2
- RootMeanSquaredError:        sqrt of the MeanSquaredError result
- a plain function f(y_true, y_pred) -> per-sample values (``MeanMetricWrapper``)

``Precision``, ``Recall`` and ``AUC`` count weighted true/false positives/negatives at
thresholds (``p > threshold``) instead, as Keras's confusion-matrix metrics do.

``get("accuracy", loss=...)`` picks the accuracy that fits the loss, as Keras does; without a
known loss it decides from the shapes of the first batch (width 1: binary; integer labels of
shape (n,) or (n, 1): sparse; otherwise categorical). The metric keeps the name it was asked
for, so ``History`` holds ``"accuracy"``, ``"mae"``, ``"mse"``. ``get(None)`` is None.

>>> m = MeanAbsoluteError()
>>> m.update_state([[1.0], [2.0]], [[1.5], [1.0]], sample_weight=[1.0, 3.0])
>>> round(m.result(), 4)
0.875
"""

from __future__ import annotations

import functools

import numpy as np

from . import _checks
from ._registry import Registry
from .backend import array_module, to_numpy

__all__ = [
    "AUC",
    "Accuracy",
    "AutoAccuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "MeanAbsoluteError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "deserialize",
    "get",
    "mean_absolute_error",
    "mean_squared_error",
    "serialize",
    "sparse_categorical_accuracy",
]


# --- pure per-sample values: (y_true, y_pred) -> array of shape (n,) --------------------------


def _rows(y_true, y_pred):
    """Both as (n, k) arrays on y_pred's device (y_true reshaped to y_pred's shape)."""
    xp = array_module(y_pred)
    y_pred = xp.asarray(y_pred)
    y_pred = y_pred.reshape(y_pred.shape[0], -1)
    y_true = xp.asarray(y_true)
    if y_true.size != y_pred.size:
        raise ValueError(
            f"y_true must have as many values as y_pred. Received: "
            f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    return y_true.reshape(y_pred.shape), y_pred


def binary_accuracy(y_true, y_pred, threshold: float = 0.5):
    """Per-sample binary accuracy m_i = mean_k [(p_ik > t) == (y_ik > t)], t = ``threshold``.

    Parameters
    ----------
    y_true : array, shape (n,) or (n, k)
        0/1 labels.
    y_pred : array, shape (n, k)
        Probabilities (or scores compared with ``threshold``).
    threshold : float
        The decision threshold.

    Returns
    -------
    array, shape (n,)

    Examples
    --------
    >>> binary_accuracy(np.array([[1.0], [0.0]]), np.array([[0.7], [0.6]]))
    array([1., 0.])
    """
    y_true, y_pred = _rows(y_true, y_pred)
    return ((y_pred > threshold) == (y_true > threshold)).mean(axis=-1)


def categorical_accuracy(y_true, y_pred):
    """Per-sample m_i = [argmax_k p_ik == argmax_k y_ik] for one-hot targets.

    Parameters
    ----------
    y_true : array, shape (n, k)
        One-hot targets.
    y_pred : array, shape (n, k)
        Scores.

    Returns
    -------
    array, shape (n,)

    Examples
    --------
    >>> categorical_accuracy(np.eye(2), np.array([[0.9, 0.1], [0.8, 0.2]]))
    array([1., 0.])
    """
    y_true, y_pred = _rows(y_true, y_pred)
    return (y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """Per-sample m_i = [argmax_k p_ik == label_i], labels of shape (n,) or (n, 1).

    Parameters
    ----------
    y_true : array, shape (n,) or (n, 1)
        Integer labels.
    y_pred : array, shape (n, k)
        Scores.

    Returns
    -------
    array, shape (n,)

    Examples
    --------
    >>> sparse_categorical_accuracy(np.array([0, 0]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    array([1., 0.])
    """
    xp = array_module(y_pred)
    y_pred = xp.asarray(y_pred)
    labels = xp.asarray(y_true).reshape(-1)
    if labels.shape[0] != y_pred.shape[0]:
        raise ValueError(
            f"y_true must hold one label per row of y_pred. Received: "
            f"{labels.shape[0]} labels, y_pred.shape={y_pred.shape}"
        )
    return (y_pred.argmax(axis=-1) == labels).astype(np.float64)


def mean_absolute_error(y_true, y_pred):
    """Per-sample m_i = mean_k |p_ik - y_ik|.

    Parameters
    ----------
    y_true, y_pred : array, shape (n, k)
        Targets and predictions (``y_true`` may have any shape with as many values).

    Returns
    -------
    array, shape (n,)

    Examples
    --------
    >>> mean_absolute_error(np.array([[0.0, 2.0]]), np.array([[1.0, 1.0]]))
    array([1.])
    """
    y_true, y_pred = _rows(y_true, y_pred)
    return array_module(y_pred).abs(y_pred - y_true).mean(axis=-1)


def mean_squared_error(y_true, y_pred):
    """Per-sample m_i = mean_k (p_ik - y_ik)^2.

    Parameters
    ----------
    y_true, y_pred : array, shape (n, k)
        Targets and predictions (``y_true`` may have any shape with as many values).

    Returns
    -------
    array, shape (n,)

    Examples
    --------
    >>> mean_squared_error(np.array([[0.0, 2.0]]), np.array([[1.0, 1.0]]))
    array([1.])
    """
    y_true, y_pred = _rows(y_true, y_pred)
    return ((y_pred - y_true) ** 2).mean(axis=-1)


# --- stateful metrics ----------------------------------------------------------------------------


def _same_rank(x1, x2, expand_rank_1=True):
    """Keras's ``squeeze_or_expand_to_same_rank``: fix a rank difference of one in the last axis."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _weighted_samples(values, sample_weight):
    """Keras's ``reduce_to_samplewise_values``: per-sample sums of w * m and the sample weights.

    Returns (weighted values of shape (n,), weights of shape (n,) or None when unweighted).
    """
    xp = array_module(values)
    values = xp.asarray(values, dtype=np.float64)
    if sample_weight is not None:
        weight = xp.asarray(sample_weight, dtype=np.float64)
        values, weight = _same_rank(values, weight)
        if values.ndim > weight.ndim:  # average the extra axes first, then weight
            values = values.mean(axis=tuple(range(weight.ndim, values.ndim)))
        try:
            weight = xp.broadcast_to(weight, values.shape)
        except ValueError:
            raise ValueError(
                f"sample_weight must broadcast to the per-sample values of shape "
                f"{values.shape}. Received: sample_weight.shape={weight.shape}"
            ) from None
        values = values * weight
        if weight.ndim > 1:
            weight = weight.mean(axis=tuple(range(1, weight.ndim)))
        sample_weight = weight
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Metric:
    """A streaming metric; by default the (weighted) running mean of a per-sample value.

    State ``total`` (sum of w_i m_i) and ``count`` (sum of w_i; the number of samples when
    unweighted). Subclasses write ``values(y_true, y_pred)`` -> per-sample values of shape
    (n,); metrics that are not means (Precision, AUC) override ``update``, ``result`` and
    ``reset`` instead. ``direction`` is ``"up"`` when larger is better (callbacks' mode="auto").

    Parameters
    ----------
    name : str or None
        The key in ``History`` and the logs; ``default_name`` when None.

    Examples
    --------
    >>> metric = MeanSquaredError()
    >>> metric.update([[0.0], [1.0]], [[1.0], [1.0]])
    >>> metric.result(), metric.count
    (0.5, 2.0)
    """

    default_name = "metric"
    direction = "down"  # "up" when larger is better (Keras's ``_direction``), for mode="auto"

    def __init__(self, name: str | None = None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string or None. Received: name={name!r}")
        self.name = self.default_name if name is None else name
        self.dtype = dtype  # accepted as Keras does; accumulation is float64 here
        self.reset()

    def __call__(self, y_true, y_pred, sample_weight=None):
        """Keras's call: ``update_state`` with this batch, then return ``result()``."""
        self.update_state(y_true, y_pred, sample_weight=sample_weight)
        return self.result()

    def values(self, y_true, y_pred):
        """Per-sample values, shape (n,)."""
        raise NotImplementedError

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        """Add one batch: total += sum_i w_i m_i, count += sum_i w_i (w_i = 1 without weights)."""
        values, weight = _weighted_samples(self.values(y_true, y_pred), sample_weight)
        self.total += float(values.sum())
        self.count += float(values.shape[0] if weight is None else weight.sum())

    def result(self) -> float:
        """total / count (0.0 before any update or with zero weight, as Keras)."""
        return self.total / self.count if self.count else 0.0

    def reset(self) -> None:
        """Forget every batch seen."""
        self.total = 0.0
        self.count = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Keras's name for ``update``."""
        self.update(y_true, y_pred, sample_weight=sample_weight)

    def reset_state(self) -> None:
        """Keras's name for ``reset``."""
        self.reset()

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        result = self.result()
        shown = f"{result:.6g}" if np.ndim(result) == 0 else np.array2string(np.asarray(result))
        return f"{type(self).__name__}(name={self.name!r}, result={shown})"


class MeanMetricWrapper(Metric):
    """The weighted mean of a plain function ``fn(y_true, y_pred, **kwargs)`` -> per-sample values.

    ``compile(metrics=[my_function])`` wraps a function this way, named ``fn.__name__``.

    Parameters
    ----------
    fn : callable
        ``fn(y_true, y_pred)`` returning one value per sample (or per element; extra axes are
        averaged).
    name : str or None
        The logs key; ``fn.__name__`` when None.
    **kwargs
        Passed on to ``fn``.

    Examples
    --------
    >>> def max_error(y_true, y_pred):
    ...     return np.abs(np.asarray(y_true) - np.asarray(y_pred)).max(axis=-1)
    >>> metric = MeanMetricWrapper(max_error)
    >>> metric.update([[0.0, 1.0], [1.0, 1.0]], [[0.5, 3.0], [1.0, 2.0]])
    >>> metric.name, metric.result()
    ('max_error', 1.5)
    """

    def __init__(self, fn, name: str | None = None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(
                f"fn must be a function (y_true, y_pred) -> per-sample values. Received: fn={fn!r}"
            )
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(
            getattr(fn, "__name__", type(fn).__name__) if name is None else name, dtype
        )

    def values(self, y_true, y_pred):
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        xp = array_module(y_pred)
        values = xp.asarray(values, dtype=np.float64)
        if values.ndim == 0:
            raise ValueError(
                f"The metric function {self.name!r} returned a single number; it "
                "must return one value per sample (shape (n,)), e.g. "
                "mean(..., axis=-1) instead of mean(...)."
            )
        return values

    def get_config(self) -> dict:
        return {"name": self.name, "fn": self._fn, **self._fn_kwargs}


class BinaryAccuracy(Metric):
    """Fraction of outputs with (p > threshold) == (y > threshold), labels y in {0, 1}.

    Parameters
    ----------
    name : str or None
        ``"binary_accuracy"`` when None.
    dtype : None
        Accepted for Keras compatibility; results are float64.
    threshold : float
        The decision threshold.

    Examples
    --------
    >>> metric = BinaryAccuracy()
    >>> metric.update([[1], [0], [1]], [[0.9], [0.2], [0.3]])
    >>> round(metric.result(), 4)
    0.6667
    """

    default_name = "binary_accuracy"
    direction = "up"

    def __init__(self, name: str | None = None, dtype=None, threshold: float = 0.5):
        self.threshold = _checks.finite_number("threshold", threshold)
        super().__init__(name, dtype)

    def values(self, y_true, y_pred):
        return binary_accuracy(y_true, y_pred, self.threshold)

    def get_config(self) -> dict:
        return {"name": self.name, "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    """Fraction of rows whose argmax matches the one-hot target's argmax.

    Parameters
    ----------
    name : str or None
        ``"categorical_accuracy"`` when None.

    Examples
    --------
    >>> metric = CategoricalAccuracy()
    >>> metric.update(np.eye(2), [[0.9, 0.1], [0.8, 0.2]])
    >>> metric.result()
    0.5
    """

    default_name = "categorical_accuracy"
    direction = "up"

    def values(self, y_true, y_pred):
        return categorical_accuracy(y_true, y_pred)


class SparseCategoricalAccuracy(Metric):
    """Fraction of rows whose argmax equals the integer label.

    Parameters
    ----------
    name : str or None
        ``"sparse_categorical_accuracy"`` when None.

    Examples
    --------
    >>> metric = SparseCategoricalAccuracy()
    >>> metric.update([0, 1], [[0.9, 0.1], [0.8, 0.2]])
    >>> metric.result()
    0.5
    """

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


_ACCURACY_VALUES = {
    "binary": binary_accuracy,
    "sparse": sparse_categorical_accuracy,
    "categorical": categorical_accuracy,
}


class AutoAccuracy(Metric):
    """``"accuracy"`` in ``compile`` with no loss that decides it: binary, sparse or categorical,
    fixed by the first batch's shapes (see ``_accuracy_kind``) and kept until ``reset``, as
    Keras's ``compile`` resolves the string.

    Examples
    --------
    >>> metric = AutoAccuracy()
    >>> metric.update([2, 0], [[0.1, 0.2, 0.7], [0.1, 0.8, 0.1]])
    >>> metric.kind, metric.result()
    ('sparse', 0.5)
    """

    default_name = "accuracy"
    direction = "up"

    def values(self, y_true, y_pred):
        if self.kind is None:
            self.kind = _accuracy_kind(y_true, y_pred)
        return _ACCURACY_VALUES[self.kind](y_true, y_pred)

    def reset(self) -> None:
        super().reset()
        self.kind = None


def accuracy(y_true, y_pred):
    """Per-sample m_i = mean_k [y_pred_ik == y_true_ik]: exact matches (Keras's ``accuracy``).

    Parameters
    ----------
    y_true, y_pred : array, shape (n, k)
        Labels and predicted labels.

    Returns
    -------
    array, shape (n,)

    Examples
    --------
    >>> accuracy(np.array([[1.0, 2.0]]), np.array([[1.0, 3.0]]))
    array([0.5])
    """
    y_true, y_pred = _rows(y_true, y_pred)
    return (y_pred == y_true).astype(np.float64).mean(axis=-1)


class Accuracy(Metric):
    """How often predictions equal the labels exactly (``keras.metrics.Accuracy``), for
    predictions that are already class labels; ``compile(metrics=["accuracy"])`` picks the
    binary/categorical/sparse accuracy instead (``AutoAccuracy``).

    Examples
    --------
    >>> metric = Accuracy()
    >>> metric.update([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    >>> metric.result()
    0.75
    """

    default_name = "accuracy"
    direction = "up"

    def values(self, y_true, y_pred):
        return accuracy(y_true, y_pred)


class MeanAbsoluteError(Metric):
    """The (weighted) mean of |y_pred - y_true| over samples and outputs.

    Parameters
    ----------
    name : str or None
        ``"mean_absolute_error"`` when None (``get("mae")`` names it ``"mae"``).

    Examples
    --------
    >>> metric = MeanAbsoluteError()
    >>> metric.update([[0.0], [1.0]], [[1.0], [3.0]])
    >>> metric.result()
    1.5
    """

    default_name = "mean_absolute_error"

    def values(self, y_true, y_pred):
        return mean_absolute_error(y_true, y_pred)


class MeanSquaredError(Metric):
    """The (weighted) mean of (y_pred - y_true)^2 over samples and outputs.

    Parameters
    ----------
    name : str or None
        ``"mean_squared_error"`` when None (``get("mse")`` names it ``"mse"``).

    Examples
    --------
    >>> metric = MeanSquaredError()
    >>> metric.update([[0.0], [1.0]], [[1.0], [3.0]])
    >>> metric.result()
    2.5
    """

    default_name = "mean_squared_error"

    def values(self, y_true, y_pred):
        return mean_squared_error(y_true, y_pred)


class RootMeanSquaredError(Metric):
    """sqrt of the (weighted) mean of (y_pred - y_true)^2 (``keras.metrics.RootMeanSquaredError``).

    Examples
    --------
    >>> rmse = RootMeanSquaredError()
    >>> rmse.update([[0.0], [0.0]], [[3.0], [4.0]])
    >>> round(rmse.result(), 4)
    3.5355
    """

    default_name = "root_mean_squared_error"

    def values(self, y_true, y_pred):
        y_true, y_pred = _rows(y_true, y_pred)
        return (y_pred - y_true) ** 2

    def result(self) -> float:
        return float(np.sqrt(super().result()))


# --- confusion-matrix metrics ------------------------------------------------------------------

_EPSILON = 1e-7  # Keras's backend.epsilon(), which pads AUC's end thresholds
_NEG_INF = -1e10  # Keras's NEG_INF: the threshold used with top_k


def _top_k_only(y_pred, k: int):
    """y_pred with every entry outside each row's k largest set to NEG_INF (Keras's filter)."""
    xp = array_module(y_pred)
    order = xp.argsort(-y_pred, axis=-1, kind="stable")[..., :k]
    keep = xp.zeros(y_pred.shape, dtype=bool)
    xp.put_along_axis(keep, order, True, axis=-1)
    return xp.where(keep, y_pred, _NEG_INF)


def _confusion(
    y_true,
    y_pred,
    thresholds,
    sample_weight=None,
    top_k=None,
    class_id=None,
    multi_label=False,
    label_weights=None,
):
    """Weighted counts (tp, fp, tn, fn), each of shape (T,) or (T, labels) with multi_label.

    A prediction is positive at threshold t when p > t; a label is positive when y != 0.
    """
    xp = array_module(y_pred)
    y_pred = xp.asarray(y_pred, dtype=np.float64)
    y_true = xp.asarray(y_true, dtype=np.float64)
    y_pred, y_true = _same_rank(y_pred, y_true)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true must have the shape of y_pred. Received: "
            f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    weight = xp.ones(y_pred.shape)
    if sample_weight is not None:
        sw = xp.asarray(sample_weight, dtype=np.float64)[..., None]
        _, sw = _same_rank(y_true, sw, expand_rank_1=False)
        weight = xp.broadcast_to(sw, y_pred.shape)
    if top_k is not None:
        y_pred = _top_k_only(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(
                "When class_id is provided, y_pred must be a 2D array with shape "
                f"(num_samples, num_classes). Received: y_pred.shape={y_pred.shape}"
            )
        y_true, y_pred, weight = (a[..., class_id, None] for a in (y_true, y_pred, weight))
    if multi_label:  # one column per label: count over samples only
        flat = lambda a: a.reshape(a.shape[0], -1)
    else:
        flat = lambda a: a.reshape(-1, 1)
        if label_weights is not None:
            weight = weight * xp.asarray(label_weights, dtype=np.float64)
    pred, label, weight = flat(y_pred), flat(y_true) != 0, flat(weight)
    t = xp.asarray(thresholds, dtype=np.float64).reshape(-1, 1, 1)
    above = pred[None] > t  # (T, n, labels)
    counts = [
        (weight * (above & label)).sum(axis=1),
        (weight * (above & ~label)).sum(axis=1),
        (weight * (~above & ~label)).sum(axis=1),
        (weight * (~above & label)).sum(axis=1),
    ]
    return [c if multi_label else c[:, 0] for c in counts]


def _divide_no_nan(a, b):
    b = np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


def _thresholds_arg(thresholds, default: float) -> list[float]:
    if thresholds is None:
        return [default]
    values = [thresholds] if np.ndim(thresholds) == 0 else list(np.asarray(thresholds).ravel())
    for value in values:
        _checks.number_in("thresholds", value, 0.0, 1.0)
    return [float(v) for v in values]


class _PrecisionRecall(Metric):
    """Shared by Precision and Recall: weighted counts at each threshold."""

    direction = "up"
    _counts = ("tp", "fp")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        self.init_thresholds = thresholds
        self.top_k = None if top_k is None else _checks.positive_int("top_k", top_k)
        self.class_id = None if class_id is None else _checks.non_negative_int("class_id", class_id)
        self.thresholds = _thresholds_arg(thresholds, 0.5 if top_k is None else _NEG_INF)
        super().__init__(name, dtype)

    def reset(self) -> None:
        zeros = np.zeros(len(self.thresholds))
        self.true_positives, self.false_positives, self.false_negatives = (
            zeros.copy(),
            zeros.copy(),
            zeros.copy(),
        )

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        tp, fp, _, fn = _confusion(
            y_true, y_pred, self.thresholds, sample_weight, self.top_k, self.class_id
        )
        self.true_positives += to_numpy(tp)
        self.false_positives += to_numpy(fp)
        self.false_negatives += to_numpy(fn)

    def _result(self, wrong):
        result = _divide_no_nan(self.true_positives, self.true_positives + wrong)
        return float(result[0]) if len(self.thresholds) == 1 else result

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_PrecisionRecall):
    """TP / (TP + FP), counting a prediction as positive when p > threshold (Keras's Precision).

    Parameters
    ----------
    thresholds : float, list of float or None
        In [0, 1]; 0.5 when None (without ``top_k``). A list gives one result per threshold.
    top_k : int or None
        Count only each row's k largest predictions as positive.
    class_id : int or None
        Look at this output column only.
    name : str or None
        ``"precision"`` when None.
    dtype : None
        Accepted for Keras compatibility; counts are float64.

    Examples
    --------
    >>> precision = Precision()
    >>> precision.update([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(precision.result(), 4)
    0.6667
    """

    default_name = "precision"

    def result(self):
        return self._result(self.false_positives)


class Recall(_PrecisionRecall):
    """TP / (TP + FN), counting a prediction as positive when p > threshold (Keras's Recall).

    Parameters
    ----------
    thresholds : float, list of float or None
        In [0, 1]; 0.5 when None (without ``top_k``). A list gives one result per threshold.
    top_k : int or None
        Count only each row's k largest predictions as positive.
    class_id : int or None
        Look at this output column only.
    name : str or None
        ``"recall"`` when None.
    dtype : None
        Accepted for Keras compatibility; counts are float64.

    Examples
    --------
    >>> recall = Recall()
    >>> recall.update([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(recall.result(), 4)
    0.6667
    """

    default_name = "recall"

    def result(self):
        return self._result(self.false_negatives)


_CURVES = ("ROC", "PR", "PRGAIN")
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(Metric):
    """Area under the ROC or precision-recall curve by a Riemann sum over thresholds (Keras's AUC).

    The thresholds are ``[-eps, 1/(N-1), ..., (N-2)/(N-1), 1 + eps]`` for
    ``num_thresholds=N`` (or the given ``thresholds`` padded the same way); the curve's points
    are the weighted rates at each. ``summation_method="interpolation"`` uses trapezoids for ROC
    and Davis & Goadrich's interpolation for PR; ``"minoring"``/``"majoring"`` the lower/upper
    Riemann sums.

    Parameters
    ----------
    num_thresholds : int
        Number of thresholds, > 1.
    curve : {"ROC", "PR", "PRGAIN"}
        Which curve.
    summation_method : {"interpolation", "minoring", "majoring"}
        How each interval's height is taken.
    name : str or None
        ``"auc"`` when None.
    dtype : None
        Accepted for Keras compatibility; counts are float64.
    thresholds : list of float or None
        Thresholds in [0, 1] instead of the evenly spaced ones.
    multi_label : bool
        One curve per output column, then their (``label_weights``-weighted) mean; otherwise all
        outputs are pooled.
    num_labels : int or None
        The number of columns (only with ``multi_label``).
    label_weights : list of float or None
        Per-column weights.
    from_logits : bool
        Apply a sigmoid to the predictions first.

    Examples
    --------
    >>> auc = AUC(num_thresholds=3)
    >>> auc.update([0, 0, 1, 1], [0.0, 0.5, 0.3, 0.9])
    >>> round(auc.result(), 4)
    0.75
    """

    default_name = "auc"
    direction = "up"

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        self.curve = _checks.one_of("curve", str(curve).upper(), _CURVES)
        self.summation_method = _checks.one_of(
            "summation_method", str(summation_method).lower(), _SUMMATIONS
        )
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_thresholds_arg(thresholds, 0.5))
            self.num_thresholds = len(inner) + 2
        else:
            self.num_thresholds = _checks.int_at_least("num_thresholds", num_thresholds, 2)
            n = self.num_thresholds
            inner = [(i + 1) * 1.0 / (n - 1) for i in range(n - 2)]
        self._thresholds = np.array([0.0 - _EPSILON, *inner, 1.0 + _EPSILON])
        self.multi_label = bool(multi_label)
        if num_labels is not None and not self.multi_label:
            raise ValueError(
                "`num_labels` is needed only when `multi_label` is True. "
                f"Received: num_labels={num_labels!r}, multi_label={multi_label!r}"
            )
        self.num_labels = (
            None if num_labels is None else _checks.positive_int("num_labels", num_labels)
        )
        self.label_weights = None if label_weights is None else np.asarray(label_weights, float)
        self.from_logits = bool(from_logits)
        super().__init__(name, dtype)

    @property
    def thresholds(self) -> list[float]:
        """Every threshold, the padded ends included."""
        return list(self._thresholds)

    def reset(self) -> None:
        shape = (
            (self.num_thresholds, self.num_labels)
            if self.multi_label and self.num_labels
            else (self.num_thresholds,)
        )
        self.true_positives, self.false_positives, self.true_negatives, self.false_negatives = (
            np.zeros(shape) for _ in range(4)
        )
        self._fresh = True

    def update(self, y_true, y_pred, sample_weight=None) -> None:
        xp = array_module(y_pred)
        y_pred = xp.asarray(y_pred, dtype=np.float64)
        if self.multi_label and y_pred.ndim != 2:
            raise ValueError(
                "`y_pred` must have rank 2 when `multi_label=True`. "
                f"Received: y_pred.shape={y_pred.shape}"
            )
        if self.from_logits:
            y_pred = 1.0 / (1.0 + xp.exp(-y_pred))
        counts = _confusion(
            y_true,
            y_pred,
            self._thresholds,
            sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
        )
        if self._fresh and self.multi_label:
            self.true_positives, self.false_positives, self.true_negatives, self.false_negatives = (
                np.zeros(counts[0].shape) for _ in range(4)
            )
        self._fresh = False
        for total, count in zip(
            (self.true_positives, self.false_positives, self.true_negatives, self.false_negatives),
            counts,
        ):
            total += to_numpy(count)

    def _by_label(self, terms):
        if not self.multi_label:
            return float(terms.sum())
        by_label = terms.sum(axis=0)
        if self.label_weights is None:
            return float(by_label.mean())
        return float(
            _divide_no_nan((by_label * self.label_weights).sum(), self.label_weights.sum())
        )

    def _interpolate_pr_auc(self):
        """Davis & Goadrich (2006): precision interpolated as P = TP + FP varies linearly."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increments = _divide_no_nan(
            slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0)
        )
        return self._by_label(increments)

    def result(self) -> float:
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = (
            self.true_positives,
            self.false_positives,
            self.true_negatives,
            self.false_negatives,
        )
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = np.where(tp == 0, 0.0, 1.0 - scale * _divide_no_nan(fn, tp))
            precision_gain = np.where(tp == 0, 1.0, 1.0 - scale * _divide_no_nan(fp, tp))
            x, y = np.maximum(recall_gain, 0.0), precision_gain
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._by_label((x[:-1] - x[1:]) * heights)

    def get_config(self) -> dict:
        config = {
            "name": self.name,
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self.from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


_REGISTRY = Registry("metric", Metric)
for _cls in (
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    MeanAbsoluteError,
    MeanSquaredError,
    RootMeanSquaredError,
    Precision,
    Recall,
    AUC,
):
    _REGISTRY.add(_cls, _cls.default_name)
_REGISTRY.add(AutoAccuracy, "accuracy")
_REGISTRY.add(functools.partial(AutoAccuracy, name="acc"), "acc")
_REGISTRY.add(Accuracy)  # deserializable; the string "accuracy" means AutoAccuracy (see get)
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


def get(identifier, loss=None) -> Metric | None:
    """A ``Metric`` from a name, an instance (returned as it is), a class, a serialized dict, or
    a plain function ``f(y_true, y_pred)`` (wrapped in ``MeanMetricWrapper``, named
    ``f.__name__``); ``None`` gives None, as in Keras.

    Names: ``"accuracy"``/``"acc"``, ``"mae"``, ``"mse"``, ``"binary_accuracy"``,
    ``"root_mean_squared_error"``, ``"precision"``, ``"recall"``, ``"auc"``, ... (any case).
    ``"accuracy"`` becomes the accuracy the ``loss`` implies (binary for BinaryCrossentropy,
    sparse for SparseCategoricalCrossentropy, categorical for CategoricalCrossentropy), named
    as asked; for other losses it decides from the output width at the first update.

    Parameters
    ----------
    identifier : str, dict, type or Metric
        A name, an instance, a class, a ``serialize`` dict or a function
        ``f(y_true, y_pred)``; None gives None.
    loss : Loss, optional
        The compiled loss, which decides what ``"accuracy"`` means.

    Returns
    -------
    Metric or None
        A Metric ready to use.

    Examples
    --------
    >>> get("auc").name, get(None)
    ('auc', None)
    >>> def worst(y_true, y_pred):
    ...     return np.max(np.abs(np.subtract(y_true, y_pred)), axis=-1)
    >>> get(worst).name
    'worst'
    """
    if identifier is None:
        return None
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        cls = _ACCURACY_FOR_LOSS.get(_loss_key(loss), AutoAccuracy)
        return cls(name=identifier.lower())
    if callable(identifier) and not isinstance(identifier, (Metric, type)):
        return MeanMetricWrapper(identifier)
    return _REGISTRY.get(identifier)


def serialize(metric: Metric) -> dict:
    """``{"class_name": ..., "config": ...}``: JSON-ready (state is not saved).

    Parameters
    ----------
    metric : Metric
        The object to describe.

    Returns
    -------
    dict
        ``{"class_name": ..., "config": {...}}``, JSON-ready.

    Examples
    --------
    >>> serialize(Precision(thresholds=0.3))["config"]["thresholds"]
    0.3
    """
    return _REGISTRY.serialize(get(metric))


def deserialize(config: dict, custom_objects: dict | None = None) -> Metric:
    """The inverse of ``serialize`` (a fresh metric with no state).

    Parameters
    ----------
    config : dict
        A ``serialize`` result.
    custom_objects : dict, optional
        Your own classes by class name.

    Returns
    -------
    Metric
        A fresh object built from ``config``.

    Examples
    --------
    >>> deserialize({"class_name": "AUC", "config": {"num_thresholds": 50}}).num_thresholds
    50
    """
    return _REGISTRY.deserialize(config, custom_objects)
