"""The compiled training engine (csrc/cpu/engine.cpp) against the NumPy path, step by step.

The reference is ``Sequential.train_step`` on the same batches (the NumPy path ``fit`` runs): a
model trained by the engine and its twin trained by ``train_step`` must hold the same parameters
after every step (float64: to 1e-9 relative; the GEMMs sum in another order) and after a whole
epoch (float32: to float32 rounding), for every supported layer, activation, loss, optimizer and
regularizer, with dropout off and on, odd widths and a short last batch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nastoolkit import callbacks, engine, layers, losses, optimizers, regularizers, schedules
from nastoolkit.kernels import _engine
from nastoolkit.models import Sequential

pytestmark = pytest.mark.skipif(
    not _engine.available(), reason=f"compiled engine unavailable: {_engine.reason()}"
)


@dataclass
class Case:
    """A model recipe: layers, loss, optimizer and data shape (features, outputs, targets)."""

    name: str
    make_layers: object
    loss: object = "mse"
    optimizer: object = "adam"
    features: tuple = (6,)
    targets: str = "real"  # real | binary | onehot | labels
    rows: int = 37
    batch_size: int = 8
    weighted: bool = False
    extra: dict = field(default_factory=dict)

    def __str__(self):
        return self.name


def _mlp(activation, out_activation=None, units=(7, 3)):
    return lambda: [
        layers.Dense(units[0], activation=activation),
        layers.Dense(units[1], activation=out_activation),
    ]


CASES = [
    Case(
        "seed",
        lambda: [
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(32, activation="relu"),
            layers.Dense(1),
        ],
        features=(10,),
        rows=203,
        batch_size=32,
    ),
    *[
        Case(
            f"act-{name}",
            _mlp(name, name if name != "exponential" else None),
            optimizer=optimizers.SGD(0.05, momentum=0.9),
        )
        for name in (
            "linear",
            "relu",
            "tanh",
            "sigmoid",
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
            "softmax",
        )
    ],
    Case(
        "activation-layers",
        lambda: [
            layers.Dense(5),
            layers.Activation("gelu"),
            layers.Dense(2),
            layers.Activation("tanh"),
        ],
    ),
    Case(
        "flatten",
        lambda: [layers.Flatten(), layers.Dense(5, activation="elu"), layers.Dense(2)],
        features=(3, 4),
    ),
    Case(
        "dropout-first",
        lambda: [
            layers.Dropout(0.3),
            layers.Dense(9, activation="relu"),
            layers.Dropout(0.0),
            layers.Dense(2),
        ],
    ),
    Case(
        "dropout-last",
        lambda: [
            layers.Dense(17, activation="tanh"),
            layers.Dropout(0.2),
            layers.Dense(1),
            layers.Dropout(0.25),
        ],
    ),
    Case(
        "no-bias",
        lambda: [
            layers.Dense(33, activation="relu", use_bias=False),
            layers.Dense(2, use_bias=False),
        ],
    ),
    Case("mae", _mlp("tanh"), loss="mae"),
    Case("huber", _mlp("tanh"), loss=losses.Huber(delta=0.5)),
    Case(
        "mse-sum",
        _mlp("relu"),
        loss=losses.MeanSquaredError(reduction="sum"),
        optimizer=optimizers.SGD(0.001),
    ),
    Case("mse-weighted", _mlp("relu"), weighted=True),
    Case(
        "bce-fused",
        _mlp("relu", "sigmoid"),
        targets="binary",
        loss=losses.BinaryCrossentropy(label_smoothing=0.1),
    ),
    Case(
        "bce-logits",
        _mlp("relu"),
        targets="binary",
        loss=losses.BinaryCrossentropy(from_logits=True),
    ),
    Case(
        "bce-mean-with-sample-weight",
        _mlp("relu", "sigmoid"),
        targets="binary",
        weighted=True,
        loss=losses.BinaryCrossentropy(reduction="mean_with_sample_weight"),
    ),
    Case(
        "cce-fused",
        _mlp("relu", "softmax", (8, 4)),
        targets="onehot",
        loss=losses.CategoricalCrossentropy(label_smoothing=0.2),
    ),
    Case(
        "cce-activation-layer",
        lambda: [layers.Dense(8, activation="relu"), layers.Dense(4), layers.Activation("softmax")],
        targets="onehot",
        loss="categorical_crossentropy",
    ),
    Case(
        "cce-logits",
        _mlp("relu", None, (8, 4)),
        targets="onehot",
        loss=losses.CategoricalCrossentropy(from_logits=True),
    ),
    Case(
        "scce-fused",
        _mlp("relu", "softmax", (8, 5)),
        targets="labels",
        loss="sparse_categorical_crossentropy",
        weighted=True,
    ),
    Case(
        "scce-logits",
        _mlp("relu", None, (8, 5)),
        targets="labels",
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
    ),
    Case("sgd", _mlp("relu"), optimizer=optimizers.SGD(0.05)),
    Case("sgd-weight-decay", _mlp("relu"), optimizer=optimizers.SGD(0.05, weight_decay=0.1)),
    Case("nesterov", _mlp("relu"), optimizer=optimizers.SGD(0.05, momentum=0.8, nesterov=True)),
    Case("adamw", _mlp("relu"), optimizer=optimizers.AdamW(0.01, weight_decay=0.05)),
    Case("rmsprop", _mlp("relu"), optimizer=optimizers.RMSprop(0.01)),
    Case("rmsprop-momentum", _mlp("relu"), optimizer=optimizers.RMSprop(0.01, momentum=0.5)),
    Case("adagrad", _mlp("relu"), optimizer=optimizers.Adagrad(0.05)),
    Case(
        "schedule",
        _mlp("relu"),
        optimizer=optimizers.SGD(schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)),
    ),
    Case(
        "regularizers",
        lambda: [
            layers.Dense(
                7,
                activation="relu",
                kernel_regularizer=regularizers.L1(0.01),
                bias_regularizer=regularizers.L2(0.02),
            ),
            layers.Dense(3, kernel_regularizer=regularizers.L1L2(0.01, 0.03)),
        ],
    ),
    Case("batch-of-one", _mlp("tanh"), rows=5, batch_size=1),
    Case("batch-larger-than-data", _mlp("tanh"), rows=5, batch_size=64),
]


def _optimizer(case):
    spec = case.optimizer
    return optimizers.deserialize(optimizers.serialize(spec)) if not isinstance(spec, str) else spec


def _loss(case):
    return (
        losses.deserialize(losses.serialize(case.loss))
        if not isinstance(case.loss, str)
        else case.loss
    )


def build(case, dtype, seed=0):
    """A compiled model of ``case`` (twins: the same seed builds the same weights)."""
    model = Sequential(
        [layers.Input(shape=case.features), *case.make_layers()], seed=seed, dtype=dtype
    )
    model.compile(optimizer=_optimizer(case), loss=_loss(case))
    return model


def data(case, model, dtype, seed=1):
    """(x, y, w) as fit hands them to train_step: checked targets in the model's dtype."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(case.rows, *case.features)).astype(dtype)
    out = model.output_dim
    if case.targets == "real":
        y = rng.normal(size=(case.rows, out))
    elif case.targets == "binary":
        y = rng.integers(0, 2, size=(case.rows, out))
    elif case.targets == "onehot":
        y = np.eye(out)[rng.integers(0, out, case.rows)]
    else:
        y = rng.integers(0, out, case.rows)
    y = model.loss.check_targets(y, out)
    y = y.astype(dtype) if y.dtype.kind == "f" else y
    w = rng.uniform(0.2, 2.0, case.rows).astype(dtype) if case.weighted else None
    return x, y, w


