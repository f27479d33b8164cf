"""Evaluators: train a genome's network under a fixed budget and score it on held-out data.

An evaluator owns the data, the task, the epoch budget (with early stopping on ``val_loss``) and a
seed. ``evaluate(genome)`` never raises: a candidate whose loss diverges or whose training fails
comes back with ``status="failed"``, its reason and :data:`FAILED_SCORE`, so one bad architecture
never stops a search. Training seeds derive from the genome's key, so the same genome trains the
same way in any process, on any worker, in any order.

The score is the validation *error* (lower is better): ``1 - accuracy`` for classification, the
mean squared error for regression.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._checks import int_at_least, non_negative_int, number_in, positive, positive_int
from .build import check_task, count_parameters, genome_to_model
from .checkpoint import array_fingerprint, decode_array, encode_array
from .genome import genome_key, genome_seed
from .outcome import FAILED_SCORE, CandidateFailed, Outcome

__all__ = [
    "FAILED_SCORE",
    "CrossValidationEvaluator",
    "Evaluator",
    "HoldoutEvaluator",
    "evaluator_from_config",
    "holdout_split",
    "kfold_splits",
]


def _class_order(y, seed):
    """Per-class index lists, each shuffled by ``seed`` (stratification keeps class balance)."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(np.flatnonzero(y == label)) for label in np.unique(y)]


def kfold_splits(y, folds: int, seed: int, stratify: bool) -> list:
    """``folds`` pairs ``(train_indices, validation_indices)`` covering every sample once as
    validation. Stratified: each class is dealt round-robin over the folds, continuing where the
    previous class stopped so fold sizes differ by at most one.

    Parameters
    ----------
    y : array_like
        Targets, shape ``(n,)`` (class labels when ``stratify``).
    folds : int
        Number of folds, >= 2.
    seed : int
        Seed of the shuffle.
    stratify : bool
        Keep class proportions in each fold.

    Returns
    -------
    list of tuple of numpy.ndarray
        ``folds`` pairs of sample indices.

    Examples
    --------
    >>> splits = kfold_splits(np.array([0, 0, 0, 1, 1, 1]), folds=3, seed=0, stratify=True)
    >>> [sorted(validation.tolist()) for _, validation in splits]
    [[2, 5], [0, 4], [1, 3]]
    """
    n = len(y)
    groups = _class_order(y, seed) if stratify else [np.random.default_rng(seed).permutation(n)]
    assignment = np.empty(n, dtype=np.int64)
    offset = 0
    for group in groups:
        assignment[group] = (offset + np.arange(len(group))) % folds
        offset += len(group)
    everything = np.arange(n)
    return [
        (everything[assignment != fold], everything[assignment == fold]) for fold in range(folds)
    ]


def holdout_split(y, validation_split: float, seed: int, stratify: bool) -> tuple:
    """One ``(train_indices, validation_indices)`` pair holding out ``validation_split`` of the
    samples (of each class, when stratified).

    Parameters
    ----------
    y : array_like
        Targets, shape ``(n,)`` (class labels when ``stratify``).
    validation_split : float
        The fraction held out, in (0, 1).
    seed : int
        Seed of the shuffle.
    stratify : bool
        Keep class proportions in both parts.

    Returns
    -------
    tuple of numpy.ndarray
        ``(train_indices, validation_indices)``.

    Examples
    --------
    >>> holdout_split(np.array([0, 0, 0, 1, 1, 1]), 1 / 3, seed=0, stratify=True)
    (array([0, 1, 3, 4]), array([2, 5]))
    """
    groups = (
        _class_order(y, seed) if stratify else [np.random.default_rng(seed).permutation(len(y))]
    )
    held = [group[: round(validation_split * len(group))] for group in groups]
    validation = np.sort(np.concatenate(held))
    train = np.setdiff1d(np.arange(len(y)), validation)
    return train, validation


