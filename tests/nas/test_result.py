"""SearchResult and the Pareto helpers."""

import pytest
from nas_fakes import FormulaEvaluator, blobs

from nastoolkit.models import Sequential
from nastoolkit.nas import GeneticSearch, HoldoutEvaluator, SearchSpace
from nastoolkit.nas.outcome import Outcome
from nastoolkit.nas.result import Candidate, SearchResult, dominates, pareto_front, rank_records


def _record(index, score, params, status="ok"):
    genome = {
        "layers": [{"units": 8, "activation": "relu", "dropout": 0.0}],
        "learning_rate": 1e-3,
        "l2": 0.0,
        "optimizer": "adam",
        "batch_size": 32,
    }
    outcome = (
        Outcome(status, score, None, {"val_error_std": 0.0})
        if status == "ok"
        else Outcome.failure("diverged")
    )
    return Candidate(index, str(index), genome, 0, params, outcome)


def test_dominates_is_strict_pareto_dominance():
    assert dominates((0.1, 10), (0.2, 10)) and dominates((0.1, 5), (0.2, 10))
    assert not dominates((0.1, 10), (0.1, 10))
    assert not dominates((0.1, 20), (0.2, 10))


def test_pareto_front_by_hand():
    records = [
        _record(0, 0.10, 500),
        _record(1, 0.20, 100),
        _record(2, 0.15, 600),
        _record(3, 0.30, 50),
        _record(4, 0.05, 900, status="failed"),
        _record(5, 0.20, 100),
    ]
    assert [r.index for r in pareto_front(records)] == [0, 1, 5, 3]


def test_ranking_breaks_ties_by_size_then_order():
    records = [
        _record(0, 0.2, 300),
        _record(1, 0.2, 100),
        _record(2, 0.1, 900),
        _record(3, 0.2, 100),
    ]
    assert [r.index for r in rank_records(records)] == [2, 1, 3, 0]


def test_all_failed_result_has_no_best_and_says_why():
    result = SearchResult("GeneticSearch", [_record(0, 1e300, 10, status="failed")], [], [])
    assert result.best_genome is None and result.best_score == float("inf")
    with pytest.raises(RuntimeError, match="failures"):
        result.best_model()


def test_table_lists_the_best_first():
    result = SearchResult("RandomSearch", [_record(0, 0.3, 10), _record(1, 0.1, 10)], [], [])
    lines = result.table(top=2).splitlines()
    assert "2 candidates evaluated, 0 failed" in lines[0]
    assert lines[2].split()[:2] == ["1", "0.1000"] and lines[3].split()[:2] == ["2", "0.3000"]


def test_best_model_is_a_trained_sequential_of_the_best_genome():
    X, y = blobs(samples=60)
    evaluator = HoldoutEvaluator(X, y, epochs=10, seed=0)
    result = GeneticSearch(
        SearchSpace(max_layers=2, units=(16, 32)),
        evaluator,
        population_size=3,
        generations=1,
        seed=0,
        progress=False,
    ).run()
    model = result.best_model()
    assert isinstance(model, Sequential)
    dense_units = [layer.units for layer in model.layers if hasattr(layer, "units")]
    assert dense_units == [layer["units"] for layer in result.best_genome["layers"]] + [3]
    accuracy = (model.predict(X).argmax(axis=1) == y).mean()
    assert accuracy > 0.8


def test_best_model_needs_an_evaluator_that_can_retrain():
    result = GeneticSearch(
        SearchSpace(), FormulaEvaluator(), population_size=3, generations=0, progress=False
    ).run()
    with pytest.raises(RuntimeError, match="genome_to_model"):
        result.best_model()


def test_results_compare_equal_whatever_the_training_took():
    fast = SearchResult("RandomSearch", [_record(0, 0.3, 10)], [], [])
    slow_record = _record(0, 0.3, 10)
    slow = SearchResult(
        "RandomSearch",
        [Candidate(0, "0", slow_record.genome, 0, 10, slow_record.outcome.with_seconds(12.5))],
        [],
        [],
    )
    assert fast == slow and fast.to_dict() == slow.to_dict()
    assert slow.to_dict(timing=True)["evaluations"][0]["outcome"]["seconds"] == 12.5
    assert "seconds" not in fast.to_dict()["evaluations"][0]["outcome"]
    assert fast != SearchResult("RandomSearch", [_record(0, 0.31, 10)], [], [])
