"""GPU check in one script: the gpu tests, then fused-update and MLP-step timings vs a device copy
and PyTorch CUDA.

1. ``pytest -m gpu`` (CuPy kernels vs NumPy twins, Sequential.fit on CuPy vs NumPy).
2. Optimizer updates over 64M float32 parameters (one launch each): GB/s at the bytes each update
   must move, beside a measured device-to-device copy (8 B per element) and PyTorch's fused Adam.
3. Training-step time of the seed MLP 10-64-32-1 and of 784-1024-1024-10 at batch 1024: the
   nastoolkit kernels in a hand-written step over one flat parameter buffer (forward, MSE
   gradient, backward, one Adam update), and PyTorch CUDA (nn.Linear/ReLU, MSE, fused Adam) on
   the same model. Also ``Sequential.fit`` per step where the model API is present.

4. The fused small-MLP kernels (csrc/fused_mlp.cu): one step and one epoch of the seed model
   10-64-Dropout(0.5)-32-1 (Adam, MSE, batch 32, 8,000 rows) against the NumPy path's
   train_step (the check fails beyond float32 rounding), then epoch times: fused for one model,
   for 20 random MLPs one by one and as one population, beside the CuPy-kernels step and
   PyTorch CUDA on the seed model, and ``engine.train_population`` of the 20 with
   ``device="gpu"`` (the fused kernels, uploads included) and ``device="cpu"``.

Takes well under 5 minutes on one modern GPU; exits 0 with a message where no GPU is usable.
Usage: python benchmarks/gpu_check.py [--skip-tests]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from nastoolkit import backend

REPO = Path(__file__).resolve().parent.parent


def run_gpu_tests() -> int:
    print("== pytest -m gpu ==", flush=True)
    # Only the file that holds the gpu tests: collecting all of tests/ would import modules whose
    # dependencies (browser, notebooks) a GPU image may lack, and a collection error fails the run.
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "gpu",
        "-q",
        "-x",
        "-p",
        "no:cacheprovider",
        "tests/kernels/test_cuda.py",
        "tests/kernels/test_fused_mlp_cuda.py",
    ]
    try:
        result = subprocess.run(command, check=False, timeout=300, cwd=REPO)
    except subprocess.TimeoutExpired:
        print("pytest -m gpu did not finish within 300 s\n", flush=True)
        return 1
    print(f"pytest -m gpu exit status {result.returncode}\n", flush=True)
    return result.returncode


def device_ms(cp, run, repeats=20, warmup=3) -> float:
    """Median milliseconds of run() on the device, timed with CUDA events."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        run()
        stop.record()
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop))
    return statistics.median(times)


def update_table(cp, cuda, torch) -> None:
    n = 64 * 1024 * 1024
    rng = cp.random.default_rng(0)
    w, g, s1, s2 = (rng.standard_normal(n, dtype=cp.float32) for _ in range(4))
    s2 = cp.abs(s2)
    dst = cp.empty_like(w)
    rows = [("device copy", 8, device_ms(cp, lambda: cp.copyto(dst, g)))]
    step = iter(range(1, 10**9))
    rows += [
        ("sgd_update", 12, device_ms(cp, lambda: cuda.sgd_update(w, g, 1e-3))),
        ("momentum_update", 20, device_ms(cp, lambda: cuda.momentum_update(w, g, s1, 1e-3))),
        ("adam_update", 28, device_ms(cp, lambda: cuda.adam_update(w, g, s1, s2, next(step)))),
        ("rmsprop_update", 20, device_ms(cp, lambda: cuda.rmsprop_update(w, g, s2))),
        ("adagrad_update", 20, device_ms(cp, lambda: cuda.adagrad_update(w, g, s2))),
    ]
    if torch is not None:
        param = torch.nn.Parameter(torch.zeros(n, device="cuda"))
        param.grad = torch.randn(n, device="cuda")
        optimizer = torch.optim.Adam([param], lr=1e-3, eps=1e-7, fused=True)
        rows.append(("torch Adam fused", 28, device_ms(cp, optimizer.step)))
    copy_rate = 8 * n / rows[0][2] / 1e6
    print(f"== fused optimizer updates, {n:,} float32 params ==")
    print(f"{'update':20s} {'ms':>8s} {'GB/s':>8s} {'of copy':>8s}")
    for name, bytes_per, ms in rows:
        rate = bytes_per * n / ms / 1e6
        print(f"{name:20s} {ms:8.3f} {rate:8.0f} {rate / copy_rate:8.0%}")
    print()


