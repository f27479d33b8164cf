"""regularizers: exact Keras penalties and their gradients (closed form, finite differences and
numbers recorded from Keras 3.15 by tests/fixtures/record_keras_regularizers.py)."""

import json
from pathlib import Path

import numpy as np
import pytest

from nastoolkit import regularizers

KERAS = json.loads((Path(__file__).parent / "fixtures" / "keras_regularizers.json").read_text())

W = np.array([[0.5, -2.0], [0.0, 3.0]])


def test_l2_penalty_is_l2_times_sum_of_squares():
    assert regularizers.L2(0.1)(W) == pytest.approx(0.1 * (0.25 + 4 + 0 + 9))
    assert regularizers.L2()(W) == pytest.approx(0.01 * 13.25)


def test_l1_penalty_and_l1l2():
    assert regularizers.L1(0.1)(W) == pytest.approx(0.1 * 5.5)
    assert regularizers.L1L2(l1=0.1, l2=0.2)(W) == pytest.approx(0.1 * 5.5 + 0.2 * 13.25)
    assert regularizers.L1L2()(W) == 0.0


def test_gradients_closed_form_and_in_place():
    grad = np.ones_like(W)
    out = regularizers.L2(0.1).add_gradient(W, grad)
    assert out is grad
    np.testing.assert_allclose(grad, 1 + 2 * 0.1 * W)
    grad = np.zeros_like(W)
    regularizers.L1(0.1).add_gradient(W, grad)
    np.testing.assert_allclose(grad, [[0.1, -0.1], [0.0, 0.1]])
    grad = np.zeros_like(W)
    regularizers.L1L2(0.1, 0.2).add_gradient(W, grad)
    np.testing.assert_allclose(grad, 0.1 * np.sign(W) + 0.4 * W)


@pytest.mark.parametrize(
    "regularizer",
    [
        regularizers.L1(0.3),
        regularizers.L2(0.7),
        regularizers.L1L2(0.3, 0.7),
        regularizers.OrthogonalRegularizer(0.5),
        regularizers.OrthogonalRegularizer(0.5, "columns"),
    ],
    ids=repr,
)
def test_gradient_matches_finite_differences(regularizer):
    w = np.random.default_rng(0).normal(size=(3, 4))
    w[np.abs(w) < 0.01] = 0.5  # away from the kink of |w| (and of |cosine| for the orthogonal)
    grad = regularizer.add_gradient(w, np.zeros_like(w))
    h = 1e-6
    expected = np.zeros_like(w)
    for j in np.ndindex(w.shape):
        plus, minus = w.copy(), w.copy()
        plus[j] += h
        minus[j] -= h
        expected[j] = (regularizer(plus) - regularizer(minus)) / (2 * h)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-9)


def test_float32_gradient_stays_float32():
    w = W.astype(np.float32)
    grad = regularizers.L2(0.5).add_gradient(w, np.zeros_like(w))
    assert grad.dtype == np.float32


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: regularizers.L1(-0.1), "l1"),
        (lambda: regularizers.L2(float("nan")), "l2"),
        (lambda: regularizers.L1L2(l2=-1), "l2"),
        (lambda: regularizers.L2("big"), "l2"),
    ],
)
def test_invalid_strengths_name_the_argument(make, argument):
    with pytest.raises(ValueError, match=f"{argument} must be"):
        make()


def test_get_and_round_trip():
    assert regularizers.get("l2") == regularizers.L2(0.01)
    assert regularizers.get("l1") == regularizers.L1(0.01)
    assert regularizers.get(None) is None
    reg = regularizers.L1L2(0.25, 0.5)
    assert regularizers.get(reg) is reg
    config = json.loads(json.dumps(regularizers.serialize(reg)))
    assert config == {"class_name": "L1L2", "config": {"l1": 0.25, "l2": 0.5}}
    assert regularizers.deserialize(config) == reg
    assert repr(reg) == "L1L2(l1=0.25, l2=0.5)"
    with pytest.raises(ValueError, match="l2"):
        regularizers.get("l3")


