"""Lazy package namespaces: submodules load on first attribute access.

``import nastoolkit`` (and ``nastoolkit.viz`` / ``nastoolkit.widgets``) stays light this way:
matplotlib, ipywidgets, DEAP and friends are imported only when something from them is used.
"""

from __future__ import annotations

import importlib
import sys


def lazy_namespace(package: str, submodules: tuple[str, ...], search_submodules: bool = False):
    """``(__getattr__, __dir__)`` for ``package``: ``package.sub`` imports the submodule, and
    with ``search_submodules`` a public name found in a submodule's ``__all__`` resolves too
    (``nastoolkit.widgets.DropoutApp``), so adding an app to a submodule needs no edit here."""

    def load(submodule: str):
        return importlib.import_module(f"{package}.{submodule}")

    def __getattr__(name: str):
        if name in submodules:
            return load(name)
        if search_submodules and not name.startswith("_"):
            for submodule in submodules:
                module = load(submodule)
                if name in getattr(module, "__all__", ()):
                    return getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        names = set(submodules) | set(vars(sys.modules[package]))
        if search_submodules:
            for submodule in submodules:
                names.update(getattr(load(submodule), "__all__", ()))
        return sorted(names)

    return __getattr__, __dir__
