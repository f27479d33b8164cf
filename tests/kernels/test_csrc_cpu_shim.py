"""Run every CUDA kernel of csrc/*.cu on the CPU through csrc/cpu_shim.h and compare with NumPy.

g++ compiles each .cu file with the shim (CUDA qualifiers defined away, settable threadIdx/
blockIdx/blockDim/gridDim) plus a generated ``nk_launch_<kernel>(grid, block, args...)`` per
``extern "C" __global__`` entry point, which runs every (block, thread) of the launch. ctypes
loads the library; argument types come from the parsed kernel signatures. Launches use grids
smaller than the data so the grid-stride loops wrap, odd sizes and misaligned views so the vector
loops hand over to their scalar tails, and NaN-poisoned outputs and guard cells so a skipped or
stray write shows. A second build with -fsanitize=address,undefined runs a small case of every
kernel in a subprocess (ASan must be loaded first, so not into this interpreter).
"""

from __future__ import annotations

import ctypes
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nastoolkit.kernels import _native, _numpy, _sources

GXX = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("g++")
pytestmark = pytest.mark.skipif(GXX is None, reason="g++ not found: the CPU shim checks need it")

CSRC = _sources.csrc_dir()
# fused_mlp.cu cooperates inside blocks (shared memory, barriers): tests/kernels/
# test_fused_mlp_shim.py runs it through cpu_shim_block.h instead.
BLOCK_KERNELS = {"fused_mlp.cu"}
CU_FILES = sorted(p.name for p in CSRC.glob("*.cu") if p.name not in BLOCK_KERNELS)
CTYPES = {
    "float*": ctypes.c_void_p,
    "double*": ctypes.c_void_p,
    "long long": ctypes.c_longlong,
    "int": ctypes.c_int,
    "unsigned int": ctypes.c_uint,
    "float": ctypes.c_float,
    "double": ctypes.c_double,
}
FLAGS = [
    "-std=c++17",
    "-O1",
    "-ffp-contract=off",
    "-fPIC",
    "-shared",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fno-strict-aliasing",
]
SANITIZE = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"]
GRIDS = [(1, 1), (2, 32), (3, 64), (64, 128)]  # (blocks, threads); most smaller than the data
ACTS = (
    "linear",
    "relu",
    "tanh",
    "sigmoid",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "softplus",
    "softsign",
    "hard_sigmoid",
    "exponential",
)
CODES = {name: code for code, name in enumerate(ACTS)}  # enum NkActivation order
NEEDS_Z = _numpy.NEEDS_PREACTIVATION
# The kernels the tests below compare with NumPy (each as _f32 and _f64).
COMPARED = (
    "bias_activation",
    "activation_grad",
    "softmax_numerator",
    "softmax_grad",
    "dropout",
    "sgd_update",
    "momentum_update",
    "adam_update",
    "rmsprop_update",
    "adagrad_update",
)


