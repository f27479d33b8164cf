"""Compiled CPU fast path for the in-place optimizer updates (optional; NumPy stays the default).

One NumPy Adam step makes ~12 passes over memory (one per ufunc); the compiled loop makes one,
reading g, w, m, v and writing w, m, v (28 bytes per float32 parameter). The library is built on
first use with g++ from ``csrc/cpu/native_optim.cpp``, which includes the same element functions
as the CUDA kernels (``csrc/optim.cuh``), so CPU and GPU share one statement of every rule.

- Build: ``-O3 -march=native -fopenmp -ffp-contract=off`` into a per-user cache directory keyed by
  a hash of the sources, flags, compiler and CPU, written to a temporary name and renamed into
  place (atomic, so concurrent processes are safe).
- Threads: ``$OMP_NUM_THREADS`` when set, else at most 2 (DESIGN: worker processes use one thread;
  they set OMP_NUM_THREADS=1). Buffers under 65536 elements always run on one thread.
- ``NASTOOLKIT_NATIVE=0`` disables it; ``available()`` is False (``reason()`` says why) where no
  compiler is found or the build fails, and callers stay on ``_numpy``.

The update functions have the signatures of ``_numpy`` and accept arrays for which
``supports(...)`` is True: NumPy arrays of one dtype (float32 or float64), one shape, C-contiguous,
writeable. The host scalars (``*_scalars``) are shared with ``_cuda``.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from math import sqrt
from pathlib import Path

import numpy as np

from . import _sources

__all__ = [
    "adagrad_scalars",
    "adagrad_update",
    "adam_scalars",
    "adam_update",
    "available",
    "momentum_scalars",
    "momentum_update",
    "num_threads",
    "reason",
    "rmsprop_scalars",
    "rmsprop_update",
    "set_num_threads",
    "sgd_scalars",
    "sgd_update",
    "supports",
    "warmup",
]

ENV_SWITCH = "NASTOOLKIT_NATIVE"
SOURCE = "cpu/native_optim.cpp"
HEADERS = ("common.cuh", "optim.cuh", "cpu_shim.h")
FLAGS = (
    "-std=c++17",
    "-O3",
    "-march=native",
    "-fopenmp",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-fPIC",
    "-shared",
    "-Wall",
    "-Wextra",
    "-Werror",
)
DEFAULT_MAX_THREADS = 2


# --- host-side scalars (shared with _cuda): Keras 3 formulas, computed in double ----------------
# Each is cast to the array dtype at the call, as NumPy does with a Python float scalar.


def _decay(learning_rate: float, weight_decay: float) -> float:
    """Decoupled weight decay factor: w <- w (1 - weight_decay lr), 1 when there is none."""
    return 1.0 - weight_decay * learning_rate if weight_decay else 1.0


def sgd_scalars(learning_rate, weight_decay=0.0):
    """(decay, lr) for ``sgd_element``."""
    lr = float(learning_rate)
    return _decay(lr, weight_decay), lr


def momentum_scalars(learning_rate, momentum=0.9, weight_decay=0.0):
    """(decay, lr, mu) for ``momentum_element``."""
    lr = float(learning_rate)
    return _decay(lr, weight_decay), lr, float(momentum)


def adam_scalars(
    step, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0
):
    """(decay, 1 - beta_1, 1 - beta_2, eps, alpha),
    alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)."""
    if int(step) < 1:
        raise ValueError(
            f"step must be a positive integer (1 for the first update). Received: step={step!r}"
        )
    lr = float(learning_rate)
    alpha = lr * sqrt(1.0 - beta_2 ** int(step)) / (1.0 - beta_1 ** int(step))
    return _decay(lr, weight_decay), 1.0 - beta_1, 1.0 - beta_2, float(epsilon), alpha


def rmsprop_scalars(learning_rate=0.001, rho=0.9, epsilon=1e-7, momentum=0.0, weight_decay=0.0):
    """(decay, lr, rho, 1 - rho, eps, momentum) for ``rmsprop_element``."""
    lr = float(learning_rate)
    return _decay(lr, weight_decay), lr, float(rho), 1.0 - rho, float(epsilon), float(momentum)


def adagrad_scalars(learning_rate=0.001, epsilon=1e-7, weight_decay=0.0):
    """(decay, lr, eps) for ``adagrad_element``."""
    lr = float(learning_rate)
    return _decay(lr, weight_decay), lr, float(epsilon)


# --- build and load ---------------------------------------------------------------------------

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_failure: str | None = None
_threads: int | None = None


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CXX", "g++")) or shutil.which("g++") or shutil.which("c++")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "nastoolkit" / "native"
    try:
        path.mkdir(parents=True, exist_ok=True)
        if os.access(path, os.W_OK):
            return path
    except OSError:
        pass
    path = (
        Path(tempfile.gettempdir())
        / f"nastoolkit-native-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cpu_signature() -> str:
    """-march=native code is only valid on this CPU model: fold its flags into the cache key."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = next((line for line in info if line.startswith(("flags", "Features"))), "")
    except OSError:
        flags = ""
    return platform.machine() + hashlib.sha256(flags.encode()).hexdigest()[:8]


