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

import math
from dataclasses import dataclass, field

import numpy as np

from . import _checks

__all__ = [
    "NAMES",
    "IllConditionedQuadratic",
    "Objective",
    "Quadratic",
    "Rosenbrock",
    "Saddle",
    "get",
    "gradient_descent_errors",
    "heavy_ball_convergence_map",
    "heavy_ball_rate",
    "hessian",
    "ill_conditioned_quadratic",
    "ill_conditioned_quadratic_gradient",
    "largest_stable_rate",
    "optimal_heavy_ball",
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
            f"Received: theta.shape={theta.shape}"
        )
    return theta[..., 0], theta[..., 1]


# --- the surfaces as pure functions, each beside its gradient ----------------------------------


def quadratic(theta):
    """f = (x^2 + y^2) / 2: a round bowl, Hessian = I, minimum 0 at (0, 0).

    Parameters
    ----------
    theta : array_like, shape (2,) or (..., 2)
        Points (x, y) on the last axis.

    Returns
    -------
    ndarray, shape theta.shape[:-1]

    Examples
    --------
    >>> float(quadratic([3.0, 4.0]))
    12.5
    """
    x, y = _split(theta)
    return 0.5 * (x * x + y * y)


def quadratic_gradient(theta):
    """grad f = (x, y) of ``quadratic``.

    Parameters
    ----------
    theta : array_like, shape (2,) or (..., 2)
        Points (x, y) on the last axis.

    Returns
    -------
    ndarray, theta's shape

    Examples
    --------
    >>> quadratic_gradient([3.0, 4.0])
    array([3., 4.])
    """
    x, y = _split(theta)
    return np.stack([x, y], axis=-1)


def ill_conditioned_quadratic(theta, condition_number=10.0):
    """f = (x^2 + kappa y^2) / 2: a narrow valley, Hessian diag(1, kappa), condition number kappa.

    Gradient descent converges only for lr < 2 / kappa and then crawls along x at rate
    (1 - lr) per step: the classic zig-zag that momentum and adaptive methods fix.

    Parameters
    ----------
    theta : array_like, shape (2,) or (..., 2)
        Points (x, y) on the last axis.
    condition_number : float, default 10.0
        kappa, the ratio of the largest to the smallest curvature.

    Returns
    -------
    ndarray, shape theta.shape[:-1]

    Examples
    --------
    >>> float(ill_conditioned_quadratic([1.0, 1.0], condition_number=100.0))
    50.5
    """
    x, y = _split(theta)
    return 0.5 * (x * x + condition_number * y * y)


def ill_conditioned_quadratic_gradient(theta, condition_number=10.0):
    """grad f = (x, kappa y) of ``ill_conditioned_quadratic``.

    Parameters
    ----------
    theta : array_like, shape (2,) or (..., 2)
        Points (x, y) on the last axis.
    condition_number : float, default 10.0
        kappa.

    Returns
    -------
    ndarray, theta's shape

    Examples
    --------
    >>> ill_conditioned_quadratic_gradient([1.0, 1.0], condition_number=100.0)
    array([  1., 100.])
    """
    x, y = _split(theta)
    return np.stack([x, condition_number * y], axis=-1)


def rosenbrock(theta, a=1.0, b=100.0):
    """f = (a - x)^2 + b (y - x^2)^2 (Rosenbrock 1960): a curved valley, minimum 0 at (a, a^2).

    Parameters
    ----------
    theta : array_like, shape (2,) or (..., 2)
        Points (x, y) on the last axis.
    a, b : float, default 1.0 and 100.0
        Where the minimum lies, and how steep the valley's walls are.

    Returns
    -------
    ndarray, shape theta.shape[:-1]

    Examples
    --------
    >>> float(rosenbrock([1.0, 1.0])), float(rosenbrock([0.0, 0.0]))
    (0.0, 1.0)
    """
    x, y = _split(theta)
    return (a - x) ** 2 + b * (y - x * x) ** 2


