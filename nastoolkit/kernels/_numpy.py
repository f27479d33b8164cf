"""NumPy twins of the CUDA kernels in ``csrc/``: the reference path and the CPU default.

Every function works in place on preallocated arrays when given ``out``/``work`` buffers, so a
training step allocates nothing. Shapes: ``x (n, d_in)``, ``kernel (d_in, d_out)``,
``bias (d_out,)``, outputs ``(n, d_out)``. Optimizer updates take arrays of any (equal) shape,
typically one flat parameter buffer per model, and update ``param`` and the state in place.
"""

from __future__ import annotations

import functools
import math

import numpy as np

LEAKY_RELU_SLOPE = 0.2  # Keras 3 default negative_slope
ELU_ALPHA = 1.0  # Keras default; the in-place forms below are written for alpha = 1
SELU_ALPHA = 1.6732632423543772848170429916717  # Klambauer et al. 2017, as in Keras
SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_HALF = 0.7071067811865476  # 1 / sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)


# --- activations: each forward beside its derivative (micrograd style) -------------------------
# forward(z, out) writes y = act(z) into out (out may be z). backward(y, grad_y, out, z) writes
# dL/dz = dL/dy * act'(z) into out (out may alias grad_y). The derivative is written with the
# output y, all a fused dense layer keeps, except for the names in NEEDS_PREACTIVATION, whose
# output does not determine z (gelu, silu): those read the pre-activation z.


def _linear(z, out):
    if out is not z:
        np.copyto(out, z)
    return out


def _linear_grad(y, grad_y, out, z):  # 1
    return _linear(grad_y, out)


def _relu(z, out):
    return np.maximum(z, 0, out=out)


def _relu_grad(y, grad_y, out, z):  # 1 where y > 0: sign(y) is 0 or 1 because y >= 0
    if out is grad_y:
        return np.multiply(grad_y, y > 0, out=out)
    np.sign(y, out=out)
    out *= grad_y
    return out


def _tanh(z, out):
    return np.tanh(z, out=out)


def _tanh_grad(y, grad_y, out, z):  # 1 - y^2
    t = np.multiply(y, y)
    np.subtract(1, t, out=t)
    return np.multiply(grad_y, t, out=out)


def _sigmoid(z, out):  # 1 / (1 + e^-z) = (1 + tanh(z / 2)) / 2: no overflow, in place
    np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


def _sigmoid_grad(y, grad_y, out, z):  # y (1 - y)
    t = np.subtract(1, y)
    t *= y
    return np.multiply(grad_y, t, out=out)


def _softmax(z, out):  # along the last axis, shifted by the row max: no overflow
    np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def _softmax_grad(y, grad_y, out, z):  # J = diag(y) - y y^T:  y * (g - sum(g * y))
    s = _row_dot(grad_y, y)[..., None]
    np.subtract(grad_y, s, out=out)
    out *= y
    return out


def _leaky_relu(z, out):  # z if z > 0 else 0.2 z
    _linear(z, out)
    return np.multiply(out, LEAKY_RELU_SLOPE, out=out, where=out < 0)


def _leaky_relu_grad(y, grad_y, out, z):  # 1 where y > 0 else slope
    return np.multiply(grad_y, np.where(y > 0, 1.0, LEAKY_RELU_SLOPE).astype(y.dtype), out=out)


def _elu(z, out):  # z if z > 0 else alpha (e^z - 1)
    _linear(z, out)
    return np.expm1(out, out=out, where=out < 0)


def _elu_grad(y, grad_y, out, z):  # 1 where y > 0 else y + alpha  (= min(y + 1, 1), alpha = 1)
    t = np.add(y, ELU_ALPHA)
    np.minimum(t, 1, out=t)
    return np.multiply(grad_y, t, out=out)


def _selu(z, out):  # scale (z if z > 0 else alpha (e^z - 1))
    _elu(z, out)
    np.multiply(out, SELU_ALPHA, out=out, where=out < 0)
    out *= SELU_SCALE
    return out


def _selu_grad(y, grad_y, out, z):  # scale where y > 0 else y + scale alpha
    t = np.where(y > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA).astype(y.dtype, copy=False)
    return np.multiply(grad_y, t, out=out)


_erfc_exact = np.frompyfunc(math.erfc, 1, 1)


