"""Figures of tutorial 5, checked through the artists of the returned Figure."""

import itertools

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from nastoolkit.nas import Candidate, Outcome, make_genome
from nastoolkit.viz import nas as plots

GENOME = make_genome(
    [(64, "relu", 0.25), (16, "tanh", 0.0)],
    learning_rate=3e-3,
    l2=1e-4,
    optimizer="adam",
    batch_size=32,
)


def _record(index, score, params, generation=0, status="ok", genome=GENOME):
    outcome = Outcome(status, score) if status == "ok" else Outcome.failure("diverged")
    return Candidate(index, str(index), genome, generation, params, outcome)


def _boxes(ax):
    return [patch for patch in ax.patches if isinstance(patch, FancyBboxPatch)]


def test_genome_diagram_has_input_layers_output_and_global_genes():
    figure = plots.plot_genome(GENOME, input_dim=64, output_dim=10, title="net")
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    assert len(_boxes(ax)) == 2 + 2
    texts = [text.get_text() for text in ax.texts]
    assert "64\nrelu\np=0.25" in texts and "16\ntanh" in texts
    assert "in\n64" in texts and "out\n10" in texts
    assert "adam, lr=0.003, L2=0.0001, batch=32" in texts
    # Dropout layers are hatched; larger layers are taller.
    layer_boxes = _boxes(ax)[1:3]
    assert layer_boxes[0].get_hatch() == "//" and layer_boxes[1].get_hatch() is None
    assert layer_boxes[0].get_height() > layer_boxes[1].get_height()


def test_genome_highlight_marks_the_chosen_layer_and_slots_fix_the_scale():
    ax = plots.plot_genome(GENOME, highlight=[1], highlight_globals=True, slots=6).axes[0]
    first, second = _boxes(ax)[1:3]
    assert second.get_linewidth() > first.get_linewidth()
    assert ax.get_xlim() == pytest.approx((-0.55, 5.55))
    assert ax.texts[-1].get_color() == plots.HIGHLIGHT_COLOR


def test_genome_grid_uses_one_panel_per_genome_and_hides_spares():
    shallow = make_genome([(8, "sigmoid", 0.0)])
    figure = plots.plot_genomes([GENOME, shallow, GENOME], titles=["a", "b", "c"], columns=2)
    axes = figure.axes
    assert len(axes) == 4 and [ax.get_title() for ax in axes[:3]] == ["a", "b", "c"]
    assert not axes[3].axison
    assert axes[0].get_xlim() == axes[1].get_xlim()  # same scale for different depths
    with pytest.raises(ValueError, match="at least one genome"):
        plots.plot_genomes([])


def test_fitness_history_plots_best_mean_and_skips_failed_generations():
    history = [
        {"generation": 0, "best": 0.5, "mean": 0.7, "std": 0.1, "best_so_far": 0.5},
        {"generation": 1, "best": None, "mean": None, "std": None, "best_so_far": 0.5},
        {"generation": 2, "best": 0.3, "mean": 0.4, "std": 0.05, "best_so_far": 0.3},
    ]
    ax = plots.plot_fitness_history(history).axes[0]
    mean_line, best_line = ax.lines[:2]
    np.testing.assert_allclose(mean_line.get_xdata(), [0, 2])
    np.testing.assert_allclose(mean_line.get_ydata(), [0.7, 0.4])
    np.testing.assert_allclose(best_line.get_ydata(), [0.5, 0.3])
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].max() == pytest.approx(0.8)


def test_population_sorts_best_first_and_colours_newborns():
    records = [
        _record(0, 0.3, 100, generation=0),
        _record(1, 0.1, 100, generation=2),
        _record(2, 0.0, 100, generation=2, status="failed"),
    ]
    ax = plots.plot_population(records, generation=2).axes[0]
    bars = ax.patches[:3]
    assert [bar.get_width() for bar in bars] == pytest.approx([0.1, 0.3, 0.3])  # failed at worst
    assert bars[0].get_y() > bars[1].get_y() > bars[2].get_y()  # best on top
    assert bars[0].get_facecolor() != bars[1].get_facecolor()
    assert bars[2].get_hatch() == "xx"


