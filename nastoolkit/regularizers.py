"""Weight penalties added to the loss (Keras conventions, no factor 1/2):

- L1(l1):     P(w) = l1 sum |w|,                    dP/dw = l1 sign(w)
- L2(l2):     P(w) = l2 sum w^2,                    dP/dw = 2 l2 w
- L1L2(l1, l2): P(w) = l1 sum |w| + l2 sum w^2,     dP/dw = l1 sign(w) + 2 l2 w

``regularizer(w)`` returns the penalty as a float; ``add_gradient(w, grad)`` adds dP/dw into the
gradient buffer in place, which is how a layer's backward pass applies it.
"""

from __future__ import annotations

import math

from ._registry import Registry
from .backend import array_module

__all__ = ["L1", "L1L2", "L2", "Regularizer", "deserialize", "get", "serialize"]


def _strength(name: str, value) -> float:
    """``value`` as a float >= 0, else ValueError naming the argument."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = math.nan
    if not value >= 0 or math.isinf(value):  # `not >=` also catches NaN
        raise ValueError(f"{name} must be a finite number >= 0 (the penalty strength). "
                         f"Received: {name}={value!r}")
    return value


class Regularizer:
    """Base class: P(w) = l1 sum |w| + l2 sum w^2 (subclasses fix which strengths exist)."""

    l1 = 0.0
    l2 = 0.0

    def __call__(self, w) -> float:
        """The penalty P(w) (a float, added to the reported loss)."""
        xp = array_module(w)
        penalty = 0.0
        if self.l1:
            penalty += self.l1 * float(xp.abs(w).sum())
        if self.l2:
            flat = xp.asarray(w).reshape(-1)
            penalty += self.l2 * float(xp.dot(flat, flat))
        return penalty

    def add_gradient(self, w, grad):
        """In place: grad += l1 sign(w) + 2 l2 w; returns grad."""
        xp = array_module(w)
        if self.l1:
            grad += self.l1 * xp.sign(w)
        if self.l2:
            grad += (2.0 * self.l2) * w
        return grad

    def get_config(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict) -> Regularizer:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


class L1(Regularizer):
    """P(w) = l1 sum |w|."""

    def __init__(self, l1: float = 0.01):
        self.l1 = _strength("l1", l1)

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    """P(w) = l2 sum w^2 (Keras: no 1/2 factor, so dP/dw = 2 l2 w)."""

    def __init__(self, l2: float = 0.01):
        self.l2 = _strength("l2", l2)

    def get_config(self) -> dict:
        return {"l2": self.l2}


class L1L2(Regularizer):
    """P(w) = l1 sum |w| + l2 sum w^2."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _strength("l1", l1)
        self.l2 = _strength("l2", l2)

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


_REGISTRY = Registry("regularizer", Regularizer)
_REGISTRY.add(L1, "l1")
_REGISTRY.add(L2, "l2")
_REGISTRY.add(L1L2, "l1l2", "l1_l2")


def get(identifier) -> Regularizer | None:
    """A regularizer from a name (``"l1"``, ``"l2"``, ``"l1_l2"``: Keras default strengths), an
    instance, a class or a serialized dict; None stays None (no penalty)."""
    return None if identifier is None else _REGISTRY.get(identifier)


def serialize(regularizer: Regularizer | None) -> dict | None:
    """``{"class_name": ..., "config": ...}`` or None."""
    return None if regularizer is None else _REGISTRY.serialize(get(regularizer))


def deserialize(config: dict | None, custom_objects: dict | None = None) -> Regularizer | None:
    """The inverse of ``serialize``."""
    return None if config is None else _REGISTRY.deserialize(config, custom_objects)
