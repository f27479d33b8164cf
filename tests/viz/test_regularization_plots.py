"""Figures of tutorial 4: what each plot draws is checked on the returned Figure's artists."""

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Polygon

from nastoolkit.viz import regularization as plots


def test_polynomial_fit_draws_points_curve_and_clips_view():
    x = np.linspace(0, 1, 5)
    y = np.array([0.0, 1.0, 0.0, -1.0, 0.0])
    curve_x = np.linspace(0, 1, 50)
    figure = plots.plot_polynomial_fit(
        x, y, curve_x, 1e3 * np.sin(9 * curve_x), y_true=np.sin(2 * np.pi * curve_x), title="deg 4"
    )
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    assert ax.get_title() == "deg 4"
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), 1e3 * np.sin(9 * curve_x))
    low, high = ax.get_ylim()
    assert -3.0 < low < -1.0 and 1.0 < high < 3.0  # the exploding fit does not set the scale


def test_error_vs_lambda_marks_best_validation_and_current_lambda():
    lambdas = np.logspace(-3, 1, 5)
    figure = plots.plot_error_vs_lambda(
        lambdas, [0.1, 0.2, 0.3, 0.4, 0.5], [2.0, 1.0, 0.5, 0.7, 0.9], current_lambda=1.0
    )
    ax = figure.axes[0]
    assert ax.get_xscale() == "log"
    best = ax.collections[0].get_offsets()[0]
    np.testing.assert_allclose(best, [lambdas[2], 0.5])
    assert any("best validation" in text.get_text() for text in ax.get_legend().get_texts())
    assert ax.lines[-1].get_xdata()[0] == 1.0


def test_weight_magnitudes_bar_heights_are_absolute_values_with_floor():
    figure = plots.plot_weight_magnitudes(np.array([-2.0, 0.5, 0.0]), floor=1e-3)
    heights = [bar.get_height() for bar in figure.axes[0].patches]
    np.testing.assert_allclose(heights, [2.0, 0.5, 1e-3])


def test_regularization_paths_one_line_per_weight_and_zero_counts():
    lambdas = np.array([0.1, 1.0, 10.0])
    l1 = np.array([[1.0, 0.5, 0.2], [0.8, 0.0, 0.1], [0.3, 0.0, 0.0]])
    l2 = np.array([[1.0, 0.5, 0.2], [0.7, 0.3, 0.1], [0.2, 0.1, 0.05]])
    figure = plots.plot_regularization_paths(lambdas, l1, l2, current_lambda=9.0)
    left, right = figure.axes[:2]
    assert len(left.lines) == 3 + 2 and len(right.lines) == 3 + 2  # weights, zero line, marker
    assert left.get_title() == "L1 (lasso): 2 of 3 weights exactly 0"
    assert right.get_title() == "L2 (ridge): 0 of 3 weights exactly 0"
    np.testing.assert_allclose(left.lines[1].get_ydata(), l1[:, 1])


def test_constraint_regions_have_the_solution_sizes():
    grid = np.linspace(-3, 3, 21)
    losses = np.add.outer(grid**2, (grid - 1) ** 2)
    figure = plots.plot_constraint_regions(
        grid, grid, losses, (1.0, 2.0), (0.0, 1.5), (0.6, 1.2), loss_at_l1=1.0, loss_at_l2=1.0
    )
    left, right = figure.axes[:2]
    diamond = next(p for p in left.patches if isinstance(p, Polygon))
    circle = next(p for p in right.patches if isinstance(p, Circle))
    assert np.max(np.abs(diamond.get_xy()[:, 0])) == pytest.approx(1.5)  # ||(0, 1.5)||_1
    assert circle.get_radius() == pytest.approx(np.hypot(0.6, 1.2))  # ||(0.6, 1.2)||_2
    solution = left.collections[-1].get_offsets()[0]
    np.testing.assert_allclose(solution, [0.0, 1.5])


def test_dropout_units_cross_out_exactly_the_dropped_units():
    activations = np.arange(1.0, 11.0)
    mask = np.array([2, 0, 2, 2, 0, 0, 2, 2, 2, 0], dtype=float)
    figure = plots.plot_dropout_units(activations, mask, columns=5)
    ax = figure.axes[0]
    kept, _dropped, crosses = ax.collections[:3]
    assert len(kept.get_offsets()) == 6 and len(crosses.get_offsets()) == 4
    np.testing.assert_allclose(kept.get_array(), (activations * mask)[mask != 0])
    assert ax.get_title() == "4 of 10 units dropped"


def test_dropout_outputs_histogram_counts_every_sample_even_when_constant():
    figure = plots.plot_dropout_outputs(np.full(20, 0.7), 0.7, current_output=0.7)
    ax = figure.axes[0]
    assert sum(bar.get_height() for bar in ax.patches) == 20
    assert len(ax.lines) == 3  # mean, inference output, this step


def test_loss_curves_one_solid_validation_line_per_run():
    histories = {
        "plain": {"loss": [1.0, 0.5], "val_loss": [1.1, 0.9]},
        "L2": {"loss": [1.0, 0.7], "val_loss": [1.0, 0.8]},
    }
    ax = plots.plot_loss_curves(histories).axes[0]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[:2] == ["plain: validation 0.900", "L2: validation 0.800"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [1.1, 0.9])
