"""AutoClassifier / AutoRegressor: fit with a trial budget, predict, evaluate, export."""

import numpy as np
import pytest
from nas_fakes import blobs

from nastoolkit.models import Sequential
from nastoolkit.nas import AutoClassifier, AutoRegressor


def test_auto_classifier_finds_a_model_and_keeps_the_label_values():
    X, y = blobs(samples=90)
    labels = np.array(["cat", "dog", "eel"])[y]
    classifier = AutoClassifier(epochs=15, seed=0, progress=False)
    classifier.fit(X, labels, max_trials=4)
    assert len(classifier.result_.evaluations) <= 4
    predictions = classifier.predict(X)
    assert set(predictions) <= {"cat", "dog", "eel"}
    assert (predictions == labels).mean() > 0.8
    _loss, accuracy = classifier.evaluate(X, labels)
    assert accuracy == pytest.approx((predictions == labels).mean(), abs=1e-6)
    assert isinstance(classifier.export_model(), Sequential)
    assert classifier.predict_proba(X).shape == (90, 3)


def test_auto_regressor_fits_a_linear_target():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3)).astype(np.float32)
    y = X @ np.array([1.0, -2.0, 0.5], np.float32)
    regressor = AutoRegressor(epochs=30, seed=0, progress=False).fit(X, y, max_trials=4)
    predictions = regressor.predict(X)
    assert predictions.shape == (120,)
    assert np.mean((predictions - y) ** 2) < 0.5 * np.var(y)
    assert regressor.evaluate(X, y)[0] > 0


def test_using_before_fit_and_bad_budgets_are_clear_errors():
    with pytest.raises(RuntimeError, match="call fit"):
        AutoClassifier().predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="max_trials"):
        AutoClassifier().fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]), max_trials=1)


def test_unknown_labels_in_evaluate_are_named():
    X, y = blobs(samples=30)
    classifier = AutoClassifier(epochs=2, seed=0, progress=False).fit(X, y, max_trials=2)
    with pytest.raises(ValueError, match="not seen in fit"):
        classifier.evaluate(X[:2], np.array([0, 7]))
