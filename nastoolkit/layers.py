"""Keras-style layers: ``Dense``, ``Dropout``, ``Activation``, ``Flatten`` and ``Input``.

A layer stores its configuration in ``__init__``, learns its input shape in ``build``, and runs
``forward``/``backward`` through ``nastoolkit.kernels``. Inside a model its weights and gradients
are views into the model's flat buffers (see ``bind``) and its outputs live in buffers preallocated
by ``prepare``, so a training step allocates nothing. Used on its own, ``layer(x)`` builds the layer
with arrays of its own.

A model never asks a layer what type it is: layers answer small hooks instead
(``on_build``/``on_fit_start`` for random streams, ``rng_state``/``set_rng_state`` for backups,
``regularization_penalty``/``add_regularization_gradients``, ``work_size`` for the BLAS thread
choice, ``fusable_activation`` for the fused softmax/sigmoid + cross-entropy gradient).

Shapes: ``input_shape``/``output_shape`` include the batch axis as ``None`` (Keras's convention);
``input_dim``/``output_dim`` are the widths of the flattened feature axes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _checks, activations, initializers, kernels, regularizers
from .backend import array_module, to_numpy

__all__ = [
    "Activation",
    "Dense",
    "Dropout",
    "Flatten",
    "Input",
    "InputLayer",
    "Layer",
    "WeightSpec",
    "deserialize",
    "get",
    "serialize",
]

_name_counters: dict[str, itertools.count] = {}


def _unique_name(prefix: str) -> str:
    n = next(_name_counters.setdefault(prefix, itertools.count()))
    return prefix if n == 0 else f"{prefix}_{n}"


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


@dataclass(frozen=True)
class WeightSpec:
    """One weight tensor a layer needs: attribute name, shape and initializer callable.

    Parameters
    ----------
    name : str
        The layer attribute that holds the array (``"kernel"``, ``"bias"``).
    shape : tuple of int
        The array's shape, e.g. ``(input_dim, units)`` for a Dense kernel.
    initializer : callable
        ``initializer(shape)`` returns the starting array.

    Examples
    --------
    >>> from nastoolkit import initializers
    >>> spec = WeightSpec("bias", (3,), initializers.get("zeros"))
    >>> spec.initializer(spec.shape)
    array([0., 0., 0.], dtype=float32)
    """

    name: str
    shape: tuple[int, ...]
    initializer: Callable


def _feature_shape(input_shape, input_dim) -> tuple[int, ...] | None:
    """The declared per-sample shape (no batch axis), checked: positive integers."""
    if input_dim is not None:
        input_shape = (input_dim,)
    if input_shape is None:
        return None
    shape = (input_shape,) if _checks.is_integer(input_shape) else tuple(input_shape)
    if not shape or not all(_checks.is_integer(d) and d >= 1 for d in shape):
        raise ValueError(
            "input_shape must be a tuple of positive integers without the batch "
            f"axis, e.g. (10,) or (28, 28). Received: input_shape={input_shape!r}"
        )
    return tuple(int(d) for d in shape)


def _activation_name(activation) -> str:
    """The name the kernels know (``activations.serialize`` gives it for names and functions)."""
    return activations.serialize(activations.get(activation))


class Layer:
    """Base layer: naming, build bookkeeping, weight access, hooks and the standalone call path.

    Parameters
    ----------
    name : str, optional
        Unique within a model; generated from the class name when omitted.
    input_shape : tuple of int, optional
        Per-sample shape (no batch axis) for the first layer of a model, e.g. ``(10,)``.
    input_dim : int, optional
        Legacy shorthand for ``input_shape=(input_dim,)``.
    dtype : str, optional
        Weight and activation dtype; a model sets its own.
    trainable : bool
        Stored for Keras compatibility.

    Examples
    --------
    >>> Dense(3, input_shape=(2,)).input_shape
    (None, 2)
    """

    def __init__(self, name=None, input_shape=None, input_dim=None, dtype=None, trainable=True):
        self.name = name or _unique_name(_snake(type(self).__name__))
        self._input_shape_arg = _feature_shape(input_shape, input_dim)
        self.dtype = np.dtype(dtype or "float32")
        self.trainable = trainable
        self.built = False
        self._in_features: tuple[int, ...] | None = None
        self._out_features: tuple[int, ...] | None = None
        self.grads: dict[str, object] = {}
        self._capacity = 0

    # --- shapes -------------------------------------------------------------------------------
    @property
    def input_width(self) -> int | None:
        """The declared flat input width (``input_shape=``), or None."""
        return None if self._input_shape_arg is None else math.prod(self._input_shape_arg)

    @property
    def input_dim(self) -> int | None:
        return None if self._in_features is None else math.prod(self._in_features)

    @property
    def output_dim(self) -> int | None:
        return None if self._out_features is None else math.prod(self._out_features)

    @property
    def input_shape(self) -> tuple:
        """``(None, *features)``: known once built or declared with ``input_shape=``."""
        features = self._in_features or self._input_shape_arg
        if features is None:
            raise AttributeError(
                f"Layer {self.name!r} has no defined input shape yet: build it "
                "or give it input_shape=(features,)."
            )
        return (None, *features)

    @property
    def output_shape(self) -> tuple:
        """``(None, *features)`` of the output, known once the input shape is."""
        return self.compute_output_shape(self.input_shape)

    def compute_output_shape(self, input_shape) -> tuple:
        """The output shape for ``input_shape`` (batch axis first); the identity by default."""
        return tuple(input_shape)

    def _check_flat(self, features: tuple[int, ...]):
        if len(features) != 1:
            raise ValueError(
                f"Layer {self.name!r} ({type(self).__name__}) expects inputs of "
                f"shape (batch, features). Received: per-sample shape {features}. "
                "Put a Flatten() layer before it."
            )

    def _set_input_shape(self, features: tuple[int, ...]):
        """Fix the per-sample input shape (checked against ``input_shape=``) and the output's."""
        features = tuple(int(d) for d in features)
        declared = self._input_shape_arg
        if declared is not None and features != declared:
            width = declared[0] if len(declared) == 1 else declared
            raise ValueError(
                f"Layer {self.name!r} expects inputs of per-sample shape {declared} "
                f"(width {width}). Received: shape {features}"
            )
        self._check_input(features)
        self._in_features = features
        self._out_features = tuple(self.compute_output_shape((None, *features))[1:])

    def _check_input(self, features: tuple[int, ...]):
        """Reject per-sample shapes this layer cannot take (flat inputs unless overridden)."""
        self._check_flat(features)

    # --- weights ------------------------------------------------------------------------------
    def weight_specs(self) -> list[WeightSpec]:
        """The weights this layer needs once its input shape is known (none by default)."""
        return []

    def build(self, input_shape, rng=None, dtype=None):
        """Create this layer's own weights for inputs of shape ``(batch, *features)`` or
        ``(features,)``.

        Parameters
        ----------
        input_shape : int or tuple
            A width, a 1-tuple of features, or a shape whose first axis is the batch.
        rng : int or numpy.random.Generator, optional
            Seeds the initializers.
        dtype : str, optional
            Overrides the layer's dtype.
        """
        if _checks.is_integer(input_shape):
            features = (int(input_shape),)
        else:
            shape = tuple(input_shape)
            features = shape if len(shape) == 1 else shape[1:]
        self._set_input_shape(features)
        self.dtype = np.dtype(dtype or self.dtype)
        rng = np.random.default_rng(rng)
        for spec in self.weight_specs():
            value = np.asarray(spec.initializer(spec.shape, dtype=self.dtype, rng=rng), self.dtype)
            setattr(self, spec.name, value)
            self.grads[spec.name] = np.zeros_like(value)
        self.on_build(rng)
        self.built = True

    def bind(self, weights: dict, grads: dict):
        """Point this layer's weights and gradients at views into a model's flat buffers."""
        for name, view in weights.items():
            setattr(self, name, view)
        self.grads = dict(grads)
        self.built = True

    @property
    def weights(self) -> list:
        """The weight arrays (kernel, bias for Dense); empty before build."""
        return [getattr(self, spec.name) for spec in self.weight_specs()] if self.built else []

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights as NumPy arrays (kernel, bias for Dense)."""
        return [to_numpy(w).copy() for w in self.weights]

    def set_weights(self, values) -> None:
        """Copy ``values`` (arrays in ``get_weights`` order and shapes) into the weights."""
        current = self.weights
        values = list(values)
        if len(values) != len(current):
            raise ValueError(
                f"set_weights on layer {self.name!r} expects {len(current)} arrays. "
                f"Received: {len(values)}"
            )
        for w, v in zip(current, values):
            v = np.asarray(v)
            if v.shape != w.shape:
                raise ValueError(
                    f"set_weights on layer {self.name!r}: expected shape {w.shape}. "
                    f"Received: shape {v.shape}"
                )
            if not np.all(np.isfinite(v)):
                raise ValueError(f"set_weights on layer {self.name!r}: values contain NaN or inf.")
        for w, v in zip(current, values):
            w[...] = array_module(w).asarray(v, dtype=w.dtype)

    def count_params(self) -> int:
        """Number of weight elements (0 before build)."""
        return int(sum(math.prod(s.shape) for s in self.weight_specs())) if self.built else 0

    # --- hooks a model calls instead of checking types ----------------------------------------
    def on_build(self, rng: np.random.Generator) -> None:
        """Draw what the layer needs from the model's generator when the model builds."""

    def on_fit_start(self, rng: np.random.Generator | None) -> None:
        """Restart random streams from ``rng`` at the start of a seeded ``fit`` (None: keep)."""

    def rng_state(self):
        """JSON-able state of the layer's random stream for backups (None: it has none)."""

    def set_rng_state(self, state) -> None:
        """Restore what ``rng_state`` returned."""

    @property
    def has_penalty(self) -> bool:
        """Whether ``regularization_penalty`` can be non-zero (a model skips the others)."""
        return False

    def regularization_penalty(self) -> float:
        """The layer's regularization loss (0.0 without regularizers)."""
        return 0.0

    def add_regularization_gradients(self) -> None:
        """Add the penalty's gradient to ``grads`` (after the data gradient is written)."""

    def work_size(self, batch_size: int) -> int:
        """Multiply-adds of a forward pass over ``batch_size`` rows (for the BLAS thread choice)."""
        return 0

    @property
    def fusable_activation(self) -> str | None:
        """The activation this layer applies last, which a loss may fold into its gradient."""
        return None

    # --- execution ----------------------------------------------------------------------------
    def prepare(self, batch_size: int, xp=np):
        """Preallocate per-batch buffers for up to ``batch_size`` rows."""
        self._capacity = batch_size

    def forward(self, x, training=False):
        """The output for a batch ``x`` (kept for ``backward``)."""
        raise NotImplementedError

    def backward(self, grad_y, need_grad_x=True, activation_fused=False):
        """dL/dx from dL/dy (dL/dz of the last activation when ``activation_fused``)."""
        raise NotImplementedError

    def __call__(self, x, training=False):
        """Standalone use: ``Dense(3)(x)`` builds the layer on first call and returns its output."""
        x = np.asarray(x) if not hasattr(x, "__cuda_array_interface__") else x
        if x.ndim < 2:
            raise ValueError(
                f"Layer {self.name!r} expects a batch (batch, features). Received: shape {x.shape}"
            )
        if not self.built:
            self.build(x.shape, dtype=x.dtype if x.dtype.kind == "f" else None)
        elif tuple(x.shape[1:]) != self._in_features:
            raise ValueError(
                f"Layer {self.name!r} expects inputs of per-sample shape "
                f"{self._in_features}. Received: shape {x.shape[1:]}"
            )
        return self.forward(x.astype(self.dtype, copy=False), training=training)

    def get_config(self) -> dict:
        """Constructor arguments (Keras key names) as JSON-able data."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}
        if self._input_shape_arg is not None:
            config["input_shape"] = self._input_shape_arg
        return config

    @classmethod
    def from_config(cls, config):
        """The layer ``get_config`` describes (unbuilt)."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}, built={self.built}>"


