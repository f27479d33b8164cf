"""The fused small-MLP kernels (csrc/fused_mlp.cu) on the CPU, against Sequential.train_step.

g++ builds fused_mlp.cu with csrc/cpu_shim_block.h: every CUDA thread of a block runs as a fiber
that yields at __syncthreads, so shared memory, barriers and atomics behave as on a GPU (the
threads between two barriers run in alternating orders, and shared memory starts as NaN, so a
missing barrier or an unwritten cell shows). The launcher is the real one
(``_cuda_fused.FusedPopulation``) with a ctypes runner in place of CuPy. Each case builds the
same model twice from one seed: one trains through the fused kernels, the other through the
NumPy path's ``train_step`` on the same batches (same dropout bits), and the parameters,
optimizer state, gradients and losses must agree to float32 rounding (float64: to 1e-12).
nvcc compiles the file for sm_80/sm_90 with the suite's flags, warning- and spill-free.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nastoolkit import engine
from nastoolkit.kernels import _cuda_fused, _sources
from nastoolkit.layers import Activation, Dense, Dropout
from nastoolkit.models import Sequential

GXX = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("g++")
NVCC = shutil.which("nvcc")
CSRC = _sources.csrc_dir()
FLAGS = ["-std=c++17", "-O1", "-ffp-contract=off", "-fPIC", "-shared", "-Wall", "-Wextra"]
FLAGS += ["-Werror", "-fno-strict-aliasing"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"]
needs_gxx = pytest.mark.skipif(GXX is None, reason="g++ not found: the CPU shim checks need it")


def launcher_source() -> str:
    """fused_mlp.cu plus one ``int nk_launch_<name>(gx, gy, block, shared, args...)`` each."""
    lines = [f'#include "{CSRC / _cuda_fused.SOURCE}"']
    for name, params in _sources.entry_points(_sources.read_source(_cuda_fused.SOURCE)):
        decl = ", ".join(f"{t} {p}" for t, p in params)
        call = ", ".join(p for _, p in params)
        lines.append(
            f'extern "C" int nk_launch_{name}(unsigned int gx, unsigned int gy, unsigned int '
            f"block, unsigned long long shared, {decl}) {{ return nk_launch_block(gx, gy, block, "
            f"shared, {name}, {call}); }}"
        )
    return "\n".join(lines) + "\n"


def build(out_dir: Path, extra=()) -> Path:
    source = out_dir / "fused_mlp.shim.cpp"
    source.write_text(launcher_source())
    target = out_dir / ("fused_mlp" + ("-asan" if extra else "") + ".so")
    command = [GXX, *FLAGS, *extra, "-include", str(CSRC / "cpu_shim_block.h"), str(source)]
    result = subprocess.run(
        [*command, "-o", str(target)], capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, f"g++ failed for fused_mlp.cu:\n{result.stderr}"
    return target


class ShimRunner:
    """``FusedPopulation``'s runner over the shim library: ``runner(name, grid, block, ...)``."""

    def __init__(self, path: Path):
        self.lib, self.launches = ctypes.CDLL(str(path)), []
        entries = _sources.entry_points(_sources.read_source(_cuda_fused.SOURCE))
        self.params = dict(entries)
        for name, params in entries:
            function = getattr(self.lib, f"nk_launch_{name}")
            types = [ctypes.c_uint] * 3 + [ctypes.c_ulonglong]
            for ctype, _ in params:
                types.append(
                    ctypes.c_void_p
                    if ctype.endswith("*")
                    else {"long long": ctypes.c_longlong, "int": ctypes.c_int}[ctype]
                )
            function.argtypes, function.restype = types, ctypes.c_int

    def __call__(self, name, grid, block, shared, args):
        converted = []
        for (ctype, pname), arg in zip(self.params[name], args, strict=True):
            if ctype.endswith("*"):
                assert isinstance(arg, np.ndarray) and arg.flags.c_contiguous, f"{name}.{pname}"
                converted.append(arg.ctypes.data)
            else:  # CuPy passes a NumPy scalar as its own type: it must be the C type
                want = {"long long": np.int64, "int": np.int32}[ctype]
                assert type(arg) is want, f"{name}.{pname}: {type(arg).__name__} for {ctype}"
                converted.append(int(arg))
        self.launches.append((name, tuple(grid), block, shared))
        status = getattr(self.lib, f"nk_launch_{name}")(*grid, block, shared, *converted)
        assert status == 0, f"{name}: a barrier was reached by only some threads of a block"


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    if GXX is None:
        pytest.skip("g++ not found: the CPU shim checks need it")
    return ShimRunner(build(tmp_path_factory.mktemp("fused-shim")))


