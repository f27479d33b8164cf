"""Schedule explorer: lr curves are the library schedules; decay beats a constant rate under noise."""

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from nastoolkit import schedules
from nastoolkit.widgets.schedules import ScheduleApp, ScheduleExplorer


def test_curves_are_the_schedules_values():
    explorer = ScheduleExplorer(initial_learning_rate=0.2, num_steps=50, decay_rate=0.1)
    np.testing.assert_allclose(explorer.learning_rates["constant"], 0.2)
    expected = schedules.values(schedules.ExponentialDecay(0.2, 50, 0.1), 50)
    np.testing.assert_allclose(explorer.learning_rates["exponential"], expected)
    assert explorer.learning_rates["cosine"][0] == pytest.approx(0.2)
    assert all(len(losses) == 51 for losses in explorer.losses.values())


def test_decaying_rates_settle_lower_than_a_constant_rate_under_noise():
    explorer = ScheduleExplorer(initial_learning_rate=0.3, num_steps=200, noise=1.0, seed=3)
    final = explorer.final_losses()
    assert final["exponential"] < final["constant"]
    assert final["step"] < final["constant"]


def test_without_noise_constant_rate_is_exact_gradient_descent():
    explorer = ScheduleExplorer(initial_learning_rate=0.1, num_steps=10, noise=0.0)
    losses = explorer.losses["constant"]
    np.testing.assert_allclose(losses[1:] / losses[:-1], 0.9**2)  # |theta| shrinks by 0.9


def test_app_sliders_recompute_and_redraw():
    app = ScheduleApp(num_steps=40)
    draws = app.view.draw_count
    app.learning_rate_slider.value = 0.05
    assert app.view.draw_count == draws + 1
    assert app.model.learning_rates["constant"][0] == pytest.approx(0.05)
    plotted = app.view.last_figure.axes[0].get_lines()[0].get_ydata()
    np.testing.assert_allclose(plotted, app.model.learning_rates["constant"])
    app.noise_slider.value = 0.0
    assert "constant" in app.summary.value