def _compiler_version(compiler: str) -> str:
    try:
        return subprocess.run(
            [compiler, "--version"], check=False, capture_output=True, text=True, timeout=30
        ).stdout.splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def compile_cached(compiler: str, source: str, headers, flags, name: str, libraries=()) -> Path:
    """Path of the shared library built from ``csrc/<source>`` (with the CPU shim) by
    ``compiler``: reused from the per-user cache when the sources, flags, compiler and CPU match,
    else compiled into it atomically. Raises RuntimeError with g++'s message when it fails."""
    csrc = _sources.csrc_dir()
    key = _sources.fingerprint(
        (source, *headers),
        " ".join((*flags, *libraries)),
        _compiler_version(compiler),
        _cpu_signature(),
    )
    target = _cache_dir() / f"{name}_{key}.so"
    if not target.exists():
        fd, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        command = [
            compiler,
            *flags,
            "-include",
            str(csrc / "cpu_shim.h"),
            str(csrc / source),
            "-o",
            partial,
            *libraries,
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, check=False, timeout=300
            )
            if result.returncode != 0:
                raise RuntimeError(
                    f"g++ failed ({' '.join(command)}): {result.stderr.strip()[-800:]}"
                )
            os.replace(partial, target)  # atomic: a concurrent process sees all or nothing
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
    return target


def _build() -> ctypes.CDLL:
    """Compile (or reuse the cached) library and load it; raises RuntimeError with the cause."""
    compiler = _compiler()
    if compiler is None:
        raise RuntimeError("no C++ compiler found (set $CXX or install g++)")
    target = compile_cached(compiler, SOURCE, HEADERS, FLAGS, "nastoolkit_optim")
    # OpenMP threads that spin while waiting collapse when another process takes a core (2-core
    # machines, process pools): sleep instead. libgomp reads this when it is first loaded.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    library = ctypes.CDLL(str(target))
    _declare(library)
    return library


def _declare(library: ctypes.CDLL) -> None:
    """Set ctypes argument types from the C signatures in native_optim.cpp."""
    pointer, n, flag = ctypes.c_void_p, ctypes.c_longlong, ctypes.c_int
    for suffix, scalar in (("f32", ctypes.c_float), ("f64", ctypes.c_double)):
        layouts = {
            "sgd": (pointer, pointer, n, scalar, scalar, flag),
            "momentum": (pointer, pointer, pointer, n, scalar, scalar, scalar, flag, flag),
            "adam": (pointer, pointer, pointer, pointer, n, *[scalar] * 5, flag),
            "rmsprop": (pointer, pointer, pointer, pointer, n, *[scalar] * 6, flag, flag),
            "adagrad": (pointer, pointer, pointer, n, scalar, scalar, scalar, flag),
        }
        for name, argtypes in layouts.items():
            function = getattr(library, f"nk_{name}_{suffix}")
            function.argtypes = argtypes
            function.restype = None


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


def available() -> bool:
    """True when the compiled updates can be used (builds the library on first call)."""
    return _load() is not None


def reason() -> str:
    """Why ``available()`` is False, or where the library was loaded from."""
    library = _load()
    return library._name if library is not None else str(_failure)


def warmup() -> bool:
    """Build/load now rather than on the first update; returns ``available()``."""
    return available()


def num_threads() -> int:
    """OpenMP threads per update: $OMP_NUM_THREADS if set, else min(2, CPU count)."""
    if _threads is not None:
        return _threads
    try:
        requested = int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        requested = 0
    return requested if requested > 0 else max(1, min(DEFAULT_MAX_THREADS, os.cpu_count() or 1))


def set_num_threads(threads: int | None) -> None:
    """Fix the thread count for this process (None: back to the environment default)."""
    global _threads
    if threads is not None and (int(threads) != threads or threads < 1):
        raise ValueError(
            f"threads must be a positive integer or None. Received: threads={threads!r}"
        )
    _threads = None if threads is None else int(threads)


# --- updates (signatures of _numpy; `work` is accepted and unused) -----------------------------


def supports(*arrays) -> bool:
    """True when the compiled path can update these arrays in place (see module docstring)."""
    first = arrays[0]
    return (
        all(
            type(a) is np.ndarray
            and a.dtype == first.dtype
            and a.shape == first.shape
            and a.flags.c_contiguous
            and a.flags.aligned
            for a in arrays
        )
        and first.dtype in (np.float32, np.float64)
        and all(a.flags.writeable for a in arrays[:1])
        and _load() is not None
    )