class InputLayer(Layer):
    """Declares the per-sample input shape, as ``keras.Input(shape=(10,))`` does.

    A ``Sequential`` keeps it apart from ``model.layers`` (as Keras does); it has no weights and
    passes data through unchanged.

    Parameters
    ----------
    shape : tuple of int
        Per-sample shape, e.g. ``(10,)``.
    batch_shape : tuple, optional
        Keras's alternative: the shape with the batch axis first (``(None, 10)``).

    Examples
    --------
    >>> InputLayer(shape=(4,)).batch_shape
    (None, 4)
    """

    def __init__(self, shape=None, batch_shape=None, **kwargs):
        if shape is None and batch_shape is not None:
            shape = tuple(batch_shape)[1:]
        if shape is not None:
            kwargs.setdefault("input_shape", shape)
        for unused in ("sparse", "ragged", "batch_size"):
            kwargs.pop(unused, None)
        super().__init__(**kwargs)
        if self._input_shape_arg is None:
            raise ValueError(
                "Input needs shape=(features,), e.g. Input(shape=(10,)). Received: shape=None"
            )
        self._set_input_shape(self._input_shape_arg)
        self.built = True

    def _check_input(self, features):
        pass  # any per-sample shape; the next layer says whether it can take it

    @property
    def batch_shape(self) -> tuple:
        return (None, *self._input_shape_arg)

    def forward(self, x, training=False):
        return x

    def backward(self, grad_y, need_grad_x=True, activation_fused=False):
        return grad_y

    def get_config(self):
        return {
            "batch_shape": self.batch_shape,
            "dtype": self.dtype.name,
            "sparse": False,
            "name": self.name,
        }

    def __repr__(self):
        return f"Input(shape={self._input_shape_arg}, name={self.name!r})"


