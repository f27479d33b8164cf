"""The CuPy kernels (kernels/_cuda.py) against the NumPy twins, on a GPU.

Skipped, with the reason from ``nastoolkit.backend.probe_gpu()``, where no GPU is usable. Covers
every kernel in float32 and float64 on odd sizes, NaN-poisoned outputs, misaligned views into a
flat buffer (scalar path) beside aligned ones (vector path), argument checks before launch, and
a whole ``Sequential.fit`` on CuPy vs NumPy.
"""

from __future__ import annotations

import importlib
import sys
import types

import numpy as np
import pytest

from nastoolkit import backend
from nastoolkit.kernels import _sources

PROBE = backend.probe_gpu()
# Every test but the last (launcher arguments vs the C signatures, on a stand-in CuPy, no GPU
# needed) is marked gpu and skipped where no GPU is usable.
GPU = [
    pytest.mark.gpu,
    pytest.mark.skipif(not PROBE.usable, reason=f"no usable GPU: {PROBE.detail}"),
]


def gpu(test):
    for mark in reversed(GPU):
        test = mark(test)
    return test


ACTS = (
    "linear",
    "relu",
    "tanh",
    "sigmoid",
    "softmax",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "softplus",
    "softsign",
    "hard_sigmoid",
    "exponential",
)
NEEDS_Z = {"gelu", "silu", "swish"}  # kernels.NEEDS_PREACTIVATION
DTYPES = [np.float32, np.float64]


@pytest.fixture(scope="module")
def cp():
    return importlib.import_module("cupy")


@pytest.fixture(scope="module")
def cuda():
    module = importlib.import_module("nastoolkit.kernels._cuda")
    module.warmup()
    return module


def tol(dtype):
    # float32: CUDA's tanhf/expf/expm1f and cuBLAS summation order differ from NumPy by a few ulp.
    return {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}


def dense_tol(dtype):
    # GEMM sums of up to 64 products of order 1: cuBLAS and NumPy's BLAS sum in different orders,
    # so a float32 entry that cancels to near 0 differs by ~1e-6 in absolute terms (and an
    # activation of it by as much); a wrong bias, activation or transpose is off by O(1).
    return {"rtol": 1e-4, "atol": 2e-5} if dtype == np.float32 else tol(dtype)


@gpu
def test_warmup_compiles_every_kernel(cuda):
    from nastoolkit.kernels import _sources

    names = cuda.warmup()
    assert sorted(names) == sorted(
        f"{n}_{s}" for ns in _sources.KERNELS.values() for n in ns for s in ("f32", "f64")
    )


@gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shape", [(1, 1), (37, 13), (5, 1031)])
def test_activation_forward_backward_match_numpy(cp, cuda, dtype, act, shape):
    rng = np.random.default_rng(shape[1])
    z = (2 * rng.standard_normal(shape)).astype(dtype)
    grad_y = rng.standard_normal(shape).astype(dtype)
    out = cp.full(shape, cp.nan, dtype)
    y = cuda.activation_forward(act, cp.asarray(z), out=out)
    assert y is out
    y_ref = _np().activation_forward(act, z)
    np.testing.assert_allclose(y.get(), y_ref, **tol(dtype))
    dz = cp.full(shape, cp.nan, dtype)
    cuda.activation_backward(act, cp.asarray(y_ref), cp.asarray(grad_y), out=dz, z=cp.asarray(z))
    np.testing.assert_allclose(
        dz.get(), _np().activation_backward(act, y_ref, grad_y, z=z), **tol(dtype)
    )
    if act in NEEDS_Z:
        with pytest.raises(ValueError, match="pre-activation z"):
            cuda.activation_backward(act, cp.asarray(y_ref), cp.asarray(grad_y))


@gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize(
    "n, d_in, d_out, use_bias", [(1, 1, 1, True), (33, 17, 9, True), (64, 10, 7, False)]
)
def test_dense_forward_backward_match_numpy(cp, cuda, dtype, act, n, d_in, d_out, use_bias):
    rng = np.random.default_rng(n + d_out)
    x, w = (
        rng.standard_normal((n, d_in)).astype(dtype),
        rng.standard_normal((d_in, d_out)).astype(dtype),
    )
    b = rng.standard_normal(d_out).astype(dtype) if use_bias else None
    grad_y = rng.standard_normal((n, d_out)).astype(dtype)
    z_ref = np.empty((n, d_out), dtype)
    y_ref = _np().dense_forward(x, w, b, act, z_out=z_ref)
    y = cp.full((n, d_out), cp.nan, dtype)
    z = cp.full((n, d_out), cp.nan, dtype)
    cuda.dense_forward(
        cp.asarray(x), cp.asarray(w), None if b is None else cp.asarray(b), act, out=y, z_out=z
    )
    np.testing.assert_allclose(y.get(), y_ref, **dense_tol(dtype))
    np.testing.assert_allclose(z.get(), z_ref, **dense_tol(dtype))
    plain = cp.full((n, d_out), cp.nan, dtype)  # without z_out: in place in out
    cuda.dense_forward(
        cp.asarray(x), cp.asarray(w), None if b is None else cp.asarray(b), act, out=plain
    )
    np.testing.assert_allclose(plain.get(), y_ref, **dense_tol(dtype))
    expected = _np().dense_backward(x, w, y_ref, grad_y, act, use_bias=use_bias, z=z_ref)
    buffers = {
        "grad_kernel": cp.full(w.shape, cp.nan, dtype),
        "grad_x": cp.full(x.shape, cp.nan, dtype),
        "grad_z": cp.full(grad_y.shape, cp.nan, dtype),
        "grad_bias": cp.full(d_out, cp.nan, dtype) if use_bias else None,
    }
    got = cuda.dense_backward(
        cp.asarray(x),
        cp.asarray(w),
        cp.asarray(y_ref),
        cp.asarray(grad_y),
        act,
        use_bias=use_bias,
        z=cp.asarray(z_ref),
        **buffers,
    )
    for name, actual, want in zip(("grad_x", "grad_kernel", "grad_bias"), got, expected):
        if want is None:
            assert actual is None, name
        else:
            np.testing.assert_allclose(actual.get(), want, **dense_tol(dtype), err_msg=name)


@gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rate, seed, counter", [(0.0, 1, 0), (0.5, 42, 3), (0.9, 7, 1000)])
@pytest.mark.parametrize("size", [1, 4099, 1 << 20])
def test_dropout_mask_bits_equal_numpy(cp, cuda, dtype, rate, seed, counter, size):
    x = np.random.default_rng(size).standard_normal((size // 7 + 1, 7))[:, :].astype(dtype)
    out, mask = cp.full(x.shape, cp.nan, dtype), cp.full(x.shape, cp.nan, dtype)
    cuda.dropout(cp.asarray(x), rate, seed, counter, out=out, mask=mask)
    expected_out, expected_mask = _np().dropout(x, rate, seed, counter)
    np.testing.assert_array_equal(mask.get(), expected_mask)
    np.testing.assert_array_equal(out.get(), expected_out)


@gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, 3, 1027, (1 << 20) + 3])
@pytest.mark.parametrize("offset", [0, 1])  # 0: float4/double2 path + tail; 1: misaligned view
def test_update_matches_numpy(cp, cuda, update_case, update_tools, dtype, size, offset):
    arrays = update_tools.make_arrays(update_case, size, dtype, seed=size)
    buffers, views = {}, {}
    for key, value in arrays.items():
        buffer = cp.full(offset + size + 5, cp.nan, dtype)
        buffer[offset : offset + size] = cp.asarray(value)
        buffers[key], views[key] = buffer, buffer[offset : offset + size]
    getattr(cuda, f"{update_case.name}_update")(**views, **update_case.hyper)
    actual = {key: view.get() for key, view in views.items()}
    update_tools.assert_matches(actual, arrays, update_case, f"cuda {update_case} offset={offset}")
    for key, buffer in buffers.items():
        guards = cp.concatenate([buffer[:offset], buffer[offset + size :]]).get()
        assert np.isnan(guards).all(), f"{update_case} wrote outside {key}"


