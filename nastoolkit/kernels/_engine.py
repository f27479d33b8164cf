"""Compiled training engine for small MLPs: whole epochs of ``Sequential`` training in C++.

A NumPy training step of a small MLP is ~65-90 us, of which ~5 us is arithmetic; the rest is
Python between kernels. ``train_epoch`` runs a whole epoch (or a chunk of batches) in one call to
``csrc/cpu/engine.cpp``, which does what ``Sequential.train_step`` does, step by step and in the
same order: the batch rows given by Python, each layer's forward (register-blocked GEMMs with the
bias and activation fused; dropout with the counter-hash bits of ``kernels.dropout_masks``), the
loss gradient (fused with the softmax/sigmoid where the NumPy path fuses), the backward pass into
the model's flat gradient buffer with L1/L2 terms, and one optimizer update over the flat buffer
with the element rules of ``csrc/optim.cuh``, writing into the model's parameters, its optimizer's
state buffers and its dropout counters. Results agree with the NumPy path to float32 rounding.

- Build: as ``_native`` (g++ ``-O3 -march=native -ffp-contract=off``, cached by a hash of the
  sources, flags, compiler and CPU, loaded with ctypes); ``NASTOOLKIT_ENGINE=0`` disables it.
- ``unsupported_reason(model)`` says why a model cannot run here (None when it can): the layers
  Dense/Dropout/Activation/Flatten, every activation, MSE/MAE/Huber and the cross-entropies
  (fused or from logits), L1/L2, SGD/momentum/Nesterov/Adam/AdamW/RMSprop/Adagrad with schedules,
  NumPy float32/float64 parameters. ``reason()`` says why the library itself is unavailable.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import tempfile
import threading
from dataclasses import dataclass

import numpy as np

from . import _native, _numpy, _sources

__all__ = ["ACTIVATION_CODES", "EnginePlan", "available", "plan", "reason", "train_epoch",
           "unsupported_reason"]

ENV_SWITCH = "NASTOOLKIT_ENGINE"
SOURCE = "cpu/engine.cpp"
HEADERS = ("common.cuh", "activations.cuh", "dropout.cuh", "optim.cuh", "cpu_shim.h")
FLAGS = ("-std=c++17", "-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "-fPIC",
         "-shared", "-Wall", "-Wextra", "-Werror")

#: activation name -> code of csrc/activations.cuh (softmax: the engine's row operation, 13)
ACTIVATION_CODES = {"linear": 0, "relu": 1, "tanh": 2, "sigmoid": 3, "leaky_relu": 4, "elu": 5,
                    "selu": 6, "gelu": 7, "silu": 8, "swish": 8, "softplus": 9, "softsign": 10,
                    "hard_sigmoid": 11, "exponential": 12, "softmax": 13}
_DENSE, _DROPOUT, _ACTIVATION = 0, 1, 2
_LOSS_CODES = {"MeanSquaredError": 0, "MeanAbsoluteError": 1, "Huber": 2,
               "BinaryCrossentropy": 3, "CategoricalCrossentropy": 4,
               "SparseCategoricalCrossentropy": 5}
_ON_OUTPUTS, _FUSED, _LOGITS = 0, 1, 2
_REDUCTIONS = {"sum_over_batch_size": 0, "mean": 0, "sum": 1, "mean_with_sample_weight": 2}
_SGD, _MOMENTUM, _ADAM, _RMSPROP, _ADAGRAD = range(5)

_LAYER_DTYPE = np.dtype([("i", "<i8", (10,)), ("d", "<f8", (6,))])
_LOSS_DTYPE = np.dtype([("i", "<i8", (4,)), ("d", "<f8", (4,))])
_OPT_DTYPE = np.dtype([("i", "<i8", (4,)), ("d", "<f8", (8,))])

# --- build and load (the recipe of _native, one more source) ---------------------------------

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_failure: str | None = None


def _compiler() -> str | None:
    return _native._compiler()


def _build(extra_flags: tuple[str, ...] = (), tag: str = "") -> ctypes.CDLL:
    """Compile (or reuse the cached) engine library and load it; RuntimeError with the cause."""
    compiler = _compiler()
    if compiler is None:
        raise RuntimeError("no C++ compiler found (set $CXX or install g++)")
    csrc = _sources.csrc_dir()
    flags = (*FLAGS, *extra_flags)
    key = _sources.fingerprint((SOURCE, *HEADERS), " ".join(flags),
                               _native._compiler_version(compiler), _native._cpu_signature())
    target = _native._cache_dir() / f"nastoolkit_engine{tag}_{key}.so"
    if not target.exists():
        fd, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        command = [compiler, *flags, "-include", str(csrc / "cpu_shim.h"), str(csrc / SOURCE),
                   "-o", partial]
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False,
                                    timeout=300)
            if result.returncode != 0:
                raise RuntimeError(f"g++ failed ({' '.join(command)}): "
                                   f"{result.stderr.strip()[-800:]}")
            os.replace(partial, target)  # atomic: a concurrent process sees all or nothing
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
    library = ctypes.CDLL(str(target))
    _declare(library)
    return library


def _declare(library: ctypes.CDLL) -> None:
    p, n = ctypes.c_void_p, ctypes.c_longlong
    for suffix in ("f32", "f64"):
        function = getattr(library, f"nk_engine_epoch_{suffix}")
        function.argtypes = (p, n, p, p, p, p, n, p, p, p, n, p, p, n, p, p, n, n, p, p, p,
                             ctypes.c_int)
        function.restype = n


def _load() -> ctypes.CDLL | None:
    global _library, _failure
    if _library is not None or _failure is not None:
        return _library
    with _lock:
        if _library is None and _failure is None:
            if os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
                _failure = f"disabled by ${ENV_SWITCH}={os.environ[ENV_SWITCH]}"
            else:
                try:
                    _library = _build()
                except Exception as exc:  # noqa: BLE001  (any failure means: stay on NumPy)
                    _failure = f"{type(exc).__name__}: {exc}"
    return _library


def _reset() -> None:
    """Forget the loaded library and any failure (tests; the next call builds or loads again)."""
    global _library, _failure
    with _lock:
        _library, _failure = None, None


def available() -> bool:
    """True when the compiled engine can be used (builds it on first call).

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    return _load() is not None


