"""Losses with their gradients, Keras 3 names and reduction, on NumPy or CuPy arrays.

Reduction (Keras ``"sum_over_batch_size"``): each sample's loss is reduced over the last axis,
then the samples are averaged, so with ``n`` samples of width ``d``:

- MeanSquaredError:       L = 1/(n d) sum (p - y)^2,               dL/dp = 2 (p - y) / (n d)
- MeanAbsoluteError:      L = 1/(n d) sum |p - y|,                 dL/dp = sign(p - y) / (n d)
- BinaryCrossentropy:     L = -1/(n d) sum y log p + (1 - y) log(1 - p),  p clipped to [eps, 1-eps]
                          from logits z: L = 1/(n d) sum max(z, 0) - z y + log(1 + e^-|z|),
                          dL/dz = (sigmoid(z) - y) / (n d)
- CategoricalCrossentropy: L = -1/n sum_i sum_k y_ik log q_ik, q = clip(p / sum_k p, eps, 1-eps)
                          from logits: L = 1/n sum_i (sum_k y_ik) logsumexp(z_i) - y_i . z_i,
                          dL/dz = (softmax(z) sum_k y - y) / n
- SparseCategoricalCrossentropy: the same with integer labels instead of one-hot rows.

``eps = 1e-7`` as in Keras. Probability gradients are the exact derivatives of the clipped value
(zero where the clip is active, as Keras computes them); prefer ``from_logits=True`` for stability.
"""

from __future__ import annotations

import functools

import numpy as np

from . import kernels
from ._registry import Registry
from .backend import array_module, to_numpy

__all__ = [
    "EPSILON",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
    "deserialize",
    "get",
    "serialize",
]

EPSILON = 1e-7  # Keras's backend.epsilon(): probabilities are clipped to [EPSILON, 1 - EPSILON]


# --- pure math: each returns the mean loss and writes dL/dp into ``out`` ------------------------

def _squared_error(y, p, out) -> float:
    """L = mean((p - y)^2);  out = 2 (p - y) / N."""
    xp = array_module(p)
    xp.subtract(p, y, out=out)
    flat = out.reshape(-1)
    value = float(xp.dot(flat, flat)) / out.size
    out *= 2.0 / out.size
    return value


def _absolute_error(y, p, out) -> float:
    """L = mean(|p - y|);  out = sign(p - y) / N."""
    xp = array_module(p)
    xp.subtract(p, y, out=out)
    value = float(xp.abs(out).sum()) / out.size
    xp.sign(out, out=out)
    out *= 1.0 / out.size
    return value


def _clip_mask(xp, q):
    """(clip(q, eps, 1 - eps), 1 where the clip is inactive else 0): d clip(q)/dq."""
    q_clipped = xp.maximum(q, EPSILON)  # two ufunc passes: cheaper than clip's dispatch per step
    xp.minimum(q_clipped, 1.0 - EPSILON, out=q_clipped)
    return q_clipped, (q_clipped == q)


@functools.lru_cache(maxsize=8)
def _row_indices(n: int, xp):
    """0..n-1 on the device of ``xp`` (cached; never written): the row index of every per-step
    label gather."""
    return xp.arange(n)


def _binary_crossentropy(y, p, out) -> float:
    """L = -mean(y log q + (1-y) log(1-q)), q = clip(p);  out = [q == p] (q - y) / (q (1-q)) / N."""
    xp = array_module(p)
    q, inside = _clip_mask(xp, p)
    value = -float((y * xp.log(q) + (1 - y) * xp.log1p(-q)).sum()) / p.size
    xp.subtract(q, y, out=out)
    out /= q * (1 - q)
    out *= inside
    out *= 1.0 / p.size
    return value


def _binary_crossentropy_logits(y, z, out) -> float:
    """L = mean(max(z, 0) - z y + log1p(e^-|z|));  out = (sigmoid(z) - y) / N."""
    xp = array_module(z)
    value = float((xp.maximum(z, 0) - z * y + xp.log1p(xp.exp(-xp.abs(z)))).sum()) / z.size
    kernels.activation_forward("sigmoid", z, out=out)
    out -= y
    out *= 1.0 / z.size
    return value


def _categorical_crossentropy(y, p, out) -> float:
    """L = -1/n sum y log q, q = clip(p / s), s = row sums of p;  out = (g - (g . q)) / s / n,
    g = -[q inside clip] y / q (the chain rule through the normalisation p -> p / s)."""
    xp = array_module(p)
    n = p.size // p.shape[-1]
    s = p.sum(axis=-1, keepdims=True)
    q_raw = p / s
    q, inside = _clip_mask(xp, q_raw)
    value = -float((y * xp.log(q)).sum()) / n
    xp.divide(y, q, out=out)
    out *= inside
    out *= -1.0
    out -= (out * q_raw).sum(axis=-1, keepdims=True)
    out /= s * n
    return value


