"""Differentiable architecture search (DARTS, Liu et al., 2019, first-order) for MLPs.

A supernet of ``space.max_layers`` layers, each ``max(space.units)`` wide, mixes in every layer
its candidate operations with weights ``softmax(alpha_l)``::

    z   = h_prev W_l + b_l                              (kernels.dense_forward)
    m   = sum_j softmax(beta_l)_j mask_j                (mask_j: the first units_j ones)
    out = sum_k softmax(alpha_l)_k op_k(z * m)          (op_k: each of the space's activations)
          + softmax(alpha_l)_skip h_prev + softmax(alpha_l)_zero 0

so ``beta_l`` chooses the width through nested unit masks and ``alpha_l`` the activation, an
identity skip (the layer removed) or the zero op. Layers below ``space.min_layers`` have no skip
or zero (a genome needs them). Training alternates, per batch, one Adam step of ``alpha, beta``
on a validation batch and one Adam step of the weights on a training batch (the first-order
approximation of the paper's bilevel problem). The derived genome takes, per layer, the strongest
operation other than zero (as the paper does) - skip drops the layer - and the strongest width;
it is then retrained from scratch through a :class:`~nastoolkit.nas.HoldoutEvaluator` and scored
like any other candidate. Training genes that DARTS does not search (dropout, learning rate, L2,
optimizer, batch size) come from ``space.repair`` of Adam, 1e-3, no dropout or L2, batch 32.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .. import kernels
from .._checks import non_negative_int, number_in, positive, positive_int
from .build import check_task
from .checkpoint import (
    CheckpointError,
    check_checkpoint_target,
    load_checkpoint,
    remove_stale_arrays,
    save_checkpoint,
    write_arrays,
)
from .evaluators import HoldoutEvaluator
from .genome import copy_genome, genome_key
from .result import Candidate, SearchResult
from .space import SearchSpace

__all__ = ["DifferentiableSearch", "MixedLayer", "softmax"]


def softmax(values: np.ndarray) -> np.ndarray:
    """softmax of a 1-D array (shifted by its max, so large logits do not overflow).

    Examples
    --------
    >>> softmax(np.array([0.0, 0.0, 1000.0])).round(3).tolist()
    [0.0, 0.0, 1.0]
    """
    shifted = np.exp(values - values.max())
    return shifted / shifted.sum()


def _softmax_backward(weights: np.ndarray, grad_weights: np.ndarray) -> np.ndarray:
    """dL/dlogits from w = softmax(logits) and dL/dw: w * (g - <g, w>)."""
    return weights * (grad_weights - np.dot(grad_weights, weights))


def _activation_backward(name, y, grad_y, z):
    # Activations whose derivative needs the pre-activation (gelu, silu, ...) take z.
    if name in getattr(kernels, "NEEDS_PREACTIVATION", ()):
        return kernels.activation_backward(name, y, grad_y, z=z)
    return kernels.activation_backward(name, y, grad_y)


class MixedLayer:
    """One supernet layer: a dense map, a width mixture and an operation mixture.

    Parameters
    ----------
    input_dim : int
        Width of the layer's input.
    unit_choices : tuple of int
        Candidate widths (nested masks of the first ``units`` outputs); the layer is
        ``max(unit_choices)`` wide.
    operations : tuple of str
        Activation names, plus ``"skip"`` (identity; needs ``input_dim == width``) and/or
        ``"zero"``.
    rng : numpy.random.Generator
        Draws the Glorot-uniform initial weights.

    Examples
    --------
    >>> layer = MixedLayer(3, (2, 4), ("relu", "tanh"), np.random.default_rng(0))
    >>> out, cache = layer.forward(np.ones((5, 3)))
    >>> out.shape, layer.operation_weights().round(2).tolist()
    ((5, 4), [0.5, 0.5])
    """

    def __init__(self, input_dim, unit_choices, operations, rng, dtype="float64"):
        self.unit_choices = tuple(int(u) for u in unit_choices)
        self.operations = tuple(operations)
        self.width = max(self.unit_choices)
        if "skip" in self.operations and input_dim != self.width:
            raise ValueError(
                f"a skip operation needs input_dim == width ({self.width}). "
                f"Received: input_dim={input_dim}."
            )
        limit = math.sqrt(6.0 / (input_dim + self.width))
        self.W = rng.uniform(-limit, limit, (input_dim, self.width)).astype(dtype)
        self.b = np.zeros(self.width, dtype)
        self.alpha = np.zeros(len(self.operations), dtype)
        self.beta = np.zeros(len(self.unit_choices), dtype)
        self.masks = np.array(
            [[1.0 if j < units else 0.0 for j in range(self.width)] for units in self.unit_choices],
            dtype,
        )

    def operation_weights(self) -> np.ndarray:
        """softmax(alpha): the strength of each operation."""
        return softmax(self.alpha)

    def width_weights(self) -> np.ndarray:
        """softmax(beta): the strength of each width."""
        return softmax(self.beta)

    def forward(self, h):
        """``out`` (n, width) and what :meth:`backward` needs."""
        z = kernels.dense_forward(h, self.W, self.b, "linear")
        width_weights, operation_weights = self.width_weights(), self.operation_weights()
        m = width_weights @ self.masks
        zm = z * m
        outputs = {}
        out = np.zeros_like(zm)
        for weight, name in zip(operation_weights, self.operations):
            if name == "zero":
                continue
            outputs[name] = h if name == "skip" else kernels.activation_forward(name, zm)
            out += weight * outputs[name]
        return out, (h, z, zm, m, outputs, width_weights, operation_weights)

    def backward(self, grad_out, cache):
        """``(grad_h, grad_W, grad_b, grad_alpha, grad_beta)`` from dL/dout."""
        h, z, zm, m, outputs, width_weights, operation_weights = cache
        grad_weights = np.array(
            [
                0.0 if name == "zero" else np.sum(grad_out * outputs[name])
                for name in self.operations
            ]
        )
        grad_zm = np.zeros_like(zm)
        grad_skip = None
        for weight, name in zip(operation_weights, self.operations):
            if name == "skip":
                grad_skip = weight * grad_out
            elif name != "zero":
                grad_zm += _activation_backward(name, outputs[name], weight * grad_out, zm)
        grad_m = np.sum(grad_zm * z, axis=0)
        grad_beta = _softmax_backward(width_weights, self.masks @ grad_m)
        grad_h, grad_W, grad_b = kernels.dense_backward(h, self.W, zm, grad_zm * m, "linear")
        if grad_skip is not None:
            grad_h = grad_h + grad_skip
        return grad_h, grad_W, grad_b, _softmax_backward(operation_weights, grad_weights), grad_beta


class _Supernet:
    """Mixed layers, then a dense output head; the task's loss and its gradient."""

    def __init__(self, space, input_dim, output_dim, task, rng, dtype="float64"):
        self.task = task
        self.layers = []
        width = max(space.units)
        for index in range(space.max_layers):
            operations = tuple(space.activations)
            if index >= space.min_layers:
                operations += ("skip", "zero")
            self.layers.append(
                MixedLayer(input_dim if index == 0 else width, space.units, operations, rng, dtype)
            )
        limit = math.sqrt(6.0 / (width + output_dim))
        self.W = rng.uniform(-limit, limit, (width, output_dim)).astype(dtype)
        self.b = np.zeros(output_dim, dtype)

    @property
    def weights(self) -> list:
        return [a for layer in self.layers for a in (layer.W, layer.b)] + [self.W, self.b]

    @property
    def architecture(self) -> list:
        return [a for layer in self.layers for a in (layer.alpha, layer.beta)]

    def loss_and_gradients(self, X, y):
        """(loss, weight gradients, architecture gradients) on one batch."""
        h, caches = X, []
        for layer in self.layers:
            h, cache = layer.forward(h)
            caches.append(cache)
        n = len(X)
        if self.task == "classification":
            p = kernels.activation_forward("softmax", kernels.dense_forward(h, self.W, self.b))
            loss = -float(np.mean(np.log(np.maximum(p[np.arange(n), y], 1e-300))))
            grad = p.copy()
            grad[np.arange(n), y] -= 1.0
            grad /= n
        else:
            prediction = kernels.dense_forward(h, self.W, self.b)
            loss = float(np.mean((prediction - y) ** 2))
            grad = 2.0 * (prediction - y) / prediction.size
        grad_h, grad_W, grad_b = kernels.dense_backward(h, self.W, None, grad, "linear")
        weight_grads, architecture_grads = [grad_W, grad_b], []
        for layer, cache in zip(reversed(self.layers), reversed(caches)):
            grad_h, g_W, g_b, g_alpha, g_beta = layer.backward(grad_h, cache)
            weight_grads[:0] = [g_W, g_b]
            architecture_grads[:0] = [g_alpha, g_beta]
        return loss, weight_grads, architecture_grads