def _check_features(name: str, X, minimum: int = 2) -> np.ndarray:
    """``X`` as a 2-D numeric, finite array of at least ``minimum`` samples."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold numbers. Received: dtype {X.dtype}. Encode text or "
            f"categories as numbers first (e.g. one-hot columns)."
        )
    if X.ndim != 2 or len(X) < minimum:
        raise ValueError(
            f"{name} must be a 2-D array (samples, features) with at least "
            f"{minimum} samples. Received: shape {X.shape}. Reshape with "
            f"{name}.reshape(len({name}), -1)."
        )
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        rows = np.flatnonzero(~np.isfinite(X).all(axis=1))
        raise ValueError(
            f"{name} must be finite. Received: NaN or inf in {len(rows)} rows "
            f"(first: row {rows[0]}). Drop or impute those rows first."
        )
    return X


def _check_targets(name: str, y, task: str, samples: int, x_name: str) -> np.ndarray:
    """``y`` checked for ``task``: one entry per sample, finite numbers for regression, 1-D
    sortable labels without NaN for classification."""
    y = np.asarray(y)
    if y.ndim == 0 or len(y) != samples:
        count = "a scalar" if y.ndim == 0 else f"{len(y)}"
        raise ValueError(
            f"{x_name} and {name} must have the same number of samples. Received: "
            f"{samples} rows in {x_name} and {count} in {name}."
        )
    if task == "regression":
        if y.dtype.kind not in "biuf":
            raise TypeError(
                f"regression targets {name} must be numbers. Received: dtype "
                f"{y.dtype}. For labels use task='classification'."
            )
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError(
                f"{name} must be finite. Received: "
                f"{int((~np.isfinite(y)).sum())} NaN or inf values. Drop or impute "
                f"those samples first."
            )
        return y
    if y.ndim != 1:
        raise ValueError(
            f"classification labels {name} must be 1-D (one label per sample). "
            f"Received: shape {y.shape}. For one-hot {name} use "
            f"{name}.argmax(axis=1)."
        )
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(
            f"classification labels {name} must not be NaN or inf. Received: "
            f"{int((~np.isfinite(y)).sum())} such labels. Drop those samples."
        )
    try:
        np.unique(y)
    except TypeError:
        raise TypeError(
            f"classification labels {name} must be of one sortable kind (all "
            f"numbers or all strings). Received: dtype {y.dtype} with mixed "
            f"values."
        ) from None
    return y


def _check_validation_data(validation_data, X, task: str) -> tuple:
    """``validation_data`` as checked ``(X_val, y_val)`` arrays matching ``X``'s features."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise TypeError(
            f"validation_data must be a pair (X_val, y_val). Received: "
            f"{type(validation_data).__name__} {validation_data!r:.60}"
        )
    X_val = _check_features("X_val", validation_data[0], minimum=1)
    y_val = _check_targets("y_val", validation_data[1], task, len(X_val), "X_val")
    features = np.shape(X)[1:] if np.ndim(X) == 2 else None
    if features is not None and X_val.shape[1:] != features:
        raise ValueError(
            f"X_val must have the {features[0]} features of X. Received: {X_val.shape[1]} features."
        )
    return X_val, y_val


def _check_data(X, y, task: str) -> tuple:
    X = _check_features("X", X)
    y = _check_targets("y", y, task, len(X), "X")
    if task == "classification":
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"y holds a single class ({classes[0]!r}); classification needs "
                f"at least 2 classes. For numeric targets use task='regression'."
            )
    return X, y


