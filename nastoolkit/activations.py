"""Activation functions as Keras 3 has them: plain functions, gettable by name.

``get("relu") is relu``, ``get(None) is linear`` and ``serialize(relu) == "relu"``, as in Keras.
Layers keep the NAME and pass it to ``nastoolkit.kernels``, whose table holds each activation's
forward step beside its derivative (the same code a ``Dense`` layer fuses into its pass):

============ ============================================ =======================================
name         y = f(x)                                     dy/dx
============ ============================================ =======================================
linear       x                                            1
relu         max(x, 0)                                    1 if y > 0 else 0
tanh         tanh(x)                                      1 - y^2
sigmoid      1 / (1 + e^-x)                               y (1 - y)
softmax      e^x_i / sum_j e^x_j  (last axis)             J = diag(y) - y y^T
leaky_relu   x if x > 0 else 0.2 x                        1 if y > 0 else 0.2
elu          x if x > 0 else e^x - 1                      1 if y > 0 else y + 1
selu         s (x if x > 0 else a (e^x - 1))              s if y > 0 else y + s a
gelu         x Phi(x), Phi the normal CDF                 Phi(x) + x phi(x)         (needs x)
silu, swish  x sigmoid(x)                                 s (1 + x (1 - s))         (needs x)
softplus     log(1 + e^x)                                 1 - e^-y
softsign     x / (1 + |x|)                                (1 - |y|)^2
hard_sigmoid clip(x / 6 + 1 / 2, 0, 1)                    1/6 if 0 < y < 1 else 0
exponential  e^x                                          y
============ ============================================ =======================================

(selu: s = 1.0507..., a = 1.6732...). The derivative is written with the output y where y
determines it, because that is all a fused dense layer keeps; gelu and silu need x itself
(``kernels.NEEDS_PREACTIVATION``). The keyword options (``relu(x, max_value=6)``,
``leaky_relu(x, negative_slope=0.1)``, ``elu(x, alpha=2)``, ``softmax(x, axis=0)``,
``gelu(x, approximate=True)``) are available on the functions, as in Keras; a layer given the
name uses the defaults.
"""

from __future__ import annotations

import math

from . import _checks, kernels
from .backend import array_module

__all__ = [
    "deserialize",
    "elu",
    "exponential",
    "gelu",
    "get",
    "hard_sigmoid",
    "leaky_relu",
    "linear",
    "names",
    "relu",
    "selu",
    "serialize",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]


def _as_float_array(x):
    """``x`` as a floating array (integers and lists become float32, Keras's floatx)."""
    xp = array_module(x)
    x = xp.asarray(x)
    return x if x.dtype.kind == "f" else x.astype("float32")


def _apply(name: str, x):
    """act(x) through the kernels' table, as a new array."""
    return kernels.activation_forward(name, _as_float_array(x))


