"""Seconds per epoch of the tutorial's seed workload: nastoolkit vs PyTorch eager vs JAX vs Keras 3.

Workload: 10 -> 64 (relu) -> Dropout 0.5 -> 32 (relu) -> 1, Adam, MSE, batch 32, 8,000 training
and 2,000 validation rows, validation loss computed each epoch. Every framework runs on one CPU
thread, epochs are interleaved round-robin so machine noise hits all of them alike, and the table
gives median seconds per epoch with ratios. Rows: ``nastoolkit`` (``fit`` as it runs by default:
in the compiled engine, validation on NumPy), ``numpy path`` (the same ``fit`` inside
``engine.numpy_path()``), and where installed PyTorch eager, JAX (the whole epoch as one jitted
``lax.scan``) and Keras 3 (on its torch backend unless KERAS_BACKEND says otherwise); missing
frameworks are skipped with a line.

The second table is the large dense workload (784 -> 1024 -> 1024 -> 10, batch 1024, Adam,
softmax cross-entropy, 8,192 rows) against PyTorch eager, and the third one Adam update over 10M
float32 parameters (bench_optimizer_update).

    python benchmarks/bench_core.py [--epochs 5] [--no-large] [--no-update] [--baseline OLD]

``--baseline`` adds rows for another checkout's nastoolkit (``git worktree add /tmp/old
COMMIT``): its default ``fit`` and its NumPy path (the same where it predates the engine),
timed in the same process and the same round-robin, for before/after comparisons.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
# PyTorch's idle OpenMP workers spin by default and steal the core the framework timed next to it
# runs on (measured: nastoolkit 0.046 -> 0.035 s/epoch with this, PyTorch unchanged)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("KERAS_BACKEND", "torch")
# XLA on one CPU thread too, like every other column
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)


sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nastoolkit.datasets import load_synthetic_regression
from nastoolkit.layers import Dense, Dropout
from nastoolkit.losses import MeanSquaredError
from nastoolkit.models import Sequential
from nastoolkit.optimizers import Adam


def data():
    return load_synthetic_regression(n_samples=10_000, seed=0)


def nastoolkit_runner(train, val, package=None):
    """The seed workload in this checkout's nastoolkit, or in ``package`` (a baseline copy)."""
    if package is None:
        seq, dense, dropout, adam, mse = Sequential, Dense, Dropout, Adam, MeanSquaredError
    else:
        seq = importlib.import_module(package + ".models").Sequential
        dense = importlib.import_module(package + ".layers").Dense
        dropout = importlib.import_module(package + ".layers").Dropout
        adam = importlib.import_module(package + ".optimizers").Adam
        mse = importlib.import_module(package + ".losses").MeanSquaredError
    model = seq(seed=0)
    model.add(dense(64, activation="relu", input_shape=(10,)))
    model.add(dropout(0.5))
    model.add(dense(32, activation="relu"))
    model.add(dense(1, activation="linear"))
    model.compile(optimizer=adam(), loss=mse())

    def epoch():
        model.fit(*train, epochs=1, batch_size=32, validation_data=val, verbose=0)
        return model.evaluate(*val, verbose=0)

    return epoch


def torch_runner(train, val):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(10, 64),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(64, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 1),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.MSELoss()
    X, y = (torch.from_numpy(a) for a in train)
    Xv, yv = (torch.from_numpy(a) for a in val)

    def epoch():
        net.train()
        for idx in torch.randperm(len(X)).split(32):
            opt.zero_grad()
            loss = loss_fn(net(X[idx]), y[idx])
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            return float(loss_fn(net(Xv), yv))

    return epoch


