"""L1 and L2 regularization of small linear models, solved exactly: the math behind tutorial 4.

Everything here is a pure function on NumPy arrays. The loss is the one from the tutorial, with
``m`` samples, design matrix ``X`` of shape (m, p), targets ``y`` of shape (m,) and weights
``theta`` of shape (p,):

    L2 (ridge):  J(theta) = 1/(2m) sum_i (x_i theta - y_i)^2 + lambda/(2m) sum_j theta_j^2
    L1 (lasso):  J(theta) = 1/(2m) sum_i (x_i theta - y_i)^2 + lambda/m     sum_j abs(theta_j)

Both penalties carry the same 1/m as the data term, so ``lambda`` means "how many samples' worth
of squared error one unit of penalty costs". Ridge has a closed form; lasso is solved by proximal
gradient descent (ISTA), whose soft-threshold step sets weights to exactly zero, which is the point
the tutorial makes. ``penalty_mask`` marks which weights are penalized (the intercept usually is
not).

Keras convention (``nastoolkit.regularizers``): ``L2(l2)`` adds ``l2 sum(w^2)`` and ``L1(l1)`` adds
``l1 sum abs(w)`` to the mean squared error (1/m, no 1/2). That objective is 2 J(theta) when
``l2 = lambda / m`` or ``l1 = 2 lambda / m``, so both have the same minimiser.
"""

from __future__ import annotations

import numpy as np

from . import _checks

__all__ = [
    "lasso_fit",
    "lasso_path",
    "loss_grid",
    "mean_squared_error",
    "polynomial_features",
    "polynomial_ridge_errors",
    "regularized_loss",
    "ridge_fit",
    "ridge_path",
    "sample_sine_data",
    "sample_sparse_regression",
    "soft_threshold",
]


# --- data for the demonstrations ------------------------------------------------------------


def sample_sine_data(num_samples: int, noise: float = 0.2, seed: int = 0):
    """``num_samples`` points of y = sin(2 pi x) + noise, x uniform in [0, 1], sorted by x.

    The classic curve that a degree-9 polynomial overfits when only ~10 points are given
    (Bishop, PRML section 1.1).

    Parameters
    ----------
    num_samples : int
        Number of points, >= 1.
    noise : float, default 0.2
        Standard deviation of the Gaussian noise on y.
    seed : int, default 0
        Seed of x and of the noise.

    Returns
    -------
    x, y : ndarray, shape (num_samples,)

    Examples
    --------
    >>> x, y = sample_sine_data(10, seed=0)
    >>> x.shape, bool((x[1:] >= x[:-1]).all())
    ((10,), True)
    """
    num_samples = _checks.positive_int("num_samples", num_samples)
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 1.0, num_samples))
    y = np.sin(2.0 * np.pi * x) + noise * rng.standard_normal(num_samples)
    return x, y


def sample_sparse_regression(
    num_samples: int = 60,
    num_features: int = 8,
    num_informative: int = 3,
    noise: float = 0.5,
    correlation: float = 0.3,
    seed: int = 0,
):
    """A linear problem where only ``num_informative`` of ``num_features`` weights are non-zero.

    Features are standard normal with pairwise ``correlation`` and then standardized (zero mean,
    unit variance); y = X theta_true + noise is centred, so no intercept is needed.

    Parameters
    ----------
    num_samples : int, default 60
        m, the number of rows.
    num_features : int, default 8
        p, the number of features.
    num_informative : int, default 3
        How many leading weights of ``theta_true`` are non-zero, in [0, p].
    noise : float, default 0.5
        Standard deviation of the Gaussian noise on y.
    correlation : float, default 0.3
        Pairwise correlation of the features before standardizing.
    seed : int, default 0
        Seed of the features and of the noise.

    Returns
    -------
    X : ndarray, shape (m, p)
    y : ndarray, shape (m,)
    theta_true : ndarray, shape (p,)

    Examples
    --------
    >>> X, y, theta_true = sample_sparse_regression(num_samples=20, num_features=5, seed=0)
    >>> X.shape, int((theta_true != 0).sum())
    ((20, 5), 3)
    """
    num_samples = _checks.positive_int("num_samples", num_samples)
    num_features = _checks.positive_int("num_features", num_features)
    if not 0 <= num_informative <= num_features:
        raise ValueError(
            f"num_informative must be in [0, num_features={num_features}]. "
            f"Received: num_informative={num_informative}"
        )
    rng = np.random.default_rng(seed)
    covariance = np.full((num_features, num_features), correlation) + (1.0 - correlation) * np.eye(
        num_features
    )
    X = rng.multivariate_normal(np.zeros(num_features), covariance, size=num_samples)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    theta_true = np.zeros(num_features)
    # Informative weights of decreasing size, alternating sign, so paths leave zero one by one.
    theta_true[:num_informative] = [
        (-1) ** j * (3.0 - 2.0 * j / max(num_informative, 1)) for j in range(num_informative)
    ]
    y = X @ theta_true + noise * rng.standard_normal(num_samples)
    return X, y - y.mean(), theta_true