def Input(shape, name=None, dtype=None):  # Keras's capitalised name
    """The first entry of a ``Sequential`` that fixes its per-sample input shape.

    Parameters
    ----------
    shape : tuple of int
        Per-sample shape, without the batch axis.
    name : str, optional
        The input's name.
    dtype : str, optional
        Stored for Keras compatibility (the model's dtype rules).

    Returns
    -------
    InputLayer

    Examples
    --------
    >>> Input(shape=(3,)).batch_shape
    (None, 3)
    """
    return InputLayer(shape=shape, name=name, dtype=dtype)


class Dense(Layer):
    """y = activation(x @ kernel + bias); kernel (d_in, units), bias (units,).

    As in Keras, inputs with more than two axes, ``(batch, ..., d_in)``, are transformed along
    their last axis: the output is ``(batch, ..., units)``.

    Parameters
    ----------
    units : int
        Output width.
    activation : str or callable, optional
        A name from ``nastoolkit.activations`` (None: linear).
    use_bias : bool
        Whether to add ``bias``.
    kernel_initializer, bias_initializer : str or initializer
        As in Keras (``"glorot_uniform"``, ``"zeros"``).
    kernel_regularizer, bias_regularizer : regularizer, optional
        Penalties added to the loss (their gradients go into ``grads``).
    **kwargs
        ``name``, ``input_shape``, ``dtype`` (see ``Layer``).

    Examples
    --------
    >>> layer = Dense(2, activation="relu")
    >>> layer(np.ones((4, 3))).shape
    (4, 2)
    """

    _kernels = kernels  # the dispatching front until prepare picks the device's module
    _row_capacity = 0  # rows of the 2-D product the buffers hold (prepare)

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _checks.positive_int("units", units, "Pass the output width, e.g. Dense(64).")
        self.activation = activations.get(activation)
        self.activation_name = _activation_name(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel = None
        self.bias = None
        # activations whose derivative needs the pre-activation z keep it (interface 1)
        self._keeps_z = self.activation_name in getattr(kernels, "NEEDS_PREACTIVATION", ())
        self._z = None  # the pre-activation, kept only when _keeps_z

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def _check_input(self, features):
        pass  # any rank: the last axis is transformed, the others are rows

    @property
    def _rows_per_sample(self) -> int:
        """Rows of the 2-D product per sample: 1 for flat inputs, e.g. 8 for (batch, 8, d_in)."""
        return math.prod(self._in_features[:-1])

    def weight_specs(self):
        width = self._in_features[-1]
        specs = [WeightSpec("kernel", (width, self.units), self.kernel_initializer)]
        if self.use_bias:
            specs.append(WeightSpec("bias", (self.units,), self.bias_initializer))
        return specs

    @property
    def fusable_activation(self):
        return self.activation_name

    def work_size(self, batch_size):
        return batch_size * self.input_dim * self.units

    def prepare(self, batch_size, xp=np):
        super().prepare(batch_size, xp)
        rows = self._row_capacity = batch_size * self._rows_per_sample
        self._out = xp.empty((rows, self.units), self.dtype)
        self._grad_x = xp.empty((rows, self._in_features[-1]), self.dtype)
        self._z_buf = xp.empty((rows, self.units), self.dtype) if self._keeps_z else None
        # the kernel module of the buffers' device, chosen once here rather than once per call
        self._kernels = kernels.implementation(self._out)

    def forward(self, x, training=False):
        if x.ndim > 2:  # (batch, ..., d_in): the 2-D product over all rows, then the shape back
            y = self.forward(x.reshape(-1, x.shape[-1]), training)
            return y.reshape(*x.shape[:-1], self.units)
        n = x.shape[0]
        prepared = n <= self._row_capacity
        self._x = x
        if self._keeps_z:
            self._z = (
                self._z_buf[:n] if prepared else array_module(x).empty((n, self.units), self.dtype)
            )
        self._y = (self._kernels if prepared else kernels).dense_forward(
            x,
            self.kernel,
            self.bias,
            self.activation_name,
            out=self._out[:n] if prepared else None,
            z_out=self._z,
        )
        return self._y

    def backward(self, grad_y, need_grad_x=True, activation_fused=False):
        """Writes dL/dkernel, dL/dbias (+ regularizer terms) into ``grads``; returns dL/dx.

        ``grad_y`` is dL/dy, or dL/dz (the pre-activation) when ``activation_fused``: the loss
        already folded this layer's activation into its gradient."""
        if grad_y.ndim > 2:
            grad_x = self.backward(grad_y.reshape(-1, self.units), need_grad_x, activation_fused)
            return None if grad_x is None else grad_x.reshape(*grad_y.shape[:-1], -1)
        n = grad_y.shape[0]
        prepared = n <= self._row_capacity
        activation = "linear" if activation_fused else self.activation_name
        grad_x, _, _ = (self._kernels if prepared else kernels).dense_backward(
            self._x,
            self.kernel,
            self._y,
            grad_y,
            activation,
            grad_kernel=self.grads["kernel"],
            grad_bias=self.grads.get("bias"),
            grad_x=self._grad_x[:n] if prepared else None,
            grad_z=grad_y if prepared else None,  # in a model grad_y is scratch we own
            need_grad_x=need_grad_x,
            use_bias=self.use_bias,
            z=None if activation_fused else self._z,
        )
        self.add_regularization_gradients()
        return grad_x

    @property
    def has_penalty(self) -> bool:
        return self.kernel_regularizer is not None or (
            self.use_bias and self.bias_regularizer is not None
        )

    def regularization_penalty(self):
        total = 0.0
        if self.kernel_regularizer is not None:
            total += float(self.kernel_regularizer(self.kernel))
        if self.bias_regularizer is not None and self.use_bias:
            total += float(self.bias_regularizer(self.bias))
        return total

    def add_regularization_gradients(self):
        if self.kernel_regularizer is not None:
            self.kernel_regularizer.add_gradient(self.kernel, self.grads["kernel"])
        if self.bias_regularizer is not None and self.use_bias:
            self.bias_regularizer.add_gradient(self.bias, self.grads["bias"])

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation_name,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("kernel_initializer", "bias_initializer"):
            if key in config:
                config[key] = initializers.deserialize(config[key])
        for key in ("kernel_regularizer", "bias_regularizer"):
            if key in config:
                config[key] = regularizers.deserialize(config[key])
        return cls(**config)

    def __repr__(self):
        return f"Dense({self.units}, activation={self.activation_name!r}, name={self.name!r})"


def _noise_shape(noise_shape) -> tuple | None:
    if noise_shape is None:
        return None
    shape = tuple(noise_shape) if isinstance(noise_shape, (tuple, list)) else None
    if not shape or not all(d is None or (_checks.is_integer(d) and d >= 1) for d in shape):
        raise ValueError(
            "noise_shape must be a tuple of positive integers or None, batch axis "
            f"first, e.g. (None, 1). Received: noise_shape={noise_shape!r}"
        )
    return tuple(None if d is None else int(d) for d in shape)


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``rate`` and scale the rest
    by 1 / (1 - rate), so the expected output equals the input; the identity in inference.

    Parameters
    ----------
    rate : float
        Drop probability in [0, 1).
    noise_shape : tuple, optional
        Shape of the mask, batch axis first, one entry per input axis, broadcast over the
        input as in Keras: an axis of size 1 shares one draw (``(None, 1)`` drops whole rows,
        ``(1, None)`` drops the same features in every row, ``(None, 1, None)`` drops the same
        features at every step of a (batch, steps, features) input); None entries take the
        input's size.
    seed : int, optional
        Seed of the mask stream (drawn from the model's seed when omitted).

    Examples
    --------
    >>> float(Dropout(0.5, seed=0)(np.ones((2, 4)), training=False).sum())
    8.0
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _checks.number_in(
            "rate",
            rate,
            0.0,
            1.0,
            high_open=True,
            fix="Pass the fraction of units to drop, e.g. 0.5.",
        )
        self.noise_shape = _noise_shape(noise_shape)
        self._seed_given = seed is not None
        self.seed = None if seed is None else int(seed) & 0xFFFFFFFF
        self.counter = 0
        self._mask = None

    def reseed(self, seed: int):
        """Restart the mask stream from ``seed`` (a model does this when a seeded fit starts)."""
        self.seed = int(seed) & 0xFFFFFFFF
        self.counter = 0

    def on_build(self, rng):
        if not self._seed_given:
            self.seed = int(rng.integers(2**32))
            self.counter = 0

    def on_fit_start(self, rng):
        if rng is not None:
            self.reseed(int(rng.integers(2**32)))

    def rng_state(self):
        return [self.seed, self.counter]

    def set_rng_state(self, state):
        self.seed, self.counter = int(state[0]), int(state[1])

    def _check_input(self, features):
        noise = self.noise_shape
        if noise is not None and (
            len(noise) != 1 + len(features)
            or any(d not in (None, 1, size) for d, size in zip(noise[1:], features))
        ):
            raise ValueError(
                f"noise_shape must broadcast to the input (batch, {', '.join(map(str, features))})"
                f": one entry per axis, each None, 1 or the axis's size. Received: "
                f"noise_shape={noise}"
            )

    def prepare(self, batch_size, xp=np):
        super().prepare(batch_size, xp)
        self._out = xp.empty((batch_size, self.input_dim), self.dtype)
        self._masks = None  # blocks are sized by the first training batch (see _block_mask)
        self._xp = xp

    def _block_mask(self, n):
        """This call's mask (rows :n) from the precomputed block, refilling it when needed."""
        if self._masks is None or self._masks.shape[1] < n:
            # masks for a block of steps at once: NumPy's per-call cost paid once per block
            self._block_len = max(1, min(32, 65_536 // (n * self.input_dim)))
            self._masks = self._xp.empty((self._block_len, n, self.input_dim), self.dtype)
            self._work = np.empty(self._masks.size, np.uint32) if self._xp is np else None
            self._block_start = self._block_seed = None
        pos = None if self._block_start is None else self.counter - self._block_start
        if pos is None or not 0 <= pos < self._block_len or self._block_seed != self.seed:
            kernels.dropout_masks(
                self._masks.shape[1],
                self.input_dim,
                self.rate,
                self.seed,
                self.counter,
                self._block_len,
                self.dtype,
                out=self._masks,
                work=self._work,
            )
            self._block_start, self._block_seed, pos = self.counter, self.seed, 0
        return self._masks[pos, :n]

    def _broadcast_mask(self, x):
        """A mask of ``noise_shape`` (None -> the input's size), broadcast by the multiply."""
        n = x.shape[0]
        shape = tuple(size if s is None else s for s, size in zip(self.noise_shape, x.shape))
        if shape[0] not in (1, n):
            raise ValueError(
                f"noise_shape {self.noise_shape} does not broadcast to a batch of "
                f"{n} rows; use None or 1 for the batch axis."
            )
        cols = math.prod(shape[1:])
        mask = kernels.dropout_masks(
            shape[0], cols, self.rate, self.seed, self.counter, 1, self.dtype
        )
        return array_module(x).asarray(mask[0].reshape(shape))

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        n = x.shape[0]
        out = self._out[:n] if n <= self._capacity else None
        if out is not None and x.ndim > 2:  # the flat buffers, seen in the input's shape
            out = out.reshape(x.shape)
        if self.noise_shape is not None:
            self._mask = self._broadcast_mask(x)
            out = array_module(x).multiply(x, self._mask, out=out)
        elif out is not None:
            mask = self._block_mask(n)
            self._mask = mask if x.ndim == 2 else mask.reshape(x.shape)
            out = array_module(x).multiply(x, self._mask, out=out)
        else:
            out, self._mask = kernels.dropout(x, self.rate, self.seed, self.counter)
        self.counter += 1
        return out

    def backward(self, grad_y, need_grad_x=True, activation_fused=False):
        if self._mask is None:
            return grad_y
        if grad_y.shape[0] <= self._capacity:
            grad_y *= self._mask  # grad_y is the next layer's scratch inside a model
            return grad_y
        return grad_y * self._mask

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed if self._seed_given else None,
            "noise_shape": self.noise_shape,
        }

    def __repr__(self):
        return f"Dropout({self.rate}, name={self.name!r})"


class Activation(Layer):
    """Applies an activation function elementwise (softmax: per row).

    Parameters
    ----------
    activation : str or callable
        A name from ``nastoolkit.activations``.

    Examples
    --------
    >>> Activation("relu")(np.array([[-1.0, 2.0]]))
    array([[0., 2.]])
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.activation_name = _activation_name(activation)
        self._keeps_z = self.activation_name in getattr(kernels, "NEEDS_PREACTIVATION", ())

    @property
    def fusable_activation(self):
        return self.activation_name

    def _check_input(self, features):
        pass  # elementwise (softmax: along the last axis), so any rank

    def prepare(self, batch_size, xp=np):
        super().prepare(batch_size, xp)
        self._out = xp.empty((batch_size, self.input_dim), self.dtype)

    def forward(self, x, training=False):
        n = x.shape[0]
        out = self._out[:n] if n <= self._capacity else None
        if out is not None and x.ndim > 2:  # the flat buffer, seen in the input's shape
            out = out.reshape(x.shape)
        self._x = x
        self._y = kernels.activation_forward(self.activation_name, x, out=out)
        return self._y

    def backward(self, grad_y, need_grad_x=True, activation_fused=False):
        if activation_fused:
            return grad_y  # the loss's gradient is already dL/dx of this activation
        out = grad_y if grad_y.shape[0] <= self._capacity else None
        z = self._x if self._keeps_z else None
        return kernels.activation_backward(self.activation_name, self._y, grad_y, out=out, z=z)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_name}

    def __repr__(self):
        return f"Activation({self.activation_name!r}, name={self.name!r})"


class Flatten(Layer):
    """Reshapes each sample to one axis: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...).

    As a model's first layer, ``Flatten(input_shape=(8, 8))`` lets the model take image arrays.

    Parameters
    ----------
    data_format : str, optional
        Accepted for Keras compatibility; samples are flattened in C order either way
        (``"channels_last"``, Keras's default).

    Examples
    --------
    >>> Flatten()(np.zeros((2, 3, 4))).shape
    (2, 12)
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(
                "Flatten supports data_format='channels_last' only. "
                f"Received: data_format={data_format!r}"
            )
        self.data_format = data_format or "channels_last"

    def _check_input(self, features):
        pass  # any per-sample shape

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        rest = shape[1:]
        return (shape[0], None if None in rest else math.prod(rest))

    def forward(self, x, training=False):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_y, need_grad_x=True, activation_fused=False):
        return grad_y.reshape(grad_y.shape[0], *self._shape[1:])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}

    def __repr__(self):
        return f"Flatten(name={self.name!r})"


_LAYERS = {
    "InputLayer": InputLayer,
    "Dense": Dense,
    "Dropout": Dropout,
    "Activation": Activation,
    "Flatten": Flatten,
}


def deserialize(config: dict) -> Layer:
    """Rebuild a layer from ``{"class_name": ..., "config": {...}}``.

    Parameters
    ----------
    config : dict
        A ``serialize`` result.

    Returns
    -------
    Layer
        A fresh, unbuilt layer.

    Examples
    --------
    >>> deserialize({"class_name": "Dense", "config": {"units": 2}}).units
    2
    """
    try:
        cls = _LAYERS[config["class_name"]]
    except KeyError:
        raise ValueError(
            f"Unknown layer class {config.get('class_name')!r}; expected one of {sorted(_LAYERS)}."
        ) from None
    return cls.from_config(config["config"])


def serialize(layer: Layer) -> dict:
    """``{"class_name": ..., "config": layer.get_config()}``.

    Parameters
    ----------
    layer : Layer
        The layer to describe.

    Returns
    -------
    dict
        JSON-ready: the class name and the layer's config.

    Examples
    --------
    >>> serialize(Flatten(name="f"))["class_name"]
    'Flatten'
    """
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def get(identifier) -> Layer:
    """A layer from an instance (returned as is) or a serialized dict.

    Parameters
    ----------
    identifier : Layer or dict
        An instance or a ``serialize`` dict.

    Returns
    -------
    Layer
        The layer.

    Examples
    --------
    >>> get({"class_name": "Dropout", "config": {"rate": 0.5}}).rate
    0.5
    """
    if isinstance(identifier, Layer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(f"Expected a Layer or a layer config dict. Received: {identifier!r}")