class Evaluator:
    """Data, task, epoch budget and seed shared by the holdout and cross-validation evaluators.

    Subclasses only say how the data is split (:meth:`splits`) and how they are configured.
    The data is checked here, before any candidate trains: ``X`` numeric, 2-D and finite, one
    target per sample, finite numbers for regression, at least 2 classes for classification.
    ``timeout`` (seconds per candidate, or None) is kept as ``evaluator.timeout`` for the
    parallel maps, which record a candidate past it as failed; it is not part of the
    :meth:`fingerprint`.

    ``population=True`` (the default) trains candidates in the compiled engine
    (``nastoolkit.engine.fit_population``): :meth:`evaluate_population` trains a generation's
    candidates, every fold of each, with each epoch of all of them in one compiled call, and
    :meth:`evaluate` is a population of one, so a candidate's outcome is the same whichever
    candidates train beside it (serial, pool and Dask results stay identical). Each candidate
    ends exactly as ``fit`` through the engine (its default path) leaves it, which agrees with
    the NumPy path to float32 rounding. A candidate that ``fit`` would not train in the engine
    (see ``nastoolkit.engine.fit_reason``: no compiled form or compiler, GPU parameters, a step
    too large for the engine to pay, ``NASTOOLKIT_FIT_ENGINE=0`` or ``engine.numpy_path()``)
    trains alone through ``Sequential.fit``, as does every candidate with ``population=False``. The setting is part of
    the :meth:`fingerprint`: cached results of one are not reused by the other.

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20, 4)).astype("float32")
    >>> y = (X[:, 0] > 0).astype(int)
    >>> evaluator = HoldoutEvaluator(X, y, epochs=2, seed=0)
    >>> isinstance(evaluator, Evaluator), evaluator.timeout
    (True, None)
    """

    def __init__(
        self,
        X,
        y,
        task="classification",
        epochs=20,
        patience=5,
        seed=0,
        timeout=None,
        population=True,
    ):
        check_task(task)
        self.population = bool(population)
        X, y = _check_data(X, y, task)
        self.epochs = positive_int("epochs", epochs, "Pass e.g. epochs=20.")
        self.patience = non_negative_int("patience", patience, "Pass e.g. patience=5.")
        self.seed = non_negative_int("seed", seed, "Pass e.g. seed=0.")
        self.timeout = (
            None
            if timeout is None
            else positive(
                "timeout", timeout, "Give seconds per candidate (e.g. timeout=60), or None."
            )
        )
        self.X, self.y_original = X, y
        self.task = task
        self.input_dim = X.shape[1]
        if task == "classification":
            self.classes_, self.y = np.unique(y, return_inverse=True)
            self.output_dim = len(self.classes_)
        else:
            self.classes_ = None
            self.y = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(np.float32)
            self.output_dim = self.y.shape[1]

    # -- what subclasses define -----------------------------------------------------------------
    def splits(self) -> list:
        """``[(train_indices, validation_indices), ...]``; one pair for holdout, k for k-fold."""
        raise NotImplementedError

    def _split_config(self) -> dict:
        raise NotImplementedError

    # -- identity -------------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """Hash of the data, task, budget, seed and split scheme: the cache and checkpoints only
        reuse results whose fingerprints match."""
        settings = (
            f"{type(self).__name__}|{self.task}|{self.epochs}|{self.patience}|{self.seed}|"
            f"{sorted(self._split_config().items())}" + ("|population" if self.population else "")
        )
        settings_bytes = np.frombuffer(settings.encode(), np.uint8)
        return array_fingerprint(self.X, self.y_original, settings_bytes)

    def get_config(self, include_data: bool = True) -> dict:
        """JSON-ready description that :func:`evaluator_from_config` rebuilds (data included, as
        exact base64 bytes, unless ``include_data=False``)."""
        config = {
            "class": type(self).__name__,
            "task": self.task,
            "epochs": self.epochs,
            "patience": self.patience,
            "seed": self.seed,
            "timeout": self.timeout,
            "population": self.population,
            **self._split_config(),
        }
        if include_data:
            config["X"], config["y"] = encode_array(self.X), encode_array(self.y_original)
        return config

    # -- training -------------------------------------------------------------------------------
    def _train(self, genome, train, validation, seed, epochs=None):
        """Fit one model; returns (model, history). Early stopping restores the best weights."""
        from ..callbacks import EarlyStopping

        model = genome_to_model(genome, self.input_dim, self.output_dim, self.task)
        callbacks = []
        if validation is not None:
            callbacks.append(
                EarlyStopping(monitor="val_loss", patience=self.patience, restore_best_weights=True)
            )
        validation_data = None if validation is None else (self.X[validation], self.y[validation])
        with warnings.catch_warnings():
            # Divergence is reported through the record's reason, not as a warning per candidate.
            warnings.simplefilter("ignore", RuntimeWarning)
            history = model.fit(
                self.X[train],
                self.y[train],
                epochs=epochs or self.epochs,
                batch_size=genome["batch_size"],
                validation_data=validation_data,
                callbacks=callbacks,
                verbose=0,
                seed=seed,
            )
        return model, history

    def _score_fold(self, genome, train, validation, seed) -> dict:
        model, history = self._train(genome, train, validation, seed)
        return self._score(model, history, validation)

    def _score(self, model, history, validation) -> dict:
        """A trained fold's scores; CandidateFailed when its training or metrics diverged."""
        losses = history.history.get("loss", [])
        if not losses or not all(math.isfinite(value) for value in losses):
            # fit records why it stopped (early stopping also leaves a reason, hence the check)
            raise CandidateFailed(
                getattr(history, "stopped_reason", None) or f"training loss diverged: {losses[-3:]}"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            logs = model.evaluate(
                self.X[validation], self.y[validation], verbose=0, return_dict=True
            )
        if not all(math.isfinite(value) for value in logs.values()):
            raise CandidateFailed(f"validation metrics are not finite: {logs}")
        metric = next(value for key, value in logs.items() if key != "loss")
        error = 1.0 - metric if self.task == "classification" else metric
        val_losses = history.history.get("val_loss", [logs["loss"]])
        return {
            "error": float(error),
            "val_loss": float(logs["loss"]),
            "val_metric": float(metric),
            "epochs": len(losses),
            "best_epoch": int(np.nanargmin(val_losses)) + 1,
        }

    def _outcome(self, folds: list) -> Outcome:
        errors = [fold["error"] for fold in folds]
        metric_name = "val_accuracy" if self.task == "classification" else "val_mse"
        metrics = {
            "val_error": float(np.mean(errors)),
            "val_error_std": float(np.std(errors)),
            "fold_errors": errors,
            "val_loss": float(np.mean([fold["val_loss"] for fold in folds])),
            metric_name: float(np.mean([fold["val_metric"] for fold in folds])),
            "epochs": float(np.mean([fold["epochs"] for fold in folds])),
            "best_epoch": round(float(np.median([fold["best_epoch"] for fold in folds]))),
        }
        return Outcome("ok", metrics["val_error"], None, metrics)

    def evaluate(self, genome: dict) -> Outcome:
        """Train and score ``genome`` on every split; never raises.

        Returns an :class:`~nastoolkit.nas.outcome.Outcome` whose ``score`` is the mean
        validation error over splits (or :data:`FAILED_SCORE` with the ``reason`` when training
        failed), whose ``metrics`` hold ``val_error``, ``val_error_std``, ``fold_errors``,
        ``val_loss``, ``val_accuracy`` or ``val_mse``, ``epochs`` and ``best_epoch``. Its
        ``seconds`` stay 0: the map that runs it measures the time (``Outcome.with_seconds``).
        With ``population=True`` this is ``evaluate_population([genome])[0]``.
        """
        if self.population:
            return self.evaluate_population([genome])[0]
        return self._evaluate_alone(genome)

    def _evaluate_alone(self, genome: dict) -> Outcome:
        """``genome`` trained through ``Sequential.fit``, fold after fold."""
        seed = genome_seed(genome_key(genome), self.seed)
        try:
            folds = [
                self._score_fold(genome, train, validation, seed + index)
                for index, (train, validation) in enumerate(self.splits())
            ]
        except Exception as error:  # noqa: BLE001  (any failure is the candidate's, not the search's)
            return Outcome.from_exception(error)
        return self._outcome(folds)

    def evaluate_population(self, genomes: list) -> list:
        """The outcome of each genome (as :meth:`evaluate` gives it), training them together.

        With ``population=True``, every fold of every genome the engine supports trains in one
        ``nastoolkit.engine.fit_population`` call (each with its own seed, batch order and
        early stopping; one compiled call per epoch for all); the others train alone, as do
        all of them in a subclass that overrides ``_train`` or ``_score_fold``. Never raises;
        a failure is the failing genome's outcome only.

        Parameters
        ----------
        genomes : list of dict
            The candidates.

        Returns
        -------
        list of Outcome
            One per genome, in order.

        Examples
        --------
        >>> from nastoolkit.nas import make_genome
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((40, 4)).astype("float32")
        >>> y = (X[:, 0] > 0).astype(int)
        >>> evaluator = HoldoutEvaluator(X, y, epochs=2, seed=0)
        >>> genomes = [make_genome([(8, "relu", 0.0)]), make_genome([(4, "tanh", 0.1)])]
        >>> together = evaluator.evaluate_population(genomes)
        >>> [outcome.score for outcome in together] == [
        ...     evaluator.evaluate(genome).score for genome in genomes]
        True
        """
        genomes = list(genomes)
        if not self.population or self._trains_its_own_way():
            return [self._evaluate_alone(genome) for genome in genomes]
        outcomes, jobs = [None] * len(genomes), {}
        for index, genome in enumerate(genomes):
            try:
                jobs[index] = self._fit_jobs(genome)
            except Exception as error:  # noqa: BLE001  (the candidate's failure)
                outcomes[index] = Outcome.from_exception(error)
            else:
                if jobs[index] is None:  # the engine cannot train it
                    outcomes[index] = self._evaluate_alone(genome)
                    del jobs[index]
        histories = self._fit_together(jobs, genomes, outcomes)
        validations = [validation for _, validation in self.splits()]
        for index, fold_jobs in jobs.items():
            if outcomes[index] is not None:
                continue
            try:
                folds = [
                    self._score(job.model, history, validation)
                    for job, history, validation in zip(fold_jobs, histories[index], validations)
                ]
                outcomes[index] = self._outcome(folds)
            except Exception as error:  # noqa: BLE001
                outcomes[index] = Outcome.from_exception(error)
        return outcomes

    def _trains_its_own_way(self) -> bool:
        """A subclass that overrides how a fold trains keeps that: its candidates train alone."""
        cls = type(self)
        return cls._train is not Evaluator._train or cls._score_fold is not Evaluator._score_fold

    def _fit_jobs(self, genome: dict):
        """``genome``'s fits, one per split, as :meth:`_train` would run them; None when the
        engine cannot train its network."""
        from ..callbacks import EarlyStopping
        from ..engine import FitJob, fit_reason

        seed = genome_seed(genome_key(genome), self.seed)
        jobs = []
        for index, (train, validation) in enumerate(self.splits()):
            model = genome_to_model(genome, self.input_dim, self.output_dim, self.task)
            if not model.built:
                model.build((None, self.input_dim))
            if fit_reason(model, genome["batch_size"]) is not None:
                return None  # as fit would: the NumPy path when asked for, or faster
            stopping = EarlyStopping(
                monitor="val_loss", patience=self.patience, restore_best_weights=True
            )
            validation_data = (self.X[validation], self.y[validation])
            jobs.append(
                FitJob(
                    model, train, genome["batch_size"], seed + index, validation_data, [stopping]
                )
            )
        return jobs

    def _fit_together(self, jobs: dict, genomes: list, outcomes: list) -> dict:
        """Each genome's fold histories, all ``jobs`` (genome index -> its fits) trained as one
        population; should that raise, each genome trains again by itself, and a genome that
        still raises gets its failed outcome."""
        from ..engine import fit_population

        def fit(fits):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return fit_population(fits, self.X, self.y, self.epochs)

        try:
            flat = fit([job for fold_jobs in jobs.values() for job in fold_jobs])
        except Exception:  # noqa: BLE001  (find the failing candidate)
            histories = {}
            for index in list(jobs):
                try:
                    jobs[index] = self._fit_jobs(genomes[index])  # fresh, untrained models
                    histories[index] = fit(jobs[index])
                except Exception as error:  # noqa: BLE001
                    outcomes[index] = Outcome.from_exception(error)
            return histories
        histories, start = {}, 0
        for index, fold_jobs in jobs.items():
            histories[index] = flat[start : start + len(fold_jobs)]
            start += len(fold_jobs)
        return histories

    def count_parameters(self, genome: dict) -> int:
        """Weights and biases of ``genome``'s network on this data."""
        return count_parameters(genome, self.input_dim, self.output_dim)

    def fit_final(self, genome: dict, epochs: int | None = None):
        """Retrain ``genome`` on all the data for ``epochs`` (default: the evaluator's budget) and
        return the compiled, trained ``Sequential``. Seeded like :meth:`evaluate`."""
        seed = genome_seed(genome_key(genome), self.seed)
        model, _ = self._train(genome, np.arange(len(self.X)), None, seed, epochs=epochs)
        return model

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self._split_config().items())
        return (
            f"{type(self).__name__}(samples={len(self.X)}, features={self.input_dim}, "
            f"task={self.task!r}, {settings}, epochs={self.epochs}, "
            f"patience={self.patience}, seed={self.seed}"
            + (f", timeout={self.timeout:g}" if self.timeout is not None else "")
            + ("" if self.population else ", population=False")
            + ")"
        )


