"""Sequential and its layers against Keras 3.15's recorded behaviour (tests/fixtures/
keras_model.json, written by record_keras_model.py): one SGD step with sample and class weights,
stop_training timing, Flatten, Dropout noise_shape, built/shape semantics, errors, config keys;
plus finite differences of ``loss_and_gradients`` with sample weights."""

import inspect
import json
from pathlib import Path

import numpy as np
import pytest

from nastoolkit import metrics as metrics_module
from nastoolkit.callbacks import Callback
from nastoolkit.layers import Activation, Dense, Dropout, Flatten, Input, InputLayer
from nastoolkit.models import Sequential
from nastoolkit.optimizers import SGD

KERAS = json.loads((Path(__file__).parent / "fixtures" / "keras_model.json").read_text())
# weighted_metrics need Metric.update(..., sample_weight=) (interface 3)
METRICS_TAKE_WEIGHTS = "sample_weight" in inspect.signature(metrics_module.Metric.update).parameters


def _step_model(case, weighted_metrics=True):
    weights = [np.asarray(w, "float32") for w in case["weights"]]
    units = weights[-1].shape[0]
    model = Sequential(
        [
            Input(shape=(4,)),
            Dense(5, activation="tanh"),
            Dense(units, activation=case["output_activation"]),
        ]
    )
    model.set_weights(weights)
    metric = "mae" if case["loss"] == "mse" else "accuracy"
    model.compile(
        optimizer=SGD(learning_rate=case["learning_rate"]),
        loss=case["loss"],
        weighted_metrics=[metric] if weighted_metrics and METRICS_TAKE_WEIGHTS else None,
    )
    return model


