"""Sphinx hooks of the nastoolkit docs: docstring prose with ``|x|`` math, public base classes.

Kept apart from ``conf.py`` (which generates pages when imported) so tests can import it.
"""

from __future__ import annotations

import re

# ``inline literal`` or `interpreted text` (roles such as :math:`|x|` included): left as written
_CODE_SPAN = re.compile(r"(``.+?``|`[^`]+`)")


def _public(module_name: str) -> bool:
    return not any(part.startswith("_") for part in module_name.split("."))


def escape_pipes(lines: list[str]) -> None:
    """Escape ``|`` in docstring prose, in place, so ``|w|`` or ``||x||`` is text, not a
    substitution reference (an error in reST).

    Docstrings here never use substitutions, while ``|x|`` for an absolute value is common; pipes
    stay as written in literal blocks (after ``::``), doctest blocks and code spans.
    """
    literal_indent = None  # indentation of the line that opened a literal block
    in_doctest = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None and stripped and indent <= literal_indent:
            literal_indent = None
        if stripped.startswith(">>>"):
            in_doctest = True
        elif not stripped:
            in_doctest = False
        if literal_indent is None and not in_doctest and "|" in line:
            parts = _CODE_SPAN.split(line)  # odd indices are the code spans
            parts[::2] = [part.replace("|", r"\|") for part in parts[::2]]
            lines[index] = "".join(parts)
        if literal_indent is None and stripped.endswith("::"):
            literal_indent = indent


def public_bases(bases: list[type]) -> list[type]:
    """Each private base class (``_VarianceScaling``) replaced by its nearest public ancestor."""
    shown = []
    for base in bases:
        if base.__name__.startswith("_") or not _public(base.__module__):
            shown += [
                b
                for b in base.__mro__[1:]
                if b is not object and not b.__name__.startswith("_") and _public(b.__module__)
            ][:1]
        else:
            shown.append(base)
    return shown or [object]


def _process_docstring(app, what, name, obj, options, lines) -> None:
    escape_pipes(lines)


def _process_bases(app, name, obj, options, bases) -> None:
    bases[:] = public_bases(bases)


def setup(app):
    # numpydoc rewrites its sections first (priority 500); pipes are escaped in its output
    app.connect("autodoc-process-docstring", _process_docstring, priority=600)
    app.connect("autodoc-process-bases", _process_bases)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
