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
    """The kernel module that serves arrays like ``x`` (``_cuda`` for CuPy, else ``_numpy``).

    Parameters
    ----------
    x : array
        A NumPy or CuPy array.

    Returns
    -------
    module
        The kernel module for ``x``'s device.

    Examples
    --------
    >>> import numpy as np
    >>> implementation(np.zeros(2)).__name__
    'nastoolkit.kernels._numpy'
    """
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
    (instead of on first use).

    Returns
    -------
    None

    Examples
    --------
    >>> warmup()  # no output; later updates start at once
    """
    from ..backend import current
    from . import _native

    _native.warmup()
    if current().name == "cupy":
        from . import _cuda

        _cuda.warmup()


def activation_forward(name, z, out=None):
    """y = act(z); see ``_numpy.activation_forward``.

    Parameters
    ----------
    name : str
        An activation name (one of ``ACTIVATIONS``).
    z : array
        Pre-activations, any shape.
    out : array, optional
        Where to write y (same shape as ``z``; may be ``z`` itself).

    Returns
    -------
    array
        y, the shape of ``z``.

    Examples
    --------
    >>> import numpy as np
    >>> activation_forward("relu", np.array([-1.0, 2.0]))
    array([0., 2.])
    """
    return implementation(z).activation_forward(name, z, out=out)


def activation_backward(name, y, grad_y, out=None, z=None):
    """dL/dz from y = act(z) and dL/dy (and z for ``NEEDS_PREACTIVATION``); see
    ``_numpy.activation_backward``.

    Parameters
    ----------
    name : str
        An activation name (one of ``ACTIVATIONS``).
    y : array
        The activation's output, any shape.
    grad_y : array
        dL/dy, the shape of ``y``.
    out : array, optional
        Where to write dL/dz (may be ``grad_y`` itself).
    z : array, optional
        The pre-activation; required for the names in ``NEEDS_PREACTIVATION``.

    Returns
    -------
    array
        dL/dz, the shape of ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> activation_backward("relu", np.array([0.0, 2.0]), np.array([5.0, 5.0]))
    array([0., 5.])
    >>> activation_backward("tanh", np.array([0.5]), np.array([1.0]))  # 1 - y^2
    array([0.75])
    """
    return implementation(y).activation_backward(name, y, grad_y, out=out, z=z)


def gather_rows(src, indices, out):
    """out[i] = src[indices[i]]: the minibatch copy into a preallocated buffer.

    Parameters
    ----------
    src : array
        Shape ``(n, *features)``.
    indices : array of int
        Shape ``(m,)``, each in [0, n).
    out : array
        Shape ``(m, *features)``, written in place.

    Returns
    -------
    array
        ``out``.

    Examples
    --------
    >>> import numpy as np
    >>> out = np.empty((2, 2))
    >>> gather_rows(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([2, 0]), out)
    array([[5., 6.],
           [1., 2.]])
    """
    return implementation(src).gather_rows(src, indices, out)


def dense_forward(x, kernel, bias, activation="linear", out=None, z_out=None):
    """out = act(x @ kernel + bias): ``(n, d_in) @ (d_in, d_out) + (d_out,)``.

    Parameters
    ----------
    x : array
        Inputs, shape ``(n, d_in)``.
    kernel : array
        Weights, shape ``(d_in, d_out)``.
    bias : array or None
        Shape ``(d_out,)``; None for no bias.
    activation : str, default "linear"
        An activation name.
    out : array, optional
        Where to write the output, shape ``(n, d_out)``.
    z_out : array, optional
        Where to keep the pre-activation z = xW + b (shape of out); needed by ``dense_backward``
        for the activations in ``NEEDS_PREACTIVATION``.

    Returns
    -------
    array
        Shape ``(n, d_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 2.0]])
    >>> kernel = np.array([[1.0, 0.0], [0.0, -1.0]])
    >>> dense_forward(x, kernel, np.array([0.5, 0.5]), "relu")
    array([[1.5, 0. ]])
    """
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
    (and the pre-activation z for ``NEEDS_PREACTIVATION``).

    Parameters
    ----------
    x : array
        The layer's input, shape ``(n, d_in)``.
    kernel : array
        Shape ``(d_in, d_out)``.
    y : array
        The layer's output, shape ``(n, d_out)``.
    grad_y : array
        dL/dy, shape ``(n, d_out)``.
    activation : str, default "linear"
        The layer's activation name.
    grad_kernel, grad_bias, grad_x : array, optional
        Buffers for the results (shapes of kernel, bias and x).
    grad_z : array, optional
        Scratch of y's shape (may be ``grad_y`` itself).
    need_grad_x : bool, default True
        False skips the input gradient (the first layer needs none).
    use_bias : bool, default True
        False when the layer has no bias.
    z : array, optional
        The pre-activation kept by ``dense_forward(..., z_out=)``.

    Returns
    -------
    tuple of array
        ``(grad_x, grad_kernel, grad_bias)`` with the shapes of x, kernel and bias; grad_x is None
        when ``need_grad_x`` is False, grad_bias None when ``use_bias`` is False.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 2.0]])
    >>> kernel = np.array([[1.0, 0.0], [0.0, -1.0]])
    >>> y = dense_forward(x, kernel, np.array([0.5, 0.5]), "relu")
    >>> grad_x, grad_kernel, grad_bias = dense_backward(x, kernel, y, np.ones((1, 2)), "relu")
    >>> grad_kernel
    array([[1., 0.],
           [2., 0.]])
    >>> grad_bias
    array([1., 0.])
    """
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
    """Inverted dropout with a counter-based mask: out = x * mask, mask = keep / (1 - rate).

    Parameters
    ----------
    x : array
        Any shape.
    rate : float
        The fraction dropped, in [0, 1).
    seed : int
        The stream's seed.
    counter : int, default 0
        The call number: each gives a new mask, the same on CPU and GPU.
    out, mask : array, optional
        Buffers of x's shape.
    work : tuple of array, optional
        Scratch: two uint32 arrays of ``x.size``.

    Returns
    -------
    tuple of array
        ``(out, mask)``, both of x's shape; the backward pass is ``grad * mask``.

    Examples
    --------
    >>> import numpy as np
    >>> out, mask = dropout(np.ones((2, 4)), 0.5, seed=0)
    >>> mask
    array([[2., 2., 2., 0.],
           [0., 2., 0., 0.]])
    """
    return implementation(x).dropout(x, rate, seed, counter, out=out, mask=mask, work=work)


