"""nastoolkit: neural-network optimisation and architecture search you can watch and use.

Submodules load on first access (``nastoolkit.models``, ``nastoolkit.nas``, ...), so
``import nastoolkit`` stays light and never imports ipywidgets, DEAP, Dask or CuPy.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "backend", "kernels", "activations", "losses", "regularizers", "schedules", "initializers",
    "metrics", "objectives", "layers", "optimizers", "models", "callbacks", "datasets",
    "regularization_path", "nas",
    "viz", "widgets", "cli",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'nastoolkit' has no attribute {name!r}")
