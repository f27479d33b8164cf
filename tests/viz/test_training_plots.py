"""Training-curve plots draw exactly the logged values."""

import numpy as np

from nastoolkit.viz.training import plot_history


def test_loss_and_validation_curves_and_metric_panel():
    history = {
        "loss": [1.0, 0.5, 0.25],
        "val_loss": [1.2, 0.7, 0.5],
        "mae": [0.9, 0.6, 0.4],
        "val_mae": [1.0, 0.8, 0.6],
    }
    figure = plot_history(history, total_epochs=10)
    loss_ax, metric_ax = figure.axes
    train, val = loss_ax.get_lines()
    np.testing.assert_allclose(train.get_ydata(), history["loss"])
    np.testing.assert_allclose(val.get_ydata(), history["val_loss"])
    np.testing.assert_allclose(train.get_xdata(), [1, 2, 3])
    assert loss_ax.get_yscale() == "log" and loss_ax.get_xlim()[1] > 10
    np.testing.assert_allclose(metric_ax.get_lines()[0].get_ydata(), history["mae"])


def test_empty_history_gives_an_empty_plot():
    figure = plot_history({})
    assert len(figure.axes) == 1 and not figure.axes[0].get_lines()
