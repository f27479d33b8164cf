"""DARTS: the mixed operation's and the supernet's gradients against finite differences in
float64, alpha converging to the operation a synthetic task needs, the derived genome retrained
through the evaluator."""

from __future__ import annotations

import numpy as np
import pytest

from nastoolkit.nas import CheckpointError, SearchSpace
from nastoolkit.nas.darts import DifferentiableSearch, MixedLayer, _Supernet


def _numeric(f, array, eps=1e-6):
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        keep = array[index]
        array[index] = keep + eps
        up = f()
        array[index] = keep - eps
        down = f()
        array[index] = keep
        grad[index] = (up - down) / (2 * eps)
    return grad


def test_mixed_layer_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    layer = MixedLayer(4, (2, 3, 4), ("relu", "tanh", "sigmoid", "skip", "zero"), rng)
    layer.alpha[:] = rng.normal(size=layer.alpha.shape)
    layer.beta[:] = rng.normal(size=layer.beta.shape)
    layer.b[:] = rng.normal(0, 0.3, layer.b.shape)
    h = rng.normal(size=(5, 4))
    R = rng.normal(size=(5, 4))

    def loss():
        return float(np.sum(R * layer.forward(h)[0]))

    _, cache = layer.forward(h)
    grad_h, grad_W, grad_b, grad_alpha, grad_beta = layer.backward(R, cache)
    for analytic, array in (
        (grad_h, h),
        (grad_W, layer.W),
        (grad_b, layer.b),
        (grad_alpha, layer.alpha),
        (grad_beta, layer.beta),
    ):
        np.testing.assert_allclose(analytic, _numeric(loss, array), rtol=1e-6, atol=1e-8)
    # the zero op takes weight but gives nothing; its alpha still has a gradient (it competes)
    assert abs(grad_alpha[-1]) > 0


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_supernet_gradients_match_finite_differences(task):
    rng = np.random.default_rng(1)
    space = SearchSpace(max_layers=2, min_layers=1, units=(2, 3), activations=("tanh", "relu"))
    net = _Supernet(space, 3, 2, task, rng)
    for array in net.architecture:
        array[:] = rng.normal(size=array.shape)
    X = rng.normal(size=(6, 3))
    y = rng.integers(0, 2, 6) if task == "classification" else rng.normal(size=(6, 2))

    def loss():
        return net.loss_and_gradients(X, y)[0]

    _, weight_grads, architecture_grads = net.loss_and_gradients(X, y)
    for analytic, array in zip(weight_grads + architecture_grads, net.weights + net.architecture):
        np.testing.assert_allclose(analytic, _numeric(loss, array), rtol=1e-5, atol=1e-8)


def _abs_task(samples=300, seed=0):
    """Labels |x0| > 0.8: no linear function separates them, one relu layer does."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(samples, 3)).astype(np.float32)
    return X, (np.abs(X[:, 0]) > 0.8).astype(np.int64)


def test_alpha_converges_to_the_operation_the_task_needs():
    X, y = _abs_task()
    space = SearchSpace(max_layers=1, units=(8, 16), activations=("linear", "relu"))
    search = DifferentiableSearch(space, X, y, epochs=20, seed=0, evaluator_epochs=30)
    result = search.run()
    first, last = result.history[0]["alpha"][0], result.history[-1]["alpha"][0]
    relu = result.history[0]["operations"][0].index("relu")
    assert last[relu] > 0.8 and last[relu] > first[relu]
    assert result.best_genome["layers"][0]["activation"] == "relu"
    # the derived genome was retrained through the evaluator and scored like any candidate
    record = result.evaluations[0]
    assert record.ok and record.score < 0.2
    assert len(result.history) == 20 and result.history[-1]["genome"] == result.best_genome


def test_only_layers_past_min_layers_may_be_skipped():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    space = SearchSpace(max_layers=3, min_layers=2, units=(8,), activations=("linear",))
    result = DifferentiableSearch(space, X, y, epochs=3, seed=0, evaluator_epochs=2).run()
    operations = result.history[-1]["operations"]
    assert operations == [["linear"], ["linear"], ["linear", "skip", "zero"]]
    assert all(abs(sum(weights) - 1) < 1e-12 for weights in result.history[-1]["alpha"])
    assert 2 <= len(result.best_genome["layers"]) <= 3


def test_bad_arguments_are_clear_errors():
    X, y = _abs_task(40)
    space = SearchSpace(max_layers=1)
    with pytest.raises(ValueError, match="epochs must be"):
        DifferentiableSearch(space, X, y, epochs=0)
    with pytest.raises(ValueError, match="task must be one of"):
        DifferentiableSearch(space, X, y, task="ranking")
    with pytest.raises(ValueError, match="validation_split must be"):
        DifferentiableSearch(space, X, y, validation_split=1.5)
    with pytest.raises(TypeError, match="space must be"):
        DifferentiableSearch(None, X, y)
    with pytest.raises(ValueError, match="skip operation needs"):
        MixedLayer(3, (4,), ("relu", "skip"), np.random.default_rng(0))


def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path):
    X, y = _abs_task(120)
    space = SearchSpace(max_layers=2, units=(4, 8), activations=("relu", "tanh"))
    options = {"epochs": 6, "seed": 2, "evaluator_epochs": 3}
    reference = DifferentiableSearch(space, X, y, **options).run()
    path = tmp_path / "darts.json"
    search = DifferentiableSearch(space, X, y, checkpoint=path, **options)
    original = search._epoch

    def stop_at_four(epoch, *data):
        if epoch == 4:
            raise KeyboardInterrupt
        return original(epoch, *data)

    search._epoch = stop_at_four
    with pytest.raises(KeyboardInterrupt):
        search.run()
    assert len(list(tmp_path.glob("darts.json.*.npz"))) == 1
    resumed = DifferentiableSearch.resume(path)
    assert len(resumed.history) == 4
    assert resumed.run().to_dict() == reference.to_dict()
    with pytest.raises(CheckpointError, match="will not overwrite"):
        DifferentiableSearch(space, X, y, checkpoint=path, **options)


@pytest.mark.slow
def test_sigkill_and_resume_equal_an_uninterrupted_run(tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    X, y = _abs_task(120)
    space = SearchSpace(max_layers=2, units=(4, 8), activations=("relu", "tanh"))
    options = {"epochs": 12, "seed": 4, "evaluator_epochs": 3}
    path = tmp_path / "killed.json"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_darts import _abs_task
        from nastoolkit.nas import SearchSpace
        from nastoolkit.nas.darts import DifferentiableSearch
        search = DifferentiableSearch(SearchSpace.from_config({space.get_config()!r}),
                                      *_abs_task(120), checkpoint={str(path)!r}, **{options!r})
        epoch = search._epoch
        def slow(*args):
            time.sleep(0.2)  # long enough to be killed mid-run
            return epoch(*args)
        search._epoch = slow
        search.run()
    """)
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
    assert 2 <= json.loads(path.read_text())["state"]["generation"] < 11
    reference = DifferentiableSearch(space, X, y, **options).run()
    assert DifferentiableSearch.resume(path).run().to_dict() == reference.to_dict()