def linear(x):
    """Identity: y = x (a new array).

    Parameters
    ----------
    x : array_like
        Input of any shape (lists and integers become float32).

    Returns
    -------
    array
        Same shape as ``x``.

    Examples
    --------
    >>> linear([1.0, -2.0])
    array([ 1., -2.])
    """
    return _apply("linear", x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit with Keras's three options.

    y = x where x > threshold else 0, capped at ``max_value``, and, with ``negative_slope``,
    minus negative_slope * max(threshold - x, 0) below the threshold.

    Parameters
    ----------
    x : array_like
        Input.
    negative_slope : float, default 0.0
        Slope below the threshold (>= 0).
    max_value : float, optional
        Upper cap of the output (>= 0); None for no cap.
    threshold : float, default 0.0
        Values at or below it are zeroed (before the negative slope part).

    Returns
    -------
    array
        Same shape as x.

    Examples
    --------
    >>> relu([-10.0, -5.0, 0.0, 5.0, 10.0])
    array([ 0.,  0.,  0.,  5., 10.])
    >>> relu([-10.0, -5.0, 0.0, 5.0, 10.0], negative_slope=0.5, max_value=5.0)
    array([-5. , -2.5,  0. ,  5. ,  5. ])
    """
    negative_slope = _checks.non_negative("negative_slope", negative_slope)
    if max_value is not None:
        max_value = _checks.non_negative("max_value", max_value)
    threshold = _checks.finite_number("threshold", threshold)
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _apply("relu", x)
    x = _as_float_array(x)
    xp = array_module(x)
    y = xp.where(x > threshold, x, 0)
    if max_value is not None:
        y = xp.clip(y, 0, max_value)
    if negative_slope:
        y = y - negative_slope * xp.maximum(threshold - x, 0)
    return y.astype(x.dtype, copy=False)


def leaky_relu(x, negative_slope=0.2):
    """Leaky ReLU: y = x if x >= 0 else negative_slope * x (Keras 3 default 0.2).

    Parameters
    ----------
    x : array_like
        Input of any shape (lists and integers become float32).
    negative_slope : float, default 0.2
        Slope for x < 0.

    Returns
    -------
    array
        Same shape as ``x``.

    Examples
    --------
    >>> leaky_relu([-1.0, 2.0])
    array([-0.2,  2. ])
    >>> leaky_relu([-1.0, 2.0], negative_slope=0.5)
    array([-0.5,  2. ])
    """
    negative_slope = _checks.finite_number("negative_slope", negative_slope)
    if negative_slope == kernels.LEAKY_RELU_SLOPE:
        return _apply("leaky_relu", x)
    x = _as_float_array(x)
    xp = array_module(x)
    return xp.where(x >= 0, x, negative_slope * x).astype(x.dtype, copy=False)


def elu(x, alpha=1.0):
    """Exponential linear unit: y = x if x > 0 else alpha (e^x - 1).

    Parameters
    ----------
    x : array_like
        Input of any shape (lists and integers become float32).
    alpha : float, default 1.0
        Scale of the negative part.

    Returns
    -------
    array
        Same shape as ``x``.

    Examples
    --------
    >>> elu([-1.0, 2.0]).round(4)
    array([-0.6321,  2.    ])
    """
    alpha = _checks.finite_number("alpha", alpha)
    if alpha == kernels.ELU_ALPHA:
        return _apply("elu", x)
    x = _as_float_array(x)
    xp = array_module(x)
    return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype, copy=False)


def selu(x):
    """Scaled ELU (Klambauer et al. 2017): y = scale * elu(x, alpha), scale = 1.0507...,
    alpha = 1.6732..., so that activations keep zero mean and unit variance.

    Parameters
    ----------
    x : array_like
        Input of any shape (lists and integers become float32).

    Returns
    -------
    array
        Same shape as ``x``.

    Examples
    --------
    >>> selu([0.0, 1.0]).round(4)
    array([0.    , 1.0507])
    """
    return _apply("selu", x)


def tanh(x):
    """Hyperbolic tangent.

    Parameters
    ----------
    x : array_like
        Input of any shape (lists and integers become float32).

    Returns
    -------
    array
        Same shape as ``x``.

    Examples
    --------
    >>> tanh([0.0]).tolist()
    [0.0]
    """
    return _apply("tanh", x)


def sigmoid(x):
    """y = 1 / (1 + e^-x), computed as (1 + tanh(x / 2)) / 2 so that no exp overflows.

    Parameters
    ----------
    x : array_like
        Input of any shape (lists and integers become float32).

    Returns
    -------
    array
        Same shape as ``x``.

    Examples
    --------
    >>> sigmoid([0.0]).tolist()
    [0.5]
    """
    return _apply("sigmoid", x)


def softmax(x, axis=-1):
    """y_i = e^(x_i - m) / sum_j e^(x_j - m) along ``axis`` (m the maximum: no overflow).

    Parameters
    ----------
    x : array_like
        Input of any shape (lists and integers become float32).
    axis : int, default -1
        Axis along which the outputs sum to 1.

    Returns
    -------
    array
        Same shape as ``x``.

    Examples
    --------
    >>> softmax([[0.0, 0.0], [1.0, 1.0]]).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    >>> softmax([[0.0, 0.0], [1.0, 1.0]], axis=0).round(4)
    array([[0.2689, 0.2689],
           [0.7311, 0.7311]])
    """
    x = _as_float_array(x)
    if not _checks.is_integer(axis) or not -max(x.ndim, 1) <= axis < max(x.ndim, 1):
        raise ValueError(
            f"axis must be an integer in [-{x.ndim}, {x.ndim}) for an input of "
            f"{x.ndim} dimensions. Received: axis={axis!r}"
        )
    if x.ndim == 0 or axis % x.ndim == x.ndim - 1:
        return kernels.activation_forward("softmax", x)
    xp = array_module(x)
    moved = xp.ascontiguousarray(xp.moveaxis(x, axis, -1))
    return xp.moveaxis(kernels.activation_forward("softmax", moved, out=moved), -1, axis)


def gelu(x, approximate=False):
    """Gaussian error linear unit (Hendrycks & Gimpel 2016): y = x Phi(x).

    Parameters
    ----------
    x : array_like
        Input.
    approximate : bool, default False
        False: the exact form with the normal CDF Phi(x) = (1 + erf(x / sqrt 2)) / 2 (the
        CPU computes erf to 1.2e-7 relative, float32 resolution). True: the tanh form
        0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).

    Examples
    --------
    >>> gelu([0.0, 1.0]).round(4)
    array([0.    , 0.8413])
    >>> gelu([1.0], approximate=True).round(4)
    array([0.8412])
    """
    if not isinstance(approximate, bool):
        raise TypeError(f"approximate must be True or False. Received: approximate={approximate!r}")
    if not approximate:
        return _apply("gelu", x)
    x = _as_float_array(x)
    xp = array_module(x)
    inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
    return (0.5 * x * (1.0 + xp.tanh(inner))).astype(x.dtype, copy=False)


def silu(x):
    """Sigmoid linear unit (also named swish): y = x sigmoid(x).

    Parameters
    ----------
    x : array_like
        Input of any shape (lists and integers become float32).

    Returns
    -------
    array
        Same shape as ``x``.

    Examples
    --------
    >>> silu([0.0, 1.0]).round(4)
    array([0.    , 0.7311])
    """
    return _apply("silu", x)


swish = silu  # Keras exports the same function under both names; its name is "silu"


def softplus(x):
    """y = log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|) (no overflow).

    Parameters
    ----------
    x : array_like
        Input of any shape (lists and integers become float32).

    Returns
    -------
    array
        Same shape as ``x``.

    Examples
    --------
    >>> softplus([0.0]).round(4)
    array([0.6931])
    """
    return _apply("softplus", x)


def softsign(x):
    """y = x / (1 + |x|).

    Parameters
    ----------
    x : array_like
        Input of any shape (lists and integers become float32).

    Returns
    -------
    array
        Same shape as ``x``.

    Examples
    --------
    >>> softsign([-1.0, 3.0])
    array([-0.5 ,  0.75])
    """
    return _apply("softsign", x)


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid: y = clip(x / 6 + 1 / 2, 0, 1) (= relu6(x + 3) / 6).

    Parameters
    ----------
    x : array_like
        Input of any shape (lists and integers become float32).

    Returns
    -------
    array
        Same shape as ``x``.

    Examples
    --------
    >>> hard_sigmoid([-4.0, 0.0, 1.5, 4.0])
    array([0.  , 0.5 , 0.75, 1.  ])
    """
    return _apply("hard_sigmoid", x)