# --- models: the fused kernels and the NumPy path on the same batches ----------------------------


def make_model(spec, dtype, seed):
    """``spec``: (in_dim, [layer, ...], loss, optimizer); layers as ("dense", units, act,
    l2) / ("dropout", rate) / ("act", name)."""
    in_dim, layer_specs, loss, optimizer = spec
    layers, first = [], True
    for item in layer_specs:
        shape = {"input_shape": (in_dim,)} if first else {}
        if item[0] == "dense":
            reg = {"kernel_regularizer": "l2"} if len(item) > 3 and item[3] else {}
            layers.append(Dense(item[1], activation=item[2], **shape, **reg))
        elif item[0] == "dropout":
            layers.append(Dropout(item[1], seed=seed + 7, **shape))
        else:
            layers.append(Activation(item[1], **shape))
        first = False
    model = Sequential(layers, seed=seed, dtype=dtype)
    model.compile(optimizer=optimizer(), loss=loss_of(loss))
    model.build((None, in_dim))
    return model


def plan_of(model):
    """``engine.plan`` with the counters the engine's ``_model_args`` fills in."""
    spec = engine.plan(model)
    spec.optimizer["i"][2] = model._compiled.optimizer.iterations
    for layer, index in spec.dropouts:
        spec.layers[index]["i"][8] = layer.counter
    return spec


