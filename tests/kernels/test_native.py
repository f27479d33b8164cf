"""The compiled CPU optimizer updates (kernels/_native.py) vs _numpy and a float64 reference."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from nastoolkit.kernels import _native

pytestmark = pytest.mark.skipif(
    not _native.available(), reason=f"compiled CPU updates unavailable: {_native.reason()}"
)

# Odd sizes, lengths that are not a multiple of the SIMD width, and one above the one-thread limit
# so the OpenMP split (2 threads) runs too.
SIZES = (1, 7, 1027, 70001)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", SIZES)
def test_update_matches_numpy_and_reference(update_case, update_tools, dtype, size):
    arrays = update_tools.make_arrays(update_case, size, dtype, seed=size)
    actual = {key: value.copy() for key, value in arrays.items()}
    getattr(_native, f"{update_case.name}_update")(**actual, **update_case.hyper)
    update_tools.assert_matches(
        actual, arrays, update_case, f"_native {update_case} {np.dtype(dtype)} n={size}"
    )


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_thread_count_does_not_change_results(update_tools, threads):
    case = next(c for c in update_tools.cases if c.name == "adam" and "weight_decay" in c.hyper)
    arrays = update_tools.make_arrays(case, 200_003, np.float32)
    results = []
    for count in (1, threads):
        _native.set_num_threads(count)
        try:
            out = {key: value.copy() for key, value in arrays.items()}
            _native.adam_update(**out, **case.hyper)
        finally:
            _native.set_num_threads(None)
        results.append(out)
    for key in arrays:
        np.testing.assert_array_equal(results[0][key], results[1][key])


def test_view_into_flat_buffer_updates_only_that_slice():
    """A misaligned contiguous slice (as a layer's view into the flat buffer) is updated alone."""
    flat = np.full(1001, 7.0, np.float32)
    grad = np.ones(1001, np.float32)
    _native.sgd_update(flat[3:500], grad[3:500], 0.5)
    np.testing.assert_array_equal(flat[3:500], np.float32(6.5))
    np.testing.assert_array_equal(flat[:3], np.float32(7.0))
    np.testing.assert_array_equal(flat[500:], np.float32(7.0))


@pytest.mark.parametrize(
    "bad, error, words",
    [
        (lambda p: p[::2], ValueError, "C-contiguous"),
        (lambda p: p.astype(np.float64), TypeError, "dtype float32"),
        (lambda p: p[:-1], ValueError, "shape"),
        (lambda p: list(p), TypeError, "NumPy array"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(bad, error, words):
    param = np.zeros(16, np.float32)
    grad = np.zeros(32, np.float32)[:16] if words != "C-contiguous" else np.zeros(32, np.float32)
    with pytest.raises(error, match=words) as info:
        _native.sgd_update(param, bad(grad), 0.1)
    assert "grad" in str(info.value)


def test_supports_only_contiguous_same_dtype_numpy_arrays():
    a = np.zeros(8, np.float32)
    assert _native.supports(a, a.copy())
    assert not _native.supports(a, np.zeros(8, np.float64))
    assert not _native.supports(a, np.zeros(16, np.float32)[::2])
    assert not _native.supports(np.zeros(8, np.int32), np.zeros(8, np.int32))


def test_adam_rejects_step_zero():
    a = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="step"):
        _native.adam_update(a, a.copy(), a.copy(), a.copy(), 0)


def test_disabled_by_environment_variable():
    code = "from nastoolkit.kernels import _native; print(_native.available(), _native.reason())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "NASTOOLKIT_NATIVE": "0"},
        timeout=60,
    )
    assert result.stdout.startswith("False disabled by $NASTOOLKIT_NATIVE"), (
        result.stdout + result.stderr
    )


def test_missing_compiler_reports_a_reason(tmp_path):
    code = (
        "from nastoolkit.kernels import _native; "
        "print(_native.available()); print(_native.reason())"
    )
    env = {
        **os.environ,
        "CXX": "no-such-compiler",
        "PATH": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "False", result.stdout + result.stderr
    assert "compiler" in lines[1]
