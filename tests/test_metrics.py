"""metrics: hand-computed results, accumulation over batches of different sizes, get()."""

import json

import numpy as np
import pytest

from nastoolkit import losses, metrics


def test_binary_accuracy_thresholds_at_one_half():
    metric = metrics.BinaryAccuracy()
    metric.update(np.array([1, 0, 1, 0]), np.array([[0.7], [0.2], [0.4], [0.5]]))
    assert metric.result() == pytest.approx(3 / 4)  # 0.4 -> 0 (wrong), 0.5 -> 0 (right)
    assert metric.name == "binary_accuracy"
    strict = metrics.BinaryAccuracy(threshold=0.8)
    strict.update(np.array([[1.0], [0.0]]), np.array([[0.7], [0.2]]))
    assert strict.result() == pytest.approx(0.5)


def test_binary_accuracy_averages_outputs_per_sample():
    metric = metrics.BinaryAccuracy()
    metric.update(np.array([[1, 0], [1, 1]]), np.array([[0.9, 0.9], [0.9, 0.9]]))
    assert metric.result() == pytest.approx(0.75)


def test_categorical_and_sparse_accuracy():
    y_pred = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    labels = np.array([1, 2, 2])
    categorical = metrics.CategoricalAccuracy()
    categorical.update(np.eye(3)[labels], y_pred)
    sparse = metrics.SparseCategoricalAccuracy()
    sparse.update(labels.reshape(-1, 1), y_pred)
    assert categorical.result() == pytest.approx(2 / 3)
    assert sparse.result() == pytest.approx(2 / 3)


def test_accumulates_over_batches_of_different_sizes():
    metric = metrics.SparseCategoricalAccuracy()
    metric.update(np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]))  # 2 of 3
    metric.update(np.array([0]), np.array([[0.2, 0.8]]))  # 0 of 1
    assert metric.result() == pytest.approx(2 / 4)  # by samples, not the mean of batch means
    mae = metrics.MeanAbsoluteError()
    mae.update(np.array([[1.0, 2.0]]), np.array([[2.0, 4.0]]))  # sample mean 1.5
    mae.update(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[1.0, -1.0], [1.0, 1.0]]))  # 1, 0
    assert mae.result() == pytest.approx((1.5 + 1.0 + 0.0) / 3)


def test_reset_and_empty_result():
    metric = metrics.MeanSquaredError()
    assert metric.result() == 0.0
    metric.update(np.array([[1.0], [3.0]]), np.array([[2.0], [1.0]]))
    assert metric.result() == pytest.approx((1 + 4) / 2)
    metric.reset()
    assert metric.result() == 0.0 and metric.count == 0
    metric.update(np.array([0.0]), np.array([[3.0]]))
    assert metric.result() == pytest.approx(9.0)


def test_mse_and_mae_per_sample_mean_over_outputs():
    y_true = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
    y_pred = np.array([[1.0, 1.0, 0.0], [1.0, 4.0, 1.0]])
    mse, mae = metrics.get("mse"), metrics.get("mae")
    mse.update(y_true, y_pred)
    mae.update(y_true, y_pred)
    assert mse.result() == pytest.approx(((1 + 0 + 4) / 3 + 9 / 3) / 2)
    assert mae.result() == pytest.approx(((1 + 0 + 2) / 3 + 3 / 3) / 2)
    assert (mse.name, mae.name) == ("mse", "mae")


@pytest.mark.parametrize("loss, cls", [
    (losses.BinaryCrossentropy(), metrics.BinaryAccuracy),
    (losses.BinaryCrossentropy(from_logits=True, name="custom"), metrics.BinaryAccuracy),
    ("binary_crossentropy", metrics.BinaryAccuracy),
    (losses.SparseCategoricalCrossentropy(), metrics.SparseCategoricalAccuracy),
    ("sparse_categorical_crossentropy", metrics.SparseCategoricalAccuracy),
    (losses.CategoricalCrossentropy(), metrics.CategoricalAccuracy),
    ("categorical_crossentropy", metrics.CategoricalAccuracy),
    ("mse", metrics.Accuracy), (None, metrics.Accuracy)])
def test_accuracy_resolved_from_the_loss(loss, cls):
    metric = metrics.get("accuracy", loss=loss)
    assert type(metric) is cls
    assert metric.name == "accuracy"
    assert metrics.get("acc", loss=loss).name == "acc"


@pytest.mark.parametrize("y_true, y_pred, kind, expected", [
    (np.array([1, 0]), np.array([[0.6], [0.6]]), "binary", 0.5),
    (np.array([2, 0]), np.array([[0.1, 0.2, 0.7], [0.1, 0.8, 0.1]]), "sparse", 0.5),
    (np.array([[2], [1]]), np.array([[0.1, 0.2, 0.7], [0.1, 0.8, 0.1]]), "sparse", 1.0),
    (np.eye(3)[[2, 0]], np.array([[0.1, 0.2, 0.7], [0.1, 0.8, 0.1]]), "categorical", 0.5)])
def test_accuracy_without_a_loss_decides_from_shapes(y_true, y_pred, kind, expected):
    metric = metrics.get("accuracy")
    metric.update(y_true, y_pred)
    assert metric.kind == kind
    assert metric.result() == pytest.approx(expected)
    metric.reset()
    assert metric.kind is None


def test_get_by_name_instance_and_errors():
    assert type(metrics.get("binary_accuracy")) is metrics.BinaryAccuracy
    assert metrics.get("mean_absolute_error").name == "mean_absolute_error"
    metric = metrics.MeanSquaredError(name="val")
    assert metrics.get(metric) is metric
    with pytest.raises(ValueError, match="accuracy"):
        metrics.get("precision")
    with pytest.raises(ValueError, match="y_true"):
        metrics.MeanAbsoluteError().update(np.zeros(3), np.zeros((2, 1)))


def test_serialize_round_trip():
    metric = metrics.BinaryAccuracy(name="acc", threshold=0.3)
    config = json.loads(json.dumps(metrics.serialize(metric)))
    again = metrics.deserialize(config)
    assert type(again) is metrics.BinaryAccuracy
    assert again.get_config() == {"name": "acc", "threshold": 0.3}