def data(spec, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    in_dim = spec[0]
    x = rng.standard_normal((n, in_dim)).astype(dtype)
    out = [item for item in spec[1] if item[0] == "dense"][-1][1]
    if spec[2] in ("binary_crossentropy", "bce-logits"):
        y = (rng.random((n, out)) > 0.5).astype(dtype)
    elif spec[2] in ("categorical_crossentropy", "cce-logits"):
        y = np.eye(out, dtype=dtype)[rng.integers(0, out, n)]
    else:
        y = rng.standard_normal((n, out)).astype(dtype)
    return x, y


def numpy_train(model, x, y, order, batch_size):
    """The NumPy path: train_step on each batch of ``order``; returns the losses."""
    out = []
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        out.append(model.train_step(x[rows], y[rows]))
    return np.array(out)


def population(runner, models, x, y_list):
    plans = [plan_of(m) for m in models]
    targets = [engine._targets_for(m, y) for m, y in zip(models, y_list)]
    return _cuda_fused.FusedPopulation(
        plans, [m.params for m in models], x, targets, np, runner=runner
    )


def learning_rates(models, steps):
    return np.array([engine._learning_rates(m._compiled.optimizer, steps) for m in models])


def tolerance(dtype):
    return {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}


def sgd():
    from nastoolkit.optimizers import SGD

    return SGD(learning_rate=0.05)


def momentum():
    from nastoolkit.optimizers import SGD

    return SGD(learning_rate=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)


def adam():
    from nastoolkit.optimizers import Adam

    return Adam(learning_rate=1e-3)


def rmsprop():
    from nastoolkit.optimizers import RMSprop

    return RMSprop(learning_rate=1e-3, momentum=0.5)


def adagrad():
    from nastoolkit.optimizers import Adagrad

    return Adagrad(learning_rate=0.05)


CASES = {
    # one hidden layer, odd widths, MSE, plain SGD
    "1-hidden": (7, [("dense", 13, "relu"), ("dense", 3, "linear")], "mse", sgd),
    # the seed model: dropout between two hidden layers, Adam
    "seed-dropout": (
        10,
        [("dense", 64, "relu"), ("dropout", 0.5), ("dense", 32, "relu"), ("dense", 1, "linear")],
        "mse",
        adam,
    ),
    # three hidden layers, activations that read z (gelu, silu), L2, Nesterov + weight decay
    "3-hidden-gelu": (
        5,
        [
            ("dense", 17, "gelu", True),
            ("dense", 9, "tanh"),
            ("dropout", 0.25),
            ("dense", 11, "silu"),
            ("dense", 2, "linear"),
        ],
        "mse",
        momentum,
    ),
    # the widest layers the kernel takes, softmax fused with categorical cross-entropy
    "wide-softmax": (
        128,
        [("dense", 128, "elu"), ("dense", 128, "selu"), ("dense", 5, "softmax")],
        "categorical_crossentropy",
        rmsprop,
    ),
    # sigmoid fused with binary cross-entropy, an Activation layer, Adagrad
    "sigmoid-bce": (
        6,
        [("dense", 8, "linear"), ("act", "softplus"), ("dense", 1, "sigmoid")],
        "binary_crossentropy",
        adagrad,
    ),
    "huber": (4, [("dense", 5, "leaky_relu"), ("dense", 2, "linear")], "huber", sgd),
    "mae-sum": (4, [("dense", 6, "hard_sigmoid"), ("dense", 3, "exponential")], "mae-sum", sgd),
    # cross-entropies on logits (no fused activation): the loss computes the sigmoid/softmax
    "bce-logits": (5, [("dense", 7, "softsign"), ("dense", 3, "linear")], "bce-logits", adam),
    "cce-logits": (5, [("dense", 9, "sigmoid"), ("dense", 4, "linear")], "cce-logits", adam),
}


def loss_of(name):
    """A loss from a CASES name (strings Keras accepts, or a configured loss object)."""
    from nastoolkit import losses

    return {
        "mae-sum": lambda: losses.MeanAbsoluteError(reduction="sum"),
        "bce-logits": lambda: losses.BinaryCrossentropy(from_logits=True),
        "cce-logits": lambda: losses.CategoricalCrossentropy(from_logits=True),
    }.get(name, lambda: name)()


@needs_gxx
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_steps_equal_numpy_train_step(runner, case, dtype):
    """Three steps, the last batch a remainder (and, at batch 45, tiles of 32 + 13 rows)."""
    spec = CASES[case]
    n, batch = 111, 45
    x, y = data(spec, n, dtype)
    order = np.random.default_rng(1).permutation(n)
    reference, fused = make_model(spec, dtype, 3), make_model(spec, dtype, 3)
    expected = numpy_train(reference, x, y, order, batch)
    pop = population(runner, [fused], x, [y])
    steps = len(expected)
    losses = pop.train(order, batch, learning_rates([fused], steps))
    tol = tolerance(dtype)
    np.testing.assert_allclose(losses[0], expected, **tol)
    np.testing.assert_allclose(pop.params_of(0), reference.params, **tol)
    state = reference._compiled.optimizer._slot_of(reference.params).state
    buffers = [s for s in plan_of(reference).state if s is not None]
    for got, want in zip(pop.state_of(0), buffers):
        np.testing.assert_allclose(got, want, **tol)
    assert state is not None
    assert not np.array_equal(pop.params_of(0), fused.params), "training changed nothing"
    assert (pop.grads == 0).all(), "the update kernel leaves the gradients cleared"


@needs_gxx
@pytest.mark.parametrize("rows", [1, 31, 32, 33, 70])
def test_one_batch_gradients_equal_numpy(runner, rows):
    """The gradient buffer after one forward+backward launch, with dropout on, for batch sizes
    around the 32-row tile (one tile, a full tile, a tile and one row, three tiles)."""
    spec = CASES["seed-dropout"]
    x, y = data(spec, 80, np.float32, seed=rows)
    order = np.arange(80)[::-1].copy()
    reference, fused = make_model(spec, np.float32, 5), make_model(spec, np.float32, 5)
    expected = reference.train_step(x[order[:rows]], y[order[:rows]])
    pop = population(runner, [fused], x, [y])
    assert pop.tile_rows == [32]
    losses = pop.gradients(order, rows)
    np.testing.assert_allclose(losses[0], expected, rtol=2e-6)
    np.testing.assert_allclose(pop.grads_of(0), reference.grads, rtol=2e-5, atol=1e-6)
    grid = runner.launches[-1][1]
    assert grid == (-(-rows // 32), 1)


HIDDEN_ACTS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "silu")
HIDDEN_ACTS += ("softplus", "softsign", "hard_sigmoid", "linear", "softmax")


@needs_gxx
@pytest.mark.parametrize("seed", range(12))
def test_fuzz_random_architectures(runner, seed):
    """Random depths (1-4 hidden), widths (1-128), activations, dropout, batch sizes, dtypes
    and optimizers: two steps equal the NumPy path's."""
    rng = np.random.default_rng(100 + seed)
    dtype = (np.float32, np.float64)[seed % 2]
    in_dim = int(rng.integers(1, 129))
    layers = []
    for _ in range(int(rng.integers(1, 5))):
        layers.append(("dense", int(rng.integers(1, 129)), str(rng.choice(HIDDEN_ACTS))))
        if rng.random() < 0.4:
            layers.append(("dropout", float(rng.choice([0.1, 0.3, 0.5]))))
    layers.append(("dense", int(rng.integers(1, 5)), "linear"))
    optimizer = (sgd, momentum, adam, rmsprop, adagrad)[seed % 5]
    spec = (in_dim, layers, ("mse", "huber", "mae-sum")[seed % 3], optimizer)
    n = int(rng.integers(2, 90))
    batch = int(rng.integers(1, n + 1))
    x, y = data(spec, n, dtype, seed=seed)
    order = rng.permutation(n)[: min(n, 2 * batch)]
    reference, fused = make_model(spec, dtype, seed), make_model(spec, dtype, seed)
    expected = numpy_train(reference, x, y, order, batch)
    pop = population(runner, [fused], x, [y])
    losses = pop.train(order, batch, learning_rates([fused], len(expected)))
    tol = tolerance(dtype)
    np.testing.assert_allclose(losses[0], expected, **tol, err_msg=str(spec))
    np.testing.assert_allclose(pop.params_of(0), reference.params, **tol, err_msg=str(spec))


@needs_gxx
def test_dropout_off_differs_from_dropout_on(runner):
    """The dropout bits matter: the same model without its Dropout trains to other weights
    (so the agreement above is not the dropout being skipped on both sides)."""
    on = CASES["seed-dropout"]
    off = (on[0], [item for item in on[1] if item[0] != "dropout"], on[2], on[3])
    x, y = data(on, 64, np.float32)
    order = np.arange(64)
    results = []
    for spec in (on, off):
        model = make_model(spec, np.float32, 3)
        pop = population(runner, [model], x, [y])
        pop.train(order, 32, learning_rates([model], 2))
        results.append(pop.params_of(0).copy())
    assert np.abs(results[0] - results[1]).max() > 1e-4


@needs_gxx
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_population_of_three_equals_each_alone(runner, dtype):
    """Three heterogeneous models (widths, depths, losses, optimizers) in one launch per step
    end where each ends trained alone, and where the NumPy path ends."""
    names = ("3-hidden-gelu", "seed-dropout", "sigmoid-bce")
    specs = [CASES[name] for name in names]
    in_dim = 10
    specs = [(in_dim, *spec[1:]) for spec in specs]
    n, batch = 75, 20
    x = np.random.default_rng(2).standard_normal((n, in_dim)).astype(dtype)
    ys = [data(spec, n, dtype, seed=k)[1] for k, spec in enumerate(specs)]
    order = np.random.default_rng(3).permutation(n)
    steps = -(-n // batch)
    together = [make_model(spec, dtype, 11 + k) for k, spec in enumerate(specs)]
    pop = population(runner, together, x, ys)
    before = len(runner.launches)
    losses = pop.train(order, batch, learning_rates(together, steps))
    assert len(runner.launches) - before == 2 * steps, "two launches per step for all models"
    assert {g[1] for _, g, _, _ in runner.launches[before:]} == {3}, "grid y = the 3 models"
    for k, spec in enumerate(specs):
        alone_model = make_model(spec, dtype, 11 + k)
        alone = population(runner, [alone_model], x, [ys[k]])
        alone_losses = alone.train(order, batch, learning_rates([alone_model], steps))
        np.testing.assert_array_equal(losses[k], alone_losses[0])  # the shim adds in one order
        np.testing.assert_array_equal(pop.params_of(k), alone.params_of(0))
        reference = make_model(spec, dtype, 11 + k)
        expected = numpy_train(reference, x, ys[k], order, batch)
        np.testing.assert_allclose(losses[k], expected, **tolerance(dtype))
        np.testing.assert_allclose(pop.params_of(k), reference.params, **tolerance(dtype))


@needs_gxx
def test_second_call_continues_counters_and_iterations(runner):
    """Two train calls (two epochs) equal the NumPy path over both: dropout counters and Adam's
    step count continue from the first call."""
    spec = CASES["seed-dropout"]
    x, y = data(spec, 64, np.float32)
    reference, fused = make_model(spec, np.float32, 8), make_model(spec, np.float32, 8)
    pop = population(runner, [fused], x, [y])
    for epoch in range(2):
        order = np.random.default_rng(epoch).permutation(64)
        expected = numpy_train(reference, x, y, order, 16)
        losses = pop.train(order, 16, learning_rates([fused], 4))
        np.testing.assert_allclose(losses[0], expected, rtol=2e-5)
    np.testing.assert_allclose(pop.params_of(0), reference.params, rtol=2e-5, atol=2e-6)
    state = plan_of(fused).state  # the model's own Adam buffers, still at their initial zeros
    assert not state[0].any()
    pop.copy_out(0, fused.params, state)
    np.testing.assert_allclose(fused.params, reference.params, rtol=2e-5, atol=2e-6)
    for got, want in zip(state, plan_of(reference).state):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_a_model_stops_at_its_first_non_finite_loss_like_the_cpu_engine(runner):
    """One model's targets hold a NaN row: its batch has a NaN loss, the batches after it are
    finite again. That model updates nothing from that step on, while the model beside it
    trains on: each ends as the CPU engine's run of it alone (which ends there), not as a run
    that skipped only the bad step. (fit refuses such targets; the kernels must not rely on it.)"""
    spec = (5, [("dense", 8, "relu"), ("dense", 2, "linear")], "mse", sgd)
    x, y = data(spec, 96, np.float32)
    order = np.random.default_rng(0).permutation(96)
    spiky = y.copy()
    spiky[order[40]] = np.nan  # in step 5 of 12
    models = [make_model(spec, np.float32, 3), make_model(spec, np.float32, 4)]
    twins = [make_model(spec, np.float32, 3), make_model(spec, np.float32, 4)]
    pop = _cuda_fused.FusedPopulation(
        [plan_of(m) for m in models], [m.params for m in models], x, [spiky, y], np, runner
    )
    losses = pop.train(order, 8, learning_rates(models, 12))
    assert not np.isfinite(losses[0][5]) and np.isfinite(losses[0][6:]).all()
    for p, (twin, targets) in enumerate(zip(twins, (spiky, y))):
        expected = engine.train_epoch(twin, x, targets, order, 8)
        assert len(expected) == (6 if p == 0 else 12)
        np.testing.assert_allclose(losses[p][: len(expected)], expected, rtol=2e-5)
        np.testing.assert_allclose(pop.params_of(p), twin.params, rtol=2e-5, atol=2e-6)


# --- the launcher's checks (before anything is launched) ----------------------------------------


def test_launcher_rejects_what_the_kernel_cannot_run():
    def failing(*_):
        raise AssertionError("launched")

    x = np.zeros((4, 3), np.float32)
    wide = make_model(
        (3, [("dense", 129, "relu"), ("dense", 1, "linear")], "mse", sgd), "float32", 0
    )
    with pytest.raises(ValueError, match="129 wide; the fused kernel takes widths 1..128"):
        _cuda_fused.FusedPopulation(
            [plan_of(wide)], [wide.params], x, [np.zeros((4, 1), np.float32)], np, failing
        )
    ok = make_model((3, [("dense", 2, "relu")], "mse", sgd), "float32", 0)
    with pytest.raises(ValueError, match=r"targets must have shape \(4, 2\)"):
        _cuda_fused.FusedPopulation(
            [plan_of(ok)], [ok.params], x, [np.zeros((4, 3), np.float32)], np, failing
        )
    with pytest.raises(TypeError, match="x must be a 2-D float32 array"):
        _cuda_fused.FusedPopulation(
            [plan_of(ok)], [ok.params], x.astype(np.float64), [np.zeros((4, 2))], np, failing
        )
    pop = _cuda_fused.FusedPopulation(
        [plan_of(ok)], [ok.params], x, [np.zeros((4, 2), np.float32)], np, failing
    )
    with pytest.raises(ValueError, match=r"learning_rates must have shape \(1, 2\)"):
        pop.train(np.arange(4), 2, np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"order must be 1-D row indices in \[0, 4\)"):
        pop.train(np.array([0, 4]), 2, np.zeros((1, 1)))


def test_tile_rows_shrink_to_fit_shared_memory():
    model = make_model(
        (128, [("dense", 128, "gelu"), ("dense", 128, "silu"), ("dense", 128, "relu")], "mse", sgd),
        "float64",
        0,
    )
    layers = plan_of(model).layers
    rows = _cuda_fused.tile_rows_for(layers, 128, 8)
    assert 1 <= rows < _cuda_fused.MAX_TILE_ROWS
    assert _cuda_fused.shared_bytes(layers, 128, rows, 8) <= _cuda_fused.SHARED_LIMIT
    assert _cuda_fused.shared_bytes(layers, 128, 2 * rows, 8) > _cuda_fused.SHARED_LIMIT


# --- builds: sanitizers on the CPU, nvcc for the GPU ----------------------------------------------


def asan_case(library_dir: Path) -> None:
    """One population step through the sanitized shim (buffers of exact size)."""
    runner = ShimRunner(library_dir / "fused_mlp-asan.so")
    specs = [CASES["3-hidden-gelu"], (5, *CASES["huber"][1:])]
    specs[1] = (5, [("dense", 5, "leaky_relu"), ("dense", 2, "linear")], "huber", sgd)
    models = [make_model(spec, np.float32, k) for k, spec in enumerate(specs)]
    x, y = data(specs[0], 37, np.float32)
    pop = population(runner, models, x, [y, y])
    losses = pop.train(np.arange(37), 20, learning_rates(models, 2))
    assert np.isfinite(losses).all()
    print("asan case ok")


@needs_gxx
def test_sanitized_build_runs_clean(tmp_path):
    libasan = subprocess.run(
        [GXX, "-print-file-name=libasan.so"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not os.path.isabs(libasan):
        pytest.skip(f"g++ has no AddressSanitizer runtime ({libasan!r})")
    build(tmp_path, SANITIZE)
    env = {
        **os.environ,
        "LD_PRELOAD": libasan,
        # fibers switch stacks with swapcontext, which ASan cannot follow for stack checks
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:detect_stack_use_after_return=0",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    }
    result = subprocess.run(
        [sys.executable, __file__, "--asan-case", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0 and "asan case ok" in result.stdout, (
        f"sanitized run failed (rc {result.returncode}):\n{result.stdout}\n{result.stderr[-4000:]}"
    )


@pytest.mark.skipif(NVCC is None, reason="nvcc not found on PATH: cannot compile fused_mlp.cu")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_nvcc_compiles_without_warnings_or_spills(tmp_path, arch):
    """The text NVRTC gets (headers inlined), with the compile test's flags."""
    source = tmp_path / "fused_mlp.cu"
    source.write_text(_sources.expand_includes(_cuda_fused.SOURCE))
    command = [NVCC, "-cubin", f"-arch={arch}", "-std=c++17", "-fmad=false", "-Werror"]
    command += ["all-warnings", "-Xptxas", "-warn-spills,-warn-lmem-usage", "--resource-usage"]
    command += ["-x", "cu", str(source), "-o", str(tmp_path / "fused_mlp.cubin")]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for name in ("fused_mlp_step", "fused_mlp_update"):
        for suffix in ("f32", "f64"):
            assert f"Function properties for {name}_{suffix}" in output
    frames = [line.strip() for line in output.splitlines() if "spill stores" in line]
    assert len(frames) >= 4
    for frame in frames:  # -warn-lmem-usage already fails the build on local memory
        assert frame == "0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads", frame


def test_launcher_examples_run():
    import doctest

    result = doctest.testmod(_cuda_fused)
    assert result.attempted >= 4 and result.failed == 0


if __name__ == "__main__" and sys.argv[1:2] == ["--asan-case"]:
    asan_case(Path(sys.argv[2]))


# --- train_population(device="gpu"): the public way to the fused kernels ------------------------


def _search_like_models(seed, dtype=np.float32):
    """Three different classifiers of 6 features into 4 classes (sparse labels), as a search
    would train: dropout, tanh/relu, Adam and momentum."""
    from nastoolkit.optimizers import SGD, Adam

    stacks = [
        [Dense(12, activation="relu", input_shape=(6,)), Dropout(0.3, seed=seed), Dense(4)],
        [Dense(9, activation="tanh", input_shape=(6,)), Dense(7, activation="relu"), Dense(4)],
        [Dense(16, activation="relu", input_shape=(6,)), Dense(4)],
    ]
    models = []
    for k, stack in enumerate(stacks):
        stack[-1] = Dense(4, activation="softmax")
        model = Sequential(stack, seed=seed + k, dtype=dtype)
        optimizer = Adam(1e-2) if k != 1 else SGD(0.05, momentum=0.9)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        models.append(model)
    return models


def on_both_devices(**options) -> dict:
    """device -> (models, train_population's results) for "cpu" and "gpu": the same seeded
    models trained on one four-class task with the same ``options`` (epochs, patience)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((150, 6)).astype(np.float32)
    y = (x[:, 0] > 0) * 2 + (x[:, 1] > 0)
    val = (rng.standard_normal((40, 6)).astype(np.float32), rng.integers(0, 4, 40))
    runs = {}
    for device in ("cpu", "gpu"):
        models = _search_like_models(5)
        runs[device] = (
            models,
            engine.train_population(
                models, x, y, batch_size=16, validation_data=val, seed=3, device=device, **options
            ),
        )
    return runs


def test_train_population_on_the_gpu_path_equals_the_cpu_engine(runner, monkeypatch):
    """device="gpu" (the fused kernels, here on the CPU shim) trains every model as the CPU
    engine does: losses, validation losses, early stopping and weights, to float32 rounding;
    sparse labels go in as one-hot categorical cross-entropy."""
    monkeypatch.setattr(engine, "_gpu_runner", lambda: (np, runner))
    results = on_both_devices(epochs=4, patience=1)
    for cpu_model, cpu, gpu_model, gpu in zip(*results["cpu"], *results["gpu"]):
        assert (gpu.stopped_epoch, gpu.stopped_reason) == (cpu.stopped_epoch, cpu.stopped_reason)
        for key in ("loss", "val_loss"):
            np.testing.assert_allclose(gpu.history[key], cpu.history[key], rtol=2e-5)
        np.testing.assert_allclose(gpu_model.params, cpu_model.params, rtol=2e-4, atol=2e-5)
        assert gpu_model._compiled.optimizer.iterations == cpu_model._compiled.optimizer.iterations
    assert any(r.stopped_reason == "early stopping" for r in results["gpu"][1])


def test_train_population_gpu_path_needs_no_cpp_engine(runner, monkeypatch):
    """A GPU machine without g++ still trains on device="gpu": the fused kernels take the plan,
    not the C++ engine's library."""
    from nastoolkit.kernels import _engine

    monkeypatch.setattr(engine, "_gpu_runner", lambda: (np, runner))
    monkeypatch.setattr(_engine, "available", lambda: False)
    x = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)
    models = _search_like_models(1)
    before = [model.params.copy() for model in models]
    results = engine.train_population(models, x, np.arange(40) % 4, epochs=1, device="gpu")
    assert all(len(r.history["loss"]) == 1 for r in results)
    assert all(not np.array_equal(m.params, b) for m, b in zip(models, before))
    with pytest.raises(engine.Unsupported, match="compiled engine is unavailable"):
        engine.train_population(_search_like_models(1), x, np.arange(40) % 4, device="cpu")


def test_train_population_gpu_path_says_what_it_cannot_do(runner, monkeypatch):
    x, y = np.zeros((20, 6), np.float32), np.zeros(20, np.int64)
    with pytest.raises(ValueError, match='device must be "cpu" or "gpu"'):
        engine.train_population(_search_like_models(0), x, y, device="cuda")
    with pytest.raises(ValueError, match='sample_weight is not supported with device="gpu"'):
        engine.train_population(
            _search_like_models(0), x, y, sample_weight=np.ones(20), device="gpu"
        )
    monkeypatch.setitem(sys.modules, "cupy", None)  # no CuPy: the reason, and the way out
    engine._gpu_runner.cache_clear()
    with pytest.raises(RuntimeError, match='needs CuPy and a CUDA GPU .*device="cpu"'):
        engine.train_population(_search_like_models(0), x, y, device="gpu")
    engine._gpu_runner.cache_clear()
    monkeypatch.setattr(engine, "_gpu_runner", lambda: (np, runner))
    wide = Sequential([Dense(200, activation="relu", input_shape=(6,)), Dense(1)], seed=0)
    wide.compile(optimizer="sgd", loss="mse")
    before = wide.params.copy()
    with pytest.raises(engine.Unsupported, match=r'device="gpu": models\[1\]: .* 200 wide'):
        engine.train_population(
            [_search_like_models(0)[0], wide], x, np.zeros((20, 1), np.float32), device="gpu"
        )
    np.testing.assert_array_equal(wide.params, before)  # refused before anything trained