def _keras_case_ids(case):
    return f"{case['class_name']}({case['kwargs']})"


@pytest.mark.parametrize("case", KERAS["cases"], ids=_keras_case_ids)
def test_penalty_gradient_and_config_match_keras(case):
    """Penalty and dP/dw (torch autograd through Keras) on float32 weights with exact zeros."""
    key = "weights_orthogonal" if case["class_name"] == "OrthogonalRegularizer" else "weights"
    w = np.array(KERAS[key], dtype=np.float32)
    regularizer = getattr(regularizers, case["class_name"])(**case["kwargs"])
    assert regularizer(w) == pytest.approx(case["penalty"], rel=1e-5, abs=1e-7)
    grad = regularizer.add_gradient(w, np.zeros_like(w))
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, case["gradient"], rtol=1e-5, atol=1e-7)
    # Keras keeps l1 and factor as float32 tensors (0.01 -> 0.009999999776...): same to float32
    config = regularizer.get_config()
    assert config.keys() == case["config"].keys()
    for key, value in case["config"].items():
        assert config[key] == (value if isinstance(value, str) else pytest.approx(value, rel=1e-7))


@pytest.mark.parametrize("name", sorted(KERAS["get"]))
def test_get_by_name_matches_keras(name):
    """Keras's names and defaults; "l1_l2" is rejected by Keras 3 (despite its docstring)."""
    expected = KERAS["get"][name]
    if "error" in expected:
        with pytest.raises(ValueError, match="regularizer"):
            regularizers.get(name)
        return
    found = regularizers.get(name)
    assert type(found).__name__ == expected["class_name"]
    for key, value in expected["config"].items():
        assert found.get_config()[key] == (
            value if isinstance(value, str) else pytest.approx(value, rel=1e-7)
        )


def test_get_none_is_none_as_in_keras():
    assert KERAS["get_none"] == "None"
    assert regularizers.get(None) is None
    assert regularizers.serialize(None) is None and regularizers.deserialize(None) is None


def _decode(value):
    return float(value["float"]) if isinstance(value, dict) else value


@pytest.mark.parametrize("case", KERAS["rejected"], ids=_keras_case_ids)
def test_arguments_keras_rejects_are_a_value_error_naming_them(case):
    assert case["error"] == "ValueError"
    kwargs = {key: _decode(value) for key, value in case["kwargs"].items()}
    (argument,) = kwargs
    with pytest.raises(ValueError, match=f"{argument} must be .*Received: {argument}="):
        getattr(regularizers, case["class_name"])(**kwargs)


def test_deserialize_reads_what_keras_serialize_writes():
    keras_dict = KERAS["serialize_l1l2"]
    assert keras_dict["module"] == "keras.regularizers"
    reg = regularizers.deserialize(keras_dict)
    assert reg == regularizers.L1L2(0.25, 0.5)
    assert regularizers.serialize(reg) == {key: keras_dict[key] for key in ("class_name", "config")}


def test_orthogonal_regularizer_round_trip_and_shape_errors():
    reg = regularizers.OrthogonalRegularizer(factor=0.2, mode="columns")
    config = json.loads(json.dumps(regularizers.serialize(reg)))
    assert regularizers.deserialize(config) == reg
    with pytest.raises(ValueError, match="2-D"):
        reg(np.ones(3))
    with pytest.raises(ValueError, match="at least 2 columns"):
        reg(np.ones((3, 1)))


def test_orthogonal_penalty_is_zero_for_orthogonal_rows_and_factor_for_parallel_ones():
    q = np.linalg.qr(np.random.default_rng(1).normal(size=(4, 4)))[0]
    reg = regularizers.OrthogonalRegularizer(factor=0.3)
    assert reg(q) == pytest.approx(0.0, abs=1e-12)
    parallel = np.outer([1.0, -2.0, 3.0], [0.6, 0.8])  # every pair has |cosine| = 1
    assert reg(parallel) == pytest.approx(0.3)
