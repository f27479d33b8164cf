"""Gradient-descent widget: the model steps like the equation, the app's controls drive it."""

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from widget_helpers import click

from nastoolkit import objectives
from nastoolkit.widgets.descent import GradientDescent, GradientDescentApp, ModelSlice


def test_first_step_matches_the_equation_on_the_quadratic():
    surface = objectives.get("ill_conditioned_quadratic")
    model = GradientDescent(surface, learning_rate=0.05, start=[2.0, 1.0])
    model.step()
    gradient = surface.gradient(np.array([2.0, 1.0]))  # (x, kappa y) = (2, 10)
    np.testing.assert_allclose(model.path[1], np.array([2.0, 1.0]) - 0.05 * gradient)
    np.testing.assert_allclose(model.path[1], [1.9, 0.5])
    assert model.losses[1] == pytest.approx(float(surface.value(model.path[1])))


def test_small_rate_decreases_the_loss_monotonically():
    model = GradientDescent("quadratic", learning_rate=0.1)
    assert model.run(40) == 40
    assert np.all(np.diff(model.losses) < 0)
    # On f = |theta|^2 / 2 each step scales theta by (1 - lr): closed form after 40 steps.
    np.testing.assert_allclose(model.path[-1], 0.9**40 * np.asarray(model.start), rtol=1e-12)


def test_too_large_rate_stops_with_a_divergence_message():
    model = GradientDescent("quadratic", learning_rate=2.5)
    taken = model.run(500)
    assert model.status == "diverged"
    assert taken < 500
    assert "too large" in model.message and "lr = 2.5" in model.message
    assert model.step() is False  # stopped runs stay stopped until reset
    model.reset(learning_rate=0.1)
    assert model.status == "ready" and model.num_steps == 0


def test_saddle_run_escapes_downhill_instead_of_diverging():
    model = GradientDescent("saddle", learning_rate=0.1)
    model.run(500)
    assert model.status == "escaped"
    assert model.losses[-1] < model.losses[0]


def test_invalid_learning_rate_names_the_argument():
    with pytest.raises(ValueError, match="learning_rate"):
        GradientDescent("quadratic", learning_rate=-1.0)


def test_app_buttons_and_slider_drive_the_model_and_redraw():
    app = GradientDescentApp("quadratic", learning_rate=0.1)
    draws = app.view.draw_count
    app.step_button.click()
    assert app.model.num_steps == 1 and app.view.draw_count == draws + 1
    np.testing.assert_allclose(app.model.path[1], 0.9 * np.asarray(app.model.start))
    app.steps_per_run_slider.value = 10
    app.run_button.click()
    assert app.model.num_steps == 11
    # The path in the last figure is the model's path (contour panel, first line = the path).
    path_line = app.view.last_figure.axes[0].get_lines()[1]
    np.testing.assert_allclose(path_line.get_xydata(), np.array(app.model.path))
    app.learning_rate_slider.value = 2.5  # changing the rate resets and keeps the new rate
    assert app.model.num_steps == 0 and app.model.learning_rate == pytest.approx(2.5)
    app.run_button.click()
    assert app.model.status == "diverged"
    assert "too large" in app.status.value
    # One verdict: in the status line only, never repeated as a figure title.
    assert app.view.last_figure._suptitle is None
    app.reset_button.click()
    assert app.model.num_steps == 0 and app.model.status == "ready"


def test_app_start_sliders_and_surface_dropdown():
    app = GradientDescentApp("quadratic")
    app.start_x_slider.value = 1.0
    app.start_y_slider.value = -2.0
    np.testing.assert_allclose(app.model.path[0], [1.0, -2.0])
    app.surface_dropdown.value = "rosenbrock"
    assert app.model.objective.name == "rosenbrock"
    np.testing.assert_allclose(app.model.start, objectives.get("rosenbrock").start, atol=0.05)
    (x_min, x_max), _ = objectives.get("rosenbrock").bounds
    assert (app.start_x_slider.min, app.start_x_slider.max) == (x_min, x_max)


@pytest.fixture(scope="module")
def small_slice():
    return ModelSlice(hidden_units=4, num_samples=16, num_epochs=20, seed=1)


def test_model_slice_gradient_matches_finite_differences(small_slice):
    theta = np.asarray(small_slice.start)
    eps = 1e-6
    numeric = [
        (small_slice.value(theta + eps * e) - small_slice.value(theta - eps * e)) / (2 * eps)
        for e in np.eye(2)
    ]
    np.testing.assert_allclose(small_slice.gradient(theta), numeric, rtol=1e-5, atol=1e-8)


def test_model_slice_is_the_models_own_loss(small_slice):
    model = small_slice.model
    before = model.get_weights()
    theta = np.array([0.3, -0.7])
    value = small_slice.value(theta)
    weights = [w.copy() for w in before]
    weights[0][0, :2] = theta
    model.set_weights(weights)
    expected = np.mean((model.predict(small_slice.X) - small_slice.y) ** 2)
    model.set_weights(before)
    assert value == pytest.approx(expected, rel=1e-9)
    # value on a grid has the grid's shape, and leaves the trained weights in place
    assert small_slice.value(np.zeros((3, 4, 2))).shape == (3, 4)
    np.testing.assert_array_equal(model.get_weights()[0], before[0])


def test_play_advances_one_step_per_frame_and_click_sets_the_start():
    app = GradientDescentApp("quadratic", learning_rate=0.1)
    app.play.value = 4
    assert app.model.num_steps == 4
    app.play.value = 0  # the Play widget rewinding is not a step back
    assert app.model.num_steps == 4
    app.click(1.5, -2.0)
    assert app.model.num_steps == 0
    np.testing.assert_allclose(app.model.start, [1.5, -2.0])
    assert (app.start_x_slider.value, app.start_y_slider.value) == (1.5, -2.0)
    app.click(100.0, 0.0)  # outside the plot: clipped to the slider range
    assert app.model.start[0] == app.start_x_slider.max


def test_set_start_validates_and_resets():
    model = GradientDescent("quadratic", learning_rate=0.1)
    model.run(3)
    model.set_start([0.5, 0.5])
    assert model.num_steps == 0 and model.path[0].tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match="start"):
        model.set_start([np.nan, 0.0])


def test_leaving_the_plot_is_reported_even_after_coming_back():
    from nastoolkit.widgets.descent import stop_reason

    model = GradientDescent("ill_conditioned_quadratic", learning_rate=0.199, start=[0.0, 2.4])
    model.run(3)
    assert model.left_plot_at is None
    saddle = GradientDescent("saddle").objective
    assert stop_reason(saddle, np.array([0.0, 3.5]), -12.0, 6.0) == "escaped"
    assert stop_reason(saddle, np.array([0.0, 1.0]), -1.0, 6.0) is None


def test_a_click_on_the_contour_canvas_sets_the_start():
    pytest.importorskip("ipympl")
    app = GradientDescentApp("quadratic", learning_rate=0.1)
    app.run_button.click()
    click(app, (1.0, -1.5))
    assert app.model.num_steps == 0
    np.testing.assert_allclose(app.model.start, [1.0, -1.5], atol=0.06)  # slider step 0.05
    click(app, (3.0, 1.0), axes=1)  # loss panel: ignored
    np.testing.assert_allclose(app.model.start, [1.0, -1.5], atol=0.06)
