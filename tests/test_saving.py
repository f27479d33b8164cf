"""``nastoolkit.saving``: real Keras 3 ``.keras`` archives both ways, validated ``.npz`` files.

Keras-written archives (``tests/fixtures/keras_files``, recorded by
``tests/fixtures/record_keras_files.py``) are loaded and must predict what Keras predicted. Archives
nastoolkit writes are compared member by member with a Keras-written reference of the same model,
and, where Keras is installed (``NASTOOLKIT_KERAS_PYTHON`` or ``/work/scratch/kvenv``), opened by
Keras itself in a subprocess. Damaged files must raise ``ValueError`` naming the file, and leave a
model given to ``restore_backup`` untouched.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nastoolkit import activations, layers, saving
from nastoolkit.layers import Activation, Dense, Dropout
from nastoolkit.metrics import AUC, Precision
from nastoolkit.models import Sequential
from nastoolkit.optimizers import SGD, Adam, RMSprop
from nastoolkit.regularizers import L2

FIXTURES = Path(__file__).parent / "fixtures"
KERAS_FILES = FIXTURES / "keras_files"
NEW_ACTIVATIONS = [
    "gelu",
    "silu",
    "swish",
    "softplus",
    "softsign",
    "selu",
    "hard_sigmoid",
    "exponential",
]


def _recorder():
    spec = importlib.util.spec_from_file_location(
        "record_keras_files", FIXTURES / "record_keras_files.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _predictions():
    with np.load(KERAS_FILES / "predictions.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _missing_activations(names):
    return [name for name in names if name not in activations.names()]


# --- .keras files written by Keras ------------------------------------------------------------
RESUME_CASES = ["resume_adam", "resume_rmsprop", "resume_sgd"]
KERAS_CASES = [
    "mlp_adam",
    "activations_core",
    "activations_new",
    "flatten_sgd",
    "plain",
    "reference",
    *RESUME_CASES,
]


@pytest.mark.parametrize("case", KERAS_CASES)
def test_keras_written_file_predicts_as_keras_did(case):
    if case == "activations_new" and _missing_activations(NEW_ACTIVATIONS):
        pytest.skip(f"nastoolkit lacks activations {_missing_activations(NEW_ACTIVATIONS)}")
    if case == "flatten_sgd" and not hasattr(layers, "Flatten"):
        pytest.skip("nastoolkit has no layers.Flatten yet")
    recorded = _predictions()
    model = saving.load_model(KERAS_FILES / f"{case}.keras")
    got = np.asarray(model.predict(recorded[f"x/{case}"]))
    np.testing.assert_allclose(got, recorded[f"y/{case}"], rtol=1e-5, atol=1e-6)


def test_keras_written_file_with_an_unknown_activation_names_it(tmp_path):
    """A Keras file naming an activation nastoolkit lacks (here "mish") is a ValueError that
    names the file and the activation, not a KeyError from deep inside the loader."""
    source = KERAS_FILES / "activations_new.keras"
    target = tmp_path / "unknown_activation.keras"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                dense = next(
                    layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"
                )
                dense["config"]["activation"] = "mish"
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    with pytest.raises(ValueError, match="activation 'mish'") as info:
        saving.load_model(target)
    assert "unknown_activation.keras" in str(info.value)


@pytest.mark.parametrize("case", RESUME_CASES)
def test_keras_written_optimizer_state_resumes_training_as_keras_did(case):
    """Keras took one more step after saving; from the loaded slots nastoolkit must land on the
    same weights, and from fresh slots it must not (so the check has teeth)."""
    x, y = _recorder().resume_data()
    recorded = _predictions()
    after = [recorded[f"after/{case}/{i}"] for i in range(4)]
    model = saving.load_model(KERAS_FILES / f"{case}.keras")
    assert model.optimizer.iterations == 9  # 3 epochs of 3 batches
    fresh = saving.load_model(KERAS_FILES / f"{case}.keras")
    fresh.optimizer.reset()
    for m in (model, fresh):
        m.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
    for got, want in zip(model.get_weights(), after):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert max(np.abs(g - w).max() for g, w in zip(fresh.get_weights(), after)) > 1e-4


def test_keras_written_compile_settings_are_read():
    model = saving.load_model(KERAS_FILES / "mlp_adam.keras")
    assert type(model.optimizer).__name__ == "Adam"
    assert model.optimizer.learning_rate == pytest.approx(0.005)
    assert type(model.loss).__name__ == "CategoricalCrossentropy"
    assert [m.name for m in model._compiled.metrics] == ["accuracy"]
    assert [
        type(layer).__name__ for layer in model.layers if type(layer).__name__ != "InputLayer"
    ] == ["Dense", "Dropout", "Dense", "Activation"]
    assert model.layers[-1].get_config()["activation"] == "softmax"
    assert saving.load_model(KERAS_FILES / "mlp_adam.keras", compile=False).optimizer is None
    assert saving.load_model(KERAS_FILES / "plain.keras").optimizer is None  # Keras wrote {}


def _edited_keras_file(tmp_path, source, edit):
    """A copy of a Keras-written archive whose config.json went through ``edit(config)``."""
    with zipfile.ZipFile(KERAS_FILES / source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    path = tmp_path / f"edited_{source}"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_keras_metric_objects_and_weighted_metrics_are_read(tmp_path):
    mae = {
        "module": "keras.metrics",
        "class_name": "MeanAbsoluteError",
        "config": {"name": "mean_absolute_error", "dtype": "float32"},
        "registered_name": None,
    }

    def edit(config):
        config["compile_config"].update(metrics=[mae], weighted_metrics=["accuracy"])

    model = saving.load_model(_edited_keras_file(tmp_path, "mlp_adam.keras", edit))
    assert [type(m).__name__ for m in model._compiled.metrics] == ["MeanAbsoluteError"]
    assert [m.name for m in model._compiled.weighted_metrics] == ["accuracy"]


def _layer(config, index):
    return config["config"]["layers"][index]["config"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda c: c["config"]["layers"][1].update(class_name="BatchNormalization"),
            "cannot read layer class 'BatchNormalization'",
        ),
        (lambda c: _layer(c, 1).update(activation="relu6"), "activation 'relu6'"),
        (
            lambda c: _layer(c, 1).update(kernel_constraint={"class_name": "NonNeg", "config": {}}),
            "kernel_constraint=",
        ),
        (lambda c: _layer(c, 2).update(noise_shape="rows"), "noise_shape must be a tuple"),
        (lambda c: _layer(c, 1).update(dtype="mixed_float16"), "dtype policy 'mixed_float16'"),
        (lambda c: c.update(class_name="Functional"), "Sequential models only"),
        (lambda c: c["compile_config"]["optimizer"].update(class_name="Lion"), "optimizer"),
        (lambda c: c["compile_config"].update(loss="no_such_loss"), "no_such_loss"),
        (lambda c: c["compile_config"].update(loss_weights=[0.5]), "loss_weights"),
        (lambda c: c["compile_config"]["optimizer"]["config"].update(clipnorm=1.0), "clipnorm"),
        (lambda c: _layer(c, 0).update(batch_shape=[None, 0]), "batch_shape"),
        (
            lambda c: c["compile_config"].update(
                metrics=[{"class_name": "NoSuchMetric", "config": {}}]
            ),
            "NoSuchMetric",
        ),
    ],
)
def test_keras_file_with_something_nastoolkit_lacks_says_what(tmp_path, edit, message):
    path = _edited_keras_file(tmp_path, "mlp_adam.keras", edit)
    with pytest.raises(ValueError, match=message) as info:
        saving.load_model(path)
    assert str(path) in str(info.value)


# --- .keras files written by nastoolkit -------------------------------------------------------
def _reference_model():
    """The model ``reference.keras`` holds, built with nastoolkit (same names and weights)."""
    model = Sequential(
        [
            Dense(5, activation="relu", input_shape=(4,), name="hidden"),
            Dropout(0.5, name="drop"),
            Activation("tanh", name="squash"),
            Dense(2, name="out"),
        ],
        name="reference",
        seed=0,
    )
    model.build()
    model.set_weights(_recorder().reference_weights())
    model.compile(optimizer="adam", loss="mse")
    return model


def _strip_shared_ids(value):
    if isinstance(value, dict):
        return {k: _strip_shared_ids(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, list):
        return [_strip_shared_ids(v) for v in value]
    return value


def _h5_tree(data: bytes) -> dict:
    """path -> (attrs, shape, dtype, values) for every group and dataset of an HDF5 file."""
    tree = {}
    with h5py.File(io.BytesIO(data), "r") as h5:

        def visit(name, obj):
            attrs = {k: str(v) for k, v in obj.attrs.items()}
            if isinstance(obj, h5py.Dataset):
                tree[name] = (attrs, obj.shape, obj.dtype.str, np.asarray(obj[()]))
            else:
                tree[name] = (attrs, None, None, None)

        h5.visititems(visit)
    return tree


def test_written_archive_matches_the_keras_written_reference(tmp_path):
    path = tmp_path / "reference.keras"
    saving.save_model(_reference_model(), path)
    with zipfile.ZipFile(path) as ours, zipfile.ZipFile(KERAS_FILES / "reference.keras") as keras:
        assert ours.namelist() == keras.namelist()
        for info in ours.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
        ours_meta, keras_meta = (json.loads(a.read("metadata.json")) for a in (ours, keras))
        assert ours_meta.keys() == keras_meta.keys()
        assert ours_meta["keras_version"] == keras_meta["keras_version"] == saving.KERAS_VERSION
        mine = json.loads(ours.read("config.json"))
        theirs = _strip_shared_ids(json.loads(keras.read("config.json")))
        ours_h5, keras_h5 = ours.read("model.weights.h5"), keras.read("model.weights.h5")
    assert mine.keys() == theirs.keys()
    for key in ("module", "class_name", "registered_name", "build_config"):
        assert mine[key] == theirs[key], key
    assert mine["config"].keys() == theirs["config"].keys()
    for key in ("name", "trainable", "dtype", "build_input_shape"):
        assert mine["config"][key] == theirs["config"][key], key
    # every layer entry exactly as Keras wrote it (Keras numbers its auto-named InputLayer)
    theirs["config"]["layers"][0]["config"]["name"] = "input_layer"
    assert mine["config"]["layers"] == theirs["config"]["layers"]
    compile_ours, compile_keras = mine["compile_config"], theirs["compile_config"]
    assert compile_ours.keys() == compile_keras.keys()
    assert compile_ours["optimizer"]["class_name"] == compile_keras["optimizer"]["class_name"]
    for key, value in compile_ours["optimizer"]["config"].items():
        if key in compile_keras["optimizer"]["config"] and key != "name":
            assert value == pytest.approx(compile_keras["optimizer"]["config"][key]), key
    assert (
        compile_ours["loss"]["class_name"] == "MeanSquaredError" and compile_keras["loss"] == "mse"
    )
    ours_tree, keras_tree = _h5_tree(ours_h5), _h5_tree(keras_h5)
    assert sorted(ours_tree) == sorted(keras_tree)
    for name, (attrs, shape, dtype, values) in keras_tree.items():
        got = ours_tree[name]
        if name != "optimizer/vars":  # Keras numbers its auto-named optimizers ("adam_1")
            assert got[0] == attrs, name
        assert (got[1], got[2]) == (shape, dtype), name
        if values is not None:
            np.testing.assert_array_equal(got[3], values, err_msg=name)


@pytest.mark.parametrize("case", RESUME_CASES)
def test_rewritten_keras_file_has_keras_optimizer_layout(tmp_path, case):
    """Load a file Keras wrote after training and write it again: every group, attribute,
    dataset, dtype and value of model.weights.h5 (optimizer slots in Keras's order included)
    must come out as Keras wrote it."""
    source = KERAS_FILES / f"{case}.keras"
    path = tmp_path / f"{case}.keras"
    saving.save_model(saving.load_model(source), path)
    with zipfile.ZipFile(source) as theirs, zipfile.ZipFile(path) as ours:
        keras_tree = _h5_tree(theirs.read("model.weights.h5"))
        ours_tree = _h5_tree(ours.read("model.weights.h5"))
        keras_config = json.loads(theirs.read("config.json"))
        ours_config = json.loads(ours.read("config.json"))
    assert sorted(ours_tree) == sorted(keras_tree)
    assert len([n for n in keras_tree if n.startswith("optimizer/vars/")]) > 2
    for name, (attrs, shape, dtype, values) in keras_tree.items():
        got = ours_tree[name]
        if name == "optimizer/vars":  # Keras numbers auto-named optimizers: "rm_sprop_2"
            assert got[0]["name"] == re.sub(r"_\d+$", "", attrs["name"])
        else:
            assert got[0] == attrs, name
        assert (got[1], got[2]) == (shape, dtype), name
        if values is not None:
            np.testing.assert_array_equal(got[3], values, err_msg=name)
    theirs_opt = keras_config["compile_config"]["optimizer"]
    ours_opt = ours_config["compile_config"]["optimizer"]
    assert ours_opt["class_name"] == theirs_opt["class_name"]
    assert ours_opt["config"]["name"] == re.sub(r"_\d+$", "", theirs_opt["config"]["name"])


def test_written_archive_reads_back_identically(tmp_path):
    model = _reference_model()
    model.compile(optimizer=RMSprop(learning_rate=0.01, momentum=0.5), loss="mse", metrics=["mae"])
    path = tmp_path / "m.keras"
    saving.save_model(model, path)
    clone = saving.load_model(path)
    x = np.random.default_rng(0).normal(size=(9, 4)).astype("float32")
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    for a, b in zip(clone.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [layer.name for layer in clone.layers if type(layer).__name__ != "InputLayer"] == [
        "hidden",
        "drop",
        "squash",
        "out",
    ]
    assert type(clone.optimizer).__name__ == "RMSprop"
    assert clone.optimizer.get_config()["momentum"] == 0.5
    assert [m.name for m in clone._compiled.metrics] == ["mae"]


def test_keras_archive_names_a_layer_keras_files_cannot_hold(tmp_path):
    class Scale(layers.Layer):
        def forward(self, x, training=False):
            return 2 * x

    model = Sequential([Dense(2, input_shape=(3,)), Scale(name="doubler")], seed=0)
    with pytest.raises(ValueError, match="layer 'doubler' of class 'Scale'.*npz"):
        saving.save_model(model, tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def test_npz_files_from_before_input_shape_was_stored_still_load(tmp_path):
    model, x, _ = _trained()
    path = tmp_path / "old.npz"
    saving.save_model(model, path)
    members = _npz_members(path)
    _edit_meta(lambda meta: meta.pop("input_shape"))(members)
    _write_members(path, members)
    np.testing.assert_array_equal(saving.load_model(path).predict(x), model.predict(x))


def test_keras_archive_refuses_backup_extras(tmp_path):
    with pytest.raises(ValueError, match="extra= is for nastoolkit's .npz"):
        saving.save_model(_reference_model(), tmp_path / "m.keras", extra={"epoch": 1})


@functools.lru_cache(maxsize=1)
def _keras_python():
    """A Python that imports Keras 3, or None (Keras is a reference tool, absent in CI)."""
    candidates = [os.environ.get("NASTOOLKIT_KERAS_PYTHON"), "/work/scratch/kvenv/bin/python"]
    for python in filter(None, candidates):
        if shutil.which(python) or os.path.exists(python):
            probe = subprocess.run(
                [python, "-c", "import keras"],
                capture_output=True,
                check=False,
                env={**os.environ, "KERAS_BACKEND": "torch"},
                timeout=300,
            )
            if probe.returncode == 0:
                return python
    return None


KERAS_OPENS = """
import json, sys, warnings
import numpy as np
import keras
out = {}
for pair in sys.argv[1:]:
    xfile, path = pair.split("::")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = keras.models.load_model(path)
    compiled = model.get_compile_config() if model.compiled else {}
    out[path] = {"y": np.asarray(model.predict(np.load(xfile), verbose=0)).tolist(),
                 "optimizer": type(model.optimizer).__name__ if model.compiled else None,
                 "metrics": compiled.get("metrics"),
                 "weighted_metrics": compiled.get("weighted_metrics"),
                 "layers": [type(layer).__name__ for layer in model.layers]}
print(json.dumps(out))
"""


def test_keras_opens_nastoolkit_archives_and_predicts_the_same(tmp_path):
    python = _keras_python()
    if python is None:
        pytest.skip(
            "Keras 3 is not installed (set NASTOOLKIT_KERAS_PYTHON to a Python with "
            "keras and torch); the structure test above still compares with Keras's file"
        )
    rng = np.random.default_rng(0)
    x = rng.normal(scale=0.8, size=(16, 6)).astype("float32")
    cases = {}
    for i, name in enumerate(n for n in activations.names() if n != "softmax"):
        model = Sequential(
            [
                Dense(7, activation=name, input_shape=(6,)),
                Dropout(0.2),
                Activation(name),
                Dense(3, activation="softmax"),
            ],
            seed=i,
        )
        cases[name] = (model, x)
    regularized = Sequential(
        [
            Dense(
                5, activation="tanh", input_shape=(6,), kernel_regularizer=L2(0.01), use_bias=False
            ),
            Dense(2),
        ],
        seed=9,
        dtype="float64",
    )
    regularized.compile(optimizer=SGD(learning_rate=0.05, momentum=0.9), loss="mse")
    regularized.fit(x, rng.normal(size=(16, 2)), epochs=2, verbose=0)
    cases["regularized"] = (regularized, x)
    if hasattr(layers, "Flatten"):
        flat = Sequential(
            [layers.Input(shape=(2, 3)), layers.Flatten(), Dense(2, activation="sigmoid")], seed=4
        )
        flat.compile(
            optimizer="adam",
            loss="binary_crossentropy",
            metrics=["accuracy"],
            weighted_metrics=["mae"],
        )
        cases["flatten"] = (flat, x.reshape(16, 2, 3))
    trained = _reference_model()
    trained.compile(optimizer=Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    cases["trained"] = (trained, x[:, :4])
    # Dense on (batch, 2, 3) inputs, a broadcast Dropout mask, a metric with settings
    dense_nd = Sequential(
        [
            layers.Input(shape=(2, 3)),
            Dense(4, activation="tanh"),
            Dropout(0.3, noise_shape=(None, 1, None)),
            layers.Flatten(),
            Dense(1, activation="sigmoid"),
        ],
        seed=6,
    )
    dense_nd.compile(
        optimizer="adam", loss="binary_crossentropy", metrics=[Precision(thresholds=0.3), "auc"]
    )
    cases["dense_nd"] = (dense_nd, x.reshape(16, 2, 3))
    cases["output_nd"] = (
        Sequential([layers.Input(shape=(2, 3)), Dense(4)], seed=7),
        cases["dense_nd"][1],
    )
    pairs = []
    for name, (model, inputs) in cases.items():
        saving.save_model(model, tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}.npy", inputs)
        pairs.append(f"{tmp_path / name}.npy::{tmp_path / name}.keras")
    done = subprocess.run(
        [python, "-c", KERAS_OPENS, *pairs],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "KERAS_BACKEND": "torch"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for name, (model, inputs) in cases.items():
        got = result[f"{tmp_path / name}.keras"]
        want = np.asarray(model.predict(inputs), np.float64)
        np.testing.assert_allclose(got["y"], want, rtol=2e-5, atol=2e-6, err_msg=name)
        assert got["layers"] == [
            type(layer).__name__ for layer in model.layers if type(layer).__name__ != "InputLayer"
        ]
    assert result[f"{tmp_path / 'trained'}.keras"]["optimizer"] == "Adam"
    assert result[f"{tmp_path / 'regularized'}.keras"]["optimizer"] == "SGD"
    assert result[f"{tmp_path / 'linear'}.keras"]["optimizer"] is None
    if "flatten" in cases:
        assert result[f"{tmp_path / 'flatten'}.keras"]["weighted_metrics"] == ["mae"]
    precision, auc = result[f"{tmp_path / 'dense_nd'}.keras"]["metrics"]
    assert precision["class_name"] == "Precision" and precision["config"]["thresholds"] == 0.3
    assert auc == "auc"


KERAS_RESUMES = """
import json, sys, warnings
import numpy as np
import keras
x, y = np.load(sys.argv[1]), np.load(sys.argv[2])
out = {}
for path in sys.argv[3:]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.models.load_model(path)
    skipped = [str(w.message) for w in caught if "Skipping variable" in str(w.message)]
    iterations = int(model.optimizer.iterations.numpy())
    model.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
    out[path] = {"weights": [np.asarray(w).tolist() for w in model.get_weights()],
                 "iterations": iterations, "skipped": skipped}
print(json.dumps(out))
"""


def test_keras_resumes_training_from_nastoolkit_optimizer_state(tmp_path):
    """For SGD (Nesterov), Adam and RMSprop (momentum): Keras loads the slots nastoolkit wrote
    (no 'Skipping variable loading' warning) and its next step equals nastoolkit's."""
    python = _keras_python()
    if python is None:
        pytest.skip(
            "Keras 3 is not installed (set NASTOOLKIT_KERAS_PYTHON to a Python with "
            "keras and torch)"
        )
    x, y = _recorder().resume_data()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    optimizers = [
        Adam(learning_rate=0.01),
        RMSprop(learning_rate=0.01, momentum=0.5),
        SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    ]
    models, paths = [], []
    for optimizer in optimizers:
        model = Sequential([Dense(6, activation="tanh", input_shape=(5,)), Dense(2)], seed=3)
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(x, y, epochs=3, batch_size=8, verbose=0, seed=0)
        paths.append(str(tmp_path / f"{type(optimizer).__name__}.keras"))
        saving.save_model(model, paths[-1])
        models.append(model)
    done = subprocess.run(
        [python, "-c", KERAS_RESUMES, str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), *paths],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "KERAS_BACKEND": "torch"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for model, path in zip(models, paths):
        keras_side = result[path]
        assert keras_side["skipped"] == [] and keras_side["iterations"] == 9, path
        model.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
        for got, want in zip(keras_side["weights"], model.get_weights()):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=path)


