"""Evaluators: splits, scores, seeding, failures and fingerprints."""

import numpy as np
import pytest
from nas_fakes import blobs

from nastoolkit.nas.evaluators import (
    FAILED_SCORE,
    CrossValidationEvaluator,
    HoldoutEvaluator,
    evaluator_from_config,
    holdout_split,
    kfold_splits,
)
from nastoolkit.nas.genome import make_genome

GOOD = make_genome([(16, "relu", 0.0)], learning_rate=0.01, optimizer="adam", batch_size=16)


def test_kfold_splits_partition_the_data_and_keep_classes_balanced():
    y = np.repeat([0, 1, 2], [30, 20, 10])
    splits = kfold_splits(y, 5, seed=0, stratify=True)
    validation = np.concatenate([v for _, v in splits])
    assert sorted(validation.tolist()) == list(range(60))
    for train, val in splits:
        assert not set(train) & set(val) and len(train) + len(val) == 60
        assert np.bincount(y[val], minlength=3).tolist() == [6, 4, 2]
    assert [v.tolist() for _, v in kfold_splits(y, 5, 0, True)] == [v.tolist() for _, v in splits]
    assert [v.tolist() for _, v in kfold_splits(y, 5, 1, True)] != [v.tolist() for _, v in splits]


def test_holdout_split_holds_out_the_fraction_per_class():
    y = np.repeat([0, 1], [50, 30])
    train, val = holdout_split(y, 0.2, seed=0, stratify=True)
    assert np.bincount(y[val]).tolist() == [10, 6]
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(80))


def test_holdout_learns_blobs_and_reports_metrics():
    X, y = blobs()
    result = HoldoutEvaluator(X, y, epochs=15, patience=3, seed=0).evaluate(GOOD)
    assert result.status == "ok" and result.reason is None
    assert result.score < 0.2
    assert result.metrics["val_accuracy"] == pytest.approx(1 - result.score)
    assert 1 <= result.metrics["best_epoch"] <= 15


def test_cross_validation_scores_mean_and_std_over_folds():
    X, y = blobs()
    result = CrossValidationEvaluator(X, y, folds=3, epochs=5, seed=0).evaluate(GOOD)
    folds = result.metrics["fold_errors"]
    assert len(folds) == 3
    assert result.score == pytest.approx(np.mean(folds))
    assert result.metrics["val_error_std"] == pytest.approx(np.std(folds))


def test_training_is_seeded_by_genome_and_seed():
    X, y = blobs()
    first = HoldoutEvaluator(X, y, epochs=3, seed=0).evaluate(GOOD)
    assert HoldoutEvaluator(X, y, epochs=3, seed=0).evaluate(GOOD) == first
    other = HoldoutEvaluator(X, y, epochs=3, seed=5).evaluate(GOOD)
    assert other.metrics["val_loss"] != first.metrics["val_loss"]


@pytest.mark.parametrize("task, optimizer", [("classification", "adam"), ("regression", "sgd")])
def test_a_diverging_candidate_fails_with_its_reason(task, optimizer):
    X, y = blobs()
    diverging = make_genome([(64, "relu", 0.0)] * 2, learning_rate=1e12, optimizer=optimizer)
    result = HoldoutEvaluator(X, y, task=task, epochs=5, seed=0).evaluate(diverging)
    assert result.status == "failed" and result.score == FAILED_SCORE
    assert "diverg" in result.reason


def test_an_exception_in_training_is_recorded_not_raised():
    X, y = blobs()
    # make_genome refuses unknown names, so the genome is edited by hand as a custom operator
    # might; the candidate fails with its reason and the search would go on
    broken = make_genome([(8, "relu", 0.0)])
    broken["layers"][0]["activation"] = "no-such-activation"
    result = HoldoutEvaluator(X, y, epochs=2, seed=0).evaluate(broken)
    assert result.status == "failed" and "no-such-activation" in result.reason


def test_regression_scores_mean_squared_error():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3)).astype(np.float32)
    y = X @ np.array([1.0, -2.0, 0.5], np.float32)
    result = HoldoutEvaluator(X, y, task="regression", epochs=30, seed=0).evaluate(GOOD)
    assert result.status == "ok"
    assert result.score == pytest.approx(result.metrics["val_mse"])
    assert result.score < np.var(y)


def test_fingerprint_tracks_data_budget_seed_and_split():
    X, y = blobs()
    base = HoldoutEvaluator(X, y, epochs=3, seed=0).fingerprint()
    assert HoldoutEvaluator(X.copy(), y.copy(), epochs=3, seed=0).fingerprint() == base
    X2 = X.copy()
    X2[0, 0] += 1e-3
    variants = [
        HoldoutEvaluator(X2, y, epochs=3, seed=0),
        HoldoutEvaluator(X, y, epochs=4, seed=0),
        HoldoutEvaluator(X, y, epochs=3, seed=1),
        HoldoutEvaluator(X, y, epochs=3, patience=2),
        HoldoutEvaluator(X, y, epochs=3, validation_split=0.3),
        CrossValidationEvaluator(X, y, folds=3, epochs=3, seed=0),
    ]
    assert len({v.fingerprint() for v in variants} | {base}) == len(variants) + 1


@pytest.mark.parametrize(
    "make",
    [
        lambda X, y: HoldoutEvaluator(X, y, epochs=3, seed=2),
        lambda X, y: HoldoutEvaluator(X[:60], y[:60], validation_data=(X[60:], y[60:]), epochs=3),
        lambda X, y: CrossValidationEvaluator(X, y, folds=4, epochs=2, patience=1, seed=3),
    ],
)
def test_config_round_trip_rebuilds_the_same_evaluator(make):
    X, y = blobs()
    evaluator = make(X, y)
    again = evaluator_from_config(evaluator.get_config())
    assert type(again) is type(evaluator) and again.fingerprint() == evaluator.fingerprint()


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        ({"folds": 1}, "folds must be an integer >= 2"),
        ({"epochs": 0}, "epochs"),
        ({"task": "ranking"}, "task must be one of"),
    ],
)
def test_bad_arguments_are_named(arguments, fragment):
    X, y = blobs()
    with pytest.raises(ValueError, match=fragment):
        CrossValidationEvaluator(X, y, **arguments)


def test_mismatched_lengths_are_named():
    X, y = blobs()
    with pytest.raises(ValueError, match="same number of samples"):
        HoldoutEvaluator(X, y[:-1])
