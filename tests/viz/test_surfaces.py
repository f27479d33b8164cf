"""Surface plots: the grid is the objective's values, paths and losses are drawn as given."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from nastoolkit import objectives
from nastoolkit.viz import surfaces


def test_surface_grid_evaluates_the_objective():
    quadratic = objectives.get("quadratic")
    x, y, values = surfaces.surface_grid(quadratic, bounds=((-1, 1), (0, 2)), resolution=5)
    np.testing.assert_allclose(x, np.linspace(-1, 1, 5))
    np.testing.assert_allclose(y, np.linspace(0, 2, 5))
    np.testing.assert_allclose(values[2, 4], 0.5 * (1.0**2 + 1.0**2))  # (x=1, y=1)


def test_plot_descent_draws_path_losses_and_message():
    surface = objectives.get("rosenbrock")
    path = np.array([[-1.2, 1.0], [-1.0, 1.1], [-0.8, 0.7]])
    losses = surface.value(path)
    figure = surfaces.plot_descent(
        surface,
        path,
        losses,
        gradient=surface.gradient(path[-1]),
        learning_rate=0.01,
        message="Diverged: lr too large",
    )
    assert isinstance(figure, Figure)
    contour_ax, loss_ax = figure.axes[:2]
    np.testing.assert_allclose(contour_ax.get_lines()[1].get_xydata(), path)
    np.testing.assert_allclose(loss_ax.get_lines()[0].get_ydata(), losses)
    assert loss_ax.get_yscale() == "log"
    assert "lr too large" in figure._suptitle.get_text()
    assert contour_ax.get_xlabel() and loss_ax.get_xlabel() == "step"
    assert figure.get_size_inches()[0] <= 10


def test_non_finite_points_are_dropped_not_crashing():
    surface = objectives.get("quadratic")
    path = np.array([[1.0, 1.0], [5.0, 5.0], [np.inf, np.nan]])
    figure = surfaces.plot_descent(surface, path, [1.0, 25.0, np.inf])
    assert figure.axes[0].get_lines()[1].get_xydata().shape == (2, 2)


def test_negative_losses_use_a_symlog_axis():
    assert surfaces.loss_axis_scale([3.0, -2.0]) == "symlog"
    assert surfaces.loss_axis_scale([3.0, 1e-9, np.nan]) == "log"


def test_plot_race_one_line_per_racer():
    surface = objectives.get("quadratic")
    paths = {"SGD": np.array([[1.0, 1.0], [0.5, 0.5]]), "Adam": np.array([[1.0, 1.0], [0.9, 0.9]])}
    losses = {name: surface.value(path) for name, path in paths.items()}
    figure = surfaces.plot_race(surface, paths, losses, tolerance=1e-3)
    labels = [line.get_label() for line in figure.axes[1].get_lines()]
    assert labels[:2] == ["SGD", "Adam"] and "tolerance" in labels
    with pytest.raises(ValueError, match="paths"):
        surfaces.plot_race(surface, {}, {})