def reason() -> str:
    """Why ``available()`` is False, or where the library was loaded from.

    Examples
    --------
    >>> isinstance(reason(), str)
    True
    """
    library = _load()
    return library._name if library is not None else str(_failure)


# --- what the engine supports, as one plan per model -------------------------------------------


@dataclass
class EnginePlan:
    """The compiled description of a model: layer, loss and optimizer specs and state buffers.

    Built by ``plan(model)``; valid while the model's buffers and optimizer state stay the same
    objects (``train_epoch`` re-plans each call, which costs microseconds).
    """

    layers: np.ndarray
    loss: np.ndarray
    optimizer: np.ndarray
    state: tuple
    dropouts: list
    fused: bool
    smoothing: float
    smoothing_share: float
    in_dim: int
    out_dim: int
    labels: bool


class Unsupported(Exception):
    """A piece of the model the engine does not run (the message says which and why)."""


def _offset(params: np.ndarray, view: np.ndarray) -> int:
    delta = view.__array_interface__["data"][0] - params.__array_interface__["data"][0]
    return delta // params.itemsize


def _regularizer_strengths(regularizer) -> tuple[float, float]:
    from .. import regularizers

    if regularizer is None:
        return 0.0, 0.0
    cls = type(regularizer)
    if not (isinstance(regularizer, regularizers.Regularizer)
            and cls.__call__ is regularizers.Regularizer.__call__
            and cls.add_gradient is regularizers.Regularizer.add_gradient):
        raise Unsupported(f"regularizer {cls.__name__} (only L1, L2 and L1L2 are compiled)")
    return float(regularizer.l1), float(regularizer.l2)