def _log_sum_exp(z):
    """logsumexp(z) along the last axis, keepdims: m + log sum_k e^(z_k - m), m = row max."""
    xp = array_module(z)
    m = z.max(axis=-1, keepdims=True)
    return m + xp.log(xp.exp(z - m).sum(axis=-1, keepdims=True))


def _categorical_crossentropy_logits(y, z, out) -> float:
    """L = 1/n sum_i (sum_k y_ik) lse(z_i) - y_i . z_i;  out = (softmax(z) sum_k y - y) / n."""
    n = z.size // z.shape[-1]
    y_total = y.sum(axis=-1, keepdims=True)
    value = float((y_total * _log_sum_exp(z)).sum() - (y * z).sum()) / n
    kernels.activation_forward("softmax", z, out=out)
    out *= y_total
    out -= y
    out *= 1.0 / n
    return value


def _sparse_categorical_crossentropy(labels, p, out) -> float:
    """The categorical form with one-hot rows: r_i = p_i,label / s_i, q_i = clip(r_i),
    L = -1/n sum_i log q_i;  out_ik = c_i ([k == label_i] - r_i), c_i = -[q_i == r_i] / (q_i s_i n).
    """
    xp = array_module(p)
    n = p.shape[0]
    rows = _row_indices(n, xp)
    s = p.sum(axis=-1)
    q_raw = p[rows, labels] / s
    q, inside = _clip_mask(xp, q_raw)
    value = -float(xp.log(q).sum()) / n
    c = -(inside / (q * s * n))
    out[...] = (-c * q_raw)[:, None]
    out[rows, labels] += c
    return value


def _sparse_categorical_crossentropy_logits(labels, z, out) -> float:
    """L = 1/n sum_i lse(z_i) - z_i,label;  out = (softmax(z) - onehot(label)) / n."""
    xp = array_module(z)
    n = z.shape[0]
    rows = _row_indices(n, xp)
    value = float((_log_sum_exp(z)[:, 0] - z[rows, labels]).sum()) / n
    kernels.activation_forward("softmax", z, out=out)
    out[rows, labels] -= 1.0
    out *= 1.0 / n
    return value


# --- fused with the output activation: dL/dz for z the pre-activation --------------------------
# Softmax + cross-entropy (and sigmoid + binary cross-entropy) have the simple combined gradient
# (p - y) / n. Keras's TensorFlow backend fuses the same pairs. The value is still the clipped
# cross-entropy of the probabilities; the gradient differs from the unfused chain rule only where
# the clip is active (p below 1e-7 for the true class), where it keeps pushing instead of
# vanishing.

def _fused_sparse_softmax(labels, p, out) -> float:
    """L = -1/n sum_i log clip(p_i,label);  out = (p - onehot(label)) / n."""
    xp = array_module(p)
    n = p.shape[0]
    rows = _row_indices(n, xp)
    q, _ = _clip_mask(xp, p[rows, labels])
    value = -float(xp.log(q).sum()) / n
    xp.multiply(p, 1.0 / n, out=out)
    out[rows, labels] -= 1.0 / n
    return value


def _fused_categorical_softmax(y, p, out) -> float:
    """L = -1/n sum y log clip(p);  out = (p sum_k y - y) / n (sum_k y = 1 for one-hot rows)."""
    xp = array_module(p)
    n = p.size // p.shape[-1]
    q, _ = _clip_mask(xp, p)
    value = -float((y * xp.log(q)).sum()) / n
    xp.multiply(p, y.sum(axis=-1, keepdims=True), out=out)
    out -= y
    out *= 1.0 / n
    return value


def _fused_binary_sigmoid(y, p, out) -> float:
    """L = -mean(y log q + (1-y) log(1-q)), q = clip(p);  out = (p - y) / N."""
    xp = array_module(p)
    q, _ = _clip_mask(xp, p)
    value = -float((y * xp.log(q) + (1 - y) * xp.log1p(-q)).sum()) / p.size
    xp.subtract(p, y, out=out)
    out *= 1.0 / p.size
    return value


# --- target validation (once, before training) -------------------------------------------------

def _check_output_dim(output_dim) -> int:
    if isinstance(output_dim, bool) or not isinstance(output_dim, (int, np.integer)) \
            or output_dim < 1:
        raise ValueError(f"output_dim must be a positive integer (the model's output width). "
                         f"Received: output_dim={output_dim!r}")
    return int(output_dim)


