"""TabularEvaluator: a drop-in evaluator that answers from a table instead of training."""

from __future__ import annotations

from ..._checks import int_at_least, non_negative_int
from ..genome import GenomeError
from ..outcome import Outcome
from .table import CURVES, NASBenchMLP

__all__ = ["TabularEvaluator", "TabularSegments", "replay_early_stopping"]


def replay_early_stopping(val_loss, epochs: int, patience: int | None) -> tuple[int, int]:
    """``(epochs trained, best epoch)`` (both 1-based) that ``EarlyStopping(monitor="val_loss",
    patience=patience, restore_best_weights=True)`` gives on the curve ``val_loss`` within
    ``epochs``; ``patience=None`` never stops early (the best epoch is still restored).

    >>> replay_early_stopping([3.0, 2.0, 2.5, 2.6, 2.7], epochs=5, patience=2)
    (4, 2)
    """
    best, best_epoch, wait = None, 0, 0
    for epoch in range(epochs):
        value = val_loss[epoch]
        wait += 1
        if best is None or value < best:
            best, best_epoch, wait = value, epoch, 0
            continue
        if patience is not None and wait >= patience and epoch > 0:
            return epoch + 1, best_epoch + 1
    return epochs, best_epoch + 1


class TabularEvaluator:
    """Score genomes by table look-up, exactly as :class:`~nastoolkit.nas.HoldoutEvaluator`
    would score them by training on the table's data with the same settings.

    The score is the validation error after early stopping on ``val_loss`` with ``patience``,
    with the best epoch's weights restored (as ``HoldoutEvaluator``), replayed from the recorded
    curves. The outcome's ``seconds`` and ``metrics["cost"]`` are the recorded training seconds
    up to the epoch training stopped at; ``metrics["test_error"]`` is the test error at the
    restored epoch (for regret; strategies never look at it). :class:`~nastoolkit.nas.Hyperband`
    asks :meth:`segment_evaluator` for look-ups at its rungs' epochs instead.

    Parameters
    ----------
    bench : NASBenchMLP
        The table.
    epochs : int, optional
        Epoch budget (default: all the table holds).
    patience : int or None
        Early-stopping patience (None: train all ``epochs``, restore the best epoch).
    seed : int
        Which of the table's training seeds answers.
    timeout : None
        Accepted for interface parity with the other evaluators (look-ups never time out).

    Examples
    --------
    >>> bench = NASBenchMLP.load("digits")
    >>> evaluator = TabularEvaluator(bench, epochs=10)
    >>> genome = bench.space.genome([(16, "tanh")], bench.space.learning_rates[1])
    >>> outcome = evaluator.evaluate(genome)
    >>> outcome.ok and outcome.seconds > 0
    True
    """

    def __init__(self, bench: NASBenchMLP, epochs=None, patience=5, seed=0, timeout=None):
        if not isinstance(bench, NASBenchMLP):
            raise TypeError(
                f"bench must be a NASBenchMLP (NASBenchMLP.load('digits')). "
                f"Received: {type(bench).__name__}"
            )
        self.bench = bench
        self.epochs = bench.epochs if epochs is None else bench.check_epochs(epochs)
        self.patience = (
            None
            if patience is None
            else non_negative_int(
                "patience", patience, "Pass e.g. patience=5, or None for no early stopping."
            )
        )
        bench.seed_index(seed)
        self.seed = seed
        self.timeout = None
        self.task = bench.task
        self.input_dim, self.output_dim = bench.input_dim, bench.output_dim
        self.space = bench.space
        self.calls = 0

    def lookup(self, genome) -> dict:
        """The numbers :meth:`evaluate` reports, as a dict (raises GenomeError outside the
        table's space)."""
        architecture, rate = self.bench.index(genome)
        where = (architecture, rate, self.bench.seed_index(self.seed))
        arrays = self.bench.arrays
        trained, best = replay_early_stopping(arrays["val_loss"][where], self.epochs, self.patience)
        return {
            "val_error": float(arrays["val_error"][where][best - 1]),
            "test_error": float(arrays["test_error"][where][best - 1]),
            "val_loss": float(arrays["val_loss"][where][best - 1]),
            "train_loss": float(arrays["train_loss"][where][trained - 1]),
            "cost": float(arrays["seconds"][where][trained - 1]),
            "epochs": float(trained),
            "best_epoch": best,
            "params": int(arrays["params"][architecture]),
        }

    def evaluate(self, genome) -> Outcome:
        """The table's outcome for ``genome``; a genome outside the space is a failed outcome
        naming the gene (use :meth:`lookup` to get the GenomeError raised)."""
        self.calls += 1
        try:
            metrics = self.lookup(genome)
        except GenomeError as error:
            return Outcome.failure(str(error))
        return Outcome("ok", metrics["val_error"], None, metrics, metrics["cost"])

    def segment_evaluator(self, max_epochs: int) -> TabularSegments:
        """What :class:`~nastoolkit.nas.Hyperband` trains its segments with on this table:
        look-ups at each rung's epoch (``max_epochs`` at most the table's epochs).

        Examples
        --------
        >>> bench = NASBenchMLP.load("digits")
        >>> TabularEvaluator(bench).segment_evaluator(max_epochs=27)
        TabularSegments('digits', seed=0, max_epochs=27)
        """
        return TabularSegments(self.bench, self.seed, max_epochs)

    def fit_final(self, genome, epochs=None):
        """Train ``genome`` for real on the table's training and validation data (as
        ``HoldoutEvaluator.fit_final`` with the same settings), so ``result.best_model()`` works
        after a search on the table. Returns the trained ``Sequential``."""
        from ..evaluators import HoldoutEvaluator
        from .build import load_dataset

        self.bench.index(genome)
        data = load_dataset(self.bench.dataset["name"])
        holdout = HoldoutEvaluator(
            *data["train"],
            task=self.task,
            validation_data=data["val"],
            epochs=self.epochs,
            seed=self.seed,
        )
        return holdout.fit_final(genome, epochs=epochs)

    def count_parameters(self, genome) -> int:
        """Weights and biases of ``genome``'s network (from the table)."""
        architecture, _ = self.bench.index(genome)
        return int(self.bench.arrays["params"][architecture])

    def fingerprint(self) -> str:
        """The table's content hash with the evaluator's settings."""
        return (
            f"TabularEvaluator|{self.bench.content_hash}|{self.epochs}|{self.patience}|{self.seed}"
        )

    def get_config(self, include_data: bool = False) -> dict:
        """JSON-ready settings (the table is named by its path and hash)."""
        return {
            "class": "TabularEvaluator",
            "table": self.bench.path,
            "content_hash": self.bench.content_hash,
            "epochs": self.epochs,
            "patience": self.patience,
            "seed": self.seed,
        }

    def __repr__(self) -> str:
        return (
            f"TabularEvaluator({self.bench.dataset['name']!r}, epochs={self.epochs}, "
            f"patience={self.patience}, seed={self.seed})"
        )