def test_pareto_front_highlights_front_points_on_log_axis():
    records = [
        _record(0, 0.2, 1000),
        _record(1, 0.1, 5000),
        _record(2, 0.3, 8000),
        _record(3, 0.9, 10, status="failed"),
    ]
    front = [records[1], records[0]]
    ax = plots.plot_pareto_front(records, front).axes[0]
    assert ax.get_xscale() == "log"
    everything, highlighted = ax.collections[:2]
    assert len(everything.get_offsets()) == 3  # failed candidates are left out
    np.testing.assert_allclose(highlighted.get_offsets(), [[1000, 0.2], [5000, 0.1]])


def test_hall_of_fame_titles_rank_error_and_size():
    figure = plots.plot_hall_of_fame([_record(0, 0.0125, 4810), _record(1, 0.02, 12345)])
    assert figure.axes[0].get_title() == "#1: error 0.0125, 4,810 parameters"
    assert figure.axes[1].get_title() == "#2: error 0.0200, 12,345 parameters"


def test_estimates_bars_and_error_bars():
    ax = plots.plot_estimates(["a", "b"], [0.1, 0.2], [0.15, 0.18], [0.02, 0.01]).axes[0]
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == pytest.approx([0.1, 0.2, 0.15, 0.18])
    assert [label.get_text() for label in ax.get_xticklabels()] == ["a", "b"]
    from matplotlib.container import ErrorbarContainer

    bars_with_errors = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars_with_errors) == 1  # only k-fold has a spread; one holdout split has none
    error_bars = bars_with_errors[0]
    segments = error_bars.lines[2][0].get_segments()
    np.testing.assert_allclose([s[:, 1] for s in segments], [[0.13, 0.17], [0.17, 0.19]])


def test_cut_points_are_dashed_lines_between_the_right_boxes():
    ax = plots.plot_genome(GENOME, cuts=[0, 1, 2]).axes[0]
    boxes = _boxes(ax)  # input, two layers, output, left to right
    centres = [box.get_x() + box.get_width() / 2 for box in boxes]
    lines = [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"]
    # a cut before layer k + 1 lies halfway between box k and box k + 1
    assert lines == pytest.approx([(a + b) / 2 for a, b in itertools.pairwise(centres)])


def test_parent_and_activation_palettes_share_no_colour():
    assert not set(plots.PARENT_COLORS.values()) & set(plots.ACTIVATION_COLORS.values())


def test_activation_legend_names_each_activation_once_and_dropout():
    genomes = [GENOME, make_genome([(8, "relu", 0.0)])]
    labels = [handle.get_label() for handle in plots.activation_legend(genomes)]
    assert labels == ["relu", "tanh", "dropout p > 0"]
    figure = plots.plot_genomes(genomes)
    assert [t.get_text() for t in figure.legends[0].get_texts()] == labels


def test_every_figure_uses_text_of_at_least_11_points_and_legends_outside():
    records = [_record(0, 0.3, 100), _record(1, 0.1, 5000, generation=1)]
    history = [
        {"generation": 0, "best": 0.3, "mean": 0.4, "std": 0.1, "best_so_far": 0.3},
        {"generation": 1, "best": 0.1, "mean": 0.2, "std": 0.1, "best_so_far": 0.1},
    ]
    figures = [
        plots.plot_genome(GENOME, cuts=[1]),
        plots.plot_hall_of_fame(records),
        plots.plot_fitness_history(history),
        plots.plot_population(records, 1, best_key="1"),
        plots.plot_pareto_front(records, records[1:]),
        plots.plot_estimates(["a", "b"], [0.1, 0.2], [0.1, 0.2], [0.01, 0.02]),
    ]
    for figure in figures:
        renderer = FigureCanvasAgg(figure).get_renderer()
        figure.draw(renderer)
        sizes = [
            text.get_fontsize()
            for text in figure.findobj(
                lambda artist: hasattr(artist, "get_fontsize") and hasattr(artist, "get_text")
            )
            if text.get_text() and text.get_visible()
        ]
        assert min(sizes) >= 11
        for ax in figure.axes:
            if ax.get_legend() is not None:
                assert (
                    not ax.get_legend()
                    .get_window_extent(renderer)
                    .overlaps(ax.get_window_extent(renderer))
                )


def test_population_outlines_the_best_so_far_or_says_it_was_lost():
    records = [_record(0, 0.3, 100), _record(1, 0.2, 100, generation=1)]
    ax = plots.plot_population(records, 1, best_key="1").axes[0]
    assert [bar.get_linewidth() for bar in ax.patches[:2]] == [2.5, 0]
    ax = plots.plot_population(records, 1, best_key="7").axes[0]
    assert ax.get_title().endswith("the best so far is no longer in it")
