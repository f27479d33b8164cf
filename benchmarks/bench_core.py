"""Seconds per epoch of the tutorial's seed workload: nastoolkit vs PyTorch eager vs Keras 3.

Workload: 10 -> 64 (relu) -> Dropout 0.5 -> 32 (relu) -> 1, Adam, MSE, batch 32, 8,000 training
and 2,000 validation rows, validation loss computed each epoch. Every framework runs on one CPU
thread, epochs are interleaved round-robin so machine noise hits all of them alike, and the table
gives median seconds per epoch with ratios. PyTorch and Keras are optional (columns are skipped
when missing); Keras runs on its torch backend unless KERAS_BACKEND says otherwise.

Then, as the second table, one Adam update over 10M float32 parameters (bench_optimizer_update).

    python benchmarks/bench_core.py [--epochs 5] [--no-update]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
# PyTorch's idle OpenMP workers spin by default and steal the core the framework timed next to it
# runs on (measured: nastoolkit 0.046 -> 0.035 s/epoch with this, PyTorch unchanged)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("KERAS_BACKEND", "torch")


sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nastoolkit.datasets import load_synthetic_regression
from nastoolkit.layers import Dense, Dropout
from nastoolkit.losses import MeanSquaredError
from nastoolkit.models import Sequential
from nastoolkit.optimizers import Adam


def data():
    return load_synthetic_regression(n_samples=10_000, seed=0)


def nastoolkit_runner(train, val):
    model = Sequential(seed=0)
    model.add(Dense(64, activation="relu", input_shape=(10,)))
    model.add(Dropout(0.5))
    model.add(Dense(32, activation="relu"))
    model.add(Dense(1, activation="linear"))
    model.compile(optimizer=Adam(), loss=MeanSquaredError())

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


def available_runners():
    runners = {"nastoolkit": nastoolkit_runner}
    try:
        import torch  # noqa: F401

        runners["pytorch eager"] = torch_runner
    except ImportError:
        print("(PyTorch not installed: its column is skipped)")
    try:
        import keras  # noqa: F401

        runners["keras 3"] = keras_runner
    except ImportError:
        print("(Keras not installed: its column is skipped)")
    return runners


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per framework")
    parser.add_argument(
        "--no-update", action="store_true", help="skip the 10M-parameter update table"
    )
    args = parser.parse_args(argv)
    train, val = data()
    runners = {name: make(train, val) for name, make in available_runners().items()}
    for run in runners.values():  # warm-up epoch (imports, first allocations, JIT caches)
        run()
    times = {name: [] for name in runners}
    last_val = {}
    for _ in range(args.epochs):
        for name, run in runners.items():
            t = time.perf_counter()
            last_val[name] = run()
            times[name].append(time.perf_counter() - t)
    ours = statistics.median(times["nastoolkit"])
    print(f"\nSeed workload, {args.epochs} epochs each, interleaved (1 thread each):")
    print(f"{'framework':<16}{'median s/epoch':>16}{'x nastoolkit':>14}{'val MSE':>10}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<16}{med:>16.4f}{med / ours:>14.1f}{last_val[name]:>10.3f}")
    if not args.no_update:
        from bench_optimizer_update import main as update_main

        print()
        sys.argv = sys.argv[:1]  # its own argparse: run it with its defaults
        update_main()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