class HoldoutEvaluator(Evaluator):
    """Score on one held-out validation split: ``validation_split`` of the data (stratified for
    classification), or an explicit ``validation_data=(X_val, y_val)``.

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20, 4)).astype("float32")
    >>> y = (X[:, 0] > 0).astype(int)
    >>> evaluator = HoldoutEvaluator(X, y, validation_split=0.2, epochs=2, seed=0)
    >>> outcome = evaluator.evaluate(make_genome([(8, "relu", 0.0)]))
    >>> outcome.status, 0.0 <= outcome.score <= 1.0, len(outcome.metrics["fold_errors"])
    ('ok', True, 1)
    """

    def __init__(
        self,
        X,
        y,
        task="classification",
        validation_split=0.2,
        validation_data=None,
        epochs=20,
        patience=5,
        seed=0,
        timeout=None,
        population=True,
    ):
        self.validation_size = None
        if validation_data is not None:
            X_val, y_val = _check_validation_data(validation_data, X, task)
            self.validation_size = len(X_val)
            X = np.concatenate([np.asarray(X), X_val])
            y = np.concatenate([np.asarray(y), y_val])
        else:
            number_in(
                "validation_split",
                validation_split,
                0.0,
                1.0,
                low_open=True,
                high_open=True,
                fix="Pass e.g. 0.2, or validation_data=(X_val, y_val).",
            )
        self.validation_split = float(validation_split)
        super().__init__(
            X,
            y,
            task=task,
            epochs=epochs,
            patience=patience,
            seed=seed,
            timeout=timeout,
            population=population,
        )
        if self.validation_size is not None:
            n = len(self.X)
            cut = n - self.validation_size
            self._splits = [(np.arange(cut), np.arange(cut, n))]
        else:
            labels = self.y_original if task == "classification" else self.y[:, 0]
            self._splits = [
                holdout_split(
                    labels, self.validation_split, self.seed, stratify=task == "classification"
                )
            ]
        if len(self._splits[0][1]) == 0 or len(self._splits[0][0]) == 0:
            raise ValueError(
                f"validation_split={validation_split} leaves an empty split of "
                f"{len(self.X)} samples; use more data or another split."
            )

    def splits(self) -> list:
        return self._splits

    def _split_config(self) -> dict:
        return {"validation_split": self.validation_split, "validation_size": self.validation_size}


