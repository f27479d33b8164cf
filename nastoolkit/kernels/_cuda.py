"""CuPy launchers for the CUDA C kernels in ``csrc/``: the signatures of ``_numpy``, on the GPU.

- Dense layers: cuBLAS GEMM through ``cupy.matmul(..., out=)`` into the preallocated output, then
  ONE fused kernel for bias + activation (``dense.cu``); backward: one kernel for the activation
  gradient from the output y, then GEMMs, and the bias gradient by ``cupy.sum(axis=0, out=)``.
  Softmax uses CuPy row reductions around two elementwise kernels.
- Dropout: the counter-based mask of ``_numpy.dropout`` drawn on the device (same bits).
- Optimizer updates: one launch over one flat contiguous buffer, in place, Keras 3 formulas with
  decoupled weight decay; float4/double2 accesses where all arrays are 16-byte aligned.

Kernels are compiled lazily with NVRTC, one ``cupy.RawModule`` per ``.cu`` file, cached here and
by CuPy on disk. CuPy passes raw pointers and ignores strides, so every launcher checks dtype,
C-contiguity, shape and device BEFORE launching and raises TypeError/ValueError naming the
argument. Scalars are passed as NumPy scalars of the kernel's parameter type (a Python float
would arrive as a double). Importing this module imports CuPy; ``nastoolkit.kernels`` only does
so when handed a CuPy array.
"""

from __future__ import annotations

import math

import cupy
import numpy as np

from . import _numpy, _sources
from ._native import adagrad_scalars, adam_scalars, momentum_scalars, rmsprop_scalars, sgd_scalars

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_CODES",
    "KERNELS",
    "NEEDS_PREACTIVATION",
    "NVRTC_OPTIONS",
    "activation_backward",
    "activation_forward",
    "adagrad_update",
    "adam_update",
    "dense_backward",
    "dense_forward",
    "dropout",
    "dropout_masks",
    "gather_rows",
    "momentum_update",
    "rmsprop_update",
    "sgd_update",
    "warmup",
]

ACTIVATIONS = _numpy.ACTIVATIONS
NEEDS_PREACTIVATION = _numpy.NEEDS_PREACTIVATION
# Codes of enum NkActivation in csrc/activations.cuh; softmax is a row operation (not a code).
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
}
KERNELS = _sources.KERNELS  # entry points per file, each as <name>_f32 and <name>_f64
# No FMA contraction: each operation rounds once, as in the NumPy twin (CuPy adds -ftz=true).
NVRTC_OPTIONS = ("--std=c++17", "--fmad=false")
BLOCK = 256  # threads per block: a multiple of the warp size, fine for memory-bound loops
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}

_modules: dict[str, cupy.RawModule] = {}
_functions: dict[tuple[int, str], object] = {}
_max_blocks: dict[int, int] = {}


# --- compilation and launch -----------------------------------------------------------------------


def _module(file_name: str) -> cupy.RawModule:
    module = _modules.get(file_name)
    if module is None:
        module = cupy.RawModule(code=_sources.expand_includes(file_name), options=NVRTC_OPTIONS)
        _modules[file_name] = module
    return module


def _function(name: str, dtype):
    """The compiled entry point ``<name>_<f32|f64>`` for the current device."""
    key = (cupy.cuda.Device().id, f"{name}_{_SUFFIX[np.dtype(dtype)]}")
    function = _functions.get(key)
    if function is None:
        file_name = next(f for f, names in KERNELS.items() if name in names)
        function = _module(file_name).get_function(key[1])
        _functions[key] = function
    return function


def warmup() -> list[str]:
    """Compile and load every kernel now (first use otherwise pays NVRTC); returns their names."""
    loaded = []
    for names in KERNELS.values():
        for name in names:
            for dtype, suffix in _SUFFIX.items():
                _function(name, dtype)
                loaded.append(f"{name}_{suffix}")
    return loaded


def _grid(units: int) -> int:
    """Blocks for a grid-stride loop over ``units`` items: enough to fill the GPU, no more."""
    device = cupy.cuda.Device().id
    if device not in _max_blocks:
        sm_count = cupy.cuda.Device(device).attributes["MultiProcessorCount"]
        _max_blocks[device] = 32 * sm_count
    return max(1, min(math.ceil(units / BLOCK), _max_blocks[device]))


def _launch(name: str, dtype, units: int, args: tuple) -> None:
    _function(name, dtype)((_grid(units),), (BLOCK,), args)


# --- argument checks (CuPy validates nothing a RawKernel receives) -------------------------------


