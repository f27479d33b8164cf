"""Keras-style layers: ``Dense``, ``Dropout``, ``Activation``.

A layer stores its configuration in ``__init__``, learns its input width in ``build``, and runs
``forward``/``backward`` through ``nastoolkit.kernels``. Inside a model its weights and gradients
are views into the model's flat buffers (see ``bind``) and its outputs live in buffers preallocated
by ``prepare``, so a training step allocates nothing. Used on its own, ``layer(x)`` builds the layer
with arrays of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import activations, initializers, kernels, regularizers
from .backend import array_module, to_numpy

__all__ = ["Activation", "Dense", "Dropout", "Layer", "WeightSpec", "deserialize", "get"]

_name_counters: dict[str, itertools.count] = {}


def _unique_name(prefix: str) -> str:
    n = next(_name_counters.setdefault(prefix, itertools.count()))
    return prefix if n == 0 else f"{prefix}_{n}"


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


@dataclass(frozen=True)
class WeightSpec:
    """One weight tensor a layer needs: attribute name, shape and initializer callable."""

    name: str
    shape: tuple[int, ...]
    initializer: Callable


def _input_width(input_shape, input_dim) -> int | None:
    if input_dim is not None:
        input_shape = (input_dim,)
    if input_shape is None:
        return None
    shape = tuple(input_shape) if not isinstance(input_shape, int) else (input_shape,)
    if len(shape) != 1 or not isinstance(shape[0], (int, np.integer)) or shape[0] < 1:
        raise ValueError("input_shape must be a 1-tuple with a positive width, e.g. (10,). "
                         f"Received: input_shape={input_shape!r}")
    return int(shape[0])


class Layer:
    """Base layer: naming, build bookkeeping, weight access and the standalone call path."""

    def __init__(self, name=None, input_shape=None, input_dim=None, dtype=None, trainable=True):
        self.name = name or _unique_name(_snake(type(self).__name__))
        self.input_width = _input_width(input_shape, input_dim)
        self.dtype = np.dtype(dtype or "float32")
        self.trainable = trainable
        self.built = False
        self.input_dim: int | None = None
        self.output_dim: int | None = None
        self.grads: dict[str, object] = {}
        self._capacity = 0

    # --- shapes and weights -------------------------------------------------------------------
    def compute_output_dim(self, input_dim: int) -> int:
        return input_dim

    def weight_specs(self) -> list[WeightSpec]:
        return []

    def build(self, input_shape, rng=None, dtype=None):
        """Create this layer's own weights for input of shape (batch, d) or (d,)."""
        d = int(input_shape[-1]) if not isinstance(input_shape, int) else int(input_shape)
        self._set_dims(d)
        self.dtype = np.dtype(dtype or self.dtype)
        rng = np.random.default_rng(rng)
        for spec in self.weight_specs():
            value = np.asarray(spec.initializer(spec.shape, dtype=self.dtype, rng=rng), self.dtype)
            setattr(self, spec.name, value)
            self.grads[spec.name] = np.zeros_like(value)
        self.built = True

    def _set_dims(self, input_dim: int):
        if self.input_width is not None and input_dim != self.input_width:
            raise ValueError(f"Layer {self.name!r} expects inputs of width {self.input_width}. "
                             f"Received: width {input_dim}")
        self.input_dim = input_dim
        self.output_dim = self.compute_output_dim(input_dim)

    def bind(self, weights: dict, grads: dict):
        """Point this layer's weights and gradients at views into a model's flat buffers."""
        for name, view in weights.items():
            setattr(self, name, view)
        self.grads = dict(grads)
        self.built = True

    @property
    def weights(self) -> list:
        return [getattr(self, spec.name) for spec in self.weight_specs()] if self.built else []

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights as NumPy arrays (kernel, bias for Dense)."""
        return [to_numpy(w).copy() for w in self.weights]

    def set_weights(self, values) -> None:
        """Copy ``values`` (arrays in ``get_weights`` order and shapes) into the weights in place."""
        current = self.weights
        values = list(values)
        if len(values) != len(current):
            raise ValueError(f"set_weights on layer {self.name!r} expects {len(current)} arrays. "
                             f"Received: {len(values)}")
        for w, v in zip(current, values):
            v = np.asarray(v)
            if v.shape != w.shape:
                raise ValueError(f"set_weights on layer {self.name!r}: expected shape {w.shape}. "
                                 f"Received: shape {v.shape}")
            if not np.all(np.isfinite(v)):
                raise ValueError(f"set_weights on layer {self.name!r}: values contain NaN or inf.")
        for w, v in zip(current, values):
            w[...] = array_module(w).asarray(v, dtype=w.dtype)

    def count_params(self) -> int:
        return int(sum(int(np.prod(s.shape)) for s in self.weight_specs())) if self.built else 0

    # --- regularization -----------------------------------------------------------------------
    def regularization_penalty(self) -> float:
        return 0.0

    def add_regularization_gradients(self) -> None:
        pass

    # --- execution ----------------------------------------------------------------------------
    def prepare(self, batch_size: int, xp=np):
        """Preallocate per-batch buffers for up to ``batch_size`` rows."""
        self._capacity = batch_size

    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, grad_y, need_grad_x=True):
        raise NotImplementedError

    def __call__(self, x, training=False):
        """Standalone use: ``Dense(3)(x)`` builds the layer on first call and returns its output."""
        x = np.asarray(x) if not hasattr(x, "__cuda_array_interface__") else x
        if x.ndim != 2:
            raise ValueError(f"Layer {self.name!r} expects a 2-D input (batch, features). "
                             f"Received: shape {x.shape}")
        if not self.built:
            self.build(x.shape, dtype=x.dtype if x.dtype.kind == "f" else None)
        return self.forward(x.astype(self.dtype, copy=False), training=training)

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}
        if self.input_width is not None:
            config["input_shape"] = (self.input_width,)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}, built={self.built}>"


class InputLayer(Layer):
    """Declares the input width, as ``keras.Input(shape=(10,))`` does as a model's first entry.

    It has no weights and passes data through unchanged."""

    def __init__(self, shape=None, **kwargs):
        if shape is not None:
            kwargs.setdefault("input_shape", shape)
        super().__init__(**kwargs)
        if self.input_width is None:
            raise ValueError("Input needs shape=(features,), e.g. Input(shape=(10,)). "
                             "Received: shape=None")

    def forward(self, x, training=False):
        return x

    def backward(self, grad_y, need_grad_x=True):
        return grad_y

    def __repr__(self):
        return f"Input(shape=({self.input_width},), name={self.name!r})"


def Input(shape, name=None):  # noqa: N802  (Keras's name)
    """``Input(shape=(features,))``: the first entry of a ``Sequential`` that fixes its width."""
    return InputLayer(shape=shape, name=name)


def _positive_int(value, argument):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{argument} must be a positive integer. Received: {argument}={value!r}")
    return int(value)


class Dense(Layer):
    """y = activation(x @ kernel + bias); kernel (d_in, units), bias (units,)."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = _positive_int(units, "units")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel = None
        self.bias = None
        # set by a model whose loss folds this (output) layer's activation gradient into its own
        self.loss_fuses_activation = False

    def compute_output_dim(self, input_dim):
        return self.units

    def weight_specs(self):
        specs = [WeightSpec("kernel", (self.input_dim, self.units), self.kernel_initializer)]
        if self.use_bias:
            specs.append(WeightSpec("bias", (self.units,), self.bias_initializer))
        return specs

    def prepare(self, batch_size, xp=np):
        super().prepare(batch_size, xp)
        self._out = xp.empty((batch_size, self.units), self.dtype)
        self._grad_x = xp.empty((batch_size, self.input_dim), self.dtype)

    def forward(self, x, training=False):
        n = x.shape[0]
        out = self._out[:n] if n <= self._capacity else None
        self._x = x
        self._y = kernels.dense_forward(x, self.kernel, self.bias, self.activation.name, out=out)
        return self._y

    def backward(self, grad_y, need_grad_x=True):
        """Writes dL/dkernel, dL/dbias (+ regularizer terms) into ``grads``; returns dL/dx.

        ``grad_y`` is dL/dy, or dL/dz (pre-activation) when ``loss_fuses_activation`` is set."""
        n = grad_y.shape[0]
        prepared = n <= self._capacity
        activation = "linear" if self.loss_fuses_activation else self.activation.name
        grad_x, _, _ = kernels.dense_backward(
            self._x, self.kernel, self._y, grad_y, activation,
            grad_kernel=self.grads["kernel"], grad_bias=self.grads.get("bias"),
            grad_x=self._grad_x[:n] if prepared else None,
            grad_z=grad_y if prepared else None,  # in a model grad_y is scratch we own
            need_grad_x=need_grad_x, use_bias=self.use_bias)
        self.add_regularization_gradients()
        return grad_x

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
        return {**super().get_config(), "units": self.units,
                "activation": self.activation.name, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("kernel_initializer", "bias_initializer"):
            config[key] = initializers.deserialize(config[key])
        for key in ("kernel_regularizer", "bias_regularizer"):
            config[key] = regularizers.deserialize(config[key])
        return cls(**config)

    def __repr__(self):
        return f"Dense({self.units}, activation={self.activation.name!r}, name={self.name!r})"


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``rate`` and scale the rest
    by 1 / (1 - rate), so the expected output equals the input; the identity in inference."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)) \
                or not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"rate must be a number in [0, 1). Received: rate={rate!r}")
        if noise_shape is not None:
            raise ValueError("noise_shape is not supported (masks are per element). "
                             f"Received: noise_shape={noise_shape!r}")
        self.rate = float(rate)
        self.seed = seed
        self.counter = 0
        self._mask = None

    def reseed(self, seed: int):
        """Restart the mask stream from ``seed`` (a model does this at the start of a seeded fit)."""
        self.seed = int(seed) & 0xFFFFFFFF
        self.counter = 0

    def build(self, input_shape, rng=None, dtype=None):
        super().build(input_shape, rng=rng, dtype=dtype)
        if self.seed is None:
            self.seed = int(np.random.default_rng(rng).integers(2**32))

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
            kernels.dropout_masks(self._masks.shape[1], self.input_dim, self.rate, self.seed,
                                  self.counter, self._block_len, self.dtype, out=self._masks,
                                  work=self._work)
            self._block_start, self._block_seed, pos = self.counter, self.seed, 0
        return self._masks[pos, :n]

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        n = x.shape[0]
        if n <= self._capacity:
            self._mask = self._block_mask(n)
            out = array_module(x).multiply(x, self._mask, out=self._out[:n])
        else:
            out, self._mask = kernels.dropout(x, self.rate, self.seed, self.counter)
        self.counter += 1
        return out

    def backward(self, grad_y, need_grad_x=True):
        if self._mask is None:
            return grad_y
        if grad_y.shape[0] <= self._capacity:
            grad_y *= self._mask  # grad_y is the next layer's scratch inside a model
            return grad_y
        return grad_y * self._mask

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

    def __repr__(self):
        return f"Dropout({self.rate}, name={self.name!r})"


class Activation(Layer):
    """Applies an activation function elementwise (softmax: per row)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def prepare(self, batch_size, xp=np):
        super().prepare(batch_size, xp)
        self._out = xp.empty((batch_size, self.input_dim), self.dtype)

    def forward(self, x, training=False):
        n = x.shape[0]
        out = self._out[:n] if n <= self._capacity else None
        self._y = kernels.activation_forward(self.activation.name, x, out=out)
        return self._y

    def backward(self, grad_y, need_grad_x=True):
        out = grad_y if grad_y.shape[0] <= self._capacity else None
        return kernels.activation_backward(self.activation.name, self._y, grad_y, out=out)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation.name}

    def __repr__(self):
        return f"Activation({self.activation.name!r}, name={self.name!r})"


_LAYERS = {"InputLayer": InputLayer, "Dense": Dense, "Dropout": Dropout, "Activation": Activation}


def deserialize(config: dict) -> Layer:
    """Rebuild a layer from ``{"class_name": ..., "config": {...}}``."""
    try:
        cls = _LAYERS[config["class_name"]]
    except KeyError:
        raise ValueError(f"Unknown layer class {config.get('class_name')!r}; "
                         f"expected one of {sorted(_LAYERS)}.") from None
    return cls.from_config(config["config"])


def serialize(layer: Layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def get(identifier) -> Layer:
    if isinstance(identifier, Layer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(f"Expected a Layer or a layer config dict. Received: {identifier!r}")
