"""nastoolkit: neural-network optimisation and architecture search you can watch and use.

Submodules load on first access (``nastoolkit.models``, ``nastoolkit.nas``, ...), so
``import nastoolkit`` stays light and never imports ipywidgets, DEAP, Dask or CuPy.
"""

from __future__ import annotations

from ._lazy import lazy_namespace

__version__ = "0.1.0"

__all__ = [  # noqa: RUF022  (learning order, as the layers of DESIGN.md, not alphabetical)
    "__version__",
    "backend",
    "kernels",
    "activations",
    "losses",
    "regularizers",
    "schedules",
    "initializers",
    "metrics",
    "objectives",
    "layers",
    "optimizers",
    "training",
    "engine",
    "models",
    "saving",
    "callbacks",
    "datasets",
    "regularization_path",
    "nas",
    "exercises",
    "viz",
    "widgets",
    "cli",
]
_SUBMODULES = tuple(__all__[1:])


__getattr__, __dir__ = lazy_namespace(__name__, _SUBMODULES)
