"""Plots for the tutorials: functions that take data and return a matplotlib ``Figure``.

Nothing here trains or steps an optimizer; the widgets and notebooks compute, these functions
draw. Figures are built with ``matplotlib.figure.Figure`` directly, so they are never registered
with pyplot and never shown twice. Submodules load on first access.
"""

from __future__ import annotations

import importlib

_SUBMODULES = ("surfaces", "training", "schedules", "regularization", "nas")

_EXPORTS = {
    "surface_grid": "surfaces",
    "plot_surface": "surfaces",
    "plot_descent": "surfaces",
    "plot_race": "surfaces",
    "plot_history": "training",
    "plot_schedules": "schedules",
}

__all__ = [*_EXPORTS, *_SUBMODULES]


def _load(submodule: str):
    return importlib.import_module(f"{__name__}.{submodule}")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return _load(name)
    if name in _EXPORTS:
        return getattr(_load(_EXPORTS[name]), name)
    for submodule in _SUBMODULES:
        try:
            module = _load(submodule)
        except ImportError:
            continue  # another tutorial's plots not written yet
        if name in getattr(module, "__all__", ()):
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