def _layer_specs(model) -> tuple[np.ndarray, list]:
    from .. import layers as layers_module

    specs, dropouts = [], []
    for layer in model._layers:
        cls = type(layer)
        spec = np.zeros((), _LAYER_DTYPE)
        spec["i"][1] = layer.input_dim
        spec["i"][2] = layer.output_dim
        if cls is layers_module.Flatten:
            continue  # a reshape: the engine works on flat rows
        if cls is layers_module.Dense:
            name = layer.activation_name
            if name not in ACTIVATION_CODES:
                raise Unsupported(f"activation {name!r} of layer {layer.name!r}")
            spec["i"][0] = _DENSE
            spec["i"][3] = ACTIVATION_CODES[name]
            spec["i"][4] = int(layer.use_bias)
            spec["i"][5] = _offset(model.params, layer.kernel)
            spec["i"][6] = _offset(model.params, layer.bias) if layer.use_bias else 0
            spec["d"][1:3] = _regularizer_strengths(layer.kernel_regularizer)
            if layer.use_bias:
                spec["d"][3:5] = _regularizer_strengths(layer.bias_regularizer)
        elif cls is layers_module.Dropout:
            if layer.noise_shape is not None:
                raise Unsupported(f"Dropout {layer.name!r} with noise_shape (a broadcast mask)")
            if layer.rate == 0.0:
                continue  # the identity, and its counter does not advance (as on the NumPy path)
            spec["i"][0] = _DROPOUT
            spec["i"][7] = int(layer.seed) & 0xFFFFFFFF
            spec["i"][9] = _numpy.dropout_threshold(layer.rate)
            spec["d"][0] = 1.0 / (1.0 - layer.rate)
            dropouts.append((layer, len(specs)))
        elif cls is layers_module.Activation:
            name = layer.activation_name
            if name not in ACTIVATION_CODES:
                raise Unsupported(f"activation {name!r} of layer {layer.name!r}")
            spec["i"][0] = _ACTIVATION
            spec["i"][3] = ACTIVATION_CODES[name]
        else:
            raise Unsupported(f"layer {layer.name!r} of type {cls.__name__}")
        specs.append(spec)
    if not specs:
        raise Unsupported("a model of reshapes only (no Dense, Dropout or Activation layer)")
    return np.array(specs, _LAYER_DTYPE), dropouts


def _loss_spec(model, loss) -> tuple[np.ndarray, bool, float, float]:
    from .. import losses

    name = type(loss).__name__
    if name not in _LOSS_CODES or type(loss) is not getattr(losses, name):
        raise Unsupported(f"loss {type(loss).__name__} (compiled: {', '.join(_LOSS_CODES)})")
    if loss.reduction not in _REDUCTIONS:
        raise Unsupported(f"loss reduction {loss.reduction!r} (a per-sample vector)")
    spec = np.zeros((), _LOSS_DTYPE)
    spec["i"][0] = _LOSS_CODES[name]
    spec["i"][2] = _REDUCTIONS[loss.reduction]
    fused = model._fuses_activation(loss)
    if fused:
        spec["i"][1] = _FUSED
    elif getattr(loss, "from_logits", False):
        spec["i"][1] = _LOGITS
    elif spec["i"][0] >= _LOSS_CODES["BinaryCrossentropy"]:
        raise Unsupported(f"{name} on probabilities without its fused output activation "
                          f"({loss.fused_activation}); use from_logits=True or end the model "
                          f"with activation={loss.fused_activation!r}")
    if name == "Huber":
        spec["d"][0] = float(loss.delta)
    smoothing = float(getattr(loss, "label_smoothing", 0.0) or 0.0)
    share = 0.5 if name == "BinaryCrossentropy" else 1.0 / model.output_dim
    return spec, fused, smoothing, share