def _erfc(x):
    """erfc(x) = 1 - erf(x): exact (math.erfc) for float64; for float32, Numerical Recipes'
    Chebyshev fit (1.2e-7 relative, float32 resolution, as the GPU's erfcf) without a Python
    loop. Computing erfc, not 1 - erf, keeps the relative accuracy of small tails."""
    if x.dtype == np.float64:
        return _erfc_exact(x).astype(np.float64)
    t = 1.0 / (1.0 + 0.5 * np.abs(x))
    poly = -1.26551223 + t * (
        1.00002368
        + t
        * (
            0.37409196
            + t
            * (
                0.09678418
                + t
                * (
                    -0.18628806
                    + t
                    * (
                        0.27886807
                        + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))
                    )
                )
            )
        )
    )
    tail = t * np.exp(-x * x + poly)
    return np.where(x >= 0, tail, 2.0 - tail).astype(x.dtype, copy=False)


def _normal_cdf(z):
    """Phi(z) = erfc(-z / sqrt 2) / 2, accurate in both tails."""
    cdf = _erfc(z * -_SQRT_HALF)
    cdf *= 0.5
    return cdf


def _sigmoid_accurate(z):
    """sigmoid(z) to full relative accuracy for negative z too: (1 or e^-|z|) / (1 + e^-|z|)."""
    e = np.exp(-np.abs(z))
    numerator = np.where(z >= 0, 1.0, e).astype(z.dtype, copy=False)
    e += 1
    return np.divide(numerator, e, out=e)


def _gelu(z, out):  # z Phi(z), Phi the standard normal CDF: Keras's exact form
    return np.multiply(z, _normal_cdf(z), out=out)


def _gelu_grad(y, grad_y, out, z):  # Phi(z) + z phi(z), phi the standard normal density
    slope = _normal_cdf(z)
    slope += z * np.exp(-0.5 * z * z) * _INV_SQRT_2PI
    return np.multiply(grad_y, slope, out=out)


def _silu(z, out):  # z sigmoid(z)  (Keras "silu", also named "swish")
    return np.multiply(z, _sigmoid_accurate(z), out=out)


def _silu_grad(y, grad_y, out, z):  # s (1 + z (1 - s)), s = sigmoid(z)
    s = _sigmoid_accurate(z)
    t = np.subtract(1, s)
    t *= z
    t += 1
    t *= s
    return np.multiply(grad_y, t, out=out)


def _softplus(z, out):  # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow
    t = np.abs(z)
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.log1p(t, out=t)
    np.maximum(z, 0, out=out)
    out += t
    return out


def _softplus_grad(y, grad_y, out, z):  # sigmoid(z) = 1 - e^-y
    t = np.negative(y)
    np.expm1(t, out=t)
    np.negative(t, out=t)
    return np.multiply(grad_y, t, out=out)


def _softsign(z, out):  # z / (1 + |z|)
    t = np.abs(z)
    t += 1
    return np.divide(z, t, out=out)


def _softsign_grad(y, grad_y, out, z):  # 1 / (1 + |z|)^2 = (1 - |y|)^2
    t = np.abs(y)
    np.subtract(1, t, out=t)
    t *= t
    return np.multiply(grad_y, t, out=out)


def _hard_sigmoid(z, out):  # clip(z / 6 + 1 / 2, 0, 1): Keras 3's (relu6(z + 3) / 6)
    np.multiply(z, 1.0 / 6.0, out=out)
    out += 0.5
    return np.clip(out, 0, 1, out=out)


def _hard_sigmoid_grad(y, grad_y, out, z):  # 1/6 where 0 < y < 1, else 0
    inside = (y > 0) & (y < 1)
    np.multiply(grad_y, inside, out=out)
    out *= 1.0 / 6.0
    return out


def _exponential(z, out):  # e^z
    return np.exp(z, out=out)


def _exponential_grad(y, grad_y, out, z):  # e^z = y
    return np.multiply(grad_y, y, out=out)


#: name -> (forward, backward); every name the kernels (and Dense(activation=...)) accept
ACTIVATION_TABLE = {
    "linear": (_linear, _linear_grad),
    "relu": (_relu, _relu_grad),
    "tanh": (_tanh, _tanh_grad),
    "sigmoid": (_sigmoid, _sigmoid_grad),
    "softmax": (_softmax, _softmax_grad),
    "leaky_relu": (_leaky_relu, _leaky_relu_grad),
    "elu": (_elu, _elu_grad),
    "selu": (_selu, _selu_grad),
    "gelu": (_gelu, _gelu_grad),
    "silu": (_silu, _silu_grad),
    "swish": (_silu, _silu_grad),  # Keras's other name for silu
    "softplus": (_softplus, _softplus_grad),
    "softsign": (_softsign, _softsign_grad),
    "hard_sigmoid": (_hard_sigmoid, _hard_sigmoid_grad),
    "exponential": (_exponential, _exponential_grad),
}
ACTIVATIONS = tuple(ACTIVATION_TABLE)
#: activations whose derivative needs the pre-activation z (their output does not determine it)
NEEDS_PREACTIVATION = frozenset({"gelu", "silu", "swish"})


