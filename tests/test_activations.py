"""activations: forward against float64 closed forms, backward against central differences."""

import numpy as np
import pytest

from nastoolkit import activations

NAMES = ("linear", "relu", "tanh", "sigmoid", "softmax", "leaky_relu", "elu")


def reference(name, x):
    """Closed forms in float64, written independently of the kernels."""
    x = np.asarray(x, dtype=np.float64)
    if name == "linear":
        return x.copy()
    if name == "relu":
        return np.where(x > 0, x, 0.0)
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-x))
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if name == "leaky_relu":
        return np.where(x > 0, x, 0.2 * x)
    if name == "elu":
        return np.where(x > 0, x, np.exp(np.minimum(x, 0)) - 1.0)
    raise AssertionError(name)


def sample(rng, shape=(5, 7)):
    """Random inputs kept away from the kinks at 0 so that finite differences are exact enough."""
    x = rng.normal(0.0, 2.0, shape)
    return np.where(np.abs(x) < 0.05, 0.5, x)


@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_closed_form(name):
    x = sample(np.random.default_rng(0))
    y = getattr(activations, name)(x)
    assert y.shape == x.shape and y.dtype == np.float64
    np.testing.assert_allclose(y, reference(name, x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_forward_returns_a_new_array(name):
    x = sample(np.random.default_rng(1))
    before = x.copy()
    y = activations.get(name)(x)
    assert y is not x
    np.testing.assert_array_equal(x, before)


def test_sigmoid_extreme_inputs_are_finite():
    y = activations.sigmoid(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]))
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, [0.0, np.exp(-50.0), 0.5, 1.0, 1.0], atol=1e-15)


def test_softmax_of_large_logits():
    x = np.array([[1000.0, 1001.0, 999.0], [-1e4, 0.0, 1e4]])
    y = activations.softmax(x)
    assert np.all(np.isfinite(y))
    e = np.exp([-1.0, 0.0, -2.0])
    np.testing.assert_allclose(y[0], e / e.sum(), rtol=1e-12)
    np.testing.assert_allclose(y[1], [0.0, 0.0, 1.0], atol=1e-300)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-12)


def finite_difference(name, x, grad_y, h=1e-6):
    """d/dx_j of sum(grad_y * act(x)) by central differences, one coordinate at a time."""
    grad = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[j] += h
        minus[j] -= h
        grad[j] = np.sum(grad_y * (reference(name, plus) - reference(name, minus))) / (2 * h)
    return grad


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_finite_differences(name):
    rng = np.random.default_rng(2)
    x = sample(rng, (4, 5))
    grad_y = rng.normal(size=x.shape)
    act = activations.get(name)
    y = act(x)
    np.testing.assert_allclose(act.gradient(y, grad_y), finite_difference(name, x, grad_y),
                               rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_in_place_into_grad_y(name):
    """Layers pass out=grad_y to save a buffer; the result must not change."""
    rng = np.random.default_rng(3)
    x = sample(rng, (3, 4))
    grad_y = rng.normal(size=x.shape)
    act = activations.get(name)
    y = act(x)
    expected = act.gradient(y, grad_y.copy())
    out = act.gradient(y, grad_y, out=grad_y)
    assert out is grad_y
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-15)


def test_float32_and_integer_inputs():
    x32 = np.array([-1.5, 0.5], dtype=np.float32)
    assert activations.relu(x32).dtype == np.float32
    y = activations.relu([-2, 3])
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [0.0, 3.0])


def test_get_resolves_names_none_functions_and_objects():
    assert activations.get("relu").name == "relu"
    assert activations.get(None).name == "linear"
    assert activations.get(activations.tanh).name == "tanh"
    relu = activations.get("relu")
    assert activations.get(relu) is relu
    assert activations.get({"name": "elu"}) == activations.Activation("elu")
    assert set(activations.names()) == set(NAMES)
    assert repr(activations.get("sigmoid")) == "Activation('sigmoid')"


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="relu") as info:
        activations.get("swishy")
    assert "swishy" in str(info.value)
    with pytest.raises(ValueError, match="activation"):
        activations.Activation("gelu")
    with pytest.raises(TypeError, match="activation"):
        activations.get(3)


def test_serialize_round_trip():
    for name in NAMES:
        act = activations.get(name)
        assert activations.serialize(act) == name
        assert activations.deserialize(activations.serialize(act)) == act
        assert activations.Activation.from_config(act.get_config()) == act
