"""The NumPy optimizer kernels against a float64 reference of the published (Keras 3) rules.

The reference functions below return new arrays and are written from the equations, not from the
kernels: decoupled weight decay first (w <- w - w * wd * lr), then the rule.
tests/test_optimizers.py reuses them for the optimizer classes.
"""

from __future__ import annotations

import numpy as np
import pytest

from nastoolkit.kernels import _numpy as kernels

STEPS = 100
SHAPE = (7, 5)


# --- float64 references of the published rules ------------------------------------------------


def decayed(w, lr, weight_decay):
    return w - w * weight_decay * lr


def sgd_reference(w, g, lr, weight_decay=0.0):
    return decayed(w, lr, weight_decay) - lr * g


def momentum_reference(w, g, m, lr, momentum, nesterov, weight_decay=0.0):
    """Keras 3 SGD: m <- mu m - lr g; w <- w + m, or Nesterov w <- w + mu m - lr g."""
    w = decayed(w, lr, weight_decay)
    m = momentum * m - lr * g
    w = w + momentum * m - lr * g if nesterov else w + m
    return w, m


def adam_reference(w, g, m, v, t, lr, beta_1, beta_2, epsilon, weight_decay=0.0):
    """Kingma & Ba, Keras placement: w -= lr sqrt(1 - b2^t)/(1 - b1^t) m / (sqrt(v) + eps)."""
    w = decayed(w, lr, weight_decay)
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g * g
    w = w - lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (np.sqrt(v) + epsilon)
    return w, m, v


def rmsprop_reference(w, g, v, velocity, lr, rho, epsilon, momentum, weight_decay=0.0):
    """Keras RMSprop (not centered): step = lr g / sqrt(v + eps)."""
    w = decayed(w, lr, weight_decay)
    v = rho * v + (1 - rho) * g * g
    step = lr * g / np.sqrt(v + epsilon)
    if momentum > 0:
        velocity = momentum * velocity + step
        return w - velocity, v, velocity
    return w - step, v, velocity


def adagrad_reference(w, g, accumulator, lr, epsilon, weight_decay=0.0):
    """Duchi et al., Keras placement: w -= lr g / sqrt(acc + eps)."""
    w = decayed(w, lr, weight_decay)
    accumulator = accumulator + g * g
    return w - lr * g / np.sqrt(accumulator + epsilon), accumulator


# --- drive a kernel and its reference on the same noisy quadratic ------------------------------

TARGET_SEED = 1


def noisy_gradient(w, step, rng_seed=7):
    """g = (w - target) + noise_t: depends on w, so errors would compound, and is reproducible."""
    target = np.random.default_rng(TARGET_SEED).normal(size=w.shape)
    noise = np.random.default_rng([rng_seed, step]).normal(scale=0.3, size=w.shape)
    return (w - target) + noise


def tolerance(dtype):
    return {"rtol": 1e-12, "atol": 1e-12} if dtype == np.float64 else {"rtol": 2e-5, "atol": 2e-5}


CASES = {
    "sgd": {"learning_rate": 0.05, "weight_decay": 0.0},
    "sgd_wd": {"learning_rate": 0.05, "weight_decay": 0.3},
    "momentum": {"learning_rate": 0.03, "momentum": 0.9, "nesterov": False, "weight_decay": 0.0},
    "nesterov_wd": {"learning_rate": 0.03, "momentum": 0.7, "nesterov": True, "weight_decay": 0.2},
    "adam": {
        "learning_rate": 0.01,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "weight_decay": 0.0,
    },
    # a large epsilon makes its placement (outside the root, before bias correction) visible
    "adamw_big_eps": {
        "learning_rate": 0.02,
        "beta_1": 0.8,
        "beta_2": 0.95,
        "epsilon": 0.1,
        "weight_decay": 0.1,
    },
    "rmsprop": {
        "learning_rate": 0.01,
        "rho": 0.9,
        "epsilon": 1e-7,
        "momentum": 0.0,
        "weight_decay": 0.0,
    },
    "rmsprop_momentum": {
        "learning_rate": 0.01,
        "rho": 0.8,
        "epsilon": 0.1,
        "momentum": 0.6,
        "weight_decay": 0.05,
    },
    "adagrad": {"learning_rate": 0.1, "epsilon": 1e-7, "weight_decay": 0.0},
    "adagrad_big_eps": {"learning_rate": 0.1, "epsilon": 0.5, "weight_decay": 0.1},
}


def run_kernel(case, dtype, steps=STEPS, use_work=True):
    """Return (final param, final state tuple) after ``steps`` kernel updates in ``dtype``."""
    h = CASES[case]
    rng = np.random.default_rng(0)
    w = rng.normal(size=SHAPE).astype(dtype)
    state = [np.zeros(SHAPE, dtype) for _ in range(2)]
    if case.startswith("adagrad"):
        state[0] += 0.1
    work = np.empty(SHAPE, dtype) if use_work else None
    for t in range(steps):
        g = noisy_gradient(w.astype(np.float64), t).astype(dtype)
        if work is not None:
            work.fill(np.nan)  # scratch must be written before it is read
        if case.startswith("sgd"):
            kernels.sgd_update(w, g, h["learning_rate"], h["weight_decay"], work=work)
        elif case in ("momentum", "nesterov_wd"):
            kernels.momentum_update(
                w,
                g,
                state[0],
                h["learning_rate"],
                h["momentum"],
                h["nesterov"],
                h["weight_decay"],
                work=work,
            )
        elif case.startswith("adam"):
            kernels.adam_update(
                w,
                g,
                state[0],
                state[1],
                t + 1,
                h["learning_rate"],
                h["beta_1"],
                h["beta_2"],
                h["epsilon"],
                h["weight_decay"],
                work=work,
            )
        elif case.startswith("rmsprop"):
            kernels.rmsprop_update(
                w,
                g,
                state[0],
                h["learning_rate"],
                h["rho"],
                h["epsilon"],
                h["momentum"],
                state[1],
                h["weight_decay"],
                work=work,
            )
        else:
            kernels.adagrad_update(
                w, g, state[0], h["learning_rate"], h["epsilon"], h["weight_decay"], work=work
            )
    return w, state


