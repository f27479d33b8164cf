"""L1/L2 solvers of nastoolkit.regularization_path against closed forms and optimality conditions."""

import itertools

import numpy as np
import pytest

from nastoolkit import regularization_path as rp


def _orthogonal_design(m=40, p=5, seed=0):
    """X with X^T X = I: then ridge is z / (1 + lambda) and lasso is soft_threshold(z, lambda)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((m, p)))
    y = q @ np.array([3.0, -2.0, 0.5, 0.05, -1.0]) + 0.1 * rng.standard_normal(m)
    return q, y


def test_soft_threshold_shrinks_toward_zero_and_stops_there():
    z = np.array([-3.0, -0.5, 0.0, 0.2, 2.0])
    np.testing.assert_allclose(rp.soft_threshold(z, 1.0), [-2.0, 0.0, 0.0, 0.0, 1.0])


def test_ista_matches_soft_threshold_solution_on_orthogonal_design():
    X, y = _orthogonal_design()
    z = X.T @ y
    for lam in [0.0, 0.3, 1.0, 2.5]:
        np.testing.assert_allclose(rp.lasso_fit(X, y, lam), rp.soft_threshold(z, lam), atol=1e-8)


def test_ridge_matches_shrinkage_on_orthogonal_design():
    X, y = _orthogonal_design()
    for lam in [0.0, 0.5, 4.0]:
        np.testing.assert_allclose(rp.ridge_fit(X, y, lam), X.T @ y / (1.0 + lam), atol=1e-10)


def test_ridge_gradient_is_zero_at_solution_on_a_generic_problem():
    X, y, _ = rp.sample_sparse_regression(seed=3)
    lam = 7.0
    theta = rp.ridge_fit(X, y, lam)
    m = X.shape[0]
    gradient = X.T @ (X @ theta - y) / m + lam / m * theta
    np.testing.assert_allclose(gradient, 0.0, atol=1e-10)


def test_lasso_satisfies_kkt_conditions_on_a_generic_problem():
    X, y, _ = rp.sample_sparse_regression(seed=1)
    lam = 20.0
    theta = rp.lasso_fit(X, y, lam)
    m = X.shape[0]
    smooth_gradient = X.T @ (X @ theta - y) / m
    active = theta != 0
    # Non-zero weights: gradient balances the penalty exactly; zero weights: |gradient| <= lambda/m.
    np.testing.assert_allclose(
        smooth_gradient[active], -lam / m * np.sign(theta[active]), atol=1e-6
    )
    assert np.all(np.abs(smooth_gradient[~active]) <= lam / m + 1e-6)
    assert active.sum() < theta.size  # this lambda is strong enough to zero something


def test_l1_path_has_exact_zeros_where_l2_path_has_none():
    X, y, theta_true = rp.sample_sparse_regression(num_features=8, num_informative=3, seed=0)
    lambdas = np.logspace(-1, 2.5, 12)
    l1 = rp.lasso_path(X, y, lambdas)
    l2 = rp.ridge_path(X, y, lambdas)
    assert l1.shape == l2.shape == (12, 8)
    assert np.count_nonzero(l1 == 0.0) > 10
    assert np.count_nonzero(l2 == 0.0) == 0
    # Strong L1 keeps (at most) the informative weights; the weakest is close to least squares.
    strongest = l1[np.argmax(lambdas)]
    assert np.all(strongest[theta_true == 0] == 0.0)
    np.testing.assert_allclose(l1[np.argmin(lambdas)], rp.ridge_fit(X, y, 0.0), atol=0.05)


def test_lasso_path_rows_follow_lambda_order_and_match_cold_fits():
    X, y, _ = rp.sample_sparse_regression(seed=2)
    lambdas = np.array([1.0, 50.0, 5.0])  # unsorted on purpose
    path = rp.lasso_path(X, y, lambdas)
    for row, lam in zip(path, lambdas):
        np.testing.assert_allclose(row, rp.lasso_fit(X, y, lam), atol=1e-6)


def test_larger_lambda_gives_smaller_ridge_norm():
    x, y = rp.sample_sine_data(10, seed=0)
    X = rp.polynomial_features(x, 9)
    norms = [np.linalg.norm(rp.ridge_fit(X, y, lam)) for lam in np.logspace(-6, 2, 9)]
    assert all(a > b for a, b in itertools.pairwise(norms))


def test_penalty_mask_leaves_intercept_free():
    x, y = rp.sample_sine_data(12, seed=4)
    X = rp.polynomial_features(x, 5)
    mask = np.r_[0.0, np.ones(5)]
    theta = rp.ridge_fit(X, y + 10.0, 1e8, mask)
    # Huge penalty on all but the intercept: the fit is the mean of y.
    np.testing.assert_allclose(theta[0], np.mean(y + 10.0), rtol=1e-5)
    assert np.max(np.abs(theta[1:])) < 1e-5


def test_polynomial_ridge_errors_show_overfitting_at_tiny_lambda():
    x_train, y_train = rp.sample_sine_data(10, noise=0.25, seed=0)
    x_val, y_val = rp.sample_sine_data(100, noise=0.25, seed=1)
    lambdas = np.logspace(-8, 2, 21)
    train, val, thetas = rp.polynomial_ridge_errors(x_train, y_train, x_val, y_val, 9, lambdas)
    assert thetas.shape == (21, 10)
    assert train[0] < 1e-3  # degree 9 through 10 points: near interpolation
    assert val[0] > 3 * val.min()  # ... and that generalises badly
    assert np.all(np.diff(train) >= -1e-9)  # more penalty never fits the training set better
    assert 0 < np.argmin(val) < 20  # the best lambda is in between


def test_polynomial_features_columns_and_range():
    F = rp.polynomial_features(np.array([0.0, 0.5, 1.0]), 3)
    np.testing.assert_allclose(F, [[1, -1, 1, -1], [1, 0, 0, 0], [1, 1, 1, 1]])


def test_loss_grid_matches_direct_evaluation():
    X, y, _ = rp.sample_sparse_regression(num_features=2, num_informative=2, seed=0)
    a, b = np.linspace(-1, 1, 4), np.linspace(-2, 2, 3)
    grid = rp.loss_grid(X, y, a, b)
    assert grid.shape == (3, 4)
    assert grid[2, 1] == pytest.approx(0.5 * rp.mean_squared_error(X, y, [a[1], b[2]]))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: rp.ridge_fit(np.ones((3, 2)), np.ones(4), 1.0), "same m"),
        (lambda: rp.ridge_fit(np.ones((3, 2)), np.ones(3), -1.0), "lam must be"),
        (lambda: rp.lasso_fit(np.ones((3, 2)), np.ones(3), 1.0, penalty_mask=[1]), "penalty_mask"),
        (lambda: rp.polynomial_features([0.1], -1), "degree"),
        (lambda: rp.sample_sine_data(0), "num_samples"),
    ],
)
def test_errors_name_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_regularized_loss_is_half_the_keras_objective():
    """2 J(theta) = MSE + L2(lambda/m) = MSE + L1(2 lambda/m): same minimiser as Keras's loss."""
    from nastoolkit.regularizers import L1, L2

    X, y, _ = rp.sample_sparse_regression(num_samples=30, seed=5)
    theta = np.linspace(-1, 1, X.shape[1])
    m, lam = X.shape[0], 3.0
    mse = rp.mean_squared_error(X, y, theta)
    assert 2 * rp.regularized_loss(X, y, theta, lam, "l2") == pytest.approx(
        mse + L2(lam / m)(theta)
    )
    assert 2 * rp.regularized_loss(X, y, theta, lam, "l1") == pytest.approx(
        mse + L1(2 * lam / m)(theta)
    )
    # The closed-form ridge solution minimises J: any nudge increases it.
    best = rp.ridge_fit(X, y, lam)
    nudged = best + 1e-3 * np.eye(X.shape[1])[0]
    assert rp.regularized_loss(X, y, best, lam) < rp.regularized_loss(X, y, nudged, lam)
