"""Compiled training engine for small MLPs: whole epochs of MLP training in C++ (the loader).

A NumPy training step of a small MLP is ~65-90 us, of which ~5 us is arithmetic; the rest is
Python between kernels. ``train_epoch`` runs a whole epoch (or a chunk of batches) in one call to
``csrc/cpu/engine.cpp``, which does what ``Sequential.train_step`` does, step by step and in the
same order: the batch rows given by Python, each layer's forward (register-blocked GEMMs with the
bias and activation fused; dropout with the counter-hash bits of ``kernels.dropout_masks``), the
loss gradient (fused with the softmax/sigmoid where the NumPy path fuses), the backward pass into
the model's flat gradient buffer with L1/L2 terms, and one optimizer update over the flat buffer
with the element rules of ``csrc/optim.cuh``, writing into the model's parameters, its optimizer's
state buffers and its dropout counters. Results agree with the NumPy path to float32 rounding.

- Build: as ``_native`` (g++ ``-O3 -march=native -ffp-contract=off``, on x86 also
  ``-mprefer-vector-width=512``, cached by a hash of the sources, flags, compiler and CPU, loaded
  with ctypes); ``NASTOOLKIT_ENGINE=0`` disables it.
- Denormals flush to zero inside a call (MXCSR FTZ/DAZ, restored on return): values below
  1.2e-38 count as zero, where NumPy keeps them; it spares the microcode assists that Adam's
  decaying moments otherwise cost (see ``csrc/cpu/engine.cpp``).
- ``epoch(...)`` takes the model as plain arrays: one record per layer (``layer_specs``), one
  for the loss and one for the optimizer, the flat parameter/gradient/state buffers and the data.
  ``nastoolkit.engine`` writes a ``Sequential`` in this form (this module knows no layers).
- ``reason()`` says why the library is unavailable (no compiler, build failure, switched off).
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading
from dataclasses import dataclass

import numpy as np

from .. import _checks
from . import _native

__all__ = [
    "ACTIVATION_CODES",
    "LAYER_DTYPE",
    "LOSS_CODES",
    "LOSS_DTYPE",
    "MODEL_DTYPE",
    "OPTIMIZER_CODES",
    "OPTIMIZER_DTYPE",
    "ModelArgs",
    "Session",
    "available",
    "epoch",
    "predict",
    "reason",
    "train",
]

ENV_SWITCH = "NASTOOLKIT_ENGINE"
SOURCE = "cpu/engine.cpp"
HEADERS = ("common.cuh", "activations.cuh", "dropout.cuh", "optim.cuh", "cpu_shim.h")
FLAGS = (
    "-std=c++17",
    "-O3",
    "-march=native",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-fPIC",
    "-shared",
    "-Wall",
    "-Wextra",
    "-Werror",
) + (
    # x86: loops GCC vectorises by itself (Adam over the flat buffer, activations, dropout)
    # in the widest registers, as the explicit GEMM vectors are (GCC's tuning otherwise stops at
    # 256 bits on AVX-512 CPUs); measured 13% off a digits search's epochs
    ("-mprefer-vector-width=512",) if platform.machine().lower() in ("x86_64", "amd64") else ()
)

#: activation name -> code of csrc/activations.cuh (softmax: the engine's row operation, 13)
ACTIVATION_CODES = {
    "linear": 0,
    "relu": 1,
    "tanh": 2,
    "sigmoid": 3,
    "leaky_relu": 4,
    "elu": 5,
    "selu": 6,
    "gelu": 7,
    "silu": 8,
    "swish": 8,
    "softplus": 9,
    "softsign": 10,
    "hard_sigmoid": 11,
    "exponential": 12,
    "softmax": 13,
}
#: layer kinds (field i[0] of a LAYER_DTYPE record)
DENSE, DROPOUT, ACTIVATION = 0, 1, 2
#: loss class name -> code (LOSS_DTYPE i[0])
LOSS_CODES = {
    "MeanSquaredError": 0,
    "MeanAbsoluteError": 1,
    "Huber": 2,
    "BinaryCrossentropy": 3,
    "CategoricalCrossentropy": 4,
    "SparseCategoricalCrossentropy": 5,
}
#: what the loss gradient is taken with respect to (LOSS_DTYPE i[1])
ON_OUTPUTS, FUSED, LOGITS = 0, 1, 2
#: Keras reduction -> code (LOSS_DTYPE i[2]); "none" has no compiled form
REDUCTION_CODES = {"sum_over_batch_size": 0, "mean": 0, "sum": 1, "mean_with_sample_weight": 2}
#: update rule -> code (OPTIMIZER_DTYPE i[0])
OPTIMIZER_CODES = {"sgd": 0, "momentum": 1, "adam": 2, "rmsprop": 3, "adagrad": 4}

# The records of csrc/cpu/engine.cpp (NkLayerSpec, NkLossSpec, NkOptSpec); field meanings there.
#: layer i: kind, in, out, activation, use_bias, kernel offset, bias offset, dropout seed,
#: dropout counter, dropout threshold; d: kept-unit value 1/(1-rate), l1/l2 kernel, l1/l2 bias
LAYER_DTYPE = np.dtype([("i", "<i8", (10,)), ("d", "<f8", (6,))])
#: loss i: kind, mode, reduction; d: Huber delta
LOSS_DTYPE = np.dtype([("i", "<i8", (4,)), ("d", "<f8", (4,))])
#: optimizer i: rule, nesterov/rmsprop-momentum flag, iterations so far; d: weight decay, then
#: momentum: mu; adam: beta_1, beta_2, eps; rmsprop: rho, eps, momentum; adagrad: eps
OPTIMIZER_DTYPE = np.dtype([("i", "<i8", (4,)), ("d", "<f8", (8,))])
#: one model of a call (NkModelArgs): addresses of its records and buffers, sizes, flags; "done"
#: comes back as the number of steps it ran; "order"/"n_order"/"batch_size" give a model its own
#: batches (0: the call's)
MODEL_DTYPE = np.dtype(
    [
        (name, "<u8" if kind == "p" else "<i8")
        for name, kind in (
            ("layers", "p"),
            ("n_layers", "n"),
            ("loss", "p"),
            ("optimizer", "p"),
            ("params", "p"),
            ("grads", "p"),
            ("n_params", "n"),
            ("s0", "p"),
            ("s1", "p"),
            ("y", "p"),
            ("labels", "p"),
            ("out_dim", "n"),
            ("lrs", "p"),
            ("losses", "p"),
            ("predictions", "p"),
            ("fused", "n"),
            ("done", "n"),
            ("order", "p"),
            ("n_order", "n"),
            ("batch_size", "n"),
        )
    ]
)

# --- build and load (the recipe of _native, one more source) ---------------------------------

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_failure: str | None = None


def _compiler() -> str | None:
    return _native._compiler()


#: tried in order: glibc's vector math library for the activations' exp/tanh/..., then without
VARIANTS = ((("-DNK_LIBMVEC",), ("-lmvec",)), ((), ()))


def _build(extra_flags: tuple[str, ...] = (), tag: str = "") -> ctypes.CDLL:
    """Compile (or reuse the cached) engine library and load it; RuntimeError with the cause.

    Each of ``VARIANTS`` is tried in turn (a system without libmvec builds the second)."""
    compiler = _compiler()
    if compiler is None:
        raise RuntimeError("no C++ compiler found (set $CXX or install g++)")
    errors = []
    for defines, libraries in VARIANTS:
        try:
            return _build_variant(compiler, (*FLAGS, *extra_flags, *defines), libraries, tag)
        except (RuntimeError, OSError) as exc:
            errors.append(str(exc))
    raise RuntimeError(" / ".join(errors))


def _build_variant(compiler: str, flags: tuple, libraries: tuple, tag: str) -> ctypes.CDLL:
    target = _native.compile_cached(
        compiler, SOURCE, HEADERS, flags, f"nastoolkit_engine{tag}", libraries
    )
    library = ctypes.CDLL(str(target))
    _declare(library)
    return library


def _declare(library: ctypes.CDLL) -> None:
    p, n = ctypes.c_void_p, ctypes.c_longlong
    for suffix in ("f32", "f64"):
        function = getattr(library, f"nk_engine_train_{suffix}")
        function.argtypes = (p, n, p, n, p, p, n, n)
        function.restype = n
        function = getattr(library, f"nk_engine_predict_{suffix}")
        function.argtypes = (p, p, n, n, n, p)
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

    Returns
    -------
    bool

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    return _load() is not None


def reason() -> str:
    """Why ``available()`` is False, or where the library was loaded from.

    Returns
    -------
    str

    Examples
    --------
    >>> isinstance(reason(), str)
    True
    """
    library = _load()
    return library._name if library is not None else str(_failure)


# --- one call: an epoch (or a chunk of batches) ----------------------------------------------


def _checked(name: str, array, dtype, shape) -> np.ndarray:
    """Validate before calling into C: wrong memory in C is a crash, not an exception."""
    if type(array) is not np.ndarray or array.dtype != dtype:
        raise TypeError(
            f"{name} must be a NumPy array of dtype {np.dtype(dtype)}. Received: "
            f"{type(array).__name__} of dtype {getattr(array, 'dtype', None)}"
        )
    if shape is not None and array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}. Received: {array.shape}")
    if not (array.flags.c_contiguous and array.flags.aligned):
        raise ValueError(
            f"{name} must be C-contiguous and aligned; pass "
            f"np.require({name}, requirements=('C', 'A'))."
        )
    return array


def _check_specs(layers, params) -> None:
    """Every offset and width inside the buffers they index (C trusts them)."""
    _checked("layers", layers, LAYER_DTYPE, None)
    if layers.ndim != 1 or layers.size == 0:
        raise ValueError(
            f"layers must be a non-empty 1-D array of LAYER_DTYPE records. "
            f"Received: shape {layers.shape}"
        )
    rows = layers["i"][:, :7].tolist()  # Python ints: one conversion, not one per field
    for index, (kind, n_in, n_out, act, use_bias, kernel_at, bias_at) in enumerate(rows):
        where = f"layers[{index}]"
        if kind not in (DENSE, DROPOUT, ACTIVATION) or n_in < 1 or n_out < 1:
            raise ValueError(
                f"{where} must have a kind in (0, 1, 2) and positive widths. "
                f"Received: kind {kind}, widths {n_in} -> {n_out}"
            )
        if index and n_in != rows[index - 1][2]:
            raise ValueError(
                f"{where} takes {n_in} inputs but layers[{index - 1}] gives {rows[index - 1][2]}."
            )
        if kind != DENSE and n_in != n_out:
            raise ValueError(
                f"{where} (dropout/activation) must keep its width. Received: {n_in} -> {n_out}"
            )
        if kind != DROPOUT and not 0 <= act <= 13:
            raise ValueError(f"{where} has an unknown activation code {act}; see ACTIVATION_CODES.")
        if kind == DENSE:
            if not 0 <= kernel_at <= params.size - n_in * n_out:
                raise ValueError(
                    f"{where}: the kernel ({n_in} x {n_out} at {kernel_at}) lies "
                    f"outside the parameter buffer of {params.size}."
                )
            if use_bias and not 0 <= bias_at <= params.size - n_out:
                raise ValueError(
                    f"{where}: the bias ({n_out} at {bias_at}) lies outside the "
                    f"parameter buffer of {params.size}."
                )


def epoch(
    layers,
    loss,
    optimizer,
    params,
    grads,
    state,
    x,
    y,
    sample_weight,
    order,
    batch_size: int,
    learning_rates,
    predictions=None,
    fused: bool = False,
):
    """Run the steps of ``order`` (consecutive batches of ``batch_size`` rows) in one call.

    Parameters
    ----------
    layers : numpy.ndarray
        LAYER_DTYPE records, first layer first (reshapes left out).
    loss, optimizer : numpy.ndarray
        A LOSS_DTYPE and an OPTIMIZER_DTYPE record (0-d arrays).
    params, grads : numpy.ndarray
        The flat parameter and gradient buffers (float32 or float64), updated in place.
    state : tuple of (numpy.ndarray or None)
        The optimizer's two state buffers, shaped like ``params`` (None where the rule has
        fewer): momentum velocity; Adam m, v; RMSprop v, velocity; Adagrad accumulator.
    x : numpy.ndarray
        (n, in) rows, in ``params``'s dtype.
    y : numpy.ndarray
        (n, out) targets in ``params``'s dtype, or (n,) int64 class labels.
    sample_weight : numpy.ndarray or None
        (n,) weights.
    order : numpy.ndarray
        int64 row indices in training order.
    batch_size : int
        Rows per step.
    learning_rates : numpy.ndarray
        float64, one per step.
    predictions : numpy.ndarray, optional
        (len(order), out) buffer for each step's predictions.
    fused : bool
        The loss gradient is dL/dz of the last layer's activation (softmax/sigmoid fused).

    Returns
    -------
    numpy.ndarray
        The loss of each step run; a non-finite loss ends the call (that step updates nothing).

    Examples
    --------
    >>> import numpy as np
    >>> layer = np.zeros(1, LAYER_DTYPE)
    >>> layer["i"][0, :7] = [DENSE, 1, 1, 0, 0, 0, 0]
    >>> loss, opt = np.zeros((), LOSS_DTYPE), np.zeros((), OPTIMIZER_DTYPE)
    >>> w, g = np.ones(1), np.zeros(1)
    >>> x, y = np.ones((1, 1)), np.zeros((1, 1))
    >>> losses = epoch(layer, loss, opt, w, g, (None, None), x, y, None, np.zeros(1, np.int64),
    ...                1, np.array([0.25])) if available() else np.ones(1)
    >>> float(losses[0])  # (1 - 0)^2, then w <- 1 - 0.25 * 2
    1.0
    """
    losses = train(
        [
            ModelArgs(
                layers, loss, optimizer, params, grads, state, y, learning_rates, predictions, fused
            )
        ],
        x,
        sample_weight,
        order,
        batch_size,
    )
    return losses[0]


@dataclass
class ModelArgs:
    """One model of a ``train`` call: its records, buffers, targets and per-step rates (see
    ``epoch`` for each field). ``order`` and ``batch_size``, when given, are this model's own
    batches (int64 row indices of the call's ``x``, e.g. a fit with its own seed) instead of the
    call's; ``learning_rates`` and ``predictions`` then follow its own steps and rows."""

    layers: np.ndarray
    loss: np.ndarray
    optimizer: np.ndarray
    params: np.ndarray
    grads: np.ndarray
    state: tuple
    y: np.ndarray
    learning_rates: np.ndarray
    predictions: np.ndarray | None = None
    fused: bool = False
    order: np.ndarray | None = None
    batch_size: int | None = None


def _ptr(array) -> int:
    return 0 if array is None else array.ctypes.data


def _model_record(
    model: ModelArgs,
    index: int,
    dtype,
    in_dim: int,
    n: int,
    steps: int,
    order_size: int,
    losses: np.ndarray,
) -> tuple:
    """The NkModelArgs record of ``model`` (a tuple of MODEL_DTYPE's fields), every buffer
    checked against what C will touch."""
    where = f"models[{index}]"
    params = model.params
    if type(params) is not np.ndarray or params.dtype != dtype:
        raise TypeError(
            f"{where}.params must be a NumPy array of dtype {np.dtype(dtype)} (the "
            f"dtype of x). Received: {type(params).__name__} of dtype "
            f"{getattr(params, 'dtype', None)}"
        )
    _checked(f"{where}.params", params, dtype, (params.size,))
    _checked(f"{where}.grads", model.grads, dtype, params.shape)
    layers = model.layers
    _check_specs(layers, params)
    _checked(f"{where}.loss", model.loss, LOSS_DTYPE, ())
    optimizer = _checked(f"{where}.optimizer", model.optimizer, OPTIMIZER_DTYPE, ())
    rule = int(optimizer["i"][0])
    needed = {0: 0, 1: 1, 2: 2, 3: 2 if optimizer["i"][1] else 1, 4: 1}.get(rule)
    if needed is None:
        raise ValueError(f"{where}.optimizer has an unknown rule code {rule}; see OPTIMIZER_CODES.")
    state = tuple(model.state) + (None,) * (2 - len(tuple(model.state)))
    for k in range(needed):
        _checked(f"{where}.state[{k}]", state[k], dtype, params.shape)
    if int(layers[0]["i"][1]) != in_dim:
        raise ValueError(f"{where} takes {int(layers[0]['i'][1])} features but x has {in_dim}.")
    out_dim = int(layers[-1]["i"][2])
    labels = int(model.loss["i"][0]) == LOSS_CODES["SparseCategoricalCrossentropy"]
    y = _checked(
        f"{where}.y", model.y, np.int64 if labels else dtype, (n,) if labels else (n, out_dim)
    )
    if labels and n and (y.min() < 0 or y.max() >= out_dim):
        raise ValueError(
            f"{where}.y must hold class labels in [0, {out_dim}). Received: labels "
            f"in [{y.min()}, {y.max()}]"
        )
    _checked(f"{where}.learning_rates", model.learning_rates, np.float64, (steps,))
    if model.predictions is not None:
        _checked(f"{where}.predictions", model.predictions, dtype, (order_size, out_dim))
    own = model.order is not None
    return (  # MODEL_DTYPE's fields, in order
        _ptr(layers),
        layers.size,
        _ptr(model.loss),
        _ptr(optimizer),
        _ptr(params),
        _ptr(model.grads),
        params.size,
        _ptr(state[0]) if needed > 0 else 0,
        _ptr(state[1]) if needed > 1 else 0,
        0 if labels else _ptr(y),
        _ptr(y) if labels else 0,
        out_dim,
        _ptr(model.learning_rates),
        _ptr(losses),
        _ptr(model.predictions),
        int(bool(model.fused)),
        0,
        _ptr(model.order) if own else 0,
        model.order.size if own else 0,
        int(model.batch_size) if own else 0,
    )


def train(models, x, sample_weight, order, batch_size: int) -> list[np.ndarray]:
    """Train several models on the same batches in one call, model after model (each stays in
    cache while it trains); each model as ``epoch`` would train it alone.

    Parameters
    ----------
    models : list of ModelArgs
        The models, each with its own records, buffers, targets and learning rates.
    x, sample_weight, order, batch_size
        As for ``epoch``, shared by all models.

    Returns
    -------
    list of numpy.ndarray
        Each model's per-step losses (a model whose loss turns non-finite stops there).

    Examples
    --------
    >>> train([], np.zeros((1, 1)), None, np.zeros(1, np.int64), 1)
    []
    """
    models = list(models)
    if not models:
        return []
    session = Session(models, x, sample_weight, order, batch_size)
    session.run(0, session.steps)
    return session.losses()


class Session:
    """A validated ``train`` call whose steps can run in slices, ``run(first, count)``, so that
    batch-level callbacks get control between steps without paying the validation again.

    Slices must follow each other (``first`` = the steps run so far). The records' iteration
    counts and dropout counters are taken as they are at construction: each slice runs as the
    same steps of one whole call would. ``learning_rates`` may be changed between slices.

    Examples
    --------
    >>> Session([], np.zeros((1, 1)), None, np.zeros(1, np.int64), 1).steps
    1
    """

    def __init__(self, models, x, sample_weight, order, batch_size: int):
        self.models = list(models)
        self._library = _load() if self.models else None
        if self.models and self._library is None:
            raise RuntimeError(f"the compiled engine is unavailable: {_failure}")
        x = np.asarray(x) if type(x) is not np.ndarray else x
        if x.dtype not in (np.float32, np.float64):
            raise TypeError(
                f"x must be a float32 or float64 NumPy array. Received: dtype {x.dtype}"
            )
        dtype = x.dtype
        layers = self.models[0].layers if self.models else None
        in_dim = int(layers[0]["i"][1]) if getattr(layers, "size", 0) else x.shape[-1]
        self.x = _checked("x", x, dtype, None)
        n = x.shape[0] if x.ndim else 0
        if x.size != n * in_dim:
            raise ValueError(f"x must hold {in_dim} features per row. Received: shape {x.shape}")
        if sample_weight is not None:
            _checked("sample_weight", sample_weight, dtype, (n,))
        self.sample_weight = sample_weight
        self.order = _checked("order", order, np.int64, None)
        if order.ndim != 1 or order.size == 0:
            raise ValueError(
                f"order must be a non-empty 1-D array of row indices. Received: shape {order.shape}"
            )
        if order.min() < 0 or order.max() >= n:
            raise ValueError(
                f"order must hold row indices in [0, {n}). Received: indices in "
                f"[{order.min()}, {order.max()}]"
            )
        self.batch_size = _checks.positive_int(
            "batch_size", batch_size, "Pass the rows per step, e.g. 32."
        )
        # each model's (order, batch size): its own where given, else the call's
        self._batches = [self._own_batches(model, p, n) for p, model in enumerate(self.models)]
        model_steps = [-(-rows.size // size) for rows, size in self._batches]
        self.steps = max(model_steps, default=-(-order.size // self.batch_size))
        self._losses = [np.empty(steps, np.float64) for steps in model_steps]
        self._base = np.array(
            [
                _model_record(model, index, dtype, in_dim, n, steps, rows.size, out)
                for index, (model, out, steps, (rows, _)) in enumerate(
                    zip(self.models, self._losses, model_steps, self._batches)
                )
            ],
            MODEL_DTYPE,
        )
        self._iterations = [int(model.optimizer["i"][2]) for model in self.models]
        self._counters = []  # per model: (layer index, dropout counter at construction)
        for model in self.models:
            ints = model.layers["i"]
            dropouts = np.flatnonzero(ints[:, 0] == DROPOUT)
            self._counters.append(list(zip(dropouts.tolist(), ints[dropouts, 8].tolist())))
        self._train = (
            getattr(self._library, f"nk_engine_train_{'f32' if dtype == np.float32 else 'f64'}")
            if self.models
            else None
        )
        self.done = [0] * len(self.models)
        self._stopped = [False] * len(self.models)
        self._in_dim, self._dtype = in_dim, dtype

    def _own_batches(self, model: ModelArgs, index: int, n: int) -> tuple[np.ndarray, int]:
        if model.order is None:
            return self.order, self.batch_size
        rows = _checked(f"models[{index}].order", model.order, np.int64, None)
        if rows.ndim != 1 or rows.size == 0 or rows.min() < 0 or rows.max() >= n:
            raise ValueError(
                f"models[{index}].order must be a non-empty 1-D array of row indices in "
                f"[0, {n}). Received: shape {rows.shape}"
                + (f", indices in [{rows.min()}, {rows.max()}]" if rows.size else "")
            )
        size = _checks.positive_int(
            f"models[{index}].batch_size", model.batch_size, "Pass the rows per step, e.g. 32."
        )
        return rows, size

    def _move_on(self, record, model: ModelArgs, p: int, first: int, own_size: int) -> None:
        """``record`` and ``model``'s counters as at step ``first`` of the call."""
        record["lrs"] += 8 * first
        record["losses"] += 8 * first
        if record["predictions"]:
            record["predictions"] += (
                first * own_size * int(record["out_dim"]) * self._dtype.itemsize
            )
        if record["order"]:
            record["order"] += 8 * first * own_size
        model.optimizer["i"][2] = self._iterations[p] + first
        for k, counter in self._counters[p]:
            model.layers[k]["i"][8] = counter + first

    def run(self, first: int, count: int) -> None:
        """Run steps ``first`` .. ``first + count - 1`` of every model still running."""
        active = [
            p
            for p in range(len(self.models))
            if not self._stopped[p]
            and self.done[p] * self._batches[p][1] < self._batches[p][0].size
        ]
        if not active or count <= 0:
            return
        if any(self.done[p] != first for p in active):
            raise ValueError(
                f"Session.run must continue where the last slice ended "
                f"(step {self.done[active[0]]}). Received: first={first}"
            )
        count = min(count, self.steps - first)
        records = self._base[active]  # a copy (fancy indexing): the base stays as built
        for row, p in enumerate(active):
            record = records[row]
            own_rows, own_size = self._batches[p]
            if record["order"]:
                record["n_order"] = min(own_rows.size - first * own_size, count * own_size)
            if first:  # a later slice: move the pointers and counters on
                self._move_on(record, self.models[p], p, first, own_size)
        start = first * self.batch_size
        rows = max(0, min(self.order.size - start, count * self.batch_size))
        status = self._train(
            records.ctypes.data,
            len(active),
            self.x.ctypes.data,
            self._in_dim,
            _ptr(self.sample_weight) or None,
            self.order.ctypes.data + 8 * start,
            rows,
            self.batch_size,
        )
        if status < 0:
            raise MemoryError("the compiled engine could not allocate its scratch buffers")
        for row, p in enumerate(active):
            ran = int(records[row]["done"])
            self.done[p] = first + ran
            if ran and not np.isfinite(self._losses[p][self.done[p] - 1]):
                self._stopped[p] = True

    def losses(self) -> list[np.ndarray]:
        """Each model's losses of the steps run so far."""
        return [out[:done] for out, done in zip(self._losses, self.done)]


def predict(layers, params, x, batch_size: int = 1024, out=None) -> np.ndarray:
    """The outputs of the model ``layers``/``params`` for the rows of ``x`` (inference: dropout
    off), in batches of ``batch_size`` rows, in one call.

    Parameters
    ----------
    layers : numpy.ndarray
        LAYER_DTYPE records.
    params : numpy.ndarray
        The flat parameter buffer (float32 or float64).
    x : numpy.ndarray
        (n, in) rows in ``params``'s dtype.
    batch_size : int
        Rows per forward pass (scratch grows with it).
    out : numpy.ndarray, optional
        (n, out) result buffer.

    Returns
    -------
    numpy.ndarray
        (n, out) outputs.

    Examples
    --------
    >>> layer = np.zeros(1, LAYER_DTYPE)
    >>> layer["i"][0, :7] = [DENSE, 1, 1, 0, 0, 0, 0]
    >>> predict(layer, np.array([2.0]), np.array([[3.0]])) if available() else [[6.0]]
    array([[6.]])
    """
    library = _load()
    if library is None:
        raise RuntimeError(f"the compiled engine is unavailable: {_failure}")
    if type(params) is not np.ndarray or params.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"params must be a float32 or float64 NumPy array. Received: "
            f"{type(params).__name__} of dtype {getattr(params, 'dtype', None)}"
        )
    _checked("params", params, params.dtype, (params.size,))
    _check_specs(layers, params)
    in_dim, out_dim = int(layers[0]["i"][1]), int(layers[-1]["i"][2])
    x = _checked("x", x, params.dtype, None)
    n = x.shape[0] if x.ndim else 0
    if x.size != n * in_dim:
        raise ValueError(f"x must hold {in_dim} features per row. Received: shape {x.shape}")
    batch_size = _checks.positive_int("batch_size", batch_size, "Pass the rows per pass.")
    out = np.empty((n, out_dim), params.dtype) if out is None else out
    _checked("out", out, params.dtype, (n, out_dim))
    record = np.zeros((), MODEL_DTYPE)
    record["layers"], record["n_layers"] = _ptr(layers), layers.size
    record["params"], record["n_params"], record["out_dim"] = _ptr(params), params.size, out_dim
    suffix = "f32" if params.dtype == np.float32 else "f64"
    status = getattr(library, f"nk_engine_predict_{suffix}")(
        record.ctypes.data, x.ctypes.data, in_dim, n, batch_size, out.ctypes.data
    )
    if status < 0:
        raise MemoryError("the compiled engine could not allocate its scratch buffers")
    return out
