"""Losses with their gradients, Keras 3 names, reduction and sample weights, on NumPy or CuPy.

Every loss first computes one value per sample ``l_i`` (Keras's ``call``), reducing its last
axis: the mean over it for MeanSquaredError, MeanAbsoluteError, Huber, LogCosh and
BinaryCrossentropy, the sum over it for the categorical cross-entropies and KLDivergence. Then,
with sample weights ``w_i`` (all ones when none are given) and ``n`` samples, ``reduction`` gives

- ``"sum_over_batch_size"`` (default) and ``"mean"``: L = 1/n sum_i w_i l_i
- ``"sum"``:                                       L = sum_i w_i l_i
- ``"mean_with_sample_weight"``:                    L = sum_i w_i l_i / sum_i w_i
- ``"none"`` or None:                              the vector w_i l_i (no aggregation)

exactly as Keras 3's ``reduce_weighted_values``. ``value_and_grad`` returns the reduced value and
dL/dy_pred (for ``"none"``: row i holds d(w_i l_i)/dy_pred_i, the gradient of the vector's sum).

Per-sample losses, with p = y_pred, y = y_true (after label smoothing), d = last-axis width:

================================  =========================================================
MeanSquaredError                  1/d sum_k (p_k - y_k)^2
MeanAbsoluteError                 1/d sum_k |p_k - y_k|
Huber(delta)                      1/d sum_k (e^2 / 2 if |e| <= delta else delta |e| - delta^2 / 2),
                                  e = p_k - y_k
LogCosh                           1/d sum_k log cosh(p_k - y_k)
KLDivergence                      sum_k t_k log(t_k / q_k), t = clip(y, eps, 1), q = clip(p, eps, 1)
BinaryCrossentropy                -1/d sum_k y_k log q_k + (1 - y_k) log(1 - q_k), q = clip(p)
CategoricalCrossentropy           -sum_k y_k log q_k, q = clip(p / sum_k p_k)
SparseCategoricalCrossentropy     -log q_label (integer labels instead of one-hot rows)
================================  =========================================================

``clip`` is to [eps, 1 - eps] with ``eps = 1e-7`` as in Keras; with ``from_logits=True`` the
cross-entropies take raw scores (sigmoid or softmax inside, computed without overflow).
Probability gradients are the exact derivatives of the clipped values (zero where a clip is
active, as Keras computes them); prefer ``from_logits=True`` for stability. ``label_smoothing``
replaces y by ``y (1 - s) + s / 2`` (binary) or ``y (1 - s) + s / classes`` (categorical).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import _checks, kernels
from ._registry import Registry
from .backend import array_module, to_numpy

__all__ = [
    "EPSILON",
    "REDUCTIONS",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
    "binary_crossentropy",
    "categorical_crossentropy",
    "deserialize",
    "get",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_squared_error",
    "serialize",
    "sparse_categorical_crossentropy",
]

EPSILON = 1e-7  # Keras's backend.epsilon(): probabilities are clipped to [EPSILON, 1 - EPSILON]
#: the ``reduction`` values Keras 3.15 accepts
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)
_LOG_2 = math.log(2.0)


# --- pure math ----------------------------------------------------------------------------------
# Each function returns the per-sample totals t (shape y_pred.shape[:-1]) before the last-axis
# mean, and writes ``scale * dt/dp`` into ``out`` (``scale`` folds the reduction into the one
# pass the gradient needs anyway). With ``rows=False`` it may return sum(t) as a float instead,
# where that saves a pass (the seed model's MSE step).


def _row_sum_of_squares(xp, a):
    """sum_k a[..., k]^2: one ufunc on NumPy >= 2 (vecdot), a product and a sum elsewhere."""
    return xp.vecdot(a, a) if hasattr(xp, "vecdot") else (a * a).sum(axis=-1)


def _squared_error(y, p, out, scale, rows=True):
    """t = sum_k (p - y)^2;  dt/dp = 2 (p - y)."""
    xp = array_module(p)
    xp.subtract(p, y, out=out)
    if rows:
        t = _row_sum_of_squares(xp, out)
    else:
        flat = out.reshape(-1)
        t = float(xp.dot(flat, flat))
    out *= 2.0 * scale
    return t


def _absolute_error(y, p, out, scale, rows=True):
    """t = sum_k |p - y|;  dt/dp = sign(p - y)."""
    xp = array_module(p)
    xp.subtract(p, y, out=out)
    t = xp.abs(out).sum(axis=-1)
    xp.sign(out, out=out)
    out *= scale
    return t


def _huber(y, p, out, scale, delta, rows=True):
    """t = sum_k h(e), h = e^2/2 (|e| <= delta) or delta |e| - delta^2/2;
    dt/dp = clip(e, -delta, delta)."""
    xp = array_module(p)
    e = xp.subtract(p, y, out=out)
    a = xp.abs(e)
    t = xp.where(a <= delta, 0.5 * e * e, delta * a - 0.5 * delta * delta).sum(axis=-1)
    xp.clip(e, -delta, delta, out=out)
    out *= scale
    return t


def _log_cosh(y, p, out, scale, rows=True):
    """t = sum_k log cosh(e) = e + softplus(-2e) - log 2 (no overflow);  dt/dp = tanh(e)."""
    xp = array_module(p)
    e = xp.subtract(p, y, out=out)
    t = (e + xp.logaddexp(0.0, -2.0 * e) - _LOG_2).sum(axis=-1)
    xp.tanh(e, out=out)
    out *= scale
    return t


def _clip_mask(xp, q, high=1.0 - EPSILON):
    """(clip(q, eps, high), 1 where the clip is inactive else 0): d clip(q)/dq."""
    q_clipped = xp.maximum(q, EPSILON)  # two ufunc passes: cheaper than clip's dispatch per step
    xp.minimum(q_clipped, high, out=q_clipped)
    return q_clipped, (q_clipped == q)


def _kl_divergence(y, p, out, scale, rows=True):
    """t = sum_k c(y) log(c(y) / c(p)), c = clip to [eps, 1];  dt/dp = -[c(p) == p] c(y) / c(p)."""
    xp = array_module(p)
    target = xp.clip(y, EPSILON, 1.0)
    q, inside = _clip_mask(xp, p, high=1.0)
    t = (target * xp.log(target / q)).sum(axis=-1)
    xp.divide(target, q, out=out)
    out *= inside
    out *= -scale
    return t


@functools.lru_cache(maxsize=8)
def _row_indices(n: int, xp):
    """0..n-1 on the device of ``xp`` (cached; never written): the row index of every per-step
    label gather."""
    return xp.arange(n)


def _binary_crossentropy(y, p, out, scale, rows=True):
    """t = -sum_k y log q + (1-y) log(1-q), q = clip(p);  dt/dp = [q == p] (q - y) / (q (1-q))."""
    xp = array_module(p)
    q, inside = _clip_mask(xp, p)
    t = -(y * xp.log(q) + (1 - y) * xp.log1p(-q)).sum(axis=-1)
    xp.subtract(q, y, out=out)
    out /= q * (1 - q)
    out *= inside
    out *= scale
    return t


def _binary_crossentropy_logits(y, z, out, scale, rows=True):
    """t = sum_k max(z, 0) - z y + log1p(e^-|z|);  dt/dz = sigmoid(z) - y."""
    xp = array_module(z)
    t = (xp.maximum(z, 0) - z * y + xp.log1p(xp.exp(-xp.abs(z)))).sum(axis=-1)
    kernels.activation_forward("sigmoid", z, out=out)
    out -= y
    out *= scale
    return t


def _categorical_crossentropy(y, p, out, scale, rows=True):
    """t = -sum_k y log q, q = clip(p / s), s = sum_k p;  dt/dp = (g - (g . p / s)) / s,
    g = -[q inside clip] y / q (the chain rule through the normalisation p -> p / s)."""
    xp = array_module(p)
    s = p.sum(axis=-1, keepdims=True)
    q_raw = p / s
    q, inside = _clip_mask(xp, q_raw)
    t = -(y * xp.log(q)).sum(axis=-1)
    xp.divide(y, q, out=out)
    out *= inside
    out *= -1.0
    out -= (out * q_raw).sum(axis=-1, keepdims=True)
    out /= s
    out *= scale
    return t


def _log_sum_exp(z):
    """logsumexp(z) along the last axis, keepdims: m + log sum_k e^(z_k - m), m = row max."""
    xp = array_module(z)
    m = z.max(axis=-1, keepdims=True)
    return m + xp.log(xp.exp(z - m).sum(axis=-1, keepdims=True))


def _categorical_crossentropy_logits(y, z, out, scale, rows=True):
    """t = (sum_k y_k) lse(z) - y . z;  dt/dz = softmax(z) sum_k y - y."""
    y_total = y.sum(axis=-1, keepdims=True)
    t = (y_total * _log_sum_exp(z))[..., 0] - (y * z).sum(axis=-1)
    kernels.activation_forward("softmax", z, out=out)
    out *= y_total
    out -= y
    out *= scale
    return t


def _sparse_categorical_crossentropy(labels, p, out, scale, rows=True):
    """The categorical form with one-hot rows: r_i = p_i,label / s_i, q_i = clip(r_i),
    t_i = -log q_i;  dt_i/dp_ik = c_i ([k == label_i] - r_i), c_i = -[q_i == r_i] / (q_i s_i)."""
    xp = array_module(p)
    row_ids = _row_indices(p.shape[0], xp)
    s = p.sum(axis=-1)
    q_raw = p[row_ids, labels] / s
    q, inside = _clip_mask(xp, q_raw)
    t = -xp.log(q)
    c = -(inside / (q * s)) * scale
    out[...] = (-c * q_raw)[:, None]
    out[row_ids, labels] += c
    return t


def _sparse_categorical_crossentropy_logits(labels, z, out, scale, rows=True):
    """t_i = lse(z_i) - z_i,label;  dt/dz = softmax(z) - onehot(label)."""
    xp = array_module(z)
    row_ids = _row_indices(z.shape[0], xp)
    t = _log_sum_exp(z)[:, 0] - z[row_ids, labels]
    kernels.activation_forward("softmax", z, out=out)
    out[row_ids, labels] -= 1.0
    out *= scale
    return t


# --- fused with the output activation: dt/dz for z the pre-activation --------------------------
# Softmax + cross-entropy (and sigmoid + binary cross-entropy) have the simple combined gradient
# p - y. Keras's TensorFlow backend fuses the same pairs. The value is still the clipped
# cross-entropy of the probabilities; the gradient differs from the unfused chain rule only where
# the clip is active (p below 1e-7 for the true class), where it keeps pushing instead of
# vanishing.


def _fused_sparse_softmax(labels, p, out, scale, rows=True):
    """t_i = -log clip(p_i,label);  dt/dz = p - onehot(label)."""
    xp = array_module(p)
    row_ids = _row_indices(p.shape[0], xp)
    q, _ = _clip_mask(xp, p[row_ids, labels])
    log_q = xp.log(q)
    xp.multiply(p, scale, out=out)
    out[row_ids, labels] -= scale
    return -log_q if rows else -float(log_q.sum())


def _fused_categorical_softmax(y, p, out, scale, rows=True):
    """t = -sum_k y log clip(p);  dt/dz = p sum_k y - y (sum_k y = 1 for one-hot rows)."""
    xp = array_module(p)
    q, _ = _clip_mask(xp, p)
    t = -(y * xp.log(q)).sum(axis=-1)
    xp.multiply(p, y.sum(axis=-1, keepdims=True), out=out)
    out -= y
    out *= scale
    return t


def _fused_binary_sigmoid(y, p, out, scale, rows=True):
    """t = -sum_k y log q + (1-y) log(1-q), q = clip(p);  dt/dz = p - y."""
    xp = array_module(p)
    q, _ = _clip_mask(xp, p)
    t = -(y * xp.log(q) + (1 - y) * xp.log1p(-q)).sum(axis=-1)
    xp.subtract(p, y, out=out)
    out *= scale
    return t


# --- sample weights and reduction ---------------------------------------------------------------


def _sample_weights(sample_weight, shape: tuple, xp, dtype):
    """``sample_weight`` as an array of the per-sample loss shape (a scalar, (n,) or (n, 1))."""
    try:
        w = xp.asarray(sample_weight, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"sample_weight must be an array of numbers, one per sample. Received: "
            f"sample_weight of type {type(sample_weight).__name__}"
        ) from error
    if w.ndim == len(shape) + 1 and w.shape[-1] == 1:
        w = w.reshape(w.shape[:-1])
    if w.ndim == 0:
        w = xp.broadcast_to(w, shape)
    if w.shape != shape:
        raise ValueError(
            f"sample_weight must hold one weight per sample: shape {shape} or "
            f"{shape + (1,)} for these predictions. Received: "
            f"sample_weight.shape={w.shape}. Pass one weight per row of y."
        )
    return w


_AVERAGES = ("sum_over_batch_size", "mean")


def _reduce(math_fn, y, p, grad_out, sample_weight, reduction, mean_over_last_axis):
    """(reduced loss, dL/dp): runs ``math_fn`` once with the reduction folded into its scale."""
    xp = array_module(p)
    out = xp.empty_like(p) if grad_out is None else grad_out
    row = 1.0 / p.shape[-1] if mean_over_last_axis else 1.0
    if sample_weight is None and reduction in _AVERAGES:  # the training default: kept short
        count = p.size // p.shape[-1] if p.shape[-1] else 0
        scale = row / count if count else 0.0  # Keras's divide_no_nan: an empty batch is 0
        t = math_fn(y, p, out, scale, False)
        return scale * (t if isinstance(t, float) else float(t.sum())), out
    shape = p.shape[:-1]
    weights = None if sample_weight is None else _sample_weights(sample_weight, shape, xp, p.dtype)
    if reduction is None or reduction == "none":
        values = math_fn(y, p, out, row) * row
        if weights is not None:
            values = values * weights
            out *= weights[..., None]
        return values, out
    if reduction == "sum":
        divisor = 1.0
    elif reduction == "mean_with_sample_weight" and weights is not None:
        divisor = float(weights.sum())
    else:  # "sum_over_batch_size" and "mean": the number of per-sample values
        divisor = float(math.prod(shape))
    scale = row / divisor if divisor else 0.0
    t = math_fn(y, p, out, scale, weights is not None)
    if weights is None:
        return scale * (t if isinstance(t, float) else float(t.sum())), out
    out *= weights[..., None]
    return scale * float((t * weights).sum()), out


# --- target validation (once, before training) -------------------------------------------------


def _check_output_dim(output_dim) -> int:
    if (
        isinstance(output_dim, bool)
        or not isinstance(output_dim, (int, np.integer))
        or output_dim < 1
    ):
        raise ValueError(
            f"output_dim must be a positive integer (the model's output width). "
            f"Received: output_dim={output_dim!r}"
        )
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
        raise ValueError(
            f"y must have shape (n, {output_dim}) to match the model's output width "
            f"{output_dim}{hint}. Received: y.shape={y.shape}"
        )
    y = y if y.dtype.kind == "f" else y.astype(np.float32)
    if not np.all(np.isfinite(y)):
        raise ValueError(
            "y must be finite; drop or impute the rows with NaN or inf. "
            f"Received: {int(np.sum(~np.isfinite(y)))} non-finite values"
        )
    if unit_interval and y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(
            f"y must hold probabilities in [0, 1] for this loss{hint}. "
            f"Received: values in [{y.min()}, {y.max()}]"
        )
    return y


def _sparse_targets(y, output_dim) -> np.ndarray:
    """y as int64 labels of shape (n,) in [0, output_dim); (n,) or (n, 1) integer-valued input."""
    output_dim = _check_output_dim(output_dim)
    y = np.asarray(to_numpy(y))
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise ValueError(
            f"y must be integer class labels of shape (n,) or (n, 1) for "
            f"SparseCategoricalCrossentropy (use CategoricalCrossentropy for one-hot "
            f"rows). Received: y.shape={y.shape}"
        )
    if y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0)):
        raise ValueError(
            f"y must hold integer class labels. Received: y.dtype={y.dtype} with "
            f"values such as {y[:3].tolist()}"
        )
    if y.size and (y.min() < 0 or y.max() >= output_dim):
        raise ValueError(
            f"y must hold class labels in [0, {output_dim}) for a model with "
            f"{output_dim} outputs. Received: labels in [{y.min()}, {y.max()}]"
        )
    return y.astype(np.int64)


# --- loss objects ------------------------------------------------------------------------------


class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None)`` and ``value_and_grad``.

    Subclasses set ``default_name``, ``mean_over_last_axis`` (per-sample loss is the mean, not
    the sum, over the last axis) and implement ``_math(y_true, y_pred, out, scale)``, which
    returns the per-sample totals and writes ``scale`` times their gradient into ``out``
    (``rows=False``: their sum as a float may be returned instead).

    Parameters
    ----------
    reduction : str or None, default "sum_over_batch_size"
        How the per-sample losses are combined; one of ``REDUCTIONS`` (see the module docstring).
    name : str, optional
        The loss's name (the class's Keras name by default).

    Examples
    --------
    >>> loss = MeanSquaredError()
    >>> isinstance(loss, Loss), loss.name
    (True, 'mean_squared_error')
    >>> value, grad = loss.value_and_grad(np.array([[1.0], [3.0]]), np.array([[2.0], [3.0]]))
    >>> float(value), grad.ravel().tolist()
    (0.5, [1.0, 0.0])
    """

    default_name = "loss"
    mean_over_last_axis = True
    #: the output activation whose gradient this loss can fold into its own (None: none)
    fused_activation: str | None = None

    def __init__(self, reduction="sum_over_batch_size", name: str | None = None):
        self.reduction = _checks.one_of(
            "reduction",
            reduction,
            REDUCTIONS,
            fix='Use "sum_over_batch_size" (the mean over the batch) unless you need another.',
        )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string. Received: name={name!r}")
        self.name = self.default_name if name is None else name

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The loss of a batch, as Keras's ``loss(y_true, y_pred, sample_weight)``.

        Parameters
        ----------
        y_true : array_like
            Targets, shape of y_pred ((n,) is accepted for (n, 1); integer labels for the
            sparse loss).
        y_pred : array_like
            Predictions, (n, d).
        sample_weight : array_like, optional
            One weight per sample ((n,) or (n, 1)) or a scalar, scaling each sample's loss
            before the reduction.

        Returns
        -------
        float or array
            The reduced loss; the (n,) weighted per-sample losses for reduction "none"/None.

        Examples
        --------
        >>> MeanSquaredError()([[0.0], [0.0]], [[1.0], [3.0]], sample_weight=[1.0, 0.5])
        2.75
        """
        return self.value_and_grad(y_true, y_pred, sample_weight=sample_weight)[0]

    def value_and_grad(self, y_true, y_pred, grad_out=None, sample_weight=None):
        """The loss and its gradient with respect to ``y_pred``, in one pass.

        Parameters
        ----------
        y_true, y_pred, sample_weight
            As for ``__call__``.
        grad_out : array, optional
            Where to write the gradient (y_pred's shape and dtype); a new array otherwise.

        Returns
        -------
        (float or array, array)
            The value of ``__call__`` and dL/dy_pred. For reduction "none" row i of the
            gradient is d(w_i l_i)/dy_pred_i, the gradient of the per-sample values' sum.

        Examples
        --------
        >>> value, grad = MeanSquaredError(reduction="sum").value_and_grad([[0.0]], [[2.0]])
        >>> value, grad.tolist()
        (4.0, [[4.0]])
        """
        y_pred = _as_float(y_pred)
        y_true = self._targets(y_true, y_pred)
        return _reduce(
            self._math,
            y_true,
            y_pred,
            grad_out,
            sample_weight,
            self.reduction,
            self.mean_over_last_axis,
        )

    def value_and_fused_grad(self, y_true, y_pred, grad_out=None, sample_weight=None):
        """(loss, dL/dz) where y_pred = act(z) with act = ``fused_activation``: the loss and the
        activation's backward in one short pass."""
        if self.fused_activation is None:
            raise ValueError(
                f"{type(self).__name__} has no fused output activation "
                f"(fused_activation is None); call value_and_grad instead."
            )
        y_pred = _as_float(y_pred)
        y_true = self._targets(y_true, y_pred)
        return _reduce(
            self._fused_math,
            y_true,
            y_pred,
            grad_out,
            sample_weight,
            self.reduction,
            self.mean_over_last_axis,
        )

    def batch_step(self, fused: bool = False):
        """``value_and_grad`` (``value_and_fused_grad`` when ``fused``) for the batches of
        ``fit``, whose targets ``check_targets`` has already put in this loss's form and dtype.

        The per-call conversions are done once here instead of on every step, and an
        unweighted batch under an averaging reduction takes the short path. The numbers are
        the same as ``value_and_grad``'s; a step saves a few microseconds of Python.

        Parameters
        ----------
        fused : bool
            Fold the output activation's gradient in (see ``fused_activation``).

        Returns
        -------
        callable
            ``step(y_true, y_pred, grad_out, sample_weight) -> (float, grad)``.

        Examples
        --------
        >>> step = MeanSquaredError().batch_step()
        >>> y, p = np.zeros((2, 1)), np.array([[1.0], [3.0]])
        >>> value, grad = step(y, p, np.empty_like(p), None)
        >>> value, grad.ravel().tolist()
        (5.0, [1.0, 3.0])
        """
        general = self.value_and_fused_grad if fused else self.value_and_grad
        math_fn = self._fused_math if fused else self._math
        mean_row = self.mean_over_last_axis
        short = self.reduction in _AVERAGES and not getattr(self, "label_smoothing", 0.0)

        def step(y, p, out, sample_weight):
            if sample_weight is not None or not short:
                value, grad = general(y, p, grad_out=out, sample_weight=sample_weight)
                return float(value), grad
            width = p.shape[-1]
            count = p.size // width if width else 0
            scale = (1.0 / width if mean_row else 1.0) / count if count else 0.0
            t = math_fn(y, p, out, scale, False)
            return scale * (t if isinstance(t, float) else float(t.sum())), out

        return step

    def check_targets(self, y, output_dim: int) -> np.ndarray:
        """Validate targets once before training; returns them as ``value_and_grad`` wants."""
        return _dense_targets(y, output_dim)

    def _targets(self, y_true, y_pred):
        """y_true as the math wants it (subclasses add label smoothing)."""
        return self._align(y_true, y_pred)

    def _align(self, y_true, y_pred):
        """y_true on y_pred's device, dtype and shape ((n,) is reshaped to (n, 1))."""
        y_true = array_module(y_pred).asarray(y_true)
        if y_true.shape != y_pred.shape:
            if y_true.size != y_pred.size:
                raise ValueError(
                    f"y_true and y_pred must have the same shape for {self.name}. "
                    f"Received: y_true.shape={y_true.shape}, "
                    f"y_pred.shape={y_pred.shape}"
                )
            y_true = y_true.reshape(y_pred.shape)
        return y_true.astype(y_pred.dtype, copy=False)

    def _math(self, y_true, y_pred, out, scale, rows=True):
        raise NotImplementedError

    def _fused_math(self, y_true, y_pred, out, scale, rows=True):
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor arguments, JSON-ready (Keras's keys)."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        """The loss a ``get_config`` dict (ours or Keras's) describes; Keras's ``fn`` and
        ``dtype`` keys are accepted and dropped."""
        return cls(**{k: v for k, v in config.items() if k not in ("fn", "dtype")})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_axis(axis) -> int:
    """The class axis: only the last one (-1), as every model here produces (n, classes)."""
    if axis != -1 or not _checks.is_integer(axis):
        raise ValueError(
            f"axis must be -1 (the last axis holds the classes). Received: axis={axis!r}"
        )
    return -1


def _as_float(x):
    xp = array_module(x)
    x = xp.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float32)


class MeanSquaredError(Loss):
    """Mean of squares of errors: l = mean_k (y_pred_k - y_true_k)^2 per sample.

    Examples
    --------
    >>> MeanSquaredError()([[0.0, 1.0]], [[1.0, 1.0]])
    0.5
    """

    default_name = "mean_squared_error"
    _math = staticmethod(_squared_error)

    def __init__(self, reduction="sum_over_batch_size", name: str | None = None):
        super().__init__(reduction=reduction, name=name)


class MeanAbsoluteError(Loss):
    """Mean of absolute errors: l = mean_k |y_pred_k - y_true_k| per sample.

    Examples
    --------
    >>> MeanAbsoluteError()([[0.0, 1.0]], [[1.0, 3.0]])
    1.5
    """

    default_name = "mean_absolute_error"
    _math = staticmethod(_absolute_error)

    def __init__(self, reduction="sum_over_batch_size", name: str | None = None):
        super().__init__(reduction=reduction, name=name)


class Huber(Loss):
    """Huber loss: squared for errors up to ``delta``, linear beyond (robust to outliers).

    l = mean_k h(e_k), e = y_pred - y_true, h(e) = e^2 / 2 if |e| <= delta else
    delta |e| - delta^2 / 2; its derivative is clip(e, -delta, delta).

    Parameters
    ----------
    delta : float, default 1.0
        Where the loss turns from quadratic to linear (> 0).
    reduction, name
        As for ``Loss``.

    Examples
    --------
    >>> Huber(delta=1.0)([[0.0, 0.0]], [[0.5, 3.0]])
    1.3125
    """

    default_name = "huber_loss"

    def __init__(
        self, delta: float = 1.0, reduction="sum_over_batch_size", name: str | None = None
    ):
        super().__init__(reduction=reduction, name=name)
        self.delta = _checks.positive("delta", delta)

    def _math(self, y_true, y_pred, out, scale, rows=True):
        return _huber(y_true, y_pred, out, scale, self.delta, rows)

    def get_config(self) -> dict:
        return {**super().get_config(), "delta": self.delta}


class LogCosh(Loss):
    """Logarithm of the hyperbolic cosine of the error: l = mean_k log cosh(y_pred_k - y_true_k).

    About e^2 / 2 for small errors and |e| - log 2 for large ones.

    Examples
    --------
    >>> round(LogCosh()([[0.0]], [[1.0]]), 6)
    0.433781
    """

    default_name = "log_cosh"
    _math = staticmethod(_log_cosh)

    def __init__(self, reduction="sum_over_batch_size", name: str | None = None):
        super().__init__(reduction=reduction, name=name)


class KLDivergence(Loss):
    """Kullback-Leibler divergence: l = sum_k y_k log(y_k / p_k), both clipped to [1e-7, 1].

    Examples
    --------
    >>> round(KLDivergence()([[0.5, 0.5]], [[0.25, 0.75]]), 6)
    0.143841
    """

    default_name = "kl_divergence"
    mean_over_last_axis = False
    _math = staticmethod(_kl_divergence)

    def __init__(self, reduction="sum_over_batch_size", name: str | None = None):
        super().__init__(reduction=reduction, name=name)


class _ProbabilisticLoss(Loss):
    """A cross-entropy on probabilities or, with ``from_logits=True``, on raw scores."""

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction="sum_over_batch_size",
        name: str | None = None,
    ):
        super().__init__(reduction=reduction, name=name)
        if not isinstance(from_logits, (bool, np.bool_)):
            raise TypeError(
                f"from_logits must be True or False. Received: from_logits={from_logits!r}"
            )
        self.from_logits = bool(from_logits)
        self.axis = _check_axis(axis)
        # finite_number first: number_in compares before it checks the type
        _checks.finite_number("label_smoothing", label_smoothing, fix="Use a number in [0, 1].")
        self.label_smoothing = _checks.probability("label_smoothing", label_smoothing)
        if self.from_logits:
            self.fused_activation = None  # the outputs are already the pre-activations

    def _targets(self, y_true, y_pred):
        y = self._align(y_true, y_pred)
        s = self.label_smoothing
        return y * (1.0 - s) + s * self._smoothing_share(y) if s else y

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class BinaryCrossentropy(_ProbabilisticLoss):
    """Binary cross-entropy: l = -mean_k y_k log p_k + (1 - y_k) log(1 - p_k).

    Parameters
    ----------
    from_logits : bool, default False
        True when ``y_pred`` holds raw scores (p = sigmoid(y_pred), computed stably).
    label_smoothing : float, default 0.0
        In [0, 1]: targets become ``y (1 - label_smoothing) + label_smoothing / 2``.
    axis : int, default -1
        The axis the per-sample mean runs over (only -1, the outputs).
    reduction, name
        As for ``Loss``.

    Examples
    --------
    >>> round(BinaryCrossentropy()([[1.0, 0.0]], [[0.9, 0.2]]), 6)
    0.164252
    """

    default_name = "binary_crossentropy"
    fused_activation = "sigmoid"
    _fused_math = staticmethod(_fused_binary_sigmoid)

    def check_targets(self, y, output_dim: int) -> np.ndarray:
        return _dense_targets(y, output_dim, unit_interval=True)

    @staticmethod
    def _smoothing_share(y) -> float:
        return 0.5

    def _math(self, y_true, y_pred, out, scale, rows=True):
        math_fn = _binary_crossentropy_logits if self.from_logits else _binary_crossentropy
        return math_fn(y_true, y_pred, out, scale, rows)


class CategoricalCrossentropy(_ProbabilisticLoss):
    """Categorical cross-entropy for one-hot (or soft) targets: l = -sum_k y_k log p_k.

    Parameters
    ----------
    from_logits : bool, default False
        True when ``y_pred`` holds raw scores (p = softmax(y_pred), computed stably).
    label_smoothing : float, default 0.0
        In [0, 1]: targets become ``y (1 - label_smoothing) + label_smoothing / classes``.
    axis : int, default -1
        The class axis (only -1).
    reduction, name
        As for ``Loss``.

    Examples
    --------
    >>> round(CategoricalCrossentropy()([[0.0, 1.0]], [[0.2, 0.8]]), 6)
    0.223144
    """

    default_name = "categorical_crossentropy"
    mean_over_last_axis = False
    fused_activation = "softmax"
    _fused_math = staticmethod(_fused_categorical_softmax)

    def check_targets(self, y, output_dim: int) -> np.ndarray:
        hint = " (one-hot rows; for integer labels use SparseCategoricalCrossentropy)"
        return _dense_targets(y, output_dim, hint=hint, unit_interval=True)

    @staticmethod
    def _smoothing_share(y) -> float:
        return 1.0 / y.shape[-1]

    def _math(self, y_true, y_pred, out, scale, rows=True):
        math_fn = (
            _categorical_crossentropy_logits if self.from_logits else _categorical_crossentropy
        )
        return math_fn(y_true, y_pred, out, scale, rows)


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy for integer labels of shape (n,) or (n, 1): l = -log p_label.

    Parameters
    ----------
    from_logits : bool, default False
        True when ``y_pred`` holds raw scores (p = softmax(y_pred), computed stably).
    ignore_class : None
        Keras's label masking is not supported (give such samples ``sample_weight=0``).
    reduction, name
        As for ``Loss``.

    Examples
    --------
    >>> round(SparseCategoricalCrossentropy()([1], [[0.2, 0.8]]), 6)
    0.223144
    """

    default_name = "sparse_categorical_crossentropy"
    mean_over_last_axis = False
    fused_activation = "softmax"
    _fused_math = staticmethod(_fused_sparse_softmax)

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction="sum_over_batch_size",
        name: str | None = None,
    ):
        super().__init__(reduction=reduction, name=name)
        if not isinstance(from_logits, (bool, np.bool_)):
            raise TypeError(
                f"from_logits must be True or False. Received: from_logits={from_logits!r}"
            )
        if ignore_class is not None:
            raise ValueError(
                f"ignore_class is not supported (Keras's masking of a label); it "
                f"must be None. Received: ignore_class={ignore_class!r}. Give "
                f"those samples sample_weight=0 instead."
            )
        self.from_logits = bool(from_logits)
        self.ignore_class = None
        if self.from_logits:
            self.fused_activation = None

    def check_targets(self, y, output_dim: int) -> np.ndarray:
        return _sparse_targets(y, output_dim)

    def _align(self, y_true, y_pred):
        labels = array_module(y_pred).asarray(y_true).reshape(-1)
        if y_pred.ndim != 2 or labels.shape[0] != y_pred.shape[0]:
            raise ValueError(
                f"y_true must hold one integer label per row of y_pred (n, classes)."
                f" Received: {labels.shape[0]} labels, y_pred.shape={y_pred.shape}"
            )
        return labels if labels.dtype.kind in "iu" else labels.astype(np.int64)

    def _math(self, y_true, y_pred, out, scale, rows=True):
        if self.from_logits:
            return _sparse_categorical_crossentropy_logits(y_true, y_pred, out, scale, rows)
        return _sparse_categorical_crossentropy(y_true, y_pred, out, scale, rows)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "ignore_class": self.ignore_class,
        }


