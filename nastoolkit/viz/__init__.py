"""Plots for the tutorials: functions that take data and return a matplotlib ``Figure``.

Nothing here trains or steps an optimizer; the widgets and notebooks compute, these functions
draw. Figures are built with ``matplotlib.figure.Figure`` directly, so they are never registered
with pyplot and never shown twice. Submodules load on first access.
"""

from __future__ import annotations

from .._lazy import lazy_namespace

_SUBMODULES = ("surfaces", "training", "schedules", "regularization", "nas", "search_methods")

__getattr__, __dir__ = lazy_namespace(__name__, _SUBMODULES, search_submodules=True)