# --- nastoolkit .npz files and backups --------------------------------------------------------
def _trained(optimizer=None, width=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, width)).astype("float32")
    y = (x @ rng.normal(size=(width, 1))).astype("float32")
    model = Sequential(
        [Dense(6, activation="relu", input_shape=(width,)), Dropout(0.25), Dense(1)], seed=seed
    )
    model.compile(optimizer=optimizer or Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=seed)
    return model, x, y


def _state(model):
    """A deep copy of everything restore_backup may change."""
    optimizer = {k: np.array(v, copy=True) for k, v in model.optimizer.get_state().items()}
    dropout = [
        (layer.seed, layer.counter) for layer in model.layers if type(layer).__name__ == "Dropout"
    ]
    rng = model._fit_rng.bit_generator.state if model._fit_rng is not None else None
    return [w.copy() for w in model.get_weights()], optimizer, dropout, json.dumps(rng)


def _assert_same_state(a, b):
    for x, y in zip(a[0], b[0]):
        np.testing.assert_array_equal(x, y)
    assert a[1].keys() == b[1].keys()
    for key in a[1]:
        np.testing.assert_array_equal(a[1][key], b[1][key])
    assert a[2:] == b[2:]


def test_npz_round_trip_keeps_weights_compile_settings_and_optimizer_state(tmp_path):
    model, x, _ = _trained()
    path = tmp_path / "model.npz"
    saving.save_model(model, path)
    clone = saving.load_model(path)
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    assert clone.get_config() == model.get_config()
    assert clone.optimizer.get_config() == model.optimizer.get_config()
    state, copied = model.optimizer.get_state(), clone.optimizer.get_state()
    assert state.keys() == copied.keys() and state["iterations"] == copied["iterations"] > 0
    for key in state:
        np.testing.assert_array_equal(state[key], copied[key])
    record = saving.read_model_file(path)
    assert record.meta["format"] == saving.FORMAT and record.meta["input_shape"] == [3]
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"], weighted_metrics=["mse"])
    saving.save_model(model, path)
    clone = saving.load_model(path)
    assert [m.name for m in clone._compiled.weighted_metrics] == ["mse"]
    assert not saving.load_model(path, compile=False)._compiled