def _check(named: dict, dtype=None, shapes: dict | None = None):
    """Every array is a C-contiguous CuPy float32/float64 array on one device, of one dtype.

    ``named`` maps argument names to arrays (None entries are skipped); ``shapes`` maps names to
    required shapes. Returns the common dtype.
    """
    first_name, first = next((k, v) for k, v in named.items() if v is not None)
    if not isinstance(first, cupy.ndarray):
        raise TypeError(
            f"{first_name} must be a CuPy array on the GPU. Received: "
            f"{type(first).__module__}.{type(first).__name__}; move it with "
            f"nastoolkit.backend.to_device({first_name})."
        )
    dtype = first.dtype if dtype is None else np.dtype(dtype)
    if dtype not in _SUFFIX:
        raise TypeError(
            f"{first_name} must be a float32 or float64 array. Received: dtype "
            f"{dtype}; convert with {first_name}.astype('float32')."
        )
    device = first.device.id
    for name, array in named.items():
        if array is None:
            continue
        if not isinstance(array, cupy.ndarray):
            raise TypeError(
                f"{name} must be a CuPy array on the GPU like the other arguments. "
                f"Received: {type(array).__module__}.{type(array).__name__}; move it "
                f"with nastoolkit.backend.to_device({name})."
            )
        if array.device.id != device:
            raise TypeError(
                f"{name} is on GPU {array.device.id} but {first_name} is on GPU "
                f"{device}; put all arrays on one device."
            )
        if array.dtype != dtype:
            raise TypeError(
                f"{name} must have dtype {np.dtype(dtype)} like {first_name}. "
                f"Received: {array.dtype}; convert with {name}.astype('{np.dtype(dtype)}')."
            )
        if not array.flags.c_contiguous:
            raise ValueError(
                f"{name} must be C-contiguous (CUDA kernels ignore strides). "
                f"Received strides {array.strides} for shape {array.shape}; pass "
                f"cupy.ascontiguousarray({name})."
            )
        if shapes and name in shapes and array.shape != tuple(shapes[name]):
            raise ValueError(
                f"{name} must have shape {tuple(shapes[name])}. Received: {array.shape}"
            )
    return np.dtype(dtype)


def _activation_code(name: str) -> int:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}. Received: activation={name!r}")
    return ACTIVATION_CODES.get(name, -1)


# --- activations ----------------------------------------------------------------------------------


def activation_forward(name: str, z, out=None):
    """y = act(z), elementwise (softmax: along the last axis). ``out`` may be ``z``."""
    code = _activation_code(name)
    out = cupy.empty_like(z) if out is None else out
    dtype = _check({"z": z, "out": out}, shapes={"out": z.shape})
    if name == "softmax":
        _softmax_forward(z, out, dtype)
    else:
        # (z.size, 1): n = rows * cols is exactly z.size, also 0 (no bias, so cols is never used)
        _launch(
            "bias_activation",
            dtype,
            z.size,
            (
                z,
                z,
                out,
                out,
                np.int64(z.size),
                np.int64(1),
                np.int32(0),
                np.int32(0),
                np.int32(code),
            ),
        )
    return out


def _softmax_forward(z, out, dtype):
    """out = e^(z - max) / sum e^(z - max) per row of the last axis (CuPy reductions + kernel)."""
    cols = z.shape[-1] if z.ndim else 1
    rows = z.size // max(cols, 1)
    row_max = z.reshape(rows, cols).max(axis=1)
    _launch("softmax_numerator", dtype, z.size, (z, row_max, out, np.int64(rows), np.int64(cols)))
    out2d = out.reshape(rows, cols)
    out2d /= out2d.sum(axis=1, keepdims=True)


def _check_preactivation(name: str, z) -> None:
    if z is None and name in NEEDS_PREACTIVATION:
        raise ValueError(
            f"activation {name!r} needs the pre-activation z for its gradient (its "
            f"output does not determine z). Received: z=None; keep z with "
            f"dense_forward(..., z_out=buffer) and pass z=buffer."
        )


def activation_backward(name: str, y, grad_y, out=None, z=None):
    """dL/dz from the output y = act(z) and dL/dy (and z for ``NEEDS_PREACTIVATION``, ignored
    otherwise). ``out`` may alias ``grad_y``."""
    code = _activation_code(name)
    _check_preactivation(name, z)
    z = z if name in NEEDS_PREACTIVATION else None
    out = cupy.empty_like(y) if out is None else out
    dtype = _check(
        {"y": y, "grad_y": grad_y, "out": out, "z": z},
        shapes={"grad_y": y.shape, "out": y.shape, "z": y.shape},
    )
    if name == "softmax":
        cols = y.shape[-1] if y.ndim else 1
        rows = y.size // max(cols, 1)
        row_dot = (grad_y.reshape(rows, cols) * y.reshape(rows, cols)).sum(axis=1)
        _launch(
            "softmax_grad", dtype, y.size, (y, grad_y, row_dot, out, np.int64(rows), np.int64(cols))
        )
    else:
        # y stands in for z where the derivative does not read it (never dereferenced)
        _launch(
            "activation_grad",
            dtype,
            y.size,
            (y, y if z is None else z, grad_y, out, np.int64(y.size), np.int32(code)),
        )
    return out


