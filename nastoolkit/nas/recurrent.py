"""An LSTM cell on the toolkit's kernels, forward and backward through time.

Used by the architecture controller (:mod:`.controller`). One step, with ``[x, h]`` the input and
previous hidden state side by side and ``W`` of shape ``(input_dim + units, 4 units)``::

    z = [x, h_prev] W + b                     (kernels.dense_forward, linear)
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);   g = tanh(z_g)
    c = f * c_prev + i * g;    h = o * tanh(c)

The backward step is written beside it and uses ``kernels.activation_backward`` for the gates and
``kernels.dense_backward`` for the affine map; gradients through time accumulate into ``dW`` and
``db``. Works in float32 or float64 (the tests compare with finite differences in float64).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import kernels
from .._checks import positive_int

__all__ = ["LSTMCell", "LSTMStep"]


class LSTMStep(NamedTuple):
    """What one step keeps for its backward pass."""

    xh: np.ndarray  # (n, input_dim + units): input and previous hidden state
    gates: np.ndarray  # (n, 4 units): i, f, o (sigmoid) and g (tanh), activated
    c_prev: np.ndarray  # (n, units)
    tanh_c: np.ndarray  # (n, units)


class LSTMCell:
    """Weights ``W`` (``(input_dim + units, 4 units)``, gate order i, f, o, g) and ``b``
    (forget-gate bias 1, as is usual), initialised Glorot-uniform from ``rng``.

    Parameters
    ----------
    input_dim, units : int
        Widths of the input and of the hidden/cell state.
    rng : numpy.random.Generator
        Draws the initial weights.
    dtype : str
        ``"float32"`` or ``"float64"``.

    Examples
    --------
    >>> cell = LSTMCell(3, 4, np.random.default_rng(0), dtype="float64")
    >>> h, c = cell.zero_state(2)
    >>> h, c, step = cell.forward(np.ones((2, 3)), h, c)
    >>> h.shape, bool(np.all(np.abs(h) < 1))
    ((2, 4), True)
    """

    def __init__(self, input_dim: int, units: int, rng, dtype="float64"):
        self.input_dim = positive_int("input_dim", input_dim)
        self.units = positive_int("units", units)
        self.dtype = np.dtype(dtype)
        fan_in, fan_out = self.input_dim + self.units, 4 * self.units
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        self.W = rng.uniform(-limit, limit, (fan_in, fan_out)).astype(self.dtype)
        self.b = np.zeros(fan_out, self.dtype)
        self.b[self.units : 2 * self.units] = 1.0

    @property
    def weights(self) -> list:
        """``[W, b]``: the arrays an optimizer updates in place."""
        return [self.W, self.b]

    def zero_state(self, batch: int) -> tuple:
        """``(h, c)`` of zeros for ``batch`` sequences."""
        return (
            np.zeros((batch, self.units), self.dtype),
            np.zeros((batch, self.units), self.dtype),
        )

    def forward(self, x, h_prev, c_prev) -> tuple:
        """One step: returns ``(h, c, step)``; ``step`` (an :class:`LSTMStep`) feeds
        :meth:`backward`."""
        u = self.units
        xh = np.concatenate([x, h_prev], axis=1)
        gates = kernels.dense_forward(xh, self.W, self.b, "linear")
        kernels.activation_forward("sigmoid", gates[:, : 3 * u], out=gates[:, : 3 * u])
        kernels.activation_forward("tanh", gates[:, 3 * u :], out=gates[:, 3 * u :])
        i, f, o, g = gates[:, :u], gates[:, u : 2 * u], gates[:, 2 * u : 3 * u], gates[:, 3 * u :]
        c = f * c_prev + i * g
        tanh_c = np.tanh(c)
        return o * tanh_c, c, LSTMStep(xh, gates, c_prev, tanh_c)

    def backward(self, step: LSTMStep, grad_h, grad_c, grad_W, grad_b) -> tuple:
        """One step back: from dL/dh and dL/dc of this step's outputs, adds dL/dW and dL/db into
        ``grad_W``/``grad_b`` and returns ``(grad_x, grad_h_prev, grad_c_prev)``."""
        u = self.units
        gates = step.gates
        i, f, o, g = gates[:, :u], gates[:, u : 2 * u], gates[:, 2 * u : 3 * u], gates[:, 3 * u :]
        grad_o = grad_h * step.tanh_c
        grad_c = grad_c + grad_h * o * (1.0 - step.tanh_c**2)
        grad_gates = np.concatenate([grad_c * g, grad_c * step.c_prev, grad_o, grad_c * i], axis=1)
        grad_z = np.empty_like(grad_gates)
        kernels.activation_backward(
            "sigmoid", gates[:, : 3 * u], grad_gates[:, : 3 * u], out=grad_z[:, : 3 * u]
        )
        kernels.activation_backward(
            "tanh", gates[:, 3 * u :], grad_gates[:, 3 * u :], out=grad_z[:, 3 * u :]
        )
        grad_xh, step_W, step_b = kernels.dense_backward(step.xh, self.W, gates, grad_z, "linear")
        grad_W += step_W
        grad_b += step_b
        return grad_xh[:, : self.input_dim], grad_xh[:, self.input_dim :], grad_c * f

    def __repr__(self) -> str:
        return f"LSTMCell(input_dim={self.input_dim}, units={self.units}, dtype={self.dtype})"
