"""LiveLossPlot: records every logged value per epoch and redraws during fit."""

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from nastoolkit import layers, models
from nastoolkit.widgets.training import LiveLossPlot


def _tiny_regression(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((64, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.standard_normal((64, 1))
    return X, y


def test_live_plot_follows_fit_and_matches_history():
    X, y = _tiny_regression()
    model = models.Sequential(
        [layers.Dense(8, activation="relu", input_shape=(3,)), layers.Dense(1)], seed=0
    )
    model.compile(optimizer="adam", loss="mse")
    live = LiveLossPlot(update_every=2)
    history = model.fit(
        X,
        y,
        epochs=6,
        batch_size=16,
        validation_data=(X[:16], y[:16]),
        callbacks=[live],
        verbose=0,
        seed=0,
    )
    assert live.epochs_seen == 6
    np.testing.assert_allclose(live.curves["loss"], history.history["loss"])
    np.testing.assert_allclose(live.curves["val_loss"], history.history["val_loss"])
    assert live.view.draw_count == 3 + 1  # epochs 2, 4, 6 and the end of training
    loss_line = live.view.last_figure.axes[0].get_lines()[0]
    np.testing.assert_allclose(loss_line.get_ydata(), history.history["loss"])
    assert "epoch 6 of 6" in live.status.value


def test_update_every_must_be_positive():
    with pytest.raises(ValueError, match="update_every"):
        LiveLossPlot(update_every=0)