def parse_entries(source: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(kernel name, [(C type, parameter name), ...]), ...] of the extern "C" entry points
    (written once per file by NK_<FAMILY>_ENTRIES macros, expanded here)."""
    return _sources.entry_points(source)


def launcher_source(cu_file: str) -> str:
    """The .cu file plus one nk_launch_<name>(grid, block, args...) per kernel."""
    lines = [f'#include "{CSRC / cu_file}"']
    for name, params in parse_entries(_sources.read_source(cu_file)):
        decl = ", ".join(f"{t} {p}" for t, p in params)
        call = ", ".join(p for _, p in params)
        lines.append(
            f'extern "C" void nk_launch_{name}(unsigned int grid, unsigned int block, '
            f"{decl}) {{ nk_launch(grid, block, {name}, {call}); }}"
        )
    return "\n".join(lines) + "\n"


def build(cu_file: str, out_dir: Path, extra=()) -> Path:
    source = out_dir / (cu_file + ".shim.cpp")
    source.write_text(launcher_source(cu_file))
    target = out_dir / (cu_file + ("-asan" if extra else "") + ".so")
    command = [
        GXX,
        *FLAGS,
        *extra,
        "-include",
        str(CSRC / "cpu_shim.h"),
        str(source),
        "-o",
        str(target),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, f"g++ failed for {cu_file}:\n{result.stderr}"
    return target


class Kernels:
    """ctypes view of one or more shim libraries: ``k.run(name, grid, block, *args)``."""

    def __init__(self, libraries):
        self.functions, self.calls = {}, set()
        for path, cu_file in libraries:
            lib = ctypes.CDLL(str(path))
            for name, params in parse_entries(_sources.read_source(cu_file)):
                function = getattr(lib, f"nk_launch_{name}")
                function.argtypes = [ctypes.c_uint, ctypes.c_uint] + [CTYPES[t] for t, _ in params]
                function.restype = None
                self.functions[name] = (function, params)

    def run(self, name, grid, block, *args):
        function, params = self.functions[name]
        assert len(args) == len(params), f"{name} takes {len(params)} arguments"
        converted = []
        for (ctype, pname), arg in zip(params, args):
            if ctype.endswith("*"):
                want = np.float32 if ctype.startswith("float") else np.float64
                assert isinstance(arg, np.ndarray) and arg.dtype == want, f"{name}.{pname}: {ctype}"
                assert arg.flags.c_contiguous, f"{name}.{pname} must be contiguous"
                converted.append(arg.ctypes.data)
            else:
                converted.append(arg)
        self.calls.add(name)
        function(grid, block, *converted)


@pytest.fixture(scope="session")
def shim(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("csrc-shim")
    return Kernels([(build(f, out_dir), f) for f in CU_FILES])


def suffix(dtype) -> str:
    return "f32" if np.dtype(dtype) == np.float32 else "f64"


def tolerance(dtype, act=None):
    # float32: libm's tanhf/expm1f vs NumPy's own SIMD functions differ by a few ulp; NumPy's
    # float32 gelu uses a rational erfc fit good to 1.2e-7 relative where C calls erfcf.
    if np.dtype(dtype) == np.float32:
        return {"rtol": 2e-6, "atol": 1e-7}
    return {"rtol": 1e-13, "atol": 1e-15}


# --- bias + activation, activation gradient, softmax halves ------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("rows, cols", [(1, 1), (7, 13), (33, 5)])
def test_bias_activation_matches_numpy(shim, dtype, act, rows, cols):
    rng = np.random.default_rng(rows * cols)
    z = (2 * rng.standard_normal((rows, cols))).astype(dtype)
    bias = rng.standard_normal(cols).astype(dtype)
    expected = _numpy.activation_forward(act, z + bias)
    reference = _numpy.activation_forward(act, z.astype(np.float64) + bias)
    for grid, block in GRIDS:
        y, pre = np.full_like(z, np.nan), np.full_like(z, np.nan)
        shim.run(
            f"bias_activation_{suffix(dtype)}",
            grid,
            block,
            z,
            bias,
            y,
            pre,
            rows,
            cols,
            1,
            1,
            CODES[act],
        )
        np.testing.assert_allclose(y, expected, **tolerance(dtype, act), err_msg=f"{grid}x{block}")
        np.testing.assert_allclose(
            y,
            reference,
            rtol=1e-5 if dtype == np.float32 else 1e-13,
            atol=1e-6 if dtype == np.float32 else 1e-15,
        )
        np.testing.assert_array_equal(pre, z + bias)  # keep_pre: the pre-activation, exactly
    in_place = z.copy()  # no bias, output over the input: the activation_forward path
    untouched = np.full_like(z, np.nan)  # keep_pre = 0: pre is never written
    shim.run(
        f"bias_activation_{suffix(dtype)}",
        3,
        32,
        in_place,
        in_place,
        in_place,
        untouched,
        1,
        z.size,
        0,
        0,
        CODES[act],
    )
    np.testing.assert_allclose(in_place, _numpy.activation_forward(act, z), **tolerance(dtype, act))
    assert np.isnan(untouched).all()
    kept = z.copy()  # z_out: the GEMM wrote into pre, which the kernel reads and overwrites
    y = np.full_like(z, np.nan)
    shim.run(
        f"bias_activation_{suffix(dtype)}", 2, 32, kept, bias, y, kept, rows, cols, 1, 1, CODES[act]
    )
    np.testing.assert_array_equal(kept, z + bias)
    np.testing.assert_allclose(y, expected, **tolerance(dtype, act))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("size", [1, 37, 1025])
def test_activation_grad_matches_numpy(shim, dtype, act, size):
    rng = np.random.default_rng(size)
    z = (2 * rng.standard_normal(size)).astype(dtype)
    y = _numpy.activation_forward(act, z)
    grad_y = rng.standard_normal(size).astype(dtype)
    expected = _numpy.activation_backward(act, y, grad_y, z=z)
    # the launcher passes y in z's place where the derivative does not read z
    z_arg = z if act in NEEDS_Z else y
    for grid, block in GRIDS:
        grad_z = np.full_like(y, np.nan)
        shim.run(
            f"activation_grad_{suffix(dtype)}",
            grid,
            block,
            y,
            z_arg,
            grad_y,
            grad_z,
            size,
            CODES[act],
        )
        np.testing.assert_allclose(
            grad_z, expected, **tolerance(dtype, act), err_msg=f"{grid}x{block}"
        )
    aliased = grad_y.copy()  # grad_z may be grad_y itself
    shim.run(
        f"activation_grad_{suffix(dtype)}", 2, 32, y, z_arg, aliased, aliased, size, CODES[act]
    )
    np.testing.assert_allclose(aliased, expected, **tolerance(dtype, act))


def closed_form(name, x):
    """Each activation in float64, written from its definition (Keras 3's)."""
    sigmoid = 1.0 / (1.0 + np.exp(-x))
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return {
        "linear": x,
        "relu": np.maximum(x, 0.0),
        "tanh": np.tanh(x),
        "sigmoid": sigmoid,
        "leaky_relu": np.where(x > 0, x, 0.2 * x),
        "elu": np.where(x > 0, x, np.expm1(x)),
        "selu": scale * np.where(x > 0, x, alpha * np.expm1(x)),
        "gelu": x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))) / 2,
        "silu": x * sigmoid,
        "softplus": np.log1p(np.exp(x)),
        "softsign": x / (1 + np.abs(x)),
        "hard_sigmoid": np.clip(x / 6 + 0.5, 0, 1),
        "exponential": np.exp(x),
    }[name]


