"""Tutorial-5 apps: operators on two parents and a search stepped one generation per click."""

import itertools
import random

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("deap")

from nastoolkit.nas import (
    GeneticSearch,
    HoldoutEvaluator,
    Outcome,
    SearchSpace,
    crossover,
    describe_genome,
    make_genome,
)
from nastoolkit.viz import nas as plots
from nastoolkit.widgets import _view
from nastoolkit.widgets.nas import (
    GenerationStepperApp,
    GenerationStepperModel,
    OperatorApp,
    OperatorModel,
    crossover_cuts,
    layer_origins,
    mutation_changes,
)

SPACE = SearchSpace(
    max_layers=3,
    units=(8, 16, 32),
    dropout=(0.0, 0.5),
    optimizers=("adam", "sgd"),
    batch_size=(16, 32),
    l2=(0.0, 1e-4),
)


class StubEvaluator:
    """Scores without training: a smooth function of the genome, so the search is instant and
    deterministic. Lower is better for more units in the first layer and fewer layers."""

    input_dim, output_dim = 4, 2

    def fingerprint(self):
        return "stub-evaluator"

    def evaluate(self, genome):
        score = 1.0 / genome["layers"][0]["units"] + 0.01 * len(genome["layers"])
        return Outcome("ok", score, None, {"val_error": score})


def _genome(*units, learning_rate=1e-3):
    return make_genome([(u, "relu", 0.0) for u in units], learning_rate=learning_rate)


def test_layer_origins_splits_head_and_tail():
    first, second = _genome(8, 16, 32), _genome(32, 8)
    child = _genome(8, 8)  # first[:1] + second[1:]
    assert layer_origins(child, first, second) == ["first", "second"]
    child = _genome(32, 8)  # nothing from first: all of second
    assert layer_origins(child, first, second) == ["second", "second"]
    assert layer_origins(_genome(8, 16, 32), first, second) == ["first"] * 3


def test_mutation_changes_marks_only_the_inserted_layer_and_changed_globals():
    parent = _genome(8, 32)
    child = _genome(8, 16, 32, learning_rate=5e-3)
    changed, genes = mutation_changes(parent, child)
    assert changed == [1]
    assert genes == ["learning_rate"]
    assert mutation_changes(parent, parent) == ([], [])


def test_operator_model_is_reproducible_and_children_are_valid():
    for seed in range(15):
        model = OperatorModel(space=SPACE, parent_seed=seed, operator_seed=seed)
        again = OperatorModel(space=SPACE, parent_seed=seed, operator_seed=seed)
        assert model.children == again.children
        assert model.all_valid()
        # Crossover only recombines: every child layer is some parent's layer.
        parent_layers = [layer for parent in model.parents for layer in parent["layers"]]
        assert all(layer in parent_layers for child in model.children for layer in child["layers"])


def test_operator_app_controls_redraw_and_change_state():
    app = OperatorApp(space=SPACE, input_dim=64, output_dim=10)
    draws, parents = app.view.draw_count, app.model.parents
    app.parent_slider.value = 5
    assert app.model.parents != parents and app.view.draw_count == draws + 1
    app.again_button.click()
    assert app.operator_slider.value == 1 and app.model.operator_seed == 1
    app.operation_buttons.value = "mutation"
    assert len(app.model.children) == 1
    assert app.view.last_figure.axes[2].get_title().startswith("child (changed:")
    assert app.view.draw_count == draws + 3


def test_operator_app_mutation_differs_from_parent():
    for seed in range(10):
        model = OperatorModel(
            space=SPACE, parent_seed=seed, operator_seed=seed, operation="mutation"
        )
        changed, genes = mutation_changes(model.parents[0], model.children[0])
        assert changed or genes or model.children[0] != model.parents[0]


def test_operator_model_rejects_unknown_operation():
    with pytest.raises(ValueError, match="operation must be one of"):
        OperatorModel(space=SPACE, operation="inversion")


def test_step_button_advances_one_generation_and_keeps_population_valid():
    search = GeneticSearch(SPACE, StubEvaluator(), population_size=6, generations=0, seed=1)
    app = GenerationStepperApp(search)
    assert app.model.generation == -1 and app.view.draw_count == 1
    best_so_far = []
    for expected in range(4):
        app.step_button.click()
        assert app.model.generation == expected
        assert app.model.population_is_valid()
        assert len(app.model.search.state.history) == expected + 1
        best_so_far.append(app.model.search.state.history[-1]["best_so_far"])
        assert f"Generation {expected}" in app.status.value
    assert app.view.draw_count == 5
    assert all(a >= b for a, b in itertools.pairwise(best_so_far))  # elitist (mu + lambda)
    assert app.model.result.history == app.model.search.state.history
    assert not app.step_button.disabled


