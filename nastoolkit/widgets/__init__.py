"""Interactive tutorial apps: a pure-Python model (state and update logic) plus an ipywidgets view.

This is the only package that imports ipywidgets, and it does so lazily: each app's submodule
loads on first access (``nastoolkit.widgets.GradientDescentApp``), so ``import nastoolkit`` stays
free of ipywidgets.

Every app exposes ``app.model`` (the state), ``app.widget`` (the top-level container), its named
controls as attributes (``app.learning_rate_slider``, ``app.step_button``) and displays itself as
the last line of a cell. Figures go through ``FigureView`` (``_view.py``).
"""

from __future__ import annotations

from .._lazy import lazy_namespace

# Submodules, in tutorial order; their ``__all__`` names resolve here on first access.
_SUBMODULES = (
    "_view",
    "descent",
    "race",
    "momentum",
    "schedules",
    "training",
    "regularization",
    "dropout",
    "moons",
    "nas",
    "search_methods",
)

__getattr__, __dir__ = lazy_namespace(__name__, _SUBMODULES, search_submodules=True)
