"""Saving and loading models: real Keras 3 ``.keras`` archives and nastoolkit's ``.npz`` files.

Two formats, chosen by the file name when saving and by the content when loading:

* ``.keras`` -- the archive Keras 3 writes (a zip of ``metadata.json``, ``config.json`` and
  ``model.weights.h5``, laid out as ``keras/src/saving/saving_lib.py`` of Keras 3.15 does), so
  ``keras.models.load_model`` opens a nastoolkit model and predicts the same, and nastoolkit reads
  ``.keras`` files that Keras wrote for Sequentials of the layers nastoolkit has.
* anything else -- nastoolkit's own ``.npz`` (JSON metadata plus arrays, never pickle) holding the
  full training state: weights, compile settings, optimizer slots and, for ``BackupAndRestore``,
  the RNG streams. It is written atomically, so a crash never leaves half a file.

Every reader validates the whole file before anything is built or changed: a truncated, empty,
foreign or inconsistent file is a :class:`ModelFileError` (a ``ValueError``) naming the file and
what is wrong, and a model given to :func:`restore_backup` is untouched when the file is bad.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import zipfile

import numpy as np

from . import activations, initializers, layers, losses, metrics, optimizers, regularizers
from ._atomic import atomic_write

__all__ = [
    "FORMAT",
    "KERAS_VERSION",
    "ModelFile",
    "ModelFileError",
    "ModelFileNotFoundError",
    "load_model",
    "read_model_file",
    "restore_backup",
    "save_model",
]

FORMAT = "nastoolkit.Sequential/1"
KERAS_VERSION = "3.15.1"  # the Keras whose archive layout save_model writes (and was checked with)

_METADATA = "metadata.json"
_CONFIG = "config.json"
_WEIGHTS = "model.weights.h5"
_NPZ_META = "__meta__.npy"


class ModelFileError(ValueError):
    """A model or backup file that cannot be read: the message names the file and the problem.

    Parameters
    ----------
    filepath : str or os.PathLike
        The file (kept as ``.filepath``).
    problem : str
        What is wrong with it (kept as ``.problem``).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "empty.npz")
    >>> open(path, "wb").close()
    >>> try:
    ...     load_model(path)
    ... except ValueError as error:
    ...     print(error.problem)
    the file is empty (0 bytes): it was never written completely. Save the model again.
    """

    def __init__(self, filepath, problem: str):
        self.filepath = os.fspath(filepath) if filepath is not None else None
        self.problem = problem
        super().__init__(f"{self.filepath}: {problem}")


class ModelFileNotFoundError(ModelFileError, FileNotFoundError):
    """The path does not exist (a ValueError as in Keras, and a FileNotFoundError).

    Examples
    --------
    >>> try:
    ...     load_model("no_such_model.npz")
    ... except ModelFileNotFoundError as error:
    ...     print(isinstance(error, ValueError), isinstance(error, FileNotFoundError))
    True True
    """


class ModelFile:
    """A validated nastoolkit ``.npz`` model file, read into memory.

    Attributes
    ----------
    path : str
        The file it came from.
    meta : dict
        The JSON metadata (``format``, ``model`` config, ``compile``, ``extra``, ...).
    weights : list of numpy.ndarray
        The weights in ``model.get_weights()`` order, finite floats.
    optimizer_state : dict
        ``optimizer.get_state()`` form (``"iterations"`` and ``"<i>/<field>"`` arrays), or empty.

    Examples
    --------
    >>> import os, tempfile
    >>> from nastoolkit.layers import Dense
    >>> from nastoolkit.models import Sequential
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> save_model(Sequential([Dense(2, input_shape=(3,))], seed=0), path)
    >>> record = read_model_file(path)
    >>> record.meta["format"], record.optimizer_state
    ('nastoolkit.Sequential/1', {})
    """

    def __init__(self, path, meta, weights, optimizer_state):
        self.path, self.meta = path, meta
        self.weights, self.optimizer_state = weights, optimizer_state

    @property
    def extra(self) -> dict:
        return self.meta.get("extra", {})

    def __repr__(self):
        return (
            f"ModelFile({self.path!r}, layers={len(self.meta['model']['layers'])}, "
            f"weights={len(self.weights)}, optimizer_state={bool(self.optimizer_state)})"
        )


# --- small helpers ----------------------------------------------------------------------------
def _read_bytes(filepath) -> bytes:
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise ModelFileNotFoundError(path, "no such file. Check the path, or save the model first.")
    if os.path.isdir(path):
        raise ModelFileError(path, "is a folder, not a model file.")
    with open(path, "rb") as stream:
        data = stream.read()
    if not data:
        raise ModelFileError(
            path,
            "the file is empty (0 bytes): it was never written completely. Save the model again.",
        )
    return data


def _open_zip(path, data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        bad = archive.testzip()  # checks every member's CRC: truncation and flipped bytes
    except Exception as exc:  # zipfile raises BadZipFile, EOFError, OSError, ValueError, ...
        raise ModelFileError(
            path,
            f"not a readable zip archive ({type(exc).__name__}: {exc}); "
            "the file is truncated, damaged or of another kind.",
        ) from exc
    if bad is not None:
        raise ModelFileError(path, f"archive member {bad!r} is damaged (CRC mismatch).")
    return archive


def _member(path, archive: zipfile.ZipFile, name: str) -> bytes:
    if name not in archive.namelist():
        raise ModelFileError(path, f"the archive has no {name!r} (members: {archive.namelist()}).")
    try:
        return archive.read(name)
    except Exception as exc:
        raise ModelFileError(path, f"cannot read archive member {name!r} ({exc}).") from exc


def _json(path, data: bytes, what: str) -> dict:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(path, f"{what} is not valid JSON ({exc}).") from exc
    if not isinstance(value, dict):
        raise ModelFileError(
            path, f"{what} must be a JSON object. Received: {type(value).__name__}"
        )
    return value


def _require(path, mapping: dict, key: str, kind, where: str):
    """``mapping[key]``, checked to exist and be of ``kind`` (a type or tuple of types)."""
    if key not in mapping:
        raise ModelFileError(path, f"{where} has no {key!r} entry.")
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ModelFileError(path, f"{where}[{key!r}] must be a {names}. Received: {value!r}")
    return value


def _float_array(path, name: str, array) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.kind != "f":
        raise ModelFileError(path, f"array {name!r} has dtype {array.dtype}; expected floats.")
    if not np.all(np.isfinite(array)):
        raise ModelFileError(path, f"array {name!r} holds NaN or infinite values.")
    return array


def _is_keras_archive(archive: zipfile.ZipFile) -> bool:
    return _CONFIG in archive.namelist()


def _snake(name: str) -> str:
    """Keras's ``naming.to_snake_case`` (``InputLayer`` -> ``input_layer``, ``RMSprop`` ->
    ``rm_sprop``): the names of the weight-file groups and of optimizers in Keras's files."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _input_shape(model) -> tuple:
    """The model's input shape without the batch axis: ``(features,)`` or, with Flatten, more."""
    shape = getattr(model, "input_shape", None)
    if (
        isinstance(shape, (tuple, list))
        and shape
        and all(isinstance(d, (int, np.integer)) for d in shape[1:])
        and len(shape) > 1
    ):
        return tuple(int(d) for d in shape[1:])
    return (int(model.input_dim),)


