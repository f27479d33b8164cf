"""NumPy twins of the CUDA kernels in ``csrc/``: the reference path and the CPU default.

Every function works in place on preallocated arrays when given ``out``/``work`` buffers, so a
training step allocates nothing. Shapes: ``x (n, d_in)``, ``kernel (d_in, d_out)``,
``bias (d_out,)``, outputs ``(n, d_out)``. Optimizer updates take arrays of any (equal) shape,
typically one flat parameter buffer per model, and update ``param`` and the state in place.
"""

from __future__ import annotations

import functools

import numpy as np

ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "softmax", "leaky_relu", "elu")
LEAKY_RELU_SLOPE = 0.2  # Keras 3 default negative_slope
ELU_ALPHA = 1.0  # Keras default; the in-place forms below are written for alpha = 1


# --- activations: forward from z, backward from the *output* y (all that dense keeps) ---------

def activation_forward(name: str, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """y = act(z), elementwise (softmax: along the last axis). ``out`` may be ``z``."""
    out = np.empty_like(z) if out is None else out
    if name == "linear":
        if out is not z:
            np.copyto(out, z)
    elif name == "relu":
        np.maximum(z, 0, out=out)
    elif name == "tanh":
        np.tanh(z, out=out)
    elif name == "sigmoid":  # 1 / (1 + e^-z) = (1 + tanh(z / 2)) / 2: no overflow, in place
        np.multiply(z, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1
        out *= 0.5
    elif name == "softmax":
        np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=-1, keepdims=True)
    elif name == "leaky_relu":  # z if z > 0 else 0.2 z
        if out is not z:
            np.copyto(out, z)
        np.multiply(out, LEAKY_RELU_SLOPE, out=out, where=out < 0)
    elif name == "elu":  # z if z > 0 else alpha (e^z - 1)
        if out is not z:
            np.copyto(out, z)
        np.expm1(out, out=out, where=out < 0)
    else:
        raise ValueError(f"activation must be one of {ACTIVATIONS}. Received: activation={name!r}")
    return out


def activation_backward(name: str, y: np.ndarray, grad_y: np.ndarray,
                        out: np.ndarray | None = None) -> np.ndarray:
    """dL/dz from the output y = act(z) and dL/dy. ``out`` may alias ``grad_y``."""
    out = np.empty_like(y) if out is None else out
    if name == "linear":
        if out is not grad_y:
            np.copyto(out, grad_y)
    elif name == "relu":  # 1 where y > 0: sign(y) is 0 or 1 because y >= 0
        if out is grad_y:
            np.multiply(grad_y, y > 0, out=out)
        else:
            np.sign(y, out=out)
            out *= grad_y
    elif name == "tanh":  # 1 - y^2
        t = np.multiply(y, y)
        np.subtract(1, t, out=t)
        np.multiply(grad_y, t, out=out)
    elif name == "sigmoid":  # y (1 - y)
        t = np.subtract(1, y)
        t *= y
        np.multiply(grad_y, t, out=out)
    elif name == "softmax":  # y * (g - sum(g * y))
        s = _row_dot(grad_y, y)[..., None]
        np.subtract(grad_y, s, out=out)
        out *= y
    elif name == "leaky_relu":  # 1 where y > 0 else slope
        np.multiply(grad_y, np.where(y > 0, 1.0, LEAKY_RELU_SLOPE).astype(y.dtype), out=out)
    elif name == "elu":  # 1 where y > 0 else y + alpha  (= min(y + 1, 1) for alpha = 1)
        t = np.add(y, ELU_ALPHA)
        np.minimum(t, 1, out=t)
        np.multiply(grad_y, t, out=out)
    else:
        raise ValueError(f"activation must be one of {ACTIVATIONS}. Received: activation={name!r}")
    return out


def _row_dot(a, b):
    """sum_k a[..., k] b[..., k]: a ufunc on NumPy >= 2 (einsum's dispatch costs ~10x more)."""
    return np.vecdot(a, b) if hasattr(np, "vecdot") else np.einsum("...i,...i->...", a, b)


def gather_rows(src, indices, out):
    """out[i] = src[indices[i]] (a minibatch copy); indices must be in range ("clip" mode skips
    NumPy's buffered bounds check)."""
    return src.take(indices, axis=0, out=out, mode="clip")


# --- dense layer -------------------------------------------------------------------------------

def dense_forward(x, kernel, bias, activation: str = "linear", out=None):
    """out = act(x @ kernel + bias): x (n, d_in), kernel (d_in, d_out), bias (d_out,) -> (n, d_out).

    ``out`` keeps the activation output, which is all ``dense_backward`` needs.
    """
    if out is None:
        out = np.empty((x.shape[0], kernel.shape[1]), dtype=np.result_type(x, kernel))
    np.matmul(x, kernel, out=out)
    if bias is not None:
        out += bias
    return activation_forward(activation, out, out=out)


def dense_backward(x, kernel, y, grad_y, activation: str = "linear", grad_kernel=None,
                   grad_bias=None, grad_x=None, grad_z=None, need_grad_x: bool = True,
                   use_bias: bool = True):
    """Gradients of a dense layer from its input x, weights, output y = act(xW + b) and dL/dy.

    Returns ``(grad_x, grad_kernel, grad_bias)`` with shapes of x, kernel and bias; writes into the
    given buffers (``grad_z`` is scratch of y's shape, and may be ``grad_y`` itself to save memory).
    ``grad_x`` is None when ``need_grad_x`` is False (the first layer needs no input gradient),
    ``grad_bias`` is None when ``use_bias`` is False.
    """
    if activation == "linear":
        gz = grad_y
    else:
        gz = activation_backward(activation, y, grad_y, out=grad_z)
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


def dropout_masks(rows, cols, rate: float, seed: int, counter: int, count: int, dtype="float32",
                  out=None, work=None):
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
    h = np.empty((count, size), np.uint32) if work is None else work[: count * size].reshape(
        count, size)
    keys = np.array([dropout_key(seed, counter + k) for k in range(count)], np.uint32)
    np.bitwise_xor(_iota(size)[None, :], keys[:, None], out=h)
    t = np.empty_like(h)
    _hash32(h, t)
    keep = np.greater_equal(h, np.uint32(dropout_threshold(rate) << 8), out=t.view(np.bool_)[
        :, :size])
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


def momentum_update(param, grad, velocity, learning_rate, momentum=0.9, nesterov=False,
                    weight_decay=0.0, work=None):
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


def adam_update(param, grad, m, v, step, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                epsilon=1e-7, weight_decay=0.0, work=None):
    """Adam (Kingma & Ba 2015) as Keras 3 writes it; AdamW when weight_decay > 0.

    m <- m + (1 - b1)(g - m);  v <- v + (1 - b2)(g^2 - v)
    w <- w - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps),   t = step (1-based).
    """
    _decay(param, learning_rate, weight_decay)
    # a Python float, so float32 buffers are scaled in float32 (as the compiled kernels do)
    alpha = float(learning_rate * np.sqrt(1.0 - beta_2 ** step) / (1.0 - beta_1 ** step))
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


def rmsprop_update(param, grad, v, learning_rate=0.001, rho=0.9, epsilon=1e-7, momentum=0.0,
                   velocity=None, weight_decay=0.0, work=None):
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


def adagrad_update(param, grad, accumulator, learning_rate=0.001, epsilon=1e-7, weight_decay=0.0,
                   work=None):
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
