"""compare_at_epoch_budget: every strategy gets Hyperband's epoch budget, winners are scored on
data no search saw, and the table reports what each run spent."""

from __future__ import annotations

import pytest
from nas_fakes import blobs

from nastoolkit.nas import HoldoutEvaluator, Hyperband, SearchSpace, compare_at_epoch_budget
from nastoolkit.nas.budget import STRATEGY_ORDER

SPACE = SearchSpace(
    max_layers=2,
    units=(4, 8),
    activations=("relu", "tanh"),
    dropout=(0.0,),
    learning_rate=(1e-3, 1e-2),
    l2=(0.0,),
    optimizers=("adam",),
    batch_size=(32,),
)


@pytest.fixture(scope="module")
def comparison():
    X, y = blobs(samples=90)
    X_test, y_test = blobs(samples=30, seed=1)
    return compare_at_epoch_budget(
        SPACE, X, y, (X_test, y_test), max_epochs=3, seeds=(0, 1), strategies=STRATEGY_ORDER
    )


def test_every_strategy_gets_hyperbands_budget(comparison):
    X, y = blobs(samples=90)
    assert comparison.budget == Hyperband(SPACE, HoldoutEvaluator(X, y), 3).budget == 11
    assert len(comparison.runs) == 2 * len(STRATEGY_ORDER)
    for run in comparison.runs:
        assert run["epochs"] <= comparison.budget, run
        assert 0.0 <= run["test_error"] <= 1.0 and run["seconds"] >= 0.0
    rows = {row["strategy"]: row for row in comparison.rows()}
    assert rows["Hyperband"]["epochs"] == 11 and rows["Hyperband"]["candidates"] == 5
    # B / R = 3 candidates: a population of 2, one generation (2 x 3 epochs, never 4 x 3)
    assert rows["RandomSearch"]["epochs"] == 6
    assert rows["DifferentiableSearch"]["epochs"] == (11 - 3) + 3
    assert rows["DifferentiableSearch"]["candidates"] == 1


def test_rows_take_medians_and_spreads_over_seeds(comparison):
    for row in comparison.rows():
        errors = [r["test_error"] for r in comparison.runs if r["strategy"] == row["strategy"]]
        assert row["test_min"] == min(errors) and row["test_max"] == max(errors)
        assert row["test_error"] == pytest.approx(sum(errors) / 2)  # median of two
    lines = comparison.table().splitlines()
    assert lines[0] == "budget B = 11 epochs (R = 3); median over 2 seeds"
    assert [line.split()[0] for line in lines[2:]] == list(STRATEGY_ORDER)


def test_bad_arguments_are_clear_errors():
    X, y = blobs(samples=30)
    with pytest.raises(ValueError, match="strategies must be names from"):
        compare_at_epoch_budget(SPACE, X, y, (X, y), strategies=["Annealing"])
    with pytest.raises(ValueError, match="seeds must hold at least one seed"):
        compare_at_epoch_budget(SPACE, X, y, (X, y), seeds=())
    with pytest.raises(ValueError, match="max_epochs"):
        compare_at_epoch_budget(SPACE, X, y, (X, y), max_epochs=0)
