"""nastoolkit: neural-network optimisation and architecture search you can watch and use.

Submodules load on first access (``nastoolkit.models``, ``nastoolkit.nas``, ...), so
``import nastoolkit`` stays light and never imports ipywidgets, DEAP, Dask or CuPy.
"""

from __future__ import annotations

from ._lazy import lazy_namespace

__version__ = "0.1.0"

_SUBMODULES = (
    "backend", "kernels", "activations", "losses", "regularizers", "schedules", "initializers",
    "metrics", "objectives", "layers", "optimizers", "training", "engine", "models", "saving",
    "callbacks", "datasets", "regularization_path", "nas",
    "exercises", "viz", "widgets", "cli",
)

__all__ = ["__version__", *_SUBMODULES]


__getattr__, __dir__ = lazy_namespace(__name__, _SUBMODULES)
