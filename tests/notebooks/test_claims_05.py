"""Every claim notebook 05 (architecture search) makes about what the learner will see.

Each test quotes the notebook's sentence (``says``: it fails if the text changes, so text and
test move together), checks that the notebook still makes the library call with the settings
used here (``calls``), and then makes that call and asserts the claim. The searches train real
networks on the digits, as the notebook does, sharing one cache as the notebook does.
"""

from __future__ import annotations

import itertools
import json
import random

import pytest
from notebook_helpers import NOTEBOOK_DIR

pytest.importorskip("ipywidgets")
pytest.importorskip("deap")

from nastoolkit import datasets
from nastoolkit.nas import (
    EvaluationCache,
    GeneticSearch,
    HoldoutEvaluator,
    NSGA2Search,
    SearchSpace,
    count_parameters,
    make_genome,
)
from nastoolkit.nas import exercises as nas_exercises
from nastoolkit.nas._deap import select_tournament
from nastoolkit.widgets.nas import GenerationStepperModel, OperatorModel

NB05 = "05_neural_architecture_search.ipynb"


def _cells(kind: str) -> str:
    notebook = json.loads((NOTEBOOK_DIR / NB05).read_text(encoding="utf-8"))
    return " ".join(
        " ".join("".join(cell["source"]).split())
        for cell in notebook["cells"]
        if cell["cell_type"] == kind
    )


def says(*phrases: str) -> None:
    """The notebook's prose still makes the claim (whitespace-insensitive)."""
    text = _cells("markdown")
    for phrase in phrases:
        assert " ".join(phrase.split()) in text, f"{NB05} no longer says: {phrase!r}"


def calls(*snippets: str) -> None:
    """The notebook's code still makes the call with these settings (whitespace-insensitive)."""
    text = _cells("code")
    for snippet in snippets:
        assert " ".join(snippet.split()) in text, f"{NB05} no longer runs: {snippet!r}"


SPACE = SearchSpace(
    max_layers=3,
    units=(8, 16, 32, 64, 128),
    activations=("relu", "tanh", "sigmoid"),
    dropout=(0.0, 0.25, 0.5),
    learning_rate=(1e-4, 1e-1),
    l2=(0.0, 1e-4, 1e-3),
    optimizers=("adam", "sgd"),
    batch_size=(32, 64, 128),
)
SIZE_SPACE = SearchSpace(
    max_layers=2,
    units=(2, 4, 8, 16, 32, 64, 128, 256),
    activations=("relu", "tanh"),
    dropout=(0.0, 0.25),
    learning_rate=(1e-3, 1e-1),
    l2=(0.0, 1e-4),
    optimizers=("adam",),
    batch_size=(64,),
)


def test_the_notebook_uses_the_settings_of_these_tests():
    calls(
        "space = SearchSpace(max_layers=3, units=(8, 16, 32, 64, 128), "
        'activations=("relu", "tanh", "sigmoid"), dropout=(0.0, 0.25, 0.5), '
        'learning_rate=(1e-4, 1e-1), l2=(0.0, 1e-4, 1e-3), optimizers=("adam", "sgd"), '
        "batch_size=(32, 64, 128))",
        'genome = make_genome([(64, "relu", 0.25), (32, "tanh", 0.0)], learning_rate=3e-3, '
        "l2=1e-4)",
        "HoldoutEvaluator(X_train, y_train, validation_split=0.25, epochs=10, patience=3, seed=0)",
    )


@pytest.fixture(scope="module")
def digits():
    (X_train, y_train), _ = datasets.load_digits(seed=0)
    evaluator = HoldoutEvaluator(
        X_train, y_train, validation_split=0.25, epochs=10, patience=3, seed=0
    )
    return evaluator, EvaluationCache()


def _stepper(digits, elitism: int) -> GenerationStepperModel:
    evaluator, cache = digits
    model = GenerationStepperModel(
        GeneticSearch(SPACE, evaluator, population_size=8, generations=0, seed=0, cache=cache)
    )
    if elitism:
        model.set_elitism(elitism)  # what ticking the box does
    return model


# --- 2. variation ---------------------------------------------------------------------------------