def numpy_steps(model, x, y, w, order, batch_size):
    """The NumPy path: train_step per batch, stopping at a non-finite loss as ``fit`` does;
    returns the losses."""
    values = []
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        values.append(model.train_step(x[rows], y[rows], None if w is None else w[rows]))
        if not np.isfinite(values[-1]):
            break
    return np.array(values)


def assert_same_state(reference, model, rtol, atol, what):
    np.testing.assert_allclose(
        model.params, reference.params, rtol=rtol, atol=atol, err_msg=f"parameters differ: {what}"
    )
    assert model.optimizer.iterations == reference.optimizer.iterations, what
    ref_state = reference.optimizer.get_state()
    for key, value in model.optimizer.get_state().items():
        np.testing.assert_allclose(
            value,
            ref_state[key],
            rtol=rtol,
            atol=atol,
            err_msg=f"optimizer state {key} differs: {what}",
        )
    for a, b in zip(reference.layers, model.layers):
        assert a.rng_state() == b.rng_state(), what


@pytest.mark.parametrize("case", CASES, ids=str)
def test_float64_matches_numpy_step_by_step(case):
    reference, model = build(case, "float64"), build(case, "float64")
    assert engine.unsupported_reason(model) is None
    x, y, w = data(case, model, "float64")
    order = np.random.default_rng(2).permutation(case.rows)
    for start in range(0, case.rows, case.batch_size):
        rows = order[start : start + case.batch_size]
        expected = numpy_steps(reference, x, y, w, rows, case.batch_size)
        actual = engine.train_epoch(model, x, y, rows, case.batch_size, sample_weight=w)
        what = f"{case} after the step at row {start}"
        np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12, err_msg=what)
        assert_same_state(reference, model, 1e-9, 1e-12, what)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_float32_epoch_matches_numpy_to_rounding(case):
    reference, model = build(case, "float32"), build(case, "float32")
    x, y, w = data(case, model, "float32")
    order = np.random.default_rng(3).permutation(case.rows)
    expected = numpy_steps(reference, x, y, w, order, case.batch_size)
    actual = engine.train_epoch(model, x, y, order, case.batch_size, sample_weight=w)
    scale = max(1.0, float(np.abs(reference.params).max()))
    # float32 rounding (6e-8) grown over a few steps of small GEMMs: 2e-5 of the weights' size
    assert_same_state(reference, model, 2e-5, 2e-5 * scale, f"{case} float32")
    np.testing.assert_allclose(actual, expected, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize(
    "name", ["act-tanh", "act-gelu", "act-silu", "act-softplus", "act-elu", "cce-logits"]
)
def test_build_without_the_vector_math_library_matches_too(name, monkeypatch):
    """The second build variant (no libmvec: scalar exp/tanh/...) is as exact as the first."""
    plain = _engine._build_variant(_engine._compiler(), _engine.FLAGS, (), "")
    monkeypatch.setattr(_engine, "_library", plain)
    case = next(c for c in CASES if c.name == name)
    test_float64_matches_numpy_step_by_step(case)
    test_float32_epoch_matches_numpy_to_rounding(case)


def _has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return any(line.startswith("flags") and "avx512f" in line.split() for line in info)
    except OSError:
        return False


@pytest.mark.skipif(not _has_avx512(), reason="the native build is the AVX2 (or narrower) one")
@pytest.mark.parametrize("name", ["seed", "act-gelu", "scce-fused", "cce-fused"])
def test_the_avx2_build_matches_too(name, monkeypatch):
    """On an AVX-512 machine, the build without it (other register tiles: 6 x 2, not 8 x 3)
    trains as exactly as the native one."""
    avx2 = _engine._build(("-mno-avx512f",), tag="_avx2")
    monkeypatch.setattr(_engine, "_library", avx2)
    case = next(c for c in CASES if c.name == name)
    test_float64_matches_numpy_step_by_step(case)
    test_float32_epoch_matches_numpy_to_rounding(case)


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in CASES
        if c.name.startswith(("act-", "seed", "dropout", "flatten", "no-bias", "activation-layers"))
    ],
    ids=str,
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_predict_matches_model_predict(case, dtype):
    model = build(case, dtype)
    x, _, _ = data(case, model, dtype)
    expected = model.predict(x, batch_size=7, verbose=0)
    actual = engine.predict(model, x, batch_size=7)
    rtol = 1e-12 if dtype == "float64" else 2e-6
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol)