def polynomial_features(x, degree: int):
    """Columns u^0, u^1, ..., u^degree of u = 2x - 1: shape (m,) -> (m, degree + 1).

    x in [0, 1] is rescaled to u in [-1, 1] first, so high powers stay O(1) and the normal
    equations stay well conditioned up to degree ~15.

    Parameters
    ----------
    x : array_like, shape (m,)
        Inputs, meant to lie in [0, 1].
    degree : int
        Highest power, >= 0.

    Returns
    -------
    ndarray, shape (m, degree + 1)

    Examples
    --------
    >>> polynomial_features([0.0, 0.5, 1.0], 2)
    array([[ 1., -1.,  1.],
           [ 1.,  0.,  0.],
           [ 1.,  1.,  1.]])
    """
    degree = _checks.non_negative_int("degree", degree)
    u = 2.0 * np.asarray(x, dtype=np.float64).reshape(-1) - 1.0
    return np.vander(u, degree + 1, increasing=True)


def mean_squared_error(X, y, theta) -> float:
    """(1/m) sum_i (x_i theta - y_i)^2 (no 1/2, so it reads as the usual MSE).

    Parameters
    ----------
    X : array_like, shape (m, p)
    y : array_like, shape (m,)
    theta : array_like, shape (p,)

    Returns
    -------
    float

    Examples
    --------
    >>> mean_squared_error([[1.0], [2.0]], [1.0, 1.0], [1.0])
    0.5
    """
    residual = np.asarray(X) @ np.asarray(theta) - np.asarray(y)
    return float(np.mean(residual**2))


def regularized_loss(X, y, theta, lam: float, penalty: str = "l2", penalty_mask=None) -> float:
    """J(theta) of the module docstring: 1/(2m) norm(X theta - y)^2 plus the L1 or L2 penalty.

    Parameters
    ----------
    X : array_like, shape (m, p)
    y : array_like, shape (m,)
    theta : array_like, shape (p,)
    lam : float
        lambda, the penalty strength.
    penalty : {"l2", "l1"}, default "l2"
        ``"l2"`` adds lambda/(2m) sum theta_j^2, ``"l1"`` adds lambda/m sum abs(theta_j).
    penalty_mask : array_like, shape (p,), optional
        1 for penalized weights, 0 for free ones (all penalized by default).

    Returns
    -------
    float

    Examples
    --------
    >>> regularized_loss([[1.0], [1.0]], [0.0, 0.0], [2.0], lam=1.0, penalty="l1")
    3.0
    """
    X, y, mask = _check_problem(X, y, penalty_mask)
    theta = np.asarray(theta, dtype=np.float64)
    m = X.shape[0]
    data_term = 0.5 * mean_squared_error(X, y, theta)
    if penalty == "l2":
        return data_term + lam / (2 * m) * float(np.sum(mask * theta**2))
    if penalty == "l1":
        return data_term + lam / m * float(np.sum(mask * np.abs(theta)))
    raise ValueError(f"penalty must be 'l1' or 'l2'. Received: penalty={penalty!r}")


# --- the two solvers --------------------------------------------------------------------------


def soft_threshold(z, threshold):
    """Proximal operator of ``threshold * abs(.)``: sign(z) max(abs(z) - threshold, 0).

    It moves every weight toward zero by ``threshold`` and stops at zero, so small weights become
    exactly 0 (the reason L1 gives sparse models).

    Parameters
    ----------
    z : array_like
    threshold : float or array_like
        Broadcast against ``z``.

    Returns
    -------
    ndarray
        float64, ``z``'s shape.

    Examples
    --------
    >>> soft_threshold([-3.0, -0.5, 0.2, 2.0], 1.0)
    array([-2., -0.,  0.,  1.])
    """
    z = np.asarray(z, dtype=np.float64)
    return np.sign(z) * np.maximum(np.abs(z) - threshold, 0.0)


