"""Every bad input is a clear error at once, naming the argument; a candidate that raises is a
recorded failure and the search goes on."""

import math

import numpy as np
import pytest
from nas_fakes import FormulaEvaluator, blobs

from nastoolkit.nas import (
    AutoClassifier,
    AutoRegressor,
    CrossValidationEvaluator,
    GeneticSearch,
    HoldoutEvaluator,
    NSGA2Search,
    Outcome,
    RandomSearch,
    RegularizedEvolution,
    SearchSpace,
    evaluator_from_config,
    make_genome,
)

SPACE = SearchSpace(max_layers=3)


@pytest.mark.parametrize(
    "arguments, error, fragment",
    [
        (
            {"activations": ("relu", "relux")},
            ValueError,
            r"activations\[1\]='relux' is not a known",
        ),
        (
            {"activations": "relu"},
            TypeError,
            (
                r"activations must be a tuple, not a bare string.*"
                r"activations=\('relu',\)"
            ),
        ),
        ({"optimizers": ("adam", "adamx")}, ValueError, r"optimizers\[1\]='adamx'"),
        ({"optimizers": "adam"}, TypeError, "bare string"),
        ({"activations": (None,)}, TypeError, r"activations\[0\] must be the name"),
        ({"units": 64}, TypeError, "units must be a tuple of choices"),
        ({"units": ()}, ValueError, "units must not be empty"),
        ({"units": (0, 8)}, ValueError, r"units\[0\] must be a positive integer"),
        ({"units": (8, -16)}, ValueError, r"units\[1\] must be a positive integer"),
        ({"units": (8.5,)}, ValueError, r"units\[0\] must be a positive integer"),
        ({"batch_size": (0,)}, ValueError, r"batch_size\[0\]"),
        ({"dropout": (1.0,)}, ValueError, r"dropout\[0\] must be a number in \[0, 1\)"),
        ({"dropout": (float("nan"),)}, ValueError, r"dropout\[0\]"),
        ({"l2": (-1.0,)}, ValueError, r"l2\[0\] must be a finite number >= 0"),
        ({"l2": (float("inf"),)}, ValueError, r"l2\[0\]"),
        (
            {"learning_rate": (1e-4, float("inf"))},
            ValueError,
            r"learning_rate\[1\] must be a finite",
        ),
        ({"learning_rate": (float("nan"), 1e-2)}, ValueError, r"learning_rate\[0\]"),
        ({"learning_rate": (1e-1, 1e-4)}, ValueError, r"low <= high.*Swap them"),
        (
            {"learning_rate": (0.0, 1e-2)},
            ValueError,
            r"learning_rate\[0\] must be a finite number > 0",
        ),
        ({"learning_rate": (1e-3,)}, ValueError, "a .low, high. range of 2 numbers"),
        ({"learning_rate": 1e-3}, TypeError, "learning_rate must be a tuple"),
        ({"max_layers": 0}, ValueError, "max_layers must be an integer >= 1"),
        ({"min_layers": 3, "max_layers": 2}, ValueError, "max_layers must be an integer >= 3"),
        ({"min_layers": 1.5}, ValueError, "min_layers must be an integer >= 1"),
    ],
)
def test_search_space_rejects_bad_choices_at_once(arguments, error, fragment):
    with pytest.raises(error, match=fragment):
        SearchSpace(**arguments)


def test_search_space_accepts_lists_and_numpy_and_stays_json_ready():
    space = SearchSpace(
        units=np.array([8, 16]),
        dropout=[0.0, np.float64(0.5)],
        learning_rate=[1e-3, 1e-2],
        batch_size=range(16, 48, 16),
    )
    assert space.units == (8, 16) and type(space.units[0]) is int
    assert space.batch_size == (16, 32)
    assert space == SearchSpace.from_config(space.get_config())


