"""The cache: identical genomes are trained once, within and across searches."""

from nas_fakes import FormulaEvaluator

from nastoolkit.nas import EvaluationCache, GeneticSearch, Outcome, RandomSearch, SearchSpace

TINY = SearchSpace(
    max_layers=1,
    units=(8, 16),
    activations=("relu",),
    dropout=(0.0,),
    learning_rate=(1e-3, 1e-3),
    l2=(0.0,),
    optimizers=("adam",),
    batch_size=(32,),
)


def test_cache_returns_copies_and_counts_hits():
    cache = EvaluationCache()
    outcome = Outcome("ok", 0.5, None, {"a": [1]})
    assert cache.lookup("f", "k") is None
    cache.store("f", "k", outcome)
    outcome.metrics["a"].append(2)
    found = cache.lookup("f", "k")
    assert found.metrics["a"] == [1] and found.score == 0.5
    found.metrics["a"].append(3)
    assert cache.lookup("f", "k").metrics["a"] == [1]
    assert cache.lookup("other-fingerprint", "k") is None
    assert (cache.hits, cache.misses, cache.hit_rate) == (2, 2, 0.5)


def test_identical_genomes_are_trained_once_within_a_search():
    # the tiny space has 2 distinct genomes, a search asks for 8 * 4 = 32 evaluations
    evaluator = FormulaEvaluator()
    result = GeneticSearch(
        TINY, evaluator, population_size=8, generations=3, seed=0, progress=False
    ).run()
    assert evaluator.trainings == len(result.evaluations) == 2
    requested = sum(row["requested"] for row in result.history)
    assert requested == 32
    assert sum(row["trained"] for row in result.history) == 2
    assert sum(row["cache_hits"] for row in result.history) == 30


def test_a_shared_cache_prevents_retraining_across_searches_with_the_same_result():
    cache = EvaluationCache()
    first_evaluator, second_evaluator = FormulaEvaluator(), FormulaEvaluator()
    first = RandomSearch(
        SearchSpace(),
        first_evaluator,
        population_size=6,
        generations=2,
        seed=0,
        cache=cache,
        progress=False,
    ).run()
    second = RandomSearch(
        SearchSpace(),
        second_evaluator,
        population_size=6,
        generations=2,
        seed=0,
        cache=cache,
        progress=False,
    ).run()
    assert first_evaluator.trainings == len(first.evaluations) > 0
    assert second_evaluator.trainings == 0
    assert second.evaluations == first.evaluations


def test_the_cache_is_keyed_by_the_evaluator_fingerprint():
    cache = EvaluationCache()
    RandomSearch(
        TINY,
        FormulaEvaluator(tag="a"),
        population_size=4,
        generations=0,
        cache=cache,
        progress=False,
    ).run()
    other = FormulaEvaluator(tag="b")
    RandomSearch(TINY, other, population_size=4, generations=0, cache=cache, progress=False).run()
    assert other.trainings > 0
