"""metrics: hand-computed results, accumulation over batches of different sizes, get()."""

import json
import re
from pathlib import Path

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


@pytest.mark.parametrize(
    "loss, cls",
    [
        (losses.BinaryCrossentropy(), metrics.BinaryAccuracy),
        (losses.BinaryCrossentropy(from_logits=True, name="custom"), metrics.BinaryAccuracy),
        ("binary_crossentropy", metrics.BinaryAccuracy),
        (losses.SparseCategoricalCrossentropy(), metrics.SparseCategoricalAccuracy),
        ("sparse_categorical_crossentropy", metrics.SparseCategoricalAccuracy),
        (losses.CategoricalCrossentropy(), metrics.CategoricalAccuracy),
        ("categorical_crossentropy", metrics.CategoricalAccuracy),
        ("mse", metrics.AutoAccuracy),
        (None, metrics.AutoAccuracy),
    ],
)
def test_accuracy_resolved_from_the_loss(loss, cls):
    metric = metrics.get("accuracy", loss=loss)
    assert type(metric) is cls
    assert metric.name == "accuracy"
    assert metrics.get("acc", loss=loss).name == "acc"


@pytest.mark.parametrize(
    "y_true, y_pred, kind, expected",
    [
        (np.array([1, 0]), np.array([[0.6], [0.6]]), "binary", 0.5),
        (np.array([2, 0]), np.array([[0.1, 0.2, 0.7], [0.1, 0.8, 0.1]]), "sparse", 0.5),
        (np.array([[2], [1]]), np.array([[0.1, 0.2, 0.7], [0.1, 0.8, 0.1]]), "sparse", 1.0),
        (np.eye(3)[[2, 0]], np.array([[0.1, 0.2, 0.7], [0.1, 0.8, 0.1]]), "categorical", 0.5),
    ],
)
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
        metrics.get("precisionn")
    with pytest.raises(ValueError, match="y_true"):
        metrics.MeanAbsoluteError().update(np.zeros(3), np.zeros((2, 1)))


def test_serialize_round_trip():
    metric = metrics.BinaryAccuracy(name="acc", threshold=0.3)
    config = json.loads(json.dumps(metrics.serialize(metric)))
    again = metrics.deserialize(config)
    assert type(again) is metrics.BinaryAccuracy
    assert again.get_config() == {"name": "acc", "threshold": 0.3}


# --- Keras 3.15's numbers (recorded by tests/fixtures/record_keras_metrics_schedules.py) ---------
KERAS = json.loads(
    (Path(__file__).parent / "fixtures" / "keras_metrics_schedules.json").read_text()
)["metrics"]


@pytest.mark.parametrize(
    "case",
    KERAS,
    ids=lambda c: (
        f"{c['class_name']}-{json.dumps(c['kwargs'])}"
        f"-{'weighted' if c['batches'][0]['sample_weight'] else 'plain'}"
    ),
)
def test_metric_results_match_keras(case):
    metric = getattr(metrics, case["class_name"])(**case["kwargs"])
    assert metric.name == re.sub(r"_\d+$", "", case["name"])  # Keras numbers repeated names
    for batch, expected in zip(case["batches"], case["results"]):
        weight = batch["sample_weight"]
        metric.update_state(
            np.asarray(batch["y_true"]),
            np.asarray(batch["y_pred"]),
            sample_weight=None if weight is None else np.asarray(weight),
        )
        # Keras accumulates in float32
        np.testing.assert_allclose(metric.result(), expected, rtol=2e-5, atol=1e-6)
    metric.reset_state()
    assert np.all(np.asarray(metric.result()) == 0.0)


def test_sample_weight_is_a_weighted_mean_over_samples():
    mae = metrics.MeanAbsoluteError()
    mae.update([[1.0, 1.0], [0.0, 0.0]], [[2.0, 3.0], [0.0, 1.0]], sample_weight=[3.0, 1.0])
    assert mae.result() == pytest.approx((3 * 1.5 + 1 * 0.5) / 4)
    mae.update([[0.0, 0.0]], [[4.0, 4.0]], sample_weight=[0.0])  # zero weight: no effect
    assert mae.result() == pytest.approx((3 * 1.5 + 1 * 0.5) / 4)
    zero = metrics.MeanSquaredError()
    zero.update([[1.0]], [[2.0]], sample_weight=[0.0])
    assert zero.result() == 0.0  # 0/0 is 0, as Keras's divide_no_nan
    with pytest.raises(ValueError, match="sample_weight"):
        mae.update(np.zeros((2, 2)), np.zeros((2, 2)), sample_weight=[1.0, 2.0, 3.0])