def _optimizer_spec(model, optimizer) -> tuple[np.ndarray, tuple]:
    from .. import optimizers

    cls = type(optimizer)
    if cls not in (optimizers.SGD, optimizers.Adam, optimizers.AdamW, optimizers.RMSprop,
                   optimizers.Adagrad):
        raise Unsupported(f"optimizer {cls.__name__}")
    optimizer.build([model.params])
    state = optimizer._slot_of(model.params).state
    spec = np.zeros((), _OPT_DTYPE)
    spec["d"][0] = float(optimizer.weight_decay or 0.0)
    if cls is optimizers.SGD:
        if state.velocity is None:
            spec["i"][0], buffers = _SGD, (None, None)
        else:
            spec["i"][0], buffers = _MOMENTUM, (state.velocity, None)
            spec["i"][1] = int(optimizer.nesterov)
            spec["d"][1] = optimizer.momentum
    elif cls in (optimizers.Adam, optimizers.AdamW):
        spec["i"][0], buffers = _ADAM, (state.m, state.v)
        spec["d"][1:4] = optimizer.beta_1, optimizer.beta_2, optimizer.epsilon
    elif cls is optimizers.RMSprop:
        spec["i"][0], buffers = _RMSPROP, (state.v, state.velocity)
        spec["i"][1] = int(state.velocity is not None)
        spec["d"][1:4] = optimizer.rho, optimizer.epsilon, optimizer.momentum
    else:
        spec["i"][0], buffers = _ADAGRAD, (state.accumulator, None)
        spec["d"][1] = optimizer.epsilon
    return spec, buffers


def plan(model) -> EnginePlan:
    """The engine's description of a compiled, built ``Sequential``; ``Unsupported`` (with the
    piece named) when a part of it has no compiled form.

    Examples
    --------
    >>> from nastoolkit.models import Sequential
    >>> from nastoolkit.layers import Dense
    >>> model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    >>> model.compile(optimizer="adam", loss="mse")
    >>> plan(model).out_dim
    2
    """
    if model._compiled is None or not model.built:
        raise Unsupported("the model must be built and compiled")
    if type(model.params) is not np.ndarray:
        raise Unsupported("parameters on the GPU (the engine is a CPU path)")
    if model.params.dtype not in (np.float32, np.float64):
        raise Unsupported(f"dtype {model.params.dtype} (float32 or float64 only)")
    layer_specs, dropouts = _layer_specs(model)
    loss_spec, fused, smoothing, share = _loss_spec(model, model._compiled.loss)
    opt_spec, state = _optimizer_spec(model, model._compiled.optimizer)
    from .. import losses

    return EnginePlan(layer_specs, loss_spec, opt_spec, state, dropouts, fused, smoothing, share,
                      model.input_dim, model.output_dim,
                      isinstance(model._compiled.loss, losses.SparseCategoricalCrossentropy))


def unsupported_reason(model) -> str | None:
    """Why ``model`` cannot train in the engine (None when it can), including an unavailable
    library.

    Examples
    --------
    >>> from nastoolkit.models import Sequential
    >>> from nastoolkit.layers import Dense
    >>> model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    >>> model.compile(optimizer="adam", loss="mse")
    >>> unsupported_reason(model) is None or not available()
    True
    """
    if not available():
        return f"the compiled engine is unavailable: {reason()}"
    try:
        plan(model)
    except Unsupported as exc:
        return f"not compiled: {exc}"
    return None


def _checked(name: str, array, dtype, shape) -> np.ndarray:
    """Validate before calling into C: wrong memory in C is a crash, not an exception."""
    if type(array) is not np.ndarray or array.dtype != dtype:
        raise TypeError(f"{name} must be a NumPy array of dtype {np.dtype(dtype)}. Received: "
                        f"{type(array).__name__} of dtype {getattr(array, 'dtype', None)}")
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}. Received: {array.shape}")
    if not (array.flags.c_contiguous and array.flags.aligned):
        raise ValueError(f"{name} must be C-contiguous; pass np.ascontiguousarray({name}).")
    return array