def test_restore_backup_puts_back_weights_optimizer_and_streams(tmp_path):
    model, x, y = _trained()
    path = tmp_path / "backup.npz"
    saving.save_model(model, path, extra=model._backup_extra(4))
    saved = _state(model)
    model.fit(x, y, epochs=1, verbose=0)  # moves weights, slots, RNG and dropout counters
    assert saving.restore_backup(model, path) == 5
    _assert_same_state(_state(model), saved)


def _backup(tmp_path, optimizer=None):
    model = _trained(optimizer)[0]
    path = tmp_path / "backup.npz"
    saving.save_model(model, path, extra=model._backup_extra(1))
    return model, path


def _npz_members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_members(path, members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buf.getvalue())


def _npy(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _edit_meta(edit):
    def apply(members):
        meta = json.loads(np.load(io.BytesIO(members["__meta__.npy"])).tobytes())
        edit(meta)
        members["__meta__.npy"] = _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))

    return apply


def _set(members, name, array):
    members[name] = _npy(array)


DAMAGE = {
    "empty": (lambda m: None, "empty"),
    "missing weight": (lambda m: m.pop("weight_001.npy"), "without gaps|weight arrays"),
    "wrong-shaped weight": (lambda m: _set(m, "weight_000.npy", np.zeros((3, 5), "f4")), "shape"),
    "integer weight": (lambda m: _set(m, "weight_002.npy", np.zeros((6, 1), "i4")), "dtype"),
    "NaN weight": (lambda m: _set(m, "weight_003.npy", np.full(1, np.nan, "f4")), "NaN"),
    "wrong-shaped slot": (lambda m: _set(m, "optimizer/0/m.npy", np.zeros(3, "f4")), "shape"),
    "missing slot": (lambda m: m.pop("optimizer/0/v.npy"), "missing"),
    "no metadata": (lambda m: m.pop("__meta__.npy"), "__meta__"),
    "metadata not JSON": (
        lambda m: _set(m, "__meta__.npy", np.frombuffer(b"{x", np.uint8)),
        "JSON",
    ),
    "metadata float": (lambda m: _set(m, "__meta__.npy", np.zeros(3)), "uint8"),
    "no format": (_edit_meta(lambda meta: meta.pop("format")), "format"),
    "no model": (_edit_meta(lambda meta: meta.pop("model")), "'model'"),
    "no layers": (_edit_meta(lambda meta: meta["model"].pop("layers")), "'layers'"),
    "unknown layer": (
        _edit_meta(lambda meta: meta["model"]["layers"][0].update(class_name="Conv2D")),
        "Conv2D",
    ),
    "no iterations": (
        _edit_meta(lambda meta: meta.pop("optimizer_iterations")),
        "optimizer_iterations",
    ),
    "epoch text": (_edit_meta(lambda meta: meta["extra"].update(epoch="3")), "epoch"),
    "bad rng": (
        _edit_meta(lambda meta: meta["extra"].update(rng={"bit_generator": "PCG64"})),
        "rng",
    ),
    "bad dropout": (_edit_meta(lambda meta: meta["extra"].update(dropout=[[1]])), "dropout"),
    "other architecture": (
        _edit_meta(lambda meta: meta["model"]["layers"][0]["config"].update(units=7)),
        "shape|architecture",
    ),
    "other optimizer": (
        _edit_meta(
            lambda meta: meta["compile"]["optimizer"].update(
                class_name="RMSprop", config={"learning_rate": 0.01}
            )
        ),
        "optimizer",
    ),
    "no compile": (_edit_meta(lambda meta: meta.pop("compile")), "compile"),
    "pickled object": (
        lambda m: m.update(
            {"weight_000.npy": _npy(np.zeros(2)).replace(b"'descr': '<f8'", b"'descr': '|O8'")}
        ),
        "weight_000|pickle|Object",
    ),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_backup_is_a_clear_error_and_leaves_the_model_untouched(tmp_path, kind):
    model, path = _backup(tmp_path)
    edit, message = DAMAGE[kind]
    if kind == "empty":
        path.write_bytes(b"")
    else:
        members = _npz_members(path)
        edit(members)
        _write_members(path, members)
    before = _state(model)
    with pytest.raises(ValueError, match=message) as info:
        saving.restore_backup(model, path)
    assert str(path) in str(info.value)
    _assert_same_state(_state(model), before)
    with pytest.raises(ValueError, match=str(path).replace("\\", "\\\\")):
        saving.load_model(path)


@pytest.mark.parametrize("cut", [1, 30, 0.5, -1])
def test_truncated_files_are_clear_errors(tmp_path, cut):
    model, path = _backup(tmp_path)
    data = path.read_bytes()
    for target in (path, tmp_path / "m.keras"):
        if target.suffix == ".keras":
            saving.save_model(model, target)
            data = target.read_bytes()
        end = (
            cut
            if isinstance(cut, int) and cut > 0
            else (len(data) - 1 if cut == -1 else int(len(data) * cut))
        )
        target.write_bytes(data[:end])
        with pytest.raises(ValueError, match="zip|truncated") as info:
            saving.load_model(target)
        assert str(target) in str(info.value)


def test_backup_from_another_model_or_optimizer_is_refused_untouched(tmp_path):
    _, path = _backup(tmp_path)
    cases = [
        (_trained(SGD(learning_rate=0.01, momentum=0.9))[0], "optimizer 'Adam'.*'SGD'"),
        (_trained(Adam(), width=4)[0], "shape"),
    ]
    wider = Sequential([Dense(6, activation="tanh", input_shape=(3,)), Dropout(0.25), Dense(1)])
    wider.compile(optimizer="adam", loss="mse")
    wider.build()
    cases.append((wider, "another architecture"))
    for model, message in cases:
        before = _state(model) if model.optimizer.variables else None
        weights = [w.copy() for w in model.get_weights()]
        with pytest.raises(ValueError, match=message) as info:
            saving.restore_backup(model, path)
        assert str(path) in str(info.value)
        for a, b in zip(model.get_weights(), weights):
            np.testing.assert_array_equal(a, b)
        if before is not None:
            _assert_same_state(_state(model), before)


def test_a_saved_model_is_not_a_backup_and_missing_files_are_named(tmp_path):
    model, _, _ = _trained()
    saving.save_model(model, tmp_path / "model.npz")
    with pytest.raises(ValueError, match="not a training backup"):
        saving.restore_backup(model, tmp_path / "model.npz")
    with pytest.raises(FileNotFoundError, match="no such file") as info:
        saving.load_model(tmp_path / "absent.npz")
    assert isinstance(info.value, ValueError)
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="not a readable zip"):
        saving.read_model_file(tmp_path / "text.npz")


