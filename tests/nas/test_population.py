"""Evaluators train a generation as one population in the compiled engine: each candidate's
outcome is what it gets trained alone, whatever trains beside it, on every map."""

import json
import os
import random
import signal

import numpy as np
import pytest
from nas_fakes import FormulaEvaluator, blobs

from nastoolkit import engine
from nastoolkit.kernels import _engine
from nastoolkit.nas import (
    CrossValidationEvaluator,
    HoldoutEvaluator,
    SearchSpace,
    make_genome,
)
from nastoolkit.nas import evaluators as evaluators_module
from nastoolkit.nas.evaluators import evaluator_from_config
from nastoolkit.nas.outcome import Outcome
from nastoolkit.nas.parallel import ProcessPoolMap, SerialMap, evaluate_genomes

pytestmark = pytest.mark.skipif(not _engine.available(), reason="no compiled engine here")

SPACE = SearchSpace(
    max_layers=3,
    units=(8, 16, 32),
    activations=("relu", "tanh", "elu", "gelu"),
    dropout=(0.0, 0.2),
    optimizers=("adam", "sgd", "rmsprop"),
    batch_size=(16, 32),
)


def _genomes(count, seed=0):
    rng = random.Random(seed)
    return [SPACE.sample(rng) for _ in range(count)]


def _diverging():
    """Plain SGD at learning rate 1e4 on a regression: its loss overflows within an epoch."""
    genome = make_genome([(16, "relu", 0.0)], optimizer="sgd", batch_size=16)
    genome["learning_rate"] = 1e4
    return genome


def _regression(samples=120, seed=0):
    X, _ = blobs(samples=samples, seed=seed)
    y = X[:, 0] * 3.0 + X[:, 1] ** 2
    return X, ((y - y.mean()) / y.std()).astype(np.float32)


def _outcomes(outcomes):
    return [(o.status, o.score, o.reason, o.metrics) for o in outcomes]


@pytest.mark.parametrize(
    "make",
    [
        lambda X, y: HoldoutEvaluator(X, y, epochs=10, patience=1, seed=3),
        lambda X, y: CrossValidationEvaluator(X, y, folds=3, epochs=8, patience=1, seed=3),
    ],
    ids=["holdout", "kfold"],
)
def test_a_population_gives_each_candidate_its_outcome_alone(make):
    """Mixed widths, depths, dropout, optimizers and batch sizes, early stopping (patience 1):
    the generation trained together equals each genome evaluated on its own, exactly."""
    X, _ = blobs(samples=120)
    y = np.random.default_rng(1).integers(0, 3, len(X))  # random labels: val_loss soon rises
    evaluator = make(X, y)
    genomes = _genomes(6)
    together = evaluator.evaluate_population(genomes)
    alone = [evaluator.evaluate(genome) for genome in genomes]
    reversed_order = evaluator.evaluate_population(genomes[::-1])[::-1]
    assert _outcomes(together) == _outcomes(alone) == _outcomes(reversed_order)
    assert all(outcome.ok for outcome in together)
    assert any(outcome.metrics["epochs"] < evaluator.epochs for outcome in together), (
        "early stopping never triggered: the test would not check it"
    )


def _patched_fit(monkeypatch, calls):
    """Record which models ``Sequential.fit`` trains (the alone path)."""
    from nastoolkit.models import Sequential

    original = Sequential.fit

    def fit(self, *args, **kwargs):
        calls.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Sequential, "fit", fit)


def test_population_equals_population_false_through_the_engine(monkeypatch):
    """population=False trains each candidate with fit; with fit in the engine the outcomes and
    the trained weights are the same bit for bit."""
    X, y = _regression()
    genomes = _genomes(4, seed=1) + [_diverging()]
    monkeypatch.setenv(engine.FIT_SWITCH, "1")
    alone = HoldoutEvaluator(X, y, task="regression", epochs=5, seed=0, population=False)
    together = HoldoutEvaluator(X, y, task="regression", epochs=5, seed=0)
    expected = [alone.evaluate(genome) for genome in genomes]
    got = together.evaluate_population(genomes)
    assert _outcomes(got) == _outcomes(expected)
    assert not got[-1].ok and got[-1].reason.startswith("loss became")
    # the weights: the population's models against fit's
    train, validation = together.splits()[0]
    for genome in genomes[:2]:
        jobs = together._fit_jobs(genome)
        together._fit_together({0: jobs}, [genome], [None])
        model, _ = alone._train(genome, train, validation, jobs[0].seed)
        np.testing.assert_array_equal(jobs[0].model.params, model.params)


