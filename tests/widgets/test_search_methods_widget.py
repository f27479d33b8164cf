"""Tutorial-7 apps: the controller, DARTS and Hyperband advanced one step per click, in-process.

A click must advance exactly one controller step / one supernet epoch / one rung, redraw, and a
stepped search must end exactly where an uninterrupted one with the same settings does.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from nastoolkit.nas import (
    ControllerSearch,
    DifferentiableSearch,
    HoldoutEvaluator,
    Hyperband,
    Outcome,
    RandomSearch,
    SearchSpace,
)
from nastoolkit.widgets.search_methods import (
    ControllerStepperApp,
    ControllerStepperModel,
    DartsStepperApp,
    DartsStepperModel,
    HyperbandStepperApp,
    HyperbandStepperModel,
)

SPACE = SearchSpace(
    max_layers=2,
    units=(4, 8),
    activations=("relu", "tanh"),
    dropout=(0.0,),
    learning_rate=(1e-3, 1e-2),
    l2=(0.0,),
    optimizers=("adam",),
    batch_size=(32,),
)


class DepthEvaluator:
    """Scores without training: deeper and wider is better, so the controller has a target."""

    input_dim, output_dim = 4, 2

    def fingerprint(self):
        return "depth"

    def evaluate(self, genome):
        layers = genome["layers"]
        return Outcome(
            "ok", 1.0 - 0.2 * len(layers) - sum(layer["units"] for layer in layers) / 100
        )


def _blobs(samples=90, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(samples) % 3
    X = rng.normal(0.0, 3.0, (3, 5))[y] + rng.normal(0.0, 1.0, (samples, 5))
    return X.astype(np.float32), y


def _controller(**options):
    return ControllerSearch(
        SPACE, DepthEvaluator(), architectures_per_step=4, seed=0, learning_rate=0.05, **options
    )


def test_a_controller_click_is_one_step_and_redraws_the_heat_map():
    app = ControllerStepperApp(_controller(controller_steps=1))
    assert "No controller step yet" in app.status.value and app.view.draw_count == 1
    for clicks in (1, 2, 3):
        app.step_button.click()
        assert app.model.steps == clicks and len(app.model.history) == clicks
        assert app.view.draw_count == 1 + clicks
        image = app.view.last_figure.axes[0].images[0].get_array()
        assert image.shape[1] == clicks  # one column per controller step
    assert app.status.value.startswith("Controller step 2:")
    assert not app.step_button.disabled


def test_stepping_the_controller_equals_an_uninterrupted_run():
    model = ControllerStepperModel(_controller(controller_steps=1))
    for _ in range(5):
        model.step()
    reference = _controller(controller_steps=5, progress=False).run()
    assert model.result.to_dict() == reference.to_dict()
    # The controller learned the evaluator's preference: two layers of 8 units.
    likely = model.most_likely_genome()
    assert len(likely["layers"]) == 2


def test_a_darts_click_is_one_epoch_and_retrains_the_derived_genome():
    X, y = _blobs()
    app = DartsStepperApp(DifferentiableSearch(SPACE, X, y, epochs=1, evaluator_epochs=2))
    for clicks in (1, 2):
        app.step_button.click()
        assert app.model.epochs == clicks == len(app.model.search.history)
        lines = app.view.last_figure.axes[0].get_lines()
        assert all(len(line.get_xdata()) == clicks for line in lines)
    record = app.model.result.evaluations[0]
    assert record.genome == app.model.search.history[-1]["genome"]
    assert "Epoch 2:" in app.status.value and "retrained from scratch" in app.status.value
    reference = DifferentiableSearch(SPACE, X, y, epochs=2, evaluator_epochs=2).run()
    assert app.model.result.to_dict() == reference.to_dict()


def test_a_hyperband_click_is_one_rung_and_the_button_stops_at_the_end():
    X, y = _blobs()
    evaluator = HoldoutEvaluator(X, y, seed=0)
    app = HyperbandStepperApp(Hyperband(SPACE, evaluator, max_epochs=3, reduction_factor=3))
    schedule = app.model.search.schedule
    assert app.model.rungs_total == len(schedule) == 3
    for clicks in range(1, 4):
        app.step_button.click()
        row = app.model.search.state.history[-1]
        s, index, n_i, r_i = schedule[clicks - 1]
        assert app.model.rungs_done == clicks
        assert (row["bracket"], row["rung"], row["epochs"], len(row["trials"])) == (
            s,
            index,
            r_i,
            n_i,
        )
        assert app.view.draw_count == 1 + clicks
    assert app.model.finished and app.step_button.disabled
    assert "Every bracket has run." in app.status.value
    app.model.step()  # finished: nothing more happens
    assert app.model.rungs_done == 3
    reference = Hyperband(SPACE, evaluator, max_epochs=3, reduction_factor=3, progress=False)
    assert app.model.result.to_dict() == reference.run().to_dict()


def test_wrong_searches_are_clear_errors():
    X, y = _blobs()
    with pytest.raises(TypeError, match="must be a nastoolkit.nas.ControllerSearch"):
        ControllerStepperModel(
            RandomSearch(SPACE, DepthEvaluator(), population_size=2, generations=0)
        )
    with pytest.raises(TypeError, match="must be a nastoolkit.nas.DifferentiableSearch"):
        DartsStepperModel(_controller())
    asha = Hyperband(SPACE, HoldoutEvaluator(X, y), max_epochs=3, asynchronous=True)
    with pytest.raises(ValueError, match="synchronous Hyperband"):
        HyperbandStepperModel(asha)