def rosenbrock_gradient(theta, a=1.0, b=100.0):
    """grad f = (-2 (a - x) - 4 b x (y - x^2),  2 b (y - x^2)) of ``rosenbrock``.

    Parameters
    ----------
    theta : array_like, shape (2,) or (..., 2)
        Points (x, y) on the last axis.
    a, b : float, default 1.0 and 100.0

    Returns
    -------
    ndarray, theta's shape

    Examples
    --------
    >>> rosenbrock_gradient([0.0, 0.0])
    array([-2.,  0.])
    """
    x, y = _split(theta)
    r = y - x * x
    return np.stack([-2.0 * (a - x) - 4.0 * b * x * r, 2.0 * b * r], axis=-1)


def saddle(theta):
    """f = x^2 - y^2: a saddle at (0, 0), unbounded below along y.

    Parameters
    ----------
    theta : array_like, shape (2,) or (..., 2)
        Points (x, y) on the last axis.

    Returns
    -------
    ndarray, shape theta.shape[:-1]

    Examples
    --------
    >>> saddle([[1.0, 0.0], [0.0, 1.0]])
    array([ 1., -1.])
    """
    x, y = _split(theta)
    return x * x - y * y


def saddle_gradient(theta):
    """grad f = (2x, -2y) of ``saddle``.

    Parameters
    ----------
    theta : array_like, shape (2,) or (..., 2)
        Points (x, y) on the last axis.

    Returns
    -------
    ndarray, theta's shape

    Examples
    --------
    >>> saddle_gradient([1.0, 1.0])
    array([ 2., -2.])
    """
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

    Subclasses bind a surface's parameters to its pure functions. ``start`` and ``minimum`` are
    read-only arrays; take ``surface.start.copy()`` to optimise from it in place.

    Attributes
    ----------
    name : str
        The name ``get`` knows it by.

    Examples
    --------
    >>> surface = get("rosenbrock")
    >>> float(surface.value(surface.minimum))
    0.0
    >>> X, Y, Z = surface.grid(5)
    >>> Z.shape
    (5, 5)
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
    """f = (x^2 + y^2) / 2 (see ``quadratic``).

    Examples
    --------
    >>> Quadratic().gradient([1.0, -2.0])
    array([ 1., -2.])
    """

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
    """f = (x^2 + kappa y^2) / 2 with kappa = ``condition_number`` (see the function).

    Parameters
    ----------
    condition_number : float, default 10.0
        kappa, a finite number >= 1.

    Examples
    --------
    >>> IllConditionedQuadratic(condition_number=4.0).gradient([1.0, 1.0])
    array([1., 4.])
    """

    condition_number: float = 10.0
    name: str = field(init=False, default="ill_conditioned_quadratic")

    def __post_init__(self):
        _checks.number_in(
            "condition_number",
            self.condition_number,
            1.0,
            math.inf,
            fix="It is the ratio of the largest to the smallest curvature.",
        )

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
    """f = (a - x)^2 + b (y - x^2)^2 (see ``rosenbrock``); minimum at (a, a^2).

    Parameters
    ----------
    a, b : float, default 1.0 and 100.0

    Examples
    --------
    >>> Rosenbrock(a=2.0).minimum
    array([2., 4.])
    """

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
    """f = x^2 - y^2 (see ``saddle``): no minimum; (0, 0) is a stationary point, not a minimum.

    Examples
    --------
    >>> Saddle().minimum is None
    True
    """

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


# --- convergence on a quadratic: the math behind Distill's "Why Momentum Really Works" --------
# On f = sum_i lambda_i x_i^2 / 2 every eigendirection evolves on its own, so one 2x2 (momentum)
# or 1x1 (plain descent) linear map per eigenvalue says everything about convergence.


def _eigenvalues(eigenvalues) -> np.ndarray:
    values = np.atleast_1d(np.asarray(eigenvalues, dtype=np.float64))
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(
            "eigenvalues must be positive finite numbers (the curvatures of the "
            f"quadratic, e.g. (1, 10)). Received: eigenvalues={eigenvalues!r}"
        )
    return values


