"""Every public name has a docstring; in the modules listed in NUMPYDOC, numpydoc with examples
that run.

Public modules are found as the docs find them (docs/conf.py): every module of the package with
no ``_`` in its dotted name. A package with ``__all__`` answers for the names it re-exports.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import itertools
import pkgutil

import numpy as np
import pytest

import nastoolkit

# Modules whose public names must have numpydoc sections and a runnable Examples section.
NUMPYDOC = (
    "nastoolkit.activations",
    "nastoolkit.backend",
    "nastoolkit.callbacks",
    "nastoolkit.cli",
    "nastoolkit.datasets",
    "nastoolkit.exercises",
    "nastoolkit.initializers",
    "nastoolkit.kernels",
    "nastoolkit.layers",
    "nastoolkit.losses",
    "nastoolkit.metrics",
    "nastoolkit.models",
    "nastoolkit.nas",
    "nastoolkit.nas.auto",
    "nastoolkit.nas.budget",
    "nastoolkit.nas.build",
    "nastoolkit.nas.cache",
    "nastoolkit.nas.checkpoint",
    "nastoolkit.nas.evaluators",
    "nastoolkit.nas.exercises",
    "nastoolkit.nas.genome",
    "nastoolkit.nas.operators",
    "nastoolkit.nas.outcome",
    "nastoolkit.nas.parallel",
    "nastoolkit.nas.result",
    "nastoolkit.nas.space",
    "nastoolkit.nas.strategies",
    "nastoolkit.objectives",
    "nastoolkit.optimizers",
    "nastoolkit.optimizers.schedules",
    "nastoolkit.regularization_path",
    "nastoolkit.regularizers",
    "nastoolkit.saving",
    "nastoolkit.schedules",
    "nastoolkit.training",
    "nastoolkit.viz.nas",
    "nastoolkit.viz.regularization",
    "nastoolkit.viz.search_methods",
    "nastoolkit.viz.schedules",
    "nastoolkit.viz.surfaces",
    "nastoolkit.viz.training",
    "nastoolkit.widgets.descent",
    "nastoolkit.widgets.dropout",
    "nastoolkit.widgets.momentum",
    "nastoolkit.widgets.moons",
    "nastoolkit.widgets.nas",
    "nastoolkit.widgets.race",
    "nastoolkit.widgets.regularization",
    "nastoolkit.widgets.schedules",
    "nastoolkit.widgets.search_methods",
    "nastoolkit.widgets.training",
)


def _public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def public_modules() -> list[str]:
    found = []

    def walk(package) -> None:
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if _public(info.name):
                found.append(info.name)
                module = importlib.import_module(info.name)
                if hasattr(module, "__path__"):
                    walk(module)

    walk(nastoolkit)
    return found


def _documentable(module) -> dict:
    """The classes and functions of ``module.__all__`` (constants carry no docstring of their own)."""
    names = {}
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isroutine(obj):
            names[name] = obj
    return names


@pytest.mark.parametrize("module_name", public_modules())
def test_every_public_name_has_a_docstring(module_name):
    module = importlib.import_module(module_name)
    assert (module.__doc__ or "").strip(), f"{module_name} has no module docstring"
    # obj.__doc__, not inspect.getdoc: a class must not pass on its base class's docstring
    missing = [
        name for name, obj in _documentable(module).items() if not (obj.__doc__ or "").strip()
    ]
    assert not missing, f"{module_name}: no docstring for {missing}"


def test_public_modules_are_found():
    modules = public_modules()
    assert {
        "nastoolkit.regularizers",
        "nastoolkit.nas",
        "nastoolkit.viz.surfaces",
        "nastoolkit.widgets.descent",
    } <= set(modules)
    assert not [name for name in modules if not _public(name)]


def _sections(docstring: str) -> set[str]:
    lines = inspect.cleandoc(docstring).splitlines()
    return {
        line.strip()
        for line, under in itertools.pairwise(lines)
        if under.strip() and set(under.strip()) == {"-"} and len(under.strip()) >= 3
    }


@pytest.mark.parametrize("module_name", NUMPYDOC)
def test_numpydoc_sections_and_examples(module_name):
    """Functions with arguments list them under Parameters; every public name has Examples."""
    module = importlib.import_module(module_name)
    problems = []
    for name, obj in _documentable(module).items():
        sections = _sections(obj.__doc__ or "")
        if "Examples" not in sections:
            problems.append(f"{name}: no Examples section")
        if (
            inspect.isfunction(obj)
            and inspect.signature(obj).parameters
            and "Parameters" not in sections
        ):
            problems.append(f"{name}: no Parameters section")
    assert not problems, f"{module_name}: " + "; ".join(problems)


@pytest.mark.parametrize("module_name", NUMPYDOC)
def test_docstring_examples_run(module_name, monkeypatch, tmp_path):
    """The ``>>>`` lines give the outputs they show (doctest, NumPy 2 reprs)."""
    from nastoolkit import backend

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(backend, "_current", backend._current)  # examples may call use()
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [
        test
        for test in finder.find(module, module_name, globs=vars(module).copy())
        if test.examples
    ]
    assert tests, f"{module_name} has no examples"
    with np.printoptions(legacy=False):
        for test in tests:
            runner.run(test)
    assert runner.failures == 0, (
        f"{runner.failures} failing examples in {module_name} (run "
        f"pytest --doctest-modules on its file to see them)"
    )
