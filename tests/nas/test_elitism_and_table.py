"""GeneticSearch's elitism switch (tournaments alone can lose the best, elites cannot), and the
results table's ± std column (shown only for cross-validated records)."""

import itertools

import pytest

pytest.importorskip("deap")

from nas_fakes import FormulaEvaluator

from nastoolkit.nas import GeneticSearch, SearchSpace, load_search

SPACE = SearchSpace(max_layers=4, units=(8, 16, 32, 64))


def _population_best(search) -> list:
    """The best score in the population after each generation."""
    return [row["best"] for row in search.state.history]


def _losses(elitism: int, seeds=range(12)) -> list:
    lost = []
    for seed in seeds:
        search = GeneticSearch(
            SPACE,
            FormulaEvaluator(),
            population_size=6,
            generations=6,
            seed=seed,
            tournament_size=2,
            elitism=elitism,
            progress=False,
        )
        search.run()
        best = _population_best(search)
        lost.append(any(later > earlier for earlier, later in itertools.pairwise(best)))
    return lost


def test_tournaments_alone_lose_the_best_sometimes_and_elitism_never():
    # Without elites the population's best error goes up in some runs (the best was not drawn
    # by any tournament); with one elite it never does, and it always equals the best so far.
    assert any(_losses(elitism=0))
    assert not any(_losses(elitism=1))
    search = GeneticSearch(
        SPACE,
        FormulaEvaluator(),
        population_size=6,
        generations=6,
        seed=3,
        tournament_size=2,
        elitism=1,
        progress=False,
    )
    search.run()
    assert [row["best"] for row in search.state.history] == [
        row["best_so_far"] for row in search.state.history
    ]


def test_elites_are_the_best_distinct_members_then_tournament_winners():
    search = GeneticSearch(
        SPACE,
        FormulaEvaluator(),
        population_size=6,
        generations=2,
        seed=0,
        elitism=3,
        progress=False,
    )
    search.run()
    population = [search.state.evaluations[key] for key in search.state.population]
    ranked = sorted(
        {r.key: r for r in search.state.evaluations.values() if r.generation <= 2}.values(),
        key=lambda r: (r.score, r.params, r.index),
    )
    assert [r.key for r in population[:3]] == [r.key for r in ranked[:3]]


@pytest.mark.parametrize("value", [-1, 1.5, "one", 7])
def test_bad_elitism_is_refused_by_name(value):
    with pytest.raises((TypeError, ValueError), match="elitism"):
        GeneticSearch(SPACE, FormulaEvaluator(), population_size=6, elitism=value)


def test_elitism_is_kept_in_the_checkpoint(tmp_path):
    path = tmp_path / "search.json"
    GeneticSearch(
        SPACE,
        FormulaEvaluator(),
        population_size=4,
        generations=1,
        seed=0,
        elitism=2,
        checkpoint=path,
        progress=False,
    ).run()
    resumed = load_search(path, evaluator=FormulaEvaluator())
    assert resumed.elitism == 2


def test_table_shows_the_spread_only_for_cross_validated_records():
    from nastoolkit.nas import Candidate, Outcome, SearchResult, make_genome

    genome = make_genome([(8, "relu", 0.0)])
    holdout = Candidate(
        0,
        "a",
        genome,
        0,
        10,
        Outcome("ok", 0.2, None, {"val_error_std": 0.0, "fold_errors": [0.2]}),
    )
    kfold = Candidate(
        1,
        "b",
        genome,
        0,
        10,
        Outcome("ok", 0.1, None, {"val_error_std": 0.03, "fold_errors": [0.07, 0.13]}),
    )
    assert "± std" not in SearchResult("GeneticSearch", [holdout], [], []).table()
    lines = SearchResult("GeneticSearch", [holdout, kfold], [], []).table().splitlines()
    assert "± std" in lines[1]
    assert lines[2].split()[:3] == ["1", "0.1000", "0.0300"]
    assert lines[3].split()[:3] == ["2", "0.2000", "-"]
