"""regularizers: exact Keras penalties and their gradients (closed form and finite differences)."""

import json

import numpy as np
import pytest

from nastoolkit import regularizers

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


@pytest.mark.parametrize("regularizer", [regularizers.L1(0.3), regularizers.L2(0.7),
                                         regularizers.L1L2(0.3, 0.7)], ids=repr)
def test_gradient_matches_finite_differences(regularizer):
    w = np.random.default_rng(0).normal(size=(3, 4))
    w[np.abs(w) < 0.01] = 0.5  # away from the kink of |w|
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


@pytest.mark.parametrize("make, argument", [
    (lambda: regularizers.L1(-0.1), "l1"), (lambda: regularizers.L2(float("nan")), "l2"),
    (lambda: regularizers.L1L2(l2=-1), "l2"), (lambda: regularizers.L2("big"), "l2")])
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