@pytest.mark.parametrize(
    "arguments, error, fragment",
    [
        ({"layers": (64, "relu", 0.0)}, ValueError, r"layers\[0\] must be a \(units, activation"),
        ({"layers": "64relu"}, TypeError, "layers must be a list"),
        ({"layers": [(0, "relu", 0.0)]}, ValueError, r"layers\[0\] units must be a positive"),
        ({"layers": [(8, "relux", 0.0)]}, ValueError, r"layers\[0\] activation='relux'"),
        ({"layers": [(8, "relu", 1.0)]}, ValueError, r"layers\[0\] dropout"),
        ({"layers": [(8, "relu")]}, ValueError, r"layers\[0\] must be"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate must be a finite number > 0"),
        ({"learning_rate": float("inf")}, ValueError, "learning_rate"),
        ({"l2": -0.1}, ValueError, "l2 must be"),
        ({"optimizer": "adamx"}, ValueError, "optimizer='adamx' is not a known optimizer"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
    ],
)
def test_make_genome_checks_every_gene(arguments, error, fragment):
    arguments = {"layers": [(8, "relu", 0.0)], **arguments}
    with pytest.raises(error, match=fragment):
        make_genome(**arguments)


def _data(kind):
    X, y = blobs(samples=30)
    if kind == "nan_X":
        X[3, 1] = np.nan
    elif kind == "inf_X":
        X[0, 0] = np.inf
    elif kind == "text_X":
        X = X.astype(str)
    elif kind == "short_y":
        y = y[:-1]
    elif kind == "one_class":
        y = np.zeros_like(y)
    elif kind == "nan_label":
        y = y.astype(float)
        y[2] = np.nan
    elif kind == "one_d_X":
        X = X[:, 0]
    elif kind == "scalar_y":
        y = 1
    return X, y


@pytest.mark.parametrize(
    "kind, error, fragment",
    [
        ("nan_X", ValueError, r"X must be finite.*row 3"),
        ("inf_X", ValueError, "X must be finite"),
        ("text_X", TypeError, "X must hold numbers"),
        ("short_y", ValueError, "same number of samples.*30 rows in X and 29 in y"),
        ("scalar_y", ValueError, "same number of samples"),
        ("one_class", ValueError, "single class"),
        ("nan_label", ValueError, "must not be NaN"),
        ("one_d_X", ValueError, "X must be a 2-D array"),
    ],
)
@pytest.mark.parametrize("make", [HoldoutEvaluator, CrossValidationEvaluator])
def test_evaluators_reject_bad_classification_data(make, kind, error, fragment):
    X, y = _data(kind)
    with pytest.raises(error, match=fragment):
        make(X, y)


@pytest.mark.parametrize(
    "y, error, fragment",
    [
        (np.array([1.0, np.nan] * 10), ValueError, "y must be finite"),
        (np.array(["a", "b"] * 10), TypeError, "regression targets y must be numbers"),
    ],
)
def test_evaluators_reject_bad_regression_targets(y, error, fragment):
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(error, match=fragment):
        HoldoutEvaluator(X, y, task="regression")


def test_cross_validation_needs_every_class_in_every_fold():
    X, y = blobs(samples=30)
    y[:27] = np.arange(27) % 2  # class 2 keeps 3 samples (indices 27..29 of the blobs)
    y[27:] = 2
    with pytest.raises(ValueError, match="class 2 has 3 samples, fewer than folds=5.*folds=3"):
        CrossValidationEvaluator(X, y, folds=5)
    assert CrossValidationEvaluator(X, y, folds=3).folds == 3


@pytest.mark.parametrize(
    "arguments, error, fragment",
    [
        ({"timeout": 0}, ValueError, "timeout must be a finite number > 0"),
        ({"timeout": -5}, ValueError, "timeout"),
        ({"timeout": "60"}, ValueError, "timeout"),
        ({"timeout": float("inf")}, ValueError, "timeout"),
        ({"epochs": 2.5}, ValueError, "epochs must be a positive integer"),
        ({"patience": -1}, ValueError, "patience must be a non-negative integer"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer"),
        ({"validation_split": 1.0}, ValueError, r"validation_split must be a number in \(0, 1\)"),
        ({"validation_split": float("nan")}, ValueError, "validation_split"),
        ({"validation_data": (np.zeros((3, 6)),)}, TypeError, "validation_data must be a pair"),
        ({"validation_data": (np.zeros((3, 5)), np.zeros(3))}, ValueError, "X_val must have the 6"),
        ({"validation_data": (np.zeros((3, 6)), np.zeros(2))}, ValueError, "X_val and y_val"),
        (
            {"validation_data": (np.full((3, 6), np.nan), np.zeros(3))},
            ValueError,
            "X_val must be finite",
        ),
    ],
)
def test_holdout_arguments_are_checked(arguments, error, fragment):
    X, y = blobs(samples=30)
    with pytest.raises(error, match=fragment):
        HoldoutEvaluator(X, y, **arguments)


def test_timeout_is_kept_in_the_config_and_not_in_the_fingerprint():
    X, y = blobs(samples=30)
    evaluator = CrossValidationEvaluator(X, y, folds=3, timeout=12.5)
    assert evaluator.timeout == 12.5 and evaluator.get_config()["timeout"] == 12.5
    assert evaluator_from_config(evaluator.get_config()).timeout == 12.5
    # a time limit changes which candidates may fail, not how a finished one is scored
    assert CrossValidationEvaluator(X, y, folds=3).fingerprint() == evaluator.fingerprint()
    assert HoldoutEvaluator(X, y).timeout is None


@pytest.mark.parametrize(
    "strategy, arguments, error, fragment",
    [
        (GeneticSearch, {"population_size": 1}, ValueError, "population_size must be an integer"),
        (GeneticSearch, {"population_size": 4.0}, ValueError, "population_size"),
        (GeneticSearch, {"generations": -1}, ValueError, "generations must be an integer >= 0"),
        (GeneticSearch, {"seed": -3}, ValueError, "seed must be an integer >= 0"),
        (GeneticSearch, {"seed": None}, ValueError, "seed"),
        (GeneticSearch, {"workers": 0}, ValueError, "workers must be an integer >= 1"),
        (GeneticSearch, {"hall_of_fame_size": 0}, ValueError, "hall_of_fame_size"),
        (GeneticSearch, {"cluster": 8786}, TypeError, "cluster must be 'local'"),
        (GeneticSearch, {"cache": {}}, TypeError, "cache must be a nastoolkit.nas.EvaluationCache"),
        (GeneticSearch, {"progress": "yes"}, TypeError, "progress must be True or False"),
        (GeneticSearch, {"overwrite": 1}, TypeError, "overwrite must be True or False"),
        (GeneticSearch, {"checkpoint": 5}, TypeError, "checkpoint must be a file path"),
        (GeneticSearch, {"crossover_probability": 1.5}, ValueError, "crossover_probability"),
        (GeneticSearch, {"mutation_probability": float("nan")}, ValueError, "mutation_probability"),
        (
            GeneticSearch,
            {"crossover_probability": 0.7, "mutation_probability": 0.5},
            ValueError,
            "<= 1",
        ),
        (GeneticSearch, {"tournament_size": 0}, ValueError, "tournament_size"),
        (
            GeneticSearch,
            {"offspring_size": 0},
            ValueError,
            "offspring_size must be an integer >= 1",
        ),
        (RegularizedEvolution, {"sample_size": 0}, ValueError, "sample_size must be an integer"),
        (
            RegularizedEvolution,
            {"population_size": 4, "sample_size": 5},
            ValueError,
            "sample_size must be <= population_size=4",
        ),
        (RegularizedEvolution, {"offspring_size": -2}, ValueError, "offspring_size"),
        (NSGA2Search, {"crossover_probability": -0.1}, ValueError, "crossover_probability"),
        (NSGA2Search, {"mutation_probability": "0.5"}, ValueError, "mutation_probability"),
        (RandomSearch, {"generations": 1.5}, ValueError, "generations"),
    ],
)
def test_strategy_arguments_are_checked(strategy, arguments, error, fragment):
    """Each bad argument is refused before anything trains."""
    evaluator = FormulaEvaluator()
    with pytest.raises(error, match=fragment):
        strategy(SPACE, evaluator, **{"progress": False, **arguments})
    assert evaluator.trainings == 0


class Unsized:
    """An evaluator that cannot count parameters."""

    def fingerprint(self):
        return "unsized"

    def evaluate(self, genome):
        return Outcome("ok", 0.5)


def test_evaluators_that_cannot_count_parameters_are_refused():
    with pytest.raises(TypeError, match="count_parameters"):
        RandomSearch(SPACE, Unsized())


@pytest.mark.parametrize(
    "arguments, error, fragment",
    [
        ({"space": {"max_layers": 2}}, TypeError, "space must be a nastoolkit.nas.SearchSpace"),
        ({"validation_split": 0.0}, ValueError, "validation_split"),
        ({"folds": 1}, ValueError, "folds must be an integer >= 2"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"patience": -1}, ValueError, "patience"),
        ({"seed": 1.5}, ValueError, "seed"),
        ({"workers": 0}, ValueError, "workers"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"overwrite": "no"}, TypeError, "overwrite"),
        ({"checkpoint": "/no/such/folder/run.json"}, RuntimeError, "does not exist"),
    ],
)
@pytest.mark.parametrize("auto", [AutoClassifier, AutoRegressor])
def test_auto_models_check_arguments_at_construction(auto, arguments, error, fragment):
    with pytest.raises(error, match=fragment):
        auto(**arguments)


@pytest.mark.parametrize(
    "kind, fragment",
    [
        ("nan_X", "X must be finite"),
        ("short_y", "same number of samples"),
        ("one_class", "single class"),
        ("text_X", "X must hold numbers"),
    ],
)
def test_auto_classifier_checks_the_data_before_any_candidate_trains(kind, fragment):
    X, y = _data(kind)
    auto = AutoClassifier(epochs=1, progress=False)
    with pytest.raises((ValueError, TypeError), match=fragment):
        auto.fit(X, y, max_trials=2)
    assert auto.result_ is None


def test_auto_fit_arguments_are_checked():
    X, y = blobs(samples=30)
    with pytest.raises(ValueError, match="max_trials must be an integer >= 2"):
        AutoRegressor(progress=False).fit(X, y.astype(float), max_trials=1.5)
    with pytest.raises(ValueError, match="validation_data is used by the holdout split only"):
        AutoClassifier(folds=3, progress=False).fit(X, y, validation_data=(X[:5], y[:5]))
    with pytest.raises(ValueError, match="regression targets|y must be finite"):
        AutoRegressor(progress=False).fit(X, np.full(30, np.nan), max_trials=2)


class RaisingEvaluator(FormulaEvaluator):
    """Raises (instead of returning a failure) for genomes with a sigmoid layer, as a buggy
    custom evaluator would."""

    def evaluate(self, genome):
        if any(layer["activation"] == "sigmoid" for layer in genome["layers"]):
            raise ZeroDivisionError("bad candidate")
        return super().evaluate(genome)


@pytest.mark.parametrize("strategy", [GeneticSearch, RegularizedEvolution, NSGA2Search])
def test_a_candidate_that_raises_is_recorded_failed_and_the_search_goes_on(strategy):
    options = {"sample_size": 3} if strategy is RegularizedEvolution else {}
    result = strategy(
        SPACE,
        RaisingEvaluator(),
        population_size=8,
        generations=3,
        seed=0,
        progress=False,
        **options,
    ).run()
    failed = result.failures
    assert failed and all(r.reason == "ZeroDivisionError: bad candidate" for r in failed)
    assert all(isinstance(r.outcome, Outcome) and not r.ok for r in failed)
    assert all(
        any(layer["activation"] == "sigmoid" for layer in r.genome["layers"]) for r in failed
    )
    assert len(result.history) == 4 and math.isfinite(result.best_score)
    assert not any(layer["activation"] == "sigmoid" for layer in result.best_genome["layers"])
    assert len(result.evaluations) > len(failed)


def test_a_training_error_is_a_failed_outcome_with_its_reason():
    class Broken(HoldoutEvaluator):
        def _score_fold(self, genome, train, validation, seed):
            raise MemoryError("out of memory (simulated)")

    X, y = blobs(samples=30)
    outcome = Broken(X, y, epochs=1).evaluate(make_genome([(8, "relu", 0.0)]))
    assert outcome == Outcome.failure("MemoryError: out of memory (simulated)")


class OddResults(FormulaEvaluator):
    """A custom evaluator with bugs: NaN scores for tanh genomes, a float for sgd ones; other
    genomes come back as the former plain dicts."""

    def evaluate(self, genome):
        outcome = super().evaluate(genome)
        if any(layer["activation"] == "tanh" for layer in genome["layers"]):
            return Outcome("ok", float("nan"))
        if genome["optimizer"] == "sgd":
            return outcome.score
        return outcome.to_dict()


def test_malformed_evaluator_results_become_failures_with_the_reason():
    result = RandomSearch(
        SPACE, OddResults(), population_size=10, generations=1, seed=0, progress=False
    ).run()
    reasons = {r.reason for r in result.failures}
    assert len(reasons) == 2, reasons
    assert any("score must be a number" in reason and "nan" in reason for reason in reasons)
    assert any("must be an" in reason and "float" in reason for reason in reasons)
    ok = [r for r in result.evaluations if r.ok]
    assert ok and all(math.isfinite(r.score) and r.genome["optimizer"] != "sgd" for r in ok)
