"""Two-moons app (notebook 04): sliders retrain the three networks; the fixed layout fits."""

import itertools
import math

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from nastoolkit.widgets.moons import TwoMoonsApp, TwoMoonsModel


def test_each_slider_retrains_all_three_networks_with_its_value():
    app = TwoMoonsApp(units=16, num_epochs=20)
    draws = app.view.draw_count
    before = {name: history["val_loss"][-1] for name, history in app.model.histories.items()}
    app.l2_slider.value = 1e-2
    assert app.model.l2 == pytest.approx(1e-2) and app.view.draw_count == draws + 1
    assert all(len(history["loss"]) == 20 for history in app.model.histories.values())
    assert app.model.histories["L2"]["val_loss"][-1] != before["L2"]
    # the plain network does not depend on the L2 strength: same seed, same result
    assert app.model.histories["plain"]["val_loss"][-1] == pytest.approx(before["plain"])
    app.units_slider.value = 24
    assert app.model.variants()["dropout"]["units"] == 24
    assert app.view.draw_count == draws + 2
    app.learning_rate_slider.value = 1e-2
    assert app.model.learning_rate == pytest.approx(1e-2)
    assert f"× 20 epochs in {app.model.seconds:.2f} s" in app.status.value


def test_the_default_rate_sits_on_the_slider_grid():
    app = TwoMoonsApp(units=8, num_epochs=2)
    slider = app.learning_rate_slider
    assert TwoMoonsModel(num_epochs=1).learning_rate == slider.value == 0.002
    position = (math.log10(slider.value) - slider.min) / slider.step
    assert abs(position - round(position)) < 0.05  # 10^-2.7 = 0.001995: the readout says 2e-03


def test_fixed_layout_panels_do_not_overlap_and_every_text_fits():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    app = TwoMoonsApp(units=8, num_epochs=5)
    figure = app.view.last_figure
    assert len(figure.axes) == 5  # three maps, the colour bar, the losses
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    boxes = [ax.get_tightbbox(renderer) for ax in figure.axes]
    for (i, first), (j, second) in itertools.combinations(enumerate(boxes), 2):
        assert not first.overlaps(second), f"axes {i} and {j} overlap"
    page = figure.bbox
    for box in boxes:
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1
    maps = figure.axes[:3]
    assert all(
        ax.images and ax.get_title().endswith(f"{acc:.2f}")
        for ax, acc in zip(
            maps,
            [app.model.histories[name]["val_accuracy"][-1] for name in ("plain", "L2", "dropout")],
            strict=True,
        )
    )
    np.testing.assert_allclose(
        maps[1].images[0].get_array(), app.model.probabilities["L2"], rtol=1e-6
    )