def ridge_fit(X, y, lam: float, penalty_mask=None):
    """Closed-form minimiser of the L2 loss: theta = (X^T X + lambda D)^-1 X^T y.

    D = diag(penalty_mask) (all ones by default). Setting dJ/dtheta = (1/m) X^T (X theta - y) +
    (lambda/m) D theta to zero gives the normal equations above.

    Parameters
    ----------
    X : array_like, shape (m, p)
    y : array_like, shape (m,)
    lam : float
        lambda >= 0.
    penalty_mask : array_like, shape (p,), optional
        1 for penalized weights, 0 for free ones.

    Returns
    -------
    ndarray, shape (p,)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.eye(2)
    >>> ridge_fit(X, [2.0, 4.0], lam=1.0)
    array([1., 2.])
    """
    X, y, mask = _check_problem(X, y, penalty_mask)
    lam = _checks.non_negative("lam", lam)
    gram = X.T @ X + lam * np.diag(mask)
    # lstsq instead of solve: lambda = 0 with more weights than points is singular but allowed.
    return np.linalg.lstsq(gram, X.T @ y, rcond=None)[0]


def ridge_path(X, y, lambdas, penalty_mask=None):
    """``ridge_fit`` for every lambda.

    Parameters
    ----------
    X : array_like, shape (m, p)
    y : array_like, shape (m,)
    lambdas : array_like, shape (k,)
    penalty_mask : array_like, shape (p,), optional

    Returns
    -------
    ndarray, shape (k, p)
        Row i solves ``lambdas[i]``.

    Examples
    --------
    >>> import numpy as np
    >>> ridge_path(np.eye(2), [2.0, 4.0], [0.0, 1.0])
    array([[2., 4.],
           [1., 2.]])
    """
    return np.stack([ridge_fit(X, y, lam, penalty_mask) for lam in np.asarray(lambdas, float)])


def lasso_fit(
    X,
    y,
    lam: float,
    penalty_mask=None,
    initial_theta=None,
    max_iterations: int = 5000,
    tolerance: float = 1e-10,
):
    """Minimise the L1 loss by ISTA (proximal gradient descent).

    One step, with step size t = 1 / L and L the largest eigenvalue of X^T X / m (the Lipschitz
    constant of the smooth part's gradient)::

        theta <- soft_threshold(theta - t (1/m) X^T (X theta - y),  t lambda / m  on penalized j)

    It stops when no weight moves more than ``tolerance``.

    Parameters
    ----------
    X : array_like, shape (m, p)
    y : array_like, shape (m,)
    lam : float
        lambda >= 0.
    penalty_mask : array_like, shape (p,), optional
        1 for penalized weights, 0 for free ones.
    initial_theta : array_like, shape (p,), optional
        Start here (a warm start along a path); zeros by default.
    max_iterations : int, default 5000
    tolerance : float, default 1e-10

    Returns
    -------
    ndarray, shape (p,)

    Examples
    --------
    With X = I and m = 2 the minimiser is soft_threshold(y, lambda):

    >>> import numpy as np
    >>> lasso_fit(np.eye(2), [3.0, 0.5], lam=1.0).round(6)
    array([2., 0.])
    """
    X, y, mask = _check_problem(X, y, penalty_mask)
    lam = _checks.non_negative("lam", lam)
    max_iterations = _checks.positive_int("max_iterations", max_iterations)
    m, p = X.shape
    lipschitz = np.linalg.eigvalsh(X.T @ X / m)[-1]
    step = 1.0 / max(lipschitz, 1e-12)
    threshold = step * lam / m * mask
    theta = np.zeros(p) if initial_theta is None else np.array(initial_theta, dtype=np.float64)
    gram, Xty = X.T @ X / m, X.T @ y / m  # precomputed: each step is then a (p, p) product
    for _ in range(max_iterations):
        new_theta = soft_threshold(theta - step * (gram @ theta - Xty), threshold)
        if np.max(np.abs(new_theta - theta)) <= tolerance:
            return new_theta
        theta = new_theta
    return theta