def run_reference(case, steps=STEPS):
    h = CASES[case]
    w = np.random.default_rng(0).normal(size=SHAPE)
    a = np.zeros(SHAPE)
    b = np.zeros(SHAPE)
    if case.startswith("adagrad"):
        a = a + 0.1
    for t in range(steps):
        g = noisy_gradient(w, t)
        if case.startswith("sgd"):
            w = sgd_reference(w, g, h["learning_rate"], h["weight_decay"])
        elif case in ("momentum", "nesterov_wd"):
            w, a = momentum_reference(
                w, g, a, h["learning_rate"], h["momentum"], h["nesterov"], h["weight_decay"]
            )
        elif case.startswith("adam"):
            w, a, b = adam_reference(
                w,
                g,
                a,
                b,
                t + 1,
                h["learning_rate"],
                h["beta_1"],
                h["beta_2"],
                h["epsilon"],
                h["weight_decay"],
            )
        elif case.startswith("rmsprop"):
            w, a, b = rmsprop_reference(
                w,
                g,
                a,
                b,
                h["learning_rate"],
                h["rho"],
                h["epsilon"],
                h["momentum"],
                h["weight_decay"],
            )
        else:
            w, a = adagrad_reference(w, g, a, h["learning_rate"], h["epsilon"], h["weight_decay"])
    return w, [a, b]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_matches_float64_reference_for_100_steps(case, dtype):
    w, state = run_kernel(case, dtype)
    w_ref, state_ref = run_reference(case)
    assert w.dtype == dtype and all(s.dtype == dtype for s in state)
    np.testing.assert_allclose(w, w_ref, **tolerance(dtype))
    # the state the rule keeps (velocity, m, v, accumulator) must match too
    uses_second = case.startswith("adam") or case == "rmsprop_momentum"
    np.testing.assert_allclose(state[0], state_ref[0], **tolerance(dtype))
    if uses_second:
        np.testing.assert_allclose(state[1], state_ref[1], **tolerance(dtype))
    # and the run must have moved somewhere: a no-op kernel would not match the reference anyway,
    # but this keeps the comparison meaningful
    assert np.abs(w_ref - np.random.default_rng(0).normal(size=SHAPE)).max() > 1e-2


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(CASES))
def test_work_buffer_changes_no_bits(case, dtype):
    with_work = run_kernel(case, dtype, steps=5, use_work=True)
    without_work = run_kernel(case, dtype, steps=5, use_work=False)
    np.testing.assert_array_equal(with_work[0], without_work[0])
    for a, b in zip(with_work[1], without_work[1]):
        np.testing.assert_array_equal(a, b)


def test_updates_are_in_place_on_the_given_objects():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 3))
    g = rng.normal(size=(4, 3))
    m, v, velocity, acc = (np.zeros((4, 3)) for _ in range(4))
    original = w.copy()
    ids = [id(x) for x in (w, m, v, velocity, acc)]

    kernels.sgd_update(w, g, 0.1)
    np.testing.assert_allclose(w, original - 0.1 * g)

    before = w.copy()
    kernels.momentum_update(w, g, velocity, 0.1, 0.9)
    np.testing.assert_allclose(velocity, -0.1 * g)
    np.testing.assert_allclose(w, before - 0.1 * g)

    before = w.copy()
    kernels.adam_update(w, g, m, v, 1, 0.1)
    np.testing.assert_allclose(m, 0.1 * g)
    np.testing.assert_allclose(v, 0.001 * g * g)
    # first Adam step: lr sqrt(1 - b2) / (1 - b1) * (1 - b1) g / (sqrt(1 - b2) |g| + eps),
    # i.e. about lr sign(g), with eps scaled by 1 / sqrt(1 - b2) (Keras placement)
    np.testing.assert_allclose(
        w, before - 0.1 * g / (np.abs(g) + 1e-7 / np.sqrt(0.001)), rtol=1e-12
    )

    v.fill(0)
    kernels.rmsprop_update(w, g, v, 0.1, rho=0.9)
    np.testing.assert_allclose(v, 0.1 * g * g)

    kernels.adagrad_update(w, g, acc, 0.1)
    np.testing.assert_allclose(acc, g * g)
    assert ids == [id(x) for x in (w, m, v, velocity, acc)]


def test_weight_decay_is_decoupled_and_scaled_by_learning_rate():
    w = np.full(3, 2.0)
    kernels.sgd_update(w, np.zeros(3), learning_rate=0.1, weight_decay=0.5)
    np.testing.assert_allclose(w, 2.0 - 2.0 * 0.5 * 0.1)
    # Adam with zero gradient: only the decay moves w (m = v = 0, so the Adam step is 0)
    w = np.full(3, 2.0)
    m, v = np.zeros(3), np.zeros(3)
    kernels.adam_update(w, np.zeros(3), m, v, 1, learning_rate=0.1, weight_decay=0.5)
    np.testing.assert_allclose(w, 1.9)


def test_rmsprop_momentum_without_velocity_is_an_error():
    w = np.ones(2)
    with pytest.raises(ValueError, match="velocity"):
        kernels.rmsprop_update(w, np.ones(2), np.zeros(2), momentum=0.5)
