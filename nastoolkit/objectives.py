"""2-D test surfaces f(x, y) for the optimizer convergence tests and the gradient-descent widgets.

Each objective is a small frozen dataclass::

    surface = objectives.get("rosenbrock")
    surface.value(theta)      # theta (2,) -> float array (); theta (..., 2) -> (...)
    surface.gradient(theta)   # same leading shape, (..., 2)
    surface.minimum           # known argmin as a (2,) array, or None (unbounded below)
    surface.bounds            # ((xmin, xmax), (ymin, ymax)) suggested for plots
    surface.start             # a suggested starting point (2,), instructive for that surface
    X, Y, Z = surface.grid(101)   # for contour plots

The math lives in the pure functions below (``quadratic``, ``rosenbrock``, ...), each next to its
gradient; the classes only bind parameters and plotting hints. Everything is float64 NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "NAMES",
    "IllConditionedQuadratic",
    "Objective",
    "Quadratic",
    "Rosenbrock",
    "Saddle",
    "get",
    "ill_conditioned_quadratic",
    "ill_conditioned_quadratic_gradient",
    "quadratic",
    "quadratic_gradient",
    "rosenbrock",
    "rosenbrock_gradient",
    "saddle",
    "saddle_gradient",
]


def _split(theta):
    """(x, y) from theta of shape (..., 2); a clear error for anything else."""
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim == 0 or theta.shape[-1] != 2:
        raise ValueError(
            "theta must have shape (2,) or (..., 2): points (x, y) on the last axis. "
            f"Received: theta.shape={theta.shape}")
    return theta[..., 0], theta[..., 1]


# --- the surfaces as pure functions, each beside its gradient ----------------------------------

def quadratic(theta):
    """f = (x^2 + y^2) / 2: a round bowl, Hessian = I, minimum 0 at (0, 0)."""
    x, y = _split(theta)
    return 0.5 * (x * x + y * y)


def quadratic_gradient(theta):
    """grad f = (x, y)."""
    x, y = _split(theta)
    return np.stack([x, y], axis=-1)


def ill_conditioned_quadratic(theta, condition_number=10.0):
    """f = (x^2 + kappa y^2) / 2: a narrow valley, Hessian diag(1, kappa), condition number kappa.

    Gradient descent converges only for lr < 2 / kappa and then crawls along x at rate
    (1 - lr) per step: the classic zig-zag that momentum and adaptive methods fix.
    """
    x, y = _split(theta)
    return 0.5 * (x * x + condition_number * y * y)


def ill_conditioned_quadratic_gradient(theta, condition_number=10.0):
    """grad f = (x, kappa y)."""
    x, y = _split(theta)
    return np.stack([x, condition_number * y], axis=-1)


def rosenbrock(theta, a=1.0, b=100.0):
    """f = (a - x)^2 + b (y - x^2)^2 (Rosenbrock 1960): a curved valley, minimum 0 at (a, a^2)."""
    x, y = _split(theta)
    return (a - x) ** 2 + b * (y - x * x) ** 2


def rosenbrock_gradient(theta, a=1.0, b=100.0):
    """grad f = (-2 (a - x) - 4 b x (y - x^2),  2 b (y - x^2))."""
    x, y = _split(theta)
    r = y - x * x
    return np.stack([-2.0 * (a - x) - 4.0 * b * x * r, 2.0 * b * r], axis=-1)


def saddle(theta):
    """f = x^2 - y^2: a saddle at (0, 0), unbounded below along y."""
    x, y = _split(theta)
    return x * x - y * y


def saddle_gradient(theta):
    """grad f = (2x, -2y)."""
    x, y = _split(theta)
    return np.stack([2.0 * x, -2.0 * y], axis=-1)


# --- objectives: parameters bound to the functions, plus plotting hints ------------------------

def _point(x, y):
    point = np.array([x, y], dtype=np.float64)
    point.flags.writeable = False  # shared by every caller: copy before stepping from it
    return point


@dataclass(frozen=True)
class Objective:
    """A 2-D surface: ``value``, ``gradient``, the known ``minimum`` and plotting hints.

    ``start`` and ``minimum`` are read-only arrays; take ``surface.start.copy()`` to optimise
    from it in place.
    """

    name: str = field(init=False, default="objective")

    def value(self, theta):
        """f(theta): theta (2,) or (..., 2) -> array of shape theta.shape[:-1]."""
        raise NotImplementedError

    def gradient(self, theta):
        """grad f(theta): theta (2,) or (..., 2) -> array of theta's shape."""
        raise NotImplementedError

    @property
    def minimum(self):
        """The argmin as a (2,) array, or None when f is unbounded below."""
        return None

    @property
    def bounds(self) -> tuple:
        """((xmin, xmax), (ymin, ymax)) that frame the interesting part for a plot."""
        return ((-5.0, 5.0), (-5.0, 5.0))

    @property
    def start(self):
        """A starting point (2,) that shows this surface's difficulty."""
        raise NotImplementedError

    def grid(self, num: int = 101):
        """(X, Y, Z), each (num, num), over ``bounds``: ready for ``plt.contour(X, Y, Z)``."""
        (xmin, xmax), (ymin, ymax) = self.bounds
        X, Y = np.meshgrid(np.linspace(xmin, xmax, num), np.linspace(ymin, ymax, num))
        return X, Y, self.value(np.stack([X, Y], axis=-1))