def kernel_step(cp, cuda, sizes, batch):
    """A training step on nastoolkit kernels: one flat parameter buffer, no allocation."""
    shapes = list(itertools.pairwise(sizes))
    total = sum(a * b + b for a, b in shapes)
    rng = cp.random.default_rng(0)
    params = (rng.standard_normal(total, dtype=cp.float32) * 0.05).astype(cp.float32)
    grads, m, v = (cp.zeros(total, cp.float32) for _ in range(3))
    layers, offset = [], 0
    for a, b in shapes:
        kernel, gk = (buf[offset : offset + a * b].reshape(a, b) for buf in (params, grads))
        offset += a * b
        bias, gb = params[offset : offset + b], grads[offset : offset + b]
        offset += b
        layers.append(
            (
                kernel,
                bias,
                gk,
                gb,
                cp.empty((batch, b), cp.float32),
                cp.empty((batch, a), cp.float32),
            )
        )
    x = rng.standard_normal((batch, sizes[0]), dtype=cp.float32)
    target = rng.standard_normal((batch, sizes[-1]), dtype=cp.float32)
    acts = ["relu"] * (len(shapes) - 1) + ["linear"]
    state = {"step": 0}

    def step():
        inputs = [x]
        for (kernel, bias, _, _, y, _), act in zip(layers, acts):
            inputs.append(cuda.dense_forward(inputs[-1], kernel, bias, act, out=y))
        grad = layers[-1][4]  # MSE gradient 2 (y - t) / size, written over the output
        cp.subtract(grad, target, out=grad)
        grad *= 2.0 / grad.size
        for i in reversed(range(len(layers))):
            kernel, _, gk, gb, y, gx = layers[i]
            cuda.dense_backward(
                inputs[i],
                kernel,
                y,
                grad,
                acts[i],
                grad_kernel=gk,
                grad_bias=gb,
                grad_x=gx,
                grad_z=grad,
                need_grad_x=i > 0,
            )
            grad = gx
        state["step"] += 1
        cuda.adam_update(params, grads, m, v, state["step"], learning_rate=1e-3)

    return step


def torch_step(torch, sizes, batch):
    modules = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        modules.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            modules.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*modules).cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7, fused=True)
    x = torch.randn(batch, sizes[0], device="cuda")
    target = torch.randn(batch, sizes[-1], device="cuda")
    loss_fn = torch.nn.MSELoss()

    def step():
        optimizer.zero_grad(set_to_none=False)
        loss_fn(model(x), target).backward()
        optimizer.step()

    return step


def fit_step_ms(sizes, batch) -> str:
    """Per-step wall time of Sequential.fit on CuPy (1 epoch of 20 batches), or why not."""
    try:
        from nastoolkit.layers import Dense
        from nastoolkit.models import Sequential
        from nastoolkit.optimizers import Adam
    except ImportError as exc:
        return f"n/a ({exc})"
    backend.use("cupy")
    try:
        layers = [Dense(sizes[1], activation="relu", input_shape=(sizes[0],))]
        layers += [Dense(s, activation="relu") for s in sizes[2:-1]]
        layers += [Dense(sizes[-1])]
        model = Sequential(layers)
        model.compile(optimizer=Adam(learning_rate=1e-3), loss="mse")
        rng = np.random.default_rng(0)
        X = rng.standard_normal((20 * batch, sizes[0])).astype(np.float32)
        y = rng.standard_normal((20 * batch, sizes[-1])).astype(np.float32)
        model.fit(X, y, epochs=1, batch_size=batch, verbose=0, seed=0)  # warm up
        start = time.perf_counter()
        model.fit(X, y, epochs=2, batch_size=batch, verbose=0, seed=0)
        return f"{(time.perf_counter() - start) / 40 * 1e3:.3f}"
    except Exception as exc:  # noqa: BLE001  (report, never crash the check)
        return f"n/a ({type(exc).__name__}: {exc})"
    finally:
        backend.use("numpy")