def lasso_path(
    X, y, lambdas, penalty_mask=None, max_iterations: int = 5000, tolerance: float = 1e-10
):
    """``lasso_fit`` for every lambda, warm-started from the largest.

    Solving from strong to weak penalty means each solution starts next to the previous one, so
    the whole path costs little more than one fit.

    Parameters
    ----------
    X : array_like, shape (m, p)
    y : array_like, shape (m,)
    lambdas : array_like, shape (k,)
    penalty_mask : array_like, shape (p,), optional
    max_iterations : int, default 5000
    tolerance : float, default 1e-10

    Returns
    -------
    ndarray, shape (k, p)
        Rows in the order of ``lambdas``.

    Examples
    --------
    >>> import numpy as np
    >>> path = lasso_path(np.eye(2), [3.0, 0.5], [0.0, 1.0, 10.0])
    >>> (path != 0).sum(axis=1)
    array([2, 1, 0])
    """
    lambdas = np.asarray(lambdas, dtype=np.float64)
    X, y, mask = _check_problem(X, y, penalty_mask)
    path = np.empty((lambdas.size, X.shape[1]))
    theta = None
    for index in np.argsort(-lambdas):
        theta = lasso_fit(X, y, lambdas[index], mask, theta, max_iterations, tolerance)
        path[index] = theta
    return path


# --- what the widgets plot -----------------------------------------------------------------------


def polynomial_ridge_errors(x_train, y_train, x_val, y_val, degree: int, lambdas):
    """Train and validation MSE of the degree-``degree`` ridge fit for every lambda.

    The intercept (column u^0) is not penalized.

    Parameters
    ----------
    x_train, y_train : array_like, shape (m,)
    x_val, y_val : array_like, shape (n,)
    degree : int
    lambdas : array_like, shape (k,)

    Returns
    -------
    train_errors, val_errors : ndarray, shape (k,)
    thetas : ndarray, shape (k, degree + 1)

    Examples
    --------
    >>> x, y = sample_sine_data(10, seed=0)
    >>> x_val, y_val = sample_sine_data(50, seed=1)
    >>> train, val, thetas = polynomial_ridge_errors(x, y, x_val, y_val, 9, [1e-6, 1e-2])
    >>> bool(train[0] < train[1]), thetas.shape
    (True, (2, 10))
    """
    X_train = polynomial_features(x_train, degree)
    X_val = polynomial_features(x_val, degree)
    mask = np.ones(degree + 1)
    mask[0] = 0.0
    thetas = ridge_path(X_train, y_train, lambdas, mask)
    train_errors = np.array([mean_squared_error(X_train, y_train, t) for t in thetas])
    val_errors = np.array([mean_squared_error(X_val, y_val, t) for t in thetas])
    return train_errors, val_errors, thetas


def loss_grid(X, y, theta_1, theta_2):
    """Unregularized loss 1/(2m) norm(X theta - y)^2 of a 2-weight model on a grid.

    Parameters
    ----------
    X : array_like, shape (m, 2)
    y : array_like, shape (m,)
    theta_1 : array_like, shape (a,)
        Grid of the first weight.
    theta_2 : array_like, shape (b,)
        Grid of the second weight.

    Returns
    -------
    ndarray, shape (b, a)
        Ready for ``ax.contour(theta_1, theta_2, values)``.

    Examples
    --------
    >>> import numpy as np
    >>> loss_grid(np.eye(2), [1.0, 1.0], [0.0, 1.0], [1.0])
    array([[0.25, 0.  ]])
    """
    X, y, _ = _check_problem(X, y, None)
    if X.shape[1] != 2:
        raise ValueError(
            f"X must have exactly 2 columns for a 2-D loss picture. Received: X.shape={X.shape}"
        )
    T1, T2 = np.meshgrid(np.asarray(theta_1, float), np.asarray(theta_2, float))
    thetas = np.stack([T1.ravel(), T2.ravel()])  # (2, a b)
    residual = X @ thetas - y[:, None]  # (m, a b)
    return (0.5 * np.mean(residual**2, axis=0)).reshape(T1.shape)


# --- argument checks ------------------------------------------------------------------------------


def _check_problem(X, y, penalty_mask):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.size:
        raise ValueError(
            f"X must be (m, p) and y (m,) with the same m. "
            f"Received: X.shape={X.shape}, y.shape={y.shape}"
        )
    if penalty_mask is None:
        mask = np.ones(X.shape[1])
    else:
        mask = np.asarray(penalty_mask, dtype=np.float64).reshape(-1)
        if mask.size != X.shape[1]:
            raise ValueError(
                f"penalty_mask must have one entry per column of X ({X.shape[1]}). "
                f"Received: {mask.size} entries"
            )
    return X, y, mask