@pytest.mark.parametrize("act", ACTS)
def test_element_functions_match_float64_closed_forms(shim, act):
    """The C element functions in double against the float64 formulas of the activations
    tests (and, for the gradient, central differences of the C forward itself)."""
    z = np.linspace(-6.5, 6.5, 263)
    z = z[(np.abs(np.abs(z) - 3.0) > 0.02) & (np.abs(z) > 0.02)]  # off the kinks at 0 and +-3
    y = np.full_like(z, np.nan)
    shim.run("bias_activation_f64", 2, 64, z, z, y, y, 1, z.size, 0, 0, CODES[act])
    np.testing.assert_allclose(y, closed_form(act, z), rtol=1e-13, atol=1e-15)
    h = 1e-6
    forward = {}
    for sign in (1, -1):
        shifted, out = z + sign * h, np.full_like(z, np.nan)
        shim.run(
            "bias_activation_f64", 2, 64, shifted, shifted, out, out, 1, z.size, 0, 0, CODES[act]
        )
        forward[sign] = out
    grad = np.full_like(z, np.nan)
    shim.run("activation_grad_f64", 2, 64, y, z, np.ones_like(z), grad, z.size, CODES[act])
    np.testing.assert_allclose(grad, (forward[1] - forward[-1]) / (2 * h), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows, cols", [(1, 1), (5, 3), (17, 10)])
def test_softmax_halves_match_numpy(shim, dtype, rows, cols):
    rng = np.random.default_rng(cols)
    z = (3 * rng.standard_normal((rows, cols))).astype(dtype)
    for grid, block in GRIDS:
        y = np.full_like(z, np.nan)
        shim.run(f"softmax_numerator_{suffix(dtype)}", grid, block, z, z.max(axis=1), y, rows, cols)
        y /= y.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(y, _numpy.activation_forward("softmax", z), **tolerance(dtype))
    y = _numpy.activation_forward("softmax", z)
    grad_y = rng.standard_normal((rows, cols)).astype(dtype)
    row_dot = np.einsum("ij,ij->i", grad_y, y)
    for grid, block in GRIDS:
        grad_z = np.full_like(z, np.nan)
        shim.run(
            f"softmax_grad_{suffix(dtype)}", grid, block, y, grad_y, row_dot, grad_z, rows, cols
        )
        np.testing.assert_allclose(
            grad_z, _numpy.activation_backward("softmax", y, grad_y), **tolerance(dtype)
        )


# --- dropout: the very same mask bits -----------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "rate, seed, counter", [(0.0, 1, 0), (0.5, 42, 3), (0.9, 7, 1000), (0.25, 2**31 + 5, 2**20)]
)
@pytest.mark.parametrize("size", [1, 257, 4099])
def test_dropout_mask_bits_equal_numpy(shim, dtype, rate, seed, counter, size):
    x = np.random.default_rng(size).standard_normal(size).astype(dtype)
    expected_out, expected_mask = _numpy.dropout(x, rate, seed, counter)
    for grid, block in GRIDS:
        out, mask = np.full_like(x, np.nan), np.full_like(x, np.nan)
        shim.run(
            f"dropout_{suffix(dtype)}",
            grid,
            block,
            x,
            out,
            mask,
            size,
            _numpy.dropout_key(seed, counter),
            _numpy.dropout_threshold(rate),
            np.dtype(dtype).type(1.0 / (1.0 - rate)),
        )
        np.testing.assert_array_equal(mask, expected_mask, err_msg=f"{grid}x{block}")
        np.testing.assert_array_equal(out, expected_out, err_msg=f"{grid}x{block}")
    if rate > 0 and size > 1000:  # the draw is a fair coin at the requested rate
        assert abs((expected_mask == 0).mean() - rate) < 0.05


