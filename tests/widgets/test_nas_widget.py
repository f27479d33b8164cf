"""Tutorial-5 apps: operators on two parents and a search stepped one generation per click."""

import itertools
import random

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("deap")

from nastoolkit.nas import GeneticSearch, HoldoutEvaluator, Outcome, SearchSpace, make_genome
from nastoolkit.widgets.nas import (
    GenerationStepperApp,
    GenerationStepperModel,
    OperatorApp,
    OperatorModel,
    layer_origins,
    mutation_changes,
)

SPACE = SearchSpace(max_layers=3, units=(8, 16, 32), dropout=(0.0, 0.5),
                    optimizers=("adam", "sgd"), batch_size=(16, 32), l2=(0.0, 1e-4))


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
    child = _genome(8, 8)         # first[:1] + second[1:]
    assert layer_origins(child, first, second) == ["first", "second"]
    child = _genome(32, 8)        # nothing from first: all of second
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
        model = OperatorModel(space=SPACE, parent_seed=seed, operator_seed=seed,
                              operation="mutation")
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
    stepped = GenerationStepperModel(GeneticSearch(SPACE, StubEvaluator(), population_size=6,
                                                   generations=0, seed=3))
    for _ in range(3):
        stepped.step()
    whole = GeneticSearch(SPACE, StubEvaluator(), population_size=6, generations=2, seed=3,
                          progress=False).run()
    assert stepped.result.population == whole.population
    assert [h["best"] for h in stepped.result.history] == [h["best"] for h in whole.history]


def test_stepper_with_a_real_evaluator_trains_small_networks():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4)).astype("float32")
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    evaluator = HoldoutEvaluator(X, y, validation_split=0.25, epochs=2, patience=1, seed=0)
    model = GenerationStepperModel(GeneticSearch(SPACE, evaluator, population_size=3,
                                                 generations=0, seed=0))
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
