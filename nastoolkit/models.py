"""``Sequential``: a Keras-style stack of layers trained on one flat parameter buffer.

``fit`` builds the layers once and lays every weight into one flat, aligned buffer (the layers'
``kernel``/``bias`` are views into it) with a matching flat gradient buffer, so the optimizer does
one kernel update per step over the whole model. A step is: gather the batch into a preallocated
buffer -> forward through the layers into preallocated outputs -> loss and its gradient -> backward,
each layer writing into its slice of the gradient buffer -> one optimizer update. Nothing is
allocated inside the step and the same path runs on NumPy and CuPy.
"""

from __future__ import annotations

import io
import json
import math
import os
import warnings
from dataclasses import dataclass

import numpy as np

from . import backend, kernels, losses, optimizers
from . import layers as layers_module
from . import metrics as metrics_module
from ._atomic import atomic_write
from .callbacks import CallbackList, History, ProgressLogger
from .layers import Dense, Dropout, Layer

__all__ = ["NotCompiledError", "Sequential", "load_model"]

ALIGN = 16  # elements: every tensor starts on a 64-byte boundary for float32 (float4 loads)
FORMAT = "nastoolkit.Sequential/1"


class NotCompiledError(RuntimeError, ValueError):
    """``fit``/``evaluate`` before ``compile`` (a ValueError too, for bad-input handlers)."""


@dataclass
class _Compiled:
    optimizer: optimizers.Optimizer
    loss: object
    metrics: list


def _as_data(x, name: str, dtype, width: int | None = None):
    """Validate a feature matrix: 2-D, non-empty, numeric, finite, of the expected width."""
    if backend.is_cupy_array(x):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:
            raise TypeError(f"{name} must be an array-like of numbers. Received: {type(x).__name__}") \
                from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers. Received: dtype {arr.dtype}")
    if arr.ndim == 1 and width == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples, features). Received: shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 samples). Pass at least one sample.")
    if width is not None and arr.shape[1] != width:
        raise ValueError(f"{name} has {arr.shape[1]} features but the model expects {width}. "
                         f"Received: {name}.shape={arr.shape}")
    xp = backend.array_module(arr)
    if not bool(xp.isfinite(arr).all()):
        raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first.")
    return arr.astype(dtype, copy=False)


def _targets(loss, y, output_dim, dtype):
    """Targets checked by the loss, floats cast once to the model dtype (no per-step casts)."""
    y = loss.check_targets(y, output_dim)
    return y.astype(dtype, copy=False) if y.dtype.kind == "f" else y


def _check_lengths(x, y, xname="x", yname="y"):
    if len(x) != len(y):
        raise ValueError(f"{xname} and {yname} must have the same number of samples. "
                         f"Received: {len(x)} and {len(y)}")