class DifferentiableSearch:
    """DARTS (first-order) over a :class:`SearchSpace` (see the module docstring).

    Parameters
    ----------
    space : SearchSpace
        Activations, widths and depth range to search.
    X, y : array-like
        The data; split like a :class:`HoldoutEvaluator` (``validation_split``, stratified for
        classification): weights learn on its training part, ``alpha``/``beta`` on its
        validation part, and the derived genome is retrained and scored by that evaluator.
    task : str
        ``"classification"`` or ``"regression"``.
    epochs : int
        Supernet epochs.
    seed : int
        Weight initialisation and batch order.
    batch_size, learning_rate, architecture_learning_rate : int, float, float
        Batch size, and Adam's learning rates for the weights and for ``alpha``/``beta``.
    validation_split : float
        Fraction held out for the architecture steps and the final score.
    evaluator_epochs : int
        Budget of the final retraining (the evaluator's ``epochs``).
    checkpoint : str or path, optional
        Written after every epoch (JSON with the data, history and RNG; an npz beside it with
        the supernet, ``alpha``/``beta`` and both Adam states); :meth:`resume` continues it to
        the result an uninterrupted run gives. An existing file is kept unless ``overwrite``.
    progress : bool
        Show a progress bar over epochs.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2)).astype("float32"); y = (np.abs(X[:, 0]) > 0.7).astype(int)
    >>> space = SearchSpace(max_layers=1, units=(4, 8), activations=("linear", "relu"))
    >>> result = DifferentiableSearch(space, X, y, epochs=2, evaluator_epochs=2).run()
    >>> len(result.history), len(result.history[0]["alpha"][0])
    (2, 2)
    """

    def __init__(
        self,
        space,
        X,
        y,
        task="classification",
        epochs=30,
        seed=0,
        batch_size=32,
        learning_rate=0.01,
        architecture_learning_rate=0.03,
        validation_split=0.3,
        evaluator_epochs=20,
        checkpoint=None,
        overwrite=False,
        progress=False,
    ):
        if not isinstance(space, SearchSpace):
            raise TypeError(
                f"space must be a nastoolkit.nas.SearchSpace. Received: "
                f"{type(space).__name__}. Build one with SearchSpace(max_layers=...)."
            )
        check_task(task)
        self.space = space
        self.epochs = positive_int("epochs", epochs, "Pass e.g. epochs=30.")
        self.seed = non_negative_int("seed", seed, "Pass e.g. seed=0.")
        self.batch_size = positive_int("batch_size", batch_size, "Pass e.g. batch_size=32.")
        self.learning_rate = positive("learning_rate", learning_rate, "Pass e.g. 0.01.")
        self.architecture_learning_rate = positive(
            "architecture_learning_rate", architecture_learning_rate, "Pass e.g. 0.03."
        )
        number_in(
            "validation_split",
            validation_split,
            0.0,
            1.0,
            low_open=True,
            high_open=True,
            fix="Pass e.g. validation_split=0.3.",
        )
        self.evaluator = HoldoutEvaluator(
            X,
            y,
            task=task,
            validation_split=validation_split,
            epochs=evaluator_epochs,
            seed=self.seed,
        )
        self.task = task
        self.validation_split = float(validation_split)
        self.evaluator_epochs = self.evaluator.epochs
        for name, flag in (("progress", progress), ("overwrite", overwrite)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False. Received: {name}={flag!r}")
        self.checkpoint = (
            None
            if checkpoint is None
            else check_checkpoint_target(checkpoint, overwrite, type(self).__name__)
        )
        self.progress = progress
        self.history = []
        self.rng = np.random.default_rng(self.seed)
        self.supernet = None
        self._optimizers = None

    def _data(self):
        evaluator = self.evaluator
        train, validation = evaluator.splits()[0]
        X = np.asarray(evaluator.X, np.float64)
        y = evaluator.y if self.task == "classification" else np.asarray(evaluator.y, np.float64)
        return X[train], y[train], X[validation], y[validation]

    def derive(self, supernet) -> dict:
        """The genome the architecture weights pick (zero never chosen; skip drops a layer)."""
        layers = []
        for layer in supernet.layers:
            strengths = layer.operation_weights()
            allowed = [k for k, name in enumerate(layer.operations) if name != "zero"]
            name = layer.operations[max(allowed, key=lambda k: (strengths[k], -k))]
            if name != "skip":
                units = layer.unit_choices[int(np.argmax(layer.width_weights()))]
                layers.append(
                    {"units": units, "activation": name, "dropout": float(min(self.space.dropout))}
                )
        return self.space.repair(
            {
                "layers": layers,
                "learning_rate": 1e-3,
                "l2": 0.0,
                "optimizer": "adam",
                "batch_size": 32,
            }
        )

    def _build(self) -> None:
        from ..optimizers import Adam

        X_train = self._data()[0]
        self.supernet = _Supernet(
            self.space, X_train.shape[1], self.evaluator.output_dim, self.task, self.rng
        )
        self._optimizers = (
            Adam(learning_rate=self.learning_rate),
            Adam(learning_rate=self.architecture_learning_rate),
        )
        self._optimizers[0].build(self.supernet.weights)
        self._optimizers[1].build(self.supernet.architecture)

    def _epoch(self, epoch: int, X_train, y_train, X_val, y_val) -> dict:
        supernet, (weight_optimizer, architecture_optimizer) = self.supernet, self._optimizers
        order = self.rng.permutation(len(X_train))
        val_order = self.rng.permutation(len(X_val))
        train_losses, val_losses = [], []
        for step, start in enumerate(range(0, len(order), self.batch_size)):
            # architecture step on a validation batch, then a weight step (Algorithm 1)
            count = min(self.batch_size, len(val_order))
            offset = (step * count) % len(val_order)
            rows = np.take(val_order, range(offset, offset + count), mode="wrap")
            loss, _, grads = supernet.loss_and_gradients(X_val[rows], y_val[rows])
            architecture_optimizer.apply_gradients(zip(grads, supernet.architecture))
            val_losses.append(loss)
            batch = order[start : start + self.batch_size]
            loss, grads, _ = supernet.loss_and_gradients(X_train[batch], y_train[batch])
            weight_optimizer.apply_gradients(zip(grads, supernet.weights))
            train_losses.append(loss)
        return {
            "epoch": epoch,
            "train_loss": float(np.mean(train_losses)),
            "val_loss": float(np.mean(val_losses)),
            "operations": [list(layer.operations) for layer in supernet.layers],
            "alpha": [layer.operation_weights().tolist() for layer in supernet.layers],
            "width": [layer.width_weights().tolist() for layer in supernet.layers],
            "genome": self.derive(supernet),
        }

    def run(self) -> SearchResult:
        """Train the supernet (or continue it), derive the genome, retrain and score it; returns
        the :class:`SearchResult` (one candidate; ``history`` holds per epoch the losses,
        ``alpha`` and ``width`` strengths per layer, the ``operations`` names and the derived
        genome)."""
        from tqdm.auto import tqdm

        if self.supernet is None:
            self._build()
        data = self._data()
        bar = tqdm(
            total=self.epochs,
            initial=len(self.history),
            desc=type(self).__name__,
            unit="epoch",
            disable=not self.progress,
        )
        try:
            for epoch in range(len(self.history), self.epochs):
                self.history.append(self._epoch(epoch, *data))
                if self.checkpoint:
                    self.save(self.checkpoint)
                bar.update(1)
        finally:
            bar.close()
        genome = self.history[-1]["genome"]
        outcome = self.evaluator.evaluate(genome)
        record = Candidate(
            0,
            genome_key(genome),
            copy_genome(genome),
            0,
            self.evaluator.count_parameters(genome),
            outcome,
        )
        return SearchResult(
            strategy="DifferentiableSearch",
            evaluations=[record],
            history=[dict(row) for row in self.history],
            population=[copy_genome(genome)],
            evaluator=self.evaluator,
        )

    # -- checkpoints ----------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments (data aside)."""
        return {
            "space": self.space.get_config(),
            "task": self.task,
            "epochs": self.epochs,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "architecture_learning_rate": self.architecture_learning_rate,
            "validation_split": self.validation_split,
            "evaluator_epochs": self.evaluator_epochs,
        }

    def save(self, path) -> None:
        """The npz of arrays first (named by epoch), then the JSON that names it, atomically."""
        path = os.fspath(path)
        arrays = {f"w/{i}": a for i, a in enumerate(self.supernet.weights)}
        arrays.update({f"a/{i}": a for i, a in enumerate(self.supernet.architecture)})
        for tag, optimizer in zip(("ow", "oa"), self._optimizers):
            arrays.update({f"{tag}/{k}": np.asarray(v) for k, v in optimizer.get_state().items()})
        name = write_arrays(path, len(self.history), arrays)
        save_checkpoint(
            path,
            {
                "strategy": type(self).__name__,
                "config": self.get_config(),
                "evaluator": {
                    "class": type(self.evaluator).__name__,
                    "fingerprint": self.evaluator.fingerprint(),
                    "config": self.evaluator.get_config(),
                },
                "state": {
                    "generation": len(self.history) - 1,
                    "history": self.history,
                    "rng": self.rng.bit_generator.state,
                    "arrays": name,
                },
            },
        )
        remove_stale_arrays(path, name)

    @classmethod
    def resume(cls, path, checkpoint=None, progress=False, overwrite=False):
        """The search saved at ``path`` (data included), ready to :meth:`run` to the end."""
        from .evaluators import evaluator_from_config

        document = load_checkpoint(path)
        if document.get("strategy") != cls.__name__:
            raise CheckpointError(
                f"checkpoint {path!r} was written by "
                f"{document.get('strategy')!r}, not {cls.__name__}."
            )
        target = checkpoint or path
        same = os.path.abspath(os.fspath(target)) == os.path.abspath(os.fspath(path))
        try:
            evaluator = evaluator_from_config(document["evaluator"]["config"])
            config = dict(document["config"])
            space = SearchSpace.from_config(config.pop("space"))
            search = cls(
                space,
                evaluator.X,
                evaluator.y_original,
                **config,
                checkpoint=target,
                overwrite=overwrite or same,
                progress=progress,
            )
            state = document["state"]
            search._build()
            search.history = list(state["history"])
            search.rng.bit_generator.state = state["rng"]
            arrays_path = os.path.join(os.path.dirname(os.path.abspath(path)), state["arrays"])
            with np.load(arrays_path, allow_pickle=False) as data:
                for tag, arrays in (
                    ("w", search.supernet.weights),
                    ("a", search.supernet.architecture),
                ):
                    for index, array in enumerate(arrays):
                        array[...] = data[f"{tag}/{index}"]
                for tag, optimizer, arrays in (
                    ("ow", search._optimizers[0], search.supernet.weights),
                    ("oa", search._optimizers[1], search.supernet.architecture),
                ):
                    saved = {
                        name[len(tag) + 1 :]: data[name]
                        for name in data.files
                        if name.startswith(tag + "/")
                    }
                    saved["iterations"] = int(saved["iterations"])
                    optimizer.set_state(saved, variables=arrays)
        except (KeyError, TypeError, ValueError, OSError) as error:
            raise CheckpointError(
                f"checkpoint {path!r}: a field does not fit {cls.__name__} "
                f"({type(error).__name__}: {error})."
            ) from None
        if evaluator.fingerprint() != search.evaluator.fingerprint():
            raise CheckpointError(
                f"checkpoint {path!r}: field evaluator does not rebuild the same data split."
            )
        return search

    def __repr__(self) -> str:
        return (
            f"DifferentiableSearch(epochs={self.epochs}, seed={self.seed}, "
            f"evaluator={self.evaluator!r})"
        )