# --- function forms (Keras's ``keras.losses.mean_squared_error`` ...): per-sample values ---------


def mean_squared_error(y_true, y_pred):
    """Per-sample mean squared error, shape ``y_pred.shape[:-1]`` (no reduction over samples).

    Parameters
    ----------
    y_true : array_like
        Targets, shape ``(batch, ..., d)``.
    y_pred : array_like
        Predictions, the same shape as ``y_true``.

    Returns
    -------
    array
        Per-sample losses, shape ``y_pred.shape[:-1]``.

    Examples
    --------
    >>> mean_squared_error([[0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]])
    array([0.5, 0. ])
    """
    return MeanSquaredError(reduction=None)(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean absolute error, shape ``y_pred.shape[:-1]``.

    Parameters
    ----------
    y_true : array_like
        Targets, shape ``(batch, ..., d)``.
    y_pred : array_like
        Predictions, the same shape as ``y_true``.

    Returns
    -------
    array
        Per-sample losses, shape ``y_pred.shape[:-1]``.

    Examples
    --------
    >>> mean_absolute_error([[0.0, 1.0]], [[1.0, 3.0]])
    array([1.5])
    """
    return MeanAbsoluteError(reduction=None)(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber loss (quadratic up to ``delta``, linear beyond), shape
    ``y_pred.shape[:-1]``.

    Parameters
    ----------
    y_true : array_like
        Targets, shape ``(batch, ..., d)``.
    y_pred : array_like
        Predictions, the same shape as ``y_true``.
    delta : float, default 1.0
        The error size where the loss turns from quadratic to linear.

    Returns
    -------
    array
        Per-sample losses, shape ``y_pred.shape[:-1]``.

    Examples
    --------
    >>> huber([[0.0, 0.0]], [[0.5, 3.0]])
    array([1.3125])
    """
    return Huber(delta=delta, reduction=None)(y_true, y_pred)


def log_cosh(y_true, y_pred):
    """Per-sample mean of log cosh(y_pred - y_true), shape ``y_pred.shape[:-1]``.

    Parameters
    ----------
    y_true : array_like
        Targets, shape ``(batch, ..., d)``.
    y_pred : array_like
        Predictions, the same shape as ``y_true``.

    Returns
    -------
    array
        Per-sample losses, shape ``y_pred.shape[:-1]``.

    Examples
    --------
    >>> log_cosh([[0.0]], [[0.0]])
    array([0.])
    """
    return LogCosh(reduction=None)(y_true, y_pred)


def kl_divergence(y_true, y_pred):
    """Per-sample Kullback-Leibler divergence sum_k y log(y / p), shape ``y_pred.shape[:-1]``.

    Parameters
    ----------
    y_true : array_like
        Target probabilities, shape ``(batch, ..., d)``.
    y_pred : array_like
        Predictions, the same shape as ``y_true``.

    Returns
    -------
    array
        Per-sample losses, shape ``y_pred.shape[:-1]``.

    Examples
    --------
    >>> kl_divergence([[0.5, 0.5]], [[0.5, 0.5]])
    array([0.])
    """
    return KLDivergence(reduction=None)(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample binary cross-entropy (mean over the last axis), shape ``y_pred.shape[:-1]``.

    Parameters
    ----------
    y_true : array_like
        0/1 targets, shape ``(batch, ..., d)``.
    y_pred : array_like
        Predictions, the same shape as ``y_true``.
    from_logits : bool, default False
        True when ``y_pred`` holds logits rather than probabilities.
    label_smoothing : float, default 0.0
        In [0, 1]: the targets are moved this far towards the uniform distribution.

    Returns
    -------
    array
        Per-sample losses, shape ``y_pred.shape[:-1]``.

    Examples
    --------
    >>> binary_crossentropy([[1.0]], [[0.5]]).round(6)
    array([0.693147])
    """
    return BinaryCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing, reduction=None
    )(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample categorical cross-entropy, shape ``y_pred.shape[:-1]``.

    Parameters
    ----------
    y_true : array_like
        One-hot targets, shape ``(batch, ..., d)``.
    y_pred : array_like
        Predictions, the same shape as ``y_true``.
    from_logits : bool, default False
        True when ``y_pred`` holds logits rather than probabilities.
    label_smoothing : float, default 0.0
        In [0, 1]: the targets are moved this far towards the uniform distribution.

    Returns
    -------
    array
        Per-sample losses, shape ``y_pred.shape[:-1]``.

    Examples
    --------
    >>> categorical_crossentropy([[0.0, 1.0]], [[0.5, 0.5]]).round(6)
    array([0.693147])
    """
    return CategoricalCrossentropy(
        from_logits=from_logits, label_smoothing=label_smoothing, reduction=None
    )(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample cross-entropy for integer labels, shape ``(n,)``.

    Parameters
    ----------
    y_true : array_like
        Integer class labels, shape ``(n,)`` (or ``(n, 1)``).
    y_pred : array_like
        Class probabilities (or logits), shape ``(n, classes)``.
    from_logits : bool, default False
        True when ``y_pred`` holds logits rather than probabilities.

    Returns
    -------
    array
        Per-sample losses, shape ``(n,)``.

    Examples
    --------
    >>> sparse_categorical_crossentropy([1], [[0.5, 0.5]]).round(6)
    array([0.693147])
    """
    return SparseCategoricalCrossentropy(from_logits=from_logits, reduction=None)(y_true, y_pred)


_FUNCTION_CLASSES = {
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    huber: Huber,
    log_cosh: LogCosh,
    kl_divergence: KLDivergence,
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
}

_REGISTRY = Registry("loss", Loss)
_REGISTRY.add(MeanSquaredError, "mse", "mean_squared_error", "meansquarederror")
_REGISTRY.add(MeanAbsoluteError, "mae", "mean_absolute_error", "meanabsoluteerror")
_REGISTRY.add(Huber, "huber", "huber_loss")
_REGISTRY.add(LogCosh, "log_cosh", "logcosh")
_REGISTRY.add(KLDivergence, "kl_divergence", "kld", "kullback_leibler_divergence", "kldivergence")
_REGISTRY.add(BinaryCrossentropy, "binary_crossentropy", "binarycrossentropy")
_REGISTRY.add(CategoricalCrossentropy, "categorical_crossentropy", "categoricalcrossentropy")
_REGISTRY.add(
    SparseCategoricalCrossentropy,
    "sparse_categorical_crossentropy",
    "sparsecategoricalcrossentropy",
)


def get(identifier):
    """A ``Loss`` from a name, a class, an instance, a function form or a serialized dict.

    Parameters
    ----------
    identifier : str, Loss, type, callable, dict or None
        ``"mse"``, ``"huber"``, ``MeanSquaredError()``, ``losses.mean_squared_error``, ... ;
        None gives None, as in Keras.

    Returns
    -------
    Loss or None
        Unknown names raise ValueError listing the valid ones.

    Examples
    --------
    >>> get("mse")
    MeanSquaredError(name='mean_squared_error', reduction='sum_over_batch_size')
    >>> get(None) is None
    True
    """
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if callable(identifier) and not isinstance(identifier, type):
        if identifier in _FUNCTION_CLASSES:
            return _FUNCTION_CLASSES[identifier]()
        raise TypeError(
            f"loss must be a name, a Loss object or one of nastoolkit.losses' "
            f"functions: a plain function has no gradient here. Received: "
            f"loss={identifier!r}. Subclass losses.Loss (write _math) instead."
        )
    return _REGISTRY.get(identifier)


def serialize(loss) -> dict | None:
    """``{"class_name": ..., "config": ...}``, JSON-ready (None for None).

    Parameters
    ----------
    loss : Loss or None
        The loss to describe.

    Returns
    -------
    dict or None
        ``{"class_name": ..., "config": {...}}``, JSON-ready.

    Examples
    --------
    >>> serialize("mae")["class_name"]
    'MeanAbsoluteError'
    """
    return None if loss is None else _REGISTRY.serialize(get(loss))


def deserialize(config, custom_objects: dict | None = None):
    """The loss a ``serialize`` dict (or a name) describes; ``custom_objects`` for your classes.

    Parameters
    ----------
    config : dict or str
        A ``serialize`` result or a name.
    custom_objects : dict, optional
        Your own classes by class name.

    Returns
    -------
    Loss
        A fresh loss built from ``config``.

    Examples
    --------
    >>> deserialize({"class_name": "Huber", "config": {"delta": 2.0}}).delta
    2.0
    """
    if config is None or isinstance(config, str):
        return get(config)
    return _REGISTRY.deserialize(config, custom_objects)
