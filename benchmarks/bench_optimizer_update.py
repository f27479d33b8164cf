"""One Adam update over 10M float32 parameters, every CPU implementation side by side.

Columns: median milliseconds over repeats, effective bandwidth (28 bytes per parameter: read g,
w, m, v; write w, m, v), and the ratio to PyTorch's fused CPU Adam. A large copy (8 bytes per
element moved) gives the machine's practical memory bandwidth. Implementations run round-robin
so drift in a shared machine's load hits all alike. PyTorch columns are skipped if torch is
absent; _native if no compiler. Usage: python benchmarks/bench_optimizer_update.py [--size N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from nastoolkit.kernels import _native, _numpy

BYTES_PER_PARAM = 28
HYPER = {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}


def numpy_in_place(w, g, m, v, work):
    state = {"step": 0}

    def run():
        state["step"] += 1
        _numpy.adam_update(w, g, m, v, state["step"], work=work, **HYPER)

    return run


def numpy_blocked(w, g, m, v, work, chunk):
    """The same ufuncs over chunks small enough that the ~12 passes stay in L2."""
    state = {"step": 0}

    def run():
        state["step"] += 1
        for start in range(0, w.size, chunk):
            s = slice(start, start + chunk)
            _numpy.adam_update(
                w[s],
                g[s],
                m[s],
                v[s],
                state["step"],
                work=work[: min(chunk, w.size - start)],
                **HYPER,
            )

    return run


def native(w, g, m, v):
    state = {"step": 0}

    def run():
        state["step"] += 1
        _native.adam_update(w, g, m, v, state["step"], **HYPER)

    return run


def torch_adam(torch, size, **flags):
    param = torch.nn.Parameter(torch.zeros(size, dtype=torch.float32))
    param.grad = torch.randn(size, dtype=torch.float32)
    optimizer = torch.optim.Adam([param], lr=HYPER["learning_rate"], eps=HYPER["epsilon"], **flags)
    optimizer.step()  # allocate state outside the timing
    return optimizer.step


def copy(src, dst):
    return lambda: np.copyto(dst, src)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--chunk", type=int, default=16_384, help="elements per cache block")
    args = parser.parse_args()
    n = args.size
    rng = np.random.default_rng(0)
    make = lambda: rng.standard_normal(n).astype(np.float32)
    candidates = {}
    candidates["numpy in-place"] = numpy_in_place(make(), make(), make(), np.abs(make()), make())
    candidates[f"numpy blocked ({args.chunk})"] = numpy_blocked(
        make(), make(), make(), np.abs(make()), make()[: args.chunk], args.chunk
    )
    if _native.available():
        candidates[f"_native ({_native.num_threads()} thr)"] = native(
            make(), make(), make(), np.abs(make())
        )
    else:
        print(f"_native skipped: {_native.reason()}")
    try:
        import torch
    except ImportError as exc:
        torch = None
        print(f"PyTorch columns skipped: {exc}")
    if torch is not None:
        threads = torch.get_num_threads()
        candidates[f"torch default ({threads} thr)"] = torch_adam(torch, n, foreach=False)
        candidates["torch foreach"] = torch_adam(torch, n, foreach=True)
        candidates["torch fused"] = torch_adam(torch, n, fused=True)
    candidates["copy (8 B/elem)"] = copy(make(), make())

    times = {name: [] for name in candidates}
    for run in candidates.values():
        run()  # warm up: page faults, library build, thread pools
    for _ in range(args.repeats):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)

    medians = {name: statistics.median(t) for name, t in times.items()}
    fused = medians.get("torch fused")
    print(
        f"\nAdam update, {n:,} float32 params, median of {args.repeats}; "
        f"GB/s at {BYTES_PER_PARAM} B/param (copy: 8 B/elem)"
    )
    print(f"{'implementation':26s} {'ms':>8s} {'GB/s':>7s} {'x torch fused':>14s}")
    for name, seconds in medians.items():
        moved = 8 * n if name.startswith("copy") else BYTES_PER_PARAM * n
        ratio = f"{seconds / fused:14.2f}" if fused else f"{'-':>14s}"
        print(f"{name:26s} {seconds * 1e3:8.2f} {moved / seconds / 1e9:7.1f} {ratio}")


if __name__ == "__main__":
    main()
