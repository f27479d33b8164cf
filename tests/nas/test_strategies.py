"""Strategies: reproducible, improving, robust to failures, resumable, DEAP-safe on re-run."""

import subprocess
import sys
import warnings

import pytest
from nas_fakes import FormulaEvaluator

from nastoolkit.nas import (
    GeneticSearch,
    NSGA2Search,
    RandomSearch,
    RegularizedEvolution,
    SearchSpace,
)
from nastoolkit.nas.result import dominates

SPACE = SearchSpace(max_layers=4)
STRATEGIES = [GeneticSearch, RegularizedEvolution, RandomSearch, NSGA2Search]


def _run(strategy, seed=0, generations=4, evaluator=None, **options):
    return strategy(
        SPACE,
        evaluator or FormulaEvaluator(),
        population_size=8,
        generations=generations,
        seed=seed,
        progress=False,
        **options,
    ).run()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_same_seed_same_search_and_another_seed_another(strategy):
    first = _run(strategy, seed=3)
    assert _run(strategy, seed=3).to_dict() == first.to_dict()
    assert _run(strategy, seed=4).to_dict() != first.to_dict()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_result_has_one_statistics_row_per_generation_and_a_consistent_best(strategy):
    result = _run(strategy, generations=3)
    assert [row["generation"] for row in result.history] == [0, 1, 2, 3]
    assert len(result.population) == 8
    ok = [r for r in result.evaluations if r.ok]
    assert result.best_score == min(r.score for r in ok)
    assert result.best_genome == min(ok, key=lambda r: r.score).genome
    assert [r.index for r in result.evaluations] == list(range(len(result.evaluations)))
    assert len({r.key for r in result.evaluations}) == len(result.evaluations)
    assert result.history[-1]["best_so_far"] == result.best_score
    scores = [r.score for r in result.hall_of_fame]
    assert scores == sorted(scores) and scores[0] == result.best_score


@pytest.mark.parametrize("strategy", [GeneticSearch, RegularizedEvolution, NSGA2Search])
def test_evolution_beats_random_sampling_on_a_known_landscape(strategy):
    evolved = _run(strategy, generations=8)
    random_ = _run(RandomSearch, generations=8)
    assert evolved.history[-1]["mean"] < evolved.history[0]["mean"]
    assert evolved.history[-1]["mean"] < random_.history[-1]["mean"]


def test_genetic_search_keeps_population_size_and_selects_from_parents_and_children():
    result = _run(GeneticSearch, generations=3)
    generation_of = {r.key: r.generation for r in result.evaluations}
    from nastoolkit.nas.genome import genome_key

    assert any(generation_of[genome_key(g)] > 0 for g in result.population)


def test_regularized_evolution_removes_the_oldest():
    search = RegularizedEvolution(
        SPACE,
        FormulaEvaluator(),
        population_size=6,
        generations=2,
        sample_size=3,
        offspring_size=2,
        seed=0,
        progress=False,
    )
    search.run()
    # 6 initial members, 2 + 2 children appended: the 4 oldest are gone, in order
    assert len(search.state.population) == 6
    first_generation = [r.key for r in search.state.evaluations.values() if r.generation == 0]
    assert search.state.population[:2] == first_generation[4:6]


def test_failed_candidates_do_not_stop_the_search_and_are_never_best():
    evaluator = FormulaEvaluator(failing_units=(64, 128))
    result = _run(GeneticSearch, evaluator=evaluator, generations=3)
    failed = result.failures
    assert failed and all(r.reason == "loss diverged (fake)" for r in failed)
    assert not {64, 128} & {layer["units"] for layer in result.best_genome["layers"]}
    assert all(row["failed"] >= 0 for row in result.history)
    assert result.history[0]["failed"] == sum(
        r.status == "failed" and r.generation == 0 for r in result.evaluations
    )