def test_stepping_equals_one_uninterrupted_run():
    stepped = GenerationStepperModel(
        GeneticSearch(SPACE, StubEvaluator(), population_size=6, generations=0, seed=3)
    )
    for _ in range(3):
        stepped.step()
    whole = GeneticSearch(
        SPACE, StubEvaluator(), population_size=6, generations=2, seed=3, progress=False
    ).run()
    assert stepped.result.population == whole.population
    assert [h["best"] for h in stepped.result.history] == [h["best"] for h in whole.history]


def test_stepper_with_a_real_evaluator_trains_small_networks():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4)).astype("float32")
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    evaluator = HoldoutEvaluator(X, y, validation_split=0.25, epochs=2, patience=1, seed=0)
    model = GenerationStepperModel(
        GeneticSearch(SPACE, evaluator, population_size=3, generations=0, seed=0)
    )
    model.step()
    records = model.population_records
    assert model.generation == 0 and len(records) == 3
    assert all(0.0 <= r.score <= 1.0 for r in records if r.ok)


def test_stepper_rejects_non_search():
    with pytest.raises(TypeError, match="search must be"):
        GenerationStepperModel(object())
    with pytest.raises(ValueError, match="pass search"):
        GenerationStepperApp()


def test_seeded_parents_come_from_the_space_sampler():
    model = OperatorModel(space=SPACE, parent_seed=7)
    rng = random.Random(7)
    assert model.parents == (SPACE.sample(rng), SPACE.sample(rng))


class _CutSpy(random.Random):
    """A generator that remembers its randint draws: crossover's first two are its cuts."""

    def __init__(self, seed):
        super().__init__(seed)
        self.draws = []

    def randint(self, low, high):
        value = super().randint(low, high)
        self.draws.append(value)
        return value


def _pairs_explaining(children, first, second, limit):
    head = [tuple(layer.values()) for layer in first["layers"]]
    tail = [tuple(layer.values()) for layer in second["layers"]]
    wanted = [[tuple(layer.values()) for layer in child["layers"]] for child in children]
    return [
        (k, c)
        for k in range(len(head) + 1)
        for c in range(len(tail) + 1)
        if [(head[:k] + tail[c:])[:limit], (tail[:c] + head[k:])[:limit]] == wanted
    ]


def test_crossover_cuts_are_the_cuts_the_operator_drew():
    exact = 0
    for seed in range(60):
        first, second = SPACE.sample(random.Random(seed)), SPACE.sample(random.Random(seed + 99))
        spy = _CutSpy(seed)
        children = crossover(first, second, SPACE, spy)
        drawn = tuple(spy.draws[:2])
        found = crossover_cuts(children, first, second, SPACE.max_layers)
        explaining = _pairs_explaining(children, first, second, SPACE.max_layers)
        assert drawn in explaining and found in explaining  # both rebuild both children
        if len(explaining) == 1:
            assert found == drawn
            exact += 1
    assert exact >= 30  # most crossovers have one explanation, and it is found


