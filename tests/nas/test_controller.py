"""The RNN controller: its REINFORCE gradient against finite differences, the estimator's mean
against the exact policy gradient of an enumerated space, convergence to the best genome of a
reward table, and exact resume after an interruption."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from nastoolkit.nas import SearchSpace, genome_key
from nastoolkit.nas.build import count_parameters
from nastoolkit.nas.controller import (
    Controller,
    ControllerSearch,
    controller_decisions,
    decode_tokens,
)
from nastoolkit.nas.outcome import Outcome

# 2 units x 2 activations = 4 genomes; every other decision has a single choice.
TINY = SearchSpace(
    max_layers=1,
    min_layers=1,
    units=(4, 8),
    activations=("relu", "tanh"),
    dropout=(0.0,),
    learning_rate=(1e-3, 1e-3),
    l2=(0.0,),
    optimizers=("adam",),
    batch_size=(32,),
)
TABLE = {(4, "relu"): 0.40, (4, "tanh"): 0.30, (8, "relu"): 0.10, (8, "tanh"): 0.25}


class TableEvaluator:
    """Validation error from a fixed table (no training): a known reward for each genome."""

    input_dim, output_dim = 3, 2

    def __init__(self):
        self.calls = 0

    def fingerprint(self):
        return "table"

    def count_parameters(self, genome):
        return count_parameters(genome, self.input_dim, self.output_dim)

    def evaluate(self, genome):
        self.calls += 1
        layer = genome["layers"][0]
        return Outcome("ok", TABLE[(layer["units"], layer["activation"])])


def _controller(seed=0, dtype="float64"):
    return Controller(controller_decisions(TINY), 5, 3, np.random.default_rng(seed), dtype)


def _all_sequences(decisions):
    return np.array(list(itertools.product(*[range(len(d.choices)) for d in decisions])))


def _reward(decisions, tokens):
    genome = decode_tokens(decisions, tokens)
    return -TABLE[(genome["layers"][0]["units"], genome["layers"][0]["activation"])]


def _numeric_gradients(controller, f, eps=1e-6):
    grads = []
    for array in controller.weights:
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            keep = array[index]
            array[index] = keep + eps
            up = f()
            array[index] = keep - eps
            down = f()
            array[index] = keep
            grad[index] = (up - down) / (2 * eps)
        grads.append(grad)
    return grads


def test_decisions_and_decoding_cover_the_space():
    decisions = controller_decisions(TINY)
    genomes = {genome_key(decode_tokens(decisions, row)) for row in _all_sequences(decisions)}
    assert len(genomes) == 4 and all(TINY.contains(json.loads(key)) for key in genomes)
    space = SearchSpace(max_layers=3, min_layers=1)
    rng = np.random.default_rng(0)
    decisions = controller_decisions(space)
    for _ in range(20):
        tokens = [rng.integers(len(d.choices)) for d in decisions]
        assert space.contains(decode_tokens(decisions, tokens))


def test_loss_gradient_matches_finite_differences():
    controller = _controller()
    space = SearchSpace(max_layers=2, units=(4, 8, 16), learning_rate=(1e-3, 1e-1))
    controller = Controller(controller_decisions(space), 4, 3, np.random.default_rng(2))
    tokens = controller.sample(np.random.default_rng(3).random((4, controller.length)))
    advantages = np.array([0.5, -1.0, 0.25, 2.0])
    beta = 0.3

    def loss():
        run = controller._forward(tokens=tokens)
        rows = np.arange(len(tokens))
        total = 0.0
        for t, p in enumerate(run.probabilities):
            total -= np.sum(advantages * np.log(p[rows, tokens[:, t]]))
            total -= beta * np.sum(-(p * np.log(p)).sum(axis=1))
        return total / len(tokens)

    analytic = controller.gradients(tokens, advantages, entropy_weight=beta)
    for a, n in zip(analytic, _numeric_gradients(controller, loss)):
        np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-8)


def test_reinforce_estimate_averages_to_the_exact_policy_gradient():
    controller = _controller()
    decisions = controller.decisions
    sequences = _all_sequences(decisions)
    rewards = np.array([_reward(decisions, row) for row in sequences])

    def expected_reward():  # J = sum_g p(g) R(g), enumerated
        return float(np.exp(controller.log_probability(sequences)) @ rewards)

    exact = _numeric_gradients(controller, expected_reward)
    exact_flat = np.concatenate([g.ravel() for g in exact])
    assert np.linalg.norm(exact_flat) > 1e-3  # the test has something to find

    by_tokens = np.array(
        [[-TABLE[(units, activation)] for activation in TINY.activations] for units in TINY.units]
    )
    rng = np.random.default_rng(7)
    baseline = -0.2  # any constant leaves the mean unchanged
    chunks = []
    for _ in range(10):
        tokens = controller.sample(rng.random((4000, controller.length)))
        reward = by_tokens[tokens[:, 1], tokens[:, 2]]  # units and activation decide
        grads = controller.gradients(tokens, reward - baseline)  # of the loss: -grad J
        chunks.append(-np.concatenate([g.ravel() for g in grads]))
    chunks = np.array(chunks)
    estimate = chunks.mean(axis=0)
    standard_error = chunks.std(axis=0, ddof=1) / np.sqrt(len(chunks))
    assert np.all(np.abs(estimate - exact_flat) <= 5 * standard_error + 1e-6)
    assert np.linalg.norm(estimate - exact_flat) < 0.1 * np.linalg.norm(exact_flat)
    # a wrong sign or a missing baseline-independent term would not be this close
    assert np.dot(estimate, exact_flat) > 0.95 * np.linalg.norm(estimate) * np.linalg.norm(
        exact_flat
    )


def _best_probability(result):
    probabilities = result.history[-1]["probabilities"]
    return probabilities["layers[0].units"][1] * probabilities["layers[0].activation"][0]


def test_controller_converges_to_the_best_genome_of_the_table():
    evaluator = TableEvaluator()
    result = ControllerSearch(
        TINY,
        evaluator,
        controller_steps=60,
        architectures_per_step=8,
        seed=0,
        learning_rate=0.05,
        controller_units=8,
        embedding=4,
        progress=False,
    ).run()
    assert result.best_genome["layers"][0]["units"] == 8
    assert result.best_genome["layers"][0]["activation"] == "relu"
    first = result.history[0]["probabilities"]
    assert first["layers[0].units"][1] * first["layers[0].activation"][0] < 0.5
    assert _best_probability(result) > 0.9
    last_keys = result.population
    assert (
        sum(g["layers"][0] == {"units": 8, "activation": "relu", "dropout": 0.0} for g in last_keys)
        >= 6
    )
    assert evaluator.calls == 4  # the cache: each genome trained once
    assert len(result.history) == 60 and "baseline" in result.history[-1]


def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path):
    options = {
        "controller_steps": 12,
        "architectures_per_step": 4,
        "seed": 3,
        "learning_rate": 0.05,
        "controller_units": 6,
        "embedding": 3,
        "progress": False,
    }
    space = SearchSpace(
        max_layers=2,
        units=(4, 8),
        activations=("relu", "tanh"),
        dropout=(0.0,),
        learning_rate=(1e-3, 1e-3),
        l2=(0.0,),
        optimizers=("adam",),
        batch_size=(32,),
    )
    reference = ControllerSearch(space, _DepthTable(), **options).run()
    path = tmp_path / "ctrl.json"
    search = ControllerSearch(space, _DepthTable(), checkpoint=path, **options)
    original = search._finish_generation

    def stop_after_five(generation, bar):
        if generation == 6:
            raise KeyboardInterrupt
        original(generation, bar)

    search._finish_generation = stop_after_five
    with pytest.raises(KeyboardInterrupt):
        search.run()
    assert json.loads(path.read_text())["state"]["generation"] == 5
    assert len(list(tmp_path.glob("ctrl.json.*.npz"))) == 1
    resumed = ControllerSearch.resume(path, evaluator=_DepthTable(), progress=False).run()
    assert resumed.to_dict() == reference.to_dict()


class _DepthTable(TableEvaluator):
    def evaluate(self, genome):
        layers = genome["layers"]
        return Outcome("ok", 0.1 * len(layers) + sum(0.01 * g["units"] for g in layers))


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="controller_steps must be"):
        ControllerSearch(TINY, TableEvaluator(), controller_steps=0)
    with pytest.raises(ValueError, match="architectures_per_step must be"):
        ControllerSearch(TINY, TableEvaluator(), architectures_per_step=1)
    with pytest.raises(ValueError, match="entropy_weight must be"):
        ControllerSearch(TINY, TableEvaluator(), entropy_weight=-1)
    with pytest.raises(ValueError, match="baseline_decay must be"):
        ControllerSearch(TINY, TableEvaluator(), baseline_decay=1.0)


@pytest.mark.slow
def test_sigkill_and_resume_equal_an_uninterrupted_run(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    from nas_fakes import blobs

    from nastoolkit.nas import HoldoutEvaluator

    path = tmp_path / "killed.json"
    space = SearchSpace(max_layers=2, units=(4, 8), learning_rate=(1e-3, 1e-1))
    options = {
        "controller_steps": 8,
        "architectures_per_step": 3,
        "seed": 2,
        "controller_units": 6,
        "embedding": 3,
        "progress": False,
    }
    setup = textwrap.dedent(f"""
        from nas_fakes import blobs
        from nastoolkit.nas import HoldoutEvaluator, SearchSpace
        space = SearchSpace.from_config({space.get_config()!r})
        options = {options!r}
    """)
    script = (
        textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import nastoolkit.nas.parallel as parallel
        slow, slow_many = parallel.evaluate_genome, parallel.evaluate_genomes
        def evaluate_genome(evaluator, genome):
            time.sleep(0.1)  # long enough to be killed mid-run
            return slow(evaluator, genome)
        def evaluate_genomes(evaluator, genomes):  # a step's architectures, as one population
            time.sleep(0.1 * len(genomes))
            return slow_many(evaluator, genomes)
        parallel.evaluate_genome = evaluate_genome
        parallel.evaluate_genomes = evaluate_genomes
        from nastoolkit.nas.controller import ControllerSearch
    """)
        + setup
        + textwrap.dedent(f"""
        X, y = blobs()
        ControllerSearch(space, HoldoutEvaluator(X, y, epochs=3), checkpoint={str(path)!r},
                         **options).run()
    """)
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 25
        while time.time() < deadline:
            if path.exists() and json.loads(path.read_text())["state"]["generation"] >= 2:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the search ended before it was killed"
    assert 2 <= json.loads(path.read_text())["state"]["generation"] < 7
    X, y = blobs()
    reference = ControllerSearch(space, HoldoutEvaluator(X, y, epochs=3), **options).run()
    resumed = ControllerSearch.resume(path, progress=False).run()
    assert resumed.to_dict() == reference.to_dict()


@pytest.mark.slow
def test_a_process_pool_gives_the_serial_result():
    from nas_fakes import FormulaEvaluator

    space = SearchSpace(max_layers=2, units=(8, 64), learning_rate=(1e-3, 1e-2))
    options = {"controller_steps": 4, "architectures_per_step": 4, "seed": 1, "progress": False}
    serial = ControllerSearch(space, FormulaEvaluator(), **options).run()
    pooled = ControllerSearch(space, FormulaEvaluator(), workers=2, **options).run()
    assert pooled.to_dict() == serial.to_dict()
