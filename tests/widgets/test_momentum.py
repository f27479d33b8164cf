"""Heavy-ball momentum: the convergence map against the spectral radius, the optimum, the app."""

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from widget_helpers import click

from nastoolkit import objectives, optimizers
from nastoolkit.widgets.momentum import HeavyBallModel, MomentumApp

EIGENVALUES = np.array([1.0, 10.0])


def _iteration_radius(alpha, beta, lam):
    # The 2x2 map of (x_k, x_{k-1}) for x_{k+1} = x_k - alpha lam x_k + beta (x_k - x_{k-1}).
    matrix = np.array([[1 + beta - alpha * lam, -beta], [1.0, 0.0]])
    return np.max(np.abs(np.linalg.eigvals(matrix)))


def test_rate_is_the_spectral_radius_of_the_iteration_matrix():
    rng = np.random.default_rng(0)
    for alpha, beta, lam in rng.uniform([0.0, 0.0, 0.1], [0.5, 0.99, 12.0], size=(200, 3)):
        assert objectives.heavy_ball_rate(alpha, beta, lam) == pytest.approx(
            _iteration_radius(alpha, beta, lam), rel=1e-6, abs=1e-9
        )


def test_convergent_region_matches_the_closed_form_on_a_grid():
    alphas = np.linspace(0.001, 0.45, 90)
    betas = np.linspace(0.0, 0.98, 50)
    rates = objectives.heavy_ball_convergence_map(alphas, betas, EIGENVALUES)
    assert rates.shape == (50, 90)
    A, B = np.meshgrid(alphas, betas)
    closed_form = A * EIGENVALUES.max() < 2 * (1 + B)
    margin = np.abs(A * EIGENVALUES.max() - 2 * (1 + B)) > 1e-3  # not on the boundary
    np.testing.assert_array_equal((rates < 1)[margin], closed_form[margin])
    radius = np.vectorize(lambda a, b: max(_iteration_radius(a, b, lam) for lam in EIGENVALUES))
    np.testing.assert_allclose(rates, radius(A, B), rtol=1e-6, atol=1e-9)


def test_optimal_pair_is_the_fastest_point_and_beats_plain_descent():
    alpha, beta = objectives.optimal_heavy_ball(EIGENVALUES)
    assert alpha == pytest.approx(4 / (np.sqrt(10) + 1) ** 2)
    assert beta == pytest.approx(((np.sqrt(10) - 1) / (np.sqrt(10) + 1)) ** 2)
    best = objectives.heavy_ball_convergence_map([alpha], [beta], EIGENVALUES)[0, 0]
    grid = objectives.heavy_ball_convergence_map(
        np.linspace(0.01, 0.4, 80), np.linspace(0, 0.95, 80), EIGENVALUES
    )
    assert best == pytest.approx(np.sqrt(beta)) and best <= grid.min() + 1e-9
    assert best < (10 - 1) / (10 + 1)  # plain descent's best rate


def test_plain_descent_errors_follow_the_sgd_optimizer():
    surface = objectives.get("ill_conditioned_quadratic")
    theta = np.array(surface.start, dtype=float)
    optimizer = optimizers.SGD(learning_rate=0.15)
    path = [theta.copy()]
    for _ in range(12):
        optimizer.apply_gradients([(surface.gradient(theta), theta)])
        path.append(theta.copy())
    np.testing.assert_allclose(
        objectives.gradient_descent_errors(0.15, EIGENVALUES, surface.start, 12),
        path,
        rtol=1e-12,
        atol=1e-12,
    )
    assert objectives.largest_stable_rate(EIGENVALUES) == pytest.approx(0.2)


def test_model_errors_shrink_at_the_predicted_rate():
    model = HeavyBallModel(learning_rate=0.23, momentum=0.27)
    model.run(60)
    errors = model.errors().max(axis=1)
    observed = (errors[60] / errors[30]) ** (1 / 30)
    assert observed == pytest.approx(model.rate, rel=0.1)


def test_model_uses_the_library_optimizer_and_set_start_restarts():
    model = HeavyBallModel(learning_rate=0.1, momentum=0.6)
    model.run(4)
    theta = np.array(model.start)
    reference = optimizers.SGD(learning_rate=0.1, momentum=0.6)
    for _ in range(4):
        reference.apply_gradients([(model.surface.gradient(theta), theta)])
    np.testing.assert_allclose(model.path[-1], theta)
    model.set_start([1.0, -1.0])
    assert model.num_steps == 0 and model.path[0].tolist() == [1.0, -1.0]
    with pytest.raises(ValueError, match="start"):
        model.set_start([1.0])
    with pytest.raises(ValueError, match="momentum"):
        HeavyBallModel(momentum=1.0)


def test_app_play_advances_and_sliders_move_the_point():
    app = MomentumApp(learning_rate=0.05, momentum=0.9, steps_per_frame=2)
    before = app.model.num_steps
    app.play.value = 3  # three frames, as the browser's Play would send
    assert app.model.num_steps == before + 6
    app.momentum_slider.value = 0.27
    assert app.model.num_steps == 0 and app.model.momentum == pytest.approx(0.27)
    map_ax = app.view.last_figure.axes[0]
    you = next(line for line in map_ax.get_lines() if line.get_label() == "you")
    assert you.get_ydata()[0] == pytest.approx(0.27)
    app.step_button.click()
    assert app.model.num_steps == 1


def test_clicks_pick_alpha_beta_on_the_map_and_the_start_on_the_contours():
    pytest.importorskip("ipympl")
    app = MomentumApp()
    click(app, (0.2, 0.5))
    assert app.model.learning_rate == pytest.approx(0.2, abs=0.005)
    assert app.model.momentum == pytest.approx(0.5, abs=0.01)
    click(app, (2.0, -1.0), axes=1)
    np.testing.assert_allclose(app.model.start, [2.0, -1.0], atol=1e-6)
    assert app.model.num_steps == 0
