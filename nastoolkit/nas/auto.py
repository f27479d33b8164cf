"""AutoClassifier / AutoRegressor: AutoKeras-style ``fit(X, y, max_trials=...)`` on top of a
search, then ``predict``, ``evaluate`` and ``export_model()`` like a trained Keras model."""

from __future__ import annotations

import numpy as np

from .._checks import int_at_least, non_negative_int, number_in, positive, positive_int
from .checkpoint import check_checkpoint_target
from .evaluators import CrossValidationEvaluator, HoldoutEvaluator
from .space import SearchSpace
from .strategies import RegularizedEvolution

__all__ = ["AutoClassifier", "AutoRegressor"]


class _AutoModel:
    """Search for an MLP with aging evolution under a trial budget, then retrain the best one on
    all the data. ``folds`` >= 2 scores by cross-validation, else a holdout split.
    ``timeout`` limits each candidate's training (seconds; enforced by the parallel maps);
    ``checkpoint`` saves the search after every generation, refusing to replace an existing file
    unless ``overwrite=True``. Arguments are checked here, the data at :meth:`fit`."""

    task = ""

    def __init__(
        self,
        space: SearchSpace | None = None,
        validation_split=0.2,
        folds=None,
        epochs=20,
        patience=5,
        seed=0,
        workers=None,
        client=None,
        cluster=None,
        progress=True,
        timeout=None,
        checkpoint=None,
        overwrite=False,
    ):
        if space is not None and not isinstance(space, SearchSpace):
            raise TypeError(
                f"space must be a nastoolkit.nas.SearchSpace or None. Received: "
                f"{type(space).__name__}. Build one with SearchSpace(max_layers=...)."
            )
        self.space = space or SearchSpace(
            max_layers=3, units=(16, 32, 64, 128), learning_rate=(1e-4, 3e-2), optimizers=("adam",)
        )
        self.validation_split = number_in(
            "validation_split",
            validation_split,
            0.0,
            1.0,
            low_open=True,
            high_open=True,
            fix="Pass e.g. validation_split=0.2.",
        )
        self.folds = (
            None
            if folds is None
            else int_at_least(
                "folds", folds, 2, "Pass e.g. folds=5, or folds=None for a holdout split."
            )
        )
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
        if workers is not None:
            workers = int_at_least("workers", workers, 1, "Pass e.g. workers=2, or None.")
        for name, flag in (("progress", progress), ("overwrite", overwrite)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False. Received: {name}={flag!r}")
        if checkpoint is not None:
            checkpoint = check_checkpoint_target(checkpoint, overwrite, type(self).__name__)
        self.checkpoint, self.overwrite = checkpoint, overwrite
        self.options = {
            "workers": workers,
            "client": client,
            "cluster": cluster,
            "progress": progress,
            "checkpoint": checkpoint,
            "overwrite": overwrite,
        }
        self.result_ = None
        self.model_ = None

    def fit(self, X, y, max_trials: int = 20, validation_data=None):
        """Evaluate up to ``max_trials`` distinct architectures, keep the best, retrain it on all
        the data (training + validation) and return ``self``. The data is checked before any
        candidate trains (numeric, finite, matching lengths, at least 2 classes, enough samples
        per class for the folds)."""
        max_trials = int_at_least("max_trials", max_trials, 2, "Pass e.g. max_trials=20.")
        if validation_data is not None and self.folds:
            raise ValueError(
                f"validation_data is used by the holdout split only, but this "
                f"{type(self).__name__} has folds={self.folds}. Pass folds=None "
                f"to score on validation_data, or drop validation_data."
            )
        common = {
            "task": self.task,
            "epochs": self.epochs,
            "patience": self.patience,
            "seed": self.seed,
            "timeout": self.timeout,
        }
        if self.folds:
            evaluator = CrossValidationEvaluator(X, y, folds=self.folds, **common)
        else:
            evaluator = HoldoutEvaluator(
                X,
                y,
                validation_split=self.validation_split,
                validation_data=validation_data,
                **common,
            )
        population = max(2, min(10, max_trials // 2))
        search = RegularizedEvolution(
            self.space,
            evaluator,
            population_size=population,
            generations=max(0, max_trials // population - 1),
            sample_size=min(3, population),
            seed=self.seed,
            **self.options,
        )
        self.result_ = search.run()
        self.model_ = self.result_.best_model()
        self._evaluator = evaluator
        return self

    def _require_fit(self, what):
        if self.model_ is None:
            raise RuntimeError(
                f"{type(self).__name__}.{what} needs a fitted model; call "
                f"fit(X, y, max_trials=...) first."
            )

    def export_model(self):
        """The best architecture, trained on all the data, as a compiled ``Sequential``."""
        self._require_fit("export_model")
        return self.model_

    def _raw_predict(self, X):
        from ..backend import to_numpy

        return to_numpy(self.model_.predict(np.asarray(X)))

    def _targets(self, y):
        return np.asarray(y)

    def evaluate(self, X, y):
        """``[loss, metric]`` on (X, y) like ``Sequential.evaluate`` (accuracy / mse)."""
        self._require_fit("evaluate")
        return self.model_.evaluate(np.asarray(X), self._targets(y), verbose=0)

    def __repr__(self) -> str:
        state = "fitted" if self.model_ is not None else "not fitted"
        return f"{type(self).__name__}(epochs={self.epochs}, seed={self.seed}, {state})"


class AutoClassifier(_AutoModel):
    """Search an MLP classifier; labels may be any sortable values (ints, strings).

    Examples
    --------
    >>> import numpy as np
    >>> from nastoolkit.nas import SearchSpace
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20, 3)).astype("float32")
    >>> y = np.where(X[:, 0] > 0, "up", "down")
    >>> auto = AutoClassifier(space=SearchSpace(max_layers=1, units=(8,)), epochs=2,
    ...                       progress=False).fit(X, y, max_trials=2)
    >>> auto.classes_.tolist(), auto.predict(X[:2]).shape, auto.predict_proba(X[:2]).shape
    (['down', 'up'], (2,), (2, 2))
    """

    task = "classification"

    def predict(self, X):
        """Predicted labels, in the label values ``y`` used."""
        self._require_fit("predict")
        return self._evaluator.classes_[self._raw_predict(X).argmax(axis=1)]

    def predict_proba(self, X):
        """Class probabilities, columns ordered as ``classes_``."""
        self._require_fit("predict_proba")
        return self._raw_predict(X)

    @property
    def classes_(self):
        self._require_fit("classes_")
        return self._evaluator.classes_

    def _targets(self, y):
        y = np.asarray(y)
        classes = self._evaluator.classes_
        index = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
        unknown = classes[index] != y
        if unknown.any():
            raise ValueError(
                f"y holds labels not seen in fit: {np.unique(y[unknown])[:5]}. "
                f"Known labels: {classes[:10]}."
            )
        return index


class AutoRegressor(_AutoModel):
    """Search an MLP regressor (mean squared error).

    Examples
    --------
    >>> import numpy as np
    >>> from nastoolkit.nas import SearchSpace
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20, 3)).astype("float32")
    >>> auto = AutoRegressor(space=SearchSpace(max_layers=1, units=(8,)), epochs=2,
    ...                      progress=False).fit(X, 2 * X[:, 0], max_trials=2)
    >>> auto.predict(X[:3]).shape
    (3,)
    """

    task = "regression"

    def predict(self, X):
        """Predictions, shape ``(samples,)`` when fitted on 1-D targets, else ``(samples, k)``."""
        self._require_fit("predict")
        out = self._raw_predict(X)
        return out[:, 0] if self._evaluator.y_original.ndim == 1 else out

    def _targets(self, y):
        y = np.asarray(y, dtype=np.float32)
        return y.reshape(-1, 1) if y.ndim == 1 else y