def dropout_masks(
    rows, cols, rate, seed, counter, count, dtype="float32", out=None, work=None, like=None
):
    """Masks of ``count`` consecutive dropout calls at once, shape ``(count, rows, cols)``; on the
    device of ``like`` (or of ``out``).

    Parameters
    ----------
    rows, cols : int
        The shape of each mask.
    rate : float
        The fraction dropped, in [0, 1).
    seed : int
        The stream's seed.
    counter : int
        The call number of the first mask.
    count : int
        How many masks.
    dtype : str, default "float32"
        Their dtype.
    out : array, optional
        Buffer of shape ``(count, rows, cols)``.
    work : array, optional
        uint32 scratch of ``count * rows * cols`` elements.
    like : array, optional
        An array on the device to use (NumPy when None).

    Returns
    -------
    array
        Shape ``(count, rows, cols)``; ``[k]`` equals the mask of
        ``dropout(x, rate, seed, counter + k)``.

    Examples
    --------
    >>> import numpy as np
    >>> masks = dropout_masks(2, 4, 0.5, seed=0, counter=0, count=3, dtype="float64")
    >>> masks.shape
    (3, 2, 4)
    >>> bool((masks[1] == dropout(np.ones((2, 4)), 0.5, 0, 1)[1]).all())
    True
    """
    return implementation(out if out is not None else like).dropout_masks(
        rows, cols, rate, seed, counter, count, dtype, out=out, work=work
    )


def sgd_update(param, grad, learning_rate, weight_decay=0.0, work=None):
    """In place: w <- w - lr g (with decoupled weight decay).

    Parameters
    ----------
    param : array
        The weights, updated in place.
    grad : array
        dL/dparam, the same shape.
    learning_rate : float
        The step size.
    weight_decay : float, default 0.0
        Decoupled weight decay (param shrinks by ``learning_rate * weight_decay * param``).
    work : array, optional
        Scratch of param's shape.

    Returns
    -------
    None
        ``param`` (and the state arrays) change in place.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, 2.0])
    >>> sgd_update(w, np.array([1.0, -1.0]), 0.1)
    >>> w
    array([0.9, 2.1])
    """
    return _update_impl(param, grad).sgd_update(param, grad, learning_rate, weight_decay, work=work)