def test_crossover_children_can_be_deeper_than_both_parents_and_never_empty():
    says(
        "find parents and a crossover whose child is deeper than both parents (the cut falls "
        "late in A and early in B; look among parent seeds above 20)",
        "Why can a child never have *zero* layers here? (Each cut keeps at least "
        "`space.min_layers` = 1 layer.)",
    )
    calls("OperatorApp(space=space, input_dim=64, output_dim=10, parent_seed=0)")
    deeper = []
    for parent_seed in range(100):  # the parents slider's range
        for operator_seed in range(10):
            model = OperatorModel(space=SPACE, parent_seed=parent_seed, operator_seed=operator_seed)
            depth = max(len(parent["layers"]) for parent in model.parents)
            assert all(len(child["layers"]) >= SPACE.min_layers == 1 for child in model.children)
            if any(len(child["layers"]) > depth for child in model.children):
                deeper.append(parent_seed)
    assert deeper and min(deeper) > 20


# --- 1. genome: exercise 1 --------------------------------------------------------------------


def test_exercise_parameter_count_matches_the_library_and_the_solution():
    calls('check("parameter_count_05", (64 + 1) * 64 + (64 + 1) * 32 + (32 + 1) * 10)')
    genome = make_genome([(64, "relu", 0.25), (32, "tanh", 0.0)], learning_rate=3e-3, l2=1e-4)
    expected = count_parameters(genome, 64, 10)
    assert nas_exercises.check("parameter_count_05", expected)
    assert nas_exercises.check("parameter_count_05", (64 + 1) * 64 + (64 + 1) * 32 + 33 * 10)
    assert not nas_exercises.check("parameter_count_05", 0)
    assert not nas_exercises.check("parameter_count_05", expected - 330)  # output layer left out


# --- 4. the stepper -----------------------------------------------------------------------------


@pytest.mark.slow
def test_tournaments_alone_lose_the_best_at_generation_3_and_the_hall_of_fame_keeps_it(digits):
    says(
        "With these settings, **at generation 3 a child reaches the best error so far and is "
        "lost at once**: no tournament draws it, so it never joins the population (the status "
        "line says so, and the population's best stays above the dashed hall-of-fame line).",
        "The status line shows the best so far from the hall of fame with the genome that "
        "scored it, and says when the population has lost it.",
    )
    calls(
        "GenerationStepperApp(GeneticSearch(space, evaluator, population_size=8, "
        "generations=0, seed=0, cache=cache))"
    )
    model = _stepper(digits, elitism=0)
    history = []
    for generation in range(4):
        model.step()
        history.append(model.search.state.history[-1])
        if generation < 3:
            assert model.best_in_population(), generation
    best = model.best_so_far
    assert best.generation == 3 and best.score < history[2]["best_so_far"]  # a new best child
    assert best.key not in model.search.state.population  # never selected
    assert not model.best_in_population()
    assert history[3]["best"] > history[3]["best_so_far"] == best.score  # below the dashes
    summary = model.summary()
    assert f"Best so far (hall of fame): {best.score:.4f}" in summary
    assert "from generation 3" in summary and "lost it" in summary


@pytest.mark.slow
def test_with_elitism_the_population_best_never_gets_worse(digits):
    says(
        "tick **keep the best (elitism = 1)** and step again: the best member is copied into "
        "the next population before the tournaments, so the population always holds the best "
        "so far and its best error never gets worse."
    )
    model = _stepper(digits, elitism=1)
    previous = None
    for _ in range(5):
        model.step()
        row = model.search.state.history[-1]
        assert row["best"] == row["best_so_far"] and model.best_in_population()
        assert previous is None or row["best"] <= previous
        previous = row["best"]


def test_tournament_miss_rate_is_about_one_in_five():
    says("the single best of 16 is missed by all 8 tournaments about one time in five")
    calls('check("tournament_miss", (1 - 1 / 16) ** (8 * 3))')
    closed_form = (1 - 1 / 16) ** (8 * 3)
    assert 0.18 < closed_form < 0.22
    # The library's own tournament selection misses the best that often (4000 trials: the
    # standard error is 0.0065).
    assert nas_exercises.tournament_miss_rate(trials=4000, seed=1) == pytest.approx(
        closed_form, abs=0.025
    )
    assert nas_exercises.check("tournament_miss", closed_form)
    assert not nas_exercises.check("tournament_miss", 1 / 16)

    class Member:
        def __init__(self, fitness):
            self.fitness = fitness

    # Drawn with replacement: one tournament can hold the same member more than once.
    members = [Member(0), Member(1)]
    draws = [select_tournament(members, 1, 3, random.Random(seed))[0] for seed in range(50)]
    assert draws.count(members[0]) < 50