# --- fuzz: any damage is a ValueError naming the file, never another exception ----------------
def _damage(data: bytes, members: dict, draw) -> bytes:
    """One random damage: truncate, flip bytes, drop/replace/garble a member, drop or replace
    a key of the JSON metadata, or put an array of another shape or dtype in an array's place."""
    how = draw(st.sampled_from(["truncate", "flip", "drop", "replace", "garble", "json", "array"]))
    if how == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if how == "flip":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(out) - 1))
            out[i] ^= draw(st.integers(1, 255))
        return bytes(out)
    members = dict(members)
    name = draw(st.sampled_from(sorted(members)))
    if how == "json":
        _damage_json(members, draw)
    elif how == "array":
        _damage_array(members, draw)
    elif how == "drop":
        members.pop(name)
    elif how == "replace":
        members[name] = draw(st.binary(max_size=64))
    else:
        blob = bytearray(members[name])
        if blob:
            start = draw(st.integers(0, len(blob) - 1))
            blob[start : start + 16] = draw(st.binary(min_size=1, max_size=16))
        members[name] = bytes(blob)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for key, value in members.items():
            archive.writestr(key, value)
    return buf.getvalue()


JSON_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-3, 10**6)
    | st.floats(allow_nan=True)
    | st.text(max_size=8)
    | st.lists(st.integers(-2, 5), max_size=3)
    | st.dictionaries(st.text(max_size=5), st.integers(), max_size=2)
)