def _dense_targets(y, output_dim, hint: str = "", unit_interval: bool = False) -> np.ndarray:
    """y as a float array of shape (n, output_dim); (n,) is accepted when output_dim == 1."""
    output_dim = _check_output_dim(output_dim)
    y = np.asarray(to_numpy(y))
    if y.dtype.kind not in "biuf":
        raise ValueError(f"y must hold numbers. Received: y.dtype={y.dtype}")
    if y.ndim == 1 and output_dim == 1:
        y = y.reshape(-1, 1)
    if y.ndim != 2 or y.shape[1] != output_dim:
        raise ValueError(f"y must have shape (n, {output_dim}) to match the model's output width "
                         f"{output_dim}{hint}. Received: y.shape={y.shape}")
    y = y if y.dtype.kind == "f" else y.astype(np.float32)
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite; drop or impute the rows with NaN or inf. "
                         f"Received: {int(np.sum(~np.isfinite(y)))} non-finite values")
    if unit_interval and y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"y must hold probabilities in [0, 1] for this loss{hint}. "
                         f"Received: values in [{y.min()}, {y.max()}]")
    return y


def _sparse_targets(y, output_dim) -> np.ndarray:
    """y as int64 labels of shape (n,) in [0, output_dim); (n,) or (n, 1) integer-valued input."""
    output_dim = _check_output_dim(output_dim)
    y = np.asarray(to_numpy(y))
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise ValueError(f"y must be integer class labels of shape (n,) or (n, 1) for "
                         f"SparseCategoricalCrossentropy (use CategoricalCrossentropy for one-hot "
                         f"rows). Received: y.shape={y.shape}")
    if y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0)):
        raise ValueError(f"y must hold integer class labels. Received: y.dtype={y.dtype} with "
                         f"values such as {y[:3].tolist()}")
    if y.size and (y.min() < 0 or y.max() >= output_dim):
        raise ValueError(f"y must hold class labels in [0, {output_dim}) for a model with "
                         f"{output_dim} outputs. Received: labels in [{y.min()}, {y.max()}]")
    return y.astype(np.int64)


# --- loss objects ------------------------------------------------------------------------------

class Loss:
    """Base class: ``loss(y_true, y_pred) -> float`` and ``value_and_grad`` for training.

    Subclasses set ``default_name`` and implement ``_math(y_true, y_pred, out) -> float``.
    """

    default_name = "loss"

    def __init__(self, name: str | None = None):
        self.name = self.default_name if name is None else name

    def __call__(self, y_true, y_pred) -> float:
        """The mean loss over the batch (Keras ``sum_over_batch_size``)."""
        return self.value_and_grad(y_true, y_pred)[0]

    def value_and_grad(self, y_true, y_pred, grad_out=None):
        """(mean loss, dL/dy_pred); the gradient is written into ``grad_out`` when given."""
        y_pred = _as_float(y_pred)
        y_true = self._align(y_true, y_pred)
        out = array_module(y_pred).empty_like(y_pred) if grad_out is None else grad_out
        return self._math(y_true, y_pred, out), out

    def check_targets(self, y, output_dim: int) -> np.ndarray:
        """Validate targets once before training; returns them as ``value_and_grad`` wants."""
        return _dense_targets(y, output_dim)

    def _align(self, y_true, y_pred):
        """y_true on y_pred's device, dtype and shape ((n,) is reshaped to (n, 1))."""
        y_true = array_module(y_pred).asarray(y_true)
        if y_true.shape != y_pred.shape:
            if y_true.size != y_pred.size:
                raise ValueError(f"y_true and y_pred must have the same shape for {self.name}. "
                                 f"Received: y_true.shape={y_true.shape}, "
                                 f"y_pred.shape={y_pred.shape}")
            y_true = y_true.reshape(y_pred.shape)
        return y_true.astype(y_pred.dtype, copy=False)

    def _math(self, y_true, y_pred, out) -> float:
        raise NotImplementedError

    #: the output activation whose gradient this loss can fold into its own (None: none)
    fused_activation: str | None = None

    def value_and_fused_grad(self, y_true, y_pred, grad_out=None):
        """(mean loss, dL/dz) where y_pred = act(z) with act = ``fused_activation``: the loss
        and the activation's backward in one short pass."""
        y_pred = _as_float(y_pred)
        y_true = self._align(y_true, y_pred)
        out = array_module(y_pred).empty_like(y_pred) if grad_out is None else grad_out
        return self._fused_math(y_true, y_pred, out), out

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _as_float(x):
    xp = array_module(x)
    x = xp.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float32)


class MeanSquaredError(Loss):
    """L = mean((y_pred - y_true)^2) over all samples and outputs."""

    default_name = "mean_squared_error"

    def _math(self, y_true, y_pred, out) -> float:
        return _squared_error(y_true, y_pred, out)