def momentum_update(
    param, grad, velocity, learning_rate, momentum=0.9, nesterov=False, weight_decay=0.0, work=None
):
    """In place: heavy-ball or Nesterov momentum (Keras form): v <- mu v - lr g; w <- w + v.

    Parameters
    ----------
    param : array
        The weights, updated in place.
    grad : array
        dL/dparam, the same shape.
    velocity : array
        The momentum state, param's shape (zeros at first), updated in place.
    learning_rate : float
        The step size.
    momentum : float, default 0.9
        mu, in [0, 1).
    nesterov : bool, default False
        Nesterov's form: w <- w + mu v - lr g.
    weight_decay : float, default 0.0
        Decoupled weight decay (param shrinks by ``learning_rate * weight_decay * param``).
    work : array, optional
        Scratch of param's shape.

    Returns
    -------
    None
        ``param`` (and the state arrays) change in place.

    Examples
    --------
    >>> import numpy as np
    >>> w, velocity = np.array([1.0]), np.zeros(1)
    >>> for _ in range(2):
    ...     momentum_update(w, np.array([1.0]), velocity, 0.1)
    >>> w.round(6), velocity.round(6)
    (array([0.71]), array([-0.19]))
    """
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
    correction.

    Parameters
    ----------
    param : array
        The weights, updated in place.
    grad : array
        dL/dparam, the same shape.
    m, v : array
        First and second moment states, param's shape (zeros at first), updated in place.
    step : int
        The step number, from 1 (for the bias correction).
    learning_rate : float, default 0.001
        The step size.
    beta_1, beta_2 : float, default 0.9, 0.999
        Decay rates of m and v.
    epsilon : float, default 1e-7
        Added to sqrt(v_hat) (Keras 3's placement).
    weight_decay : float, default 0.0
        Decoupled weight decay (param shrinks by ``learning_rate * weight_decay * param``).
    work : array, optional
        Scratch of param's shape.

    Returns
    -------
    None
        ``param`` (and the state arrays) change in place.

    Examples
    --------
    >>> import numpy as np
    >>> w, m, v = np.array([1.0, -1.0]), np.zeros(2), np.zeros(2)
    >>> adam_update(w, np.array([0.5, -2.0]), m, v, step=1, learning_rate=0.1)
    >>> w.round(4)  # the first step moves each weight by about lr
    array([ 0.9, -0.9])
    """
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
    """In place: RMSprop (Keras 3: eps inside the square root), optional momentum.

    Parameters
    ----------
    param : array
        The weights, updated in place.
    grad : array
        dL/dparam, the same shape.
    v : array
        The mean-square state, param's shape (zeros at first), updated in place.
    learning_rate : float, default 0.001
        The step size.
    rho : float, default 0.9
        Decay rate of v.
    epsilon : float, default 1e-7
        Added to v inside the square root.
    momentum : float, default 0.0
        Momentum on the scaled step (needs ``velocity``).
    velocity : array, optional
        The momentum state when ``momentum > 0``.
    weight_decay : float, default 0.0
        Decoupled weight decay (param shrinks by ``learning_rate * weight_decay * param``).
    work : array, optional
        Scratch of param's shape.

    Returns
    -------
    None
        ``param`` (and the state arrays) change in place.

    Examples
    --------
    >>> import numpy as np
    >>> w, v = np.array([1.0]), np.zeros(1)
    >>> rmsprop_update(w, np.array([2.0]), v, learning_rate=0.1)
    >>> w.round(6), v
    (array([0.683772]), array([0.4]))
    """
    return _update_impl(param, grad, v, velocity if momentum > 0 else None).rmsprop_update(
        param, grad, v, learning_rate, rho, epsilon, momentum, velocity, weight_decay, work=work
    )


def adagrad_update(
    param, grad, accumulator, learning_rate=0.001, epsilon=1e-7, weight_decay=0.0, work=None
):
    """In place: Adagrad (Keras 3: eps inside the square root).

    Parameters
    ----------
    param : array
        The weights, updated in place.
    grad : array
        dL/dparam, the same shape.
    accumulator : array
        The sum of squared gradients, param's shape (Keras starts it at 0.1), updated in place.
    learning_rate : float, default 0.001
        The step size.
    epsilon : float, default 1e-7
        Added to the accumulator inside the square root.
    weight_decay : float, default 0.0
        Decoupled weight decay (param shrinks by ``learning_rate * weight_decay * param``).
    work : array, optional
        Scratch of param's shape.

    Returns
    -------
    None
        ``param`` (and the state arrays) change in place.

    Examples
    --------
    >>> import numpy as np
    >>> w, accumulator = np.array([1.0]), np.full(1, 0.1)
    >>> adagrad_update(w, np.array([2.0]), accumulator, learning_rate=0.1)
    >>> w.round(6), accumulator
    (array([0.901227]), array([4.1]))
    """
    return _update_impl(param, grad, accumulator).adagrad_update(
        param, grad, accumulator, learning_rate, epsilon, weight_decay, work=work
    )