def _own_layers(model) -> list:
    """The model's layers without an ``InputLayer`` (Keras keeps it out of ``model.layers``)."""
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def _metric_entries(compiled, weighted: bool) -> list:
    """The compiled metrics as compile was given them: a name stays a name; a metric object
    is written with its settings (``{"class_name", "config"}``), e.g. Precision's thresholds.
    A plain function, which no file can hold, is written by its name."""
    objects = compiled.weighted_metrics if weighted else compiled.metrics
    specs = compiled.weighted_metric_specs if weighted else compiled.metric_specs
    entries = []
    for spec, metric in zip(specs or [m.name for m in objects], objects):
        entry = spec if isinstance(spec, str) else metrics.serialize(metric)
        if not isinstance(entry, str) and entry["class_name"] == "MeanMetricWrapper":
            entry = metric.name
        entries.append(entry)
    return entries


# --- the npz format ---------------------------------------------------------------------------
def _npz_bytes(model, extra) -> bytes:
    meta = {
        "format": FORMAT,
        "model": model.get_config(),
        "input_shape": list(_input_shape(model)),
        "extra": extra or {},
    }
    compiled = getattr(model, "_compiled", None)
    if compiled is not None:
        meta["compile"] = {
            "optimizer": optimizers.serialize(compiled.optimizer),
            "loss": losses.serialize(compiled.loss),
            "metrics": _metric_entries(compiled, weighted=False),
        }
        if compiled.weighted_metrics:
            meta["compile"]["weighted_metrics"] = _metric_entries(compiled, weighted=True)
    arrays = {f"weight_{i:03d}": w for i, w in enumerate(model.get_weights())}
    if compiled is not None and compiled.optimizer.variables:
        # optimizer slots too, so a loaded model resumes training exactly where it stopped
        state = compiled.optimizer.get_state()
        meta["optimizer_iterations"] = int(state.pop("iterations"))
        arrays.update({f"optimizer/{key}": value for key, value in state.items()})
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npz_arrays(path, archive: zipfile.ZipFile) -> dict:
    """Every ``.npy`` member of an npz archive as an array (never unpickling)."""
    arrays = {}
    for name in archive.namelist():
        if not name.endswith(".npy"):
            raise ModelFileError(path, f"unexpected archive member {name!r} in an npz model file.")
        try:
            arrays[name[:-4]] = np.lib.format.read_array(
                io.BytesIO(archive.read(name)), allow_pickle=False
            )
        except Exception as exc:  # numpy raises ValueError, OSError, EOFError, ...
            raise ModelFileError(path, f"array {name[:-4]!r} cannot be read ({exc}).") from exc
    return arrays


def _check_meta(path, meta: dict) -> None:
    fmt = meta.get("format")
    if fmt != FORMAT:
        raise ModelFileError(path, f"has format {fmt!r}; expected {FORMAT!r}.")
    model = _require(path, meta, "model", dict, "the metadata")
    layer_list = _require(path, model, "layers", list, "the model config")
    if not layer_list:
        raise ModelFileError(path, "the model config lists no layers.")
    for i, entry in enumerate(layer_list):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("class_name"), str)
            or not isinstance(entry.get("config"), dict)
        ):
            raise ModelFileError(
                path,
                f"layer {i} of the model config must be "
                f"{{'class_name': str, 'config': dict}}. Received: {entry!r}",
            )
    if not isinstance(meta.get("extra", {}), dict):
        raise ModelFileError(path, f"metadata 'extra' must be a dict. Received: {meta['extra']!r}")
    if "input_shape" in meta:
        shape = meta["input_shape"]
        if (
            not isinstance(shape, list)
            or not shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
        ):
            raise ModelFileError(
                path,
                f"metadata 'input_shape' must be a list of positive integers. Received: {shape!r}",
            )
    if "compile" in meta:
        comp = _require(path, meta, "compile", dict, "the metadata")
        _require(path, comp, "optimizer", dict, "the compile settings")
        _require(path, comp, "loss", (dict, str), "the compile settings")
        for key in ("metrics", "weighted_metrics"):
            if key == "metrics" or key in comp:
                names = _require(path, comp, key, list, "the compile settings")
                if not all(isinstance(m, str) or _is_serialized(m) for m in names):
                    raise ModelFileError(
                        path,
                        f"compile {key} must be names or {{'class_name', 'config'}} objects. "
                        f"Received: {names!r}",
                    )


def _model_from_meta(path, meta: dict, weights: list):
    """An unbuilt-then-built Sequential from the metadata, to learn the expected weight shapes."""
    from .models import Sequential

    try:
        model = Sequential.from_config(meta["model"])
    except Exception as exc:  # a config this version cannot build: say which part
        raise ModelFileError(
            path, f"the model config cannot be rebuilt ({type(exc).__name__}: {exc})."
        ) from exc
    shape = meta.get("input_shape")
    if shape is None:  # files from before input_shape was stored: the first kernel's rows
        if not weights or weights[0].ndim != 2:
            raise ModelFileError(
                path,
                "the input width cannot be found: no 'input_shape' in the "
                "metadata and no 2-D first weight.",
            )
        shape = [int(weights[0].shape[0])]
    try:
        model.build((None, *shape))
    except Exception as exc:
        raise ModelFileError(
            path,
            f"the model config cannot be built for input shape "
            f"{tuple(shape)} ({type(exc).__name__}: {exc}).",
        ) from exc
    return model


def _check_weights_fit(path, model, weights: list, what: str) -> None:
    expected = [tuple(np.shape(w)) for w in model.get_weights()]
    found = [tuple(w.shape) for w in weights]
    if len(found) != len(expected):
        raise ModelFileError(
            path,
            f"holds {len(found)} weight arrays but {what} has {len(expected)} (shapes {expected}).",
        )
    for i, (want, got) in enumerate(zip(expected, found)):
        if want != got:
            raise ModelFileError(
                path,
                f"weight array {i} has shape {got} but {what} expects "
                f"{want}: the file belongs to another architecture.",
            )