# --- optimizer updates ----------------------------------------------------------------------------


def kernel_arguments(case, arrays, dtype):
    """Pointer and scalar arguments of <case>_update_<dtype> from the _native host scalars."""
    h, scalar = case.hyper, np.dtype(dtype).type
    if case.name == "sgd":
        return [arrays["param"], arrays["grad"]], _native.sgd_scalars(**h), []
    if case.name == "momentum":
        h = dict(h)
        nesterov = h.pop("nesterov", False)
        return (
            [arrays["param"], arrays["grad"], arrays["velocity"]],
            _native.momentum_scalars(**h),
            [int(nesterov)],
        )
    if case.name == "adam":
        return (
            [arrays["param"], arrays["grad"], arrays["m"], arrays["v"]],
            _native.adam_scalars(**h),
            [],
        )
    if case.name == "rmsprop":
        use = h.get("momentum", 0.0) > 0
        return (
            [
                arrays["param"],
                arrays["grad"],
                arrays["v"],
                arrays["velocity"] if use else arrays["param"],
            ],
            _native.rmsprop_scalars(**h),
            [int(use)],
        )
    if case.name == "adagrad":
        return (
            [arrays["param"], arrays["grad"], arrays["accumulator"]],
            _native.adagrad_scalars(**h),
            [],
        )
    raise AssertionError(scalar)