# --- dense layer ----------------------------------------------------------------------------------


def _check_dense_shapes(x, kernel):
    if getattr(x, "ndim", None) != 2 or getattr(kernel, "ndim", None) != 2:
        raise ValueError(
            f"x must be 2-D (batch, d_in) and kernel 2-D (d_in, d_out). Received: "
            f"x {getattr(x, 'shape', None)}, kernel {getattr(kernel, 'shape', None)}"
        )
    if x.shape[1] != kernel.shape[0]:
        raise ValueError(
            f"x has {x.shape[1]} features but kernel expects {kernel.shape[0]} "
            f"(kernel shape {kernel.shape}). Received: x {x.shape}"
        )


def gather_rows(src, indices, out):
    """out[i] = src[indices[i]] on the device (CuPy's take; it has no ``mode`` argument)."""
    return cupy.take(src, indices, axis=0, out=out)


def dense_forward(x, kernel, bias, activation: str = "linear", out=None, z_out=None):
    """out = act(x @ kernel + bias): x (n, d_in), kernel (d_in, d_out), bias (d_out,) -> (n, d_out).

    One cuBLAS GEMM into ``out`` (or ``z_out``), then one fused kernel adding the bias and
    applying the activation; ``out`` keeps y = act(z), all that ``dense_backward`` needs except
    for ``NEEDS_PREACTIVATION``, whose z = xW + b the same kernel keeps in ``z_out`` when given.
    """
    code = _activation_code(activation)
    _check_dense_shapes(x, kernel)
    rows, cols = x.shape[0], kernel.shape[1]
    if out is None:
        out = cupy.empty((rows, cols), dtype=kernel.dtype)
    dtype = _check(
        {"x": x, "kernel": kernel, "bias": bias, "out": out, "z_out": z_out},
        shapes={"bias": (cols,), "out": (rows, cols), "z_out": (rows, cols)},
    )
    z = out if z_out is None else z_out
    cupy.matmul(x, kernel, out=z)
    has_bias = bias is not None
    _launch(
        "bias_activation",
        dtype,
        out.size,
        (
            z,
            bias if has_bias else z,
            out,
            z,
            np.int64(rows),
            np.int64(cols),
            np.int32(has_bias),
            np.int32(z_out is not None),
            np.int32(0 if activation == "softmax" else code),
        ),
    )
    if activation == "softmax":
        _softmax_forward(out, out, dtype)
    return out


def dense_backward(
    x,
    kernel,
    y,
    grad_y,
    activation: str = "linear",
    grad_kernel=None,
    grad_bias=None,
    grad_x=None,
    grad_z=None,
    need_grad_x: bool = True,
    use_bias: bool = True,
    z=None,
):
    """Gradients ``(grad_x, grad_kernel, grad_bias)`` of a dense layer (``_numpy.dense_backward``).

    One kernel turns dL/dy into dL/dz from y (into ``grad_z``, which may be ``grad_y``), then
    grad_kernel = x^T dz and grad_x = dz kernel^T by cuBLAS, grad_bias = sum of dz over the batch.
    """
    _activation_code(activation)
    _check_dense_shapes(x, kernel)
    rows, cols = y.shape if getattr(y, "ndim", None) == 2 else (None, None)
    if rows != x.shape[0] or cols != kernel.shape[1]:
        raise ValueError(
            f"y must have shape {(x.shape[0], kernel.shape[1])} (batch, d_out). "
            f"Received: {getattr(y, 'shape', None)}"
        )
    _check(
        {
            "x": x,
            "kernel": kernel,
            "y": y,
            "grad_y": grad_y,
            "grad_kernel": grad_kernel,
            "grad_bias": grad_bias,
            "grad_x": grad_x,
            "grad_z": grad_z,
        },
        shapes={
            "grad_y": y.shape,
            "grad_z": y.shape,
            "grad_kernel": kernel.shape,
            "grad_bias": (cols,),
            "grad_x": x.shape,
        },
    )
    gz = (
        grad_y
        if activation == "linear"
        else activation_backward(activation, y, grad_y, out=grad_z, z=z)
    )
    grad_kernel = cupy.matmul(x.T, gz, out=grad_kernel)
    grad_bias = cupy.sum(gz, axis=0, out=grad_bias) if use_bias else None
    grad_x = cupy.matmul(gz, kernel.T, out=grad_x) if need_grad_x else None
    return grad_x, grad_kernel, grad_bias