_FORWARD = {name: pair[0] for name, pair in ACTIVATION_TABLE.items()}
_BACKWARD = {name: pair[1] for name, pair in ACTIVATION_TABLE.items()}


def _unknown_activation(name) -> ValueError:
    return ValueError(f"activation must be one of {ACTIVATIONS}. Received: activation={name!r}")


def activation_forward(name: str, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """y = act(z), elementwise (softmax: along the last axis). ``out`` may be ``z``."""
    try:
        forward = _FORWARD[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name
        raise _unknown_activation(name) from None
    return forward(z, np.empty_like(z) if out is None else out)


def activation_backward(
    name: str,
    y: np.ndarray,
    grad_y: np.ndarray,
    out: np.ndarray | None = None,
    z: np.ndarray | None = None,
) -> np.ndarray:
    """dL/dz from the output y = act(z) and dL/dy (and z itself for ``NEEDS_PREACTIVATION``).
    ``out`` may alias ``grad_y``."""
    try:
        backward = _BACKWARD[name]
    except (KeyError, TypeError):
        raise _unknown_activation(name) from None
    if z is None and name in NEEDS_PREACTIVATION:
        raise ValueError(
            f"activation {name!r} needs the pre-activation z for its gradient (its "
            f"output does not determine z). Received: z=None; keep z with "
            f"dense_forward(..., z_out=buffer) and pass z=buffer."
        )
    return backward(y, grad_y, np.empty_like(y) if out is None else out, z)


def _row_dot(a, b):
    """sum_k a[..., k] b[..., k]: a ufunc on NumPy >= 2 (einsum's dispatch costs ~10x more)."""
    return np.vecdot(a, b) if hasattr(np, "vecdot") else np.einsum("...i,...i->...", a, b)


def gather_rows(src, indices, out):
    """out[i] = src[indices[i]] (a minibatch copy); indices must be in range ("clip" mode skips
    NumPy's buffered bounds check)."""
    return src.take(indices, axis=0, out=out, mode="clip")


# --- dense layer -------------------------------------------------------------------------------


def dense_forward(x, kernel, bias, activation: str = "linear", out=None, z_out=None):
    """out = act(x @ kernel + bias): x (n, d_in), kernel (d_in, d_out), bias (d_out,) -> (n, d_out).

    ``out`` keeps the activation output, which is all ``dense_backward`` needs except for the
    activations in ``NEEDS_PREACTIVATION``: give ``z_out`` (shape of out) to keep z = xW + b too.
    """
    if out is None:
        out = np.empty((x.shape[0], kernel.shape[1]), dtype=np.result_type(x, kernel))
    z = out if z_out is None else z_out
    np.matmul(x, kernel, out=z)
    if bias is not None:
        z += bias
    try:  # activation_forward's look-up, inline: this runs for every layer of every step
        forward = _FORWARD[activation]
    except (KeyError, TypeError):
        raise _unknown_activation(activation) from None
    return forward(z, out)


def dense_backward(
    x,
    kernel,
    y,
    grad_y,
    activation: str = "linear",
    grad_kernel=None,
    grad_bias=None,
    grad_x=None,
    grad_z=None,
    need_grad_x: bool = True,
    use_bias: bool = True,
    z=None,
):
    """Gradients of a dense layer from its input x, weights, output y = act(xW + b) and dL/dy.

    Returns ``(grad_x, grad_kernel, grad_bias)`` with shapes of x, kernel and bias; writes into the
    given buffers (``grad_z`` is scratch of y's shape, and may be ``grad_y`` itself to save memory).
    ``grad_x`` is None when ``need_grad_x`` is False (the first layer needs no input gradient),
    ``grad_bias`` is None when ``use_bias`` is False. ``z`` (the pre-activation kept by
    ``dense_forward(..., z_out=)``) is required for the activations in ``NEEDS_PREACTIVATION``.
    """
    if activation == "linear":
        gz = grad_y
    else:
        # a training step's case (known name, scratch given) looks up inline, as this runs for
        # every layer of every step; anything else goes through activation_backward's checks
        known = grad_z is not None and isinstance(activation, str)
        backward = _BACKWARD.get(activation) if known else None
        if backward is None or (z is None and activation in NEEDS_PREACTIVATION):
            gz = activation_backward(activation, y, grad_y, out=grad_z, z=z)
        else:
            gz = backward(y, grad_y, grad_z, z)
    grad_kernel = np.matmul(x.T, gz, out=grad_kernel)
    grad_bias = np.add.reduce(gz, axis=0, out=grad_bias) if use_bias else None
    if need_grad_x:
        grad_x = np.matmul(gz, kernel.T, out=grad_x)
    else:
        grad_x = None
    return grad_x, grad_kernel, grad_bias


# --- dropout: counter-based hash, identical bits on CPU and GPU --------------------------------

_M1 = np.uint32(0x7FEB352D)
_M2 = np.uint32(0x846CA68B)


def _hash32(h: np.ndarray, t: np.ndarray) -> np.ndarray:
    """In-place 32-bit integer finaliser (lowbias32): h = mix(h), t is uint32 scratch."""
    np.right_shift(h, 16, out=t)
    h ^= t
    h *= _M1
    np.right_shift(h, 15, out=t)
    h ^= t
    h *= _M2
    np.right_shift(h, 16, out=t)
    h ^= t
    return h


@functools.lru_cache(maxsize=16)
def _iota(n: int) -> np.ndarray:
    """0, 1, ..., n-1 as uint32, cached (read-only) so a dropout call allocates nothing."""
    a = np.arange(n, dtype=np.uint32)
    a.flags.writeable = False
    return a


def _hash32_scalar(x: int) -> int:
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def dropout_key(seed: int, counter: int) -> int:
    """The 32-bit stream key of call number ``counter`` under ``seed`` (host side, both devices)."""
    return _hash32_scalar(seed ^ _hash32_scalar(counter + 0x9E3779B9))


def dropout_threshold(rate: float) -> int:
    """Integer keep threshold: element i is kept iff (hash(i ^ key) >> 8) >= threshold."""
    return round(float(rate) * (1 << 24))


def dropout(x, rate: float, seed: int, counter: int = 0, out=None, mask=None, work=None):
    """Inverted dropout: out = x * mask, mask = keep / (1 - rate), keep drawn from (seed, counter).

    The keep decision of element i (flat index) is ``(hash32(i ^ key) >> 8) >= round(rate 2^24)``,
    so the CUDA kernel draws the very same mask. Returns ``(out, mask)``; backward is grad * mask.
    ``work`` is optional scratch: two uint32 arrays of x.size.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1). Received: rate={rate}")
    out = np.empty_like(x) if out is None else out
    mask = np.empty_like(x) if mask is None else mask
    if rate == 0.0:
        mask.fill(1)
        np.copyto(out, x)
        return out, mask
    n = x.size
    h, t = (np.empty(n, np.uint32), np.empty(n, np.uint32)) if work is None else work
    h = h[:n]
    t = t[:n]
    np.bitwise_xor(_iota(n), np.uint32(dropout_key(seed, counter)), out=h)
    _hash32(h, t)
    # (h >> 8) >= T  is  h >= T * 256: one pass fewer (T < 2^24, so T * 256 fits in uint32)
    keep = np.greater_equal(h, np.uint32(dropout_threshold(rate) << 8), out=t.view(np.bool_)[:n])
    flat_mask = mask.reshape(-1)
    np.multiply(keep, 1.0 / (1.0 - rate), out=flat_mask, casting="unsafe")
    np.multiply(x, mask, out=out)
    return out, mask


def dropout_masks(
    rows,
    cols,
    rate: float,
    seed: int,
    counter: int,
    count: int,
    dtype="float32",
    out=None,
    work=None,
):
    """The masks of ``count`` consecutive ``dropout`` calls on (rows, cols) arrays, at once.

    ``out[k]`` equals the mask of ``dropout(x, rate, seed, counter + k)`` bit for bit, and its
    first m rows equal the mask for an (m, cols) array. Computing a block amortises NumPy's
    per-call cost over many training steps. Returns ``out`` of shape (count, rows, cols);
    ``work`` is optional uint32 scratch of count * rows * cols elements.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1). Received: rate={rate}")
    size = rows * cols
    out = np.empty((count, rows, cols), dtype) if out is None else out
    if rate == 0.0:
        out.fill(1)
        return out
    h = (
        np.empty((count, size), np.uint32)
        if work is None
        else work[: count * size].reshape(count, size)
    )
    keys = np.array([dropout_key(seed, counter + k) for k in range(count)], np.uint32)
    np.bitwise_xor(_iota(size)[None, :], keys[:, None], out=h)
    t = np.empty_like(h)
    _hash32(h, t)
    keep = np.greater_equal(
        h, np.uint32(dropout_threshold(rate) << 8), out=t.view(np.bool_)[:, :size]
    )
    np.multiply(keep.reshape(count, rows, cols), 1.0 / (1.0 - rate), out=out, casting="unsafe")
    return out


# --- optimizer updates (in place; Keras 3 semantics) ------------------------------------------
# Decoupled weight decay as Keras applies it: w -= w * weight_decay * lr, before the update.


def _decay(param, learning_rate, weight_decay):
    if weight_decay:
        param *= 1.0 - weight_decay * learning_rate


def _scratch(param, work):
    return np.empty_like(param) if work is None else work


def sgd_update(param, grad, learning_rate, weight_decay=0.0, work=None):
    """w <- w - lr g."""
    _decay(param, learning_rate, weight_decay)
    w = _scratch(param, work)
    np.multiply(grad, learning_rate, out=w)
    param -= w


def momentum_update(
    param, grad, velocity, learning_rate, momentum=0.9, nesterov=False, weight_decay=0.0, work=None
):
    """m <- mu m - lr g;  w <- w + m (classic) or w <- w + mu m - lr g (Nesterov)."""
    _decay(param, learning_rate, weight_decay)
    w = _scratch(param, work)
    np.multiply(grad, learning_rate, out=w)
    velocity *= momentum
    velocity -= w
    if nesterov:
        param -= w
        np.multiply(velocity, momentum, out=w)
        param += w
    else:
        param += velocity


def adam_update(
    param,
    grad,
    m,
    v,
    step,
    learning_rate=0.001,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-7,
    weight_decay=0.0,
    work=None,
):
    """Adam (Kingma & Ba 2015) as Keras 3 writes it; AdamW when weight_decay > 0.

    m <- m + (1 - b1)(g - m);  v <- v + (1 - b2)(g^2 - v)
    w <- w - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps),   t = step (1-based).
    """
    _decay(param, learning_rate, weight_decay)
    # a Python float, so float32 buffers are scaled in float32 (as the compiled kernels do)
    alpha = float(learning_rate * np.sqrt(1.0 - beta_2**step) / (1.0 - beta_1**step))
    w = _scratch(param, work)
    np.subtract(grad, m, out=w)
    w *= 1.0 - beta_1
    m += w
    np.multiply(grad, grad, out=w)
    w -= v
    w *= 1.0 - beta_2
    v += w
    np.sqrt(v, out=w)
    w += epsilon
    np.divide(m, w, out=w)
    w *= alpha
    param -= w


def rmsprop_update(
    param,
    grad,
    v,
    learning_rate=0.001,
    rho=0.9,
    epsilon=1e-7,
    momentum=0.0,
    velocity=None,
    weight_decay=0.0,
    work=None,
):
    """v <- rho v + (1 - rho) g^2;  step = lr g / sqrt(v + eps);  w <- w - step.

    With momentum > 0 (``velocity`` required): velocity <- momentum velocity + step; w -= velocity.
    """
    _decay(param, learning_rate, weight_decay)
    w = _scratch(param, work)
    v *= rho
    np.multiply(grad, grad, out=w)
    w *= 1.0 - rho
    v += w
    np.add(v, epsilon, out=w)
    np.sqrt(w, out=w)
    np.divide(grad, w, out=w)
    w *= learning_rate
    if momentum > 0:
        if velocity is None:
            raise ValueError("rmsprop_update with momentum > 0 needs a `velocity` buffer.")
        velocity *= momentum
        velocity += w
        param -= velocity
    else:
        param -= w


def adagrad_update(
    param, grad, accumulator, learning_rate=0.001, epsilon=1e-7, weight_decay=0.0, work=None
):
    """acc <- acc + g^2;  w <- w - lr g / sqrt(acc + eps)  (Keras 3 places eps inside the root)."""
    _decay(param, learning_rate, weight_decay)
    w = _scratch(param, work)
    np.multiply(grad, grad, out=w)
    accumulator += w
    np.add(accumulator, epsilon, out=w)
    np.sqrt(w, out=w)
    np.divide(grad, w, out=w)
    w *= learning_rate
    param -= w