class CrossValidationEvaluator(Evaluator):
    """Score as the mean validation error over ``folds`` folds (stratified for classification);
    the standard deviation over folds is kept in the metrics.

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20, 4)).astype("float32")
    >>> y = (X[:, 0] > 0).astype(int)
    >>> evaluator = CrossValidationEvaluator(X, y, folds=2, epochs=2, seed=0)
    >>> outcome = evaluator.evaluate(make_genome([(8, "relu", 0.0)]))
    >>> outcome.status, len(outcome.metrics["fold_errors"])
    ('ok', 2)
    """

    def __init__(
        self,
        X,
        y,
        task="classification",
        folds=5,
        epochs=20,
        patience=5,
        seed=0,
        timeout=None,
        population=True,
    ):
        folds = int_at_least("folds", folds, 2, "For a single split use HoldoutEvaluator.")
        super().__init__(
            X,
            y,
            task=task,
            epochs=epochs,
            patience=patience,
            seed=seed,
            timeout=timeout,
            population=population,
        )
        if folds > len(self.X):
            raise ValueError(f"folds={folds} exceeds the {len(self.X)} samples; use fewer folds.")
        if task == "classification":
            counts = np.bincount(self.y, minlength=self.output_dim)
            smallest = int(counts.argmin())
            if counts[smallest] < folds:
                raise ValueError(
                    f"class {self.classes_[smallest].tolist()!r} has {counts[smallest]} samples, fewer "
                    f"than folds={folds}: every validation fold needs each class. Use "
                    f"folds={max(2, int(counts[smallest]))} or fewer, or more data."
                )
        self.folds = folds
        labels = self.y_original if task == "classification" else self.y[:, 0]
        self._splits = kfold_splits(
            labels, self.folds, self.seed, stratify=task == "classification"
        )

    def splits(self) -> list:
        return self._splits

    def _split_config(self) -> dict:
        return {"folds": self.folds}


