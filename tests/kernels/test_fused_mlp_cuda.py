"""The fused small-MLP kernels (csrc/fused_mlp.cu) on a GPU through CuPy, against train_step.

The cases, models and NumPy reference of test_fused_mlp_shim.py, with ``cupy_runner()`` in place
of the CPU shim. Skipped, with the reason from ``nastoolkit.backend.probe_gpu()``, where no GPU
is usable. Tolerances are wider than the shim's: CUDA's tanhf/expf/erfcf differ from glibc's by
a few ulp, and the blocks' atomic adds of weight gradients land in a varying order.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from test_fused_mlp_shim import (
    CASES,
    data,
    learning_rates,
    make_model,
    numpy_train,
    on_both_devices,
    plan_of,
)

from nastoolkit import backend, engine
from nastoolkit.kernels import _cuda_fused

PROBE = backend.probe_gpu()
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not PROBE.usable, reason=f"no usable GPU: {PROBE.detail}"),
]


@pytest.fixture(scope="module", autouse=True)
def numpy_models():
    """The reference models train on the NumPy path (``auto`` would put them on the GPU, and
    ``engine.plan`` takes host parameters); the fused kernels get their copies on the GPU."""
    before = backend.current().name
    backend.use("numpy")
    yield
    backend.use(before)


@pytest.fixture(scope="module")
def cp():
    return importlib.import_module("cupy")


@pytest.fixture(scope="module")
def runner(cp):
    launches = []
    run = _cuda_fused.cupy_runner()

    def counted(name, grid, block, shared, args):
        launches.append((name, tuple(grid)))
        run(name, grid, block, shared, args)

    counted.launches = launches
    return counted


def gpu_population(cp, runner, models, x, ys):
    plans = [plan_of(m) for m in models]
    targets = [engine._targets_for(m, y) for m, y in zip(models, ys)]
    return _cuda_fused.FusedPopulation(
        plans, [m.params for m in models], cp.asarray(x), targets, cp, runner=runner
    )


def tolerance(dtype):
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_steps_equal_numpy_train_step(cp, runner, case, dtype):
    spec = CASES[case]
    n, batch = 111, 45
    x, y = data(spec, n, dtype)
    order = np.random.default_rng(1).permutation(n)
    reference, fused = make_model(spec, dtype, 3), make_model(spec, dtype, 3)
    expected = numpy_train(reference, x, y, order, batch)
    pop = gpu_population(cp, runner, [fused], x, [y])
    losses = pop.train(cp.asarray(order), batch, learning_rates([fused], len(expected)))
    np.testing.assert_allclose(losses[0], expected, **tolerance(dtype))
    np.testing.assert_allclose(cp.asnumpy(pop.params_of(0)), reference.params, **tolerance(dtype))
    assert not np.array_equal(cp.asnumpy(pop.params_of(0)), fused.params)


@pytest.mark.parametrize("rows", [1, 32, 33, 70])
def test_one_batch_gradients_equal_numpy(cp, runner, rows):
    spec = CASES["seed-dropout"]
    x, y = data(spec, 80, np.float32, seed=rows)
    order = np.arange(80)[::-1].copy()
    reference, fused = make_model(spec, np.float32, 5), make_model(spec, np.float32, 5)
    expected = reference.train_step(x[order[:rows]], y[order[:rows]])
    pop = gpu_population(cp, runner, [fused], x, [y])
    losses = pop.gradients(cp.asarray(order), rows)
    np.testing.assert_allclose(losses[0], expected, rtol=1e-5)
    np.testing.assert_allclose(cp.asnumpy(pop.grads_of(0)), reference.grads, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_population_of_three_equals_each_alone(cp, runner, dtype):
    specs = [(10, *CASES[name][1:]) for name in ("3-hidden-gelu", "seed-dropout", "sigmoid-bce")]
    n, batch = 75, 20
    x = np.random.default_rng(2).standard_normal((n, 10)).astype(dtype)
    ys = [data(spec, n, dtype, seed=k)[1] for k, spec in enumerate(specs)]
    order = np.random.default_rng(3).permutation(n)
    steps = -(-n // batch)
    together = [make_model(spec, dtype, 11 + k) for k, spec in enumerate(specs)]
    pop = gpu_population(cp, runner, together, x, ys)
    before = len(runner.launches)
    losses = pop.train(cp.asarray(order), batch, learning_rates(together, steps))
    assert len(runner.launches) - before == 2 * steps
    for k, spec in enumerate(specs):
        alone_model = make_model(spec, dtype, 11 + k)
        alone = gpu_population(cp, runner, [alone_model], x, [ys[k]])
        alone_losses = alone.train(cp.asarray(order), batch, learning_rates([alone_model], steps))
        np.testing.assert_allclose(losses[k], alone_losses[0], **tolerance(dtype))
        np.testing.assert_allclose(
            cp.asnumpy(pop.params_of(k)), cp.asnumpy(alone.params_of(0)), **tolerance(dtype)
        )
        reference = make_model(spec, dtype, 11 + k)
        expected = numpy_train(reference, x, ys[k], order, batch)
        np.testing.assert_allclose(losses[k], expected, **tolerance(dtype))
        np.testing.assert_allclose(
            cp.asnumpy(pop.params_of(k)), reference.params, **tolerance(dtype)
        )


def test_train_population_on_the_gpu_equals_the_cpu_engine():
    """The public way to the fused kernels, with real CuPy: train_population(device="gpu")
    against device="cpu" (losses, validation losses and weights)."""
    runs = on_both_devices(epochs=3)
    for cpu_model, cpu, gpu_model, gpu in zip(*runs["cpu"], *runs["gpu"]):
        for key in ("loss", "val_loss"):
            np.testing.assert_allclose(gpu.history[key], cpu.history[key], rtol=1e-4)
        np.testing.assert_allclose(gpu_model.params, cpu_model.params, rtol=1e-3, atol=1e-4)
