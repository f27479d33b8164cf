"""Figures of tutorial 7, checked through the artists of the returned Figure: the heat map holds
the controller's probabilities, the alpha lines DARTS's history, the bars Hyperband's epochs."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from nastoolkit.nas import HoldoutEvaluator, Hyperband, SearchSpace, make_genome
from nastoolkit.nas.controller import controller_decisions
from nastoolkit.viz import search_methods as plots

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


def _controller_history(steps=3):
    decisions = controller_decisions(SPACE, learning_rate_choices=3)
    rng = np.random.default_rng(0)
    history = []
    for _ in range(steps):
        probabilities = {}
        for decision in decisions:
            p = rng.random(len(decision.choices))
            probabilities[decision.name] = (p / p.sum()).tolist()
        history.append({"probabilities": probabilities})
    return decisions, history


def test_heat_map_has_one_row_per_choice_and_one_column_per_step():
    decisions, history = _controller_history(steps=4)
    figure = plots.plot_controller_probabilities(history, decisions)
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    matrix = ax.images[0].get_array()
    shown = [d for d in decisions if len(d.choices) > 1]  # single-choice decisions left out
    assert matrix.shape == (sum(len(d.choices) for d in shown), 4)
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert labels[:2] == ["depth = 1", "depth = 2"]
    assert "layer 2 activation = tanh" in labels and "lr = 0.01" in labels
    row = labels.index("layer 1 units = 8")
    expected = [step["probabilities"]["layers[0].units"][1] for step in history]
    assert np.allclose(matrix[row], expected)
    assert ax.images[0].get_clim() == (0.0, 1.0)  # colours comparable across steps
    assert len(figure.axes) == 2  # the colour bar, outside the heat map
    full = plots.plot_controller_probabilities(history, decisions, skip_fixed=False)
    assert full.axes[0].images[0].get_array().shape[0] == sum(len(d.choices) for d in decisions)
    with pytest.raises(ValueError, match="run a ControllerSearch first"):
        plots.plot_controller_probabilities([], decisions)


def _darts_history(epochs=3):
    operations = [["relu", "tanh"], ["relu", "tanh", "skip", "zero"]]
    history = []
    for epoch in range(epochs):
        first = [0.5 - 0.1 * epoch, 0.5 + 0.1 * epoch]
        second = [0.25 + 0.05 * epoch, 0.25, 0.25, 0.25 - 0.05 * epoch]
        history.append(
            {
                "operations": operations,
                "alpha": [first, second],
                "genome": make_genome([(8, "tanh", 0.0), (8, "relu", 0.0)]),
            }
        )
    return history


def test_operation_weights_draw_one_panel_per_layer_one_line_per_operation():
    history = _darts_history()
    figure = plots.plot_operation_weights(history)
    first, second = figure.axes
    assert [line.get_label() for line in second.get_lines()] == ["relu", "tanh", "skip", "zero"]
    assert np.allclose(first.get_lines()[1].get_ydata(), [0.5, 0.6, 0.7])
    assert list(first.get_lines()[0].get_xdata()) == [1, 2, 3]  # epochs from 1
    zero = second.get_lines()[3]
    assert zero.get_linestyle() == "--" and zero.get_color() == "black"
    assert first.get_ylim() == (0.0, 1.0)
    assert figure.legends and not first.get_legend()  # one legend, outside the panels


def test_darts_figure_shows_the_genome_of_the_last_epoch():
    figure = plots.plot_darts(_darts_history(), input_dim=5, output_dim=3)
    texts = [text.get_text() for text in figure.axes[-1].texts]
    assert "8\ntanh" in texts and "8\nrelu" in texts and "in\n5" in texts
    assert figure.axes[-1].get_title() == "derived after epoch 3"


@pytest.fixture(scope="module")
def hyperband_history():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    search = Hyperband(SPACE, HoldoutEvaluator(X, y, seed=0), max_epochs=9, progress=False)
    return search.run().history


def test_bracket_bars_follow_each_candidate_through_its_rungs(hyperband_history):
    brackets = plots.bracket_bars(hyperband_history)
    assert [bracket["bracket"] for bracket in brackets] == [2, 1, 0]
    aggressive = brackets[0]["candidates"]
    assert len(aggressive) == 9
    reached = sorted(pairs[-1][0] for pairs in aggressive.values())
    assert reached == [1] * 6 + [3] * 2 + [9]
    promoted = [row["promoted"] for row in hyperband_history if row["bracket"] == 2]
    for trial in promoted[0]:
        assert [epochs for epochs, _ in aggressive[trial]][:2] == [1, 3]
    asha = [{"bracket": 0, "rung": [0, 0], "epochs": [1, 1], "trials": [], "scores": []}]
    with pytest.raises(ValueError, match="ASHA"):
        plots.bracket_bars(asha)


def test_bracket_figure_bars_are_as_long_as_the_epochs_received(hyperband_history):
    figure = plots.plot_brackets(hyperband_history, max_epochs=9)
    brackets = plots.bracket_bars(hyperband_history)
    axes = figure.axes
    assert len(axes) == 3
    assert axes[0].get_title() == "bracket s = 2: 9 \u2192 3 \u2192 1 candidates"
    for ax, bracket in zip(axes, brackets):
        labels = [label.get_text() for label in ax.get_yticklabels()]
        assert sorted(labels) == sorted(bracket["candidates"])
        for row, trial in enumerate(labels):
            bars = [patch for patch in ax.patches if abs(patch.get_y() + 0.35 - row) < 1e-9]
            received = bracket["candidates"][trial][-1][0]
            assert sum(bar.get_width() for bar in bars) == pytest.approx(received)
            # one colour per rung, darker for later rungs
            assert len({bar.get_facecolor() for bar in bars}) == len(bars)
        # the most-trained candidates on top
        tops = [bracket["candidates"][trial][-1][0] for trial in labels]
        assert tops == sorted(tops, reverse=True)
    # each bar ends with its validation error at the last rung it reached
    labels = [label.get_text() for label in axes[0].get_yticklabels()]
    expected = [f"{brackets[0]['candidates'][trial][-1][1]:.3f}" for trial in labels]
    assert [text.get_text() for text in axes[0].texts] == expected
    assert figure.legends  # rung colours, outside the panels
