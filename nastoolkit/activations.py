"""Activation functions, by function or by name (``get("relu")``), on NumPy or CuPy arrays.

The math is in ``nastoolkit.kernels`` (``activation_forward``/``activation_backward``), the same
code a ``Dense`` layer fuses into its forward pass; this module gives it to users:

========== ====================================== ===========================================
name       y = f(x)                               dy/dx, written with the output y
========== ====================================== ===========================================
linear     x                                      1
relu       max(x, 0)                              1 if y > 0 else 0
tanh       tanh(x)                                1 - y^2
sigmoid    1 / (1 + e^-x)                         y (1 - y)
softmax    e^x_i / sum_j e^x_j  (last axis)       J = diag(y) - y y^T
leaky_relu x if x > 0 else 0.2 x                  1 if y > 0 else 0.2
elu        x if x > 0 else e^x - 1  (alpha = 1)   1 if y > 0 else y + 1
========== ====================================== ===========================================

The derivative comes from the output because that is all a fused dense layer keeps.
"""

from __future__ import annotations

from . import kernels
from ._registry import Registry
from .backend import array_module

__all__ = [
    "Activation",
    "deserialize",
    "elu",
    "get",
    "leaky_relu",
    "linear",
    "names",
    "relu",
    "serialize",
    "sigmoid",
    "softmax",
    "tanh",
]

NEGATIVE_SLOPE = kernels._numpy.LEAKY_RELU_SLOPE  # leaky_relu slope (Keras 3 default 0.2)
ALPHA = kernels._numpy.ELU_ALPHA  # elu alpha (Keras default 1.0)


def _as_float_array(x):
    """``x`` as a floating array (integers and lists become float32, Keras's floatx)."""
    xp = array_module(x)
    x = xp.asarray(x)
    return x if x.dtype.kind == "f" else x.astype("float32")


class Activation:
    """A named activation: ``y = act(x)`` and its backward pass ``dL/dx`` from ``y`` and ``dL/dy``.

    ``name`` is one of ``kernels.ACTIVATIONS``; layers pass it straight to the kernels.
    """

    def __init__(self, name: str = "linear"):
        if name not in kernels.ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(kernels.ACTIVATIONS)}. "
                             f"Received: activation={name!r}")
        self.name = name

    def __call__(self, x):
        """y = act(x) as a new array of x's shape (softmax along the last axis)."""
        return kernels.activation_forward(self.name, _as_float_array(x))

    def gradient(self, y, grad_y, out=None):
        """dL/dx from the output y = act(x) and the upstream gradient dL/dy (same shapes)."""
        return kernels.activation_backward(self.name, y, grad_y, out=out)

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> Activation:
        return cls(**config)

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Activation) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("Activation", self.name))


def linear(x):
    """y = x (a new array)."""
    return Activation("linear")(x)


def relu(x):
    """y = max(x, 0)."""
    return Activation("relu")(x)


def tanh(x):
    """y = tanh(x)."""
    return Activation("tanh")(x)


def sigmoid(x):
    """y = 1 / (1 + e^-x), computed as (1 + tanh(x / 2)) / 2 so that no exp overflows."""
    return Activation("sigmoid")(x)


def softmax(x):
    """y_i = e^(x_i - m) / sum_j e^(x_j - m) along the last axis, m = max_j x_j (no overflow)."""
    return Activation("softmax")(x)


def leaky_relu(x):
    """y = x if x > 0 else 0.2 x (Keras 3 default ``negative_slope=0.2``)."""
    return Activation("leaky_relu")(x)


def elu(x):
    """y = x if x > 0 else e^x - 1 (Keras default ``alpha=1.0``)."""
    return Activation("elu")(x)


_FUNCTIONS = {f.__name__: f for f in (linear, relu, tanh, sigmoid, softmax, leaky_relu, elu)}
_REGISTRY = Registry("activation", Activation)
for _name in kernels.ACTIVATIONS:
    _REGISTRY.add(lambda _name=_name: Activation(_name), _name)


def names() -> tuple[str, ...]:
    """The activation names ``get`` accepts."""
    return _REGISTRY.names()


def get(identifier=None) -> Activation:
    """An ``Activation`` from a name (``"relu"``), None (linear), one of this module's functions,
    an ``Activation`` or a serialized form. Unknown names raise ValueError listing the valid ones.
    """
    if identifier is None:
        return Activation("linear")
    if callable(identifier) and _FUNCTIONS.get(getattr(identifier, "__name__", None)) is identifier:
        return Activation(identifier.__name__)
    if isinstance(identifier, dict) and "class_name" not in identifier:
        return Activation.from_config(identifier)
    return _REGISTRY.get(identifier)


def serialize(activation) -> str:
    """The activation's name, which is how Keras stores built-in activations in configs."""
    return get(activation).name


def deserialize(config) -> Activation:
    """The inverse of ``serialize`` (also takes ``{"class_name": "Activation", "config": ...}``)."""
    return get(config)
