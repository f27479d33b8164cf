"""Train a ``Sequential`` in the compiled engine (``kernels._engine``): whole epochs in one call.

``plan(model)`` writes a compiled, built model as the engine's records (layers, loss, optimizer)
or raises ``Unsupported`` naming the piece that has no compiled form; ``unsupported_reason``
says the same as text (None when the model runs compiled). ``train_epoch(model, x, y, order,
batch_size)`` then does, in one call, what ``model.train_step`` does for each batch of ``order``:
the same batch order, dropout bits, loss gradient (fused where the NumPy path fuses) and
optimizer rules, into the model's own buffers, optimizer state and dropout counters, so the
results agree with the NumPy path to float32 rounding.

Populations: ``train_population(models, x, y, ...)`` trains models on shared batches;
``fit_population(jobs, x, y, epochs)`` runs several ``fit`` calls (each ``FitJob`` with its own
rows, seed, batch size and epoch callbacks), each epoch of all of them in one compiled call, and
leaves every model exactly as its own ``fit`` through the engine would (the NAS evaluators train
a generation this way). ``fit_path``/``describe`` say which path ``fit`` takes and why.

Compiled: Dense, Dropout (without ``noise_shape``), Activation and Flatten layers; every
activation; MeanSquaredError, MeanAbsoluteError, Huber, and the binary, categorical and sparse
categorical cross-entropies (with their fused output activation or ``from_logits=True``, label
smoothing, every reduction except "none"); L1/L2/L1L2 regularizers; SGD (momentum, Nesterov),
Adam, AdamW, RMSprop (momentum), Adagrad, with weight decay and learning-rate schedules; sample
weights; float32 and float64 parameters on the NumPy backend.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import os
from dataclasses import dataclass, field

import numpy as np

from . import layers as layers_module
from . import losses, optimizers, regularizers
from .kernels import _cuda_fused, _engine, _numpy

__all__ = [
    "ENGINE_MAX_STEP_MACS",
    "FIT_SWITCH",
    "EnginePlan",
    "FitJob",
    "PopulationResult",
    "Unsupported",
    "describe",
    "fit_epoch",
    "fit_path",
    "fit_plan",
    "fit_population",
    "fit_reason",
    "numpy_path",
    "plan",
    "predict",
    "train_epoch",
    "train_population",
    "unsupported_reason",
    "validation_outputs",
]


class Unsupported(ValueError):
    """A piece of a model that the compiled engine does not run (the message names it)."""


@dataclass
class EnginePlan:
    """A model as the engine's records, with its state buffers and the layers it must advance.

    Attributes
    ----------
    layers, loss, optimizer : numpy.ndarray
        ``kernels._engine`` records (LAYER_DTYPE array, LOSS_DTYPE, OPTIMIZER_DTYPE).
    state : tuple
        The optimizer's state buffers for the model's flat parameters.
    dropouts : list of (Dropout, int)
        Each dropout layer and its record's index (their counters advance per step).
    fused : bool
        The loss gradient folds the output activation (softmax/sigmoid + cross-entropy).
    smoothing, smoothing_share : float
        Label smoothing ``y (1 - s) + s share``, applied to the targets once per call.
    """

    layers: np.ndarray
    loss: np.ndarray
    optimizer: np.ndarray
    state: tuple
    dropouts: list
    fused: bool
    smoothing: float
    smoothing_share: float


def _offset(base: int, itemsize: int, view: np.ndarray) -> int:
    """Where ``view`` starts in the flat parameter buffer at address ``base``, in elements."""
    return (view.__array_interface__["data"][0] - base) // itemsize


def _strengths(regularizer) -> tuple[float, float]:
    if regularizer is None:
        return 0.0, 0.0
    cls = type(regularizer)
    if not (
        isinstance(regularizer, regularizers.Regularizer)
        and cls.__call__ is regularizers.Regularizer.__call__
        and cls.add_gradient is regularizers.Regularizer.add_gradient
    ):
        raise Unsupported(f"regularizer {cls.__name__} (compiled: L1, L2, L1L2)")
    return float(regularizer.l1), float(regularizer.l2)


def _activation_code(layer) -> int:
    name = layer.activation_name
    if name not in _engine.ACTIVATION_CODES:
        raise Unsupported(f"activation {name!r} of layer {layer.name!r}")
    return _engine.ACTIVATION_CODES[name]


def _layer_records(model) -> tuple[np.ndarray, list]:
    dropouts, ints, doubles = [], [], []  # one row per record, written to an array at the end
    base, itemsize = model.params.__array_interface__["data"][0], model.params.itemsize
    for layer in model._layers:
        cls = type(layer)
        if cls is layers_module.Flatten:
            continue  # a reshape: the engine works on flat rows
        if len(layer._in_features) != 1 and cls is not layers_module.Dropout:
            # a Dense on (batch, ..., d_in) is a product over rows the engine does not lay out
            raise Unsupported(f"layer {layer.name!r} on inputs of shape {layer._in_features}")
        i, d = [0] * 10, [0.0] * 6
        i[1], i[2] = layer.input_dim, layer.output_dim
        if cls is layers_module.Dense:
            i[0], i[3], i[4] = _engine.DENSE, _activation_code(layer), int(layer.use_bias)
            i[5] = _offset(base, itemsize, layer.kernel)
            d[1:3] = _strengths(layer.kernel_regularizer)
            if layer.use_bias:
                i[6] = _offset(base, itemsize, layer.bias)
                d[3:5] = _strengths(layer.bias_regularizer)
        elif cls is layers_module.Dropout:
            if layer.noise_shape is not None:
                raise Unsupported(f"Dropout {layer.name!r} with noise_shape (a broadcast mask)")
            if layer.rate == 0.0:
                continue  # the identity; its counter does not advance on the NumPy path either
            i[0], i[7] = _engine.DROPOUT, int(layer.seed) & 0xFFFFFFFF
            i[9] = _numpy.dropout_threshold(layer.rate)
            d[0] = 1.0 / (1.0 - layer.rate)
            dropouts.append((layer, len(ints)))
        elif cls is layers_module.Activation:
            i[0], i[3] = _engine.ACTIVATION, _activation_code(layer)
        else:
            raise Unsupported(f"layer {layer.name!r} of type {cls.__name__}")
        ints.append(i)
        doubles.append(d)
    if not ints:
        raise Unsupported("a model of reshapes only (no Dense, Dropout or Activation layer)")
    records = np.zeros(len(ints), _engine.LAYER_DTYPE)
    records["i"], records["d"] = ints, doubles
    return records, dropouts


def _loss_record(model, loss) -> tuple[np.ndarray, bool, float, float]:
    name = type(loss).__name__
    if name not in _engine.LOSS_CODES or type(loss) is not getattr(losses, name):
        raise Unsupported(f"loss {name} (compiled: {', '.join(_engine.LOSS_CODES)})")
    if loss.reduction not in _engine.REDUCTION_CODES:
        raise Unsupported(
            f"loss reduction {loss.reduction!r} (a per-sample vector, not a loss to minimise)"
        )
    record = np.zeros((), _engine.LOSS_DTYPE)
    code = _engine.LOSS_CODES[name]
    record["i"][0], record["i"][2] = code, _engine.REDUCTION_CODES[loss.reduction]
    fused = model._fuses_activation(loss)
    if fused:
        record["i"][1] = _engine.FUSED
    elif getattr(loss, "from_logits", False):
        record["i"][1] = _engine.LOGITS
    elif code >= _engine.LOSS_CODES["BinaryCrossentropy"]:
        raise Unsupported(
            f"{name} on probabilities without its fused output activation; end "
            f"the model with activation={loss.fused_activation!r} or use "
            "from_logits=True"
        )
    if name == "Huber":
        record["d"][0] = float(loss.delta)
    smoothing = float(getattr(loss, "label_smoothing", 0.0) or 0.0)
    share = 0.5 if name == "BinaryCrossentropy" else 1.0 / model.output_dim
    return record, fused, smoothing, share


def _optimizer_record(model, optimizer) -> tuple[np.ndarray, tuple]:
    cls = type(optimizer)
    if cls not in (
        optimizers.SGD,
        optimizers.Adam,
        optimizers.AdamW,
        optimizers.RMSprop,
        optimizers.Adagrad,
    ):
        raise Unsupported(f"optimizer {cls.__name__}")
    optimizer.build([model.params])
    state = optimizer._slot_of(model.params).state
    record = np.zeros((), _engine.OPTIMIZER_DTYPE)
    i, d = record["i"], record["d"]
    d[0] = float(optimizer.weight_decay or 0.0)
    codes = _engine.OPTIMIZER_CODES
    if cls is optimizers.SGD and state.velocity is None:
        i[0], buffers = codes["sgd"], ()
    elif cls is optimizers.SGD:
        i[0], i[1], d[1], buffers = (
            codes["momentum"],
            int(optimizer.nesterov),
            optimizer.momentum,
            (state.velocity,),
        )
    elif cls in (optimizers.Adam, optimizers.AdamW):
        i[0], buffers = codes["adam"], (state.m, state.v)
        d[1:4] = optimizer.beta_1, optimizer.beta_2, optimizer.epsilon
    elif cls is optimizers.RMSprop:
        i[0], i[1] = codes["rmsprop"], int(state.velocity is not None)
        buffers = (state.v, state.velocity)
        d[1:4] = optimizer.rho, optimizer.epsilon, optimizer.momentum
    else:
        i[0], d[1], buffers = codes["adagrad"], optimizer.epsilon, (state.accumulator,)
    return record, buffers


def plan(model) -> EnginePlan:
    """The engine's records for a compiled, built ``Sequential``.

    Parameters
    ----------
    model : Sequential
        Built and compiled.

    Returns
    -------
    EnginePlan
        The records and the state buffers they point at.

    Raises
    ------
    Unsupported
        Naming the first piece without a compiled form.

    Examples
    --------
    >>> from nastoolkit.models import Sequential
    >>> from nastoolkit.layers import Dense
    >>> model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    >>> model.compile(optimizer="adam", loss="mse")
    >>> plan(model).layers.size
    1
    """
    if model._compiled is None or not model.built:
        raise Unsupported("the model must be built and compiled first")
    if type(model.params) is not np.ndarray:
        raise Unsupported("parameters on the GPU (the engine is a CPU path)")
    if model.params.dtype not in (np.float32, np.float64):
        raise Unsupported(f"dtype {model.params.dtype} (compiled: float32, float64)")
    layer_records, dropouts = _layer_records(model)
    loss_record, fused, smoothing, share = _loss_record(model, model._compiled.loss)
    opt_record, state = _optimizer_record(model, model._compiled.optimizer)
    return EnginePlan(
        layer_records, loss_record, opt_record, state, dropouts, fused, smoothing, share
    )


def unsupported_reason(model) -> str | None:
    """Why ``model`` cannot train in the compiled engine, or None when it can.

    Parameters
    ----------
    model : Sequential
        Built and compiled.

    Returns
    -------
    str or None
        ``"not compiled: <piece>"``, ``"the compiled engine is unavailable: <cause>"``, or None.

    Examples
    --------
    >>> from nastoolkit.models import Sequential
    >>> from nastoolkit.layers import Dense
    >>> model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    >>> model.compile(optimizer="adam", loss="kl_divergence")
    >>> unsupported_reason(model).split(":")[0]
    'not compiled'
    """
    return _plan_or_reason(model)[1]


def _plan_or_reason(model, need_engine: bool = True) -> tuple[EnginePlan | None, str | None]:
    """``(plan(model), None)``, or ``(None, unsupported_reason(model))`` when it cannot train;
    ``need_engine=False`` leaves out the C++ engine's availability (the fused GPU kernels take
    the same plan but need no C++ compiler)."""
    try:
        spec = plan(model)
    except Unsupported as exc:
        return None, f"not compiled: {exc}"
    if need_engine and not _engine.available():
        return None, f"the compiled engine is unavailable: {_engine.reason()}"
    return spec, None


#: ``fit`` trains in the compiled engine wherever every piece of the model has a compiled form
#: and a step is small enough for it to pay (``ENGINE_MAX_STEP_MACS``); set this environment
#: variable to "0" (or use :func:`numpy_path` for a block of code) to train on the NumPy path
#: instead, e.g. to reproduce numbers recorded there (the two paths agree to float32 rounding,
#: not bit for bit), or to "1" to take the engine at any step size.
FIT_SWITCH = "NASTOOLKIT_FIT_ENGINE"
_NUMPY_PATH = contextvars.ContextVar("nastoolkit_fit_numpy_path", default=False)


@contextlib.contextmanager
def numpy_path():
    """Within the block, ``fit`` trains on the NumPy path (step by step in Python) even where the
    compiled engine could: for numbers recorded on that path, such as the NAS-Bench-MLP tables.

    Examples
    --------
    >>> from nastoolkit.models import Sequential
    >>> from nastoolkit.layers import Dense
    >>> model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    >>> model.compile(optimizer="adam", loss="mse")
    >>> with numpy_path():
    ...     fit_reason(model)
    'engine.numpy_path() asks for the NumPy path'
    """
    token = _NUMPY_PATH.set(True)
    try:
        yield
    finally:
        _NUMPY_PATH.reset(token)


#: Above this many multiply-adds per training step (batch rows x parameters), NumPy's BLAS
#: beats the engine's register-blocked small GEMMs, so ``fit`` keeps the NumPy path unless
#: ``NASTOOLKIT_FIT_ENGINE=1`` forces the engine. Measured on one AVX-512 core, engine/NumPy
#: epoch time: 0.44 at 64-128-128-10 x 32 rows (0.8M), 0.70 at 64-256-256-10 x 32 (2.7M),
#: 0.94 at 64-128-128-10 x 256 (6.6M), 1.0 at 64-512-512-10 x 32 (9.6M), 1.2 at 21.6M and 3.0
#: at 784-1024-1024-10 x 256 (206M).
ENGINE_MAX_STEP_MACS = 4 * 1024 * 1024


def _switch() -> str:
    """The value of ``NASTOOLKIT_FIT_ENGINE``: "0" (NumPy path), "1" (engine at any size), or
    anything else (the default choice)."""
    return os.environ.get(FIT_SWITCH, "").strip()


def _switch_reason() -> str | None:
    """Why the user asked for the NumPy path, or None (the engine is the default)."""
    if _switch() == "0":
        return f"{FIT_SWITCH}=0 asks for the NumPy path"
    if _NUMPY_PATH.get():
        return "engine.numpy_path() asks for the NumPy path"
    return None


def _size_reason(model, batch_size: int | None) -> str | None:
    """Why a step this large trains faster on the NumPy path, or None (see
    ``ENGINE_MAX_STEP_MACS``); ``NASTOOLKIT_FIT_ENGINE=1`` forces the engine at any size."""
    if batch_size is None or _switch() == "1":
        return None
    macs = int(batch_size) * int(model.params.size)
    if macs <= ENGINE_MAX_STEP_MACS:
        return None
    rows = f"{batch_size} row{'' if batch_size == 1 else 's'}"
    return (
        f"a step of {rows} x {model.params.size:,} parameters ({macs:,} multiply-adds)"
        f" is above {ENGINE_MAX_STEP_MACS:,}, where NumPy's BLAS is faster than the engine"
        f" ({FIT_SWITCH}=1 forces the engine)"
    )


def fit_reason(model, batch_size: int | None = None) -> str | None:
    """Why ``model.fit`` takes the NumPy path, or None when it trains in the engine.

    Parameters
    ----------
    model : Sequential
        Built and compiled.
    batch_size : int, optional
        The rows of a training step; with it, a step too large for the engine to pay
        (``ENGINE_MAX_STEP_MACS`` multiply-adds) is a reason too.

    Returns
    -------
    str or None
        Why not: ``NASTOOLKIT_FIT_ENGINE=0`` or :func:`numpy_path` asks for the NumPy path,
        :func:`unsupported_reason` (a piece without a compiled form, or no C++ compiler), or a
        step large enough that NumPy's BLAS is faster.

    Examples
    --------
    >>> from nastoolkit.models import Sequential
    >>> from nastoolkit.layers import Dense
    >>> model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    >>> model.compile(optimizer="adam", loss="kl_divergence")
    >>> fit_reason(model)
    'not compiled: loss KLDivergence'
    >>> wide = Sequential([Dense(1024, input_shape=(784,)), Dense(10)], seed=0)
    >>> wide.compile(optimizer="adam", loss="mse")
    >>> fit_reason(wide, batch_size=1024).split(" is above")[0]
    'a step of 1024 rows x 814,090 parameters (833,628,160 multiply-adds)'
    """
    return _fit_choice(model, batch_size)[1]


def _fit_choice(model, batch_size: int | None) -> tuple[EnginePlan | None, str | None]:
    """``(the plan fit trains with, None)``, or ``(None, fit_reason(model, batch_size))``: one
    plan serves both the choice and the epoch."""
    reason = _switch_reason()
    if reason is not None:
        return None, reason
    spec, reason = _plan_or_reason(model)
    reason = reason or _size_reason(model, batch_size)
    return (None, reason) if reason else (spec, None)


def fit_plan(model, batch_size: int):
    """The plan ``fit`` trains a step of ``batch_size`` rows with in the engine, or None where
    it takes the NumPy path (:func:`fit_reason` says why); pass it on to :func:`fit_epoch`.

    Examples
    --------
    >>> from nastoolkit.models import Sequential
    >>> from nastoolkit.layers import Dense
    >>> model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    >>> model.compile(optimizer="adam", loss="mse")
    >>> with numpy_path():
    ...     print(fit_plan(model, 32))
    None
    """
    return _fit_choice(model, batch_size)[0]


def describe(model=None) -> str:
    """Which training path runs and why: the compiled engine's state, and for ``model`` whether
    its ``fit`` can run compiled (else the NumPy path, with the reason).

    Parameters
    ----------
    model : Sequential, optional
        A built, compiled model; None describes the engine alone.

    Returns
    -------
    str
        One line for humans.

    Examples
    --------
    >>> from nastoolkit.models import Sequential
    >>> from nastoolkit.layers import Dense
    >>> model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    >>> model.compile(optimizer="adam", loss="kl_divergence")
    >>> describe(model).startswith("numpy path: not compiled: loss KLDivergence")
    True
    """
    if model is None:
        if _engine.available():
            return f"compiled engine available ({_engine.reason()})"
        return f"compiled engine unavailable: {_engine.reason()}"
    reason, rows = _model_path(model)
    if reason is None:
        return f"compiled engine{rows} ({_engine.reason()})"
    return f"numpy path: {reason}"


def _engine_rows(model) -> int:
    """The most rows a step of ``model`` may take in the engine (``ENGINE_MAX_STEP_MACS``)."""
    return ENGINE_MAX_STEP_MACS // max(int(model.params.size), 1)


def _model_path(model) -> tuple[str | None, str]:
    """(why ``model.fit`` takes the NumPy path or None, and for the engine the batch sizes it
    takes, e.g. " for batches up to 409 rows", or "" for any)."""
    reason = unsupported_reason(model) or fit_reason(model)
    if reason is not None or _switch() == "1":
        return reason, ""
    rows = _engine_rows(model)
    if rows < 1:
        return _size_reason(model, 1), ""
    return None, f" for batches up to {rows} rows" if rows < 65536 else ""


def fit_path(model=None, backend_name: str = "numpy") -> str:
    """Which path ``Sequential.fit`` trains on, and why, as ``backend.describe`` reports it.

    Parameters
    ----------
    model : Sequential, optional
        A built, compiled model (its pieces decide too); None: a model whose every piece the
        engine supports.
    backend_name : {"numpy", "cupy"}
        The array backend in use (the engine is a CPU path).

    Returns
    -------
    str
        ``"compiled engine (<library>)"``, or ``"NumPy path (<reason>)"`` / ``"CuPy path
        (<reason>)"``.

    Examples
    --------
    >>> with numpy_path():
    ...     fit_path()
    'NumPy path (engine.numpy_path() asks for the NumPy path)'
    >>> fit_path(backend_name="cupy")
    'CuPy path (the compiled engine is a CPU path)'
    """
    if backend_name != "numpy":
        return "CuPy path (the compiled engine is a CPU path)"
    rows = ""
    if model is not None:
        reason, rows = _model_path(model)
    elif (reason := _switch_reason()) is not None:
        pass
    elif not _engine.available():
        reason = f"the compiled engine is unavailable: {_engine.reason()}"
    else:
        reason = None
    if reason is None:
        return f"compiled engine{rows} ({_engine.reason()})"
    return f"NumPy path ({reason})"


def predict(model, x, batch_size: int = 1024) -> np.ndarray:
    """``model``'s outputs for ``x`` (inference, dropout off) in one compiled call: what
    ``model.predict(x)`` returns, to float32 rounding.

    Parameters
    ----------
    model : Sequential
        Built, with layers the engine supports (compiled or not).
    x : numpy.ndarray
        ``(n, *features)`` inputs in the model's dtype.
    batch_size : int
        Rows per forward pass.

    Returns
    -------
    numpy.ndarray
        (n, outputs).

    Examples
    --------
    >>> from nastoolkit.models import Sequential
    >>> from nastoolkit.layers import Dense
    >>> model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    >>> predict(model, np.ones((4, 3), np.float32)).shape
    (4, 2)
    """
    if not model.built:
        raise Unsupported("the model must be built first")
    if type(model.params) is not np.ndarray:
        raise Unsupported("parameters on the GPU (the engine is a CPU path)")
    records, _ = _layer_records(model)
    return _engine.predict(records, model.params, _flat_inputs(model, x), batch_size)


def validation_outputs(model, x, batch_size: int, spec: EnginePlan | None = None):
    """``model``'s outputs for the validation inputs ``x`` in one compiled call where ``fit``
    trains ``model`` in the engine at ``batch_size`` rows (see :func:`fit_plan`), else None
    (the NumPy path runs the validation). The forward passes take at most
    ``ENGINE_MAX_STEP_MACS`` multiply-adds each, where the engine is faster than BLAS. ``spec``:
    the plan fit trains with, when the caller has it.

    Examples
    --------
    >>> from nastoolkit.models import Sequential
    >>> from nastoolkit.layers import Dense
    >>> model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> outputs = validation_outputs(model, np.ones((5, 3), np.float32), 32)
    >>> outputs is None or outputs.shape == (5, 2)
    True
    """
    spec = spec or fit_plan(model, batch_size)
    if spec is None:
        return None
    rows = max(1, min(1024, _engine_rows(model)))
    return _engine.predict(spec.layers, model.params, _flat_inputs(model, x), rows)


def _learning_rates(optimizer, steps: int) -> np.ndarray:
    if optimizer._schedule is None:
        return np.full(steps, float(optimizer.learning_rate))
    return np.array(
        [optimizer._learning_rate_at(optimizer.iterations + s) for s in range(steps)], np.float64
    )


def train_epoch(model, x, y, order, batch_size: int, sample_weight=None, predictions=None):
    """Train ``model`` in place on the batches of ``order``, in one compiled call.

    Does what ``model.train_step(x[b], y[b], sample_weight[b])`` does for each batch ``b`` of
    ``order`` (consecutive slices of ``batch_size`` rows), to float32 rounding: parameters,
    optimizer state and ``iterations``, and dropout counters advance as they would there.

    Parameters
    ----------
    model : Sequential
        Built and compiled, with ``unsupported_reason(model) is None``.
    x : numpy.ndarray
        ``(n, *features)`` inputs in the model's dtype, C-contiguous.
    y : numpy.ndarray
        Targets as ``loss.check_targets`` gives them: (n, outputs) in the model's dtype, or
        (n,) int64 labels for SparseCategoricalCrossentropy.
    order : array of int
        Row indices in training order (a permutation, or any rows of x).
    batch_size : int
        Rows per step (the last batch may be shorter).
    sample_weight : numpy.ndarray, optional
        (n,) weights in the model's dtype.
    predictions : numpy.ndarray, optional
        (len(order), outputs) buffer that receives each step's predictions (for metrics).

    Returns
    -------
    numpy.ndarray
        The loss of each step run (data + regularization). A non-finite loss ends the call:
        that step is the last entry and updated nothing, as in ``train_step``.

    Examples
    --------
    >>> from nastoolkit.models import Sequential
    >>> from nastoolkit.layers import Dense
    >>> model = Sequential([Dense(1, input_shape=(2,))], seed=0)
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x, y = np.ones((8, 2), np.float32), np.zeros((8, 1), np.float32)
    >>> losses = train_epoch(model, x, y, np.arange(8), batch_size=4)
    >>> len(losses), bool(losses[1] < losses[0])
    (2, True)
    """
    return _train_epoch(model, x, y, order, batch_size, sample_weight, predictions, None)


def _train_epoch(model, x, y, order, batch_size, sample_weight, predictions, spec):
    """``train_epoch`` with ``spec``, the model's plan when the caller has it (else built)."""
    x = _flat_inputs(model, x)
    order = _c_aligned(order, np.int64)
    steps = -(-order.size // max(1, int(batch_size))) if order.size else 0
    spec, args = _model_args(model, y, steps, predictions, spec)
    losses_run = _engine.train([args], x, sample_weight, order, batch_size)[0]
    _advance(model, spec, losses_run)
    return losses_run


def _c_aligned(array, dtype=None) -> np.ndarray:
    """``array`` C-contiguous and aligned, as C reads it (copied only when it is not): arrays
    unpickled from out-of-band buffers, as Dask sends them, may be unaligned."""
    return np.require(array, dtype=dtype, requirements=("C", "A"))


def _flat_inputs(model, x) -> np.ndarray:
    """x as C-contiguous (n, input_dim) rows in the model's dtype (checked, not converted)."""
    x = np.asarray(x)
    dtype = model.params.dtype
    if x.ndim < 2 or x.dtype != dtype or x.shape[1:] != tuple(model._features):
        raise ValueError(
            f"x must have per-sample shape {tuple(model._features)} and dtype "
            f"{dtype}. Received: shape {x.shape[1:]}, dtype {x.dtype}"
        )
    return _c_aligned(x).reshape(len(x), -1)


def _model_args(
    model, y, steps: int, predictions=None, spec: EnginePlan | None = None
) -> tuple[EnginePlan, _engine.ModelArgs]:
    """The plan of ``model`` (``spec``, or built) and its ``_engine.ModelArgs`` for a call of
    ``steps`` steps."""
    spec = spec or plan(model)
    y = _c_aligned(y)
    if spec.smoothing:  # losses._ProbabilisticLoss._targets's expression, once per call
        y = np.ascontiguousarray(y * (1.0 - spec.smoothing) + spec.smoothing * spec.smoothing_share)
    optimizer = model._compiled.optimizer
    spec.optimizer["i"][2] = optimizer.iterations
    for layer, index in spec.dropouts:
        spec.layers[index]["i"][8] = layer.counter
    args = _engine.ModelArgs(
        spec.layers,
        spec.loss,
        spec.optimizer,
        model.params,
        model.grads,
        spec.state,
        y,
        _learning_rates(optimizer, steps),
        predictions,
        spec.fused,
    )
    return spec, args


def _advance(model, spec: EnginePlan, losses_run) -> None:
    """Count the steps run as ``train_step`` counts them: a non-finite last step updated
    nothing (no optimizer iteration) but drew its dropout masks."""
    done = len(losses_run)
    diverged = done > 0 and not np.isfinite(losses_run[-1])
    model._compiled.optimizer.iterations += done - int(diverged)
    for layer, _ in spec.dropouts:
        layer.counter += done
    model._fresh = False


def fit_epoch(model, epoch: int, batches, rng, cbs, spec: EnginePlan | None = None) -> dict:
    """``Sequential._fit_epoch`` through the engine: one compiled call per epoch, or one per
    batch when callbacks want batch hooks; the same hooks, logs, metrics and divergence handling.

    Parameters
    ----------
    model : Sequential
        Inside ``fit``, with ``unsupported_reason(model) is None``.
    epoch : int
        The epoch index (for the hooks).
    batches : nastoolkit.training.Batches
        The epoch's data; its permutation is drawn from ``rng`` exactly as ``Batches.epoch``.
    rng : numpy.random.Generator
        The run's generator.
    cbs : nastoolkit.callbacks.CallbackList
        The run's callbacks.
    spec : EnginePlan, optional
        The model's plan, as :func:`fit_plan` gave it (built here when not given).

    Returns
    -------
    dict
        The epoch's logs (``loss`` as the sample-weighted running mean, and the metrics).

    Examples
    --------
    >>> from nastoolkit import training
    >>> from nastoolkit.callbacks import CallbackList
    >>> from nastoolkit.layers import Dense
    >>> from nastoolkit.models import Sequential
    >>> model = Sequential([Dense(1, input_shape=(2,))], seed=0)
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x, y = np.ones((8, 2), np.float32), np.zeros((8, 1), np.float32)
    >>> batches = training.Batches(training.Dataset(x, y), 4, True, np, "float32")
    >>> model._snapshot = np.empty_like(model.params)
    >>> logs = fit_epoch(model, 0, batches, np.random.default_rng(0), CallbackList([], model, {}))
    >>> sorted(logs)
    ['loss']
    """
    cbs.on_epoch_begin(epoch, {})
    model._reset_metrics()
    model._snapshot[...] = model.params
    model._fresh = False
    data, size = batches.data, batches.size
    n = len(data)
    order = np.asarray(rng.permutation(n) if batches.shuffle else np.arange(n), np.int64)
    metrics = bool(model.metrics)
    predictions = np.empty((n, model.output_dim), model.dtype) if metrics else None
    if cbs.wants_batches or model.stop_training:
        return _fit_epoch_by_batch(model, epoch, data, order, size, predictions, cbs, spec)
    values = _train_epoch(model, data.x, data.y, order, size, data.w, predictions, spec)
    values = np.asarray(values, np.float64)
    finite = np.isfinite(values)
    run = values.size if finite.all() else int(np.argmin(finite))  # steps that trained
    if metrics:
        for start in range(0, run * size, size):
            rows = order[start : start + size]
            _update_metrics(model, data, rows, predictions[start : start + len(rows)])
    if run < values.size:
        return _diverged(model, epoch, run, float(values[run]))
    return model._logs(_mean_loss(values, size, n))


def _mean_loss(values: np.ndarray, size: int, n: int) -> float:
    """The epoch's loss from its per-step ``values`` (float64, all finite) over ``n`` rows in
    steps of ``size``: the sample-weighted running mean, summed in the NumPy path's order."""
    rows_per_step = np.minimum(size, n - np.arange(0, n, size))[: values.size]
    if not rows_per_step.size:
        return 0.0
    # cumsum adds left to right, one float64 at a time, as the NumPy path's running sum does
    # (np.sum would add pairwise: a different rounding)
    total = float(np.cumsum(values * rows_per_step)[-1])
    return total / int(rows_per_step.sum())


def _fit_epoch_by_batch(model, epoch, data, order, size, predictions, cbs, spec) -> dict:
    """One validated engine session for the epoch, run step by step: the batch hooks run
    between steps and see the model, its optimizer and its dropout counters as after that
    step; they may stop training after any step, or change the learning rate."""
    n = len(order)
    steps = -(-n // size)
    spec, args = _model_args(model, data.y, steps, predictions, spec)
    session = _engine.Session([args], _flat_inputs(model, data.x), data.w, order, size)
    optimizer = model._compiled.optimizer
    total, count = 0.0, 0
    for step in range(steps):
        if cbs.wants_batches:
            cbs.on_train_batch_begin(step, {})
        args.learning_rates[step] = optimizer._learning_rate_at(optimizer.iterations)
        session.run(step, 1)
        value = float(session.losses()[0][step])
        _advance(model, spec, [value])
        rows = order[step * size : (step + 1) * size]
        if not np.isfinite(value):
            return _diverged(model, epoch, step, value)
        _update_metrics(
            model,
            data,
            rows,
            None if predictions is None else predictions[step * size :][: len(rows)],
        )
        total, count = total + value * len(rows), count + len(rows)
        if cbs.wants_batches:
            cbs.on_train_batch_end(step, model._logs(total / count))
        if model.stop_training:
            break
    return model._logs(total / count if count else 0.0)


def _update_metrics(model, data, rows, predictions):
    if predictions is not None:
        model._update_metrics(data.y[rows], predictions, None if data.w is None else data.w[rows])


def _diverged(model, epoch, step, value) -> dict:
    model._diverged(epoch, step, value)
    return model._logs(float("nan"))


# --- population training ---------------------------------------------------------------------


@dataclass
class PopulationResult:
    """One model's run in ``train_population``: per-epoch ``history`` (``loss``, and
    ``val_loss`` with validation data), the epoch it stopped early at (None: it ran them all)
    and why it stopped (None, ``"early stopping"`` or ``"diverged: ..."``)."""

    history: dict
    stopped_epoch: int | None = None
    stopped_reason: str | None = None


def _targets_for(model, y):
    from . import training

    return training.targets(model._compiled.loss, y, model.output_dim, model.dtype)


def _check_population(models, x, device: str = "cpu"):
    from . import training

    models = list(models)
    if not models:
        raise ValueError("models must hold at least one compiled Sequential. Received: []")
    x = np.asarray(x)
    for index, model in enumerate(models):
        if model._compiled is None:
            raise ValueError(f"models[{index}] is not compiled; call compile(...) first.")
        if not model.built:
            model.build((None, *x.shape[1:]))
        reason = _plan_or_reason(model, need_engine=device == "cpu")[1]
        if reason is not None:
            raise Unsupported(f"models[{index}] cannot train in the engine: {reason}")
        if model.dtype != models[0].dtype:
            raise ValueError(
                f"every model must have the dtype of models[0] ({models[0].dtype})."
                f" Received: models[{index}].dtype={model.dtype}"
            )
    return models, training.as_data(x, "x", models[0].dtype, tuple(models[0]._features))


def train_population(
    models,
    x,
    y,
    epochs: int = 1,
    batch_size: int = 32,
    sample_weight=None,
    validation_data=None,
    patience: int | None = None,
    min_delta: float = 0.0,
    seed=None,
    shuffle: bool = True,
    device: str = "cpu",
) -> list[PopulationResult]:
    """Train several compiled models on the same batches, in one compiled call per epoch.

    Each epoch draws one permutation (from ``seed``) for all models, and one compiled call runs
    the epoch of every model still training, model after model (each stays in cache while it
    trains: measured faster than pushing each batch through all of them). Each model keeps its
    own optimizer state, dropout stream, early stopping and result, and ends exactly as
    ``train_epoch`` on that model alone with the same order would leave it.

    Parameters
    ----------
    models : list of Sequential
        Compiled models for the same inputs (built from ``x`` when not built), each
        supported by the engine (see ``unsupported_reason``).
    x, y : array-like
        Training inputs and targets (each model's loss checks the targets).
    epochs : int
        Epochs at most.
    batch_size : int
        Rows per step.
    sample_weight : array-like, optional
        One weight per sample.
    validation_data : tuple, optional
        ``(x_val, y_val)``: each model's ``val_loss`` per epoch (``evaluate``), which early
        stopping then watches instead of ``loss``.
    patience : int, optional
        Stop a model after this many epochs without a better monitored loss (None: never).
    min_delta : float
        What counts as better: a drop of more than ``min_delta`` (Keras's EarlyStopping).
    seed : int, optional
        Seeds the shared batch order.
    shuffle : bool
        A new permutation each epoch (else the rows in order).
    device : {"cpu", "gpu"}
        ``"cpu"``: the compiled CPU engine. ``"gpu"``: the fully fused CUDA kernels
        (``csrc/fused_mlp.cu``, through CuPy): each step of every model in two launches, each
        row tile's activations in shared memory. It takes Dense layers up to
        ``kernels._cuda_fused.MAX_WIDTH`` units and no ``sample_weight``; the models stay on
        the host (built on the NumPy backend), and each epoch copies them to the GPU and back.
        Results agree with ``"cpu"`` to float32 rounding.

    Returns
    -------
    list of PopulationResult
        One per model, in order.

    Raises
    ------
    RuntimeError
        ``device="gpu"`` without CuPy or a CUDA GPU.

    Examples
    --------
    >>> from nastoolkit.layers import Dense
    >>> from nastoolkit.models import Sequential
    >>> models = [Sequential([Dense(w, activation="relu", input_shape=(3,)), Dense(1)], seed=w)
    ...           for w in (4, 8)]
    >>> for m in models:
    ...     m.compile(optimizer="adam", loss="mse")
    >>> x, y = np.random.default_rng(0).normal(size=(64, 3)), np.zeros(64)
    >>> results = train_population(models, x, y, epochs=2, batch_size=16, seed=0)
    >>> [len(r.history["loss"]) for r in results]
    [2, 2]
    """
    from . import _checks, training

    if device not in ("cpu", "gpu"):
        raise ValueError(f'device must be "cpu" or "gpu". Received: {device!r}')
    if device == "gpu" and sample_weight is not None:
        raise ValueError(
            'sample_weight is not supported with device="gpu" (the fused kernels take '
            'unweighted batches); train with device="cpu".'
        )
    models, x = _check_population(models, x, device)
    epochs = _checks.non_negative_int("epochs", epochs)
    batch_size = _checks.positive_int("batch_size", batch_size, "Pass the rows per step, e.g. 32.")
    if patience is not None:
        patience = _checks.positive_int("patience", patience, "Or None for no early stopping.")
    min_delta = _checks.non_negative("min_delta", min_delta)
    flat = _flat_inputs(models[0], x)
    xp, runner = None, None
    if device == "gpu":
        _check_fused(models, flat.shape[1])
        xp, runner = _gpu_runner()
    training.check_lengths(flat, y)
    targets = [_targets_for(model, y) for model in models]
    weights = training.as_sample_weight(sample_weight, len(flat), models[0].dtype)
    results = [
        PopulationResult({"loss": []} | ({"val_loss": []} if validation_data else {}))
        for _ in models
    ]
    best = [np.inf] * len(models)
    waited = [0] * len(models)
    active = list(range(len(models)))
    rng = np.random.default_rng(seed)
    n = len(flat)
    for epoch in range(epochs):
        if not active:
            break
        order = rng.permutation(n) if shuffle else np.arange(n)
        steps = -(-n // batch_size)
        prepared = [_model_args(models[p], targets[p], steps) for p in active]
        if device == "gpu":
            runs = _fused_epoch(
                prepared, [models[p] for p in active], flat, order, batch_size, xp, runner
            )
        else:
            runs = _engine.train([args for _, args in prepared], flat, weights, order, batch_size)
        still = []
        for p, (spec, _), losses_run in zip(active, prepared, runs):
            model, result = models[p], results[p]
            _advance(model, spec, losses_run)
            if len(losses_run) and not np.isfinite(losses_run[-1]):
                result.history["loss"].append(float("nan"))
                result.stopped_epoch = epoch
                result.stopped_reason = (
                    f"diverged: loss {losses_run[-1]} at epoch {epoch}, step {len(losses_run) - 1}"
                )
                continue
            sizes = np.minimum(batch_size, n - batch_size * np.arange(len(losses_run)))
            result.history["loss"].append(float(np.dot(losses_run, sizes) / sizes.sum()))
            monitored = result.history["loss"][-1]
            if validation_data is not None:
                value = model.evaluate(*validation_data, batch_size=batch_size, verbose=0)
                monitored = float(value[0] if isinstance(value, list) else value)
                result.history["val_loss"].append(monitored)
            if monitored < best[p] - min_delta:
                best[p], waited[p] = monitored, 0
            else:
                waited[p] += 1
            if patience is not None and waited[p] >= patience:
                result.stopped_epoch, result.stopped_reason = epoch, "early stopping"
                continue
            still.append(p)
        active = still
    return results


@functools.lru_cache(maxsize=1)
def _gpu_runner():
    """``(cupy, runner)`` for the fused CUDA kernels (compiled once per process with NVRTC), or
    RuntimeError naming what is missing."""
    try:
        import cupy

        cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001  (no CuPy, no driver, no device: all say the same)
        raise RuntimeError(
            f'device="gpu" needs CuPy and a CUDA GPU ({type(exc).__name__}: {exc}); train with '
            'device="cpu", the compiled CPU engine.'
        ) from None
    return cupy, _cuda_fused.cupy_runner()


def _fused_plan(spec: EnginePlan) -> EnginePlan:
    """``spec`` as the fused kernels take it: sparse labels as one-hot categorical
    cross-entropy (the same loss values and gradients; ``_fused_epoch`` one-hot encodes the
    labels)."""
    if int(spec.loss["i"][0]) != _engine.LOSS_CODES["SparseCategoricalCrossentropy"]:
        return spec
    loss = spec.loss.copy()
    loss["i"][0] = _engine.LOSS_CODES["CategoricalCrossentropy"]
    return dataclasses.replace(spec, loss=loss)


def _check_fused(models, in_dim: int) -> None:
    """Unsupported naming ``models[i]`` and the reason where the fused kernels cannot train it."""
    for index, model in enumerate(models):
        try:
            _cuda_fused.check_plan(
                _fused_plan(plan(model)), model.params, in_dim, f"models[{index}]"
            )
        except ValueError as exc:
            raise Unsupported(f'device="gpu": {exc}') from None


def _fused_epoch(prepared, models, flat, order, batch_size: int, xp, runner) -> list:
    """One epoch of ``models`` (their ``_model_args``) in the fused kernels on ``xp``'s device;
    each model's parameters and optimizer state are copied back, and its losses end at its
    first non-finite one (where the kernels stopped it), as the CPU engine's run ends."""
    plans, targets = [], []
    for (spec, args), model in zip(prepared, models):
        fused = _fused_plan(spec)
        plans.append(fused)
        labels = fused is not spec  # sparse labels, one-hot for categorical cross-entropy
        targets.append(
            np.eye(model.output_dim, dtype=model.params.dtype)[args.y] if labels else args.y
        )
    population = _cuda_fused.FusedPopulation(
        plans, [model.params for model in models], flat, targets, xp, runner
    )
    losses = population.train(order, batch_size, [args.learning_rates for _, args in prepared])
    runs = []
    for index, ((spec, _), model) in enumerate(zip(prepared, models)):
        population.copy_out(index, model.params, spec.state)
        finite = np.isfinite(losses[index])
        runs.append(losses[index][: losses.shape[1] if finite.all() else np.argmin(finite) + 1])
    return runs


# --- fits of a population: each model with its own seed, batches and callbacks ---------------


@dataclass
class FitJob:
    """One ``model.fit`` of :func:`fit_population`.

    Attributes
    ----------
    model : Sequential
        Compiled; built from ``x`` when not built.
    rows : numpy.ndarray
        The training rows of the shared ``x`` (``fit``'s ``x`` is ``x[rows]``).
    batch_size : int
        Rows per step.
    seed : int or None
        ``fit``'s ``seed``: the model's batch order, dropout streams and (on a fresh model)
        initial weights.
    validation_data : tuple, optional
        ``fit``'s ``(x_val, y_val)``.
    callbacks : list
        ``fit``'s callbacks (epoch-level hooks only, such as ``EarlyStopping``).
    """

    model: object
    rows: np.ndarray
    batch_size: int
    seed: int | None = None
    validation_data: tuple | None = None
    callbacks: list = field(default_factory=list)


class _FitRun:
    """One job's ``fit`` between epochs: what ``Sequential.fit`` keeps in its locals."""

    def __init__(self, job: FitJob, x, targets, epochs: int):
        from .callbacks import History

        model = self.model = job.model
        self.rows = _c_aligned(job.rows, np.int64)
        self.size = min(int(job.batch_size), self.rows.size)
        self.batch_size, self.targets = int(job.batch_size), targets
        self.steps = -(-self.rows.size // self.size)
        val = model._validation_dataset(job.validation_data)
        self.val = None if val is None else val.to(model._xp)
        self.rng = model._start_fit(job.seed)
        model._ensure_capacity(self.size)
        self.cbs = model._callbacks(job.callbacks, 0, epochs, self.steps, 0)
        if self.cbs.wants_batches:
            raise Unsupported("a callback with batch hooks (fit_population calls epoch hooks only)")
        self.history = next(cb for cb in self.cbs.callbacks if isinstance(cb, History))
        model.history, model.stop_training, model.stop_reason = self.history, False, None
        model._snapshot = np.empty_like(model.params)
        self.logs: dict = {}
        self.cbs.on_train_begin({})

    def begin_epoch(self, epoch: int):
        """``fit_epoch`` up to its compiled call: the hooks, the snapshot, this epoch's order."""
        model = self.model
        self.cbs.on_epoch_begin(epoch, {})
        model._reset_metrics()
        model._snapshot[...] = model.params
        model._fresh = False
        self.order = self.rows[self.rng.permutation(self.rows.size)]
        self.spec, args = _model_args(model, self.targets, self.steps)
        args.order, args.batch_size = self.order, self.size
        return args

    def end_epoch(self, epoch: int, losses_run) -> bool:
        """``fit_epoch`` and ``fit`` after the compiled call; False once training has ended."""
        model = self.model
        _advance(model, self.spec, losses_run)
        values = np.asarray(losses_run, np.float64)
        finite = np.isfinite(values)
        if finite.all():
            logs = {"loss": _mean_loss(values, self.size, self.rows.size)}
        else:
            step = int(np.argmin(finite))
            model._diverged(epoch, step, float(values[step]))
            logs = {"loss": float("nan")}
        if self.val is not None and np.isfinite(logs["loss"]):
            with model._threads_for(self.size):
                val_logs = model._validate(self.val, self.batch_size, self.cbs, self.spec)
            logs.update({f"val_{key}": value for key, value in val_logs.items()})
        self.cbs.on_epoch_end(epoch, logs)
        self.logs = logs
        return not model.stop_training

    def end(self):
        self.history.stopped_reason = self.model.stop_reason
        self.cbs.on_train_end(dict(self.logs))
        return self.history


def fit_population(jobs, x, y, epochs: int = 1) -> list:
    """What ``job.model.fit(x[job.rows], y[job.rows], batch_size=job.batch_size, epochs=epochs,
    validation_data=job.validation_data, callbacks=job.callbacks, seed=job.seed, verbose=0)``
    does for every job through the engine, with each epoch of all models in one compiled call.

    Each model draws its own batch order from its own seed and trains on its own batches (a
    model with its own order gathers its own rows), so each ends exactly as ``fit`` through the
    engine (``NASTOOLKIT_FIT_ENGINE=1``) leaves it alone: the same weights, losses, validation
    logs, early stopping and divergence handling, whatever else trains beside it. The training
    logs hold ``loss`` only (no training metrics; ``val_*`` as ``fit``).

    Parameters
    ----------
    jobs : list of FitJob
        The fits; every model supported by the engine (see :func:`unsupported_reason`).
    x, y : array-like
        The shared inputs and targets that the jobs' ``rows`` index.
    epochs : int
        Epochs at most.

    Returns
    -------
    list of History
        One per job, in order (``stopped_reason`` set as ``fit`` sets it).

    Raises
    ------
    Unsupported
        When a model or callback has no compiled form (checked before anything trains).

    Examples
    --------
    >>> from nastoolkit.layers import Dense
    >>> from nastoolkit.models import Sequential
    >>> x, y = np.random.default_rng(0).normal(size=(64, 3)), np.zeros(64)
    >>> jobs = []
    >>> for width in (4, 8):
    ...     model = Sequential([Dense(width, activation="relu", input_shape=(3,)), Dense(1)])
    ...     model.compile(optimizer="adam", loss="mse")
    ...     jobs.append(FitJob(model, np.arange(48), batch_size=width, seed=width))
    >>> histories = fit_population(jobs, x, y, epochs=2)
    >>> [len(h.history["loss"]) for h in histories]
    [2, 2]
    """
    from . import _checks, training

    jobs = list(jobs)
    epochs = _checks.non_negative_int("epochs", epochs)
    if not jobs:
        return []
    data, runs = {}, []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for index, job in enumerate(jobs):
            model = job.model
            model._require_compiled("fit")
            dtype = np.dtype(model.dtype)
            if dtype not in data:
                data[dtype] = _flat_rows(model, x, dtype)
            if not model.built:
                model.build((None, *data[dtype][1]))
            reason = unsupported_reason(model)
            if reason is not None:
                raise Unsupported(f"jobs[{index}] cannot train in the engine: {reason}")
            training.check_lengths(data[dtype][0], y)
            targets = training.targets(model._compiled.loss, y, model.output_dim, model.dtype)
            runs.append(_FitRun(job, data[dtype][0], targets, epochs))
        active = list(range(len(runs)))
        for epoch in range(epochs):
            for dtype, (flat, _) in data.items():
                group = [p for p in active if np.dtype(runs[p].model.dtype) == dtype]
                if not group:
                    continue
                args = [runs[p].begin_epoch(epoch) for p in group]
                losses_run = _engine.train(args, flat, None, args[0].order, args[0].batch_size)
                ended = {
                    p for p, run in zip(group, losses_run) if not runs[p].end_epoch(epoch, run)
                }
                active = [p for p in active if p not in ended]
            if not active:
                break
        return [run.end() for run in runs]


def _flat_rows(model, x, dtype) -> tuple[np.ndarray, tuple]:
    """``x`` as C-contiguous flat rows in ``dtype``, and its per-sample shape."""
    from . import training

    checked = training.as_data(x, "x", dtype, model._known_features())
    return _c_aligned(checked).reshape(len(checked), -1), tuple(checked.shape[1:])