def keras_runner(train, val):
    import keras

    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(1)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.layers.Input((10,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.MeanSquaredError())

    def epoch():
        model.fit(*train, epochs=1, batch_size=32, validation_data=val, verbose=0)
        return model.evaluate(*val, verbose=0)

    return epoch


def numpy_path_runner(train, val, package=None):
    """The same model and fit call inside ``engine.numpy_path()``: step by step in Python, the
    path every model took before the compiled engine became fit's default."""
    epoch_in_engine = nastoolkit_runner(train, val, package)
    engine = importlib.import_module((package or "nastoolkit") + ".engine")

    def epoch():
        with engine.numpy_path():
            return epoch_in_engine()

    return epoch


def jax_runner(train, val):
    """The seed workload as one jitted ``lax.scan`` over an epoch's batches (XLA on the CPU):
    Glorot-uniform init, inverted dropout from ``jax.random``, Adam as Keras writes it."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_platforms", "cpu")
    sizes = [(10, 64), (64, 32), (32, 1)]
    key = jax.random.PRNGKey(0)
    params = []
    for fan_in, fan_out in sizes:
        key, sub = jax.random.split(key)
        limit = (6.0 / (fan_in + fan_out)) ** 0.5
        params.append(
            (
                jax.random.uniform(sub, (fan_in, fan_out), minval=-limit, maxval=limit),
                jnp.zeros(fan_out),
            )
        )

    def forward(p, x, drop_key=None):
        h = jax.nn.relu(x @ p[0][0] + p[0][1])
        if drop_key is not None:
            h = h * jax.random.bernoulli(drop_key, 0.5, h.shape) * 2.0
        h = jax.nn.relu(h @ p[1][0] + p[1][1])
        return h @ p[2][0] + p[2][1]

    def loss(p, x, y, drop_key=None):
        return jnp.mean((forward(p, x, drop_key) - y) ** 2)

    def step(carry, batch):
        p, m, v, t, k = carry
        x, y = batch
        k, sub = jax.random.split(k)
        g = jax.grad(loss)(p, x, y, sub)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: m + 0.1 * (g - m), m, g)
        v = jax.tree_util.tree_map(lambda v, g: v + 0.001 * (g * g - v), v, g)
        alpha = 1e-3 * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        p = jax.tree_util.tree_map(lambda p, m, v: p - alpha * m / (jnp.sqrt(v) + 1e-7), p, m, v)
        return (p, m, v, t, k), None

    @jax.jit
    def run_epoch(state, x, y, perm_key):
        order = jax.random.permutation(perm_key, x.shape[0])
        steps = x.shape[0] // 32
        xb = x[order][: steps * 32].reshape(steps, 32, -1)
        yb = y[order][: steps * 32].reshape(steps, 32, -1)
        state, _ = jax.lax.scan(step, state, (xb, yb))
        return state

    validation_loss = jax.jit(loss)
    X, y = (jnp.asarray(a) for a in train)
    Xv, yv = (jnp.asarray(a) for a in val)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = [(params, zeros, zeros, 0, jax.random.PRNGKey(1))]
    keys = [jax.random.PRNGKey(2)]

    def epoch():
        keys[0], sub = jax.random.split(keys[0])
        state[0] = run_epoch(state[0], X, y, sub)
        return float(validation_loss(state[0][0], Xv, yv))

    return epoch


def baseline_package(checkout: str) -> str:
    """Another checkout's nastoolkit, importable beside this one as ``nastoolkit_baseline``
    (its modules import each other relatively), so both run side by side in one process."""
    source = os.path.join(checkout, "nastoolkit")
    if not os.path.isfile(os.path.join(source, "__init__.py")):
        raise SystemExit(f"--baseline {checkout!r}: no nastoolkit package in that folder")
    folder = tempfile.mkdtemp(prefix="nastoolkit-baseline-")
    shutil.copytree(source, os.path.join(folder, "nastoolkit_baseline"))
    sys.path.insert(0, folder)
    return "nastoolkit_baseline"


def available_runners(baseline=None):
    runners = {"nastoolkit": nastoolkit_runner, "numpy path": numpy_path_runner}
    if baseline is not None:
        package = baseline_package(baseline)
        runners["baseline"] = lambda train, val: nastoolkit_runner(train, val, package)
        engine_source = pathlib.Path(baseline, "nastoolkit", "engine.py")
        if engine_source.is_file() and "def numpy_path" in engine_source.read_text():
            runners["baseline numpy"] = lambda train, val: numpy_path_runner(train, val, package)
    try:
        import torch  # noqa: F401

        runners["pytorch eager"] = torch_runner
    except ImportError:
        print("(PyTorch not installed: its column is skipped)")
    try:
        import jax  # noqa: F401

        runners["jax lax.scan"] = jax_runner
    except ImportError:
        print("(JAX not installed: its column is skipped)")
    try:
        import keras  # noqa: F401

        runners["keras 3"] = keras_runner
    except ImportError:
        print("(Keras not installed: its column is skipped)")
    return runners


LARGE = (784, 1024, 1024, 10)  # the large dense workload: softmax cross-entropy, Adam
LARGE_BATCH, LARGE_ROWS = 1024, 8192


def large_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((LARGE_ROWS, LARGE[0])).astype(np.float32)
    return x, rng.integers(0, LARGE[-1], LARGE_ROWS)


def nastoolkit_large_runner(x, y, package=None):
    """784 -> 1024 -> 1024 -> 10 at batch 1024 in ``fit`` (its default path: the NumPy path, as
    the engine's size rule sends steps this large to NumPy's BLAS)."""
    mod = importlib.import_module
    pkg = package or "nastoolkit"
    seq, dense = mod(pkg + ".models").Sequential, mod(pkg + ".layers").Dense
    model = seq(seed=0)
    model.add(dense(LARGE[1], activation="relu", input_shape=(LARGE[0],)))
    model.add(dense(LARGE[2], activation="relu"))
    model.add(dense(LARGE[3], activation="softmax"))
    model.compile(optimizer=mod(pkg + ".optimizers").Adam(), loss="sparse_categorical_crossentropy")

    def epoch():
        return model.fit(x, y, epochs=1, batch_size=LARGE_BATCH, verbose=0).history["loss"][-1]

    return epoch


def torch_large_runner(x, y):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(LARGE[0], LARGE[1]),
        torch.nn.ReLU(),
        torch.nn.Linear(LARGE[1], LARGE[2]),
        torch.nn.ReLU(),
        torch.nn.Linear(LARGE[2], LARGE[3]),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    X, Y = torch.from_numpy(x), torch.from_numpy(y)

    def epoch():
        total = 0.0
        for idx in torch.randperm(len(X)).split(LARGE_BATCH):
            opt.zero_grad()
            loss = loss_fn(net(X[idx]), Y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        return total / len(X)

    return epoch


def interleaved(runners: dict, epochs: int) -> tuple[dict, dict]:
    """Seconds of each epoch per runner, and each runner's last return value; one warm-up epoch
    each first (imports, first allocations, JIT caches), then epochs round-robin."""
    for run in runners.values():
        run()
    times = {name: [] for name in runners}
    last = {}
    names = list(runners)
    for epoch in range(epochs):
        # rotate who goes first: a framework timed right after a heavy one (Keras) finds the
        # caches cold, so a fixed order would favour some columns
        shift = epoch % len(names)
        for name in names[shift:] + names[:shift]:
            t = time.perf_counter()
            last[name] = runners[name]()
            times[name].append(time.perf_counter() - t)
    return times, last


def print_table(title: str, times: dict, last: dict, value: str) -> None:
    ours = statistics.median(times["nastoolkit"])
    print(f"\n{title}")
    print(f"{'framework':<16}{'median s/epoch':>16}{'x nastoolkit':>14}{value:>12}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<16}{med:>16.4f}{med / ours:>14.2f}{last[name]:>12.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per framework")
    parser.add_argument(
        "--no-update", action="store_true", help="skip the 10M-parameter update table"
    )
    parser.add_argument("--no-large", action="store_true", help="skip the 784-1024-1024-10 table")
    parser.add_argument(
        "--baseline",
        metavar="CHECKOUT",
        help="also time the nastoolkit of another checkout (e.g. a git worktree of an older "
        "commit), interleaved with the rest, to see a change's effect side by side",
    )
    args = parser.parse_args(argv)
    train, val = data()
    made = available_runners(args.baseline)
    runners = {name: make(train, val) for name, make in made.items()}
    times, last = interleaved(runners, args.epochs)
    print_table(
        f"Seed workload, {args.epochs} epochs each, interleaved (1 thread each):",
        times,
        last,
        "val MSE",
    )
    if not args.no_large:
        x, y = large_data()
        large = {"nastoolkit": nastoolkit_large_runner(x, y)}
        if "baseline" in made:
            large["baseline"] = nastoolkit_large_runner(x, y, "nastoolkit_baseline")
        if "pytorch eager" in made:
            large["pytorch eager"] = torch_large_runner(x, y)
        times, last = interleaved(large, args.epochs)
        print_table(
            f"Large dense 784-1024-1024-10, batch {LARGE_BATCH}, {LARGE_ROWS} rows, Adam, "
            f"softmax cross-entropy, {args.epochs} epochs each, interleaved (1 thread each):",
            times,
            last,
            "train loss",
        )
    if not args.no_update:
        from bench_optimizer_update import main as update_main

        print()
        sys.argv = sys.argv[:1]  # its own argparse: run it with its defaults
        update_main()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