@gpu
def test_launchers_reject_bad_arguments_before_launching(cp, cuda):
    x = cp.zeros((8, 6), cp.float32)
    w = cp.zeros((3, 4), cp.float32)
    with pytest.raises(ValueError, match=r"x must be C-contiguous"):
        cuda.dense_forward(x[:, ::2], w, None)
    with pytest.raises(TypeError, match=r"kernel must have dtype float32"):
        cuda.dense_forward(x[:, :3].copy(), w.astype(cp.float64), None)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        cuda.dense_forward(x[:, :3].copy(), w, cp.zeros(5, cp.float32))
    param = cp.zeros(16, cp.float32)
    with pytest.raises(TypeError, match=r"grad must be a CuPy array"):
        cuda.sgd_update(param, np.zeros(16, np.float32), 0.1)
    with pytest.raises(ValueError, match=r"grad must be C-contiguous"):
        cuda.sgd_update(param, cp.zeros(32, cp.float32)[::2], 0.1)
    with pytest.raises(ValueError, match=r"m must have shape"):
        cuda.adam_update(param, param.copy(), cp.zeros(15, cp.float32), param.copy(), 1)
    with pytest.raises(TypeError, match=r"float32 or float64"):
        cuda.sgd_update(cp.zeros(4, cp.int32), cp.zeros(4, cp.int32), 0.1)
    with pytest.raises(ValueError, match=r"x must be C-contiguous"):
        cuda.dropout(x.T, 0.5, 0)
    with pytest.raises(ValueError, match=r"activation must be one of"):
        cuda.activation_forward("swishy", x)
    with pytest.raises(ValueError, match=r"z must have shape"):
        cuda.activation_backward("gelu", x, x, z=cp.zeros((8, 5), cp.float32))


@gpu
def test_sequential_fit_on_cupy_matches_numpy():
    from nastoolkit.layers import Dense, Dropout
    from nastoolkit.models import Sequential
    from nastoolkit.optimizers import Adam

    rng = np.random.default_rng(0)
    X = rng.standard_normal((96, 10)).astype(np.float32)
    y = (X[:, :1] * 0.5 - X[:, 1:2] ** 2).astype(np.float32)

    def train(name, weights=None):
        backend.use(name)
        try:
            model = Sequential(
                [
                    Dense(64, activation="relu", input_shape=(10,)),
                    Dropout(0.5),
                    Dense(32, activation="relu"),
                    Dense(1, activation="linear"),
                ]
            )
            model.compile(optimizer=Adam(learning_rate=0.01), loss="mse")
            if weights is not None:
                model.set_weights(weights)
            initial = [backend.to_numpy(w) for w in model.get_weights()]
            history = model.fit(X, y, epochs=2, batch_size=32, seed=0, verbose=0)
            final = [backend.to_numpy(w) for w in model.get_weights()]
            return initial, history.history["loss"], final
        finally:
            backend.use("numpy")

    initial, losses_np, weights_np = train("numpy")
    _, losses_cp, weights_cp = train("cupy", weights=initial)
    np.testing.assert_allclose(losses_cp, losses_np, rtol=1e-4)
    for got, want in zip(weights_cp, weights_np):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _np():
    from nastoolkit.kernels import _numpy

    return _numpy


@gpu
@pytest.mark.parametrize("act", ACTS)
def test_activation_on_empty_array_writes_nothing(cp, cuda, act):
    z = cp.empty((0, 5), cp.float32)
    assert cuda.activation_forward(act, z).shape == (0, 5)
    assert cuda.activation_backward(act, z, z, z=z).shape == (0, 5)


# --- no GPU needed: every launch's arguments against the extern "C" signature in csrc/ ----------

_C_TYPES = {
    "float*": np.float32,
    "double*": np.float64,
    "float": np.float32,
    "double": np.float64,
    "long long": np.int64,
    "int": np.int32,
    "unsigned int": np.uint32,
}


class _FakeArray(np.ndarray):
    """A NumPy array posing as a CuPy one (device 0)."""

    device = types.SimpleNamespace(id=0)


