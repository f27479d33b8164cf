"""Argument checks shared by every module: one wording, one argument order.

Every check takes the argument's ``name`` first, then the ``value`` received, then the limit, and
returns the value in its canonical Python type. The error names the argument, what was expected
and what arrived (``"units must be a positive integer. Received: units=0"``), as Keras's do.

>>> positive_int("units", 64)
64
>>> number_in("rate", 0.5, 0.0, 1.0, high_open=True)
0.5
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = [
    "finite_number",
    "int_at_least",
    "is_integer",
    "is_number",
    "non_negative",
    "non_negative_int",
    "number_in",
    "one_of",
    "positive",
    "positive_int",
    "probability",
]


def is_integer(value) -> bool:
    """True for Python and NumPy integers, never for bools."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value) -> bool:
    """True for finite real numbers (Python or NumPy), never for bools."""
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, (bool, np.bool_))
        and math.isfinite(value)
    )


def _fail(name: str, expected: str, value, fix: str = "") -> ValueError:
    hint = f" {fix}" if fix else ""
    return ValueError(f"{name} must be {expected}. Received: {name}={value!r}.{hint}")


def int_at_least(name: str, value, minimum: int, fix: str = "") -> int:
    """``value`` as an int, checked to be an integer >= ``minimum``."""
    if not is_integer(value) or value < minimum:
        raise _fail(name, f"an integer >= {minimum}", value, fix)
    return int(value)


def positive_int(name: str, value, fix: str = "") -> int:
    """``value`` as an int, checked to be an integer >= 1."""
    if not is_integer(value) or value < 1:
        raise _fail(name, "a positive integer", value, fix)
    return int(value)


def non_negative_int(name: str, value, fix: str = "") -> int:
    """``value`` as an int, checked to be an integer >= 0."""
    if not is_integer(value) or value < 0:
        raise _fail(name, "a non-negative integer", value, fix)
    return int(value)


def finite_number(name: str, value, fix: str = "") -> float:
    """``value`` as a float, checked to be a finite real number."""
    if not is_number(value):
        raise _fail(name, "a finite number", value, fix)
    return float(value)


def positive(name: str, value, fix: str = "") -> float:
    """``value`` as a float, checked to be a finite number > 0."""
    if not is_number(value) or value <= 0:
        raise _fail(name, "a finite number > 0", value, fix)
    return float(value)


def non_negative(name: str, value, fix: str = "") -> float:
    """``value`` as a float, checked to be a finite number >= 0."""
    if not is_number(value) or value < 0:
        raise _fail(name, "a finite number >= 0", value, fix)
    return float(value)


def number_in(
    name: str,
    value,
    low: float,
    high: float,
    low_open: bool = False,
    high_open: bool = False,
    fix: str = "",
) -> float:
    """``value`` as a float, checked to lie in the interval from ``low`` to ``high``; each end is
    closed unless ``low_open``/``high_open`` (so ``[0, 1)`` is ``high_open=True``)."""
    inside = (
        is_number(value)
        and (value > low if low_open else value >= low)
        and (value < high if high_open else value <= high)
    )
    if not inside:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise _fail(name, f"a number in {interval}", value, fix)
    return float(value)


def probability(name: str, value, fix: str = "") -> float:
    """``value`` as a float in [0, 1]."""
    return number_in(name, value, 0.0, 1.0, fix=fix)


def one_of(name: str, value, choices: Iterable, fix: str = ""):
    """``value`` unchanged, checked to be one of ``choices`` (listed in the error)."""
    choices = list(choices)
    try:
        found = value in choices
    except TypeError:  # an unhashable or incomparable value is not one of the choices
        found = False
    if not found:
        listed = ", ".join(repr(c) for c in choices)
        raise _fail(name, f"one of {listed}", value, fix)
    return value
