"""Every claim of notebook 08 ("Benchmarking search strategies"), with the notebook's settings."""

import itertools

import numpy as np
import pytest

from nastoolkit.nas import RegularizedEvolution
from nastoolkit.nas.bench import NASBenchMLP, TabularEvaluator, compare_strategies
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
