"""``Sequential``: a Keras-style stack of layers trained on one flat parameter buffer.

Building lays every weight into one flat, aligned buffer (the layers' ``kernel``/``bias`` are
views into it) with a matching flat gradient buffer, so the optimizer does one kernel update per
step over the whole model. One training step (``train_step``) is::

    y_pred = forward(x)                      each layer into its preallocated output
    loss, dL/dy_pred = loss(y, y_pred, w)    + the layers' regularization penalties
    backward(dL/dy_pred)                     each layer into its slice of the gradient buffer
    optimizer.apply_gradients([(grads, params)])

Nothing is allocated inside the step and the same path runs on NumPy and CuPy. ``fit`` is the
loop over epochs and batches around it; data checks, weighting, splitting and batching are the
small functions of ``nastoolkit.training``.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import _checks, backend, engine, losses, optimizers, training
from . import layers as layers_module
from . import metrics as metrics_module
from .callbacks import CallbackList, History, ProgressLogger
from .layers import InputLayer, Layer

__all__ = ["NotCompiledError", "Sequential", "load_model"]

ALIGN = 16  # elements: every tensor starts on a 64-byte boundary for float32 (float4 loads)


class NotCompiledError(RuntimeError, ValueError):
    """``fit``/``evaluate`` before ``compile`` (a ValueError too, for bad-input handlers).

    Examples
    --------
    >>> from nastoolkit.layers import Dense
    >>> model = Sequential([Dense(1, input_shape=(2,))])
    >>> try:
    ...     model.fit([[0.0, 1.0]], [[1.0]], verbose=0)
    ... except NotCompiledError as error:
    ...     print(error)
    You must compile the model before calling fit: model.compile(optimizer=..., loss=...).
    """


@dataclass
class _Compiled:
    optimizer: optimizers.Optimizer
    loss: object
    metrics: list
    weighted_metrics: list = field(default_factory=list)
    #: what compile was given for each metric (a name, or the object): saving writes a name
    #: back as a name and an object with its settings, as Keras's compile_config does
    metric_specs: list = field(default_factory=list)
    weighted_metric_specs: list = field(default_factory=list)

    @property
    def all_metrics(self) -> list:
        return self.metrics + self.weighted_metrics


class _RunningMean:
    """The sample-weighted mean of per-batch losses so far (Keras's loss tracker)."""

    def __init__(self):
        self.total, self.count = 0.0, 0

    def add(self, value: float, n: int):
        self.total += value * n
        self.count += n

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


def _set_params(cbs: CallbackList, **params):
    """Give every callback the run's params once the batch size (and so ``steps``) is known."""
    cbs.params = dict(params)
    for cb in cbs.callbacks:
        cb.set_params(cbs.params)


@contextlib.contextmanager
def _quiet_overflow():
    """A diverging run is caught and reported by ``fit``; NumPy's overflow warnings are noise."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        yield


class Sequential:
    """A linear stack of layers with Keras's ``compile/fit/evaluate/predict/summary/save``.

    Parameters
    ----------
    layers : list of Layer, optional
        The stack; an ``Input(shape=...)`` first (or ``input_shape=`` on the first layer) builds
        the model at once, as in Keras.
    name : str, optional
        The model's name.
    seed : int, optional
        Fixes weight initialisation (and, unless ``fit`` gets its own seed, shuffling and
        dropout masks).
    dtype : str
        Parameter and activation dtype (float32 or float64).

    Examples
    --------
    >>> from nastoolkit.layers import Dense, Input
    >>> model = Sequential([Input(shape=(3,)), Dense(2)], seed=0)
    >>> model.built, len(model.layers), model.output_shape
    (True, 1, (None, 2))
    """

    def __init__(self, layers=None, name=None, seed=None, dtype="float32"):
        self.name = name or "sequential"
        self.seed = seed
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"dtype must be a float dtype. Received: dtype={dtype!r}")
        self._input: InputLayer | None = None
        self._layers: list[Layer] = []
        self._owned: set[int] = set()  # ids of layers whose weights live in our buffer
        # weights as initialised and not yet seen, set, loaded or trained: a seeded fit may
        # re-draw them from its seed (as before Keras-style eager building)
        self._fresh = True
        self._features: tuple[int, ...] | None = None
        self.built = False
        self.stop_training = False
        self.stop_reason: str | None = None
        self.history: History | None = None
        self._compiled: _Compiled | None = None
        self._capacity = 0
        self._fit_rng: np.random.Generator | None = None
        self._resume_epoch: int | None = None  # set by BackupAndRestore.on_train_begin
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build()

    # --- construction -------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        """The layers, without the ``Input`` (as Keras's ``model.layers``)."""
        return list(self._layers)

    def add(self, layer: Layer, rebuild=True):
        """Append a layer; the model builds as soon as its input shape is known.

        Parameters
        ----------
        layer : Layer
            A layer, or an ``Input`` as the very first entry.
        rebuild : bool
            Build now when the input shape is known (Keras's default).

        Examples
        --------
        >>> from nastoolkit.layers import Dense
        >>> model = Sequential(seed=0)
        >>> model.add(Dense(4, input_shape=(3,)))
        >>> model.built
        True
        """
        if not isinstance(layer, Layer):
            raise TypeError(
                "Sequential.add expects a nastoolkit layer (e.g. Dense(8)). "
                f"Received: {layer!r} of type {type(layer).__name__}"
            )
        if any(other.name == layer.name for other in self._all_layers()):
            raise ValueError(
                "All layers added to a Sequential model should have unique names. "
                f"Name {layer.name!r} is already the name of a layer in this model. "
                "Update the `name` argument to pass a unique name."
            )
        if isinstance(layer, InputLayer):
            if self._input is not None or self._layers:
                shape = self._input.batch_shape if self._input else "from its first layer"
                raise ValueError(
                    f"Sequential model {self.name!r} has already been configured "
                    f"to use input shape {shape}. You cannot add a different Input "
                    "layer to it; an Input must be the first entry."
                )
            self._input = layer
        else:
            self._layers.append(layer)
        self.built = False
        if rebuild:
            self._maybe_build()

    def pop(self, rebuild=True) -> Layer:
        """Remove and return the last layer; the others keep their weights.

        Examples
        --------
        >>> from nastoolkit.layers import Dense, Input
        >>> model = Sequential([Input(shape=(3,)), Dense(4), Dense(2)])
        >>> model.pop().units, model.output_shape
        (2, (None, 4))
        """
        if not self._layers:
            raise IndexError(f"Sequential model {self.name!r} has no layers to pop.")
        layer = self._layers.pop()
        self._owned.discard(id(layer))
        self.built = False
        if rebuild:
            self._maybe_build()
        return layer

    def _all_layers(self) -> list[Layer]:
        return ([self._input] if self._input is not None else []) + self._layers

    def _declared_features(self) -> tuple[int, ...] | None:
        """The per-sample input shape an Input or the first layer's ``input_shape=`` declares."""
        if self._input is not None:
            return self._input._input_shape_arg
        return self._layers[0]._input_shape_arg if self._layers else None

    def _known_features(self) -> tuple[int, ...] | None:
        return self._features or self._declared_features()

    def _maybe_build(self):
        if self._layers and self._known_features() is not None:
            self.build()

    @property
    def input_shape(self) -> tuple:
        """``(None, *features)`` of the inputs, once known."""
        features = self._known_features()
        if features is None:
            raise AttributeError(f"Sequential model {self.name!r} has no defined input shape yet.")
        return (None, *features)

    @property
    def output_shape(self) -> tuple:
        """``(None, *features)`` of the outputs, once the input shape is known."""
        if self._known_features() is None or not self._layers:
            raise AttributeError(f"Sequential model {self.name!r} has no defined output shape yet.")
        return self.compute_output_shape(self.input_shape)

    def compute_output_shape(self, input_shape) -> tuple:
        """The output shape for inputs of ``input_shape`` (batch axis first)."""
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    @property
    def input_dim(self) -> int | None:
        features = self._known_features()
        return None if features is None else math.prod(features)

    @property
    def output_dim(self) -> int | None:
        return self._layers[-1].output_dim if self.built else None

    def _loss_width(self, what: str) -> int:
        """The output width a loss sees; the loss needs (batch, features) outputs. A Dense on
        inputs with more axes keeps them (as in Keras), which predict returns as they are."""
        features = self._layers[-1]._out_features if self.built else None
        if features is not None and len(features) != 1:
            raise ValueError(
                f"{what} needs the model's output to be (batch, features), as the losses "
                f"take. Received: per-sample output shape {features}. Put a Flatten() layer "
                "before the last Dense so the loss sees one row per sample."
            )
        return self.output_dim

    @property
    def weights(self) -> list:
        """Every layer's weight arrays (views into ``params``), in ``get_weights`` order."""
        self._fresh = False
        return [w for layer in self._layers for w in layer.weights]

    def build(self, input_shape=None):
        """Fix every layer's shapes, allocate the flat parameter/gradient buffers and initialise
        the weights from the model's ``seed`` (layers built elsewhere keep theirs).

        Parameters
        ----------
        input_shape : tuple, optional
            ``(batch, *features)``; needed only when no ``Input``/``input_shape=`` declares it.
        """
        if not self._layers:
            raise ValueError("The model has no layers; add layers before building it.")
        features = self._features_for(input_shape)
        if self.built and features == self._features:
            return  # rebuilding would move the weights the optimizer's state refers to
        specs, shape = [], features
        for i, layer in enumerate(self._layers):
            if layer.built and id(layer) not in self._owned and layer._in_features != shape:
                raise ValueError(
                    f"Layer {layer.name!r} was built for inputs of shape "
                    f"{layer._in_features}, but receives {shape} in this model."
                )
            layer.dtype = self.dtype
            layer._set_input_shape(shape)
            specs += [(i, spec) for spec in layer.weight_specs()]
            shape = layer._out_features
        kept = self._allocate(specs)
        self._features = features
        self._initialize(np.random.default_rng(self.seed), kept)
        self._capacity = 0
        self.built = True

    def _features_for(self, input_shape) -> tuple[int, ...]:
        declared = self._known_features()
        if input_shape is None:
            if declared is None:
                raise ValueError(
                    "The model does not know its input shape: give the first layer "
                    "input_shape=(features,), start with Input(shape=...), or call "
                    "fit/predict with data."
                )
            return declared
        features = tuple(int(d) for d in tuple(input_shape)[1:])
        if declared is not None and features != declared:
            raise ValueError(
                f"Sequential model {self.name!r} expects inputs of per-sample shape "
                f"{declared}. You cannot build it with input_shape {input_shape}."
            )
        return features

    def _allocate(self, specs) -> set:
        """Flat buffers and per-layer views; copies weights worth keeping into them. Returns the
        (layer, weight) pairs that were kept."""
        xp = backend.xp()
        offsets, total = [], 0
        for _, spec in specs:
            offsets.append(total)
            total += -(-math.prod(spec.shape) // ALIGN) * ALIGN
        params, grads = xp.zeros(total, self.dtype), xp.zeros(total, self.dtype)
        views = [({}, {}) for _ in self._layers]  # by position: layer names need not be unique
        kept = set()
        for (i, spec), offset in zip(specs, offsets):
            layer, size = self._layers[i], math.prod(spec.shape)
            w = params[offset : offset + size].reshape(spec.shape)
            old = getattr(layer, spec.name, None) if layer.built else None
            # a fresh model re-draws its own layers (so adding layers one by one initialises
            # exactly as building them at once); trained or foreign weights are kept
            if old is not None and (not self._fresh or id(layer) not in self._owned):
                w[...] = xp.asarray(old, dtype=self.dtype)
                kept.add((i, spec.name))
            views[i][0][spec.name] = w
            views[i][1][spec.name] = grads[offset : offset + size].reshape(spec.shape)
        for layer, (weights, layer_grads) in zip(self._layers, views):
            layer.bind(weights, layer_grads)
            self._owned.add(id(layer))
        self.params, self.grads, self._xp = params, grads, xp
        self._pairs = [(self.grads, self.params)]
        return kept

    def _initialize(self, rng: np.random.Generator, kept=frozenset()):
        """Draw every weight from ``rng`` in layer order (kept ones are drawn and discarded, so
        the stream does not depend on what was kept), then let layers draw their seeds."""
        for i, layer in enumerate(self._layers):
            for spec in layer.weight_specs():
                value = spec.initializer(spec.shape, dtype=self.dtype, rng=rng)
                if (i, spec.name) not in kept:
                    getattr(layer, spec.name)[...] = self._xp.asarray(value, dtype=self.dtype)
        for layer in self._layers:
            layer.on_build(rng)

    def _ensure_capacity(self, batch_size: int):
        """(Re)allocate every layer's per-batch buffers for ``batch_size`` rows."""
        if batch_size <= self._capacity:
            return
        for layer in self._layers:
            layer.prepare(batch_size, self._xp)
        self._grad_out = self._xp.empty((batch_size, self.output_dim), self.dtype)
        self._capacity = batch_size

    # --- compile ------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None):
        """Choose the optimizer, loss and metrics (instances or Keras strings such as "adam").

        Parameters
        ----------
        optimizer : str or Optimizer
            Default ``"rmsprop"`` as in Keras.
        loss : str or Loss
            Required.
        metrics : list, optional
            Metrics computed without sample weights.
        weighted_metrics : list, optional
            Metrics that receive ``sample_weight``/``class_weight`` (Keras's ``weighted_metrics``).
        """
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='mse' or losses.MeanSquaredError().")
        loss_obj = losses.get(loss)
        self._compiled = _Compiled(
            optimizers.get(optimizer),
            loss_obj,
            [metrics_module.get(m, loss=loss_obj) for m in (metrics or [])],
            [metrics_module.get(m, loss=loss_obj) for m in (weighted_metrics or [])],
            list(metrics or []),
            list(weighted_metrics or []),
        )

    @property
    def optimizer(self):
        return self._compiled.optimizer if self._compiled else None

    @property
    def loss(self):
        return self._compiled.loss if self._compiled else None

    @property
    def metrics(self) -> list:
        """The compiled metrics (unweighted, then weighted)."""
        return self._compiled.all_metrics if self._compiled else []

    def _require_compiled(self, what: str) -> _Compiled:
        if self._compiled is None:
            raise NotCompiledError(
                f"You must compile the model before calling {what}: "
                "model.compile(optimizer=..., loss=...)."
            )
        return self._compiled

    # --- the step -----------------------------------------------------------------------------
    def _forward(self, x, training: bool):
        for layer in self._layers:
            x = layer.forward(x, training=training)
        return x

    def _backward(self, grad, activation_fused: bool):
        """Each layer's backward, last first; the last one gets the fused-activation flag."""
        last = len(self._layers) - 1
        grad = self._layers[last].backward(
            grad, need_grad_x=last > 0, activation_fused=activation_fused
        )
        for i in range(last - 1, -1, -1):
            grad = self._layers[i].backward(grad, need_grad_x=i > 0)

    def _penalty(self) -> float:
        """The layers' regularization losses, summed."""
        total = 0.0
        for layer in self._layers:
            total += layer.regularization_penalty()
        return total

    def _fuses_activation(self, loss) -> bool:
        """Whether the loss folds the output activation's gradient into its own (softmax +
        cross-entropy, sigmoid + binary cross-entropy): one short pass, no Jacobian."""
        fused = getattr(loss, "fused_activation", None)
        return fused is not None and self._layers[-1].fusable_activation == fused

    def _data_loss(self, y, y_pred, sample_weight, fused: bool):
        """(loss, dL/dy_pred or dL/dz when ``fused``) of the compiled loss, written into the
        preallocated gradient buffer."""
        loss = self._compiled.loss
        step = loss.value_and_fused_grad if fused else loss.value_and_grad
        value, grad = step(
            y, y_pred, grad_out=self._grad_out[: len(y_pred)], sample_weight=sample_weight
        )
        return float(value), grad

    def _update_metrics(self, y, y_pred, sample_weight):
        for metric in self._compiled.metrics:
            metric.update(y, y_pred)
        for metric in self._compiled.weighted_metrics:
            metric.update(y, y_pred, sample_weight=sample_weight)

    def train_step(self, x_batch, y_batch, sample_weight=None) -> float:
        """One step of gradient descent on a batch: forward, loss, backward, one update.

        ``x_batch``/``y_batch`` are device arrays in the model's dtype (``y`` in the form the
        loss's ``check_targets`` gives); returns the batch loss (data + regularization). A
        non-finite loss returns at once, updating nothing.

        Examples
        --------
        >>> from nastoolkit.layers import Dense
        >>> model = Sequential([Dense(1, input_shape=(2,))], seed=0, dtype="float64")
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.ones((4, 2)), np.zeros((4, 1))
        >>> model.train_step(x, y) > model.train_step(x, y)
        True
        """
        self._loss_width("train_step")
        self._ensure_capacity(len(x_batch))
        self._fresh = False
        return self._step(x_batch, y_batch, sample_weight, self._step_plan(prepared=False))

    def _step_plan(self, prepared: bool = True) -> tuple:
        """What every step of a fit asks the same way: (fused activation, the loss's step,
        penalised layers, whether any metric is compiled); ``fit`` asks once per epoch, not
        once per step. ``prepared``: the targets are fit's, already in the loss's form, so the
        loss skips its per-call conversions (``train_step`` takes targets in any form)."""
        compiled = self._compiled
        fused = self._fuses_activation(compiled.loss)
        if prepared:
            data_loss = compiled.loss.batch_step(fused)
        else:

            def data_loss(y, y_pred, grad_out, sample_weight):
                return self._data_loss(y, y_pred, sample_weight, fused)

        return (
            fused,
            data_loss,
            [layer for layer in self._layers if layer.has_penalty],
            bool(compiled.metrics or compiled.weighted_metrics),
        )

    def _step(self, x, y, sample_weight, plan) -> float:
        """``train_step`` on prepared buffers: forward, loss, backward, one update."""
        fused, data_loss, penalized, has_metrics = plan
        y_pred = self._forward(x, training=True)
        loss, grad = data_loss(y, y_pred, self._grad_out[: len(y_pred)], sample_weight)
        for layer in penalized:
            loss += layer.regularization_penalty()
        if not math.isfinite(loss):
            return loss
        if has_metrics:
            self._update_metrics(y, y_pred, sample_weight)
        self._backward(grad, fused)
        self._compiled.optimizer.apply_gradients(self._pairs)
        return loss

    def loss_and_gradients(self, x, y, training=False, sample_weight=None):
        """Total loss (data + regularization) and a copy of the flat gradient (the layout of
        ``model.params``) for one batch, without updating anything: the pass ``fit`` makes, for
        gradient checks and for plotting loss surfaces. ``y`` must be in ``check_targets`` form.

        Examples
        --------
        >>> from nastoolkit.layers import Dense
        >>> model = Sequential([Dense(1, input_shape=(2,))], seed=0, dtype="float64")
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> loss, grad = model.loss_and_gradients(np.ones((4, 2)), np.zeros((4, 1)))
        >>> grad.shape == model.params.shape
        True
        """
        compiled = self._require_compiled("loss_and_gradients")
        self._require_built("loss_and_gradients")
        self._loss_width("loss_and_gradients")
        self._fresh = False
        x = self._xp.asarray(x, dtype=self.dtype)
        self._ensure_capacity(x.shape[0])
        fused = self._fuses_activation(compiled.loss)
        y_pred = self._forward(x, training)
        w = None if sample_weight is None else self._xp.asarray(sample_weight, dtype=self.dtype)
        value, grad = self._data_loss(y, y_pred, w, fused)
        self.grads.fill(0)
        self._backward(grad, fused)
        return value + self._penalty(), self.grads.copy()

    # --- fit ----------------------------------------------------------------------------------
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        seed=None,
    ):
        """Train for ``epochs`` passes over (x, y); returns a ``History`` of per-epoch logs.

        Parameters
        ----------
        x, y : array-like
            Inputs ``(batch, *features)`` and targets.
        batch_size : int, optional
            Rows per step (32 when None, as Keras).
        epochs : int
            Index of the last epoch (training runs from ``initial_epoch``).
        verbose : "auto", 0, 1 or 2
            Progress output.
        callbacks : list of Callback, optional
            Called with Keras's hooks and ``logs`` dicts; ``model.stop_training = True`` set in
            any hook ends training after the current batch.
        validation_split : float
            Fraction in [0, 1) of the last samples held out (with their weights).
        validation_data : tuple, optional
            ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``.
        shuffle : bool
            A new permutation each epoch.
        class_weight : dict, optional
            ``{class: weight}``; each sample is weighted by its class (labels or one-hot rows).
        sample_weight : array-like, optional
            One weight per sample, passed to the loss and to ``weighted_metrics``.
        initial_epoch : int
            Epoch to start from.
        seed : int, optional
            Seeds shuffling and dropout; on a model not yet trained nor given weights it also
            re-draws the initial weights (so one seed fixes a whole run).

        Returns
        -------
        History

        Notes
        -----
        A NaN/inf loss stops training at once with a RuntimeWarning, puts back the weights from
        the start of that epoch, and records the reason in ``history.stopped_reason``.

        Examples
        --------
        >>> from nastoolkit.layers import Dense
        >>> model = Sequential([Dense(1, input_shape=(2,))], seed=0)
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x, y = np.ones((8, 2)), np.ones(8)
        >>> history = model.fit(x, y, epochs=2, sample_weight=np.linspace(0, 1, 8), verbose=0)
        >>> sorted(history.history), len(history.history["loss"])
        (['loss'], 2)
        """
        self._require_compiled("fit")
        batch_size = 32 if batch_size is None else _checks.positive_int("batch_size", batch_size)
        epochs = _checks.non_negative_int("epochs", epochs)
        initial_epoch = _checks.non_negative_int("initial_epoch", initial_epoch)
        validation_split = _checks.number_in(
            "validation_split", validation_split, 0.0, 1.0, high_open=True
        )
        train, val = self._fit_data(
            x, y, sample_weight, class_weight, validation_split, validation_data
        )
        rng = self._start_fit(seed)
        batches = training.Batches(train.to(self._xp), batch_size, shuffle, self._xp, self.dtype)
        self._ensure_capacity(batches.size)
        cbs = self._callbacks(callbacks, verbose, epochs, batches.steps, initial_epoch)
        history = next(cb for cb in cbs.callbacks if isinstance(cb, History))
        self.history, self.stop_training, self.stop_reason = history, False, None
        self._snapshot = self._xp.empty_like(self.params)
        logs: dict = {}
        cbs.on_train_begin({})
        # a BackupAndRestore callback's on_train_begin may have set the epoch to continue from
        first_epoch = initial_epoch if self._resume_epoch is None else self._resume_epoch
        self._resume_epoch = None
        with _quiet_overflow(), self._threads_for(batches.size):
            for epoch in range(first_epoch, epochs):
                logs = self._fit_epoch(epoch, batches, rng, cbs)
                if val is not None and math.isfinite(logs["loss"]):
                    val_logs = self._validate(val, batch_size, cbs)
                    logs.update({f"val_{key}": value for key, value in val_logs.items()})
                cbs.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        history.stopped_reason = self.stop_reason
        cbs.on_train_end(dict(logs))
        return history

    def _fit_data(self, x, y, sample_weight, class_weight, validation_split, validation_data):
        """Checked (train, validation) datasets; builds the model from ``x`` when needed."""
        if x is None or y is None:
            raise ValueError("fit needs both x and y.")
        if sample_weight is not None and class_weight is not None:
            raise ValueError(
                "You cannot pass both class_weight and sample_weight to fit; "
                "multiply the class weights into sample_weight instead."
            )
        x = training.as_data(x, "x", self.dtype, self._known_features())
        training.check_lengths(x, y)
        if not self.built:
            self.build(x.shape)
        compiled = self._compiled
        y = training.targets(compiled.loss, y, self._loss_width("fit"), self.dtype)
        w = training.as_sample_weight(sample_weight, len(x), self.dtype)
        data = training.Dataset(x, y, w)
        if validation_data is None and validation_split:
            data, val = training.split_validation(data, validation_split)
        else:
            val = self._validation_dataset(validation_data)
        if class_weight is not None:  # training samples only: Keras's validation is unweighted
            weights = training.class_weight_to_sample_weight(data.y, class_weight, self.dtype)
            data = training.Dataset(data.x, data.y, weights)
        return data, None if val is None else val.to(self._xp)

    def _validation_dataset(self, validation_data):
        if validation_data is None:
            return None
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                f"sample_weight_val). Received: {type(validation_data).__name__}"
            )
        xv = training.as_data(validation_data[0], "validation_data[0]", self.dtype, self._features)
        training.check_lengths(xv, validation_data[1], "validation_data[0]", "validation_data[1]")
        yv = training.targets(self._compiled.loss, validation_data[1], self.output_dim, self.dtype)
        wv = training.as_sample_weight(
            validation_data[2] if len(validation_data) == 3 else None,
            len(xv),
            self.dtype,
            "validation_data[2]",
        )
        return training.Dataset(xv, yv, wv)

    def _start_fit(self, seed) -> np.random.Generator:
        """The run's generator (``seed``, else the model's); reseeds layers for a seeded fit."""
        rng = np.random.default_rng(seed if seed is not None else self.seed)
        if seed is not None and self._fresh:
            self._initialize(rng)
        self._fresh = False
        for layer in self._layers:
            layer.on_fit_start(rng if seed is not None else None)
        self._fit_rng = rng
        return rng

    def _callbacks(self, callbacks, verbose, epochs, steps, initial_epoch) -> CallbackList:
        """The user's callbacks, then History, then progress output (Keras's order: History
        records what the callbacks before it added to the logs, such as ``learning_rate``)."""
        verbose = 1 if verbose == "auto" else int(verbose)
        cbs = list(callbacks or [])
        if not any(isinstance(cb, History) for cb in cbs):
            cbs.append(History())
        if verbose and not any(isinstance(cb, ProgressLogger) for cb in cbs):
            cbs.append(ProgressLogger(verbose))
        return CallbackList(
            cbs,
            self,
            {"verbose": verbose, "epochs": epochs, "steps": steps, "initial_epoch": initial_epoch},
        )

    def _fit_epoch(self, epoch, batches, rng, cbs) -> dict:
        """One pass over the training data; returns the epoch's logs (running means, as Keras).

        Runs in the compiled engine when every piece of the model has a compiled form (the
        same batches, dropout bits and update rules, to float32 rounding; ``engine.describe``
        says which path runs and why) and a step is small enough for it to pay
        (``engine.ENGINE_MAX_STEP_MACS``), else, or with ``NASTOOLKIT_FIT_ENGINE=0`` or inside
        ``engine.numpy_path()``, step by step here."""
        spec = engine.fit_plan(self, batches.size)
        if spec is not None:
            return engine.fit_epoch(self, epoch, batches, rng, cbs, spec)
        cbs.on_epoch_begin(epoch, {})
        self._reset_metrics()
        self._snapshot[...] = self.params
        batch_hooks = cbs.wants_batches
        total, seen = 0.0, 0  # the running sample-weighted mean of batch losses, as Keras logs
        self._fresh = False
        plan = self._step_plan()
        for step, (x, y, w) in enumerate(batches.epoch(rng)):
            if batch_hooks:
                cbs.on_train_batch_begin(step, {})
            value = self._step(x, y, w, plan)
            if not math.isfinite(value):
                self._diverged(epoch, step, value)
                return self._logs(math.nan)
            total += value * len(x)
            seen += len(x)
            if batch_hooks:
                cbs.on_train_batch_end(step, self._logs(total / seen))
            if self.stop_training:
                break
        return self._logs(total / seen if seen else 0.0)

    def _logs(self, loss: float) -> dict:
        logs = {"loss": loss}
        logs.update({metric.name: float(metric.result()) for metric in self.metrics})
        return logs

    def _reset_metrics(self):
        for metric in self.metrics:
            metric.reset()

    def _threads_for(self, batch_size: int):
        """One BLAS thread for small models (see ``backend.SMALL_MATMUL``), the default else."""
        largest = max((layer.work_size(batch_size) for layer in self._layers), default=0)
        return backend.single_blas_thread(largest < backend.SMALL_MATMUL)

    def _diverged(self, epoch, step, value):
        """Stop on a non-finite loss: restore the epoch-start weights, reset the optimizer, warn."""
        self.params[...] = self._snapshot
        optimizer = self._compiled.optimizer
        if hasattr(optimizer, "reset"):
            optimizer.reset()
        self.stop_training = True
        self.stop_reason = (
            f"loss became {value} at epoch {epoch + 1}, step {step + 1}: training "
            "diverged (try a smaller learning rate); weights restored to the start "
            "of that epoch"
        )
        warnings.warn(f"nastoolkit: {self.stop_reason}", RuntimeWarning, stacklevel=4)

    # --- evaluation and inference -------------------------------------------------------------
    def _validate(self, val, batch_size, cbs, spec=None) -> dict:
        """Validation inside ``fit``: an evaluation with the same callbacks, as Keras does. Where
        fit trains in the compiled engine (with plan ``spec``, when the caller has it), the
        engine computes the outputs too, in one call."""
        if cbs.wants_test_batches:
            return self._evaluate_dataset(val, batch_size, cbs)
        outputs = engine.validation_outputs(self, val.x, batch_size, spec)
        return self._evaluate_dataset(val, max(batch_size, 1024), cbs, outputs)

    def _evaluate_dataset(self, data, batch_size, cbs, outputs=None) -> dict:
        """Loss and metrics over ``data`` in batches; ``outputs``, when given, are the model's
        outputs for all of ``data`` (else each batch runs forward here)."""
        batch_size = min(batch_size, len(data))
        self._ensure_capacity(batch_size)
        self._reset_metrics()
        fused = False  # evaluation needs the loss only; the gradient buffer is scratch
        loss = _RunningMean()
        batch_hooks = cbs.wants_test_batches
        cbs.on_test_begin({})
        with self._threads_for(batch_size):
            for step, start in enumerate(range(0, len(data), batch_size)):
                batch = data.take(slice(start, start + batch_size))
                if batch_hooks:
                    cbs.on_test_batch_begin(step, {})
                if outputs is None:
                    y_pred = self._forward(batch.x, False)
                else:
                    y_pred = outputs[start : start + batch_size]
                value, _ = self._data_loss(batch.y, y_pred, batch.w, fused)
                loss.add(value, len(batch))
                self._update_metrics(batch.y, y_pred, batch.w)
                if batch_hooks:
                    cbs.on_test_batch_end(step, self._logs(loss.result() + self._penalty()))
        logs = self._logs(loss.result() + self._penalty())
        cbs.on_test_end(dict(logs))
        return logs

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        callbacks=None,
        return_dict=False,
    ):
        """Loss (and metrics) on (x, y) in inference mode: a float, or ``[loss, *metrics]``
        like Keras.

        Parameters
        ----------
        x, y : array-like
            Inputs and targets.
        batch_size : int, optional
            Rows per step (larger steps give the same numbers faster when no callback watches
            test batches).
        verbose : "auto", 0 or 1
            Print the results.
        sample_weight : array-like, optional
            One weight per sample, for the loss and ``weighted_metrics``.
        callbacks : list of Callback, optional
            Receive ``on_test_*`` hooks.
        return_dict : bool
            Return ``{"loss": ..., metric: ...}``.

        Examples
        --------
        >>> from nastoolkit.layers import Dense
        >>> model = Sequential([Dense(1, input_shape=(2,), kernel_initializer="zeros")])
        >>> model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
        >>> model.evaluate(np.ones((2, 2)), np.array([1.0, 3.0]), verbose=0)
        [5.0, 2.0]
        """
        self._require_compiled("evaluate")
        self._require_built("evaluate")
        self._fresh = False
        x = training.as_data(x, "x", self.dtype, self._features)
        training.check_lengths(x, y)
        y = training.targets(self._compiled.loss, y, self._loss_width("evaluate"), self.dtype)
        w = training.as_sample_weight(sample_weight, len(x), self.dtype)
        cbs = CallbackList(callbacks, self, {})
        # without test-batch callbacks, larger batches give the same numbers in fewer steps
        default = 32 if cbs.wants_test_batches else 1024
        batch_size = _checks.positive_int("batch_size", batch_size or default)
        _set_params(
            cbs,
            verbose=0 if verbose == "auto" else int(verbose),
            epochs=1,
            steps=-(-len(x) // batch_size),
        )
        logs = self._evaluate_dataset(training.Dataset(x, y, w).to(self._xp), batch_size, cbs)
        if verbose not in (0, "auto") and verbose:
            print(" - ".join(f"{k}: {v:.4g}" for k, v in logs.items()))
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def predict(self, x, batch_size=None, verbose=0, callbacks=None):
        """Outputs for ``x`` (inference mode: dropout off), as an array of the backend.

        Examples
        --------
        >>> from nastoolkit.layers import Dense
        >>> model = Sequential([Dense(3, input_shape=(2,))], seed=0)
        >>> model.predict(np.ones((5, 2))).shape
        (5, 3)
        """
        x = self._as_input(x)
        if not self.built:
            self.build(x.shape)
        cbs = CallbackList(callbacks, self, {})
        batch_size = _checks.positive_int(
            "batch_size", batch_size or (32 if cbs.wants_predict_batches else 1024)
        )
        _set_params(
            cbs,
            verbose=0 if verbose == "auto" else int(verbose),
            epochs=1,
            steps=-(-len(x) // batch_size),
        )
        x = self._xp.asarray(x)
        self._fresh = False
        self._ensure_capacity(min(batch_size, len(x)))
        out = self._xp.empty((len(x), *self._layers[-1]._out_features), self.dtype)
        batch_hooks = cbs.wants_predict_batches
        cbs.on_predict_begin({})
        with self._threads_for(min(batch_size, len(x))):
            for step, start in enumerate(range(0, len(x), batch_size)):
                if batch_hooks:
                    cbs.on_predict_batch_begin(step, {})
                out[start : start + batch_size] = self._forward(
                    x[start : start + batch_size], False
                )
                if batch_hooks:
                    cbs.on_predict_batch_end(step, {"outputs": out[start : start + batch_size]})
        cbs.on_predict_end({})
        return out

    def __call__(self, x, training=False):
        x = self._as_input(x)
        if not self.built:
            self.build(x.shape)
        self._ensure_capacity(len(x))
        self._fresh = False
        return self._forward(self._xp.asarray(x), training).copy()

    def _as_input(self, x):
        return training.as_data(x, "x", self.dtype, self._known_features())

    def _require_built(self, what):
        """Build now when the input shape is known (as Keras does for ``input_shape=``); the
        weights then come from the model's ``seed``. Otherwise say what is missing."""
        if not self.built and self._layers and self._known_features() is not None:
            self.build()
        if not self.built:
            raise ValueError(
                f"The model is not built yet: give the first layer "
                f"input_shape=(features,) or call fit/build before {what}."
            )

    # --- weights, config, summary -------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight as NumPy arrays (kernel, bias per Dense)."""
        self._require_built("get_weights")
        self._fresh = False
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Copy ``weights`` (``get_weights`` order and shapes) into the model in place."""
        self._require_built("set_weights")
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self._layers)
        if len(weights) != expected:
            raise ValueError(f"set_weights expects {expected} arrays. Received: {len(weights)}")
        i = 0
        for layer in self._layers:
            k = len(layer.weights)
            layer.set_weights(weights[i : i + k])
            i += k
        self._fresh = False

    def count_params(self) -> int:
        """Number of weight elements."""
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self._layers)

    def get_config(self) -> dict:
        """Name, seed, dtype, the layers (Input first when there is one) and, once built, the
        input shape it was built for."""
        config = {
            "name": self.name,
            "seed": self.seed,
            "dtype": self.dtype.name,
            "layers": [layers_module.serialize(layer) for layer in self._all_layers()],
        }
        if self.built:
            config["build_input_shape"] = [None, *self._features]
        return config

    @classmethod
    def from_config(cls, config):
        """The model ``get_config`` describes, built when the original was (as Keras)."""
        model = cls(
            [layers_module.deserialize(c) for c in config["layers"]],
            name=config["name"],
            seed=config.get("seed"),
            dtype=config.get("dtype", "float32"),
        )
        shape = config.get("build_input_shape")
        if shape is not None and not model.built:
            model.build(tuple(shape))
        return model

    def summary(self, print_fn=print):
        """Print a table of layers, output shapes and parameter counts (Keras's layout)."""
        if not self.built and self._layers and self._known_features() is not None:
            self.build()
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self._layers:
            shape = str(layer.output_shape) if layer.built else "(unbuilt)"
            rows.append(
                (f"{layer.name} ({type(layer).__name__})", shape, f"{layer.count_params():,}")
            )
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        line = "─" * sum(widths)
        text = [
            f'Model: "{self.name}"',
            line,
            "".join(c.ljust(w) for c, w in zip(rows[0], widths)),
            line,
        ]
        text += ["".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows[1:]]
        total = sum(layer.count_params() for layer in self._layers)
        text += [
            line,
            f"Total params: {total:,}",
            f"Trainable params: {total:,}",
            "Non-trainable params: 0",
        ]
        print_fn("\n".join(text))

    def __repr__(self):
        return f"Sequential(name={self.name!r}, layers={len(self._layers)}, built={self.built})"

    # --- persistence (the file formats live in nastoolkit.saving) -----------------------------
    def _backup_extra(self, epoch: int) -> dict:
        """What an exact resume needs beyond weights and optimizer slots (JSON-able): the epoch,
        the shuffling generator and, under ``"dropout"``, the random stream of every layer that
        has one (``rng_state()`` not None), in layer order."""
        return {
            "epoch": epoch,
            "rng": self._fit_rng.bit_generator.state if self._fit_rng else None,
            "dropout": [
                state
                for state in (layer.rng_state() for layer in self._layers)
                if state is not None
            ],
        }

    def _apply_backup_extra(self, extra: dict) -> int:
        """Put back the shuffling generator and the layers' random streams saved by
        ``_backup_extra`` (checked first: a mismatch changes nothing); returns the epoch to
        continue from."""
        streams = [layer for layer in self._layers if layer.rng_state() is not None]
        states = list(extra.get("dropout", []))
        if states and len(states) != len(streams):
            raise ValueError(
                f"The backup holds {len(states)} layer random streams but this model "
                f"has {len(streams)} layers with one; it belongs to another model."
            )
        if extra.get("rng") is not None and self._fit_rng is not None:
            self._fit_rng.bit_generator.state = extra["rng"]
        for layer, state in zip(streams, states):
            layer.set_rng_state(state)
        self._fresh = False
        return int(extra["epoch"]) + 1

    def _restore_backup(self, filepath) -> int:
        """Load weights, optimizer state and random streams saved by
        ``save(..., extra=_backup_extra(epoch))`` (validated first by
        ``nastoolkit.saving.restore_backup``); returns the epoch to continue from."""
        from . import saving  # saving imports this module: import it when used

        return saving.restore_backup(self, filepath)

    def save(self, filepath, extra: dict | None = None):
        """Write the model to ``filepath``: ``.keras`` (an archive Keras opens) or ``.npz`` (with
        the optimizer state); see ``nastoolkit.saving.save_model``. ``extra`` is JSON-able data
        stored alongside in npz files (used by BackupAndRestore)."""
        from . import saving

        self._require_built("save")
        saving.save_model(self, filepath, extra=extra)


def load_model(filepath, compile=True) -> Sequential:
    """Load a model written by ``Sequential.save`` or a Keras ``.keras`` file of the layers this
    package has (``nastoolkit.saving.load_model``: data, never code).

    Parameters
    ----------
    filepath : str or path
        The file.
    compile : bool
        Restore the optimizer (with its state), loss and metrics.

    Returns
    -------
    Sequential
        The model, built, with the saved weights.

    Examples
    --------
    >>> from nastoolkit.layers import Dense
    >>> Sequential([Dense(2, input_shape=(3,))]).save("tiny.npz")
    >>> load_model("tiny.npz").count_params()
    8
    """
    from . import saving

    return saving.load_model(filepath, compile=compile)
