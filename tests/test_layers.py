"""Layers: gradients vs central finite differences in float64, dropout statistics, config."""

import numpy as np
import pytest

from nastoolkit import kernels
from nastoolkit.layers import Activation, Dense, Dropout, deserialize, serialize
from nastoolkit.regularizers import L1, L2

ACTS = ["linear", "relu", "tanh", "sigmoid", "softmax", "leaky_relu", "elu"]


def _objective(layer, x, g):
    """A scalar L = sum(g * layer(x)) whose gradient w.r.t. the output is exactly g."""
    return float(np.sum(g * layer.forward(x)))


def _numeric_grad(f, array, eps=1e-6):
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        old = array[i]
        array[i] = old + eps
        up = f()
        array[i] = old - eps
        down = f()
        array[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("activation", ACTS)
def test_dense_gradients_match_finite_differences(activation):
    rng = np.random.default_rng(1)
    layer = Dense(4, activation=activation)
    x = rng.standard_normal((6, 5))
    layer.build(x.shape, rng=0, dtype="float64")
    layer.bias[...] = rng.standard_normal(4) * 0.1
    g = rng.standard_normal((6, 4))
    layer.forward(x)
    grad_x = layer.backward(g.copy())
    f = lambda: _objective(layer, x, g)
    np.testing.assert_allclose(layer.grads["kernel"], _numeric_grad(f, layer.kernel), atol=1e-7)
    np.testing.assert_allclose(layer.grads["bias"], _numeric_grad(f, layer.bias), atol=1e-7)
    np.testing.assert_allclose(grad_x, _numeric_grad(f, x), atol=1e-7)


@pytest.mark.parametrize("regularizer", [L2(0.3), L1(0.2)])
def test_dense_regularizer_gradient_is_added(regularizer):
    rng = np.random.default_rng(2)
    layer = Dense(3, kernel_regularizer=regularizer, bias_regularizer=L2(0.5))
    x = rng.standard_normal((4, 2))
    layer.build(x.shape, rng=0, dtype="float64")
    layer.bias[...] = [0.3, -0.2, 0.5]
    g = rng.standard_normal((4, 3))
    layer.forward(x)
    layer.backward(g.copy())
    f = lambda: _objective(layer, x, g) + layer.regularization_penalty()
    np.testing.assert_allclose(layer.grads["kernel"], _numeric_grad(f, layer.kernel), atol=1e-7)
    np.testing.assert_allclose(layer.grads["bias"], _numeric_grad(f, layer.bias), atol=1e-7)


def test_l2_penalty_is_lambda_sum_of_squares():
    layer = Dense(2, kernel_regularizer=L2(0.1))
    layer.build((1, 3), rng=0, dtype="float64")
    assert layer.regularization_penalty() == pytest.approx(0.1 * np.sum(layer.kernel**2))


def test_activation_layer_gradient():
    rng = np.random.default_rng(3)
    for name in ACTS:
        layer = Activation(name)
        x = rng.standard_normal((3, 5))
        layer.build(x.shape, dtype="float64")
        g = rng.standard_normal((3, 5))
        layer.forward(x)
        grad_x = layer.backward(g.copy())
        np.testing.assert_allclose(
            grad_x,
            _numeric_grad(lambda layer=layer, x=x, g=g: _objective(layer, x, g), x),
            atol=1e-7,
            err_msg=name,
        )


def test_dropout_keeps_expectation_and_is_identity_in_inference():
    layer = Dropout(0.3, seed=7)
    x = np.ones((400, 250))
    layer.build(x.shape, dtype="float64")
    out = layer.forward(x, training=True)
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.7)
    assert abs(out.mean() - 1.0) < 0.01
    g = np.full_like(x, 2.0)  # backward multiplies by the same mask
    np.testing.assert_array_equal(layer.backward(g.copy()), 2.0 * out)
    assert layer.forward(x, training=False) is x