def _damage_json(members, draw):
    """Drop or replace one key anywhere in the metadata (npz) or config.json (Keras)."""
    if "__meta__.npy" in members:
        target = "__meta__.npy"
        raw = np.load(io.BytesIO(members[target]), allow_pickle=False).tobytes()
    else:
        target = draw(st.sampled_from(["config.json", "metadata.json"]))
        raw = members[target]
    doc = json.loads(raw)
    places = []

    def walk(node):
        if isinstance(node, dict):
            places.extend((node, key) for key in node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            places.extend((node, i) for i in range(len(node)))
            for value in node:
                walk(value)

    walk(doc)
    if places:
        node, key = draw(st.sampled_from(places))
        if draw(st.booleans()) and isinstance(node, dict):
            node.pop(key)
        else:
            node[key] = draw(JSON_VALUES)
    text = json.dumps(doc).encode()
    members[target] = _npy(np.frombuffer(text, np.uint8)) if target == "__meta__.npy" else text


def _damage_array(members, draw):
    """An array of another shape or dtype in place of a weight or optimizer array."""
    if "__meta__.npy" in members:
        name = draw(st.sampled_from(sorted(k for k in members if k != "__meta__.npy")))
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        dtype = draw(st.sampled_from(["f4", "f8", "i4", "u1", "c8", "b1"]))
        members[name] = _npy(np.ones(shape, dtype))
        return
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "a") as h5:
        datasets = []
        h5.visititems(lambda n, o: datasets.append(n) if isinstance(o, h5py.Dataset) else None)
        if datasets:
            name = draw(st.sampled_from(sorted(datasets)))
            del h5[name]
            if draw(st.booleans()):
                shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
                dtype = draw(st.sampled_from(["f4", "f8", "i4", "u1", "S3"]))
                h5[name] = np.ones(shape, dtype)
    members["model.weights.h5"] = buf.getvalue()