def test_two_epochs_in_one_call_and_chunks_agree():
    """Chunks of batches (as batch-level callbacks need) give what one call gives."""
    case = CASES[0]
    whole, chunked = build(case, "float64"), build(case, "float64")
    x, y, _ = data(case, whole, "float64")
    order = np.concatenate([np.random.default_rng(s).permutation(case.rows) for s in (4, 5)])
    engine.train_epoch(whole, x, y, order, case.batch_size)
    for start in range(0, order.size, 3 * case.batch_size):
        engine.train_epoch(
            chunked, x, y, order[start : start + 3 * case.batch_size], case.batch_size
        )
    np.testing.assert_array_equal(whole.params, chunked.params)
    assert whole.layers[1].counter == chunked.layers[1].counter == -(-order.size // 32)


def test_predictions_are_the_forward_outputs_of_each_step():
    case = Case(
        "predictions",
        _mlp("relu", "softmax", (8, 3)),
        targets="onehot",
        loss="categorical_crossentropy",
    )
    reference, model = build(case, "float64"), build(case, "float64")
    x, y, _ = data(case, model, "float64")
    order = np.arange(case.rows)
    predictions = np.empty((case.rows, 3))
    engine.train_epoch(model, x, y, order, case.batch_size, predictions=predictions)
    for start in range(0, case.rows, case.batch_size):
        rows = order[start : start + case.batch_size]
        expected = reference(x[rows])
        reference.train_step(x[rows], y[rows])
        np.testing.assert_allclose(predictions[start : start + len(rows)], expected, rtol=1e-12)


DIVERGING = [
    Case("overflow", _mlp("exponential", "exponential"), optimizer=optimizers.SGD(50.0)),
    # NaN probabilities must give a NaN loss, not be clipped into -log(eps): np.maximum (the
    # NumPy clip) propagates NaN
    Case(
        "nan-scce",
        _mlp("relu", "softmax", (8, 3)),
        targets="labels",
        loss="sparse_categorical_crossentropy",
    ),
    Case(
        "nan-cce",
        _mlp("relu", "softmax", (8, 3)),
        targets="onehot",
        loss="categorical_crossentropy",
    ),
    Case("nan-bce", _mlp("relu", "sigmoid", (8, 2)), targets="binary", loss="binary_crossentropy"),
]


@pytest.mark.parametrize("case", DIVERGING, ids=str)
def test_divergence_stops_before_the_update_like_train_step(case):
    reference, model = build(case, "float64"), build(case, "float64")
    x, y, _ = data(case, model, "float64")
    if case.name == "overflow":
        x *= 30
    else:  # one NaN weight in the output layer: every prediction NaN from the first step
        for twin in (reference, model):
            twin.layers[-1].kernel[0, 0] = np.nan
    order = np.arange(case.rows)
    expected = numpy_steps(reference, x, y, None, order, case.batch_size)
    stop = len(expected) - 1
    assert not np.isfinite(expected[stop]), "the case must diverge"
    actual = engine.train_epoch(model, x, y, order, case.batch_size)
    assert len(actual) == stop + 1 and not np.isfinite(actual[-1])
    np.testing.assert_allclose(model.params, reference.params, rtol=1e-9)
    assert model.optimizer.iterations == reference.optimizer.iterations == stop


@pytest.mark.parametrize(
    "make, piece",
    [
        (
            lambda: build(Case("kl", _mlp("relu", "softmax"), loss="kl_divergence"), "float32"),
            "loss KLDivergence",
        ),
        (
            lambda: build(
                Case("none", _mlp("relu"), loss=losses.MeanSquaredError(reduction="none")),
                "float32",
            ),
            "reduction 'none'",
        ),
        (
            lambda: build(
                Case(
                    "noise",
                    lambda: [
                        layers.Dense(4),
                        layers.Dropout(0.5, noise_shape=(None, 1)),
                        layers.Dense(1),
                    ],
                ),
                "float32",
            ),
            "noise_shape",
        ),
        (
            lambda: build(
                Case(
                    "probabilities",
                    _mlp("relu", "relu"),
                    targets="binary",
                    loss="binary_crossentropy",
                ),
                "float32",
            ),
            "without its fused",
        ),
        (
            lambda: build(
                Case("custom-reg", lambda: [layers.Dense(2, kernel_regularizer=_Custom())]),
                "float32",
            ),
            "regularizer _Custom",
        ),
    ],
)
def test_unsupported_pieces_are_named(make, piece):
    model = make()
    reason = engine.unsupported_reason(model)
    assert reason is not None and piece in reason, reason
    with pytest.raises(engine.Unsupported, match=piece.split()[0]):
        engine.plan(model)


class _Custom(regularizers.Regularizer):
    l2 = 0.1

    def __call__(self, w):
        return 2.0 * super().__call__(w)


def test_missing_compiler_and_switch_give_the_reason(monkeypatch):
    model = build(CASES[0], "float32")
    monkeypatch.setenv(engine.FIT_SWITCH, "1")
    assert engine.describe(model).startswith("compiled engine (")
    assert engine.describe().startswith("compiled engine available")
    try:
        monkeypatch.setattr(_engine, "_compiler", lambda: None)
        _engine._reset()
        assert not _engine.available()
        assert "no C++ compiler" in _engine.reason()
        assert "no C++ compiler" in engine.unsupported_reason(model)
        assert engine.describe(model).startswith("numpy path: the compiled engine is unavail")
        assert "no C++ compiler" in engine.describe()
        with pytest.raises(RuntimeError, match="no C\\+\\+ compiler"):
            engine.train_epoch(model, *data(CASES[0], model, "float32")[:2], np.arange(4), 2)
        monkeypatch.undo()
        monkeypatch.setenv(_engine.ENV_SWITCH, "0")
        _engine._reset()
        assert f"disabled by ${_engine.ENV_SWITCH}=0" in _engine.reason()
    finally:
        monkeypatch.undo()
        _engine._reset()
    assert _engine.available()


def test_bad_records_and_arrays_are_refused_before_c():
    model = build(CASES[1], "float32")
    spec = engine.plan(model)
    x, y, _ = data(CASES[1], model, "float32")
    args = {
        "layers": spec.layers,
        "loss": spec.loss,
        "optimizer": spec.optimizer,
        "params": model.params,
        "grads": model.grads,
        "state": spec.state,
        "x": x,
        "y": y,
        "sample_weight": None,
        "order": np.arange(4),
        "batch_size": 2,
        "learning_rates": np.full(2, 0.1),
    }
    bad = spec.layers.copy()
    bad[0]["i"][5] = model.params.size
    with pytest.raises(ValueError, match="outside the parameter buffer"):
        _engine.epoch(**{**args, "layers": bad})
    with pytest.raises(ValueError, match="row indices in"):
        _engine.epoch(**{**args, "order": np.array([0, len(x)])})
    with pytest.raises(TypeError, match="dtype float32"):
        _engine.epoch(**{**args, "x": x.astype(np.float64)})
    with pytest.raises(ValueError, match="batch_size"):
        _engine.epoch(**{**args, "batch_size": 0})
    with pytest.raises(ValueError, match="shape"):
        _engine.epoch(**{**args, "learning_rates": np.full(3, 0.1)})


@settings(max_examples=25, deadline=None)
@given(
    widths=st.lists(st.integers(1, 40), min_size=1, max_size=4),
    features=st.integers(1, 19),
    rows=st.integers(1, 50),
    batch_size=st.integers(1, 20),
    rate=st.sampled_from([0.0, 0.1, 0.5]),
    activation=st.sampled_from(sorted(_engine.ACTIVATION_CODES)),
)
def test_fuzz_shapes_and_widths(widths, features, rows, batch_size, rate, activation):
    def make_layers():
        stack = []
        for width in widths:
            stack += [layers.Dense(width, activation=activation), layers.Dropout(rate)]
        return [*stack, layers.Dense(2)]

    case = Case(
        "fuzz",
        make_layers,
        features=(features,),
        rows=rows,
        batch_size=batch_size,
        optimizer=optimizers.SGD(0.01, momentum=0.5),
    )
    reference, model = build(case, "float64"), build(case, "float64")
    x, y, _ = data(case, model, "float64")
    order = np.random.default_rng(rows).permutation(rows)
    expected = numpy_steps(reference, x, y, None, order, batch_size)
    actual = engine.train_epoch(model, x, y, order, batch_size)
    # 1e-6: deep stacks of "exponential" reach 1e282, where a last-bit difference in z grows
    # e^z's relative difference to ~1e-8; a wrong rule differs at O(1)
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(model.params, reference.params, rtol=1e-6, atol=1e-12)


# --- the same cases under AddressSanitizer and UndefinedBehaviorSanitizer --------------------

SANITIZE = (
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
    "-O1",
)


def _asan_runtime() -> str | None:
    compiler = _engine._compiler()
    if compiler is None:
        return None
    path = subprocess.run(
        [compiler, "-print-file-name=libasan.so"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


_SANITIZED_RUN = """
import sys
sys.path.insert(0, {tests!r})
from nastoolkit.kernels import _engine
_engine._library = _engine._build({flags!r}, tag="_sanitized")
import numpy as np
import test_engine as t
for case in t.CASES:
    t.test_float64_matches_numpy_step_by_step(case)
    t.test_float32_epoch_matches_numpy_to_rounding(case)
    t.test_predict_matches_model_predict(case, "float64")
for case in t.DIVERGING:
    t.test_divergence_stops_before_the_update_like_train_step(case)
t.test_predictions_are_the_forward_outputs_of_each_step()
t.test_population_equals_each_model_trained_alone()
t.test_population_early_stopping_and_divergence_are_per_model()
print("sanitized cases passed:", len(t.CASES))
"""


def test_sanitized_build_runs_every_case_cleanly():  # ~10 s with the build, ~2 s cached
    runtime = _asan_runtime()
    if runtime is None:
        pytest.skip("no libasan for this compiler")
    env = {
        **os.environ,
        "LD_PRELOAD": runtime,
        "ASAN_OPTIONS": "detect_leaks=0",
        "UBSAN_OPTIONS": "print_stacktrace=1",
    }
    script = _SANITIZED_RUN.format(tests=str(Path(__file__).parent), flags=SANITIZE)
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert "sanitized cases passed" in result.stdout


# --- fit dispatches to the engine (engine.fit_epoch), else the NumPy steps ----------------------


class _BatchLog(callbacks.Callback):
    """Records every train-batch hook's logs; stops training at ``stop_at`` (epoch, batch)."""

    def __init__(self, stop_at=None):
        super().__init__()
        self.seen, self.states, self.stop_at = [], [], stop_at

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append((batch, dict(logs)))
        self.states.append((self.model.optimizer.iterations, self.model.params.copy()))
        if self.stop_at == (len(self.seen) - 1,):
            self.model.stop_training = True


def _path(patch, compiled: bool) -> list:
    """Make ``fit`` take the engine (it does by itself for supported models) or the NumPy path
    (as where the engine is unavailable); returns the list of engine epochs run, filled later."""
    calls = []
    if compiled:
        patch.setenv(engine.FIT_SWITCH, "1")
        run = engine.fit_epoch
        patch.setattr(engine, "fit_epoch", lambda *args: calls.append(1) or run(*args))
    else:
        patch.setattr(engine, "fit_reason", lambda model, batch_size=None: "the test wants NumPy")
    return calls


def test_fit_takes_the_engine_by_default_and_the_numpy_path_when_asked(monkeypatch):
    """The engine is fit's default where every piece compiles; NASTOOLKIT_FIT_ENGINE=0 and
    engine.numpy_path() (for its block only) ask for the NumPy path, and describe says so."""
    model = build(CASES[0], "float32")
    model.compile(optimizer=_optimizer(CASES[0]), loss=_loss(CASES[0]))
    x, y, _ = data(CASES[0], model, "float32")
    calls = []
    run = engine.fit_epoch
    monkeypatch.setattr(engine, "fit_epoch", lambda *args: calls.append(1) or run(*args))

    def took_engine() -> bool:
        calls.clear()
        model.fit(x, y, epochs=1, batch_size=CASES[0].batch_size, verbose=0)
        return bool(calls)

    monkeypatch.delenv(engine.FIT_SWITCH, raising=False)
    assert took_engine() and engine.describe(model).startswith("compiled engine")
    with engine.numpy_path():
        assert not took_engine()
        assert engine.describe(model) == ("numpy path: engine.numpy_path() asks for the NumPy path")
    assert took_engine()  # the block's choice ends with the block
    monkeypatch.setenv(engine.FIT_SWITCH, "0")
    assert not took_engine()
    assert engine.describe(model) == "numpy path: NASTOOLKIT_FIT_ENGINE=0 asks for the NumPy path"


def _fit(case, dtype, compiled, monkeypatch, callbacks_=(), **kwargs):
    model = build(case, dtype)
    regression = case.targets in ("real", "binary")
    model.compile(
        optimizer=_optimizer(case),
        loss=_loss(case),
        metrics=["mae"] if regression else ["accuracy"],
        weighted_metrics=["mse"] if regression else ["accuracy"],
    )
    x, y, w = data(case, model, dtype)
    with monkeypatch.context() as patch:
        calls = _path(patch, compiled)
        history = model.fit(
            x,
            y,
            sample_weight=w,
            batch_size=case.batch_size,
            verbose=0,
            callbacks=list(callbacks_),
            **kwargs,
        )
    assert bool(calls) == compiled, "fit took the wrong path"
    return model, history


@pytest.mark.parametrize(
    "case",
    [
        CASES[0],
        *(
            c
            for c in CASES
            if c.name in ("mse-weighted", "scce-fused", "bce-fused", "regularizers")
        ),
    ],
    ids=str,
)
def test_fit_through_the_engine_matches_fit(case, monkeypatch):
    val = data(case, build(case, "float64"), "float64", seed=9)[:2]
    runs = [
        _fit(case, "float64", compiled, monkeypatch, epochs=3, seed=4, validation_data=val)
        for compiled in (False, True)
    ]
    (reference, expected), (model, actual) = runs
    assert sorted(actual.history) == sorted(expected.history)
    for key, values in expected.history.items():
        np.testing.assert_allclose(actual.history[key], values, rtol=1e-9, err_msg=key)
    np.testing.assert_allclose(model.params, reference.params, rtol=1e-9, atol=1e-12)


def test_fit_through_the_engine_runs_batch_hooks_and_stops_like_fit(monkeypatch):
    case = CASES[0]
    logs = []
    for compiled in (False, True):
        hook = _BatchLog(stop_at=(3,))
        model, history = _fit(case, "float64", compiled, monkeypatch, [hook], epochs=2, seed=1)
        logs.append((hook.seen, history.history, model.params.copy(), hook.states))
    (seen_a, hist_a, params_a, states_a), (seen_b, hist_b, params_b, states_b) = logs
    for (iterations_a, weights_a), (iterations_b, weights_b) in zip(states_a, states_b):
        assert iterations_a == iterations_b  # the hooks see the model as after each step
        np.testing.assert_allclose(weights_b, weights_a, rtol=1e-9, atol=1e-12)
    assert [batch for batch, _ in seen_b] == [batch for batch, _ in seen_a] == [0, 1, 2, 3]
    for (_, a), (_, b) in zip(seen_a, seen_b):
        assert sorted(a) == sorted(b)
        np.testing.assert_allclose([b[k] for k in sorted(b)], [a[k] for k in sorted(a)], rtol=1e-9)
    np.testing.assert_allclose(hist_b["loss"], hist_a["loss"], rtol=1e-9)
    np.testing.assert_allclose(params_b, params_a, rtol=1e-9, atol=1e-12)


def test_fit_through_the_engine_handles_divergence_like_fit(monkeypatch):
    case = Case(
        "diverge", _mlp("exponential", "exponential"), optimizer=optimizers.SGD(50.0), features=(6,)
    )
    results = []
    for compiled in (False, True):
        model = build(case, "float64")
        x, y, _ = data(case, model, "float64")
        with monkeypatch.context() as patch:
            _path(patch, compiled)
            with pytest.warns(RuntimeWarning):
                history = model.fit(x * 30, y, epochs=3, batch_size=8, verbose=0, seed=0)
        results.append((history, model.params.copy()))
    (expected, params_a), (actual, params_b) = results
    assert actual.stopped_reason == expected.stopped_reason is not None
    assert len(actual.history["loss"]) == len(expected.history["loss"])
    np.testing.assert_array_equal(params_b, params_a)


# --- population training -----------------------------------------------------------------------


def _population(dtype="float64"):
    """Heterogeneous MLPs for 6 features and one output: widths, depth, activations, dropout,
    optimizers and losses all differ."""
    recipes = [
        (
            [layers.Dense(16, activation="relu"), layers.Dropout(0.3), layers.Dense(1)],
            "adam",
            "mse",
        ),
        (
            [
                layers.Dense(5, activation="tanh"),
                layers.Dense(9, activation="gelu"),
                layers.Dense(1),
            ],
            optimizers.SGD(0.05, momentum=0.9, nesterov=True),
            "huber",
        ),
        (
            [
                layers.Dense(33, activation="selu", kernel_regularizer=regularizers.L2(0.01)),
                layers.Dense(1),
            ],
            optimizers.RMSprop(0.01),
            "mae",
        ),
        (
            [layers.Dense(3, activation="silu"), layers.Dropout(0.5), layers.Dense(1)],
            optimizers.Adagrad(0.1),
            "mse",
        ),
    ]
    models = []
    for index, (stack, optimizer, loss) in enumerate(recipes):
        model = Sequential([layers.Input(shape=(6,)), *stack], seed=10 + index, dtype=dtype)
        model.compile(optimizer=optimizer, loss=loss)
        models.append(model)
    return models


def _regression(rows=90, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 6)).astype(dtype)
    return x, (x[:, :1] - 0.5 * x[:, 1:2] ** 2).astype(dtype)


def test_population_equals_each_model_trained_alone():
    x, y = _regression()
    val = _regression(30, seed=1)
    together = _population()
    results = engine.train_population(
        together, x, y, epochs=3, batch_size=16, seed=7, validation_data=val
    )
    for index, (model, result) in enumerate(zip(together, results)):
        alone = _population()[index]
        expected = engine.train_population(
            [alone], x, y, epochs=3, batch_size=16, seed=7, validation_data=val
        )[0]
        np.testing.assert_array_equal(model.params, alone.params)
        assert result.history == expected.history
        assert len(result.history["loss"]) == 3 and result.stopped_epoch is None


def test_population_follows_the_numpy_steps():
    x, y = _regression()
    models = _population()
    engine.train_population(models, x, y, epochs=2, batch_size=16, seed=3)
    references = _population()
    rng = np.random.default_rng(3)
    for _ in range(2):
        order = rng.permutation(len(x))
        for reference in references:
            numpy_steps(reference, x, y, None, order, 16)
    for model, reference in zip(models, references):
        assert_same_state(reference, model, 1e-9, 1e-12, f"population {model.layers}")


def test_population_early_stopping_and_divergence_are_per_model():
    x, y = _regression()
    models = _population()
    models[1].compile(optimizer=optimizers.SGD(1e6), loss="mse")  # diverges in epoch 0
    models[2].compile(optimizer=optimizers.SGD(1e-9), loss="mse")  # cannot improve: stops
    results = engine.train_population(
        models,
        x,
        y,
        epochs=4,
        batch_size=16,
        seed=5,
        patience=1,
        min_delta=1e-3,
        validation_data=_regression(30, seed=1),
    )
    assert results[1].stopped_reason.startswith("diverged") and results[1].stopped_epoch == 0
    assert results[2].stopped_reason == "early stopping"
    assert results[2].stopped_epoch == 1
    assert results[0].stopped_epoch is None and len(results[0].history["loss"]) == 4
    alone = _population()[0]
    engine.train_population(
        [alone],
        x,
        y,
        epochs=4,
        batch_size=16,
        seed=5,
        patience=1,
        min_delta=1e-3,
        validation_data=_regression(30, seed=1),
    )
    np.testing.assert_array_equal(models[0].params, alone.params)


def test_population_refuses_unsupported_models():
    models = _population()
    models[3].compile(optimizer="adam", loss="kl_divergence")
    with pytest.raises(engine.Unsupported, match=r"models\[3\].*KLDivergence"):
        engine.train_population(models, *_regression(), epochs=1)


# --- fit_population: each model's own fit (seed, batches, callbacks), one call per epoch --------


def _fit_jobs(rows, val, batch_sizes=(16, 7, 32, 10), seeds=(3, 4, 5, 6)):
    models = _population("float32")
    models[1].compile(optimizer=optimizers.SGD(1e6), loss="mse")  # diverges in epoch 0
    return [
        engine.FitJob(
            model,
            rows,
            batch_size,
            seed,
            val,
            [callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)],
        )
        for model, batch_size, seed in zip(models, batch_sizes, seeds)
    ]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the divergence and its early stopping
def test_fit_population_equals_each_fit_through_the_engine(monkeypatch):
    """Own seeds, batch sizes (a remainder each), dropout, early stopping that restores the best
    weights, divergence: each model ends as ``fit`` in the engine leaves it, bit for bit."""
    x, y = _regression(120, dtype="float32")
    x_val, y_val = _regression(40, seed=1, dtype="float32")
    y_val = y_val + np.float32(0.5) * np.random.default_rng(2).normal(size=y_val.shape).astype(
        np.float32
    )
    rows = np.arange(5, 110)
    jobs = _fit_jobs(rows, (x_val, y_val))
    histories = engine.fit_population(jobs, x, y, epochs=12)
    monkeypatch.setenv(engine.FIT_SWITCH, "1")
    for job, history in zip(_fit_jobs(rows, (x_val, y_val)), histories):
        expected = job.model.fit(
            x[rows],
            y[rows],
            batch_size=job.batch_size,
            epochs=12,
            validation_data=job.validation_data,
            callbacks=job.callbacks,
            seed=job.seed,
            verbose=0,
        )
        np.testing.assert_array_equal(history.history["loss"], expected.history["loss"])
        assert history.history.get("val_loss") == expected.history.get("val_loss")
        assert history.stopped_reason == expected.stopped_reason
    for job, original in zip(_fit_jobs(rows, (x_val, y_val)), jobs):
        job.model.fit(
            x[rows],
            y[rows],
            batch_size=job.batch_size,
            epochs=12,
            seed=job.seed,
            verbose=0,
            validation_data=job.validation_data,
            callbacks=job.callbacks,
        )
        np.testing.assert_array_equal(job.model.params, original.model.params)
    lengths = [len(h.history["loss"]) for h in histories]
    assert histories[1].stopped_reason.startswith("loss became"), "model 1 must diverge"
    assert min(lengths[0], *lengths[2:]) < 12, "early stopping never triggered"


def test_fit_population_refuses_what_it_cannot_run():
    x, y = _regression(40, dtype="float32")
    jobs = _fit_jobs(np.arange(40), None)
    jobs[2].model.compile(optimizer="adam", loss="kl_divergence")
    with pytest.raises(engine.Unsupported, match=r"jobs\[2\].*KLDivergence"):
        engine.fit_population(jobs, x, y, epochs=1)
    jobs = _fit_jobs(np.arange(40), None)
    jobs[0].callbacks = [_BatchLog()]
    with pytest.raises(engine.Unsupported, match="batch hooks"):
        engine.fit_population(jobs, x, y, epochs=1)


def test_own_orders_in_one_call_equal_each_alone_and_slices():
    """Models with their own order and batch size (and one on the call's) in one ``train``
    call, whole or in slices of steps, equal each model's own call."""
    x, y = _regression(50)
    rng = np.random.default_rng(0)
    orders = [rng.permutation(50), rng.permutation(50)[:33], None, rng.permutation(50)[:7]]
    sizes = [16, 5, None, 3]

    def arguments():
        models = _population()
        args = []
        for model, order, size in zip(models, orders, sizes):
            steps = -(-(50 if order is None else order.size) // (8 if size is None else size))
            _, model_args = engine._model_args(model, y, steps)
            model_args.order, model_args.batch_size = order, size
            args.append(model_args)
        return models, args

    shared = np.arange(50)[::-1].copy()
    together, args = arguments()
    losses = _engine.train(args, x, None, shared, 8)
    sliced, args = arguments()
    session = _engine.Session(args, x, None, shared, 8)
    for first in range(0, session.steps, 3):
        session.run(first, 3)
    for index in range(4):
        alone, args = arguments()
        expected = _engine.train([args[index]], x, None, shared, 8)[0]
        np.testing.assert_array_equal(losses[index], expected)
        np.testing.assert_array_equal(session.losses()[index], expected)
        np.testing.assert_array_equal(together[index].params, alone[index].params)
        np.testing.assert_array_equal(sliced[index].params, alone[index].params)
    assert [len(run) for run in losses] == [4, 7, 7, 3]


def test_the_flush_to_zero_mode_ends_with_the_call():
    """Inside a call denormals flush to zero; after it NumPy in this thread keeps them."""
    model = build(CASES[0], "float32")
    x, y, _ = data(CASES[0], model, "float32")
    engine.train_epoch(model, x, y, np.arange(len(x)), CASES[0].batch_size)
    engine.predict(model, x)
    tiny = np.array([1e-39], np.float32)  # a denormal
    assert tiny[0] != 0 and (tiny * np.float32(0.5))[0] != 0


def test_unaligned_inputs_are_copied_not_refused():
    """Dask unpickles arrays from out-of-band buffers that may be unaligned: the engine's
    entry points copy them (C needs aligned rows) and train as on aligned ones."""
    model, twin = build(CASES[0], "float32"), build(CASES[0], "float32")
    x, y, _ = data(CASES[0], model, "float32")
    raw = np.zeros(x.nbytes + 1, np.uint8)
    unaligned = raw[1:].view(np.float32).reshape(x.shape)
    unaligned[...] = x
    assert not unaligned.flags.aligned
    order = np.arange(len(x))
    np.testing.assert_array_equal(
        engine.train_epoch(model, unaligned, y, order, CASES[0].batch_size),
        engine.train_epoch(twin, x, y, order, CASES[0].batch_size),
    )
    np.testing.assert_array_equal(model.params, twin.params)


def test_fit_keeps_the_numpy_path_for_steps_where_blas_is_faster(monkeypatch):
    """A step above ENGINE_MAX_STEP_MACS multiply-adds (batch rows x parameters) trains on the
    NumPy path unless NASTOOLKIT_FIT_ENGINE=1 forces the engine; a smaller batch of the same
    model takes the engine; describe and fit_reason give the limit and the reason."""
    monkeypatch.delenv(engine.FIT_SWITCH, raising=False)
    model = Sequential(
        [layers.Dense(600, activation="relu", input_shape=(20,)), layers.Dense(3)], seed=0
    )
    model.compile(optimizer="adam", loss="mse")
    rows_limit = engine.ENGINE_MAX_STEP_MACS // model.params.size  # 14,403 parameters: 291 rows
    x = np.random.default_rng(0).standard_normal((4000, 20)).astype(np.float32)
    y = np.zeros((4000, 3), np.float32)
    calls = []
    run = engine.fit_epoch
    monkeypatch.setattr(engine, "fit_epoch", lambda *args: calls.append(1) or run(*args))

    def took_engine(batch_size) -> bool:
        calls.clear()
        model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0)
        return bool(calls)

    assert took_engine(rows_limit)
    assert not took_engine(rows_limit + 1)
    assert "where NumPy's BLAS is faster" in engine.fit_reason(model, rows_limit + 1)
    assert engine.fit_reason(model, rows_limit) is None
    assert f"for batches up to {rows_limit} rows" in engine.describe(model)
    monkeypatch.setenv(engine.FIT_SWITCH, "1")
    assert took_engine(rows_limit + 1)
    assert engine.fit_reason(model, rows_limit + 1) is None


def test_validation_in_fit_runs_in_the_engine_where_fit_trains_there(monkeypatch):
    """fit's validation takes one compiled forward call per epoch where fit trains in the engine
    (passes of at most ENGINE_MAX_STEP_MACS multiply-adds), and gives what an evaluation on the
    NumPy path gives for the same weights; with test-batch hooks or on the NumPy path, the
    NumPy evaluation runs batch by batch."""
    monkeypatch.delenv(engine.FIT_SWITCH, raising=False)
    x, y = _regression(200, dtype="float32")
    x_val, y_val = _regression(1500, seed=1, dtype="float32")
    model = Sequential(
        [layers.Dense(600, activation="relu", input_shape=(6,)), layers.Dense(1)], seed=0
    )
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    passes = []
    real = _engine.predict
    monkeypatch.setattr(_engine, "predict", lambda *args: passes.append(args[3]) or real(*args))
    history = model.fit(x, y, epochs=2, batch_size=16, validation_data=(x_val, y_val), verbose=0)
    rows = engine.ENGINE_MAX_STEP_MACS // model.params.size  # 4,801 parameters: 873 rows
    assert passes == [rows, rows]
    with engine.numpy_path():
        loss, mae = model.evaluate(x_val, y_val, verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=2e-6)
    assert history.history["val_mae"][-1] == pytest.approx(mae, rel=2e-6)

    class TestBatches(callbacks.Callback):
        seen = 0

        def on_test_batch_end(self, batch, logs=None):
            TestBatches.seen += 1

    passes.clear()
    model.fit(
        x,
        y,
        epochs=1,
        batch_size=16,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[TestBatches()],
    )
    assert passes == [] and TestBatches.seen == -(-1500 // 16)
    with engine.numpy_path():
        model.fit(x, y, epochs=1, batch_size=16, validation_data=(x_val, y_val), verbose=0)
    assert passes == []


@pytest.mark.parametrize(
    "field, value, message",
    [
        (0, 7, r"layers\[1\] must have a kind in \(0, 1, 2\)"),
        (1, 5, r"layers\[1\] takes 5 inputs but layers\[0\] gives"),
        (3, 14, r"layers\[1\] has an unknown activation code 14"),
        (5, -1, r"layers\[1\]: the kernel .* lies outside the parameter buffer"),
        (6, 10**6, r"layers\[1\]: the bias .* lies outside the parameter buffer"),
    ],
)
def test_each_bad_layer_record_is_named_before_c(field, value, message):
    model = Sequential(
        [layers.Dense(4, activation="relu", input_shape=(3,)), layers.Dense(2)], seed=0
    )
    model.compile(optimizer="sgd", loss="mse")
    spec = engine.plan(model)
    _engine._check_specs(spec.layers, model.params)  # the plan itself passes
    bad = spec.layers.copy()
    bad[1]["i"][field] = value
    with pytest.raises(ValueError, match=message):
        _engine._check_specs(bad, model.params)


def test_a_dropout_record_must_keep_its_width():
    model = Sequential(
        [layers.Dense(4, input_shape=(3,)), layers.Dropout(0.5), layers.Dense(2)], seed=0
    )
    model.compile(optimizer="sgd", loss="mse")
    bad = engine.plan(model).layers.copy()
    bad[1]["i"][2] = 3
    with pytest.raises(ValueError, match=r"layers\[1\] \(dropout/activation\) must keep"):
        _engine._check_specs(bad, model.params)
