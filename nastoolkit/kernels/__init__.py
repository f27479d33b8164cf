"""The standalone kernel library: dense layers, dropout and in-place optimizer updates.

Each function takes NumPy or CuPy arrays and runs on the device its first array lives on: NumPy
arrays use ``_numpy`` (the reference), CuPy arrays use ``_cuda`` (``csrc/`` through CuPy). The
signatures are the same on both, so a model calls one name whatever the backend.
"""

from __future__ import annotations

from types import ModuleType

from ..backend import is_cupy_array
from . import _numpy

__all__ = [
    "ACTIVATIONS",
    "ELU_ALPHA",
    "LEAKY_RELU_SLOPE",
    "NEEDS_PREACTIVATION",
    "SELU_ALPHA",
    "SELU_SCALE",
    "activation_backward",
    "activation_forward",
    "adagrad_update",
    "adam_update",
    "dense_backward",
    "dense_forward",
    "dropout",
    "dropout_masks",
    "gather_rows",
    "implementation",
    "momentum_update",
    "rmsprop_update",
    "sgd_update",
    "warmup",
]

ACTIVATIONS = _numpy.ACTIVATIONS
LEAKY_RELU_SLOPE = _numpy.LEAKY_RELU_SLOPE
ELU_ALPHA = _numpy.ELU_ALPHA
SELU_ALPHA = _numpy.SELU_ALPHA
SELU_SCALE = _numpy.SELU_SCALE
#: activation names whose gradient needs the pre-activation z (keep it with ``z_out=``)
NEEDS_PREACTIVATION = _numpy.NEEDS_PREACTIVATION


def implementation(x) -> ModuleType:
    """The kernel module that serves arrays like ``x`` (``_cuda`` for CuPy, else ``_numpy``)."""
    if is_cupy_array(x):
        from . import _cuda

        return _cuda
    return _numpy


NATIVE_MIN_SIZE = 32_768  # below this a ctypes call costs more than NumPy's ~13 array passes


def _update_impl(*arrays) -> ModuleType:
    """Where an in-place update runs: CuPy arrays on the GPU; large contiguous float NumPy arrays
    in the compiled CPU library (csrc/ built with g++, see ``_native``) when it is available;
    else NumPy (measured here: NumPy 13 us vs compiled 25 us for 2,817 Adam parameters, but
    58 ms vs 8.6 ms for 10M)."""
    if is_cupy_array(arrays[0]):
        return implementation(arrays[0])
    if arrays[0].size < NATIVE_MIN_SIZE:
        return _numpy
    from . import _native

    return _native if _native.supports(*[a for a in arrays if a is not None]) else _numpy


def warmup() -> None:
    """Build the compiled CPU updates and, on a GPU backend, compile every CUDA module now
    (instead of on first use)."""
    from ..backend import current
    from . import _native

    _native.warmup()
    if current().name == "cupy":
        from . import _cuda

        _cuda.warmup()


def activation_forward(name, z, out=None):
    """y = act(z); see ``_numpy.activation_forward``."""
    return implementation(z).activation_forward(name, z, out=out)


def activation_backward(name, y, grad_y, out=None, z=None):
    """dL/dz from y = act(z) and dL/dy (and z for ``NEEDS_PREACTIVATION``); see
    ``_numpy.activation_backward``."""
    return implementation(y).activation_backward(name, y, grad_y, out=out, z=z)


def gather_rows(src, indices, out):
    """out[i] = src[indices[i]]: the minibatch copy into a preallocated buffer."""
    return implementation(src).gather_rows(src, indices, out)


def dense_forward(x, kernel, bias, activation="linear", out=None, z_out=None):
    """out = act(x @ kernel + bias), shapes (n, d_in) @ (d_in, d_out) + (d_out,); the
    pre-activation is kept in ``z_out`` when given."""
    return implementation(x).dense_forward(x, kernel, bias, activation, out=out, z_out=z_out)


def dense_backward(
    x,
    kernel,
    y,
    grad_y,
    activation="linear",
    grad_kernel=None,
    grad_bias=None,
    grad_x=None,
    grad_z=None,
    need_grad_x=True,
    use_bias=True,
    z=None,
):
    """(grad_x, grad_kernel, grad_bias) of a dense layer from x, W, y = act(xW + b) and dL/dy
    (and the pre-activation z for ``NEEDS_PREACTIVATION``)."""
    return implementation(x).dense_backward(
        x,
        kernel,
        y,
        grad_y,
        activation,
        grad_kernel=grad_kernel,
        grad_bias=grad_bias,
        grad_x=grad_x,
        grad_z=grad_z,
        need_grad_x=need_grad_x,
        use_bias=use_bias,
        z=z,
    )


def dropout(x, rate, seed, counter=0, out=None, mask=None, work=None):
    """Inverted dropout with a counter-based mask; returns (out, mask)."""
    return implementation(x).dropout(x, rate, seed, counter, out=out, mask=mask, work=work)


def dropout_masks(
    rows, cols, rate, seed, counter, count, dtype="float32", out=None, work=None, like=None
):
    """Masks of ``count`` consecutive dropout calls at once, shape (count, rows, cols); on the
    device of ``like`` (or of ``out``)."""
    return implementation(out if out is not None else like).dropout_masks(
        rows, cols, rate, seed, counter, count, dtype, out=out, work=work
    )


def sgd_update(param, grad, learning_rate, weight_decay=0.0, work=None):
    """In place: w <- w - lr g (with decoupled weight decay)."""
    return _update_impl(param, grad).sgd_update(param, grad, learning_rate, weight_decay, work=work)


def momentum_update(
    param, grad, velocity, learning_rate, momentum=0.9, nesterov=False, weight_decay=0.0, work=None
):
    """In place: heavy-ball or Nesterov momentum (Keras form)."""
    return _update_impl(param, grad, velocity).momentum_update(
        param, grad, velocity, learning_rate, momentum, nesterov, weight_decay, work=work
    )


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
    """In place: Adam (AdamW with weight_decay > 0), Keras 3 epsilon placement and bias
    correction."""
    return _update_impl(param, grad, m, v).adam_update(
        param, grad, m, v, step, learning_rate, beta_1, beta_2, epsilon, weight_decay, work=work
    )


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
    """In place: RMSprop (Keras 3: eps inside the square root), optional momentum."""
    return _update_impl(param, grad, v, velocity if momentum > 0 else None).rmsprop_update(
        param, grad, v, learning_rate, rho, epsilon, momentum, velocity, weight_decay, work=work
    )


def adagrad_update(
    param, grad, accumulator, learning_rate=0.001, epsilon=1e-7, weight_decay=0.0, work=None
):
    """In place: Adagrad (Keras 3: eps inside the square root)."""
    return _update_impl(param, grad, accumulator).adagrad_update(
        param, grad, accumulator, learning_rate, epsilon, weight_decay, work=work
    )
