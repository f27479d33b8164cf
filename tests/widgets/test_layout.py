"""Layout pass: every tutorial figure is readable at a 1100 px JupyterLab window.

In such a window, with the file browser open, an output area is about 665 px wide; a PNG wider
than that is scaled down by the browser and an ipympl canvas is drawn at ``CANVAS_DPI``. Every
text must still be >= 10 px on screen, and legends must sit outside the data they explain.
"""

import itertools

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from nastoolkit.widgets import _view
from nastoolkit.widgets.descent import GradientDescentApp
from nastoolkit.widgets.dropout import DropoutApp
from nastoolkit.widgets.momentum import MomentumApp
from nastoolkit.widgets.moons import TwoMoonsApp
from nastoolkit.widgets.race import OptimizerRaceApp
from nastoolkit.widgets.regularization import (
    ConstraintRegionApp,
    PolynomialRegularizationApp,
    RegularizationPathApp,
)
from nastoolkit.widgets.schedules import ScheduleApp

OUTPUT_WIDTH_PX = 665


def _apps():
    yield "descent", GradientDescentApp()
    race = OptimizerRaceApp("rosenbrock")
    race.run_button.click()
    yield "race", race
    yield "momentum", MomentumApp()
    yield "dropout", DropoutApp()
    yield "polynomial", PolynomialRegularizationApp()
    yield "paths", RegularizationPathApp()
    yield "constraint", ConstraintRegionApp()
    yield "schedules", ScheduleApp()
    yield "moons", TwoMoonsApp(units=16, num_epochs=20)
    yield from _search_method_apps()


def _search_method_apps():
    """Tutorial 7's steppers after a few clicks, on tiny data (the notebook's space)."""
    from nastoolkit.nas import (
        ControllerSearch,
        DifferentiableSearch,
        HoldoutEvaluator,
        Hyperband,
        SearchSpace,
    )
    from nastoolkit.widgets.search_methods import (
        ControllerStepperApp,
        DartsStepperApp,
        HyperbandStepperApp,
    )

    space = SearchSpace(
        max_layers=2,
        units=(8, 16, 32),
        activations=("relu", "tanh", "sigmoid"),
        dropout=(0.0,),
        learning_rate=(1e-3, 1e-2),
        l2=(0.0,),
        optimizers=("adam",),
        batch_size=(32,),
    )
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    evaluator = HoldoutEvaluator(X, y, epochs=1, seed=0)
    apps = {
        "controller": ControllerStepperApp(
            ControllerSearch(space, evaluator, controller_steps=1, architectures_per_step=2)
        ),
        "darts": DartsStepperApp(DifferentiableSearch(space, X, y, epochs=1, evaluator_epochs=1)),
        "hyperband": HyperbandStepperApp(Hyperband(space, evaluator, max_epochs=9)),
    }
    for name, app in apps.items():
        for _ in range(6 if name == "hyperband" else 3):
            app.step_button.click()
        yield name, app


def _screen_px_per_point(app) -> float:
    figure = app.view.last_figure
    if isinstance(app.view, _view.CanvasView):
        dpi = _view.CANVAS_DPI
        assert figure.get_figwidth() * dpi <= OUTPUT_WIDTH_PX  # a canvas is never scaled
        return dpi / 72
    scale = min(1.0, OUTPUT_WIDTH_PX / (figure.get_figwidth() * _view.DPI))
    return _view.DPI / 72 * scale


@pytest.mark.parametrize("name_and_app", list(_apps()), ids=lambda pair: pair[0])
def test_every_text_is_at_least_10_px_and_legends_stay_outside_the_data(name_and_app):
    name, app = name_and_app
    figure = app.view.last_figure
    renderer = figure.canvas.get_renderer() if hasattr(figure.canvas, "get_renderer") else None
    if renderer is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    texts = [
        text
        for text in figure.findobj(
            lambda artist: hasattr(artist, "get_fontsize") and hasattr(artist, "get_text")
        )
        if text.get_text() and text.get_visible()
    ]
    smallest = min(text.get_fontsize() for text in texts)
    assert smallest * _screen_px_per_point(app) >= 10.0, f"{name}: {smallest} pt"
    for ax in figure.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        legend_box = legend.get_window_extent(renderer)
        assert not legend_box.overlaps(ax.get_window_extent(renderer)), f"{name}: legend"
    title_boxes = [ax.title.get_window_extent(renderer) for ax in figure.axes if ax.get_title()]
    width, height = figure.bbox.width, figure.bbox.height
    for box in title_boxes:  # no clipped titles
        assert box.x0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, name


def test_buttons_are_wide_enough_for_their_labels():
    app = DropoutApp()
    assert app.step_button.layout.width == "auto"
    momentum = MomentumApp()
    assert momentum.step_button.layout.width == "auto"


def test_dropout_tick_labels_do_not_run_together_at_rate_zero():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    app = DropoutApp()
    app.rate_slider.value = 0.0
    figure = app.view.last_figure
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    outputs_ax = figure.axes[1] if figure.axes[1].get_xlabel() else figure.axes[2]
    boxes = [
        label.get_window_extent(renderer)
        for label in outputs_ax.get_xticklabels()
        if label.get_text() and label.get_visible()
    ]
    boxes.sort(key=lambda box: box.x0)
    assert len(boxes) >= 2
    assert all(left.x1 < right.x0 for left, right in itertools.pairwise(boxes))