def test_plain_functions_are_mean_metrics_named_after_the_function():
    def doubled_error(y_true, y_pred):
        return 2 * np.abs(np.asarray(y_true) - np.asarray(y_pred)).mean(axis=-1)

    metric = metrics.get(doubled_error)
    assert isinstance(metric, metrics.MeanMetricWrapper) and metric.name == "doubled_error"
    metric.update(np.array([[1.0], [2.0]]), np.array([[1.5], [1.0]]), sample_weight=[1.0, 3.0])
    reference = metrics.MeanAbsoluteError()
    reference.update(np.array([[1.0], [2.0]]), np.array([[1.5], [1.0]]), sample_weight=[1.0, 3.0])
    assert metric.result() == pytest.approx(2 * reference.result())
    assert metrics.get(metrics.mean_squared_error).name == "mean_squared_error"
    with pytest.raises(ValueError, match="one value per sample"):
        metrics.get(lambda y_true, y_pred: 1.0).update(np.zeros((2, 1)), np.zeros((2, 1)))


def test_get_none_and_new_names():
    assert metrics.get(None) is None
    assert type(metrics.get("auc")) is metrics.AUC and metrics.get("AUC").name == "auc"
    assert type(metrics.get("precision")) is metrics.Precision
    assert type(metrics.get("recall")) is metrics.Recall
    assert type(metrics.get("root_mean_squared_error")) is metrics.RootMeanSquaredError
    assert [metrics.get(n).direction for n in ("auc", "precision", "recall", "accuracy")] == [
        "up"
    ] * 4
    assert [metrics.get(n).direction for n in ("mae", "mse", "root_mean_squared_error")] == [
        "down"
    ] * 3


def test_auc_default_thresholds_and_config_round_trip():
    auc = metrics.AUC()
    thresholds = auc.thresholds
    assert len(thresholds) == 200 and thresholds[0] == pytest.approx(-1e-7)
    assert thresholds[-1] == pytest.approx(1 + 1e-7) and thresholds[1] == pytest.approx(1 / 199)
    custom = metrics.AUC(thresholds=[0.5, 0.1], curve="pr", summation_method="Minoring")
    again = metrics.deserialize(json.loads(json.dumps(metrics.serialize(custom))))
    assert again.get_config() == custom.get_config()
    assert again.thresholds == pytest.approx([-1e-7, 0.1, 0.5, 1 + 1e-7])
    precision = metrics.deserialize(metrics.serialize(metrics.Precision(thresholds=[0.3, 0.6])))
    assert precision.thresholds == [0.3, 0.6]


def test_auc_of_a_perfect_and_an_inverted_ranking():
    y_true = np.array([0, 0, 1, 1, 0, 1], float)
    scores = np.array([0.1, 0.3, 0.7, 0.9, 0.2, 0.6])
    for curve in ("ROC", "PR"):
        perfect, inverted = metrics.AUC(curve=curve), metrics.AUC(curve=curve)
        perfect.update(y_true, scores)
        inverted.update(y_true, 1 - scores)
        assert perfect.result() == pytest.approx(1.0, abs=1e-6)
        assert inverted.result() < 0.6
    roc = metrics.AUC()
    roc.update(y_true, 1 - scores)
    assert roc.result() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: metrics.AUC(num_thresholds=1), "num_thresholds"),
        (lambda: metrics.AUC(curve="XY"), "curve"),
        (lambda: metrics.AUC(summation_method="simpson"), "summation_method"),
        (lambda: metrics.AUC(num_labels=3), "num_labels"),
        (lambda: metrics.Precision(thresholds=1.5), "thresholds"),
        (lambda: metrics.Recall(top_k=0), "top_k"),
        (lambda: metrics.Recall(class_id=-1), "class_id"),
    ],
)
def test_bad_arguments_name_themselves(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_accuracy_class_is_keras_exact_match_accuracy():
    metric = metrics.Accuracy()
    metric.update([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    assert metric.result() == pytest.approx(0.5)
    assert metric.name == "accuracy" and metric.direction == "up"
    again = metrics.deserialize(metrics.serialize(metrics.Accuracy(name="exact")))
    assert type(again) is metrics.Accuracy and again.name == "exact"


def test_new_metrics_in_compile_fit_and_evaluate():
    from nastoolkit.layers import Dense
    from nastoolkit.models import Sequential

    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.standard_normal(120) > 0).astype(float)

    def abs_error(y_true, y_pred):
        return np.abs(np.asarray(y_true) - np.asarray(y_pred)).mean(axis=-1)

    model = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))], seed=0)
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=["auc", "precision", metrics.Recall(thresholds=0.3), abs_error],
    )
    history = model.fit(X, y, epochs=2, batch_size=32, verbose=0, seed=0)
    assert {"auc", "precision", "recall", "abs_error"} <= set(history.history)
    # evaluate in batches of 50 equals one pass over all 120 predictions: the counts add up
    logs = model.evaluate(X, y, batch_size=50, verbose=0, return_dict=True)
    p = model.predict(X)
    for name, metric in [
        ("auc", metrics.AUC()),
        ("precision", metrics.Precision()),
        ("recall", metrics.Recall(thresholds=0.3)),
        ("abs_error", metrics.get(abs_error)),
    ]:
        metric.update(y.reshape(-1, 1), p)
        assert logs[name] == pytest.approx(metric.result(), rel=1e-6), name  # float32 sums