def exponential(x):
    """y = e^x.

    Parameters
    ----------
    x : array_like
        Input of any shape (lists and integers become float32).

    Returns
    -------
    array
        Same shape as ``x``.

    Examples
    --------
    >>> exponential([0.0]).tolist()
    [1.0]
    """
    return _apply("exponential", x)


_FUNCTIONS = {
    f.__name__: f
    for f in (
        linear,
        relu,
        tanh,
        sigmoid,
        softmax,
        leaky_relu,
        elu,
        selu,
        gelu,
        silu,
        softplus,
        softsign,
        hard_sigmoid,
        exponential,
    )
}
_BY_NAME = {**_FUNCTIONS, "swish": silu}
_NAME_OF = {f: name for name, f in _FUNCTIONS.items()}
# Until every layer reads names through serialize(), each function also answers ``.name``.
for _name, _function in _FUNCTIONS.items():
    _function.name = _name
assert set(_BY_NAME) == set(kernels.ACTIVATIONS), "activations and kernels disagree on names"


def names() -> tuple[str, ...]:
    """The activation names ``get`` accepts, sorted.

    Examples
    --------
    >>> "gelu" in names()
    True
    """
    return tuple(sorted(_BY_NAME))


def get(identifier=None):
    """The activation function for a name, None (linear) or a serialized form, as Keras does.

    Parameters
    ----------
    identifier : str, callable, dict or None
        ``"relu"``, ``"swish"``, ``activations.gelu``, None, or
        ``{"class_name": "function", "config": "relu"}`` / ``{"name": "relu"}``.

    Returns
    -------
    callable
        This module's function (``get("relu") is relu``); any other callable is returned as is.

    Examples
    --------
    >>> get("relu") is relu
    True
    >>> get(None) is linear
    True
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        function = _BY_NAME.get(identifier) or _BY_NAME.get(identifier.lower())
        if function is None:
            raise ValueError(
                f"Unknown activation {identifier!r}: expected one of "
                f"{list(names())}. Received: activation={identifier!r}"
            )
        return function
    if isinstance(identifier, dict):
        name = identifier.get("config", identifier.get("name"))
        if isinstance(name, dict):  # {"class_name": ..., "config": {"name": "relu"}}
            name = name.get("name")
        if not isinstance(name, str):
            raise TypeError(
                f"A serialized activation must name a function, as "
                f"{{'class_name': 'function', 'config': 'relu'}}. Received: "
                f"{identifier!r}"
            )
        return get(name)
    if callable(identifier):
        return identifier
    raise TypeError(
        f"activation must be a name, a function or None. Received: "
        f"activation={identifier!r} (of type {type(identifier).__name__})"
    )


def serialize(activation) -> str:
    """The name of a built-in activation (``serialize(relu) == "relu"``), as Keras stores it.

    Parameters
    ----------
    activation : callable or str
        One of this module's functions or its name.

    Returns
    -------
    str
        The activation's name.

    Examples
    --------
    >>> serialize(get("swish"))
    'silu'
    """
    function = get(activation)
    name = _NAME_OF.get(function)
    if name is None:
        raise ValueError(
            f"activation must be one of nastoolkit.activations' functions to be "
            f"serialized (layers pass the name to the kernels). Received: "
            f"{activation!r}; use one of {list(names())}."
        )
    return name


def deserialize(config):
    """The function a ``serialize`` result (a name or a dict) stands for.

    Parameters
    ----------
    config : str or dict
        A name, or Keras's ``{"class_name": ..., "config": ...}`` form.

    Returns
    -------
    callable
        The activation function.

    Examples
    --------
    >>> deserialize("tanh") is tanh
    True
    """
    return get(config)
