"""AutoClassifier / AutoRegressor: AutoKeras-style ``fit(X, y, max_trials=...)`` on top of a
search, then ``predict``, ``evaluate`` and ``export_model()`` like a trained Keras model."""

from __future__ import annotations

import numpy as np

from .evaluators import CrossValidationEvaluator, HoldoutEvaluator
from .space import SearchSpace
from .strategies import RegularizedEvolution

__all__ = ["AutoClassifier", "AutoRegressor"]


class _AutoModel:
    """Search for an MLP with aging evolution under a trial budget, then retrain the best one on
    all the data. ``folds`` >= 2 scores by cross-validation, else a holdout split."""

    task = ""

    def __init__(self, space: SearchSpace | None = None, validation_split=0.2, folds=None,
                 epochs=20, patience=5, seed=0, workers=None, client=None, cluster=None,
                 progress=True):
        self.space = space or SearchSpace(max_layers=3, units=(16, 32, 64, 128),
                                          learning_rate=(1e-4, 3e-2), optimizers=("adam",))
        self.validation_split, self.folds = validation_split, folds
        self.epochs, self.patience, self.seed = epochs, patience, seed
        self.options = {"workers": workers, "client": client, "cluster": cluster,
                        "progress": progress}
        self.result_ = None
        self.model_ = None

    def fit(self, X, y, max_trials: int = 20, validation_data=None):
        """Evaluate up to ``max_trials`` distinct architectures, keep the best, retrain it on all
        the data (training + validation) and return ``self``."""
        if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 2:
            raise ValueError(f"max_trials must be an integer >= 2. Received: "
                             f"max_trials={max_trials!r}")
        common = {"task": self.task, "epochs": self.epochs, "patience": self.patience,
                  "seed": self.seed}
        if self.folds:
            evaluator = CrossValidationEvaluator(X, y, folds=self.folds, **common)
        else:
            evaluator = HoldoutEvaluator(X, y, validation_split=self.validation_split,
                                         validation_data=validation_data, **common)
        population = max(2, min(10, max_trials // 2))
        search = RegularizedEvolution(self.space, evaluator, population_size=population,
                                      generations=max(0, max_trials // population - 1),
                                      sample_size=min(3, population), seed=self.seed,
                                      **self.options)
        self.result_ = search.run()
        self.model_ = self.result_.best_model()
        self._evaluator = evaluator
        return self

    def _require_fit(self, what):
        if self.model_ is None:
            raise RuntimeError(f"{type(self).__name__}.{what} needs a fitted model; call "
                               f"fit(X, y, max_trials=...) first.")

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
    """Search an MLP classifier; labels may be any sortable values (ints, strings)."""

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
            raise ValueError(f"y holds labels not seen in fit: {np.unique(y[unknown])[:5]}. "
                             f"Known labels: {classes[:10]}.")
        return index


class AutoRegressor(_AutoModel):
    """Search an MLP regressor (mean squared error)."""

    task = "regression"

    def predict(self, X):
        """Predictions, shape ``(samples,)`` when fitted on 1-D targets, else ``(samples, k)``."""
        self._require_fit("predict")
        out = self._raw_predict(X)
        return out[:, 0] if self._evaluator.y_original.ndim == 1 else out

    def _targets(self, y):
        y = np.asarray(y, dtype=np.float32)
        return y.reshape(-1, 1) if y.ndim == 1 else y