def _expected_optimizer_state(optimizer, size: int, dtype) -> dict:
    """Keys and shapes ``optimizer.get_state()`` has after building on one flat buffer."""
    probe = optimizers.deserialize(optimizers.serialize(optimizer))
    probe.build([np.zeros(size, dtype)])
    return {key: np.shape(value) for key, value in probe.get_state().items() if key != "iterations"}


def _check_optimizer_state(path, state: dict, optimizer, params) -> None:
    expected = _expected_optimizer_state(optimizer, int(np.size(params)), np.dtype(params.dtype))
    found = {key: tuple(value.shape) for key, value in state.items() if key != "iterations"}
    name = type(optimizer).__name__
    missing = sorted(set(expected) - set(found))
    unknown = sorted(set(found) - set(expected))
    if missing or unknown:
        raise ModelFileError(
            path,
            f"optimizer state does not fit this model's {name} "
            f"(missing {missing}, unexpected {unknown}): the file was "
            "written by another optimizer or architecture.",
        )
    for key, shape in expected.items():
        if found[key] != tuple(shape):
            raise ModelFileError(
                path,
                f"optimizer array {key!r} has shape {found[key]} but this "
                f"model's {name} needs {tuple(shape)}.",
            )


def read_model_file(filepath) -> ModelFile:
    """Read and validate a nastoolkit ``.npz`` model or backup file, changing nothing.

    Parameters
    ----------
    filepath : str or os.PathLike
        A file written by :func:`save_model` with a suffix other than ``.keras``.

    Returns
    -------
    ModelFile
        Metadata, weights and optimizer state, each checked: the format tag, the model config
        (rebuilt to learn the expected weight shapes), every array's dtype, shape and
        finiteness, the optimizer slots against the saved optimizer, and the backup extras.

    Raises
    ------
    ModelFileError
        (a ``ValueError``) naming the file and what is wrong with it.

    Examples
    --------
    >>> import os, tempfile
    >>> from nastoolkit.layers import Dense
    >>> from nastoolkit.models import Sequential
    >>> model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> save_model(model, path)
    >>> [w.shape for w in read_model_file(path).weights]
    [(3, 2), (2,)]
    """
    path = os.fspath(filepath)
    try:
        return _read_npz(path)
    except ModelFileError:
        raise
    except (TypeError, KeyError, AttributeError, IndexError, ValueError, OverflowError) as exc:
        raise _malformed(path, exc) from exc


def _read_npz(filepath) -> ModelFile:
    """``read_model_file`` without the last-resort net."""
    path = os.fspath(filepath)
    archive = _open_zip(path, _read_bytes(path))
    if _is_keras_archive(archive):
        raise ModelFileError(
            path,
            "is a Keras .keras archive, not a nastoolkit .npz model file; open it with load_model.",
        )
    arrays = _npz_arrays(path, archive)
    if "__meta__" not in arrays:
        raise ModelFileError(path, "has no '__meta__' entry: not a nastoolkit model file.")
    raw = arrays.pop("__meta__")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(
            path,
            f"'__meta__' must be 1-D uint8 JSON bytes. Received: dtype "
            f"{raw.dtype}, shape {raw.shape}",
        )
    meta = _json(path, raw.tobytes(), "the metadata")
    _check_meta(path, meta)
    weight_keys = sorted(k for k in arrays if k.startswith("weight_"))
    if weight_keys != [f"weight_{i:03d}" for i in range(len(weight_keys))]:
        raise ModelFileError(
            path,
            f"weight arrays must be weight_000, weight_001, ... without "
            f"gaps. Received: {weight_keys}",
        )
    weights = [_float_array(path, k, arrays.pop(k)) for k in weight_keys]
    state = {
        k.split("/", 1)[1]: _float_array(path, k, arrays.pop(k))
        for k in sorted(k for k in arrays if k.startswith("optimizer/"))
    }
    if arrays:
        raise ModelFileError(path, f"unexpected arrays {sorted(arrays)}.")
    model = _model_from_meta(path, meta, weights)
    _check_weights_fit(path, model, weights, "the architecture in its own metadata")
    if state:
        if "compile" not in meta:
            raise ModelFileError(path, "holds optimizer state but no compile settings.")
        iterations = meta.get("optimizer_iterations")
        if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 0:
            raise ModelFileError(
                path,
                f"metadata 'optimizer_iterations' must be a non-negative "
                f"integer. Received: {iterations!r}",
            )
        try:
            optimizer = optimizers.deserialize(meta["compile"]["optimizer"])
        except Exception as exc:
            raise ModelFileError(path, f"the saved optimizer cannot be rebuilt ({exc}).") from exc
        _check_optimizer_state(path, state, optimizer, model.params)
        state["iterations"] = iterations
    _check_extra(path, meta.get("extra", {}))
    return ModelFile(path, meta, weights, state)


def _check_extra(path, extra: dict) -> None:
    """The backup extras written by ``Sequential._backup_extra``, checked before any use."""
    if "epoch" in extra:
        epoch = extra["epoch"]
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise ModelFileError(
                path, f"extra 'epoch' must be a non-negative integer. Received: {epoch!r}"
            )
    rng = extra.get("rng")
    if rng is not None:
        try:
            probe = getattr(np.random, rng["bit_generator"])()
            probe.state = rng
        except Exception as exc:
            raise ModelFileError(
                path,
                f"extra 'rng' is not a NumPy bit-generator state ({type(exc).__name__}: {exc}).",
            ) from exc
    dropout = extra.get("dropout", [])
    if not isinstance(dropout, list) or not all(
        isinstance(pair, list)
        and len(pair) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in pair)
        for pair in dropout
    ):
        raise ModelFileError(
            path,
            f"extra 'dropout' must be a list of [seed, counter] pairs of "
            f"non-negative integers. Received: {dropout!r}",
        )


def _layer_signature(config: dict) -> list:
    """What must agree between a backup and the model it restores: classes and activations."""
    return [
        (c["class_name"], c["config"].get("activation"))
        for c in config["layers"]
        if c["class_name"] != "InputLayer"
    ]