@dataclass(frozen=True)
class Quadratic(Objective):
    """f = (x^2 + y^2) / 2 (see ``quadratic``)."""

    name: str = field(init=False, default="quadratic")

    def value(self, theta):
        return quadratic(theta)

    def gradient(self, theta):
        return quadratic_gradient(theta)

    @property
    def minimum(self):
        return _point(0.0, 0.0)

    @property
    def start(self):
        return _point(-4.0, 3.0)


@dataclass(frozen=True)
class IllConditionedQuadratic(Objective):
    """f = (x^2 + kappa y^2) / 2 with kappa = ``condition_number`` >= 1 (see the function)."""

    condition_number: float = 10.0
    name: str = field(init=False, default="ill_conditioned_quadratic")

    def __post_init__(self):
        if not np.isfinite(self.condition_number) or self.condition_number < 1:
            raise ValueError(
                "condition_number must be a finite number >= 1 (the ratio of the largest to the "
                f"smallest curvature). Received: condition_number={self.condition_number!r}")

    def value(self, theta):
        return ill_conditioned_quadratic(theta, self.condition_number)

    def gradient(self, theta):
        return ill_conditioned_quadratic_gradient(theta, self.condition_number)

    @property
    def minimum(self):
        return _point(0.0, 0.0)

    @property
    def bounds(self):
        return ((-5.0, 5.0), (-2.5, 2.5))

    @property
    def start(self):
        return _point(-4.5, 2.0)


@dataclass(frozen=True)
class Rosenbrock(Objective):
    """f = (a - x)^2 + b (y - x^2)^2 (see ``rosenbrock``); minimum at (a, a^2)."""

    a: float = 1.0
    b: float = 100.0
    name: str = field(init=False, default="rosenbrock")

    def value(self, theta):
        return rosenbrock(theta, self.a, self.b)

    def gradient(self, theta):
        return rosenbrock_gradient(theta, self.a, self.b)

    @property
    def minimum(self):
        return _point(self.a, self.a * self.a)

    @property
    def bounds(self):
        return ((-2.0, 2.0), (-1.0, 3.0))

    @property
    def start(self):
        return _point(-1.2, 1.0)  # the classic start, on the far side of the banana


@dataclass(frozen=True)
class Saddle(Objective):
    """f = x^2 - y^2 (see ``saddle``): no minimum; (0, 0) is a stationary point, not a minimum."""

    name: str = field(init=False, default="saddle")

    def value(self, theta):
        return saddle(theta)

    def gradient(self, theta):
        return saddle_gradient(theta)

    @property
    def bounds(self):
        return ((-3.0, 3.0), (-3.0, 3.0))

    @property
    def start(self):
        return _point(2.5, 0.01)  # nearly on the ridge: descent slows at the saddle, then escapes


_BY_NAME = {
    "quadratic": Quadratic,
    "ill_conditioned_quadratic": IllConditionedQuadratic,
    "rosenbrock": Rosenbrock,
    "saddle": Saddle,
}
NAMES = tuple(_BY_NAME)


def get(identifier, **parameters) -> Objective:
    """An objective by name (``NAMES``, case-insensitive; keyword parameters such as
    ``condition_number=100`` are passed on), or an ``Objective`` returned as it is."""
    if isinstance(identifier, Objective):
        return identifier
    cls = _BY_NAME.get(str(identifier).lower()) if isinstance(identifier, str) else None
    if cls is None:
        raise ValueError(f"Unknown objective {identifier!r}. Valid names: {', '.join(NAMES)}.")
    return cls(**parameters)