# --- dropout --------------------------------------------------------------------------------------


def dropout(x, rate: float, seed: int, counter: int = 0, out=None, mask=None, work=None):
    """Inverted dropout with the mask bits of ``_numpy.dropout``; returns (out, mask).

    keep_i = (lowbias32(i ^ key) >> 8) >= round(rate 2^24), key = dropout_key(seed, counter);
    mask = keep / (1 - rate) in x's dtype; out = x mask. ``work`` is ignored on the GPU.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1). Received: rate={rate}")
    out = cupy.empty_like(x) if out is None else out
    mask = cupy.empty_like(x) if mask is None else mask
    dtype = _check({"x": x, "out": out, "mask": mask}, shapes={"out": x.shape, "mask": x.shape})
    scalar = dtype.type
    _launch(
        "dropout",
        dtype,
        x.size,
        (
            x,
            out,
            mask,
            np.int64(x.size),
            np.uint32(_numpy.dropout_key(seed, counter)),
            np.uint32(_numpy.dropout_threshold(rate)),
            scalar(1.0 / (1.0 - rate)),
        ),
    )
    return out, mask


def dropout_masks(
    rows,
    cols,
    rate: float,
    seed: int,
    counter: int,
    count: int,
    dtype="float32",
    out=None,
    work=None,
):
    """``count`` consecutive dropout masks of (rows, cols) arrays (see ``_numpy.dropout_masks``):
    one mask launch per call number, on a ones input, so the bits are those of ``dropout``."""
    out = cupy.empty((count, rows, cols), dtype) if out is None else out
    ones = cupy.ones((rows, cols), out.dtype)
    scratch = cupy.empty_like(ones)
    for k in range(count):
        dropout(ones, rate, seed, counter + k, out=scratch, mask=out[k])
    return out


# --- optimizer updates (in place; Keras 3 semantics; `work` is ignored on the GPU) ----------------


def _update(name: str, named: dict, scalars: tuple, flags: tuple = ()) -> None:
    param = named["param"]
    dtype = _check(named, shapes={key: param.shape for key in named})
    lanes = 4 if dtype == np.float32 else 2  # float4 / double2 per vector access
    pointers = tuple(named.values())
    _launch(
        name,
        dtype,
        math.ceil(param.size / lanes),
        (
            *pointers,
            np.int64(param.size),
            *(dtype.type(s) for s in scalars),
            *(np.int32(f) for f in flags),
        ),
    )


def sgd_update(param, grad, learning_rate, weight_decay=0.0, work=None):
    """w <- w - lr g."""
    _update("sgd_update", {"param": param, "grad": grad}, sgd_scalars(learning_rate, weight_decay))


def momentum_update(
    param, grad, velocity, learning_rate, momentum=0.9, nesterov=False, weight_decay=0.0, work=None
):
    """m <- mu m - lr g;  w <- w + m (classic) or w <- w + mu m - lr g (Nesterov)."""
    _update(
        "momentum_update",
        {"param": param, "grad": grad, "velocity": velocity},
        momentum_scalars(learning_rate, momentum, weight_decay),
        (bool(nesterov),),
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
    """Adam / AdamW, Keras 3: w <- w - lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)."""
    _update(
        "adam_update",
        {"param": param, "grad": grad, "m": m, "v": v},
        adam_scalars(step, learning_rate, beta_1, beta_2, epsilon, weight_decay),
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
    """v <- rho v + (1 - rho) g^2;  step = lr g / sqrt(v + eps);  optional momentum on the step."""
    use_momentum = momentum > 0
    if use_momentum and velocity is None:
        raise ValueError("rmsprop_update with momentum > 0 needs a `velocity` buffer.")
    # Without momentum the kernel never touches `velocity`; param stands in for the pointer.
    named = {"param": param, "grad": grad, "v": v, "velocity": velocity if use_momentum else param}
    _update(
        "rmsprop_update",
        named,
        rmsprop_scalars(learning_rate, rho, epsilon, momentum, weight_decay),
        (use_momentum,),
    )


def adagrad_update(
    param, grad, accumulator, learning_rate=0.001, epsilon=1e-7, weight_decay=0.0, work=None
):
    """acc <- acc + g^2;  w <- w - lr g / sqrt(acc + eps)."""
    _update(
        "adagrad_update",
        {"param": param, "grad": grad, "accumulator": accumulator},
        adagrad_scalars(learning_rate, epsilon, weight_decay),
    )
