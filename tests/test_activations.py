"""activations: forward against float64 closed forms, backward against central differences,
Keras's function semantics (get/serialize) and options."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from nastoolkit import activations, kernels

NAMES = (
    "linear",
    "relu",
    "tanh",
    "sigmoid",
    "softmax",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "softplus",
    "softsign",
    "hard_sigmoid",
    "exponential",
)
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf)


def reference(name, x):
    """Closed forms in float64, written independently of the kernels."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        sigmoid = 1.0 / (1.0 + np.exp(-x))
    forms = {
        "linear": lambda: x.copy(),
        "relu": lambda: np.where(x > 0, x, 0.0),
        "tanh": lambda: np.tanh(x),
        "sigmoid": lambda: sigmoid,
        "softmax": lambda: (
            np.exp(x - x.max(-1, keepdims=True))
            / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)
        ),
        "leaky_relu": lambda: np.where(x > 0, x, 0.2 * x),
        "elu": lambda: np.where(x > 0, x, np.exp(np.minimum(x, 0)) - 1.0),
        "selu": lambda: (
            SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(np.minimum(x, 0)) - 1.0))
        ),
        "gelu": lambda: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
        "silu": lambda: x * sigmoid,
        "swish": lambda: x * sigmoid,
        "softplus": lambda: np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0),
        "softsign": lambda: x / (1.0 + np.abs(x)),
        "hard_sigmoid": lambda: np.clip(x / 6.0 + 0.5, 0.0, 1.0),
        "exponential": lambda: np.exp(x),
    }
    return forms[name]()


RTOL = {}


def sample(rng, shape=(5, 7)):
    """Random inputs kept away from the kinks at 0 and +-3 so finite differences are exact."""
    x = rng.normal(0.0, 2.0, shape)
    x = np.where(np.abs(x) < 0.05, 0.5, x)
    return np.where(np.abs(np.abs(x) - 3.0) < 0.05, 2.0, x)


@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_closed_form(name):
    x = sample(np.random.default_rng(0))
    y = activations.get(name)(x)
    assert y.shape == x.shape and y.dtype == np.float64
    np.testing.assert_allclose(y, reference(name, x), rtol=RTOL.get(name, 1e-12), atol=1e-14)


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


@pytest.mark.parametrize("name", ["softplus", "gelu", "silu", "selu", "softsign", "elu"])
def test_large_inputs_stay_finite(name):
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
    y = activations.get(name)(x)
    assert np.all(np.isfinite(y))
    # sigmoid (inside silu) is (1 + tanh(x / 2)) / 2: outputs below 1e-15 may round to 0
    np.testing.assert_allclose(y, reference(name, x), rtol=1e-12, atol=1e-15)


def test_softmax_of_large_logits():
    x = np.array([[1000.0, 1001.0, 999.0], [-1e4, 0.0, 1e4]])
    y = activations.softmax(x)
    assert np.all(np.isfinite(y))
    e = np.exp([-1.0, 0.0, -2.0])
    np.testing.assert_allclose(y[0], e / e.sum(), rtol=1e-12)
    np.testing.assert_allclose(y[1], [0.0, 0.0, 1.0], atol=1e-300)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-12)


def gradient(name, x, grad_y, out=None):
    """dL/dx through the kernel table, with z given for the activations that need it."""
    y = kernels.activation_forward(name, x)
    return kernels.activation_backward(name, y, grad_y, out=out, z=x)


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
    np.testing.assert_allclose(
        gradient(name, x, grad_y),
        finite_difference(name, x, grad_y),
        rtol=RTOL.get(name, 1e-6),
        atol=1e-8,
    )


@pytest.mark.parametrize("name", NAMES)
def test_gradient_in_place_into_grad_y(name):
    """Layers pass out=grad_y to save a buffer; the result must not change."""
    rng = np.random.default_rng(3)
    x = sample(rng, (3, 4))
    grad_y = rng.normal(size=x.shape)
    expected = gradient(name, x, grad_y.copy())
    out = gradient(name, x, grad_y, out=grad_y)
    assert out is grad_y
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", sorted(kernels.NEEDS_PREACTIVATION))
def test_preactivation_gradients_demand_z(name):
    x = np.linspace(-2, 2, 6).reshape(2, 3)
    y = kernels.activation_forward(name, x)
    with pytest.raises(ValueError, match=r"pre-activation z.*z_out"):
        kernels.activation_backward(name, y, np.ones_like(y))