def largest_stable_rate(eigenvalues) -> float:
    """2 / L: plain gradient descent on a quadratic converges iff lr < 2 / max(eigenvalues).

    Parameters
    ----------
    eigenvalues : array_like, shape (n,)
        The curvatures lambda_i of the quadratic, positive.

    Returns
    -------
    float

    Examples
    --------
    >>> largest_stable_rate([1.0, 10.0])
    0.2
    """
    return 2.0 / float(np.max(_eigenvalues(eigenvalues)))


def gradient_descent_errors(learning_rate, eigenvalues, start, num_steps: int) -> np.ndarray:
    """Error along each eigendirection after k steps of plain descent: (1 - lr lambda_i)^k x_i.

    Parameters
    ----------
    learning_rate : float
        alpha.
    eigenvalues : array_like, shape (n,)
        The curvatures lambda_i of the quadratic, positive.
    start : array_like, shape (n,)
        The starting coordinates in the eigenbasis (for ``IllConditionedQuadratic`` that is
        theta itself).
    num_steps : int
        k, the last step.

    Returns
    -------
    ndarray, shape (num_steps + 1, n)
        The errors after 0 .. k steps, the start first.

    Examples
    --------
    >>> gradient_descent_errors(0.1, [1.0, 10.0], [1.0, 1.0], 2)[-1].round(3).tolist()
    [0.81, 0.0]
    """
    values = _eigenvalues(eigenvalues)
    factors = 1.0 - float(learning_rate) * values
    steps = np.arange(int(num_steps) + 1)[:, None]
    return factors[None, :] ** steps * np.asarray(start, dtype=np.float64)[None, :]


def heavy_ball_rate(learning_rate, momentum, eigenvalue):
    """Spectral radius of heavy-ball momentum along one eigendirection of curvature lambda.

    The iteration x_{k+1} = x_k - alpha lambda x_k + beta (x_k - x_{k-1}) (Keras's
    ``SGD(momentum=beta)``: v <- beta v - alpha g, x <- x + v) is the linear map
    [[1 + beta - alpha lambda, -beta], [1, 0]]; its eigenvalues are the roots of
    z^2 - (1 + beta - alpha lambda) z + beta = 0, and the error shrinks like max abs(z)^k.
    beta = 0 gives plain descent, abs(1 - alpha lambda).

    Parameters
    ----------
    learning_rate : float or array_like
        alpha.
    momentum : float or array_like
        beta.
    eigenvalue : float or array_like
        lambda. The three arguments broadcast against each other.

    Returns
    -------
    ndarray
        The spectral radius max abs(z), of the broadcast shape.

    Examples
    --------
    >>> float(heavy_ball_rate(0.1, 0.0, 10.0))
    0.0
    >>> round(float(heavy_ball_rate(0.2, 0.5, 1.0)), 4)   # complex roots: |z| = sqrt(beta)
    0.7071
    """
    alpha = np.asarray(learning_rate, dtype=np.float64)
    beta = np.asarray(momentum, dtype=np.float64)
    lam = np.asarray(eigenvalue, dtype=np.float64)
    trace = 1.0 + beta - alpha * lam
    root = np.sqrt((trace * trace - 4.0 * beta).astype(np.complex128))
    return np.maximum(np.abs((trace + root) / 2.0), np.abs((trace - root) / 2.0))


def heavy_ball_convergence_map(learning_rates, momenta, eigenvalues) -> np.ndarray:
    """Worst rate over the eigenvalues on a grid: shape (len(momenta), len(learning_rates)).

    A value below 1 means momentum converges there; the region is exactly
    0 <= beta < 1 and 0 < alpha lambda_max < 2 (1 + beta).

    Parameters
    ----------
    learning_rates : array_like, shape (a,)
    momenta : array_like, shape (b,)
    eigenvalues : array_like, shape (n,)
        The curvatures lambda_i of the quadratic, positive.

    Returns
    -------
    ndarray, shape (b, a)
        ``heavy_ball_rate`` maximised over the eigenvalues.

    Examples
    --------
    >>> grid = heavy_ball_convergence_map([0.1, 0.3], [0.0, 0.9], [1.0, 10.0])
    >>> (grid < 1).tolist()
    [[True, False], [True, True]]
    """
    values = _eigenvalues(eigenvalues)
    alpha = np.asarray(learning_rates, dtype=np.float64)[None, :, None]
    beta = np.asarray(momenta, dtype=np.float64)[:, None, None]
    return heavy_ball_rate(alpha, beta, values[None, None, :]).max(axis=-1)


