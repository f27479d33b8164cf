"""End to end on digits: a short GA beats the median random architecture of the same budget."""

import statistics

import numpy as np
import pytest

from nastoolkit.datasets import load_digits
from nastoolkit.nas import GeneticSearch, HoldoutEvaluator, RandomSearch, SearchSpace


@pytest.mark.slow
def test_short_ga_on_digits_beats_the_median_random_architecture():
    (X, y), (X_val, y_val) = load_digits(seed=0)
    # a small slice keeps this a few seconds; the holdout is the dataset's own split
    evaluator = HoldoutEvaluator(
        X[:500], y[:500], validation_data=(X_val[:300], y_val[:300]), epochs=6, patience=2, seed=0
    )
    space = SearchSpace(max_layers=3, units=(8, 16, 32, 64))
    ga = GeneticSearch(
        space, evaluator, population_size=6, generations=3, seed=0, progress=False
    ).run()
    random_ = RandomSearch(
        space, evaluator, population_size=6, generations=3, seed=1, progress=False
    ).run()
    random_scores = [r.score for r in random_.evaluations if r.ok]
    final_scores = [evaluator.evaluate(genome).score for genome in ga.population]
    assert ga.best_score < statistics.median(random_scores)
    # selection pressure: the final population as a whole is better than random architectures
    assert statistics.median(final_scores) < statistics.median(random_scores)
    assert np.isfinite(ga.best_score) and ga.best_score < 0.2
