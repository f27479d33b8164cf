"""Every claim of notebook 08 ("Benchmarking search strategies"), with the notebook's settings."""

import itertools

import numpy as np
import pytest

from nastoolkit.nas import RegularizedEvolution
from nastoolkit.nas.bench import NASBenchMLP, TabularEvaluator, compare_strategies
from nastoolkit.nas.bench.compare import run_once
from nastoolkit.nas.genome import GenomeError


@pytest.fixture(scope="module")
def bench():
    return NASBenchMLP.load("digits")


def test_a_genome_outside_the_space_names_the_gene(bench):
    with pytest.raises(GenomeError, match=r"layers\[0\]\.units=48"):
        bench.query(bench.space.genome([(48, "relu")], learning_rate=1e-3))


def test_fewer_than_one_architecture_in_ten_is_pareto_optimal(bench):
    assert len(bench.pareto_front()) < len(bench.space.architectures()) / 10


def test_the_best_validation_error_so_far_never_gets_worse(bench):
    evaluator = TabularEvaluator(bench, epochs=50, patience=5, seed=0)
    result = RegularizedEvolution(
        bench.space, evaluator, population_size=10, generations=8, seed=0, progress=False
    ).run()
    best = [row["best_so_far"] for row in result.history]
    assert all(later <= earlier for earlier, later in itertools.pairwise(best))


@pytest.mark.slow
def test_the_comparison_claims():
    report = compare_strategies(
        NASBenchMLP.load("digits"),
        ["random", "ga", "evolution", "nsga2"],
        repetitions=100,
        budget_seconds=60,
    )
    for name in report.strategies:
        curves = report.regret[name]
        assert (curves[~np.isnan(curves)] >= 0).all()
        median = report.median(name)
        seen = median[~np.isnan(median)]
        assert seen[-1] < seen[0]
        assert seen[-1] <= max(report.floor.values())
    # the same number of misclassified images (float32 errors: equal to ~1e-9)
    finals = [float(np.median(report.final_regret[name])) for name in report.strategies]
    assert max(finals) - min(finals) < 1e-6
    # the validation regret: never negative, every final median below the smallest floor, and
    # the floor at least half of every final median test regret
    smallest_floor = min(report.floor.values())
    for name in report.strategies:
        curves = report.validation_regret[name]
        assert (curves[~np.isnan(curves)] >= 0).all()
        assert np.median(report.final_validation_regret[name]) < smallest_floor
        assert smallest_floor >= 0.5 * np.median(report.final_regret[name])
    assert smallest_floor > 0  # "the floor is not 0"


@pytest.mark.slow
def test_the_hyperband_claims():
    bench = NASBenchMLP.load("digits")
    settings = {"repetitions": 100, "budget_seconds": 60}
    hyperband = compare_strategies(bench, ["hyperband"], **settings)
    random = compare_strategies(bench, ["random"], **settings)
    log, searches = run_once(bench, "hyperband", 0, 60, generations=1)
    assert (searches[0].max_epochs, searches[0].reduction_factor) == (50, 3)
    assert log[-1, 0] < 60 / 2  # one pass through all brackets: far less than 60 s
    _, searches = run_once(bench, "hyperband", 0, 60)
    assert len(searches) > 1  # so it starts over

    def median(report, name, regret="test"):
        final = report.final_regret if regret == "test" else report.final_validation_regret
        return np.median(final[name])

    assert median(hyperband, "hyperband") < median(random, "random")
    assert median(hyperband, "hyperband", "validation") > median(random, "random", "validation")
    # the final choice was scored at a rung below 50 epochs in more than one run in six
    early = 0
    for repetition in range(100):
        log, searches = run_once(bench, "hyperband", repetition, 60)
        rows = [row for search in searches for row in search.state.history]
        segments = [row["epochs"] for row in rows for _ in row["trials"]]
        segments += [None] * (len(log) - len(segments))  # a rung the budget cut short
        chosen = int(np.flatnonzero(log[:, 1] == log[:, 1].min())[0])
        early += segments[chosen] is not None and segments[chosen] < 50
    assert early > 100 / 6