@pytest.fixture(scope="module")
def fuzz_sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    model, _, _ = _trained()
    npz, keras_file = folder / "source.npz", folder / "source.keras"
    saving.save_model(model, npz, extra=model._backup_extra(0))
    saving.save_model(model, keras_file)
    sources = {}
    for path in (npz, keras_file, KERAS_FILES / "mlp_adam.keras"):
        data = path.read_bytes()
        with zipfile.ZipFile(path) as archive:
            sources[path.name] = (data, {n: archive.read(n) for n in archive.namelist()})
    return folder, sources, model


@settings(
    max_examples=int(os.environ.get("NASTOOLKIT_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_fuzzed_files_raise_only_value_errors_naming_the_file(fuzz_sources, data):
    folder, sources, target = fuzz_sources
    name = data.draw(st.sampled_from(sorted(sources)))
    raw, members = sources[name]
    damaged = _damage(raw, members, data.draw)
    path = folder / ("damaged" + Path(name).suffix)
    path.write_bytes(damaged)
    try:
        model = saving.load_model(path)
    except ValueError as exc:
        assert str(path) in str(exc)
    else:  # damage that changed nothing the format covers (a zip header's date, say)
        assert model.built
    if name == "source.npz":  # one model for every example: a successful restore may change it
        before = _state(target)
        try:
            saving.restore_backup(target, path)
        except ValueError as exc:
            assert str(path) in str(exc)
            _assert_same_state(_state(target), before)


def test_fuzz_harness_sees_every_member_kind(fuzz_sources):
    _, sources, _ = fuzz_sources
    assert {"config.json", "metadata.json", "model.weights.h5"} <= set(sources["source.keras"][1])
    assert "__meta__.npy" in sources["source.npz"][1]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def test_metric_settings_and_noise_shape_survive_both_formats(tmp_path):
    """A metric given as an object keeps its settings (Precision's thresholds, AUC's
    num_thresholds) in .keras and .npz; a metric given by name stays a name, as in Keras's
    compile_config; Dropout's noise_shape is written and read back."""
    model = Sequential(
        [Dense(4, input_shape=(3,)), Dropout(0.5, noise_shape=(None, 1)), Dense(1, "sigmoid")],
        seed=0,
    )
    model.compile(
        optimizer="adam",
        loss="binary_crossentropy",
        metrics=[Precision(thresholds=0.3), "accuracy"],
        weighted_metrics=[AUC(num_thresholds=50)],
    )
    for suffix in ("keras", "npz"):
        path = tmp_path / f"m.{suffix}"
        model.save(path)
        loaded = saving.load_model(path)
        precision, accuracy = loaded._compiled.metrics
        (auc,) = loaded._compiled.weighted_metrics
        assert isinstance(precision, Precision) and precision.thresholds == [0.3], suffix
        assert accuracy.name == "accuracy" and isinstance(auc, AUC), suffix
        assert auc.num_thresholds == 50, suffix
        assert loaded.layers[1].noise_shape == (None, 1), suffix
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        compile_config = json.loads(archive.read("config.json"))["compile_config"]
    assert compile_config["metrics"][1] == "accuracy"
    assert compile_config["metrics"][0]["config"]["thresholds"] == 0.3
    assert compile_config["weighted_metrics"][0]["module"] == "keras.metrics"