def restore_backup(model, filepath) -> int:
    """Put a backup written by ``model.save(path, extra=model._backup_extra(epoch))`` back.

    Everything is validated first (the file, the architecture, the optimizer and its slots, the
    RNG extras); only then are the weights, the optimizer state and the extras applied.

    Parameters
    ----------
    model : Sequential
        A built, compiled model of the architecture the backup was made from.
    filepath : str or os.PathLike
        The backup file.

    Returns
    -------
    int
        The epoch to continue from (the saved epoch + 1).

    Raises
    ------
    ModelFileError
        (a ``ValueError``) naming the file and what is wrong; the model is then untouched.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from nastoolkit.layers import Dense
    >>> from nastoolkit.models import Sequential
    >>> model = Sequential([Dense(1, input_shape=(2,))], seed=0)
    >>> model.compile(optimizer="adam", loss="mse")
    >>> _ = model.fit(np.ones((4, 2)), np.ones(4), epochs=1, verbose=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "backup.npz")
    >>> model.save(path, extra=model._backup_extra(0))
    >>> restore_backup(model, path)
    1
    """
    path = os.fspath(filepath)
    record = read_model_file(path)
    if not getattr(model, "built", False):
        raise ModelFileError(
            path, "cannot restore into a model that is not built yet; build or fit it first."
        )
    saved, current = _layer_signature(record.meta["model"]), _layer_signature(model.get_config())
    if saved != current:
        raise ModelFileError(
            path,
            f"the backup was made from another architecture: layers "
            f"{saved}, but this model has {current}.",
        )
    _check_weights_fit(path, model, record.weights, "this model")
    extra = record.extra
    if "epoch" not in extra:
        raise ModelFileError(
            path, "is a saved model, not a training backup: it has no 'epoch' in its extras."
        )
    optimizer = model.optimizer
    if record.optimizer_state:
        if optimizer is None:
            raise ModelFileError(path, "holds optimizer state but the model is not compiled.")
        saved_name = record.meta["compile"]["optimizer"].get("class_name")
        if saved_name != type(optimizer).__name__:
            raise ModelFileError(
                path,
                f"the backup was made with optimizer {saved_name!r}, but "
                f"this model uses {type(optimizer).__name__!r}.",
            )
        _check_optimizer_state(path, record.optimizer_state, optimizer, model.params)
    # layers with a random stream answer rng_state(); count them before anything changes
    streams = [layer for layer in model.layers if layer.rng_state() is not None]
    saved_streams = extra.get("dropout", [])
    if saved_streams and len(saved_streams) != len(streams):
        raise ModelFileError(
            path,
            f"extra 'dropout' has {len(saved_streams)} random streams; this "
            f"model has {len(streams)} layers with one (the backup belongs to another model).",
        )
    # validated: from here on nothing can fail for a reason the file could cause
    model.set_weights(record.weights)
    if record.optimizer_state:
        optimizer.set_state(record.optimizer_state, variables=[model.params])
    return int(model._apply_backup_extra(extra))


# --- the Keras format: writing ----------------------------------------------------------------
def _policy(dtype) -> dict:
    return {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": np.dtype(dtype).name},
        "registered_name": None,
    }


def _keras_object(module: str, serialized: dict | None) -> dict | None:
    """nastoolkit's ``{"class_name", "config"}`` in Keras's form, nested objects included."""
    if serialized is None:
        return None
    config = {
        key: (_keras_object(module, value) if _is_serialized(value) else value)
        for key, value in serialized["config"].items()
    }
    return {
        "module": module,
        "class_name": serialized["class_name"],
        "config": config,
        "registered_name": None,
    }


# Keras 3.15's variance-scaling initializers write these axes (None for dense kernels) in configs
_FAN_AXES = {"input_axes": None, "output_axes": None}
_VARIANCE_SCALING = {
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "LecunNormal",
    "LecunUniform",
    "HeNormal",
    "HeUniform",
}


def _keras_initializer(initializer) -> dict:
    entry = _keras_object("keras.initializers", initializers.serialize(initializer))
    if entry["class_name"] in _VARIANCE_SCALING:
        entry["config"] = {
            **entry["config"],
            **{k: v for k, v in _FAN_AXES.items() if k not in entry["config"]},
        }
    return entry


def _is_serialized(value) -> bool:
    return isinstance(value, dict) and set(value) == {"class_name", "config"}


# Keras serializes these activations under another name (``swish`` is ``silu``).
_KERAS_ACTIVATION_NAME = {"swish": "silu"}


def _activation_name(layer) -> str:
    name = layer.get_config().get("activation")
    if not isinstance(name, str):
        name = activations.serialize(layer.activation)
    return _KERAS_ACTIVATION_NAME.get(name, name)


def _keras_layer(layer, input_shape: tuple) -> dict:
    """One layer's entry in Keras's ``config.json`` (keys in the order Keras 3.15 writes them)."""
    kind = type(layer).__name__
    base = {
        "name": layer.name,
        "trainable": bool(getattr(layer, "trainable", True)),
        "dtype": _policy(layer.dtype),
    }
    build = {"input_shape": [None, *input_shape]}
    if kind == "Dense":
        config = {
            **base,
            "units": int(layer.units),
            "activation": _activation_name(layer),
            "use_bias": bool(layer.use_bias),
            "kernel_initializer": _keras_initializer(layer.kernel_initializer),
            "bias_initializer": _keras_initializer(layer.bias_initializer),
            "kernel_regularizer": _keras_object(
                "keras.regularizers", regularizers.serialize(layer.kernel_regularizer)
            ),
            "bias_regularizer": _keras_object(
                "keras.regularizers", regularizers.serialize(layer.bias_regularizer)
            ),
            "kernel_constraint": None,
            "bias_constraint": None,
            "quantization_config": None,
        }
    elif kind == "Dropout":
        # the seed names nastoolkit's mask stream, which means nothing to Keras
        noise = None if layer.noise_shape is None else list(layer.noise_shape)
        config = {**base, "rate": float(layer.rate), "seed": None, "noise_shape": noise}
        build = None
    elif kind == "Activation":
        config = {**base, "activation": _activation_name(layer)}
        build = None
    elif kind == "Flatten":
        config = {**base, "data_format": "channels_last"}
    else:
        raise ValueError(
            f"save_model cannot write layer {layer.name!r} of class {kind!r} to a "
            ".keras file (Keras archives are written for Dense, Dropout, Activation, "
            "InputLayer and Flatten). Save it with a .npz suffix instead."
        )
    entry = {
        "module": "keras.layers",
        "class_name": kind,
        "config": config,
        "registered_name": None,
    }
    if build is not None:
        entry["build_config"] = build
    return entry


