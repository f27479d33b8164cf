"""Choose the array module (NumPy or CuPy) and move arrays between host and device.

This is the only module that imports CuPy, and it does so lazily: ``import nastoolkit`` never
touches CuPy. The choice is ``"auto"`` (a usable GPU if there is one, else NumPy), ``"numpy"`` or
``"cupy"``; the default comes from the ``NASTOOLKIT_BACKEND`` environment variable.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from dataclasses import dataclass
from types import ModuleType

import numpy as np

__all__ = [
    "BackendError",
    "BackendInfo",
    "array_module",
    "current",
    "describe",
    "is_cupy_array",
    "probe_gpu",
    "to_device",
    "to_numpy",
    "use",
    "xp",
]

CHOICES = ("auto", "numpy", "cupy")
ENV_VAR = "NASTOOLKIT_BACKEND"


class BackendError(RuntimeError):
    """The requested backend cannot be used here (the message says why and what to do).

    Examples
    --------
    >>> issubclass(BackendError, RuntimeError)
    True
    """


@dataclass(frozen=True)
class BackendInfo:
    """The backend in use: its name, its array module and a one-line reason for the choice.

    Attributes
    ----------
    name : {"numpy", "cupy"}
    xp : module
        ``numpy`` or ``cupy``.
    reason : str
        Why this backend was chosen (or why the GPU was not).

    Examples
    --------
    >>> import numpy as np
    >>> str(BackendInfo("numpy", np, "selected explicitly"))
    'numpy: selected explicitly'
    """

    name: str
    xp: ModuleType
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


@dataclass(frozen=True)
class GpuProbe:
    """Outcome of trying CuPy for real: ``usable`` and a one-line description or failure cause.

    Attributes
    ----------
    usable : bool
        A test kernel compiled, ran and returned the right values.
    detail : str
        The device and CUDA version, or the cause of the failure.
    installed : bool
        CuPy is importable.
    """

    usable: bool
    detail: str
    installed: bool


_current: BackendInfo | None = None
_probe_cache: GpuProbe | None = None

_PROBE_SOURCE = r"""
extern "C" __global__ void nastoolkit_probe(float* x, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = 2.0f * x[i] + 1.0f;
}
"""


def probe_gpu(refresh: bool = False) -> GpuProbe:
    """Try CuPy end to end: import, device query, NVRTC compile and one tiny launch.

    ``cupy.cuda.is_available()`` alone is not trusted: it can say True where NVRTC is missing, and
    a machine without a driver only fails at first use.

    Parameters
    ----------
    refresh : bool, default False
        Probe again instead of returning the result cached for this process.

    Returns
    -------
    GpuProbe
        Never raises: a failure is ``usable=False`` with its cause in ``detail``.

    Examples
    --------
    >>> probe = probe_gpu()
    >>> isinstance(probe.usable, bool) and bool(probe.detail)
    True
    """
    global _probe_cache
    if _probe_cache is not None and not refresh:
        return _probe_cache
    try:
        import cupy  # lazy on purpose: the package's only CuPy import
    except Exception as exc:  # noqa: BLE001  (ImportError, or NotADirectoryError for a bad cache dir)
        _probe_cache = GpuProbe(
            False,
            f"CuPy is not importable ({type(exc).__name__}: {exc}); "
            "install it with `pip install nastoolkit[gpu]`",
            False,
        )
        return _probe_cache
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001  (the runtime raises its own error types)
        _probe_cache = GpuProbe(False, f"no CUDA driver or device found ({_short(exc)})", True)
        return _probe_cache
    if count < 1:
        _probe_cache = GpuProbe(False, "CUDA reports no devices", True)
        return _probe_cache
    try:
        kernel = cupy.RawKernel(_PROBE_SOURCE, "nastoolkit_probe")
        x = cupy.arange(4, dtype=cupy.float32)
        kernel((1,), (32,), (x, np.int32(4)))
        ok = bool((x.get() == np.array([1, 3, 5, 7], np.float32)).all())
    except Exception as exc:  # noqa: BLE001  (any failure here means: no usable GPU)
        text = _short(exc)
        cause = (
            "NVRTC (the CUDA runtime compiler) is missing"
            if "nvrtc" in text.lower()
            else (
                "the CUDA driver is too old for this CuPy"
                if "insufficient" in text.lower()
                else "a test kernel failed to compile or run"
            )
        )
        _probe_cache = GpuProbe(False, f"{cause} ({text})", True)
        return _probe_cache
    if not ok:
        _probe_cache = GpuProbe(False, "a test kernel ran but returned wrong values", True)
        return _probe_cache
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    version = cupy.cuda.runtime.runtimeGetVersion()
    _probe_cache = GpuProbe(True, f"{name}, CUDA {version // 1000}.{(version % 1000) // 10}", True)
    return _probe_cache


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def use(name: str | None = None) -> BackendInfo:
    """Select the backend for new models and arrays.

    Parameters
    ----------
    name : {"auto", "numpy", "cupy"}, optional
        ``"auto"`` takes a usable GPU if there is one, else NumPy (warning if CuPy is installed
        but unusable). None reads ``$NASTOOLKIT_BACKEND``, or ``"auto"`` if it is unset.

    Returns
    -------
    BackendInfo
        The backend now in use and why.

    Raises
    ------
    BackendError
        ``"cupy"`` was requested and no GPU is usable (the message names the cause).
    ValueError
        ``name`` (or the environment variable) is not one of the three choices.

    Examples
    --------
    >>> use("numpy").name
    'numpy'
    >>> describe().split(";")[0]
    'numpy: selected explicitly'
    """
    global _current
    requested = name if name is not None else os.environ.get(ENV_VAR, "auto")
    if not isinstance(requested, str) or requested.strip().lower() not in CHOICES:
        source = "name" if name is not None else f"${ENV_VAR}"
        raise ValueError(f"backend {source} must be one of {CHOICES}. Received: {requested!r}")
    requested = requested.strip().lower()
    if requested == "numpy":
        _current = BackendInfo("numpy", np, "selected explicitly")
        return _current
    probe = probe_gpu()
    if probe.usable:
        import cupy

        _current = BackendInfo("cupy", cupy, probe.detail)
        return _current
    if requested == "cupy":
        raise BackendError(
            f"backend 'cupy' was requested but no GPU is usable: {probe.detail}. "
            f"Use backend 'numpy' (or 'auto'), or fix the GPU setup."
        )
    if probe.installed:
        warnings.warn(
            f"nastoolkit: falling back to NumPy because {probe.detail}",
            RuntimeWarning,
            stacklevel=2,
        )
    _current = BackendInfo(
        "numpy",
        np,
        probe.detail if probe.installed else "no GPU stack installed (CuPy is not importable)",
    )
    return _current


def current() -> BackendInfo:
    """The backend in use, resolving ``$NASTOOLKIT_BACKEND`` (or auto) on first call.

    Returns
    -------
    BackendInfo

    Examples
    --------
    >>> current().name in ("numpy", "cupy")
    True
    """
    return _current if _current is not None else use()


def xp() -> ModuleType:
    """The array module of the current backend (``numpy`` or ``cupy``).

    Returns
    -------
    module

    Examples
    --------
    >>> float(xp().ones(3).sum())
    3.0
    """
    return current().xp


def describe(model=None) -> str:
    """One line for humans: the backend in use and why, then which path ``fit`` trains on and
    why (the compiled engine, or the NumPy/CuPy path with the engine's fallback reason).

    Parameters
    ----------
    model : Sequential, optional
        A built, compiled model: whether *its* ``fit`` runs in the engine (a piece without a
        compiled form is named). None: a model whose every piece the engine supports.

    Returns
    -------
    str
        For example ``"numpy: no GPU stack installed (CuPy is not importable); fit: compiled
        engine (...)"`` or ``"...; fit: NumPy path (not compiled: loss KLDivergence)"``.

    Examples
    --------
    >>> describe().split(":")[0] in ("numpy", "cupy")
    True
    >>> "; fit: " in describe()
    True
    """
    # The one upward import of this module, made on call: the fit path is the engine's answer.
    from . import engine

    info = current()
    return f"{info}; fit: {engine.fit_path(model, info.name)}"


def is_cupy_array(x: object) -> bool:
    """True for a CuPy ndarray, decided without importing CuPy.

    Parameters
    ----------
    x : object

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> is_cupy_array(np.zeros(3))
    False
    """
    return type(x) is not np.ndarray and type(x).__module__.startswith("cupy")


def array_module(*arrays: object) -> ModuleType:
    """``cupy`` if any argument is a CuPy array, else ``numpy`` (like ``cupy.get_array_module``).

    Called several times per training step, so NumPy arrays take the shortest path.

    Parameters
    ----------
    *arrays : object
        Arrays (or anything else, which counts as NumPy).

    Returns
    -------
    module

    Examples
    --------
    >>> import numpy as np
    >>> array_module(np.zeros(2), 3.0) is np
    True
    """
    for a in arrays:
        if type(a) is not np.ndarray and type(a).__module__.startswith("cupy"):
            return sys.modules["cupy"]
    return np


def to_numpy(x):
    """A NumPy array for ``x`` (copied from the device for a CuPy array).

    Parameters
    ----------
    x : array_like
        A NumPy or CuPy array, or anything ``numpy.asarray`` takes.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> to_numpy([1, 2])
    array([1, 2])
    """
    return x.get() if is_cupy_array(x) else np.asarray(x)


def to_device(x, like: ModuleType | None = None):
    """``x`` as an array of the current backend (or of module ``like``).

    Parameters
    ----------
    x : array_like
    like : module, optional
        ``numpy`` or ``cupy``; the current backend's module by default.

    Returns
    -------
    ndarray
        A NumPy or CuPy array (a copy only where the device changes).

    Examples
    --------
    >>> import numpy as np
    >>> to_device([1.0, 2.0], like=np)
    array([1., 2.])
    """
    module = like if like is not None else xp()
    if module is np:
        return to_numpy(x)
    return module.asarray(x)


# --- CPU threads -------------------------------------------------------------------------------

#: multiply-adds of the largest matmul in a step below which BLAS gets one thread: on small
#: models extra threads gain nothing and collapse when another process takes a core (measured
#: here: a 2 x 128-unit fit took 25-33 s with default threads on a busy 2-core machine, 0.24 s
#: with one).
SMALL_MATMUL = 1 << 22

_controller = None  # (threadpoolctl controller, len(sys.modules) when it was made)
# single_blas_thread blocks open in this thread (inside one, the libraries are at one thread
# already); per thread, so a block in another thread (a Dask worker's) still sets its own limit
_limits = threading.local()


def _thread_controller():
    """A threadpoolctl controller of the loaded libraries, rescanned (~0.3-3 ms) only after new
    modules were imported, since an import (SciPy's own OpenBLAS, say) may bring a new library."""
    global _controller
    if _controller is None or _controller[1] != len(sys.modules):
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return None
        _controller = (ThreadpoolController(), len(sys.modules))
    return _controller[0]


@contextlib.contextmanager
def single_blas_thread(enabled: bool = True):
    """Run the block with BLAS and OpenMP on one thread (threadpoolctl), then restore them.

    A no-op when ``enabled`` is False or threadpoolctl is missing, and inside another such block
    of the same thread unless a module was imported since the libraries were last scanned (a new
    library gets its limit); else ~40 us (threadpoolctl reads and sets every library's thread
    count twice). Fit validates inside its own block, and a search trains inside one: nesting
    is common.
    """
    depth = getattr(_limits, "depth", 0)
    nested = depth and _controller is not None and _controller[1] == len(sys.modules)
    controller = _thread_controller() if enabled and not nested else None
    if controller is None:
        yield
        return
    _limits.depth = depth + 1
    try:
        with controller.limit(limits=1):
            yield
    finally:
        _limits.depth = depth
