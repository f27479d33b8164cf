"""Datasets: shapes, dtypes, seeding, splits and the properties each toy problem promises."""

import numpy as np
import pytest

from nastoolkit import datasets


@pytest.mark.parametrize(
    "loader", [datasets.make_moons, datasets.make_circles, datasets.make_spirals]
)
def test_toy_sets_shapes_and_seed(loader):
    (X, y), (Xv, yv) = loader(n_samples=200, seed=3)
    assert X.dtype == np.float32 and X.shape[1] == 2 and y.dtype == np.int64
    assert len(X) + len(Xv) == 200 and len(Xv) == 50
    (X2, _), _ = loader(n_samples=200, seed=3)
    np.testing.assert_array_equal(X, X2)
    (X3, _), _ = loader(n_samples=200, seed=4)
    assert not np.array_equal(X, X3)
    assert set(np.unique(np.r_[y, yv])) == set(range(int(np.r_[y, yv].max()) + 1))


def test_circles_radii_without_noise():
    (X, y), _ = datasets.make_circles(n_samples=100, noise=0.0, factor=0.4, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.4, atol=1e-6)


def test_synthetic_regression_noise_floor():
    (X, y), (Xv, _) = datasets.load_synthetic_regression(n_samples=5000, noise=0.0, seed=0)
    assert X.shape == (4000, 10) and y.shape == (4000, 1) and Xv.shape == (1000, 10)
    (Xn, yn), _ = datasets.load_synthetic_regression(n_samples=5000, noise=1.0, seed=0)
    np.testing.assert_array_equal(X, Xn)
    assert np.var(yn - y) == pytest.approx(1.0, rel=0.08)  # the added noise has unit variance


def test_digits():
    pytest.importorskip("sklearn")
    (X, y), (Xv, _) = datasets.load_digits(seed=0)
    assert X.shape[1] == 64 and len(X) + len(Xv) == 1797
    assert X.min() >= 0 and X.max() <= 1 and set(np.unique(y)) == set(range(10))


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"n_samples": 2}, "n_samples"),
        ({"noise": -1.0}, "noise"),
        ({"validation_split": 1.0}, "validation_split"),
    ],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        datasets.make_moons(**kwargs)
