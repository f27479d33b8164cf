"""Training a candidate in segments: stop after some epochs, keep the weights and optimizer state
as arrays, continue later exactly where it stopped.

Hyperband promotes a candidate from one rung to the next; it must continue training, not start
again. Each epoch is one ``fit`` call seeded by ``(genome seed, epoch)``, so the shuffling and
dropout of epoch ``e`` do not depend on where a segment began: training 0 -> 3 epochs in one
segment gives bit-identical weights to 0 -> 1 then 1 -> 3 from the saved state. The state is a
plain list (one entry per split of the evaluator) of ``{"weights": [arrays], "optimizer":
{name: array}}``, which checkpoints store in npz files (never pickle).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._checks import int_at_least
from .build import genome_to_model
from .genome import genome_key, genome_seed
from .outcome import CandidateFailed, Outcome

__all__ = ["SegmentEvaluator", "epoch_seed", "segment_evaluator", "train_segment"]


def epoch_seed(seed: int, epoch: int) -> int:
    """The ``fit`` seed of one epoch: a function of the candidate's seed and the epoch only,
    so an epoch shuffles and drops out alike whichever segment it falls in.

    Examples
    --------
    >>> epoch_seed(7, 3) == epoch_seed(7, 3), epoch_seed(7, 3) == epoch_seed(7, 4)
    (True, False)
    """
    return (int(seed) * 1_000_003 + 7919 * int(epoch)) & 0x7FFFFFFF


def _fresh_model(evaluator, genome, seed):
    # Built now (initialised from the model's seed) so a saved state can be put in before fit.
    model = genome_to_model(
        genome, evaluator.input_dim, evaluator.output_dim, evaluator.task, seed=seed
    )
    model.build((None, evaluator.input_dim))
    return model


def _restore(model, fold_state) -> None:
    model.set_weights([np.asarray(w) for w in fold_state["weights"]])
    optimizer_state = {
        name: (int(value) if name == "iterations" else np.asarray(value))
        for name, value in fold_state["optimizer"].items()
    }
    model.optimizer.set_state(optimizer_state, variables=[model.params])


def _snapshot(model) -> dict:
    optimizer_state = model.optimizer.get_state()
    return {
        "weights": [np.array(w, copy=True) for w in model.get_weights()],
        "optimizer": {
            name: (np.asarray(value) if name != "iterations" else int(value))
            for name, value in optimizer_state.items()
        },
    }


def _train_fold(evaluator, genome, train, validation, seed, start, stop, fold_state):
    """One split: epochs ``start..stop-1``; returns (scores dict, new fold state)."""
    model = _fresh_model(evaluator, genome, seed)
    if fold_state is not None:
        _restore(model, fold_state)
    X_train, y_train = evaluator.X[train], evaluator.y[train]
    losses = []
    with warnings.catch_warnings():
        # Divergence is reported through the outcome's reason, not as a warning per candidate.
        warnings.simplefilter("ignore", RuntimeWarning)
        for epoch in range(start, stop):
            history = model.fit(
                X_train,
                y_train,
                epochs=epoch + 1,
                initial_epoch=epoch,
                batch_size=genome["batch_size"],
                verbose=0,
                seed=epoch_seed(seed, epoch),
            )
            losses += history.history.get("loss", [])
            if not losses or not math.isfinite(losses[-1]):
                raise CandidateFailed(
                    getattr(history, "stopped_reason", None)
                    or f"training loss diverged at epoch {epoch + 1}"
                )
        logs = model.evaluate(
            evaluator.X[validation], evaluator.y[validation], verbose=0, return_dict=True
        )
    if not all(math.isfinite(value) for value in logs.values()):
        raise CandidateFailed(f"validation metrics are not finite: {logs}")
    metric = next(value for key, value in logs.items() if key != "loss")
    error = 1.0 - metric if evaluator.task == "classification" else metric
    return {
        "error": float(error),
        "val_loss": float(logs["loss"]),
        "val_metric": float(metric),
    }, _snapshot(model)


def train_segment(evaluator, genome: dict, start: int, stop: int, state=None):
    """Train ``genome`` from epoch ``start`` to ``stop`` on each of ``evaluator.splits()``.

    Parameters
    ----------
    evaluator : Evaluator
        A built-in evaluator (its data, task, splits and seed are used; its epoch budget and
        early stopping are not: the segment's epochs are the budget).
    genome : dict
        The candidate.
    start, stop : int
        Epochs already trained and epochs trained at the end (``0 <= start < stop``).
    state : list or None
        What a previous segment ending at ``start`` returned (None when ``start == 0``).

    Returns
    -------
    (Outcome, list or None)
        The outcome scored on the validation splits after ``stop`` epochs (metrics
        ``val_error``, ``fold_errors``, ``val_loss``, ``val_accuracy``/``val_mse``, ``epochs``,
        ``best_epoch``), and the new state (None when training failed).

    Examples
    --------
    >>> import numpy as np
    >>> from nastoolkit.nas import HoldoutEvaluator, make_genome
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 3)).astype("float32"), np.arange(40) % 2
    >>> evaluator = HoldoutEvaluator(X, y, seed=0)
    >>> genome = make_genome([(4, "relu", 0.0)])
    >>> outcome, state = train_segment(evaluator, genome, 0, 2)
    >>> outcome.metrics["epochs"], len(state)
    (2, 1)
    """
    start = int_at_least("start", start, 0)
    stop = int_at_least("stop", stop, start + 1, "stop must exceed start (epochs to reach).")
    splits = evaluator.splits()
    if (state is None) != (start == 0):
        raise ValueError(
            f"state must be None exactly when start == 0. Received: start={start} "
            f"and {'no state' if state is None else 'a state'}. Pass the state the "
            f"segment ending at epoch {start} returned."
        )
    if state is not None and len(state) != len(splits):
        raise ValueError(f"state holds {len(state)} splits; the evaluator has {len(splits)}.")
    seed = genome_seed(genome_key(genome), evaluator.seed)
    try:
        folds = [
            _train_fold(
                evaluator,
                genome,
                train,
                validation,
                seed + index,
                start,
                stop,
                None if state is None else state[index],
            )
            for index, (train, validation) in enumerate(splits)
        ]
    except Exception as error:  # noqa: BLE001  (any failure is the candidate's, not the search's)
        return Outcome.from_exception(error), None
    errors = [scores["error"] for scores, _ in folds]
    metric_name = "val_accuracy" if evaluator.task == "classification" else "val_mse"
    metrics = {
        "val_error": float(np.mean(errors)),
        "val_error_std": float(np.std(errors)),
        "fold_errors": errors,
        "val_loss": float(np.mean([scores["val_loss"] for scores, _ in folds])),
        metric_name: float(np.mean([scores["val_metric"] for scores, _ in folds])),
        "epochs": stop,
        "best_epoch": stop,
    }
    return Outcome("ok", metrics["val_error"], None, metrics), [fold for _, fold in folds]


class SegmentEvaluator:
    """An evaluator for the parallel maps whose "genome" is a job
    ``{"genome", "start", "stop", "state"}``: it runs :func:`train_segment` and returns its
    Outcome with the new state under ``metrics["_state"]`` (the search takes it out at once, so
    it never reaches a record or a JSON checkpoint).

    Examples
    --------
    >>> import numpy as np
    >>> from nastoolkit.nas import HoldoutEvaluator, make_genome
    >>> X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    >>> segments = SegmentEvaluator(HoldoutEvaluator(X, y))
    >>> job = {"genome": make_genome([(4, "relu", 0.0)]), "start": 0, "stop": 1, "state": None}
    >>> outcome = segments.evaluate(job)
    >>> outcome.metrics["epochs"], "_state" in outcome.metrics
    (1, True)
    """

    def __init__(self, evaluator):
        for name in ("splits", "X", "y", "task", "input_dim", "output_dim", "seed"):
            if not hasattr(evaluator, name):
                raise TypeError(
                    f"evaluator must be a built-in evaluator (HoldoutEvaluator or "
                    f"CrossValidationEvaluator) so candidates can continue "
                    f"training; it lacks {name!r}. Received: "
                    f"{type(evaluator).__name__}"
                )
        self.evaluator = evaluator
        self.timeout = getattr(evaluator, "timeout", None)
        # entries of a job's state (one per split); checkpoints restore that many
        self.folds = len(evaluator.splits())

    def fingerprint(self) -> str:
        return "segments:" + self.evaluator.fingerprint()

    def evaluate(self, job: dict) -> Outcome:
        outcome, state = train_segment(
            self.evaluator, job["genome"], job["start"], job["stop"], job["state"]
        )
        if state is None:
            return outcome
        return Outcome(
            outcome.status, outcome.score, outcome.reason, {**outcome.metrics, "_state": state}
        )

    def __repr__(self) -> str:
        return f"SegmentEvaluator({self.evaluator!r})"


def segment_evaluator(evaluator, max_epochs: int):
    """What trains Hyperband's segments for ``evaluator``: its own ``segment_evaluator(max_epochs)``
    when it has one (a tabular benchmark answers a segment by look-up at the later epoch), else a
    :class:`SegmentEvaluator` that trains.

    Either answers jobs ``{"genome", "start", "stop", "state"}`` with an Outcome whose
    ``metrics["_state"]`` is the state to continue from (a list of ``folds`` entries) and has an
    int attribute ``folds``.

    Examples
    --------
    >>> import numpy as np
    >>> from nastoolkit.nas import HoldoutEvaluator
    >>> X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    >>> segment_evaluator(HoldoutEvaluator(X, y), max_epochs=9).folds
    1
    """
    make = getattr(evaluator, "segment_evaluator", None)
    return make(max_epochs) if callable(make) else SegmentEvaluator(evaluator)
