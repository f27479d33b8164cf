"""The controller's LSTM cell: forward against the equations in float64, backward through time
against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from nastoolkit.nas.recurrent import LSTMCell


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _reference_step(W, b, x, h, c, u):
    z = np.concatenate([x, h], axis=1) @ W + b
    i, f, o, g = (
        _sigmoid(z[:, :u]),
        _sigmoid(z[:, u : 2 * u]),
        _sigmoid(z[:, 2 * u : 3 * u]),
        np.tanh(z[:, 3 * u :]),
    )
    c = f * c + i * g
    return o * np.tanh(c), c


def _loss(cell, xs, h0, c0, R, S):
    """sum_t <R_t, h_t> + <S, c_T>: every output matters, so every path is checked."""
    h, c, total = h0, c0, 0.0
    for t, x in enumerate(xs):
        h, c, _ = cell.forward(x, h, c)
        total += np.sum(R[t] * h)
    return total + np.sum(S * c)


def _backprop(cell, xs, h0, c0, R, S):
    h, c, steps = h0, c0, []
    for x in xs:
        h, c, step = cell.forward(x, h, c)
        steps.append(step)
    grad_W, grad_b = np.zeros_like(cell.W), np.zeros_like(cell.b)
    grad_h, grad_c = np.zeros_like(h), S.copy()
    grad_xs = [None] * len(xs)
    for t in reversed(range(len(xs))):
        grad_h = grad_h + R[t]
        grad_xs[t], grad_h, grad_c = cell.backward(steps[t], grad_h, grad_c, grad_W, grad_b)
    return grad_W, grad_b, np.stack(grad_xs), grad_h, grad_c


def _numeric(f, array, eps=1e-6):
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        keep = array[index]
        array[index] = keep + eps
        up = f()
        array[index] = keep - eps
        down = f()
        array[index] = keep
        grad[index] = (up - down) / (2 * eps)
    return grad


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    cell = LSTMCell(3, 4, rng, dtype="float64")
    cell.b[:] = rng.normal(0, 0.5, cell.b.shape)  # no special values: exercise every gate
    T, n = 5, 2
    xs = rng.normal(size=(T, n, 3))
    h0, c0 = rng.normal(size=(n, 4)), rng.normal(size=(n, 4))
    R, S = rng.normal(size=(T, n, 4)), rng.normal(size=(n, 4))
    return cell, xs, h0, c0, R, S


def test_forward_matches_the_equations(problem):
    cell, xs, h0, c0, _, _ = problem
    h, c = h0, c0
    ref_h, ref_c = h0, c0
    for x in xs:
        h, c, _ = cell.forward(x, h, c)
        ref_h, ref_c = _reference_step(cell.W, cell.b, x, ref_h, ref_c, 4)
    np.testing.assert_allclose(h, ref_h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c, ref_c, rtol=1e-12, atol=1e-12)


def test_backward_through_time_matches_finite_differences(problem):
    cell, xs, h0, c0, R, S = problem
    grad_W, grad_b, grad_xs, grad_h0, grad_c0 = _backprop(cell, xs, h0, c0, R, S)

    def f():
        return _loss(cell, xs, h0, c0, R, S)

    for analytic, array in (
        (grad_W, cell.W),
        (grad_b, cell.b),
        (grad_xs, xs),
        (grad_h0, h0),
        (grad_c0, c0),
    ):
        np.testing.assert_allclose(analytic, _numeric(f, array), rtol=1e-6, atol=1e-8)


def test_float32_cell_runs_in_float32():
    cell = LSTMCell(2, 3, np.random.default_rng(1), dtype="float32")
    h, c = cell.zero_state(4)
    h, c, _ = cell.forward(np.ones((4, 2), np.float32), h, c)
    assert h.dtype == np.float32 and c.dtype == np.float32


def test_bad_sizes_are_clear_errors():
    with pytest.raises(ValueError, match="units must be"):
        LSTMCell(3, 0, np.random.default_rng(0))
