"""2-D objectives: gradients against central differences, known minima, shapes and lookup."""

from __future__ import annotations

import numpy as np
import pytest

from nastoolkit import objectives

SURFACES = [
    objectives.Quadratic(),
    objectives.IllConditionedQuadratic(),
    objectives.IllConditionedQuadratic(condition_number=250.0),
    objectives.Rosenbrock(),
    objectives.Rosenbrock(a=-0.5, b=3.0),
    objectives.Saddle(),
]
IDS = [f"{s.name}-{i}" for i, s in enumerate(SURFACES)]


def central_difference(f, theta, h=1e-6):
    grad = np.zeros(2)
    for i in range(2):
        step = np.zeros(2)
        step[i] = h
        grad[i] = (f(theta + step) - f(theta - step)) / (2 * h)
    return grad


@pytest.mark.parametrize("surface", SURFACES, ids=IDS)
def test_gradient_matches_finite_differences(surface):
    rng = np.random.default_rng(0)
    (xmin, xmax), (ymin, ymax) = surface.bounds
    points = np.column_stack([rng.uniform(xmin, xmax, 20), rng.uniform(ymin, ymax, 20)])
    for theta in [*points, surface.start]:
        numeric = central_difference(surface.value, theta)
        np.testing.assert_allclose(surface.gradient(theta), numeric, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("surface", SURFACES, ids=IDS)
def test_minimum_is_a_stationary_point_and_lowest_nearby(surface):
    if surface.minimum is None:  # the saddle: (0, 0) is stationary but not a minimum
        np.testing.assert_array_equal(surface.gradient(np.zeros(2)), [0.0, 0.0])
        assert surface.value([0.0, 0.1]) < surface.value([0.0, 0.0]) < surface.value([0.1, 0.0])
        return
    np.testing.assert_allclose(surface.gradient(surface.minimum), [0.0, 0.0], atol=1e-12)
    neighbours = surface.minimum + np.random.default_rng(1).normal(scale=0.05, size=(50, 2))
    assert np.all(surface.value(neighbours) > surface.value(surface.minimum))


def test_known_values():
    assert objectives.Quadratic().value([3.0, 4.0]) == pytest.approx(12.5)
    assert objectives.IllConditionedQuadratic(condition_number=100).value(
        [1.0, 1.0]
    ) == pytest.approx(50.5)
    assert objectives.Rosenbrock().value([-1.0, 1.0]) == pytest.approx(4.0)
    assert objectives.Rosenbrock().value([0.0, 0.0]) == pytest.approx(1.0)
    np.testing.assert_allclose(objectives.Rosenbrock(a=2.0).minimum, [2.0, 4.0])
    assert objectives.Saddle().value([1.0, 2.0]) == pytest.approx(-3.0)
    # the condition number is the ratio of the Hessian's eigenvalues (curvatures on each axis)
    surface = objectives.IllConditionedQuadratic(condition_number=40)
    hessian = np.column_stack([surface.gradient(e) for e in np.eye(2)])
    eigenvalues = np.linalg.eigvalsh(hessian)
    assert eigenvalues.max() / eigenvalues.min() == pytest.approx(40)


@pytest.mark.parametrize("surface", SURFACES, ids=IDS)
def test_grids_evaluate_pointwise(surface):
    X, Y, Z = surface.grid(7)
    assert X.shape == Y.shape == Z.shape == (7, 7)
    (xmin, xmax), (ymin, ymax) = surface.bounds
    assert X.min() == xmin and X.max() == xmax and Y.min() == ymin and Y.max() == ymax
    theta = np.stack([X, Y], axis=-1)
    grads = surface.gradient(theta)
    assert grads.shape == (7, 7, 2)
    i, j = 2, 5
    assert Z[i, j] == pytest.approx(surface.value(theta[i, j]))
    np.testing.assert_allclose(grads[i, j], surface.gradient(theta[i, j]))


@pytest.mark.parametrize("surface", SURFACES, ids=IDS)
def test_start_is_inside_the_bounds_and_read_only(surface):
    (xmin, xmax), (ymin, ymax) = surface.bounds
    x, y = surface.start
    assert xmin <= x <= xmax and ymin <= y <= ymax
    assert surface.start.shape == (2,)
    with pytest.raises(ValueError):
        surface.start[0] = 0.0  # shared by every caller


def test_get_by_name_with_parameters_and_instances():
    assert isinstance(objectives.get("Rosenbrock"), objectives.Rosenbrock)
    surface = objectives.get("ill_conditioned_quadratic", condition_number=100)
    assert surface.condition_number == 100
    assert objectives.get(surface) is surface
    assert set(objectives.NAMES) == {
        "quadratic",
        "ill_conditioned_quadratic",
        "rosenbrock",
        "saddle",
    }
    with pytest.raises(ValueError, match="Valid names: quadratic"):
        objectives.get("himmelblau")


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"theta must have shape \(2,\).*\(3,\)"):
        objectives.Quadratic().value(np.zeros(3))
    with pytest.raises(
        ValueError, match="condition_number must be .* Received: condition_number=0.5"
    ):
        objectives.IllConditionedQuadratic(condition_number=0.5)