def optimal_heavy_ball(eigenvalues) -> tuple[float, float]:
    """(alpha*, beta*) = (4 / (sqrt(L) + sqrt(mu))^2, ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2).

    The fastest heavy-ball settings on a quadratic with curvatures from mu to L (Polyak 1964);
    the rate is then sqrt(beta*) = (sqrt(kappa) - 1) / (sqrt(kappa) + 1) per step, against
    (kappa - 1) / (kappa + 1) for plain descent at its best rate 2 / (L + mu).

    Parameters
    ----------
    eigenvalues : array_like, shape (n,)
        The curvatures lambda_i of the quadratic, positive.

    Returns
    -------
    tuple of float
        ``(alpha*, beta*)``.

    Examples
    --------
    >>> alpha, beta = optimal_heavy_ball([1.0, 10.0])
    >>> round(alpha, 4), round(beta, 4)
    (0.2309, 0.2699)
    """
    values = _eigenvalues(eigenvalues)
    low, high = float(values.min()), float(values.max())
    alpha = 4.0 / (np.sqrt(high) + np.sqrt(low)) ** 2
    kappa = high / low
    beta = ((np.sqrt(kappa) - 1.0) / (np.sqrt(kappa) + 1.0)) ** 2
    return float(alpha), float(beta)


def hessian(objective, theta, step: float = 1e-5) -> np.ndarray:
    """The 2x2 Hessian of ``objective`` at ``theta`` by central differences of its gradient.

    Parameters
    ----------
    objective : Objective
        Anything with ``gradient(theta)``.
    theta : array_like, shape (2,)
    step : float, default 1e-5
        The finite-difference step.

    Returns
    -------
    ndarray, shape (2, 2)
        Symmetrised.

    Examples
    --------
    >>> hessian(get("ill_conditioned_quadratic"), [0.3, -1.0]).round(6).tolist()
    [[1.0, 0.0], [0.0, 10.0]]
    """
    theta = np.asarray(theta, dtype=np.float64)
    rows = []
    for axis in range(2):
        shift = np.zeros(2)
        shift[axis] = step
        rows.append(
            (
                np.asarray(objective.gradient(theta + shift))
                - np.asarray(objective.gradient(theta - shift))
            )
            / (2.0 * step)
        )
    matrix = np.array(rows)
    return (matrix + matrix.T) / 2.0


_BY_NAME = {
    "quadratic": Quadratic,
    "ill_conditioned_quadratic": IllConditionedQuadratic,
    "rosenbrock": Rosenbrock,
    "saddle": Saddle,
}
NAMES = tuple(_BY_NAME)


def get(identifier, **parameters) -> Objective:
    """An objective by name, or an ``Objective`` returned as it is.

    Parameters
    ----------
    identifier : str or Objective
        One of ``NAMES`` (any case) or an objective.
    **parameters
        Passed to the class, such as ``condition_number=100``.

    Returns
    -------
    Objective

    Examples
    --------
    >>> get("ill_conditioned_quadratic", condition_number=100.0)
    IllConditionedQuadratic(name='ill_conditioned_quadratic', condition_number=100.0)
    >>> NAMES
    ('quadratic', 'ill_conditioned_quadratic', 'rosenbrock', 'saddle')
    """
    if isinstance(identifier, Objective):
        return identifier
    cls = _BY_NAME.get(str(identifier).lower()) if isinstance(identifier, str) else None
    if cls is None:
        raise ValueError(f"Unknown objective {identifier!r}. Valid names: {', '.join(NAMES)}.")
    return cls(**parameters)