def mlp_table(cp, cuda, torch) -> None:
    print("== training step, batch 1024 (MSE, Adam) ==")
    print(f"{'model':22s} {'kernels ms':>11s} {'torch ms':>9s} {'ratio':>6s}  Sequential.fit ms")
    for sizes in ((10, 64, 32, 1), (784, 1024, 1024, 10)):
        ours = device_ms(cp, kernel_step(cp, cuda, sizes, 1024), repeats=50, warmup=5)
        theirs = (
            device_ms(cp, torch_step(torch, sizes, 1024), repeats=50, warmup=5) if torch else None
        )
        name = "-".join(map(str, sizes))
        ratio = f"{ours / theirs:6.2f}" if theirs else "     -"
        theirs_text = f"{theirs:9.3f}" if theirs else "        -"
        print(f"{name:22s} {ours:11.3f} {theirs_text} {ratio}  {fit_step_ms(sizes, 1024)}")
    print()


def fused_models(count: int):
    """The seed model, then count - 1 random MLPs of 1-3 ReLU layers (widths 16-128, dropout
    0 or 0.2) for 10 inputs, each compiled with Adam and MSE and built."""
    from nastoolkit.layers import Dense, Dropout
    from nastoolkit.models import Sequential
    from nastoolkit.optimizers import Adam

    rng = np.random.default_rng(0)
    models = []
    for k in range(count):
        hidden = [(64, 0.5), (32, 0.0)]
        if k:
            hidden = [
                (int(rng.choice([16, 32, 64, 128])), float(rng.choice([0.0, 0.2])))
                for _ in range(int(rng.integers(1, 4)))
            ]
        layers = []
        for units, rate in hidden:
            shape = {} if layers else {"input_shape": (10,)}
            layers.append(Dense(units, activation="relu", **shape))
            if rate:
                layers.append(Dropout(rate, seed=k))
        layers.append(Dense(1))
        model = Sequential(layers, seed=k)
        model.compile(optimizer=Adam(learning_rate=1e-3), loss="mse")
        model.build((None, 10))
        models.append(model)
    return models


def fused_population(cp, models, x, y):
    from nastoolkit import engine
    from nastoolkit.kernels import _cuda_fused

    plans = []
    for model in models:
        plan = engine.plan(model)
        plan.optimizer["i"][2] = model._compiled.optimizer.iterations
        for layer, index in plan.dropouts:
            plan.layers[index]["i"][8] = layer.counter
        plans.append(plan)
    return _cuda_fused.FusedPopulation(
        plans, [m.params for m in models], cp.asarray(x), [y] * len(models), cp
    )


