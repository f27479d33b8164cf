"""Find and read the CUDA C sources in ``csrc/`` from a wheel or from a source checkout.

A wheel carries them as package data in ``nastoolkit/csrc`` (pyproject's hatch force-include); an
editable install or a checkout has them at ``<repo>/csrc``. Kernels are compiled at run time
(NVRTC through CuPy, or g++ for the CPU fast path), so these texts are all that ships.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from functools import lru_cache
from pathlib import Path

__all__ = [
    "KERNELS",
    "csrc_dir",
    "entry_points",
    "expand_entry_macros",
    "expand_includes",
    "fingerprint",
    "read_source",
]

# The extern "C" entry points of each kernel file, each defined as <name>_f32 and <name>_f64.
# One family per file; _cuda.py loads one cupy.RawModule per file.
KERNELS = {
    "dense.cu": ("bias_activation", "activation_grad", "softmax_numerator", "softmax_grad"),
    "dropout.cu": ("dropout",),
    "optim.cu": (
        "sgd_update",
        "momentum_update",
        "adam_update",
        "rmsprop_update",
        "adagrad_update",
    ),
}

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # .../nastoolkit
_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"[ \t]*$', re.MULTILINE)
# ``#define NK_<FAMILY>_ENTRIES(S, T) <body, continued with backslashes>``: writes each entry point
# of a file once for both dtypes (S the name suffix, T the element type)
_ENTRY_MACRO = re.compile(
    r"^[ \t]*#[ \t]*define[ \t]+(NK_\w+_ENTRIES)\((\w+),[ \t]*(\w+)\)"
    r"((?:[^\n]*\\\n)*[^\n]*)$",
    re.MULTILINE,
)
_ENTRY = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)')


@lru_cache(maxsize=1)
def csrc_dir() -> Path:
    """The directory holding ``common.cuh`` and the ``.cu`` files (wheel first, then checkout)."""
    candidates = (_PACKAGE_DIR / "csrc", _PACKAGE_DIR.parent / "csrc")
    for candidate in candidates:
        if (candidate / "common.cuh").is_file():
            return candidate
    raise FileNotFoundError(
        "nastoolkit's CUDA C sources (csrc/) were not found; looked in "
        + ", ".join(str(c) for c in candidates)
        + ". Reinstall nastoolkit (the wheel ships them as nastoolkit/csrc)."
    )


def read_source(name: str) -> str:
    """The text of ``csrc/<name>`` (e.g. ``"optim.cu"``)."""
    path = csrc_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"no kernel source {name!r} in {csrc_dir()}")
    return path.read_text(encoding="utf-8")


def expand_includes(name: str) -> str:
    """``csrc/<name>`` with every ``#include "x.cuh"`` replaced by that file's text, once each.

    One self-contained text means NVRTC needs no include path and CuPy's kernel cache (keyed by
    source and options) sees a change to any header.
    """
    seen: set[str] = set()

    def expand(file_name: str) -> str:
        if file_name in seen:
            return ""
        seen.add(file_name)
        text = read_source(file_name).replace("#pragma once", "")
        here = posixpath.dirname(file_name)  # includes are relative to the including file
        return _INCLUDE.sub(
            lambda match: expand(posixpath.normpath(posixpath.join(here, match.group(1)))), text
        )

    return expand(name)


def fingerprint(names, *extra: str) -> str:
    """A short hash of the named sources (headers expanded) and any extra strings, e.g. flags."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode())
        digest.update(expand_includes(name).encode())
    for item in extra:
        digest.update(item.encode())
    return digest.hexdigest()[:16]


def expand_entry_macros(text: str) -> str:
    """``text`` with every ``NK_<FAMILY>_ENTRIES(S, T)`` use written out as the C preprocessor
    would (parameters replaced, ``##`` pasted), so the entry points' signatures can be read.

    Only for reading: NVRTC, nvcc and g++ compile the macros themselves.
    """
    for name, suffix, element, body in _ENTRY_MACRO.findall(text):
        body = body.replace("\\\n", "\n")

        def write_out(use, body=body, suffix=suffix, element=element):
            code = re.sub(rf"\b{suffix}\b", use.group(1), body)
            return re.sub(rf"\b{element}\b", use.group(2), code).replace("##", "")

        text = re.sub(
            rf"^[ \t]*{name}\((\w+),[ \t]*([\w ]+?)\)[ \t]*$", write_out, text, flags=re.MULTILINE
        )
    return text


def entry_points(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(name, [(C type, parameter), ...]), ...]`` of the ``extern "C" __global__`` kernels in
    a kernel source text (entry-point macros expanded; ``const`` dropped from the types)."""
    entries = []
    for name, params in _ENTRY.findall(expand_entry_macros(text)):
        parsed = []
        for param in params.split(","):
            words = param.replace("*", " * ").replace("const ", "").split()
            parsed.append((" ".join(words[:-1]).replace(" *", "*"), words[-1]))
        entries.append((name, parsed))
    return entries