def _fake_cupy(launches):
    def wrap(a):
        return np.asarray(a).view(_FakeArray)

    class RawModule:
        def __init__(self, code, options=()):
            assert isinstance(options, tuple)
            # entry points are written once per file by NK_<FAMILY>_ENTRIES(S, T) macros
            self.signatures = {
                name: [c_type for c_type, _ in params]
                for name, params in _sources.entry_points(code)
            }

        def get_function(self, name):
            signature = self.signatures[name]

            def launch(grid, block, args):
                assert all(type(g) is int and 1 <= g < 2**31 for g in grid + block), (grid, block)
                assert len(args) == len(signature), (name, args, signature)
                for k, (arg, c_type) in enumerate(zip(args, signature)):
                    if c_type.endswith("*"):
                        assert isinstance(arg, _FakeArray) and arg.flags.c_contiguous, (name, k)
                        assert arg.dtype == _C_TYPES[c_type], (name, k, arg.dtype, c_type)
                    else:
                        assert type(arg) is _C_TYPES[c_type], (name, k, type(arg), c_type)
                launches.append(name)

            return launch

    device = types.SimpleNamespace(id=0, attributes={"MultiProcessorCount": 132})
    return types.SimpleNamespace(
        ndarray=_FakeArray,
        RawModule=RawModule,
        cuda=types.SimpleNamespace(Device=lambda *_: device),
        empty=lambda shape, dtype=float: wrap(np.empty(shape, dtype)),
        ones=lambda shape, dtype=float: wrap(np.ones(shape, dtype)),
        empty_like=lambda a: wrap(np.empty_like(a)),
        matmul=lambda a, b, out=None: np.matmul(a, b, out=out),
        sum=lambda a, axis=None, out=None: np.sum(a, axis=axis, out=out),
        take=lambda a, idx, axis=None, out=None: np.take(a, idx, axis=axis, out=out),
    )


@pytest.fixture
def fake_cuda():
    """nastoolkit.kernels._cuda imported against a stand-in CuPy; real modules restored after."""
    saved = {key: sys.modules.get(key) for key in ("cupy", "nastoolkit.kernels._cuda")}
    package = importlib.import_module("nastoolkit.kernels")
    had_attr, old_attr = hasattr(package, "_cuda"), getattr(package, "_cuda", None)
    launches = []
    sys.modules["cupy"] = _fake_cupy(launches)
    sys.modules.pop("nastoolkit.kernels._cuda", None)
    try:
        yield importlib.import_module("nastoolkit.kernels._cuda"), launches
    finally:
        for key, module in saved.items():
            if module is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = module
        if had_attr:
            package._cuda = old_attr
        elif hasattr(package, "_cuda"):
            del package._cuda


@pytest.mark.parametrize("dtype", DTYPES)
def test_launch_arguments_match_c_signatures(fake_cuda, dtype):
    cuda, launches = fake_cuda
    assert sorted(cuda.warmup()) == sorted(
        f"{n}_{s}" for ns in cuda.KERNELS.values() for n in ns for s in ("f32", "f64")
    )

    def arr(*shape):
        return np.random.default_rng(0).standard_normal(shape).astype(dtype).view(_FakeArray)

    for act in ACTS:
        z = arr(5, 7)
        cuda.activation_forward(act, z, out=arr(5, 7))
        cuda.activation_backward(act, z, arr(5, 7), out=arr(5, 7), z=arr(5, 7))
        x, w, b = arr(4, 3), arr(3, 5), arr(5)
        y = cuda.dense_forward(x, w, b, act)
        pre = arr(4, 5)
        cuda.dense_forward(x, w, None, act, out=arr(4, 5), z_out=pre)
        cuda.dense_backward(
            x,
            w,
            y,
            arr(4, 5),
            act,
            grad_kernel=arr(3, 5),
            grad_bias=arr(5),
            grad_x=arr(4, 3),
            grad_z=arr(4, 5),
            z=pre,
        )
        if act not in NEEDS_Z:
            cuda.dense_backward(x, w, y, arr(4, 5), act)
        else:
            with pytest.raises(ValueError, match="pre-activation z"):
                cuda.dense_backward(x, w, y, arr(4, 5), act)
    cuda.dropout(arr(5, 7), 0.3, 1, 2)
    cuda.dropout_masks(3, 4, 0.5, 1, 0, 2, dtype)
    p = arr(10)
    cuda.sgd_update(p, arr(10), 0.1, 0.01)
    cuda.momentum_update(p, arr(10), arr(10), 0.1, 0.9, True)
    cuda.adam_update(p, arr(10), arr(10), np.abs(arr(10)), 3)
    cuda.rmsprop_update(p, arr(10), np.abs(arr(10)))
    cuda.rmsprop_update(p, arr(10), np.abs(arr(10)), momentum=0.5, velocity=arr(10))
    cuda.adagrad_update(p, arr(10), np.abs(arr(10)))
    suffix = "f32" if dtype == np.float32 else "f64"
    assert {name for name in launches} == {
        f"{n}_{suffix}" for ns in cuda.KERNELS.values() for n in ns
    }
