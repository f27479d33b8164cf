"""Launcher for the fully fused small-MLP training step (``csrc/fused_mlp.cu``), P models at once.

A step is two launches for the whole population: ``fused_mlp_step`` (grid: row tiles x models)
runs every layer's forward pass, the loss gradient and the backward pass of a batch with each
tile's activations in shared memory, adding weight gradients into the flat gradient buffers
(one atomic add per weight per block); ``fused_mlp_update`` (grid: blocks x models) applies each
model's optimizer rule (``csrc/optim.cuh``) over its flat buffer and clears the gradients for the
next step. An ordinary launch has no grid-wide barrier, so the update cannot join the first one.

The models arrive as ``nastoolkit.engine.plan`` records (the CPU engine's layer, loss and
optimizer records), so the same plan drives both. ``FusedPopulation`` checks every record,
dtype, shape and offset BEFORE anything is launched (CuPy validates nothing), lays the models'
parameters, gradients and optimizer state into concatenated buffers on the device of ``xp``, and
runs epochs with ``train``. The kernel runner is pluggable: ``cupy_runner()`` on a GPU (NVRTC via
``cupy.RawModule``), or the CPU shim in the tests (``csrc/cpu_shim_block.h``), so the checks and
the record layout here are what both execute. Importing this module does not import CuPy.
``nastoolkit.engine.train_population(..., device="gpu")`` is the public way to these kernels.

Supported: Dense (widths <= ``MAX_WIDTH``, every activation of ``activations.cuh`` and softmax),
Dropout, Activation layers; MSE, MAE, Huber, binary and categorical cross-entropy (fused with the
output sigmoid/softmax, or ``from_logits``), mean or sum reduction, no sample weights; L1/L2;
SGD, momentum/Nesterov, Adam/AdamW, RMSprop, Adagrad with weight decay and per-step learning
rates; float32 and float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _sources

__all__ = [
    "MAX_WIDTH",
    "MODEL_DTYPE",
    "SHARED_LIMIT",
    "THREADS",
    "FusedPopulation",
    "check_plan",
    "cupy_runner",
    "shared_bytes",
    "tile_rows_for",
]

SOURCE = "fused_mlp.cu"
#: widest layer the kernel takes: a tile of 128-wide rows in shared memory, as tiny-cuda-nn
MAX_WIDTH = 128
#: threads per block of both kernels (four warps)
THREADS = 128
#: dynamic shared memory per block without the opt-in attribute
SHARED_LIMIT = 48 * 1024
#: rows per tile at most (fewer when the layers do not fit SHARED_LIMIT)
MAX_TILE_ROWS = 32
#: blocks per model of the update kernel at most (a grid-stride loop covers the rest)
UPDATE_BLOCKS = 64
# i: first layer, n layers, param offset, n params, y offset, out dim, loss, mode, reduction,
# loss offset, lr offset, rows per tile; d[0]: Huber delta (csrc/fused_mlp.cu: NkFusedModel)
MODEL_DTYPE = np.dtype([("i", "<i8", (12,)), ("d", "<f8", (4,))])
_LAYER_DTYPE = np.dtype([("i", "<i8", (10,)), ("d", "<f8", (6,))])  # _engine.LAYER_DTYPE
_OPTIMIZER_DTYPE = np.dtype([("i", "<i8", (4,)), ("d", "<f8", (8,))])  # _engine.OPTIMIZER_DTYPE
_DENSE, _DROPOUT, _ACTIVATION = 0, 1, 2
#: engine loss codes with a fused form: MSE, MAE, Huber, binary and categorical cross-entropy
_LOSSES = (0, 1, 2, 3, 4)
_ON_OUTPUTS, _FUSED, _LOGITS = 0, 1, 2
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _keeps_z(record) -> bool:
    return int(record["i"][0]) == _DENSE and int(record["i"][3]) in (7, 8)  # GELU, SiLU


def shared_bytes(layers, in_dim: int, tile_rows: int, itemsize: int, threads: int = THREADS):
    """Dynamic shared memory of one block of ``fused_mlp_step`` (``fused_mlp.cu``'s layout).

    Parameters
    ----------
    layers : numpy.ndarray
        One model's layer records (``_engine.LAYER_DTYPE``).
    in_dim, tile_rows, itemsize, threads : int
        Input width, rows per tile, bytes per element, threads per block.

    Returns
    -------
    int
        Bytes: the block sums, the input tile, each layer's output (and z), two gradient tiles.

    Examples
    --------
    >>> layers = np.zeros(1, _LAYER_DTYPE)
    >>> layers["i"][0, 1:3] = 3, 2
    >>> shared_bytes(layers, 3, 4, 4, threads=32)
    400
    """
    widths = [int(r["i"][2]) * (2 if _keeps_z(r) else 1) for r in layers]
    widest = max(int(r["i"][2]) for r in layers)
    elements = tile_rows * (in_dim + sum(widths) + 2 * widest)
    return 8 * threads + itemsize * elements


def tile_rows_for(layers, in_dim: int, itemsize: int, threads: int = THREADS) -> int:
    """Rows per tile: ``MAX_TILE_ROWS``, halved until the tile fits ``SHARED_LIMIT`` (0: none).

    Examples
    --------
    >>> layers = np.zeros(1, _LAYER_DTYPE)
    >>> layers["i"][0, 1:3] = 128, 128
    >>> tile_rows_for(layers, 128, 4)
    16
    """
    rows = MAX_TILE_ROWS
    while rows and shared_bytes(layers, in_dim, rows, itemsize, threads) > SHARED_LIMIT:
        rows //= 2
    return rows


def _fail(index, what: str) -> ValueError:
    """``what`` about model ``index`` (a plan's index, or a name such as ``"models[2]"``)."""
    return ValueError(f"{index if isinstance(index, str) else f'plans[{index}]'}: {what}")


def check_plan(plan, params, in_dim: int, where: str = "plans[0]") -> int:
    """The output width of ``plan`` (``engine.plan``'s records for the flat ``params`` and
    ``in_dim`` inputs) where the fused kernels can train it, else a ValueError that starts with
    ``where``: the per-model checks of ``FusedPopulation``, before any data is at hand.

    Examples
    --------
    >>> from nastoolkit import engine
    >>> from nastoolkit.layers import Dense
    >>> from nastoolkit.models import Sequential
    >>> model = Sequential([Dense(3, input_shape=(2,))], seed=0)
    >>> model.compile(optimizer="adam", loss="mse")
    >>> check_plan(engine.plan(model), model.params, 2)
    3
    """
    out_dim = _check_layers(where, plan.layers, in_dim, params.size)
    _check_loss(where, plan.loss, out_dim, bool(plan.fused))
    if int(plan.optimizer["i"][0]) not in range(5):
        raise _fail(where, f"optimizer code {int(plan.optimizer['i'][0])} (0..4)")
    if tile_rows_for(plan.layers, in_dim, np.dtype(params.dtype).itemsize) == 0:
        raise _fail(
            where,
            f"the layers do not fit one row of a tile in {SHARED_LIMIT} bytes of shared "
            "memory; use the NumPy/CuPy path",
        )
    return out_dim


def _check_layers(index, layers, in_dim: int, n_params: int) -> int:
    """Checks one model's layer records; returns its output width."""
    if layers.dtype != _LAYER_DTYPE or layers.ndim != 1 or layers.size == 0:
        raise _fail(index, f"layers must be a non-empty 1-D {_LAYER_DTYPE} array (engine.plan)")
    width = in_dim
    for k, record in enumerate(layers):
        kind, n_in, n_out, act, bias = (int(v) for v in record["i"][:5])
        name = f"layer record {k}"
        if n_in != width:
            raise _fail(index, f"{name} takes {n_in} inputs; the layer before gives {width}")
        if not 1 <= n_out <= MAX_WIDTH:
            raise _fail(
                index,
                f"{name} is {n_out} wide; the fused kernel takes widths 1..{MAX_WIDTH}. "
                "Train wider models with the NumPy/CuPy path.",
            )
        if kind not in (_DENSE, _DROPOUT, _ACTIVATION):
            raise _fail(index, f"{name} has kind {kind} (fused: Dense, Dropout, Activation)")
        if kind != _DENSE and n_in != n_out:
            raise _fail(index, f"{name} changes the width ({n_in} -> {n_out})")
        if kind != _DROPOUT and not 0 <= act <= 13:
            raise _fail(index, f"{name} has activation code {act} (0..13)")
        if kind == _DENSE:
            spans = [(int(record["i"][5]), n_in * n_out)] + bias * [(int(record["i"][6]), n_out)]
            for start, size in spans:
                if start < 0 or start + size > n_params:
                    raise _fail(
                        index,
                        f"{name} reads parameters [{start}, {start + size}) outside the "
                        f"model's {n_params}",
                    )
        width = n_out
    return width


def _check_loss(index, loss, out_dim: int, fused: bool) -> tuple[int, int, int, float]:
    kind, mode, reduction = (int(v) for v in loss["i"][:3])
    if kind not in _LOSSES:
        raise _fail(
            index,
            f"loss code {kind} has no fused form (fused: MSE, MAE, Huber, binary and "
            "categorical cross-entropy). Train it with the NumPy/CuPy path.",
        )
    if mode == _FUSED and not fused or mode not in (_ON_OUTPUTS, _FUSED, _LOGITS):
        raise _fail(index, f"loss mode {mode} does not match plan.fused={fused}")
    if reduction not in (0, 1, 2):
        raise _fail(index, f"loss reduction code {reduction} (fused: mean, sum)")
    return kind, mode, 1 if reduction == 1 else 0, float(loss["d"][0])


@dataclass
class _Model:
    """One model's place in the population's concatenated buffers (host side)."""

    layers: np.ndarray
    optimizer: np.ndarray
    param_at: int
    n_params: int
    out_dim: int
    loss: tuple


class FusedPopulation:
    """P small MLPs laid out for the fused kernels on one device, trained together.

    Parameters
    ----------
    plans : list
        One ``nastoolkit.engine.plan(model)`` per model (anything with ``layers``, ``loss``,
        ``optimizer``, ``state`` and ``fused``): the records the CPU engine takes.
    params : list of arrays
        Each model's flat parameter buffer (the plan's offsets point into it).
    x : array
        ``(n, in_dim)`` training inputs (rows are gathered by the kernel from ``order``).
    targets : list of arrays
        Each model's ``(n, out_dim)`` targets in the loss's form (``loss.check_targets``).
        Every array may be on the host or the device: all are copied into the population's
        buffers on ``xp``'s device, and results are read back with ``params_of``/``state_of``.
    xp : module
        ``numpy`` (with the CPU shim runner) or ``cupy``.
    runner : callable, optional
        ``runner(name, grid, block, shared, args)`` launches ``<name>``; default
        ``cupy_runner()``.

    Examples
    --------
    See ``tests/kernels/test_fused_mlp_shim.py`` (CPU shim) and ``benchmarks/gpu_check.py``.
    """

    def __init__(self, plans, params, x, targets, xp, runner=None):
        plans, params, targets = list(plans), list(params), list(targets)
        if not plans or len(params) != len(plans) or len(targets) != len(plans):
            raise ValueError(
                "plans, params and targets must be non-empty lists of one entry per model. "
                f"Received: {len(plans)} plans, {len(params)} params, {len(targets)} targets"
            )
        self.xp = xp
        self.dtype = np.dtype(params[0].dtype)
        if self.dtype not in _SUFFIX:
            raise TypeError(f"params must be float32 or float64. Received: dtype {self.dtype}")
        self._check_array("x", x, 2)
        self.n, self.in_dim = (int(v) for v in x.shape)
        self.models, at = [], 0
        for index, (plan, flat, y) in enumerate(zip(plans, params, targets)):
            self._check_array(f"params[{index}]", flat, 1)
            self._check_array(f"targets[{index}]", y, 2)
            out_dim = _check_layers(index, plan.layers, self.in_dim, flat.size)
            if y.shape != (self.n, out_dim):
                raise _fail(
                    index,
                    f"targets must have shape {(self.n, out_dim)} (rows of x, outputs). "
                    f"Received: {tuple(y.shape)}",
                )
            loss = _check_loss(index, plan.loss, out_dim, bool(plan.fused))
            if int(plan.optimizer["i"][0]) not in range(5):
                raise _fail(index, f"optimizer code {int(plan.optimizer['i'][0])} (0..4)")
            self.models.append(
                _Model(plan.layers.copy(), plan.optimizer.copy(), at, flat.size, out_dim, loss)
            )
            at += -(-flat.size // 4) * 4  # each model's buffer starts 16-byte aligned
        self.tile_rows = [
            tile_rows_for(m.layers, self.in_dim, self.dtype.itemsize) for m in self.models
        ]
        if 0 in self.tile_rows:
            raise _fail(
                self.tile_rows.index(0),
                f"the layers do not fit one row of a tile in {SHARED_LIMIT} bytes of shared "
                "memory; use the NumPy/CuPy path",
            )
        self.shared = max(
            shared_bytes(m.layers, self.in_dim, rows, self.dtype.itemsize)
            for m, rows in zip(self.models, self.tile_rows)
        )
        self.x = xp.ascontiguousarray(xp.asarray(x))
        self.params = xp.zeros(max(at, 1), self.dtype)
        self.grads, self.s0, self.s1 = (xp.zeros_like(self.params) for _ in range(3))
        y_offsets, ys = [], []
        for model, flat, plan, y in zip(self.models, params, plans, targets):
            self.params_of(model)[...] = xp.asarray(flat)
            for buffer, state in zip((self.s0, self.s1), [s for s in plan.state if s is not None]):
                buffer[model.param_at : model.param_at + model.n_params] = xp.asarray(state)
            y_offsets.append(sum(y.size for y in ys))
            ys.append(xp.asarray(y).reshape(-1))
        self.y = xp.concatenate(ys)
        self.y_offsets = y_offsets
        self.runner = runner if runner is not None else cupy_runner()
        self.steps_done = 0

    def _check_array(self, name, array, ndim):
        """Host or device arrays are accepted (copied in); their rank and dtype are checked."""
        if not hasattr(array, "ndim") or not hasattr(array, "dtype"):
            raise TypeError(f"{name} must be a NumPy or CuPy array. Received: {type(array)}")
        if array.ndim != ndim or np.dtype(array.dtype) != self.dtype:
            raise TypeError(
                f"{name} must be a {ndim}-D {self.dtype} array (the parameters' dtype). "
                f"Received: {array.ndim}-D {array.dtype}"
            )

    def params_of(self, model):
        """The view of one model's parameters (``model``: index or its record)."""
        model = self.models[model] if isinstance(model, int) else model
        return self.params[model.param_at : model.param_at + model.n_params]

    def state_of(self, index: int) -> tuple:
        """One model's optimizer state views (s0, s1) in the population's buffers."""
        model = self.models[index]
        span = slice(model.param_at, model.param_at + model.n_params)
        return self.s0[span], self.s1[span]

    def _records(self, steps: int):
        """Device records for a call of ``steps`` steps from ``steps_done`` on."""
        xp, done = self.xp, self.steps_done
        models = np.zeros(len(self.models), MODEL_DTYPE)
        layers, opts, first = [], [], 0
        for p, model in enumerate(self.models):
            kind, mode, reduction, delta = model.loss
            i = models[p]["i"]
            i[:12] = (
                first,
                model.layers.size,
                model.param_at,
                model.n_params,
                self.y_offsets[p],
                model.out_dim,
                kind,
                mode,
                reduction,
                p * steps,
                p * steps,
                self.tile_rows[p],
            )
            models[p]["d"][0] = delta
            records = model.layers.copy()
            records["i"][:, 8] += done  # dropout counters, as the NumPy path advances them
            layers.append(records)
            opt = model.optimizer.copy()
            opt["i"][2] += done  # optimizer iterations before this call's first step
            opts.append(opt)
            first += model.layers.size
        return (
            xp.asarray(models.view(np.uint8)),
            xp.asarray(np.concatenate(layers).view(np.uint8)),
            xp.asarray(np.array(opts, _OPTIMIZER_DTYPE).view(np.uint8)),
        )

    def train(self, order, batch_size: int, learning_rates):
        """Run ``ceil(len(order) / batch_size)`` steps on the rows ``order`` for every model.

        Parameters
        ----------
        order : array of int64
            Row indices of ``x`` in training order (on the population's device).
        batch_size : int
            Rows per step (the last batch may be shorter).
        learning_rates : array
            ``(P, steps)`` float64 learning rate of each model at each step.

        Returns
        -------
        numpy.ndarray
            ``(P, steps)`` float64 losses (data + regularization). A model stops at its first
            non-finite loss: that step and every later one of the call update nothing for it
            (as ``train_step`` returns before its update, and the CPU engine ends its run);
            its later losses are still computed, from the weights it stopped with.
        """
        xp = self.xp
        order = xp.ascontiguousarray(xp.asarray(order), dtype=np.int64)
        if order.ndim != 1 or (order.size and (int(order.min()) < 0 or int(order.max()) >= self.n)):
            raise ValueError(f"order must be 1-D row indices in [0, {self.n}).")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer. Received: {batch_size}")
        steps = -(-order.size // int(batch_size))
        P = len(self.models)
        lrs = xp.ascontiguousarray(xp.asarray(learning_rates, dtype=np.float64))
        if lrs.shape != (P, steps):
            raise ValueError(
                f"learning_rates must have shape {(P, steps)} (models, steps). "
                f"Received: {tuple(lrs.shape)}"
            )
        records = self._records(steps)
        losses = xp.zeros((P, max(steps, 1)), np.float64)
        self._stopped = xp.zeros(P, np.int32)  # set at a model's first non-finite loss
        for step in range(steps):
            start, m = step * batch_size, min(batch_size, order.size - step * batch_size)
            self._step(records, order, start, m, step, losses)
            self._update(records, lrs, losses, step)
        self.steps_done += steps
        return _host(losses)[:, :steps]

    def gradients(self, order, rows: int):
        """Forward and backward of the batch ``order[:rows]`` at the current step, no update.

        Returns the ``(P,)`` losses; the gradients are left in ``grads`` (``grads_of``), which
        the next ``train`` would add to: call ``clear_gradients`` before training on.
        """
        xp = self.xp
        order = xp.ascontiguousarray(xp.asarray(order), dtype=np.int64)
        if not 1 <= int(rows) <= order.size:
            raise ValueError(f"rows must be in [1, {order.size}]. Received: {rows}")
        losses = xp.zeros((len(self.models), 1), np.float64)
        self._step(self._records(1), order, 0, int(rows), 0, losses)
        return _host(losses)[:, 0]

    def copy_out(self, index: int, params, state=()) -> None:
        """Write model ``index``'s trained parameters and optimizer state into host or device
        arrays (e.g. the model's own ``params`` and ``plan.state`` buffers, None skipped)."""
        xp = np if isinstance(params, np.ndarray) else self.xp
        params[...] = _host(self.params_of(index)) if xp is np else self.params_of(index)
        buffers = [s for s in state if s is not None]
        for target, source in zip(buffers, self.state_of(index)):
            target[...] = _host(source) if isinstance(target, np.ndarray) else source

    def clear_gradients(self) -> None:
        """Zero the gradient buffers (the update kernel does this after every step)."""
        self.grads[...] = 0

    def grads_of(self, index: int):
        """The view of one model's gradients."""
        model = self.models[index]
        return self.grads[model.param_at : model.param_at + model.n_params]

    def _step(self, records, order, start, m, step, losses):
        models, layers, _ = records
        self.runner(
            f"fused_mlp_step_{_SUFFIX[self.dtype]}",
            (math.ceil(m / min(self.tile_rows)), len(self.models)),
            THREADS,
            self.shared,
            (models, layers, self.x, self.y, order, np.int64(start), np.int64(m),
             np.int64(self.in_dim), self.params, self.grads, losses, np.int64(step)),
        )  # fmt: skip

    def _update(self, records, lrs, losses, step):
        models, _, opts = records
        widest = max(m.n_params for m in self.models)
        self.runner(
            f"fused_mlp_update_{_SUFFIX[self.dtype]}",
            (max(1, min(UPDATE_BLOCKS, math.ceil(widest / THREADS))), len(self.models)),
            THREADS,
            0,
            (models, opts, lrs, losses, self.params, self.grads, self.s0, self.s1,
             np.int64(step), np.int32(1), self._stopped),
        )  # fmt: skip


def _host(array) -> np.ndarray:
    return np.asarray(array.get() if hasattr(array, "get") else array)


def cupy_runner():
    """A runner that compiles ``fused_mlp.cu`` once with NVRTC (``_cuda.NVRTC_OPTIONS``) and
    launches its entry points with CuPy (imports CuPy; needs a usable GPU)."""
    import cupy

    from ._cuda import NVRTC_OPTIONS

    module = cupy.RawModule(code=_sources.expand_includes(SOURCE), options=NVRTC_OPTIONS)
    functions = {}

    def run(name, grid, block, shared, args):
        function = functions.get(name)
        if function is None:
            function = functions[name] = module.get_function(name)
        function(tuple(grid), (block,), args, shared_mem=shared)

    return run