def run_update(shim, case, arrays, dtype, grid, block, offset=0):
    """Run the kernel on views starting ``offset`` elements into NaN-guarded buffers.

    Returns the updated views; asserts the guard cells around each view are untouched.
    """
    size, guard = arrays["param"].size, 5
    views, buffers = {}, {}
    for key, value in arrays.items():
        buffer = np.full(offset + size + guard, np.nan, dtype)
        buffer[offset : offset + size] = value
        buffers[key], views[key] = buffer, buffer[offset : offset + size]
    pointers, scalars, flags = kernel_arguments(case, views, dtype)
    shim.run(
        f"{case.name}_update_{suffix(dtype)}",
        grid,
        block,
        *pointers,
        size,
        *(np.dtype(dtype).type(s) for s in scalars),
        *flags,
    )
    for key, buffer in buffers.items():
        assert np.isnan(buffer[:offset]).all() and np.isnan(buffer[offset + size :]).all(), (
            f"{case} wrote outside {key}[{offset}:{offset + size}]"
        )
    return views


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 3, 6, 1027])
def test_update_matches_numpy_and_reference(shim, update_case, update_tools, dtype, size):
    arrays = update_tools.make_arrays(update_case, size, dtype, seed=size)
    # offset 0: aligned vector path + scalar tail; offset 1: misaligned, scalar path only
    for offset in (0, 1):
        for grid, block in GRIDS:
            actual = run_update(shim, update_case, arrays, dtype, grid, block, offset)
            update_tools.assert_matches(
                actual,
                arrays,
                update_case,
                f"{update_case} n={size} offset={offset} {grid}x{block}",
            )


def test_every_kernel_has_a_comparison_test():
    """A new kernel in csrc/ fails here until a test above (and the asan case) covers it."""
    found = {name for f in CU_FILES for name, _ in parse_entries(_sources.read_source(f))}
    assert found == {f"{name}_{s}" for name in COMPARED for s in ("f32", "f64")}


# --- the sanitizer run --------------------------------------------------------------------------


def asan_case(library_dir: Path) -> None:
    """Every kernel once on >= 1 KiB arrays of exact size (out-of-bounds hits ASan's redzones)."""
    kernels = Kernels([(library_dir / (f + "-asan.so"), f) for f in CU_FILES])
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        s, n = suffix(dtype), 301  # odd, not a multiple of 4 lanes; 1.2 KiB in float32
        a = lambda size=n, dtype=dtype: rng.uniform(0.1, 1.0, size).astype(dtype)
        scalar = np.dtype(dtype).type
        rows, cols = 43, 7
        kernels.run(f"bias_activation_{s}", 3, 32, a(), a(cols), a(), a(), rows, cols, 1, 1, 7)
        kernels.run(f"activation_grad_{s}", 3, 32, a(), a(), a(), a(), n, 8)
        kernels.run(f"softmax_numerator_{s}", 3, 32, a(), a(rows), a(), rows, cols)
        kernels.run(f"softmax_grad_{s}", 3, 32, a(), a(), a(rows), a(), rows, cols)
        kernels.run(f"dropout_{s}", 3, 32, a(), a(), a(), n, 12345, 1 << 23, scalar(2.0))
        lr = [scalar(0.1)] * 6
        kernels.run(f"sgd_update_{s}", 3, 32, a(), a(), n, *lr[:2])
        kernels.run(f"momentum_update_{s}", 3, 32, a(), a(), a(), n, *lr[:3], 1)
        kernels.run(f"adam_update_{s}", 3, 32, a(), a(), a(), a(), n, *lr[:5])
        kernels.run(f"rmsprop_update_{s}", 3, 32, a(), a(), a(), a(), n, *lr[:6], 1)
        kernels.run(f"adagrad_update_{s}", 3, 32, a(), a(), a(), n, *lr[:3])
    missing = set(kernels.functions) - kernels.calls
    assert not missing, f"asan case does not cover {sorted(missing)}"
    print("asan case ok")


def test_sanitized_build_runs_clean(tmp_path):
    libasan = subprocess.run(
        [GXX, "-print-file-name=libasan.so"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not os.path.isabs(libasan):
        pytest.skip(f"g++ has no AddressSanitizer runtime ({libasan!r})")
    for f in CU_FILES:
        build(f, tmp_path, SANITIZE)
    env = {
        **os.environ,
        "LD_PRELOAD": libasan,
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    }
    result = subprocess.run(
        [sys.executable, __file__, "--asan-case", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0 and "asan case ok" in result.stdout, (
        f"sanitized run failed (rc {result.returncode}):\n{result.stdout}\n{result.stderr[-4000:]}"
    )


if __name__ == "__main__" and sys.argv[1:2] == ["--asan-case"]:
    asan_case(Path(sys.argv[2]))
