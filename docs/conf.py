"""Sphinx configuration of the nastoolkit API reference and rendered tutorials.

``make docs`` builds it into ``docs/_build/html``. Two kinds of page are generated here, at every
build, so that a module or notebook added by anyone appears without editing the docs:

- ``api/<module>.rst``: one page per public module (no ``_`` in its dotted name). A package with
  an ``__all__`` (``nastoolkit.nas``, ``nastoolkit.kernels``) is one page, plus the names its
  submodules export that it does not re-export; a package without one (``viz``, ``widgets``) is
  documented through its submodules. autodoc lists exactly each module's ``__all__``.
- ``tutorials/*.ipynb``: copies of ``notebooks/``, rendered by myst-nb.

Docstrings are numpydoc, rendered by the numpydoc extension with its validation off: the build
fails on real reStructuredText errors only (``tests/test_docs.py`` builds with ``-W -n``).
"""

from __future__ import annotations

import filecmp
import importlib
import os
import pkgutil
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent if (HERE.parent / "nastoolkit").is_dir() else None
if ROOT is not None and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE / "_ext"))

# imported after the path is set, so a checkout documents itself
import nastoolkit

PACKAGE_ROOT = Path(nastoolkit.__file__).resolve().parents[1]
NOTEBOOKS = Path(os.environ.get("NASTOOLKIT_NOTEBOOKS", PACKAGE_ROOT / "notebooks"))

project = "nastoolkit"
author = "the nastoolkit developers"
copyright = "the nastoolkit developers"
release = version = nastoolkit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "nastoolkit_sphinx",  # docs/_ext: pipes in docstring prose, public base classes
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "images/README*", "**.ipynb_checkpoints"]
html_theme = "pydata_sphinx_theme"
html_title = "nastoolkit"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}

# autodoc: members in source order, exactly the module's __all__, no import side effects
autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": True}
autodoc_typehints = "none"  # numpydoc sections give the types; signatures stay readable
autodoc_mock_imports = ["cupy"]

# numpydoc: render, never judge (other modules' docstrings change while this builds)
numpydoc_validation_checks: set[str] = set()
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# myst-nb: execute the tutorials at every build. Measured for the six notebooks, pinned to one
# core of a shared 2-core machine: the whole build took 31 s (70 s wall while other jobs ran),
# well under the two minutes that would justify committed outputs or a cache.
# NASTOOLKIT_DOCS_EXECUTE=off builds the pages without running them (for docstring work).
nb_execution_mode = os.environ.get("NASTOOLKIT_DOCS_EXECUTE", "force")
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# Types named in signatures/docstrings that live outside this project: no inventory to link to
# (the build must work offline), so nitpicky mode ignores them.
_OUTSIDE_PACKAGES = [
    "numpy",
    "np",
    "matplotlib",
    "ipywidgets",
    "dask",
    "distributed",
    "deap",
    "cupy",
    "collections",
    "typing",
    "pathlib",
    "random",
    "concurrent",
    "threading",
    "multiprocessing",
    "os",
]
_OUTSIDE_TYPES = [
    "array_like",
    "array",
    "ndarray",
    "optional",
    "callable",
    "iterable",
    "sequence",
    "mapping",
    "default",
    "Figure",
    "Axes",
    "Generator",
    "Path",
    "Random",
    "Client",
    "Any",
    "Callable",
    "Iterable",
    "Sequence",
]
_BUILTINS = [
    "int",
    "float",
    "str",
    "bool",
    "dict",
    "list",
    "tuple",
    "None",
    "object",
    "type",
    "bytes",
    "Exception",
]
nitpick_ignore_regex = [
    ("py:class", rf"({'|'.join(_OUTSIDE_PACKAGES)})(\..*)?"),
    ("py:class", "|".join(_OUTSIDE_TYPES)),
    ("py:.*", "|".join(_BUILTINS)),
]


# --- generated pages ---------------------------------------------------------------------------


def _public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def _modules(package) -> list[str]:
    """The public modules below ``package``, in the package's own order where it has one."""
    names = [
        info.name
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + ".")
        if _public(info.name)
    ]
    declared = [f"{package.__name__}.{short}" for short in getattr(package, "_SUBMODULES", ())]
    return [n for n in declared if n in names] + sorted(n for n in names if n not in declared)


def _title(text: str, mark: str = "=") -> str:
    return f"{text}\n{mark * len(text)}\n"


def _module_page(name: str) -> str | None:
    """The reST of one module's page, or None when it has nothing public to show."""
    module = importlib.import_module(name)
    lines = [_title(f"``{name}``"), f".. automodule:: {name}\n"]
    if hasattr(module, "__path__"):
        if not hasattr(module, "__all__"):
            return None  # documented through its submodules
        exported = {id(getattr(module, n, None)) for n in module.__all__}
        for sub in _modules(module):
            submodule = importlib.import_module(sub)
            extra = [
                n
                for n in getattr(submodule, "__all__", ())
                if id(getattr(submodule, n, None)) not in exported
            ]
            if extra:
                lines += [
                    "",
                    _title(f"``{sub}``", "-"),
                    f".. automodule:: {sub}",
                    f"   :members: {', '.join(extra)}",
                    "",
                ]
    return "\n".join(lines) + "\n"


def _api_modules() -> list[str]:
    found = []
    for name in _modules(nastoolkit):
        module = importlib.import_module(name)
        if hasattr(module, "__path__") and not hasattr(module, "__all__"):
            found += _modules(module)
        else:
            found.append(name)
    return found


def _write_if_changed(path: Path, text: str) -> None:
    # Unchanged files keep their timestamps, so an incremental build re-reads nothing
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _generate_api() -> None:
    api = HERE / "api"
    api.mkdir(exist_ok=True)
    pages = []
    for name in _api_modules():
        text = _module_page(name)
        if text is not None:
            _write_if_changed(api / f"{name}.rst", text)
            pages.append(name)
    for stale in api.glob("*.rst"):
        if stale.stem not in pages and stale.name != "index.rst":
            stale.unlink()
    index = [
        _title("API reference"),
        "Every public module, in the order the package layers them (each imports only the",
        "ones above it). Each page lists exactly the module's ``__all__``.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
    ] + [f"   {name}" for name in pages]
    _write_if_changed(api / "index.rst", "\n".join(index) + "\n")


def _copy_notebooks() -> None:
    target = HERE / "tutorials"
    target.mkdir(exist_ok=True)
    notebooks = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    for notebook in notebooks:
        copy = target / notebook.name
        if not copy.exists() or not filecmp.cmp(notebook, copy, shallow=False):
            shutil.copyfile(notebook, copy)
    for stale in target.glob("*.ipynb"):
        if not (NOTEBOOKS / stale.name).exists():
            stale.unlink()
    index = [
        _title("Tutorials"),
        "The notebooks of ``notebooks/``, executed when this site was built. Open them in",
        "JupyterLab (``make lab``) to move the sliders; here the widgets show their first",
        "state.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
    ] + [f"   {n.stem}" for n in notebooks]
    _write_if_changed(target / "index.rst", "\n".join(index) + "\n")


_generate_api()
_copy_notebooks()