_EVALUATORS = {
    "HoldoutEvaluator": HoldoutEvaluator,
    "CrossValidationEvaluator": CrossValidationEvaluator,
}


def evaluator_from_config(config: dict) -> Evaluator:
    """Rebuild an evaluator from ``get_config()`` output (which must include the data).

    Parameters
    ----------
    config : dict
        An evaluator's ``get_config()``.

    Returns
    -------
    Evaluator
        Of the class the config names.

    Examples
    --------
    >>> from nastoolkit.nas import make_genome
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20, 4)).astype("float32")
    >>> y = (X[:, 0] > 0).astype(int)
    >>> evaluator = HoldoutEvaluator(X, y, epochs=2, seed=0)
    >>> copy = evaluator_from_config(evaluator.get_config())
    >>> type(copy).__name__, copy.fingerprint() == evaluator.fingerprint()
    ('HoldoutEvaluator', True)
    """
    kind = config.get("class")
    if kind not in _EVALUATORS or "X" not in config:
        raise ValueError(
            f"cannot rebuild evaluator {kind!r} from its config (known: "
            f"{sorted(_EVALUATORS)}, data included: {'X' in config}). Pass the "
            f"evaluator explicitly: resume(path, evaluator=...)."
        )
    X, y = decode_array(config["X"]), decode_array(config["y"])
    common = {
        "task": config["task"],
        "epochs": config["epochs"],
        "patience": config["patience"],
        "seed": config["seed"],
        "timeout": config.get("timeout"),
        # a config without the key predates population training: its results came from fit
        "population": config.get("population", False),
    }
    if kind == "CrossValidationEvaluator":
        return CrossValidationEvaluator(X, y, folds=config["folds"], **common)
    size = config.get("validation_size")
    if size:
        return HoldoutEvaluator(
            X[:-size], y[:-size], validation_data=(X[-size:], y[-size:]), **common
        )
    return HoldoutEvaluator(X, y, validation_split=config["validation_split"], **common)