class Sequential:
    """A linear stack of layers with Keras's ``compile/fit/evaluate/predict/summary/save``.

    ``seed`` fixes weight initialisation (and, unless ``fit`` gets its own seed, shuffling and
    dropout masks); ``dtype`` is the parameter and activation dtype (float32 or float64).
    """

    def __init__(self, layers=None, name=None, seed=None, dtype="float32"):
        self.name = name or "sequential"
        self.layers: list[Layer] = []
        self.seed = seed
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"dtype must be a float dtype. Received: dtype={dtype!r}")
        self.built = False
        self.stop_training = False
        self.stop_reason: str | None = None
        self.history: History | None = None
        self._compiled: _Compiled | None = None
        self._capacity = 0
        self._fit_rng: np.random.Generator | None = None
        self._resume_epoch: int | None = None  # set by BackupAndRestore.on_train_begin
        for layer in layers or []:
            self.add(layer)

    # --- construction -------------------------------------------------------------------------
    def add(self, layer: Layer):
        """Append a layer (the first one needs ``input_shape=`` unless the model builds from data)."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a nastoolkit layer. Received: {layer!r}")
        if self.built:
            raise RuntimeError("Cannot add layers to a built model; build a new Sequential.")
        self.layers.append(layer)

    @property
    def input_dim(self) -> int | None:
        return self.layers[0].input_dim if self.built else (
            self.layers[0].input_width if self.layers else None)

    @property
    def output_dim(self) -> int | None:
        return self.layers[-1].output_dim if self.built else None

    def build(self, input_shape=None, rng=None):
        """Fix every layer's shapes, allocate the flat parameter/gradient buffers and initialise."""
        if self.built:
            return
        if not self.layers:
            raise ValueError("The model has no layers; add layers before building it.")
        width = input_shape[-1] if input_shape is not None else self.layers[0].input_width
        if width is None:
            raise ValueError("The model does not know its input width: give the first layer "
                             "input_shape=(features,) or call fit/predict with data.")
        rng = np.random.default_rng(self.seed if rng is None else rng)
        xp = backend.xp()
        specs = []
        d = int(width)
        for i, layer in enumerate(self.layers):
            if layer.built and layer.input_dim != d:
                raise ValueError(f"Layer {layer.name!r} was built for width {layer.input_dim}, "
                                 f"but receives width {d} in this model.")
            layer.dtype = self.dtype
            layer._set_dims(d)
            specs += [(i, spec) for spec in layer.weight_specs()]
            d = layer.output_dim
        offsets, total = [], 0
        for _, spec in specs:
            offsets.append(total)
            total += -(-int(np.prod(spec.shape)) // ALIGN) * ALIGN
        self.params = xp.zeros(total, self.dtype)
        self.grads = xp.zeros(total, self.dtype)
        views = [({}, {}) for _ in self.layers]  # by position: layer names need not be unique
        for (i, spec), offset in zip(specs, offsets):
            layer, size = self.layers[i], int(np.prod(spec.shape))
            w = self.params[offset:offset + size].reshape(spec.shape)
            existing = getattr(layer, spec.name, None) if layer.built else None
            value = existing if existing is not None else spec.initializer(
                spec.shape, dtype=self.dtype, rng=rng)
            w[...] = xp.asarray(value, dtype=self.dtype)
            views[i][0][spec.name] = w
            views[i][1][spec.name] = self.grads[offset:offset + size].reshape(spec.shape)
        for layer, (weights, grads) in zip(self.layers, views):
            layer.bind(weights, grads)
            if isinstance(layer, Dropout) and layer.seed is None:
                layer.seed = int(rng.integers(2**32))
        self._xp = xp
        self.built = True

    def _ensure_capacity(self, batch_size: int):
        """(Re)allocate every layer's per-batch buffers for ``batch_size`` rows."""
        if batch_size <= self._capacity:
            return
        for layer in self.layers:
            layer.prepare(batch_size, self._xp)
        self._grad_out = self._xp.empty((batch_size, self.output_dim), self.dtype)
        self._capacity = batch_size

    # --- compile ------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer, loss and metrics (instances or Keras strings such as "adam", "mse")."""
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='mse' or losses.MeanSquaredError().")
        loss_obj = losses.get(loss)
        metric_objs = [metrics_module.get(m, loss=loss_obj) for m in (metrics or [])]
        self._compiled = _Compiled(optimizers.get(optimizer), loss_obj, metric_objs)

    @property
    def optimizer(self):
        return self._compiled.optimizer if self._compiled else None

    @property
    def loss(self):
        return self._compiled.loss if self._compiled else None

    def _require_compiled(self, what: str) -> _Compiled:
        if self._compiled is None:
            raise NotCompiledError(f"You must compile the model before calling {what}: "
                                   "model.compile(optimizer=..., loss=...).")
        return self._compiled

    # --- the step -----------------------------------------------------------------------------
    def _forward(self, x, training: bool):
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def _backward(self, grad):
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            grad = self.layers[i].backward(grad, need_grad_x=i > 0)

    def _penalty(self) -> float:
        return sum(layer.regularization_penalty() for layer in self.layers)

    def _loss_step(self, loss):
        """The per-step loss function: fused with the output activation when the loss can fold
        its gradient in (softmax + cross-entropy, sigmoid + binary cross-entropy), else plain."""
        last = self.layers[-1]
        fused = (isinstance(last, Dense) and loss.fused_activation is not None
                 and last.activation.name == loss.fused_activation)
        last.loss_fuses_activation = fused
        return loss.value_and_fused_grad if fused else loss.value_and_grad

    def loss_and_gradients(self, x, y, training=False):
        """Total loss (data + regularization) and a copy of the flat gradient (the layout of
        ``model.params``) for one batch, without updating anything: the pass ``fit`` makes, for
        gradient checks and for plotting loss surfaces. ``y`` must be in ``check_targets`` form."""
        self._ensure_capacity(x.shape[0])
        loss_obj = self._require_compiled("this")
        y_pred = self._forward(x, training)
        value, grad = self._loss_step(loss_obj.loss)(y, y_pred, grad_out=self._grad_out[:x.shape[0]])
        self.grads.fill(0)
        self._backward(grad)
        return float(value) + self._penalty(), self.grads.copy()

    # --- fit ----------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=32, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0, seed=None):
        """Train for ``epochs`` passes over (x, y); returns a ``History`` of per-epoch logs.

        A NaN/inf loss stops training at once with a RuntimeWarning, puts back the weights from
        the start of that epoch, and records the reason in ``history.stopped_reason``.
        """
        compiled = self._require_compiled("fit")
        batch_size = _check_positive_int(batch_size, "batch_size")
        epochs = _check_positive_int(epochs, "epochs", allow_zero=True)
        if not 0.0 <= float(validation_split) < 1.0:
            raise ValueError(f"validation_split must be in [0, 1). "
                             f"Received: validation_split={validation_split!r}")
        if x is None or y is None:
            raise ValueError("fit needs both x and y.")
        x = _as_data(x, "x", self.dtype, self.input_dim)
        _check_lengths(x, y)
        rng = np.random.default_rng(seed if seed is not None else self.seed)
        self._fit_rng = rng
        self.build(x.shape, rng=rng)
        y = _targets(compiled.loss, y, self.output_dim, self.dtype)
        if validation_data is None and validation_split:
            split = int(len(x) * (1.0 - validation_split))
            if split == 0 or split == len(x):
                raise ValueError(f"validation_split={validation_split} leaves an empty split of "
                                 f"{len(x)} samples.")
            x, y, validation_data = x[:split], y[:split], (x[split:], y[split:])
        val = self._validation_arrays(validation_data, compiled)
        for layer in self.layers:
            if isinstance(layer, Dropout) and seed is not None:
                layer.reseed(int(rng.integers(2**32)))

        xp = self._xp
        x_dev, y_dev = xp.asarray(x), xp.asarray(y)
        n = len(x)
        batch_size = min(batch_size, n)
        self._ensure_capacity(batch_size)
        xb = xp.empty((batch_size, x.shape[1]), self.dtype)
        yb = xp.empty((batch_size,) + tuple(y.shape[1:]), y.dtype)

        history = History()
        verbose = 1 if verbose == "auto" else int(verbose)
        cbs = [history] + list(callbacks or [])
        if verbose:
            cbs.append(ProgressLogger(verbose))
        cb = CallbackList(cbs, self, {"epochs": epochs, "steps": -(-n // batch_size),
                                      "verbose": verbose, "initial_epoch": initial_epoch})
        self.history = history
        self.stop_training = False
        self.stop_reason = None
        optimizer, loss_obj = compiled.optimizer, compiled.loss
        loss_step = self._loss_step(loss_obj)
        has_penalty = any(getattr(layer, "kernel_regularizer", None) is not None
                          or getattr(layer, "bias_regularizer", None) is not None
                          for layer in self.layers)
        snapshot = xp.empty_like(self.params)
        pair = [(self.grads, self.params)]
        cb.on_train_begin()
        first_epoch = initial_epoch if self._resume_epoch is None else self._resume_epoch
        self._resume_epoch = None
        # a diverging run is caught and reported below; NumPy's overflow warnings would be noise
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), \
                self._threads_for(batch_size):
            for epoch in range(first_epoch, epochs):
                cb.on_epoch_begin(epoch)
                for m in compiled.metrics:
                    m.reset()
                snapshot[...] = self.params
                order = rng.permutation(n) if shuffle else np.arange(n)
                order = xp.asarray(order)
                total, seen = 0.0, 0
                for step, start in enumerate(range(0, n, batch_size)):
                    idx = order[start:start + batch_size]
                    m = len(idx)
                    xs, ys = xb[:m], yb[:m]
                    kernels.gather_rows(x_dev, idx, out=xs)
                    kernels.gather_rows(y_dev, idx, out=ys)
                    if cb.wants_batches:
                        cb.on_train_batch_begin(step)
                    y_pred = self._forward(xs, True)
                    value, grad = loss_step(ys, y_pred, grad_out=self._grad_out[:m])
                    value = float(value)
                    if has_penalty:
                        value += self._penalty()
                    if not math.isfinite(value):
                        self._diverged(epoch, step, value, snapshot, optimizer)
                        total, seen = math.nan, 1
                        break
                    for metric in compiled.metrics:
                        metric.update(ys, y_pred)
                    self._backward(grad)
                    optimizer.apply_gradients(pair)
                    total += value * m
                    seen += m
                    if cb.wants_batches:
                        cb.on_train_batch_end(step, {"loss": value})
                logs = {"loss": total / seen}
                logs.update({metric.name: float(metric.result()) for metric in compiled.metrics})
                if val is not None and math.isfinite(logs["loss"]):
                    val_logs = self._evaluate_arrays(*val, max(batch_size, 1024))
                    logs.update({f"val_{key}": value for key, value in val_logs.items()})
                cb.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        history.stopped_reason = self.stop_reason
        cb.on_train_end()
        return history

    def _threads_for(self, batch_size: int):
        """One BLAS thread for small models (see ``backend.SMALL_MATMUL``), the default else."""
        largest = max((batch_size * layer.input_dim * layer.output_dim for layer in self.layers
                       if isinstance(layer, Dense)), default=0)
        return backend.single_blas_thread(largest < backend.SMALL_MATMUL)

    def _diverged(self, epoch, step, value, snapshot, optimizer):
        """Stop on a non-finite loss: restore the epoch-start weights, drop optimizer state, warn."""
        self.params[...] = snapshot
        if hasattr(optimizer, "reset"):
            optimizer.reset()
        self.stop_training = True
        self.stop_reason = (f"loss became {value} at epoch {epoch + 1}, step {step + 1}: training "
                            "diverged (try a smaller learning rate); weights restored to the start "
                            "of that epoch")
        warnings.warn(f"nastoolkit: {self.stop_reason}", RuntimeWarning, stacklevel=3)

    def _validation_arrays(self, validation_data, compiled):
        if validation_data is None:
            return None
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a tuple (x_val, y_val). "
                             f"Received: {type(validation_data).__name__}")
        xv = _as_data(validation_data[0], "validation_data[0]", self.dtype, self.input_dim)
        _check_lengths(xv, validation_data[1], "validation_data[0]", "validation_data[1]")
        yv = _targets(compiled.loss, validation_data[1], self.output_dim, self.dtype)
        return self._xp.asarray(xv), self._xp.asarray(yv)

    # --- inference ----------------------------------------------------------------------------
    def _evaluate_arrays(self, x, y, batch_size):
        with self._threads_for(min(batch_size, len(x))):
            return self._evaluate_batches(x, y, batch_size)

    def _evaluate_batches(self, x, y, batch_size):
        compiled = self._compiled
        self._ensure_capacity(min(batch_size, len(x)))
        for metric in compiled.metrics:
            metric.reset()
        total = 0.0
        for start in range(0, len(x), batch_size):
            xs, ys = x[start:start + batch_size], y[start:start + batch_size]
            y_pred = self._forward(xs, False)
            value, _ = compiled.loss.value_and_grad(ys, y_pred, grad_out=self._grad_out[:len(xs)])
            total += float(value) * len(xs)
            for metric in compiled.metrics:
                metric.update(ys, y_pred)
        logs = {"loss": total / len(x) + self._penalty()}
        logs.update({metric.name: float(metric.result()) for metric in compiled.metrics})
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False):
        """Loss (and metrics) on (x, y) in inference mode: a float, or [loss, *metrics] like Keras."""
        compiled = self._require_compiled("evaluate")
        self._require_built("evaluate")
        x = _as_data(x, "x", self.dtype, self.input_dim)
        _check_lengths(x, y)
        y = _targets(compiled.loss, y, self.output_dim, self.dtype)
        batch_size = _check_positive_int(batch_size or 1024, "batch_size")
        logs = self._evaluate_arrays(self._xp.asarray(x), self._xp.asarray(y), batch_size)
        if verbose not in (0, "auto") and verbose:
            print(" - ".join(f"{k}: {v:.4g}" for k, v in logs.items()))
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def predict(self, x, batch_size=None, verbose=0):
        """Outputs for ``x`` (inference mode: dropout off), as an array of the backend."""
        x = _as_data(x, "x", self.dtype, self.input_dim)
        if not self.built:
            self.build(x.shape)
        batch_size = _check_positive_int(batch_size or 1024, "batch_size")
        x = self._xp.asarray(x)
        self._ensure_capacity(min(batch_size, len(x)))
        out = self._xp.empty((len(x), self.output_dim), self.dtype)
        with self._threads_for(min(batch_size, len(x))):
            for start in range(0, len(x), batch_size):
                out[start:start + batch_size] = self._forward(x[start:start + batch_size], False)
        return out

    def __call__(self, x, training=False):
        x = _as_data(x, "x", self.dtype, self.input_dim)
        if not self.built:
            self.build(x.shape)
        self._ensure_capacity(len(x))
        return self._forward(self._xp.asarray(x), training).copy()

    def _require_built(self, what):
        """Build now when the input width is known (as Keras does for ``input_shape=``); the
        weights then come from the model's ``seed``. Otherwise say what is missing."""
        if not self.built and self.layers and self.layers[0].input_width is not None:
            self.build()
        if not self.built:
            raise ValueError(f"The model is not built yet: give the first layer "
                             f"input_shape=(features,) or call fit/build before {what}.")

    # --- weights, config, summary -------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        self._require_built("get_weights")
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights):
        self._require_built("set_weights")
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"set_weights expects {expected} arrays. Received: {len(weights)}")
        i = 0
        for layer in self.layers:
            k = len(layer.weights)
            layer.set_weights(weights[i:i + k])
            i += k

    def count_params(self) -> int:
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self.layers)

    def get_config(self) -> dict:
        return {"name": self.name, "seed": self.seed, "dtype": self.dtype.name,
                "layers": [layers_module.serialize(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config):
        return cls([layers_module.deserialize(c) for c in config["layers"]], name=config["name"],
                   seed=config.get("seed"), dtype=config.get("dtype", "float32"))

    def summary(self, print_fn=print):
        """Print a table of layers, output shapes and parameter counts (Keras's layout)."""
        if not self.built and self.layers and self.layers[0].input_width is not None:
            self.build()
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self.layers:
            shape = f"(None, {layer.output_dim})" if layer.built else "(unbuilt)"
            rows.append((f"{layer.name} ({type(layer).__name__})", shape,
                         f"{layer.count_params():,}"))
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        line = "─" * sum(widths)
        text = [f'Model: "{self.name}"', line,
                "".join(c.ljust(w) for c, w in zip(rows[0], widths)), line]
        text += ["".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows[1:]]
        total = sum(layer.count_params() for layer in self.layers)
        text += [line, f"Total params: {total:,}", f"Trainable params: {total:,}",
                 "Non-trainable params: 0"]
        print_fn("\n".join(text))

    def __repr__(self):
        return f"Sequential(name={self.name!r}, layers={len(self.layers)}, built={self.built})"

    # --- persistence --------------------------------------------------------------------------
    def _backup_extra(self, epoch: int) -> dict:
        """What an exact resume needs beyond weights and optimizer slots (JSON-able)."""
        return {"epoch": epoch, "rng": self._fit_rng.bit_generator.state if self._fit_rng else None,
                "dropout": [[layer.seed, layer.counter] for layer in self.layers
                            if isinstance(layer, Dropout)]}

    def _restore_backup(self, filepath) -> int:
        """Load weights, optimizer state, shuffling RNG and dropout streams saved by
        ``save(..., extra=_backup_extra(epoch))``; returns the epoch to continue from."""
        meta, weights, optimizer_state = _read_model_file(filepath)
        self.set_weights(weights)
        if optimizer_state:
            self.optimizer.set_state(optimizer_state, variables=[self.params])
        extra = meta.get("extra", {})
        if extra.get("rng") is not None and self._fit_rng is not None:
            self._fit_rng.bit_generator.state = extra["rng"]
        dropouts = [layer for layer in self.layers if isinstance(layer, Dropout)]
        for layer, (seed, counter) in zip(dropouts, extra.get("dropout", [])):
            layer.seed, layer.counter = seed, counter
        return int(extra["epoch"]) + 1

    def save(self, filepath, extra: dict | None = None):
        """Write architecture, compile settings, weights and optimizer state to one ``.npz`` file
        (JSON + arrays, no pickle), atomically: an interrupted save never leaves a half-written
        file. ``extra`` is JSON-able data stored alongside (used by BackupAndRestore)."""
        self._require_built("save")
        meta = {"format": FORMAT, "model": self.get_config(), "extra": extra or {}}
        if self._compiled is not None:
            meta["compile"] = {
                "optimizer": optimizers.serialize(self._compiled.optimizer),
                "loss": losses.serialize(self._compiled.loss),
                "metrics": [m.name for m in self._compiled.metrics]}
        arrays = {f"weight_{i:03d}": w for i, w in enumerate(self.get_weights())}
        if self._compiled is not None and self._compiled.optimizer.variables:
            # optimizer slots too, so a loaded model resumes training exactly where it stopped
            state = self._compiled.optimizer.get_state()
            meta["optimizer_iterations"] = int(state.pop("iterations"))
            arrays.update({f"optimizer/{key}": value for key, value in state.items()})
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write(filepath, buf.getvalue())


def _read_model_file(filepath):
    """(meta, weights, optimizer_state) of a model file; a clear ValueError for anything else."""
    try:
        with np.load(os.fspath(filepath), allow_pickle=False) as data:
            meta = json.loads(bytes(data["__meta__"]).decode())
            weights = [data[k] for k in sorted(k for k in data.files if k.startswith("weight_"))]
            optimizer_state = {k.split("/", 1)[1]: data[k] for k in data.files
                               if k.startswith("optimizer/")}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"{filepath!s} is not a readable nastoolkit model file ({exc}).") from exc
    if meta.get("format") != FORMAT:
        raise ValueError(f"{filepath!s} has format {meta.get('format')!r}; expected {FORMAT!r}.")
    if not weights:
        raise ValueError(f"{filepath!s} holds no weights.")
    if optimizer_state:
        optimizer_state["iterations"] = meta.get("optimizer_iterations", 0)
    return meta, weights, optimizer_state


def load_model(filepath, compile=True) -> Sequential:
    """Load a model written by ``Sequential.save`` (``allow_pickle=False``: data, never code)."""
    meta, weights, optimizer_state = _read_model_file(filepath)
    model = Sequential.from_config(meta["model"])
    model.build((None, weights[0].shape[0]))
    model.set_weights(weights)
    if compile and "compile" in meta:
        c = meta["compile"]
        model.compile(optimizer=optimizers.deserialize(c["optimizer"]),
                      loss=losses.deserialize(c["loss"]), metrics=c["metrics"])
        if optimizer_state:
            model.optimizer.set_state(optimizer_state, variables=[model.params])
    return model


def _check_positive_int(value, name, allow_zero=False):
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {kind} integer. Received: {name}={value!r}")
    return int(value)