def _keras_config(model) -> dict:
    shape = _input_shape(model)
    inputs = [
        layer
        for layer in [getattr(model, "_input", None), *model.layers]
        if type(layer).__name__ == "InputLayer"
    ]
    entries = [
        {
            "module": "keras.layers",
            "class_name": "InputLayer",
            "config": {
                "batch_shape": [None, *shape],
                "dtype": model.dtype.name,
                "sparse": False,
                "ragged": False,
                "name": inputs[0].name if inputs else "input_layer",
                "optional": False,
            },
            "registered_name": None,
        }
    ]
    width = shape
    for layer in _own_layers(model):
        entries.append(_keras_layer(layer, width))
        width = (int(layer.output_dim),)
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": model.name,
            "trainable": True,
            "dtype": _policy(model.dtype),
            "layers": entries,
            "build_input_shape": [None, *shape],
        },
        "registered_name": None,
        "build_config": {"input_shape": [None, *shape]},
        "compile_config": {},
    }  # what Keras writes for a model that is not compiled
    compiled = getattr(model, "_compiled", None)
    if compiled is not None:
        loss = losses.serialize(compiled.loss)
        opt = _keras_object("keras.optimizers.schedules", optimizers.serialize(compiled.optimizer))
        opt["module"] = "keras.optimizers"
        opt["config"]["name"] = _snake(opt["class_name"])
        config["compile_config"] = {
            "optimizer": opt,
            "loss": _keras_object("keras.losses", loss),
            "loss_weights": None,
            "metrics": _keras_metric_entries(compiled, weighted=False),
            "weighted_metrics": _keras_metric_entries(compiled, weighted=True),
            "run_eagerly": False,
            "steps_per_execution": 1,
            "jit_compile": False,
        }
    return config


def _npz_metric(entry):
    """A metric name as it is; a ``{"class_name", "config"}`` entry as the metric it describes."""
    return entry if isinstance(entry, str) else metrics.deserialize(entry)


def _keras_metric_entries(compiled, weighted: bool) -> list | None:
    """``_metric_entries`` in Keras's form (None for none, as Keras writes)."""
    entries = [
        entry if isinstance(entry, str) else _keras_object("keras.metrics", entry)
        for entry in _metric_entries(compiled, weighted)
    ]
    return entries or None


def _keras_weights(model) -> bytes:
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        h5.create_group("vars").attrs["name"] = model.name
        used: dict[str, int] = {}
        h5.create_group("layers")
        for layer in _own_layers(model):
            key = _snake(type(layer).__name__)
            used[key] = used.get(key, -1) + 1
            group = h5.create_group(f"layers/{key}" + (f"_{used[key]}" if used[key] else ""))
            holder = group.create_group("vars")
            holder.attrs["name"] = layer.name
            for i, weight in enumerate(layer.get_weights()):
                holder[str(i)] = np.ascontiguousarray(weight)
        compiled = getattr(model, "_compiled", None)
        if compiled is not None:
            holder = h5.create_group("optimizer").create_group("vars")
            holder.attrs["name"] = _snake(type(compiled.optimizer).__name__)
            for i, array in enumerate(_keras_optimizer_arrays(model, compiled.optimizer)):
                holder[str(i)] = array
    return buf.getvalue()


# Keras 3.15's optimizer variables after ``iterations`` and ``learning_rate``, as nastoolkit slot
# fields: "interleaved" lists, for each weight, one variable per field (Adam's m, v); "grouped"
# lists, for each field, one variable per weight (RMSprop's velocities, then its momentums).
_KERAS_SLOTS = {
    "SGD": ("grouped", ("velocity",)),
    "Adam": ("interleaved", ("m", "v")),
    "AdamW": ("interleaved", ("m", "v")),
    "RMSprop": ("grouped", ("v", "velocity")),
    "Adagrad": ("grouped", ("accumulator",)),
}


def _address(array) -> int:
    interface = getattr(array, "__cuda_array_interface__", None) or array.__array_interface__
    return int(interface["data"][0])