class TabularSegments:
    """Hyperband's segments on a table: a job ``{"genome", "start", "stop", "state"}`` is the
    look-up of epoch ``stop`` (no early stopping: a rung is scored where it stopped, as
    :func:`~nastoolkit.nas.continuation.train_segment` scores it), and it costs the recorded
    seconds from epoch ``start`` to ``stop`` only: continuing a promoted candidate is paid
    for its new epochs, as continuing real training is. Nothing needs to be kept between
    segments, so the state is an empty list.

    Parameters
    ----------
    bench : NASBenchMLP
        The table.
    seed : int
        Which of the table's training seeds answers.
    max_epochs : int
        Hyperband's ``R``: at most the table's epochs.

    Examples
    --------
    >>> bench = NASBenchMLP.load("digits")
    >>> segments = TabularSegments(bench, seed=0, max_epochs=9)
    >>> genome = bench.space.genome([(16, "tanh")], bench.space.learning_rates[1])
    >>> first = segments.evaluate({"genome": genome, "start": 0, "stop": 3, "state": None})
    >>> later = segments.evaluate({"genome": genome, "start": 3, "stop": 9, "state": []})
    >>> later.score == bench.query(genome, epochs=9).val_error
    True
    >>> abs(first.metrics["cost"] + later.metrics["cost"] - bench.query(genome, 9).seconds) < 1e-6
    True
    """

    folds = 0  # a job's state holds nothing to restore

    def __init__(self, bench: NASBenchMLP, seed: int, max_epochs: int):
        self.bench = bench
        bench.seed_index(seed)
        self.seed = seed
        max_epochs = int_at_least("max_epochs", max_epochs, 1, "Pass e.g. max_epochs=27.")
        if max_epochs > bench.epochs:
            raise ValueError(
                f"max_epochs must be at most the {bench.epochs} epochs the table "
                f"{bench.dataset['name']!r} records (Hyperband looks each rung up at its "
                f"epoch). Received: max_epochs={max_epochs}. Pass max_epochs<={bench.epochs}, "
                f"or build a table with more epochs (nastoolkit bench build --epochs ...)."
            )
        self.max_epochs = max_epochs
        self.timeout = None

    def lookup(self, genome, start: int, stop: int) -> dict:
        """The numbers of the segment ``start -> stop`` of ``genome`` (GenomeError outside the
        table's space)."""
        if not 0 <= start < stop <= self.max_epochs:
            raise ValueError(
                f"a segment needs 0 <= start < stop <= max_epochs={self.max_epochs}. "
                f"Received: start={start}, stop={stop}"
            )
        architecture, rate = self.bench.index(genome)
        where = (architecture, rate, self.bench.seed_index(self.seed))
        curve = {name: self.bench.arrays[name][where] for name in CURVES}
        before = float(curve["seconds"][start - 1]) if start else 0.0
        return {
            "val_error": float(curve["val_error"][stop - 1]),
            "test_error": float(curve["test_error"][stop - 1]),
            "val_loss": float(curve["val_loss"][stop - 1]),
            "train_loss": float(curve["train_loss"][stop - 1]),
            "cost": float(curve["seconds"][stop - 1]) - before,
            "epochs": stop,
            "best_epoch": stop,
            "params": int(self.bench.arrays["params"][architecture]),
        }

    def evaluate(self, job: dict) -> Outcome:
        """The segment's Outcome (score: validation error at ``stop``); a genome outside the
        table is a failed outcome naming the gene."""
        try:
            metrics = self.lookup(job["genome"], int(job["start"]), int(job["stop"]))
        except GenomeError as error:
            return Outcome.failure(str(error))
        return Outcome("ok", metrics["val_error"], None, {**metrics, "_state": []}, metrics["cost"])

    def fingerprint(self) -> str:
        return f"segments:TabularEvaluator|{self.bench.content_hash}|{self.seed}"

    def __repr__(self) -> str:
        return (
            f"TabularSegments({self.bench.dataset['name']!r}, seed={self.seed}, "
            f"max_epochs={self.max_epochs})"
        )