# --- 5. full search with one elite ----------------------------------------------------------------


@pytest.mark.slow
def test_full_search_best_is_best_so_far_mean_falls_and_spread_collapses(digits):
    says(
        "With one elite the population's best (green) is the best so far (dashed) in every "
        "generation. The mean falls in every generation, and the spread collapses after "
        "generation 0"
    )
    calls(
        "search = GeneticSearch(space, evaluator, population_size=8, generations=3, seed=0, "
        "elitism=1, cache=cache)"
    )
    says("One cache of results is shared by every search below, so no network is trained twice.")
    evaluator, cache = digits
    _stepper(digits, elitism=0).step()  # the stepper's first click, as in the notebook
    result = GeneticSearch(
        SPACE,
        evaluator,
        population_size=8,
        generations=3,
        seed=0,
        elitism=1,
        cache=cache,
        progress=False,
    ).run()
    history = result.history
    assert history[0]["trained"] == 0 and history[0]["cache_hits"] == 8  # the stepper's
    assert all(row["best"] == row["best_so_far"] for row in history)
    means = [row["mean"] for row in history]
    assert all(later < earlier for earlier, later in itertools.pairwise(means))
    assert all(row["std"] < history[0]["std"] / 5 for row in history[1:])
    # A holdout search has no spread per candidate: the table shows no "± std" column.
    says('which is why the table above has no "± std" column')
    assert "± std" not in result.table(top=5)


# --- 6. Pareto front ------------------------------------------------------------------------------


def test_size_space_ranges_from_160_to_over_80000_parameters():
    says("so networks range from 160 to over 80,000 parameters")
    smallest = count_parameters(make_genome([(2, "relu", 0.0)]), 64, 10)
    largest = count_parameters(make_genome([(256, "relu", 0.0)] * 2), 64, 10)
    assert smallest == 160 and largest > 80_000


@pytest.mark.slow
def test_pareto_front_spans_more_than_two_orders_of_magnitude(digits):
    says(
        "The front spans more than two orders of magnitude of parameters, from a 2-unit "
        "bottleneck to a 256-unit layer."
    )
    calls(
        "size_space = SearchSpace(max_layers=2, units=(2, 4, 8, 16, 32, 64, 128, 256), "
        'activations=("relu", "tanh"), dropout=(0.0, 0.25), learning_rate=(1e-3, 1e-1), '
        'l2=(0.0, 1e-4), optimizers=("adam",), batch_size=(64,))',
        "NSGA2Search(size_space, evaluator, population_size=10, generations=4, seed=2, "
        "cache=cache)",
    )
    evaluator, cache = digits
    front = (
        NSGA2Search(
            SIZE_SPACE,
            evaluator,
            population_size=10,
            generations=4,
            seed=2,
            cache=cache,
            progress=False,
        )
        .run()
        .pareto_front
    )
    smallest = min(front, key=lambda r: r.params)
    largest = max(front, key=lambda r: r.params)
    assert largest.params >= 100 * smallest.params
    assert smallest.genome["layers"][0]["units"] == 2
    assert 256 in [layer["units"] for layer in largest.genome["layers"]]
    # More parameters buy less error along the front.
    assert largest.score < smallest.score


def test_exercise_dominates_is_graded_against_the_library():
    calls("return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))")

    def solution(a, b):
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))

    assert nas_exercises.check("dominates", solution)
    assert not nas_exercises.check("dominates", lambda a, b: False)
    # Equal points must not dominate each other: "<=" in both is not enough.
    assert not nas_exercises.check("dominates", lambda a, b: a[0] <= b[0] and a[1] <= b[1])
    with pytest.raises(TypeError, match="must be a function"):
        nas_exercises.check("dominates", 3)
