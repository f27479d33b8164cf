"""The tutorial-4 regularization apps driven in-process: set slider values, check state and figures."""

import itertools

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from nastoolkit.widgets.regularization import (
    ConstraintRegionApp,
    PolynomialRegularizationApp,
    PolynomialRegularizationModel,
    RegularizationPathApp,
)


@pytest.fixture(scope="module")
def polynomial_app():
    return PolynomialRegularizationApp(num_lambdas=11)


def test_larger_lambda_gives_smaller_weight_norm_and_redraws(polynomial_app):
    app = polynomial_app
    norms, draws = [], app.view.draw_count
    for lam in [1e-6, 1e-4, 1e-1, 10.0]:  # not 1e-8: the start value fires no change
        app.lambda_slider.value = lam
        assert app.model.lam == pytest.approx(lam, rel=1e-6)
        norms.append(app.model.weight_norm)
    assert all(a > b for a, b in itertools.pairwise(norms))
    assert app.view.draw_count == draws + 4
    # The fit panel's title follows the slider.
    assert "1.0e+01" in app.view.last_figure.axes[0].get_title()


def test_tiny_lambda_overfits_and_moderate_lambda_generalises(polynomial_app):
    app = polynomial_app
    app.lambda_slider.value = 1e-8
    overfit_train, overfit_val = app.model.train_error, app.model.val_error
    app.lambda_slider.value = 1e-3
    assert overfit_train < app.model.train_error
    assert overfit_val > 5 * app.model.val_error


def test_degree_slider_changes_number_of_weights(polynomial_app):
    app = polynomial_app
    app.degree_slider.value = 3
    assert app.model.theta.shape == (4,)
    assert len(app.view.last_figure.axes[2].patches) == 4  # one bar per weight
    app.degree_slider.value = 9


def test_model_rejects_lambda_outside_grid():
    model = PolynomialRegularizationModel(num_lambdas=5)
    with pytest.raises(ValueError, match="log_lambda"):
        model.set_log_lambda(5.0)


def test_path_app_counts_exact_zeros_for_l1_only():
    app = RegularizationPathApp(num_lambdas=12)
    app.lambda_slider.value = 10**0.5
    weak_zeros = app.model.zeros_l1
    app.lambda_slider.value = 10**2.0
    assert app.model.zeros_l1 > weak_zeros
    assert app.model.zeros_l2 == 0
    left, right = app.view.last_figure.axes[:2]
    assert f"{app.model.zeros_l1} of 8 weights exactly 0" in left.get_title()
    assert "0 of 8 weights exactly 0" in right.get_title()


def test_constraint_app_l1_solution_sits_on_a_corner():
    app = ConstraintRegionApp(grid_size=31)
    app.lambda_slider.value = 10**1.7
    theta_l1, theta_l2 = app.model.theta_l1, app.model.theta_l2
    assert np.count_nonzero(theta_l1 == 0.0) == 1  # a corner of the diamond
    assert np.all(theta_l2 != 0.0)  # the circle has no corners
    app.lambda_slider.value = 10**-1
    assert np.all(app.model.theta_l1 != 0.0)  # weak penalty: near least squares
    assert app.view.draw_count == 3
