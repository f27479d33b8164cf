"""Interactive tutorial apps: a pure-Python model (state and update logic) plus an ipywidgets view.

This is the only package that imports ipywidgets, and it does so lazily: each app's submodule
loads on first access (``nastoolkit.widgets.GradientDescentApp``), so a missing optional piece
never breaks the others and ``import nastoolkit`` stays free of ipywidgets.

Every app exposes ``app.model`` (the state), ``app.widget`` (the top-level container), its named
controls as attributes (``app.learning_rate_slider``, ``app.step_button``) and displays itself as
the last line of a cell. Figures go through ``FigureView`` (``_view.py``).
"""

from __future__ import annotations

import importlib

# Submodules, in tutorial order. Names not listed in _EXPORTS are looked up in these submodules'
# ``__all__`` on first access, so another tutorial's apps need no edit here.
_SUBMODULES = ("descent", "race", "schedules", "training", "regularization", "dropout", "nas")

_EXPORTS = {
    "FigureView": "_view",
    "GradientDescent": "descent",
    "GradientDescentApp": "descent",
    "ModelSlice": "descent",
    "model_slice": "descent",
    "OptimizerRace": "race",
    "OptimizerRaceApp": "race",
    "RACERS": "race",
    "ScheduleExplorer": "schedules",
    "ScheduleApp": "schedules",
    "LiveLossPlot": "training",
}

__all__ = [*_EXPORTS, *_SUBMODULES]


def _load(submodule: str):
    return importlib.import_module(f"{__name__}.{submodule}")


def __getattr__(name: str):
    if name in _SUBMODULES or name == "_view":
        return _load(name)
    if name in _EXPORTS:
        return getattr(_load(_EXPORTS[name]), name)
    for submodule in _SUBMODULES:
        try:
            module = _load(submodule)
        except ImportError:
            continue  # a tutorial whose module is not written (or not installable) yet
        if name in getattr(module, "__all__", ()):
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
