"""The small named steps around ``Sequential.fit``: checking data, weighting samples, splitting
off validation data, and drawing batches into preallocated buffers.

Nothing here knows the model's layers; ``models.Sequential`` strings these together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _checks, backend, kernels

__all__ = [
    "Batches",
    "Dataset",
    "as_data",
    "as_sample_weight",
    "check_lengths",
    "class_weight_to_sample_weight",
    "split_validation",
    "targets",
]


def as_data(x, name: str, dtype, features: tuple | None = None):
    """``x`` checked as a batch of samples: numeric, finite, non-empty, of per-sample shape
    ``features`` when given (a 1-D ``x`` is one feature per sample when ``features == (1,)``).

    Parameters
    ----------
    x : array_like
        The samples, shape ``(n, *features)``.
    name : str
        The argument's name for error messages (``"x"``).
    dtype : str or numpy.dtype
        The dtype of the result.
    features : tuple of int, optional
        The per-sample shape the model expects; None accepts any.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, *features)``, of ``dtype``.

    Examples
    --------
    >>> as_data([[1, 2]], "x", "float32", (2,)).dtype
    dtype('float32')
    """
    if backend.is_cupy_array(x):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:
            raise TypeError(
                f"{name} must be an array-like of numbers. Received: {type(x).__name__}"
            ) from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers. Received: dtype {arr.dtype}")
    if arr.ndim == 1 and features == (1,):
        arr = arr.reshape(-1, 1)
    if arr.ndim < 2:
        raise ValueError(f"{name} must be 2-D (samples, features). Received: shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 samples). Pass at least one sample.")
    if features is not None and tuple(arr.shape[1:]) != tuple(features):
        expected = features[0] if len(features) == 1 else features
        got = arr.shape[1] if arr.ndim == 2 else arr.shape[1:]
        raise ValueError(
            f"{name} has {got} features but the model expects {expected}. "
            f"Received: {name}.shape={arr.shape}"
        )
    xp = backend.array_module(arr)
    if not bool(xp.isfinite(arr).all()):
        raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first.")
    return arr.astype(dtype, copy=False)


def targets(loss, y, output_dim, dtype):
    """Targets checked by the loss, floats cast once to the model dtype (no per-step casts).

    Parameters
    ----------
    loss : Loss
        The compiled loss, which checks the targets.
    y : array_like
        Targets, shape ``(n,)`` or ``(n, output_dim)``.
    output_dim : int
        The model's output width.
    dtype : str or numpy.dtype
        The model's dtype.

    Returns
    -------
    numpy.ndarray
        The checked targets (labels stay integers), e.g. shape ``(n, output_dim)``.

    Examples
    --------
    >>> from nastoolkit.losses import MeanSquaredError
    >>> targets(MeanSquaredError(), [1, 2], 1, "float32").shape
    (2, 1)
    """
    y = loss.check_targets(y, output_dim)
    return y.astype(dtype, copy=False) if y.dtype.kind == "f" else y


def check_lengths(x, y, x_name="x", y_name="y"):
    """Same number of samples in both, else a ValueError naming them.

    Parameters
    ----------
    x, y : array_like
        Arrays whose first axis counts samples.
    x_name, y_name : str
        Their names for the error message.

    Returns
    -------
    None

    Examples
    --------
    >>> check_lengths(np.zeros((2, 1)), [0, 1])
    """
    if len(x) != len(y):
        raise ValueError(
            f"{x_name} and {y_name} must have the same number of samples. "
            f"Received: {len(x)} and {len(y)}"
        )


def as_sample_weight(sample_weight, n: int, dtype, name="sample_weight"):
    """Per-sample weights as a float vector of length ``n`` (None stays None).

    Parameters
    ----------
    sample_weight : array_like or None
        One non-negative weight per sample.
    n : int
        The number of samples.
    dtype : str or numpy.dtype
        The dtype of the result.
    name : str, default "sample_weight"
        The argument's name for error messages.

    Returns
    -------
    numpy.ndarray or None
        Shape ``(n,)``.

    Examples
    --------
    >>> as_sample_weight([1, 2], 2, "float64")
    array([1., 2.])
    """
    if sample_weight is None:
        return None
    w = np.asarray(
        backend.to_numpy(sample_weight) if backend.is_cupy_array(sample_weight) else sample_weight
    )
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers. Received: dtype {w.dtype}")
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.shape != (n,):
        raise ValueError(
            f"{name} must have one weight per sample, shape ({n},). "
            f"Received: {name}.shape={w.shape}"
        )
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"{name} must be finite and non-negative. Received: min {w.min()}")
    return w.astype(dtype)


def class_weight_to_sample_weight(y, class_weight: dict, dtype="float32"):
    """Per-sample weights ``class_weight[class of y_i]`` (1.0 for classes not listed), as Keras:
    the class of a one-hot (or probability) row is its argmax, of a label its rounded value.

    Parameters
    ----------
    y : array_like
        Labels, shape ``(n,)`` or ``(n, 1)``, or one-hot rows, shape ``(n, classes)``.
    class_weight : dict
        Weight by class index.
    dtype : str or numpy.dtype, default "float32"
        The dtype of the result.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``.

    Examples
    --------
    >>> class_weight_to_sample_weight(np.array([0, 1, 1]), {1: 3.0}, "float64")
    array([1., 3., 3.])
    """
    if not isinstance(class_weight, dict):
        raise TypeError(
            "class_weight must be a dict {class index: weight}. "
            f"Received: {type(class_weight).__name__}"
        )
    labels = np.asarray(backend.to_numpy(y) if backend.is_cupy_array(y) else y)
    if labels.ndim > 1:
        labels = labels.argmax(axis=-1) if labels.shape[-1] != 1 else labels[..., 0]
    labels = np.round(labels).astype(np.int64)
    weights = np.ones(labels.shape[0], dtype)
    for cls, weight in class_weight.items():
        weights[labels == int(cls)] = _checks.non_negative(f"class_weight[{cls!r}]", weight)
    return weights


@dataclass
class Dataset:
    """Checked training arrays: inputs ``x``, targets ``y``, optional sample weights ``w``.

    Examples
    --------
    >>> len(Dataset(np.zeros((3, 2)), np.zeros(3)).take(slice(1, None)))
    2
    """

    x: object
    y: object
    w: object = None

    def __len__(self):
        return len(self.x)

    def take(self, rows: slice) -> Dataset:
        return Dataset(self.x[rows], self.y[rows], None if self.w is None else self.w[rows])

    def to(self, xp) -> Dataset:
        return Dataset(
            xp.asarray(self.x), xp.asarray(self.y), None if self.w is None else xp.asarray(self.w)
        )


def split_validation(data: Dataset, validation_split: float) -> tuple[Dataset, Dataset]:
    """The first (1 - split) of the samples for training, the last for validation (as Keras:
    no shuffling before the split).

    Parameters
    ----------
    data : Dataset
        The samples to split.
    validation_split : float
        The fraction for validation, in (0, 1).

    Returns
    -------
    tuple of Dataset
        ``(train, validation)``.

    Examples
    --------
    >>> train, val = split_validation(Dataset(np.zeros((10, 2)), np.zeros(10)), 0.2)
    >>> len(train), len(val)
    (8, 2)
    """
    split = int(len(data) * (1.0 - validation_split))
    if split == 0 or split == len(data):
        raise ValueError(
            f"validation_split={validation_split} leaves an empty split of {len(data)} samples."
        )
    return data.take(slice(None, split)), data.take(slice(split, None))


class Batches:
    """An epoch's batches of ``data`` gathered into buffers allocated once.

    ``epoch(rng)`` yields ``(x, y, w)`` views of the buffers (``w`` None when unweighted), in a
    fresh permutation when ``shuffle``; each batch is overwritten by the next.

    Examples
    --------
    >>> data = Dataset(np.arange(10.0).reshape(5, 2), np.zeros((5, 1)))
    >>> batches = Batches(data, 2, shuffle=False, xp=np, dtype="float64")
    >>> [x[:, 0].tolist() for x, y, w in batches.epoch(np.random.default_rng(0))]
    [[0.0, 2.0], [4.0, 6.0], [8.0]]
    """

    def __init__(self, data: Dataset, batch_size: int, shuffle: bool, xp, dtype):
        self.data, self.shuffle, self.xp = data, shuffle, xp
        self.size = min(batch_size, len(data))
        self.x = xp.empty((self.size, *data.x.shape[1:]), dtype)
        self.y = xp.empty((self.size, *data.y.shape[1:]), data.y.dtype)
        self.w = None if data.w is None else xp.empty(self.size, data.w.dtype)
        self._gather_rows = kernels.implementation(self.x).gather_rows  # the device's, once

    @property
    def steps(self) -> int:
        return -(-len(self.data) // self.size)

    def epoch(self, rng: np.random.Generator):
        data, n = self.data, len(self.data)
        order = self.xp.asarray(rng.permutation(n) if self.shuffle else np.arange(n))
        gather_x, gather_y = self._gather_for(data.x), self._gather_for(data.y)
        for start in range(0, n, self.size):
            idx = order[start : start + self.size]
            m = len(idx)
            yield (
                gather_x(data.x, idx, self.x[:m]),
                gather_y(data.y, idx, self.y[:m]),
                None if self.w is None else self._gather_flat(data.w, idx, self.w[:m]),
            )

    def _gather_for(self, src):
        """The row gather for ``src``, chosen once per epoch rather than once per batch."""
        return self._gather_rows if src.ndim == 2 else self._gather_flat

    @staticmethod
    def _gather_flat(src, idx, out):
        # N-D samples (Flatten) and weight vectors: gather through a 2-D view of the rows
        kernels.gather_rows(src.reshape(len(src), -1), idx, out=out.reshape(len(out), -1))
        return out