def train_epoch(model, x, y, order, batch_size: int, sample_weight=None, predictions=None):
    """Train ``model`` in place over the rows ``order`` in batches, in one compiled call.

    Exactly what ``model.train_step(x[b], y[b], sample_weight[b])`` does for each batch ``b`` of
    ``order`` (consecutive slices of ``batch_size``), to float32 rounding: the parameters, the
    optimizer's state and ``iterations``, and the dropout layers' counters advance as there.

    Parameters
    ----------
    model : Sequential
        Built and compiled, with ``unsupported_reason(model) is None``.
    x : numpy.ndarray
        (n, *features) inputs in the model's dtype.
    y : numpy.ndarray
        Targets as ``loss.check_targets`` gives them: (n, outputs) in the model's dtype, or
        (n,) int64 labels for SparseCategoricalCrossentropy.
    order : array of int
        Row indices in training order (a permutation, or any rows in [0, n)).
    batch_size : int
        Rows per step (the last batch may be shorter).
    sample_weight : numpy.ndarray, optional
        (n,) weights in the model's dtype.
    predictions : numpy.ndarray, optional
        (len(order), outputs) buffer that receives each step's predictions in batch order
        (for the metrics).

    Returns
    -------
    numpy.ndarray
        The loss of each step run (data + regularization). A non-finite loss ends the call:
        that step is the last entry and updated nothing, as ``train_step`` does.

    Examples
    --------
    >>> from nastoolkit.models import Sequential
    >>> from nastoolkit.layers import Dense
    >>> model = Sequential([Dense(1, input_shape=(2,))], seed=0)
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x, y = np.ones((8, 2), np.float32), np.zeros((8, 1), np.float32)
    >>> losses = train_epoch(model, x, y, np.arange(8), batch_size=4)
    >>> len(losses), bool(losses[1] < losses[0]) or not available()
    (2, True)
    """
    library = _load()
    if library is None:
        raise RuntimeError(f"the compiled engine is unavailable: {_failure}")
    spec = plan(model)
    dtype = model.params.dtype
    n = len(x) if hasattr(x, "__len__") else 0
    x = _checked("x", x, dtype, (n, *model._features))
    if spec.labels:
        y = _checked("y", y, np.int64, (n,))
        labels, targets = y, None
    else:
        y = _checked("y", y, dtype, (n, spec.out_dim))
        if spec.smoothing:  # the expression of losses._ProbabilisticLoss._targets, once
            y = np.ascontiguousarray(y * (1.0 - spec.smoothing) + spec.smoothing
                                     * spec.smoothing_share)
        labels, targets = None, y
    if sample_weight is not None:
        sample_weight = _checked("sample_weight", sample_weight, dtype, (n,))
    order = np.ascontiguousarray(order, dtype=np.int64)
    if order.ndim != 1 or order.size == 0:
        raise ValueError(f"order must be a non-empty 1-D array of row indices. Received: shape "
                         f"{order.shape}")
    if order.min() < 0 or order.max() >= n:
        raise ValueError(f"order must hold row indices in [0, {n}). Received: indices in "
                         f"[{order.min()}, {order.max()}]")
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer. Received: {batch_size}")
    if predictions is not None:
        predictions = _checked("predictions", predictions, dtype, (order.size, spec.out_dim))
    steps = -(-order.size // batch_size)
    optimizer = model._compiled.optimizer
    if optimizer._schedule is None:
        lrs = np.full(steps, float(optimizer.learning_rate))
    else:
        lrs = np.array([optimizer._learning_rate_at(optimizer.iterations + s)
                        for s in range(steps)], np.float64)
    spec.optimizer["i"][2] = optimizer.iterations
    for layer, index in spec.dropouts:
        spec.layers[index]["i"][8] = layer.counter
    losses = np.empty(steps, np.float64)
    s0, s1 = spec.state

    def ptr(array):
        return None if array is None else array.ctypes.data

    suffix = "f32" if dtype == np.float32 else "f64"
    done = getattr(library, f"nk_engine_epoch_{suffix}")(
        ptr(spec.layers), len(spec.layers), ptr(spec.loss), ptr(spec.optimizer),
        ptr(model.params), ptr(model.grads), model.params.size, ptr(s0), ptr(s1),
        ptr(x), spec.in_dim, ptr(targets), ptr(labels), spec.out_dim, ptr(sample_weight),
        ptr(order), order.size, batch_size, ptr(lrs), ptr(losses), ptr(predictions),
        int(spec.fused))
    if done < 0:
        raise MemoryError("the compiled engine could not allocate its scratch buffers")
    losses = losses[:done]
    updated = done - (0 if done == 0 or np.isfinite(losses[-1]) else 1)
    optimizer.iterations += updated
    for layer, _ in spec.dropouts:
        layer.counter += done
    return losses