def test_population_agrees_with_the_numpy_path_to_rounding(monkeypatch):
    monkeypatch.delenv(engine.FIT_SWITCH, raising=False)
    X, y = _regression()
    genomes = _genomes(4, seed=2)
    for genome in genomes:  # no divergence: both paths must train to the end
        genome["learning_rate"] = 1e-3
    numpy_path = HoldoutEvaluator(
        X, y, task="regression", epochs=4, patience=4, seed=0, population=False
    )
    calls = []
    _patched_fit(monkeypatch, calls)
    together = HoldoutEvaluator(X, y, task="regression", epochs=4, patience=4, seed=0)
    got = together.evaluate_population(genomes)
    assert calls == [], "the population path must not call fit"
    expected = [numpy_path.evaluate(genome) for genome in genomes]
    assert len(calls) == len(genomes)
    for a, b in zip(got, expected):
        assert a.ok and b.ok
        assert a.score == pytest.approx(b.score, rel=1e-4)
        assert a.metrics["val_loss"] == pytest.approx(b.metrics["val_loss"], rel=1e-4)


def test_a_candidate_the_engine_cannot_train_trains_alone(monkeypatch):
    X, y = blobs(samples=60)
    genomes = _genomes(3, seed=4)
    odd = genomes[1]["layers"][0]["units"] = 24  # a width no other genome has
    real = engine._plan_or_reason  # what unsupported_reason, fit_reason and fit_plan ask

    def reason(model):
        first = model._layers[0]
        return (None, "not compiled: test") if first.output_dim == odd else real(model)

    monkeypatch.setattr(engine, "_plan_or_reason", reason)
    calls = []
    _patched_fit(monkeypatch, calls)
    evaluator = HoldoutEvaluator(X, y, epochs=2, seed=0)
    got = evaluator.evaluate_population(genomes)
    assert [model._layers[0].output_dim for model in calls] == [odd]
    numpy_path = HoldoutEvaluator(X, y, epochs=2, seed=0, population=False)
    assert _outcomes(got[1:2]) == _outcomes([numpy_path.evaluate(genomes[1])])


def test_a_failure_in_the_population_is_only_its_candidates(monkeypatch):
    """A genome whose network cannot be built fails alone; the rest of the generation trains."""
    X, y = blobs(samples=60)
    genomes = _genomes(3, seed=5)
    broken = json.loads(json.dumps(genomes[1]))
    broken["layers"][0]["activation"] = "no-such-activation"
    evaluator = HoldoutEvaluator(X, y, epochs=2, seed=0)
    got = evaluator.evaluate_population([genomes[0], broken, genomes[2]])
    assert [o.ok for o in got] == [True, False, True]
    assert "no-such-activation" in got[1].reason
    assert _outcomes([got[0], got[2]]) == _outcomes(
        [evaluator.evaluate(genomes[0]), evaluator.evaluate(genomes[2])]
    )


def test_population_is_in_the_config_and_the_fingerprint():
    X, y = blobs(samples=30)
    on, off = HoldoutEvaluator(X, y), HoldoutEvaluator(X, y, population=False)
    assert on.fingerprint() != off.fingerprint()
    assert evaluator_from_config(off.get_config()).population is False
    assert evaluator_from_config(on.get_config()).fingerprint() == on.fingerprint()
    assert "population=False" in repr(off) and "population" not in repr(on)


def test_the_serial_map_trains_the_generation_together(monkeypatch):
    X, y = blobs(samples=60)
    evaluator = HoldoutEvaluator(X, y, epochs=2, seed=0)
    sizes = []
    original = evaluators_module.Evaluator.evaluate_population

    def spy(self, genomes):
        sizes.append(len(genomes))
        return original(self, genomes)

    monkeypatch.setattr(evaluators_module.Evaluator, "evaluate_population", spy)
    genomes = _genomes(4, seed=6)
    outcomes = SerialMap(evaluator).map(genomes)
    assert sizes[0] == 4
    assert _outcomes(outcomes) == _outcomes([evaluator.evaluate(g) for g in genomes])