def test_nsga2_front_is_non_dominated_and_dominates_the_rest():
    result = _run(NSGA2Search, generations=5)
    points = {r.key: (r.score, r.params) for r in result.evaluations}
    front = {r.key for r in result.pareto_front}
    assert len(front) >= 2
    for key in front:
        assert not any(dominates(points[other], points[key]) for other in points)
    for key in set(points) - front:
        assert any(
            dominates(points[member], points[key]) or points[member] == points[key]
            for member in front
        )


def test_nsga2_population_spreads_along_the_front():
    result = _run(NSGA2Search, generations=5)
    params = {r.params for r in result.evaluations if r.genome in result.population}
    assert len(params) >= 3


def test_building_searches_again_does_not_warn_or_break():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            first = _run(GeneticSearch, generations=1).to_dict()
            _run(NSGA2Search, generations=1)
        import importlib

        from nastoolkit.nas import _deap

        importlib.reload(_deap)
        assert _run(GeneticSearch, generations=1).to_dict() == first


def test_deap_uses_the_search_generator_not_the_global_random_module():
    import random

    random.seed(1)
    first = _run(GeneticSearch, generations=2).to_dict()
    random.seed(2)
    assert _run(GeneticSearch, generations=2).to_dict() == first


def test_importing_the_package_does_not_import_deap_or_dask():
    code = (
        "import sys, nastoolkit, nastoolkit.nas, nastoolkit.cli; "
        "print(sorted(m for m in ('deap', 'dask', 'distributed') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_extending_a_finished_search_equals_running_longer():
    evaluator = FormulaEvaluator()
    short = GeneticSearch(
        SPACE, evaluator, population_size=8, generations=2, seed=0, progress=False
    )
    short.run()
    short.generations = 5
    assert short.run().to_dict() == _run(GeneticSearch, generations=5).to_dict()


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        ({"population_size": 1}, "population_size"),
        ({"generations": -1}, "generations"),
        ({"crossover_probability": 0.7, "mutation_probability": 0.5}, "<= 1"),
        ({"workers": 0}, "workers"),
        ({"tournament_size": 0}, "tournament_size"),
    ],
)
def test_bad_arguments_are_named(arguments, fragment):
    with pytest.raises(ValueError, match=fragment):
        GeneticSearch(SPACE, FormulaEvaluator(), **arguments)


def test_space_and_evaluator_types_are_checked():
    with pytest.raises(TypeError, match="SearchSpace"):
        GeneticSearch({"max_layers": 3}, FormulaEvaluator())
    with pytest.raises(TypeError, match="evaluate"):
        GeneticSearch(SPACE, object())


def test_real_diverging_candidates_are_recorded_and_the_search_goes_on():
    from nas_fakes import blobs

    from nastoolkit.nas import HoldoutEvaluator

    X, y = blobs(samples=45)
    # half the learning-rate range is absurd: plain SGD's steps (unbounded, unlike Adam's) blow
    # those candidates up to inf/NaN, the others train
    space = SearchSpace(
        max_layers=2,
        units=(64,),
        activations=("relu",),
        dropout=(0.0,),
        learning_rate=(1e-3, 1e12),
        optimizers=("sgd",),
        l2=(0.0,),
    )
    result = GeneticSearch(
        space,
        HoldoutEvaluator(X, y, epochs=3, seed=0),
        population_size=6,
        generations=1,
        seed=0,
        progress=False,
    ).run()
    assert result.failures, "expected some huge learning rates to diverge"
    assert all("diverged" in record.reason for record in result.failures)
    assert result.best_record.ok and result.best_score < 1.0
    assert len(result.history) == 2


def test_progress_bar_shows_one_step_per_generation(capsys):
    GeneticSearch(
        SPACE, FormulaEvaluator(), population_size=4, generations=2, seed=0, progress=True
    ).run()
    err = capsys.readouterr().err
    assert "GeneticSearch" in err and "3/3" in err
