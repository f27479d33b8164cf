"""Shared cases for the compiled optimizer updates (CPU shim, native CPU path, CUDA).

A test that takes the ``update_case`` fixture runs once per row of ``UPDATE_CASES``: every
optimizer with and without weight decay, momentum/Nesterov, Adam at a later step. The float64
``reference_update`` is written from the textbook equations (Keras 3 forms), independently of
``nastoolkit.kernels._numpy``, so a mistake shared by the NumPy twin and a kernel still shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest


@dataclass(frozen=True)
class UpdateCase:
    """One optimizer update: its name, the state arrays it keeps and its hyperparameters."""

    name: str
    state: tuple[str, ...]
    hyper: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name + "-" + "-".join(f"{k}={v}" for k, v in self.hyper.items())


# Large learning rates and epsilons on purpose: every term then moves the result well above
# float32 rounding, so a kernel that drops or misplaces one fails the comparison.
UPDATE_CASES = (
    UpdateCase("sgd", (), {"learning_rate": 0.1}),
    UpdateCase("sgd", (), {"learning_rate": 0.05, "weight_decay": 0.2}),
    UpdateCase("momentum", ("velocity",), {"learning_rate": 0.1, "momentum": 0.9}),
    UpdateCase(
        "momentum",
        ("velocity",),
        {"learning_rate": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1},
    ),
    UpdateCase("adam", ("m", "v"), {"step": 1, "learning_rate": 0.1}),
    UpdateCase(
        "adam",
        ("m", "v"),
        {
            "step": 7,
            "learning_rate": 0.05,
            "beta_1": 0.8,
            "beta_2": 0.99,
            "epsilon": 1e-3,
            "weight_decay": 0.1,
        },
    ),
    UpdateCase("rmsprop", ("v",), {"learning_rate": 0.05, "rho": 0.8, "epsilon": 1e-3}),
    UpdateCase(
        "rmsprop",
        ("v", "velocity"),
        {"learning_rate": 0.05, "rho": 0.9, "momentum": 0.5, "weight_decay": 0.1},
    ),
    UpdateCase("adagrad", ("accumulator",), {"learning_rate": 0.1, "epsilon": 1e-3}),
    UpdateCase("adagrad", ("accumulator",), {"learning_rate": 0.1, "weight_decay": 0.1}),
)


def pytest_generate_tests(metafunc):
    if "update_case" in metafunc.fixturenames:
        metafunc.parametrize("update_case", UPDATE_CASES, ids=[str(c) for c in UPDATE_CASES])


def make_update_arrays(case: UpdateCase, size: int, dtype, seed: int = 0) -> dict:
    """Random param, grad and state arrays of one dtype; second moments/accumulators positive."""
    rng = np.random.default_rng(seed)
    arrays = {"param": rng.standard_normal(size), "grad": rng.standard_normal(size)}
    for name in case.state:
        if name in ("v", "accumulator"):
            arrays[name] = rng.uniform(0.0, 0.5, size)
        else:
            arrays[name] = 0.3 * rng.standard_normal(size)
    return {key: value.astype(dtype) for key, value in arrays.items()}


def reference_update(case: UpdateCase, arrays: dict) -> dict:
    """The update in float64 from the equations (returns new arrays; inputs untouched)."""
    a = {key: value.astype(np.float64) for key, value in arrays.items()}
    h = {"weight_decay": 0.0, **case.hyper}
    lr, g = h["learning_rate"], a["grad"]
    w = a["param"] * (1.0 - h["weight_decay"] * lr)
    if case.name == "sgd":
        w = w - lr * g
    elif case.name == "momentum":
        mu = h["momentum"]
        a["velocity"] = mu * a["velocity"] - lr * g
        w = w + mu * a["velocity"] - lr * g if h.get("nesterov") else w + a["velocity"]
    elif case.name == "adam":
        b1, b2, t = h.get("beta_1", 0.9), h.get("beta_2", 0.999), h["step"]
        a["m"] = b1 * a["m"] + (1 - b1) * g
        a["v"] = b2 * a["v"] + (1 - b2) * g * g
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        w = w - alpha * a["m"] / (np.sqrt(a["v"]) + h.get("epsilon", 1e-7))
    elif case.name == "rmsprop":
        rho = h["rho"]
        a["v"] = rho * a["v"] + (1 - rho) * g * g
        step = lr * g / np.sqrt(a["v"] + h.get("epsilon", 1e-7))
        if h.get("momentum", 0.0) > 0:
            a["velocity"] = h["momentum"] * a["velocity"] + step
            step = a["velocity"]
        w = w - step
    elif case.name == "adagrad":
        a["accumulator"] = a["accumulator"] + g * g
        w = w - lr * g / np.sqrt(a["accumulator"] + h.get("epsilon", 1e-7))
    else:
        raise AssertionError(f"no reference for {case.name}")
    a["param"] = w
    return a


def numpy_update(case: UpdateCase, arrays: dict) -> dict:
    """The update by nastoolkit.kernels._numpy on copies (returns the updated copies)."""
    from nastoolkit.kernels import _numpy

    out = {key: value.copy() for key, value in arrays.items()}
    getattr(_numpy, f"{case.name}_update")(**out, **case.hyper)
    return out


def assert_update_matches(actual: dict, arrays: dict, case: UpdateCase, what: str) -> None:
    """actual (updated arrays) agrees with _numpy to rounding and with the float64 reference."""
    dtype = arrays["param"].dtype
    twin, exact = numpy_update(case, arrays), reference_update(case, arrays)
    # float32: one rounding difference in a few of ~10 operations (NumPy multiplies Adam's alpha in
    # double); float64: the same operations in the same order, so only last-bit differences.
    rtol_twin, rtol_ref = (3e-6, 5e-5) if dtype == np.float32 else (1e-14, 1e-12)
    for key, value in actual.items():
        assert value.dtype == dtype, f"{what}: {key} changed dtype"
        assert np.isfinite(value).all(), f"{what}: {key} has non-finite values"
        np.testing.assert_allclose(
            value,
            twin[key],
            rtol=rtol_twin,
            atol=rtol_twin,
            err_msg=f"{what}: {key} differs from kernels._numpy",
        )
        np.testing.assert_allclose(
            value,
            exact[key],
            rtol=rtol_ref,
            atol=rtol_ref,
            err_msg=f"{what}: {key} differs from the float64 reference",
        )


@pytest.fixture
def update_tools():
    """The helpers above, for tests (conftest modules are not imported directly)."""
    return SimpleNamespace(
        cases=UPDATE_CASES,
        make_arrays=make_update_arrays,
        assert_matches=assert_update_matches,
        reference=reference_update,
        numpy_update=numpy_update,
    )