def _weight_slices(model) -> list:
    """(offset, shape) of each weight (``get_weights`` order) inside ``model.params``."""
    base, size = _address(model.params), np.dtype(model.params.dtype).itemsize
    return [
        ((_address(w) - base) // size, tuple(w.shape))
        for layer in _own_layers(model)
        for w in layer.weights
    ]


def _keras_slot_order(optimizer, fields, count: int) -> list:
    """(field, weight index) of each Keras slot variable, in Keras's order."""
    layout, known = _KERAS_SLOTS.get(type(optimizer).__name__, ("grouped", ()))
    fields = [f for f in known if f in fields]
    if layout == "interleaved":
        return [(f, i) for i in range(count) for f in fields]
    return [(f, i) for f in fields for i in range(count)]


def _keras_base_arrays(optimizer) -> list:
    """``iterations`` and, unless the learning rate is a schedule, ``learning_rate``."""
    arrays = [np.asarray(int(optimizer.iterations), np.int32)]
    if getattr(optimizer, "_schedule", None) is None:
        arrays.append(np.asarray(optimizer.current_learning_rate, np.float32))
    return arrays


def _keras_optimizer_arrays(model, optimizer) -> list:
    """The optimizer's variables as Keras lists them; the slots only when the optimizer holds
    state for exactly this model's parameters (else Keras starts its slots from zero)."""
    arrays = _keras_base_arrays(optimizer)
    variables = optimizer.variables
    if (
        type(optimizer).__name__ not in _KERAS_SLOTS
        or len(variables) != 1
        or variables[0] is not model.params
    ):
        return arrays
    state = optimizer.get_state()
    fields = {key.split("/", 1)[1] for key in state if key != "iterations"}
    slices = _weight_slices(model)
    for field, i in _keras_slot_order(optimizer, fields, len(slices)):
        offset, shape = slices[i]
        flat = np.asarray(state[f"0/{field}"])
        arrays.append(flat[offset : offset + int(np.prod(shape))].reshape(shape).copy())
    return arrays


def _keras_optimizer_state(path, h5, model):
    """nastoolkit ``set_state`` input from Keras's optimizer variables, or None if Keras saved
    no slots (a model compiled but never trained)."""
    if "optimizer/vars" not in h5:
        return None
    holder = h5["optimizer/vars"]
    keys = sorted(holder.keys(), key=lambda k: int(k) if k.isdigit() else -1)
    if keys != [str(i) for i in range(len(keys))]:
        raise ModelFileError(path, f"{_WEIGHTS} optimizer/vars holds {keys}; expected 0..n-1.")
    arrays = [np.asarray(holder[k][()]) for k in keys]
    optimizer = model.optimizer
    base = len(_keras_base_arrays(optimizer))
    if len(arrays) <= base:
        return None
    iterations = arrays[0]
    if iterations.shape != () or iterations.dtype.kind not in "iu" or int(iterations) < 0:
        raise ModelFileError(
            path,
            f"{_WEIGHTS} optimizer/vars/0 must be the iteration count (a "
            f"non-negative integer). Received: {iterations!r}",
        )
    probe = optimizers.deserialize(optimizers.serialize(optimizer))
    probe.build([np.zeros(int(np.size(model.params)), model.dtype)])
    fields = {key.split("/", 1)[1] for key in probe.get_state() if key != "iterations"}
    slices = _weight_slices(model)
    order = _keras_slot_order(optimizer, fields, len(slices))
    if len(arrays) != base + len(order):
        raise ModelFileError(
            path,
            f"{_WEIGHTS} holds {len(arrays)} optimizer variables; a "
            f"{type(optimizer).__name__} for this model has "
            f"{base + len(order)}: the file is inconsistent.",
        )
    state = {f"0/{field}": np.zeros(int(np.size(model.params)), model.dtype) for field in fields}
    for k, ((field, i), array) in enumerate(zip(order, arrays[base:])):
        offset, shape = slices[i]
        _float_array(path, f"optimizer/vars/{base + k}", array)
        if array.shape != shape:
            raise ModelFileError(
                path,
                f"{_WEIGHTS} optimizer {field} slot of weight {i} has "
                f"shape {array.shape}; expected {shape}.",
            )
        state[f"0/{field}"][offset : offset + array.size] = array.ravel()
    state["iterations"] = int(iterations)
    return state


def _keras_bytes(model) -> bytes:
    metadata = {
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        with archive.open(_METADATA, "w") as stream:
            stream.write(json.dumps(metadata).encode())
        with archive.open(_CONFIG, "w") as stream:
            stream.write(json.dumps(_keras_config(model)).encode())
        archive.writestr(_WEIGHTS, _keras_weights(model))
    return buf.getvalue()


def save_model(model, filepath, extra: dict | None = None) -> None:
    """Write ``model`` to ``filepath``, atomically: a ``.keras`` archive or a ``.npz`` file.

    Parameters
    ----------
    model : Sequential
        A built model (``input_shape=`` on its first layer, or fitted).
    filepath : str or os.PathLike
        Ending in ``.keras``: the Keras 3 archive (``config.json``, ``metadata.json``,
        ``model.weights.h5``) that ``keras.models.load_model`` opens, with the optimizer's
        iteration count, learning rate and slots (SGD, Adam, AdamW, RMSprop, Adagrad) in Keras's
        order, so Keras continues training where nastoolkit stopped. Any other suffix:
        nastoolkit's ``.npz`` with the full training state, backup extras included.
    extra : dict, optional
        JSON-able data stored beside the model in a ``.npz`` file (``BackupAndRestore`` keeps the
        epoch and RNG streams there). Not allowed with ``.keras``.

    Examples
    --------
    >>> import os, tempfile
    >>> from nastoolkit.layers import Dense
    >>> from nastoolkit.models import Sequential
    >>> model = Sequential([Dense(2, activation="relu", input_shape=(3,))], seed=0)
    >>> folder = tempfile.mkdtemp()
    >>> save_model(model, os.path.join(folder, "m.keras"))
    >>> load_model(os.path.join(folder, "m.keras")).layers[-1].units
    2
    """
    path = os.fspath(filepath)
    if hasattr(model, "_require_built"):
        model._require_built("save")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(
            f"extra must be a dict of JSON-able values or None. Received: "
            f"extra={type(extra).__name__}"
        )
    if path.endswith(".keras"):
        if extra:
            raise ValueError(
                "extra= is for nastoolkit's .npz backups; a .keras archive holds "
                "only what Keras reads. Received: extra with keys "
                f"{sorted(extra)}. Use a .npz path for backups."
            )
        data = _keras_bytes(model)
    else:
        data = _npz_bytes(model, extra)
    atomic_write(path, data)


# --- the Keras format: reading ----------------------------------------------------------------
def _plain(value):
    """Keras's ``{"module", "class_name", "config", "registered_name"}`` objects, recursively, as
    nastoolkit's ``{"class_name", "config"}``."""
    if isinstance(value, dict) and "class_name" in value and isinstance(value.get("config"), dict):
        return {
            "class_name": value["class_name"],
            "config": {k: _plain(v) for k, v in value["config"].items()},
        }
    return value


def _build(path, where: str, factory, config: dict, defaults: dict):
    """``factory(config)``; when that fails, again without the options at Keras's defaults
    (which nastoolkit need not know). Still failing: an error naming the option."""
    try:
        return factory(config)
    except Exception as first:  # noqa: BLE001  (re-raised below, named, if the retry fails)
        trimmed = {k: v for k, v in config.items() if not (k in defaults and defaults[k] == v)}
        try:
            return factory(trimmed)
        except Exception:  # noqa: BLE001  (reported with the first, more telling, error)
            raise ModelFileError(
                path,
                f"{where}: nastoolkit cannot read {config!r} ({type(first).__name__}: {first}).",
            ) from first


def _serialized_kind(path, where, factory, value, defaults):
    """An initializer/regularizer/loss/optimizer from a Keras entry (a name or an object)."""
    if value is None or isinstance(value, str):
        try:
            return factory(value)
        except Exception as exc:
            raise ModelFileError(path, f"{where}: nastoolkit has no {value!r} ({exc}).") from exc
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("class_name"), str)
        or not isinstance(value.get("config"), dict)
    ):
        raise ModelFileError(
            path,
            f"{where} must be a name or a serialized object {{'class_name': str, 'config': "
            f"dict}}. Received: {value!r}",
        )
    plain = _plain(value)
    return _build(
        path,
        where,
        lambda c: factory({"class_name": plain["class_name"], "config": c}),
        plain["config"],
        defaults,
    )


_INITIALIZER_DEFAULTS = {"seed": None, "input_axes": None, "output_axes": None}
_LOSS_DEFAULTS = {
    "reduction": "sum_over_batch_size",
    "from_logits": False,
    "label_smoothing": 0.0,
    "axis": -1,
    "dtype": None,
    "ignore_class": None,
}
_OPTIMIZER_DEFAULTS = {
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
    "amsgrad": False,
    "centered": False,
    "weight_decay": None,
    "name": None,
}
# options of a Keras layer nastoolkit has no use for, at the values that change nothing
_LAYER_NEUTRAL = {
    "kernel_constraint": None,
    "bias_constraint": None,
    "quantization_config": None,
    "lora_rank": None,
    "lora_alpha": None,
    "noise_shape": None,
    "data_format": "channels_last",
    "activity_regularizer": None,
    "sparse": False,
    "ragged": False,
    "optional": False,
}


def _layer_dtype(path, where, config) -> str:
    dtype = config.get("dtype", "float32")
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    if dtype not in ("float32", "float64"):
        raise ModelFileError(
            path, f"{where} has dtype policy {dtype!r}; nastoolkit computes in float32 or float64."
        )
    return dtype