class MeanAbsoluteError(Loss):
    """L = mean(|y_pred - y_true|) over all samples and outputs."""

    default_name = "mean_absolute_error"

    def _math(self, y_true, y_pred, out) -> float:
        return _absolute_error(y_true, y_pred, out)


class _ProbabilisticLoss(Loss):
    """A cross-entropy on probabilities or, with ``from_logits=True``, on raw scores."""

    def __init__(self, from_logits: bool = False, name: str | None = None):
        super().__init__(name)
        if not isinstance(from_logits, (bool, np.bool_)):
            raise TypeError(f"from_logits must be True or False. Received: "
                             f"from_logits={from_logits!r}")
        self.from_logits = bool(from_logits)
        if self.from_logits:
            self.fused_activation = None  # the outputs are already the pre-activations

    def get_config(self) -> dict:
        return {"name": self.name, "from_logits": self.from_logits}


class BinaryCrossentropy(_ProbabilisticLoss):
    """L = -mean(y log p + (1 - y) log(1 - p)); p = sigmoid(y_pred) when ``from_logits``."""

    default_name = "binary_crossentropy"
    fused_activation = "sigmoid"
    _fused_math = staticmethod(_fused_binary_sigmoid)

    def check_targets(self, y, output_dim: int) -> np.ndarray:
        return _dense_targets(y, output_dim, unit_interval=True)

    def _math(self, y_true, y_pred, out) -> float:
        math = _binary_crossentropy_logits if self.from_logits else _binary_crossentropy
        return math(y_true, y_pred, out)


class CategoricalCrossentropy(_ProbabilisticLoss):
    """L = -1/n sum_i sum_k y_ik log p_ik for one-hot (or soft) targets y of shape (n, classes)."""

    default_name = "categorical_crossentropy"
    fused_activation = "softmax"
    _fused_math = staticmethod(_fused_categorical_softmax)

    def check_targets(self, y, output_dim: int) -> np.ndarray:
        hint = (" (one-hot rows; for integer labels use SparseCategoricalCrossentropy)")
        return _dense_targets(y, output_dim, hint=hint, unit_interval=True)

    def _math(self, y_true, y_pred, out) -> float:
        math = _categorical_crossentropy_logits if self.from_logits else _categorical_crossentropy
        return math(y_true, y_pred, out)


class SparseCategoricalCrossentropy(_ProbabilisticLoss):
    """L = -1/n sum_i log p_i,label_i for integer labels of shape (n,) or (n, 1)."""

    default_name = "sparse_categorical_crossentropy"
    fused_activation = "softmax"
    _fused_math = staticmethod(_fused_sparse_softmax)

    def check_targets(self, y, output_dim: int) -> np.ndarray:
        return _sparse_targets(y, output_dim)

    def _align(self, y_true, y_pred):
        labels = array_module(y_pred).asarray(y_true).reshape(-1)
        if y_pred.ndim != 2 or labels.shape[0] != y_pred.shape[0]:
            raise ValueError(f"y_true must hold one integer label per row of y_pred (n, classes)."
                             f" Received: {labels.shape[0]} labels, y_pred.shape={y_pred.shape}")
        return labels if labels.dtype.kind in "iu" else labels.astype(np.int64)

    def _math(self, y_true, y_pred, out) -> float:
        if self.from_logits:
            return _sparse_categorical_crossentropy_logits(y_true, y_pred, out)
        return _sparse_categorical_crossentropy(y_true, y_pred, out)


_REGISTRY = Registry("loss", Loss)
_REGISTRY.add(MeanSquaredError, "mse", "mean_squared_error", "meansquarederror")
_REGISTRY.add(MeanAbsoluteError, "mae", "mean_absolute_error", "meanabsoluteerror")
_REGISTRY.add(BinaryCrossentropy, "binary_crossentropy", "binarycrossentropy")
_REGISTRY.add(CategoricalCrossentropy, "categorical_crossentropy", "categoricalcrossentropy")
_REGISTRY.add(SparseCategoricalCrossentropy, "sparse_categorical_crossentropy",
              "sparsecategoricalcrossentropy")


def get(identifier) -> Loss:
    """A ``Loss`` from a name (``"mse"``, ``"binary_crossentropy"``, ...), a class, an instance or
    a serialized dict. Unknown names raise ValueError listing the valid ones."""
    return _REGISTRY.get(identifier)


def serialize(loss: Loss) -> dict:
    """``{"class_name": ..., "config": ...}``: JSON-ready."""
    return _REGISTRY.serialize(get(loss))


def deserialize(config: dict, custom_objects: dict | None = None) -> Loss:
    """The loss a ``serialize`` dict describes (``custom_objects`` for your own classes)."""
    return _REGISTRY.deserialize(config, custom_objects)