def test_needs_preactivation_is_exactly_the_non_invertible_ones():
    assert kernels.NEEDS_PREACTIVATION == {"gelu", "silu", "swish"}
    for name in set(NAMES) - kernels.NEEDS_PREACTIVATION:  # the rest ignore z entirely
        rng = np.random.default_rng(4)
        x = sample(rng, (2, 3))
        y = kernels.activation_forward(name, x)
        g = rng.normal(size=x.shape)
        np.testing.assert_array_equal(
            kernels.activation_backward(name, y, g), kernels.activation_backward(name, y, g, z=x)
        )


@pytest.mark.parametrize("name", NAMES)
def test_dense_forward_keeps_z_and_backward_uses_it(name):
    """dense_forward(z_out=) keeps xW + b; dense_backward(z=) gives the finite-difference
    gradient of sum(g * act(xW + b)) with respect to x, W and b."""
    rng = np.random.default_rng(5)
    x, w, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 5)) / 2, rng.normal(size=5) / 2
    g = rng.normal(size=(3, 5))
    z = np.empty((3, 5))
    y = kernels.dense_forward(x, w, b, name, z_out=z)
    np.testing.assert_allclose(z, x @ w + b, rtol=1e-14)
    np.testing.assert_allclose(y, reference(name, x @ w + b), rtol=RTOL.get(name, 1e-12))
    grad_x, grad_w, grad_b = kernels.dense_backward(x, w, y, g.copy(), name, z=z)
    grad_z = finite_difference(name, x @ w + b, g)
    np.testing.assert_allclose(grad_x, grad_z @ w.T, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad_w, x.T @ grad_z, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad_b, grad_z.sum(0), rtol=1e-5, atol=1e-7)


def test_float32_and_integer_inputs():
    x32 = np.array([-1.5, 0.5], dtype=np.float32)
    for name in NAMES:
        assert activations.get(name)(x32).dtype == np.float32, name
    assert activations.relu(x32, max_value=1.0).dtype == np.float32
    assert activations.gelu(x32, approximate=True).dtype == np.float32


def test_float32_gelu_is_accurate_to_float32_resolution():
    """float32 gelu uses a rational erf fit (1.2e-7 relative); float64 uses math.erf."""
    x = np.linspace(-8, 8, 4001)
    y32 = activations.gelu(x.astype(np.float32)).astype(np.float64)
    np.testing.assert_allclose(y32, reference("gelu", x), rtol=5e-7, atol=1e-7)
    g = np.ones_like(x, dtype=np.float32)
    x32 = x.astype(np.float32)
    slope = kernels.activation_backward("gelu", activations.gelu(x32), g, z=x32)
    exact = 0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(slope, exact, rtol=5e-7, atol=1e-6)
    y = activations.relu([-2, 3])
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [0.0, 3.0])


# --- Keras's options ---------------------------------------------------------------------------

X = np.array([-10.0, -5.0, -1.0, 0.0, 0.5, 2.0, 5.0, 10.0])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"negative_slope": 0.1},
        {"max_value": 6.0},
        {"threshold": 1.0},
        {"negative_slope": 0.5, "max_value": 5.0, "threshold": 1.0},
        {"max_value": 0.0},
    ],
)
def test_relu_options_follow_keras_formula(kwargs):
    slope, cap, t = (
        kwargs.get("negative_slope", 0.0),
        kwargs.get("max_value"),
        kwargs.get("threshold", 0.0),
    )
    expected = np.where(X > t, X, 0.0)
    if cap is not None:
        expected = np.minimum(expected, cap)
    expected = expected - slope * np.maximum(t - X, 0.0)
    np.testing.assert_allclose(activations.relu(X, **kwargs), expected, rtol=1e-15)