def _dashed_x(ax):
    return [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"]


def test_crossover_view_draws_each_cut_and_one_colour_meaning_with_a_legend():
    app = OperatorApp(space=SPACE, input_dim=64, output_dim=10, parent_seed=2, operator_seed=4)
    first, second = app.model.parents
    k, c = crossover_cuts(app.model.children, first, second, SPACE.max_layers)
    axes = app.view.last_figure.axes
    slots = max(len(g["layers"]) for g in (*app.model.parents, *app.model.children)) + 2
    for ax, genome, cut in zip(
        axes,
        (first, second, *app.model.children),
        (
            k,
            c,
            min(k, len(app.model.children[0]["layers"])),
            min(c, len(app.model.children[1]["layers"])),
        ),
    ):
        shift = (slots - len(genome["layers"]) - 2) / 2
        assert _dashed_x(ax) == pytest.approx([shift + cut + 0.5])
    boxes = [p for p in axes[0].patches if p.get_width() == pytest.approx(0.8)][1:-1]
    assert {tuple(b.get_facecolor()[:3]) for b in boxes} == {
        tuple(int(plots.PARENT_COLORS["first"][i : i + 2], 16) / 255 for i in (1, 3, 5))
    }
    legend = [t.get_text() for t in app.view.last_figure.legends[0].get_texts()]
    assert legend[:3] == ["layer from parent A", "layer from parent B", "cut point"]
    app.operation_buttons.value = "mutation"
    legend = app.view.last_figure.legends[0]
    assert legend.get_title().get_text() == "box colour: activation"
    names = [t.get_text() for t in legend.get_texts()]
    used = {
        layer["activation"]
        for g in (app.model.parents[0], *app.model.children)
        for layer in g["layers"]
    }
    assert used <= set(names) and not _dashed_x(app.view.last_figure.axes[0])


def _lost_best_search(elitism):
    """A stub search in which tournaments alone lose the best (the first seed that does)."""
    for seed in range(40):
        model = GenerationStepperModel(
            GeneticSearch(
                SPACE,
                StubEvaluator(),
                population_size=4,
                generations=0,
                seed=seed,
                tournament_size=2,
                elitism=elitism,
            )
        )
        for _ in range(6):
            model.step()
            if not model.best_in_population():
                return model, seed
    return None, None


def test_status_line_pairs_the_best_score_with_the_genome_that_scored_it():
    model, _ = _lost_best_search(elitism=0)
    assert model is not None, "tournaments alone never lost the best: the test needs a case"
    best = model.best_so_far
    assert best.score == model.search.state.history[-1]["best_so_far"]
    assert best.key not in model.search.state.population
    summary = model.summary()
    assert f"Best so far (hall of fame): {best.score:.4f}" in summary
    assert describe_genome(best.genome) in summary and "lost it" in summary
    assert model.population_best.score > best.score
    figure = GenerationStepperApp(model=model).view.last_figure
    assert figure.axes[0].get_title().endswith("no longer in it")


def test_elitism_switch_keeps_the_best_in_the_population():
    model, _ = _lost_best_search(elitism=1)
    assert model is None  # with one elite no seed loses it
    app = GenerationStepperApp(
        GeneticSearch(
            SPACE, StubEvaluator(), population_size=4, generations=0, seed=0, tournament_size=2
        )
    )
    assert app.model.elitism == 0 and not app.elitism_box.disabled
    app.elitism_box.value = True
    assert app.model.search.elitism == 1
    for _ in range(5):
        app.step_button.click()
        assert app.model.best_in_population() and "still holds it" in app.status.value
    app.elitism_box.value = False
    assert app.model.search.elitism == 0
    with pytest.raises(ValueError, match="elitism"):
        app.model.set_elitism(9)


def test_nas_apps_are_readable_at_1100_px_with_legends_outside_and_wide_buttons():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    stepper = GenerationStepperApp(
        GeneticSearch(SPACE, StubEvaluator(), population_size=6, generations=0, seed=0)
    )
    stepper.step_button.click()
    stepper.step_button.click()
    crossing = OperatorApp(space=SPACE, input_dim=64, output_dim=10)
    mutating = OperatorApp(space=SPACE, input_dim=64, output_dim=10, operation="mutation")
    for app in (stepper, crossing, mutating):
        figure = app.view.last_figure
        renderer = FigureCanvasAgg(figure).get_renderer()
        figure.draw(renderer)
        scale = min(1.0, 665 / (figure.get_figwidth() * _view.DPI))  # the 1100 px output area
        sizes = [
            text.get_fontsize()
            for text in figure.findobj(
                lambda artist: hasattr(artist, "get_fontsize") and hasattr(artist, "get_text")
            )
            if text.get_text() and text.get_visible()
        ]
        assert min(sizes) * _view.DPI / 72 * scale >= 10.0
        for ax in figure.axes:
            if ax.get_legend() is not None:
                assert (
                    not ax.get_legend()
                    .get_window_extent(renderer)
                    .overlaps(ax.get_window_extent(renderer))
                )
            if ax.get_title():
                box = ax.title.get_window_extent(renderer)
                assert box.x0 >= -1 and box.x1 <= figure.bbox.width + 1
    for button in (stepper.step_button, crossing.again_button):
        assert button.layout.width == "auto"  # no "step one gener..."


@pytest.mark.parametrize("argument", ["parent_seed", "operator_seed"])
@pytest.mark.parametrize("value", [-1, 1.5, "3"])
def test_operator_model_names_a_bad_seed(argument, value):
    with pytest.raises(ValueError, match=f"{argument} must be"):
        OperatorModel(space=SPACE, **{argument: value})


@pytest.mark.parametrize("value", [-1, 0.5, "one", 7])
def test_set_elitism_names_a_bad_value(value):
    model = GenerationStepperModel(
        GeneticSearch(SPACE, StubEvaluator(), population_size=6, generations=0)
    )
    with pytest.raises(ValueError, match="elitism must be"):
        model.set_elitism(value)
    model.set_elitism(True)
    assert model.elitism == 1