def test_dropout_mask_stream_is_seeded_and_advances():
    a, b = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    x = np.ones((8, 16))
    for layer in (a, b):
        layer.build(x.shape, dtype="float64")
    first = a.forward(x, training=True).copy()
    np.testing.assert_array_equal(first, b.forward(x, training=True))
    assert not np.array_equal(first, a.forward(x, training=True))  # next call, next mask
    expected, _ = kernels.dropout(x, 0.5, 3, 0)
    np.testing.assert_array_equal(first, expected)


@pytest.mark.parametrize("bad", [-0.1, 1.0, "half", True])
def test_dropout_rejects_bad_rate(bad):
    with pytest.raises(ValueError, match="rate"):
        Dropout(bad)


@pytest.mark.parametrize("bad", [0, -3, 2.5, None])
def test_dense_rejects_bad_units(bad):
    with pytest.raises(ValueError, match="units"):
        Dense(bad)


def test_dense_rejects_unknown_activation():
    with pytest.raises(ValueError, match="relux"):
        Dense(3, activation="relux")


def test_standalone_call_and_wrong_width():
    layer = Dense(3, input_shape=(4,))
    y = layer(np.ones((2, 4)))
    assert y.shape == (2, 3)
    with pytest.raises(ValueError, match="width"):
        Dense(3, input_shape=(4,)).build((2, 5))


def test_weights_roundtrip_and_count():
    layer = Dense(3)
    layer.build((1, 4), rng=0)
    assert layer.count_params() == 4 * 3 + 3
    w = [np.full((4, 3), 0.5, np.float32), np.arange(3, dtype=np.float32)]
    layer.set_weights(w)
    for got, want in zip(layer.get_weights(), w):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="shape"):
        layer.set_weights([np.zeros((3, 3)), np.zeros(3)])


def test_config_roundtrip():
    layer = Dense(
        5,
        activation="tanh",
        kernel_regularizer=L2(0.02),
        use_bias=False,
        input_shape=(7,),
        name="hidden",
    )
    clone = deserialize(serialize(layer))
    assert clone.get_config() == layer.get_config()
    drop = deserialize(serialize(Dropout(0.25, seed=1)))
    assert drop.rate == 0.25 and drop.seed == 1


def test_dropout_block_masks_equal_per_call_masks_across_refills_and_reseeds():
    """Inside a model the masks come from precomputed blocks; they must be the per-call masks."""
    layer = Dropout(0.4, seed=11)
    layer.build((5, 300), dtype="float32")
    layer.prepare(5)
    x = np.random.default_rng(0).standard_normal((5, 300)).astype(np.float32)
    for call in range(60):
        rows = 5 if call % 7 else 3  # partial batches use the first rows of the mask
        out = layer.forward(x[:rows], training=True).copy()
        want, _ = kernels.dropout(x[:rows], 0.4, 11, call)
        np.testing.assert_array_equal(out, want)
    assert layer._block_len < 60  # the loop crossed block boundaries
    layer.reseed(99)
    want, _ = kernels.dropout(x, 0.4, layer.seed, 0)
    np.testing.assert_array_equal(layer.forward(x, training=True), want)


def test_dropout_masks_kernel_matches_dropout():
    masks = kernels.dropout_masks(4, 9, 0.3, 5, 10, 3, "float64", like=np.empty(0))
    for k in range(3):
        _, mask = kernels.dropout(np.ones((4, 9)), 0.3, 5, 10 + k)
        np.testing.assert_array_equal(masks[k], mask)


def test_keras_style_input_fixes_the_width():
    from nastoolkit.layers import Input
    from nastoolkit.models import Sequential

    model = Sequential([Input(shape=(4,)), Dense(3, activation="relu"), Dense(1)], seed=0)
    assert model.count_params() == 4 * 3 + 3 + 3 + 1
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((8, 4))
    model.fit(x, np.zeros((8, 1)), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="expects 4"):
        model.predict(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="shape"):
        Input(shape=None)


def test_input_model_save_load(tmp_path):
    from nastoolkit.layers import Input
    from nastoolkit.models import Sequential, load_model

    model = Sequential([Input(shape=(2,)), Dense(2)], seed=1)
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "m.npz")
    x = np.ones((3, 2))
    np.testing.assert_array_equal(load_model(tmp_path / "m.npz").predict(x), model.predict(x))