def _activation(path, where, name):
    if not isinstance(name, str):
        raise ModelFileError(
            path,
            f"{where} has a custom activation {name!r}; nastoolkit reads "
            f"built-in activation names only.",
        )
    try:
        activations.get(name)
    except Exception as exc:
        raise ModelFileError(
            path, f"{where} uses activation {name!r}, which nastoolkit does not have ({exc})."
        ) from exc
    return name


def _reject_unknown(path, where, config: dict, known: set) -> None:
    for key, value in config.items():
        if key in known:
            continue
        if key in _LAYER_NEUTRAL and _LAYER_NEUTRAL[key] == value:
            continue
        raise ModelFileError(
            path, f"{where} sets {key}={value!r}, which nastoolkit does not support."
        )


def _nastoolkit_layer(path, index: int, entry: dict, input_shape: tuple | None):
    """The nastoolkit layer for one entry of a Keras ``config.json``."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ModelFileError(
            path,
            f"layer {index} of config.json must be an object with a 'config'. Received: {entry!r}",
        )
    kind, config = entry.get("class_name"), entry["config"]
    name = config.get("name")
    where = f"layer {index} ({kind} {name!r})"
    base = {"name": name} if isinstance(name, str) else {}
    if input_shape is not None and len(input_shape) == 1:
        base["input_shape"] = tuple(input_shape)
    common = {"name", "trainable", "dtype"}
    if kind == "Dense":
        _reject_unknown(
            path,
            where,
            config,
            common
            | {
                "units",
                "activation",
                "use_bias",
                "kernel_initializer",
                "bias_initializer",
                "kernel_regularizer",
                "bias_regularizer",
            },
        )
        units = config.get("units")
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise ModelFileError(path, f"{where} has units={units!r}; expected a positive integer.")
        kwargs = {
            "units": units,
            "activation": _activation(path, where, config.get("activation")),
            "use_bias": bool(config.get("use_bias", True)),
        }
        for key in ("kernel_initializer", "bias_initializer"):
            if key in config:
                kwargs[key] = _serialized_kind(
                    path, f"{where} {key}", initializers.get, config[key], _INITIALIZER_DEFAULTS
                )
        for key in ("kernel_regularizer", "bias_regularizer"):
            kwargs[key] = _serialized_kind(
                path, f"{where} {key}", regularizers.get, config.get(key), {}
            )
        factory = layers.Dense
    elif kind == "Dropout":
        _reject_unknown(path, where, config, common | {"rate", "seed", "noise_shape"})
        seed = config.get("seed")
        kwargs = {
            "rate": config.get("rate"),
            "seed": seed,
            "noise_shape": config.get("noise_shape"),
        }
        factory = layers.Dropout
    elif kind == "Activation":
        _reject_unknown(path, where, config, common | {"activation"})
        kwargs = {"activation": _activation(path, where, config.get("activation"))}
        factory = layers.Activation
    elif kind == "Flatten":
        _reject_unknown(path, where, config, common)
        factory = getattr(layers, "Flatten", None)
        if factory is None:
            raise ModelFileError(path, f"{where}: this nastoolkit version has no Flatten layer.")
        kwargs = {}
        if input_shape is not None:
            base["input_shape"] = tuple(input_shape)
    else:
        raise ModelFileError(
            path,
            f"{where}: nastoolkit cannot read layer class {kind!r}; it "
            "reads Sequentials of InputLayer, Dense, Dropout, Activation "
            "and Flatten.",
        )
    _layer_dtype(path, where, config)
    try:
        return factory(**kwargs, **base)
    except Exception as exc:
        raise ModelFileError(
            path, f"{where} cannot be built ({type(exc).__name__}: {exc})."
        ) from exc


def _keras_weight_arrays(path, data: bytes, model) -> list:
    """The weights in ``model.get_weights()`` order from Keras's ``model.weights.h5`` layout."""
    import h5py

    try:
        h5 = h5py.File(io.BytesIO(data), "r")
    except Exception as exc:
        raise ModelFileError(path, f"{_WEIGHTS} is not a readable HDF5 file ({exc}).") from exc
    weights = []
    with h5:
        used: dict[str, int] = {}
        for layer in _own_layers(model):
            key = _snake(type(layer).__name__)
            used[key] = used.get(key, -1) + 1
            group = f"layers/{key}" + (f"_{used[key]}" if used[key] else "")
            expected = [np.shape(w) for w in layer.get_weights()]
            try:
                holder = h5[f"{group}/vars"] if expected or f"{group}/vars" in h5 else {}
                keys = sorted(holder.keys(), key=lambda k: int(k) if k.isdigit() else -1)
                arrays = [np.asarray(holder[k][()]) for k in keys]
            except Exception as exc:
                raise ModelFileError(
                    path,
                    f"{_WEIGHTS} has no readable group {group!r} for layer "
                    f"{layer.name!r} ({type(exc).__name__}: {exc}).",
                ) from exc
            if keys != [str(i) for i in range(len(expected))]:
                raise ModelFileError(
                    path,
                    f"{_WEIGHTS} group {group!r} (layer {layer.name!r}) "
                    f"holds {keys}; expected {len(expected)} arrays "
                    f"named 0..{len(expected) - 1}.",
                )
            for i, (array, shape) in enumerate(zip(arrays, expected)):
                _float_array(path, f"{group}/vars/{i}", array)
                if array.shape != tuple(shape):
                    raise ModelFileError(
                        path,
                        f"{_WEIGHTS} array {group}/vars/{i} has shape "
                        f"{array.shape}; layer {layer.name!r} needs "
                        f"{tuple(shape)}.",
                    )
                weights.append(array)
    return weights