def wall_ms(cp, run, repeats=5) -> float:
    """Median wall milliseconds of run() (device synchronised), after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        cp.cuda.Device().synchronize()
        start = time.perf_counter()
        run()
        cp.cuda.Device().synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def fused_check(cp, cuda, torch, n: int = 8000) -> int:
    """The fused kernels against the NumPy path, then epoch times. Returns 0 or 1 (mismatch)."""
    backend.use("numpy")  # the reference and the plans are NumPy models; fused copies go to the GPU
    batch = 32
    steps = n // batch
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 10)).astype(np.float32)
    y = rng.standard_normal((n, 1)).astype(np.float32)
    order = rng.permutation(n)
    status = 0
    print("== fused small-MLP kernels (csrc/fused_mlp.cu) vs the NumPy path ==")
    for label, count, tol in (("one step", 1, (1e-4, 1e-5)), ("one epoch", steps, (1e-3, 1e-4))):
        reference, fused = fused_models(1)[0], fused_models(1)[0]
        expected = []
        for step in range(count):
            rows = order[step * batch : (step + 1) * batch]
            expected.append(reference.train_step(x[rows], y[rows]))
        pop = fused_population(cp, [fused], x, y)
        losses = pop.train(cp.asarray(order[: count * batch]), batch, np.full((1, count), 1e-3))
        got = cp.asnumpy(pop.params_of(0))
        dparam = float(np.max(np.abs(got - reference.params)))
        dloss = float(np.max(np.abs(losses[0] - np.array(expected)) / np.abs(expected)))
        ok = np.allclose(got, reference.params, rtol=tol[0], atol=tol[1]) and dloss < tol[0]
        status |= 0 if ok else 1
        print(
            f"{label:10s} max |param diff| {dparam:.2e}  max loss rel diff {dloss:.2e}  "
            f"{'ok' if ok else 'MISMATCH'} (rtol {tol[0]:g}, atol {tol[1]:g})"
        )
    order_dev = cp.asarray(order)
    rates = np.full((1, steps), 1e-3)
    one = fused_population(cp, fused_models(1), x, y)
    many = fused_models(20)
    alone = [fused_population(cp, [m], x, y) for m in many]
    together = fused_population(cp, many, x, y)
    rows = [
        ("fused, seed model", wall_ms(cp, lambda: one.train(order_dev, batch, rates))),
        (
            "fused, 20 MLPs one by one",
            wall_ms(cp, lambda: [p.train(order_dev, batch, rates) for p in alone], repeats=3),
        ),
        (
            "fused, 20 MLPs population",
            wall_ms(cp, lambda: together.train(order_dev, batch, np.full((20, steps), 1e-3))),
        ),
        (
            "CuPy kernels step x steps",
            device_ms(cp, kernel_step(cp, cuda, (10, 64, 32, 1), batch)) * steps,
        ),
    ]
    if torch is not None:
        rows.append(
            ("torch step x steps", device_ms(cp, torch_step(torch, (10, 64, 32, 1), batch)) * steps)
        )
    from nastoolkit import engine

    for device in ("gpu", "cpu"):  # the public way: one epoch of the 20, uploads included
        models = fused_models(20)
        rows.append(
            (
                f"train_population {device}, 20",
                wall_ms(
                    cp,
                    lambda m=models, d=device: engine.train_population(
                        m, x, y, epochs=1, batch_size=batch, device=d
                    ),
                    repeats=3,
                ),
            )
        )
    print(f"epoch of {n} rows, batch {batch} ({steps} steps); widths of the 20: "
          + ",".join("-".join(str(int(r["i"][2])) for r in p.models[0].layers) for p in alone[:5])
          + ", ...")  # fmt: skip
    print(f"{'what':28s} {'ms/epoch':>9s} {'us/step':>8s}")
    for name, ms in rows:
        print(f"{name:28s} {ms:9.2f} {ms / steps * 1e3:8.1f}")
    print()
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-tests", action="store_true")
    args = parser.parse_args()
    probe = backend.probe_gpu()
    if not probe.usable:
        print(f"gpu_check: no usable GPU here ({probe.detail}); nothing to check.")
        return 0
    print(f"gpu_check on {probe.detail}\n")
    status = 0 if args.skip_tests else run_gpu_tests()
    import cupy as cp

    from nastoolkit.kernels import _cuda

    start = time.perf_counter()
    _cuda.warmup()
    print(f"compiled every kernel in {time.perf_counter() - start:.1f} s (NVRTC, cached after)\n")
    try:
        import torch

        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    if torch is None:
        print("PyTorch CUDA not available: torch columns skipped\n")
    update_table(cp, _cuda, torch)
    mlp_table(cp, _cuda, torch)
    status |= fused_check(cp, _cuda, torch)
    return status


if __name__ == "__main__":
    sys.exit(main())