def _check(names, arrays):
    """Validate before calling into C: wrong memory in C is a crash, not an exception."""
    param = arrays[0]
    if type(param) is not np.ndarray or param.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{names[0]} must be a NumPy float32 or float64 array. Received: "
            f"{type(param).__name__} of dtype {getattr(param, 'dtype', None)}"
        )
    for name, array in zip(names, arrays):
        if type(array) is not np.ndarray or array.dtype != param.dtype:
            raise TypeError(
                f"{name} must be a NumPy array of dtype {param.dtype} like {names[0]}. "
                f"Received: {type(array).__name__} of dtype {getattr(array, 'dtype', None)}"
            )
        if array.shape != param.shape:
            raise ValueError(
                f"{name} must have the shape of {names[0]} {param.shape}. Received: {array.shape}"
            )
        if not (array.flags.c_contiguous and array.flags.aligned):
            raise ValueError(
                f"{name} must be C-contiguous and aligned; pass "
                f"np.ascontiguousarray({name}) (and copy results back)."
            )
        if name != "grad" and not array.flags.writeable:
            raise ValueError(f"{name} is updated in place and must be writeable.")
    library = _load()
    if library is None:
        raise RuntimeError(f"the compiled CPU updates are unavailable: {_failure}")
    suffix, scalar = ("f32", np.float32) if param.dtype == np.float32 else ("f64", np.float64)
    return library, suffix, scalar


def _ptr(array: np.ndarray) -> int:
    return array.ctypes.data


def sgd_update(param, grad, learning_rate, weight_decay=0.0, work=None):
    """w <- w - lr g, in place (see ``_numpy.sgd_update``)."""
    library, suffix, scalar = _check(("param", "grad"), (param, grad))
    decay, lr = (scalar(s) for s in sgd_scalars(learning_rate, weight_decay))
    getattr(library, f"nk_sgd_{suffix}")(
        _ptr(param), _ptr(grad), param.size, decay, lr, num_threads()
    )


def momentum_update(
    param, grad, velocity, learning_rate, momentum=0.9, nesterov=False, weight_decay=0.0, work=None
):
    """Heavy-ball or Nesterov momentum, in place (see ``_numpy.momentum_update``)."""
    library, suffix, scalar = _check(("param", "grad", "velocity"), (param, grad, velocity))
    decay, lr, mu = (scalar(s) for s in momentum_scalars(learning_rate, momentum, weight_decay))
    getattr(library, f"nk_momentum_{suffix}")(
        _ptr(param),
        _ptr(grad),
        _ptr(velocity),
        param.size,
        decay,
        lr,
        mu,
        int(bool(nesterov)),
        num_threads(),
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
    """Adam / AdamW, in place, Keras 3 form (see ``_numpy.adam_update``); step is 1-based."""
    library, suffix, scalar = _check(("param", "grad", "m", "v"), (param, grad, m, v))
    scalars = adam_scalars(step, learning_rate, beta_1, beta_2, epsilon, weight_decay)
    getattr(library, f"nk_adam_{suffix}")(
        _ptr(param),
        _ptr(grad),
        _ptr(m),
        _ptr(v),
        param.size,
        *(scalar(s) for s in scalars),
        num_threads(),
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
    """RMSprop (eps inside the root), optional momentum, in place (``_numpy.rmsprop_update``)."""
    use_momentum = momentum > 0
    if use_momentum and velocity is None:
        raise ValueError("rmsprop_update with momentum > 0 needs a `velocity` buffer.")
    names, arrays = ("param", "grad", "v"), (param, grad, v)
    if use_momentum:
        names, arrays = names + ("velocity",), arrays + (velocity,)
    library, suffix, scalar = _check(names, arrays)
    scalars = rmsprop_scalars(learning_rate, rho, epsilon, momentum, weight_decay)
    getattr(library, f"nk_rmsprop_{suffix}")(
        _ptr(param),
        _ptr(grad),
        _ptr(v),
        _ptr(velocity) if use_momentum else None,
        param.size,
        *(scalar(s) for s in scalars),
        int(use_momentum),
        num_threads(),
    )


def adagrad_update(
    param, grad, accumulator, learning_rate=0.001, epsilon=1e-7, weight_decay=0.0, work=None
):
    """Adagrad (eps inside the root), in place (see ``_numpy.adagrad_update``)."""
    library, suffix, scalar = _check(("param", "grad", "accumulator"), (param, grad, accumulator))
    decay, lr, eps = (scalar(s) for s in adagrad_scalars(learning_rate, epsilon, weight_decay))
    getattr(library, f"nk_adagrad_{suffix}")(
        _ptr(param), _ptr(grad), _ptr(accumulator), param.size, decay, lr, eps, num_threads()
    )