def _keras_metrics(path, key: str, entries) -> list:
    """Metric names or nastoolkit metrics from Keras's ``metrics``/``weighted_metrics`` entry."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ModelFileError(path, f"compile_config {key} must be a list. Received: {entries!r}")
    out = []
    for entry in entries:
        if isinstance(entry, str):
            out.append(entry)
        else:
            out.append(
                _serialized_kind(
                    path,
                    f"compile_config {key} entry",
                    metrics.deserialize,
                    entry,
                    {"dtype": "float32"},
                )
            )
    return out


def _compile_from_keras(path, model, compile_config) -> None:
    if not isinstance(compile_config, dict):
        raise ModelFileError(
            path, f"compile_config must be an object. Received: {compile_config!r}"
        )
    if compile_config.get("loss_weights") not in (None, [], {}):
        raise ModelFileError(
            path,
            f"compile_config sets loss_weights="
            f"{compile_config['loss_weights']!r}, which a single-output "
            "nastoolkit model does not use; load with compile=False and "
            "compile the model yourself.",
        )
    optimizer = _serialized_kind(
        path,
        "compile_config optimizer",
        optimizers.get,
        compile_config.get("optimizer", "rmsprop"),
        _OPTIMIZER_DEFAULTS,
    )
    loss = _serialized_kind(
        path, "compile_config loss", losses.get, compile_config.get("loss"), _LOSS_DEFAULTS
    )
    chosen = {
        key: _keras_metrics(path, key, compile_config.get(key))
        for key in ("metrics", "weighted_metrics")
    }
    if not chosen["weighted_metrics"]:
        del chosen["weighted_metrics"]  # so a compile without weighted_metrics= still works
    try:
        model.compile(optimizer=optimizer, loss=loss, **chosen)
    except Exception as exc:
        raise ModelFileError(
            path, f"compile_config cannot be applied ({type(exc).__name__}: {exc})."
        ) from exc


def _malformed(path, exc: Exception) -> ModelFileError:
    """The last-resort error for a structure the specific checks did not foresee: still a
    ValueError naming the file, with what Python tripped over."""
    return ModelFileError(path, f"the file's structure is malformed ({type(exc).__name__}: {exc}).")


def _load_keras(path, archive: zipfile.ZipFile, compile: bool):
    try:
        return _read_keras(path, archive, compile)
    except ModelFileError:
        raise
    except (TypeError, KeyError, AttributeError, IndexError, ValueError, OverflowError) as exc:
        raise _malformed(path, exc) from exc


def _read_keras(path, archive: zipfile.ZipFile, compile: bool):
    from .models import Sequential

    _json(path, _member(path, archive, _METADATA), _METADATA)
    root = _json(path, _member(path, archive, _CONFIG), _CONFIG)
    if root.get("class_name") != "Sequential":
        raise ModelFileError(
            path,
            f"holds a Keras {root.get('class_name')!r} model; nastoolkit "
            "reads Sequential models only.",
        )
    config = _require(path, root, "config", dict, _CONFIG)
    entries = _require(path, config, "layers", list, f"{_CONFIG} config")
    if not entries:
        raise ModelFileError(path, f"{_CONFIG} lists no layers.")
    shape = None
    if entries[0].get("class_name") == "InputLayer" if isinstance(entries[0], dict) else False:
        first = entries.pop(0)
        first_config = first.get("config")
        batch_shape = first_config.get("batch_shape") if isinstance(first_config, dict) else None
        if (
            not isinstance(batch_shape, list)
            or len(batch_shape) < 2
            or not all(
                isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in batch_shape[1:]
            )
        ):
            raise ModelFileError(
                path,
                f"InputLayer batch_shape must be [null, d1, ...] with "
                f"positive sizes. Received: {batch_shape!r}",
            )
        shape = tuple(batch_shape[1:])
    else:
        build_config = root.get("build_config")
        build = config.get("build_input_shape") or (
            build_config.get("input_shape") if isinstance(build_config, dict) else None
        )
        if (
            isinstance(build, list)
            and len(build) >= 2
            and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in build[1:])
        ):
            shape = tuple(build[1:])
    if shape is None:
        raise ModelFileError(
            path,
            "the model's input shape is not recorded (no InputLayer and no "
            "build_input_shape): Keras saved it before it was built.",
        )
    built = []
    for index, entry in enumerate(entries):
        built.append(_nastoolkit_layer(path, index + 1, entry, shape if index == 0 else None))
    dtype = _layer_dtype(path, "the model", config)
    name = config.get("name") if isinstance(config.get("name"), str) else None
    try:
        model = Sequential(built, name=name, dtype=dtype)
        model.build((None, *shape))
    except Exception as exc:
        raise ModelFileError(
            path,
            f"the layers cannot be stacked for input shape {shape} ({type(exc).__name__}: {exc}).",
        ) from exc
    weights_h5 = _member(path, archive, _WEIGHTS)
    weights = _keras_weight_arrays(path, weights_h5, model)
    state = None
    if compile and root.get("compile_config"):  # Keras writes {} for an uncompiled model
        _compile_from_keras(path, model, root["compile_config"])
        import h5py

        try:
            with h5py.File(io.BytesIO(weights_h5), "r") as h5:
                state = _keras_optimizer_state(path, h5, model)
        except ModelFileError:
            raise
        except Exception as exc:
            raise ModelFileError(
                path,
                f"{_WEIGHTS} optimizer variables cannot be read ({type(exc).__name__}: {exc}).",
            ) from exc
    model.set_weights(weights)
    if state is not None:
        model.optimizer.set_state(state, variables=[model.params])
    return model


def load_model(filepath, compile=True):
    """Load a model from a ``.keras`` archive (Keras's or ours) or a nastoolkit ``.npz`` file.

    Parameters
    ----------
    filepath : str or os.PathLike
        The file; its format is recognised from the content, not the suffix.
    compile : bool, default True
        Compile the model with the saved optimizer, loss and metrics (and, from ``.npz``, restore
        the optimizer slots, from either format: Keras's slots when Keras saved a trained model).

    Returns
    -------
    Sequential
        A built model with the saved weights.

    Raises
    ------
    ModelFileError
        (a ``ValueError``) naming the file and what it cannot read: damage, or the layer,
        activation or option nastoolkit does not have.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from nastoolkit.layers import Dense
    >>> from nastoolkit.models import Sequential
    >>> model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> save_model(model, path)
    >>> x = np.ones((1, 3), "float32")
    >>> bool(np.array_equal(load_model(path).predict(x), model.predict(x)))
    True
    """
    from .models import Sequential

    path = os.fspath(filepath)
    archive = _open_zip(path, _read_bytes(path))
    if _is_keras_archive(archive):
        return _load_keras(path, archive, compile)
    record = read_model_file(path)
    model = Sequential.from_config(record.meta["model"])
    shape = record.meta.get("input_shape") or [int(record.weights[0].shape[0])]
    model.build((None, *shape))
    model.set_weights(record.weights)
    if compile and "compile" in record.meta:
        settings = record.meta["compile"]
        try:
            model.compile(
                optimizer=optimizers.deserialize(settings["optimizer"]),
                loss=losses.deserialize(settings["loss"])
                if isinstance(settings["loss"], dict)
                else settings["loss"],
                metrics=[_npz_metric(m) for m in settings["metrics"]],
                **(
                    {"weighted_metrics": [_npz_metric(m) for m in settings["weighted_metrics"]]}
                    if settings.get("weighted_metrics")
                    else {}
                ),
            )
        except Exception as exc:
            raise ModelFileError(
                path, f"the compile settings cannot be applied ({type(exc).__name__}: {exc})."
            ) from exc
        if record.optimizer_state:
            model.optimizer.set_state(record.optimizer_state, variables=[model.params])
    return model