def test_pool_workers_train_slices_and_match_serial():
    X, y = blobs(samples=60)
    evaluator = HoldoutEvaluator(X, y, epochs=3, seed=0)
    genomes = _genomes(6, seed=7)
    pool = ProcessPoolMap(evaluator, workers=2)
    try:
        assert pool._first_tasks(6) == [(0, 1), (2, 3), (4, 5)]
        outcomes = pool.map(genomes)
    finally:
        pool.close()
    assert _outcomes(outcomes) == _outcomes(SerialMap(evaluator).map(genomes))


class SliceKiller(FormulaEvaluator):
    """Trains slices as populations, and kills its process on genomes with ``always`` units."""

    def __init__(self, always):
        super().__init__(tag="slice-killer")
        self.always = always

    def evaluate(self, genome):
        if genome["layers"][0]["units"] == self.always:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().evaluate(genome)

    def evaluate_population(self, genomes):
        return [self.evaluate(genome) for genome in genomes]


def test_a_killer_in_a_slice_fails_alone_and_its_slice_mates_are_retried():
    genomes = _genomes(6, seed=8)
    for index, genome in enumerate(genomes):
        genome["layers"][0]["units"] = 99 if index == 2 else 8
    pool = ProcessPoolMap(SliceKiller(99), workers=2)
    try:
        outcomes = pool.map(genomes)
    finally:
        pool.close()
    assert (
        outcomes[2].reason == "worker process died while evaluating it (killed by SIGKILL), twice"
    )
    expected = SerialMap(FormulaEvaluator()).map(genomes)
    assert [(o.status, o.score) for i, o in enumerate(outcomes) if i != 2] == [
        (o.status, o.score) for i, o in enumerate(expected) if i != 2
    ]


def test_evaluate_genomes_falls_back_to_one_by_one_when_the_population_raises():
    class Flaky(FormulaEvaluator):
        def evaluate_population(self, genomes):
            raise RuntimeError("population bug")

    genomes = _genomes(3, seed=9)
    outcomes = evaluate_genomes(Flaky(), genomes)
    assert [(o.status, o.score) for o in outcomes] == [
        (o.status, o.score) for o in SerialMap(FormulaEvaluator()).map(genomes)
    ]
    assert all(isinstance(o, Outcome) and o.seconds >= 0 for o in outcomes)


def test_a_config_from_before_population_training_resumes_on_fit():
    """Checkpoints written before this setting hold no "population": their results came from
    fit, so the rebuilt evaluator trains alone and keeps their fingerprint."""
    X, y = blobs(samples=30)
    old = HoldoutEvaluator(X, y, population=False)
    config = old.get_config()
    del config["population"]
    rebuilt = evaluator_from_config(config)
    assert rebuilt.population is False and rebuilt.fingerprint() == old.fingerprint()


def test_an_error_inside_the_population_fails_only_its_candidate(monkeypatch):
    """Should the population call raise, each genome trains again by itself: the one that
    raises again fails with the error, the others get their outcomes."""
    X, y = blobs(samples=60)
    genomes = _genomes(3, seed=10)
    genomes[1]["layers"][0]["units"] = 24  # the poisoned width
    real = engine.fit_population

    def fit_population(jobs, *args, **kwargs):
        if any(job.model._layers[0].output_dim == 24 for job in jobs):
            raise FloatingPointError("engine bug (simulated)")
        return real(jobs, *args, **kwargs)

    evaluator = HoldoutEvaluator(X, y, epochs=2, seed=0)
    expected = [evaluator.evaluate(genomes[0]), evaluator.evaluate(genomes[2])]
    monkeypatch.setattr(engine, "fit_population", fit_population)
    got = evaluator.evaluate_population(genomes)
    assert got[1].reason == "FloatingPointError: engine bug (simulated)"
    assert _outcomes([got[0], got[2]]) == _outcomes(expected)