@pytest.mark.parametrize("case", KERAS["steps"], ids=lambda c: c["name"])
def test_one_sgd_step_with_sample_or_class_weights_matches_keras(case):
    model = _step_model(case)
    x, y = np.asarray(case["x"], "float32"), np.asarray(case["y"])
    class_weight = None
    if case["class_weight"] is not None:
        class_weight = {int(k): v for k, v in case["class_weight"].items()}
    history = model.fit(
        x,
        y,
        batch_size=len(x),
        epochs=1,
        shuffle=False,
        verbose=0,
        sample_weight=case["sample_weight"],
        class_weight=class_weight,
    )
    for got, want in zip(model.get_weights(), case["weights_after"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    for key, values in case["history"].items():
        if key in history.history:
            np.testing.assert_allclose(history.history[key], values, rtol=1e-5, err_msg=key)
    assert "loss" in history.history
    evaluated = model.evaluate(
        x, y, sample_weight=case["evaluate_sample_weight"], verbose=0, return_dict=True
    )
    for key, value in case["evaluate"].items():
        if key in evaluated:
            np.testing.assert_allclose(evaluated[key], value, rtol=1e-5, err_msg=key)


def test_sample_weights_change_the_step_and_zero_weight_samples_do_not_count():
    case = next(c for c in KERAS["steps"] if c["name"] == "mse_sample_weight")
    x, y = np.asarray(case["x"], "float32"), np.asarray(case["y"], "float32")
    w = np.asarray(case["sample_weight"], "float32")
    keep = w > 0
    full = _step_model(case, weighted_metrics=False)
    full.fit(x, y, batch_size=len(x), shuffle=False, verbose=0, sample_weight=w)
    # dropping the zero-weight sample leaves the weighted sum unchanged, but Keras's
    # sum_over_batch_size divides by the batch size: scale the rest by n / (n - 1) to match
    part = _step_model(case, weighted_metrics=False)
    part.fit(
        x[keep],
        y[keep],
        batch_size=int(keep.sum()),
        shuffle=False,
        verbose=0,
        sample_weight=w[keep] * keep.sum() / len(w),
    )
    for a, b in zip(full.get_weights(), part.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_class_weight_equals_the_sample_weights_it_implies():
    case = next(c for c in KERAS["steps"] if c["name"] == "scce_class_weight_labels")
    x, labels = np.asarray(case["x"], "float32"), np.asarray(case["y"])
    by_class = _step_model(case, weighted_metrics=False)
    by_class.fit(x, labels, batch_size=6, shuffle=False, verbose=0, class_weight={0: 2.0, 2: 0.25})
    by_sample = _step_model(case, weighted_metrics=False)
    by_sample.fit(
        x,
        labels,
        batch_size=6,
        shuffle=False,
        verbose=0,
        sample_weight=np.array([{0: 2.0, 2: 0.25}.get(c, 1.0) for c in labels]),
    )
    for a, b in zip(by_class.get_weights(), by_sample.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "loss,act,units",
    [
        ("mse", "linear", 2),
        ("categorical_crossentropy", "softmax", 3),
        ("binary_crossentropy", "sigmoid", 1),
    ],
)
def test_loss_and_gradients_with_sample_weights_match_finite_differences(loss, act, units):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 3))
    if loss == "categorical_crossentropy":
        y = np.eye(3)[rng.integers(0, 3, 7)]
    elif loss == "binary_crossentropy":
        y = (rng.random((7, 1)) > 0.5).astype(float)
    else:
        y = rng.standard_normal((7, units))
    w = rng.random(7) * 2
    model = Sequential(
        [Dense(4, activation="tanh", input_shape=(3,)), Dense(units, activation=act)],
        seed=1,
        dtype="float64",
    )
    model.compile(optimizer="sgd", loss=loss)
    y = model.loss.check_targets(y, units)
    value, grad = model.loss_and_gradients(x, y, sample_weight=w)
    numeric = np.zeros_like(grad)
    eps = 1e-6
    for i in range(model.params.size):
        keep = model.params[i]
        model.params[i] = keep + eps
        plus, _ = model.loss_and_gradients(x, y, sample_weight=w)
        model.params[i] = keep - eps
        minus, _ = model.loss_and_gradients(x, y, sample_weight=w)
        model.params[i] = keep
        numeric[i] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    unweighted, _ = model.loss_and_gradients(x, y)
    assert value != pytest.approx(unweighted)  # the weights were used


@pytest.mark.parametrize("case", KERAS["stop_training"], ids=lambda c: c["hook"])
def test_stop_training_in_a_batch_hook_stops_after_that_batch_as_keras(case):
    class Stopper(Callback):
        def __init__(self):
            super().__init__()
            self.epoch, self.seen = 0, []

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            self.seen.append(["begin", self.epoch, batch])
            if case["hook"] == "on_train_batch_begin" and (self.epoch, batch) == (
                case["epoch"],
                case["batch"],
            ):
                self.model.stop_training = True

        def on_train_batch_end(self, batch, logs=None):
            self.seen.append(["end", self.epoch, batch])
            if case["hook"] == "on_train_batch_end" and (self.epoch, batch) == (
                case["epoch"],
                case["batch"],
            ):
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append(["epoch_end", epoch, None])

    x = np.random.default_rng(2).standard_normal((20, 3))
    model = Sequential([Input(shape=(3,)), Dense(1)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    stopper = Stopper()
    history = model.fit(
        x, x[:, :1], batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=[stopper]
    )
    assert stopper.seen == case["events"]
    assert history.epoch == case["history_epochs"]


def test_flatten_matches_keras_and_lets_a_model_take_images():
    rec = KERAS["flatten"]
    x = np.asarray(rec["x"], "float32")
    np.testing.assert_array_equal(Flatten()(x), np.asarray(rec["output"], "float32"))
    assert list(Flatten().compute_output_shape((None, 3, 4))) == rec["layer_output_shape"]
    model = Sequential([Flatten(input_shape=(3, 4)), Dense(2)], seed=0)
    assert model.built == rec["model_built"]
    assert list(model.input_shape) == rec["model_input_shape"]
    assert list(model.output_shape) == rec["model_output_shape"]
    images = np.random.default_rng(0).standard_normal((16, 3, 4))
    targets = images.reshape(16, -1)[:, :2]
    model.compile(optimizer=SGD(learning_rate=0.05), loss="mse")
    before = model.evaluate(images, targets, verbose=0)
    model.fit(images, targets, epochs=20, batch_size=4, verbose=0, seed=0)
    assert model.evaluate(images, targets, verbose=0) < before
    np.testing.assert_allclose(
        model.predict(images),
        images.reshape(16, -1) @ model.layers[1].kernel + model.layers[1].bias,
        rtol=1e-5,
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="expects"):
        model.predict(np.zeros((2, 4, 3)))


@pytest.mark.parametrize("case", KERAS["noise_shape"], ids=lambda c: str(c["noise_shape"]))
def test_dropout_noise_shape_broadcasts_the_mask_as_keras(case):
    layer = Dropout(case["rate"], noise_shape=tuple(case["noise_shape"]), seed=3)
    out = layer(np.ones(case["x_shape"], "float32"), training=True)
    assert bool((out == out[:, :1]).all()) == case["rows_constant"]
    assert bool((out == out[:1, :]).all()) == case["columns_constant"]
    assert sorted({float(v) for v in np.unique(out)}) == case["values"]
    grad = layer.backward(np.ones_like(out))
    np.testing.assert_array_equal(grad, out)  # d(x * mask)/dx = mask


def test_dropout_noise_shape_inside_a_model_and_bad_shapes():
    model = Sequential([Input(shape=(6,)), Dropout(0.5, noise_shape=(None, 1)), Dense(1)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 6)), np.ones((8, 1)), epochs=1, batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="noise_shape"):
        Dropout(0.5, noise_shape="rows")
    with pytest.raises(ValueError, match="noise_shape"):
        Sequential([Input(shape=(6,)), Dropout(0.5, noise_shape=(None, 4))])


def test_sequential_shapes_layers_pop_and_from_config_as_keras():
    rec = KERAS["sequential"]
    assert Sequential([Dense(3, input_shape=(2,)), Dense(1)]).built == rec["input_shape_arg_built"]
    assert Sequential([Dense(3)]).built == rec["no_shape_built"]
    model = Sequential([Input(shape=(2,)), Dense(3), Dense(4)], seed=0)
    assert model.built == rec["input_model_built"]
    assert len(model.layers) == rec["layers_len"]
    assert [type(layer).__name__ for layer in model.layers] == rec["layer_classes"]
    assert len(model.weights) == rec["weights_len"]
    assert [list(w.shape) for w in model.weights] == rec["weights_shapes"]
    assert list(model.input_shape) == rec["input_shape"]
    assert list(model.output_shape) == rec["output_shape"]
    assert list(model.compute_output_shape((None, 2))) == rec["compute_output_shape"]
    clone = Sequential.from_config(model.get_config())
    assert clone.built == rec["from_config_built"]
    first = model.get_weights()[:2]
    popped = model.pop()
    assert type(popped).__name__ == rec["popped_class"]
    assert len(model.layers) == rec["after_pop_layers_len"]
    assert model.built == rec["after_pop_built"]
    assert list(model.output_shape) == rec["after_pop_output_shape"]
    assert len(model.weights) == rec["after_pop_weights_len"]
    for a, b in zip(model.get_weights(), first):
        np.testing.assert_array_equal(a, b)  # the remaining layer kept its weights
    error = {"AttributeError": AttributeError}[rec["unbuilt_input_shape_error"]]
    with pytest.raises(error):
        Sequential([Dense(3)]).input_shape  # noqa: B018


def test_building_one_layer_at_a_time_initialises_as_building_at_once():
    at_once = Sequential([Dense(4, input_shape=(3,)), Dropout(0.2), Dense(2)], seed=7)
    one_by_one = Sequential(seed=7)
    for layer in (Dense(4, input_shape=(3,)), Dropout(0.2), Dense(2)):
        one_by_one.add(layer)
        assert one_by_one.built
    for a, b in zip(at_once.get_weights(), one_by_one.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert at_once.layers[1].seed == one_by_one.layers[1].seed
    trained = one_by_one.get_weights()
    one_by_one.set_weights([w + 1 for w in trained])
    one_by_one.add(Dense(1))  # weights that were set are kept when the model grows
    for a, b in zip(one_by_one.get_weights(), trained):
        np.testing.assert_array_equal(a, b + 1)


@pytest.mark.parametrize(
    "what", ["duplicate_names", "second_input", "class_weight_and_sample_weight"]
)
def test_errors_have_keras_types(what):
    expected = {"ValueError": ValueError, "TypeError": TypeError}[KERAS["errors"][what]]
    with pytest.raises(expected) as info:
        if what == "duplicate_names":
            Sequential([Input(shape=(2,)), Dense(2, name="d"), Dense(2, name="d")])
        elif what == "second_input":
            Sequential([Input(shape=(2,)), Input(shape=(2,)), Dense(2)])
        else:
            model = Sequential([Input(shape=(2,)), Dense(2)])
            model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
            model.fit(
                np.zeros((4, 2)),
                np.zeros(4, int),
                sample_weight=np.ones(4),
                class_weight={0: 1.0},
                verbose=0,
            )
    assert any(word in str(info.value) for word in ("unique", "Input", "class_weight"))


@pytest.mark.parametrize("name", ["Dense", "Dropout", "Activation", "Flatten", "InputLayer"])
def test_get_config_uses_keras_keys(name):
    layer = {
        "Dense": lambda: Dense(3),
        "Dropout": lambda: Dropout(0.5),
        "Activation": lambda: Activation("relu"),
        "Flatten": Flatten,
        "InputLayer": lambda: InputLayer(shape=(3,)),
    }[name]()
    ours = set(layer.get_config())
    assert ours <= set(KERAS["config_keys"][name]), ours - set(KERAS["config_keys"][name])
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()


def test_the_fused_output_gradient_is_an_argument_not_layer_state():
    layer = Dense(3, activation="softmax")
    x = np.random.default_rng(0).standard_normal((4, 2))
    layer(x)
    assert not hasattr(layer, "loss_fuses_activation")
    g = np.random.default_rng(1).standard_normal((4, 3))
    fused = layer.backward(g.copy(), activation_fused=True)
    np.testing.assert_allclose(fused, g @ layer.kernel.T)  # the linear part only
    plain = layer.backward(g.copy())
    assert not np.allclose(plain, fused)


def test_validation_data_with_weights_and_a_split_that_keeps_them():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 2)), rng.standard_normal((20, 1))
    w = rng.random(20)
    model = Sequential([Input(shape=(2,)), Dense(1)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    h = model.fit(x[:15], y[:15], epochs=1, verbose=0, validation_data=(x[15:], y[15:], w[15:]))
    expected = model.evaluate(x[15:], y[15:], sample_weight=w[15:], verbose=0)
    assert h.history["val_loss"][0] == pytest.approx(expected, rel=1e-6)
    model2 = Sequential([Input(shape=(2,)), Dense(1)], seed=0)
    model2.compile(optimizer="sgd", loss="mse")
    h2 = model2.fit(
        x, y, epochs=1, verbose=0, sample_weight=w, validation_split=0.25, shuffle=False
    )
    assert h2.history["val_loss"][0] == pytest.approx(
        model2.evaluate(x[15:], y[15:], sample_weight=w[15:], verbose=0), rel=1e-6
    )
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(x, y, sample_weight=w[:5], verbose=0)
    with pytest.raises(TypeError, match="class_weight"):
        model.fit(x, y, class_weight=[1.0], verbose=0)


def test_build_is_idempotent_and_pop_on_an_empty_model_is_an_index_error():
    model = Sequential([Input(shape=(2,)), Dense(2)], seed=0)
    params = model.params
    model.build((None, 2))
    assert model.params is params  # the optimizer's state keeps pointing at the live weights
    with pytest.raises(ValueError, match="input_shape"):
        model.build((None, 3))
    model.pop()
    with pytest.raises(IndexError, match="no layers"):
        model.pop()


@pytest.mark.parametrize("activation", ["gelu", "silu", "selu", "softplus", "elu"])
def test_model_gradients_through_every_hidden_activation_match_finite_differences(activation):
    """gelu/silu keep their pre-activation z (kernels.NEEDS_PREACTIVATION), in Dense and in
    Activation layers; the others derive from the output."""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    model = Sequential(
        [
            Dense(4, activation=activation, input_shape=(3,)),
            Dense(3),
            Activation(activation),
            Dense(2),
        ],
        seed=0,
        dtype="float64",
    )
    model.compile(optimizer="sgd", loss="mse")
    _, grad = model.loss_and_gradients(x, y)
    numeric = np.zeros_like(grad)
    for i in range(model.params.size):
        keep = model.params[i]
        model.params[i] = keep + 1e-6
        plus, _ = model.loss_and_gradients(x, y)
        model.params[i] = keep - 1e-6
        minus, _ = model.loss_and_gradients(x, y)
        model.params[i] = keep
        numeric[i] = (plus - minus) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_history_comes_after_the_users_callbacks_and_records_what_they_add():
    class AddsKey(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["seen_by_history"] = float(epoch)

    model = Sequential([Input(shape=(2,)), Dense(1)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.ones((4, 2)), np.ones(4), epochs=2, verbose=0, callbacks=[AddsKey()])
    assert history.history["seen_by_history"] == [0.0, 1.0]
    assert model.history is history


def test_a_seeded_fit_redraws_only_weights_nobody_has_seen():
    def model():
        m = Sequential([Input(shape=(2,)), Dense(3), Dense(1)], seed=0)
        m.compile(optimizer="sgd", loss="mse")
        return m

    x, y = np.ones((4, 2)), np.ones(4)
    seen = model()
    before = seen.get_weights()
    seen.fit(x, y, epochs=0, verbose=0, seed=5)  # epochs=0: starts a run, trains nothing
    for a, b in zip(seen.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # the weights the user looked at are the start
    unseen, by_seed = model(), Sequential([Input(shape=(2,)), Dense(3), Dense(1)], seed=5)
    unseen.fit(x, y, epochs=0, verbose=0, seed=5)
    for a, b, c in zip(unseen.get_weights(), by_seed.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # one seed fixes the whole run (as NAS relies on)
        assert not np.array_equal(a, c) or not c.any()  # kernels differ (biases start at 0)


def test_class_weight_weighs_training_samples_only_as_keras():
    rec = KERAS["class_weight_split"]
    weights = [np.asarray(w, "float32") for w in rec["weights"]]
    model = Sequential([Input(shape=(4,)), Dense(5, activation="tanh"), Dense(3, "softmax")])
    model.set_weights(weights)
    model.compile(optimizer=SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    history = model.fit(
        np.asarray(rec["x"], "float32"),
        np.asarray(rec["y"]),
        batch_size=6,
        shuffle=False,
        verbose=0,
        validation_split=rec["validation_split"],
        class_weight={int(k): v for k, v in rec["class_weight"].items()},
    )
    for key, values in rec["history"].items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-5, err_msg=key)
    for got, want in zip(model.get_weights(), rec["weights_after"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", KERAS["noise_shape_nd"], ids=lambda c: str(c["noise_shape"]))
def test_dropout_noise_shape_on_3d_inputs_shares_draws_as_keras(case):
    """An axis of size 1 in noise_shape shares one draw along it (Keras's recorded masks are
    constant there too); other axes draw apart; the kept values are 1 / (1 - rate)."""
    shared = {axis for axis, size in enumerate(case["noise_shape"]) if size == 1}
    assert shared <= set(case["constant_axes"])
    layer = Dropout(case["rate"], noise_shape=tuple(case["noise_shape"]), seed=3)
    x = np.ones(case["x_shape"], "float32")
    out = layer(x, training=True)
    constant = {a for a in range(3) if (out == np.take(out, [0], axis=a)).all()}
    assert constant == shared
    assert set(np.unique(out).tolist()) <= {0.0, 2.0}
    np.testing.assert_array_equal(layer.backward(np.ones_like(out)), out)


def test_dense_on_3d_inputs_transforms_the_last_axis_as_keras():
    """Keras's Dense on (batch, 3, 4): same output, output shape and input gradient."""
    rec = KERAS["dense_nd"]
    layer = Dense(5, activation="tanh")
    x = np.asarray(rec["x"], "float32")
    layer.build(x.shape)
    layer.set_weights([np.asarray(rec["kernel"]), np.asarray(rec["bias"])])
    assert layer.compute_output_shape((None, 3, 4)) == tuple(rec["output_shape"])
    np.testing.assert_allclose(layer(x), rec["output"], rtol=1e-6, atol=1e-6)
    grad_x = layer.backward(np.asarray(rec["g"], "float32"))
    np.testing.assert_allclose(grad_x, rec["grad_x"], rtol=1e-5, atol=1e-6)


def test_model_with_dense_on_3d_inputs_trains_and_its_gradient_is_exact():
    """Input (3, 4) -> Dense -> Dropout(noise_shape) -> Flatten -> Dense: the whole-model
    gradient against central finite differences in float64, and fit lowers the loss."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3, 4)), rng.normal(size=(6, 1))
    model = Sequential(
        [Input(shape=(3, 4)), Dense(5, activation="tanh"), Flatten(), Dense(1)],
        seed=0,
        dtype="float64",
    )
    model.compile(optimizer="sgd", loss="mse")
    _, grad = model.loss_and_gradients(x, y)
    numeric = np.zeros_like(model.params)
    for i in range(model.params.size):
        old = model.params[i]
        model.params[i] = old + 1e-6
        up = model.loss_and_gradients(x, y)[0]
        model.params[i] = old - 1e-6
        down = model.loss_and_gradients(x, y)[0]
        model.params[i] = old
        numeric[i] = (up - down) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    dropped = Sequential(
        [
            Input(shape=(3, 4)),
            Dense(8, activation="relu"),
            Dropout(0.2, noise_shape=(None, 1, None)),
            Flatten(),
            Dense(1),
        ],
        seed=0,
    )
    dropped.compile(optimizer="adam", loss="mse")
    history = dropped.fit(x, y, epochs=30, batch_size=4, verbose=0).history["loss"]
    assert history[-1] < history[0]


def test_model_with_a_3d_output_predicts_it_and_fit_says_what_to_change():
    model = Sequential([Input(shape=(3, 4)), Dense(2)], seed=0)
    x = np.random.default_rng(1).normal(size=(5, 3, 4)).astype("float32")
    assert model.output_shape == (None, 3, 2)
    np.testing.assert_allclose(model.predict(x), x @ model.layers[0].kernel, atol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    for call in (
        lambda: model.fit(x, np.zeros((5, 3, 2)), verbose=0),
        lambda: model.evaluate(x, np.zeros((5, 3, 2)), verbose=0),
    ):
        with pytest.raises(ValueError, match=r"per-sample output shape \(3, 2\).*Flatten"):
            call()


def test_engine_leaves_dense_on_3d_inputs_to_the_numpy_path(monkeypatch):
    """The compiled engine lays out flat rows only: it names the layer, and fit opted into the
    engine trains such a model on the NumPy path, with the same weights as without the switch."""
    from nastoolkit import engine

    def model():
        net = Sequential(
            [Input(shape=(3, 4)), Dense(5, activation="relu"), Flatten(), Dense(1)], seed=0
        )
        net.compile(optimizer="adam", loss="mse")
        return net

    assert "on inputs of shape (3, 4)" in engine.unsupported_reason(model())
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(20, 3, 4)), rng.normal(size=(20, 1))
    plain = model()
    plain.fit(x, y, epochs=2, batch_size=8, verbose=0)
    monkeypatch.setenv(engine.FIT_SWITCH, "1")
    switched = model()
    switched.fit(x, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(switched.params, plain.params)