def test_leaky_relu_elu_gelu_options():
    np.testing.assert_allclose(
        activations.leaky_relu(X, negative_slope=0.3), np.where(X >= 0, X, 0.3 * X)
    )
    np.testing.assert_allclose(
        activations.elu(X, alpha=2.0), np.where(X > 0, X, 2.0 * np.expm1(np.minimum(X, 0)))
    )
    tanh_form = 0.5 * X * (1 + np.tanh(np.sqrt(2 / np.pi) * (X + 0.044715 * X**3)))
    np.testing.assert_allclose(activations.gelu(X, approximate=True), tanh_form, rtol=1e-15)
    assert np.max(np.abs(activations.gelu(X, approximate=True) - activations.gelu(X))) < 1e-3


def test_softmax_axis():
    x = np.random.default_rng(6).normal(size=(3, 4, 5))
    for axis in (0, 1, -1, 2, -3):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        np.testing.assert_allclose(
            activations.softmax(x, axis=axis), e / e.sum(axis=axis, keepdims=True), rtol=1e-12
        )
    with pytest.raises(ValueError, match=r"axis must be an integer in \[-3, 3\).*axis=3"):
        activations.softmax(x, axis=3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: activations.relu(X, negative_slope=-1.0), "negative_slope"),
        (lambda: activations.relu(X, max_value=-1.0), "max_value"),
        (lambda: activations.relu(X, threshold="a"), "threshold"),
        (lambda: activations.leaky_relu(X, negative_slope=None), "negative_slope"),
        (lambda: activations.elu(X, alpha=float("nan")), "alpha"),
        (lambda: activations.gelu(X, approximate="yes"), "approximate"),
    ],
)
def test_bad_options_name_themselves(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# --- get / serialize as Keras --------------------------------------------------------------------


def test_get_returns_the_functions():
    assert activations.get("relu") is activations.relu
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu is activations.swish
    assert activations.get(activations.tanh) is activations.tanh
    assert activations.get("GELU") is activations.gelu
    assert activations.get({"class_name": "function", "config": "elu"}) is activations.elu
    assert activations.get({"name": "elu"}) is activations.elu

    def mine(x):
        return x

    assert activations.get(mine) is mine
    assert set(activations.names()) == set(NAMES) == set(kernels.ACTIVATIONS)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="relu") as info:
        activations.get("swishy")
    assert "swishy" in str(info.value)
    with pytest.raises(TypeError, match="activation"):
        activations.get(3)
    with pytest.raises(ValueError, match="activation must be one of"):
        kernels.activation_forward("swishy", np.zeros(2))


def test_serialize_round_trip():
    for name in NAMES:
        function = activations.get(name)
        expected = "silu" if name == "swish" else name  # Keras stores swish as "silu"
        assert activations.serialize(function) == expected
        assert activations.deserialize(activations.serialize(function)) is function
    with pytest.raises(ValueError, match="serialized"):
        activations.serialize(lambda x: x)


# --- Keras 3.15 itself (recorded by tests/fixtures/record_keras_activations_losses.py) --------

KERAS = json.loads(
    (Path(__file__).parent / "fixtures" / "keras_activations_losses.json").read_text()
)["activations"]


@pytest.mark.parametrize(
    "case",
    KERAS["cases"],
    ids=lambda c: c["name"] + "".join(f"-{k}={v}" for k, v in c["options"].items()),
)
def test_matches_keras(case):
    """Outputs of keras.activations.<name>(x, **options) and, for the names a layer uses, the
    gradient Keras's autograd gives, in float32 (float32 tolerance)."""
    x = np.array(KERAS["x"], np.float32)
    y = getattr(activations, case["name"])(x, **case["options"])
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, case["y"], rtol=1e-5, atol=1e-6)
    if not case["options"]:
        grad_y = np.array(KERAS["grad_y"], np.float32)
        grad = kernels.activation_backward(case["name"], y, grad_y, z=x)
        np.testing.assert_allclose(grad, case["grad_x"], rtol=1e-5, atol=1e-6)


def test_every_activation_has_a_keras_case():
    assert {c["name"] for c in KERAS["cases"]} == set(NAMES)
