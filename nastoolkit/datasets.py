"""Small, seeded datasets for the tutorials and tests.

Every loader returns ``(X_train, y_train), (X_val, y_val)`` like ``keras.datasets``: X is float32
(samples, features); regression targets are float32 (samples, 1), class labels int64 (samples,).
"""

from __future__ import annotations

import numpy as np

from . import _checks

__all__ = [
    "load_digits",
    "load_synthetic_regression",
    "make_circles",
    "make_moons",
    "make_spirals",
    "train_validation_split",
]


def train_validation_split(X, y, validation_split=0.2, seed=0):
    """Shuffle with ``seed`` and hold out the last ``validation_split`` fraction for validation.

    Parameters
    ----------
    X : ndarray, shape (n, ...)
        Inputs, one sample per row.
    y : ndarray, shape (n, ...)
        Targets, aligned with ``X``.
    validation_split : float, default 0.2
        Fraction of samples held out, in (0, 1); both parts must be non-empty.
    seed : int, default 0
        Seed of the shuffle.

    Returns
    -------
    tuple
        ``(X_train, y_train), (X_val, y_val)`` with ``round(n * validation_split)`` rows held out.

    Examples
    --------
    >>> import numpy as np
    >>> (X_train, y_train), (X_val, y_val) = train_validation_split(np.arange(10), np.arange(10))
    >>> len(X_train), len(X_val)
    (8, 2)
    """
    validation_split = _checks.number_in(
        "validation_split", validation_split, 0.0, 1.0, low_open=True, high_open=True
    )
    n = len(X)
    n_val = round(n * validation_split)
    if n_val == 0 or n_val == n:
        raise ValueError(
            f"validation_split={validation_split} leaves an empty split of {n} "
            "samples: choose a fraction that keeps at least one sample on each side."
        )
    order = np.random.default_rng(seed).permutation(n)
    train, val = order[: n - n_val], order[n - n_val :]
    return (X[train], y[train]), (X[val], y[val])


def _check_samples(n_samples, minimum=4):
    return _checks.int_at_least("n_samples", n_samples, minimum)


def _check_noise(noise):
    return _checks.non_negative("noise", noise, fix="It is the standard deviation of the noise.")


def load_synthetic_regression(
    n_samples=10_000, n_features=10, noise=1.0, validation_split=0.2, seed=0
):
    """The tutorial's regression task: y = f(x) + noise with x ~ N(0, I) and noise ~ N(0, noise^2).

    f mixes a linear part with smooth nonlinear terms, so an MLP beats a linear model::

        f(x) = x @ w + sin(2 x_0) + x_1 x_2 + 0.5 abs(x_3),   w ~ N(0, 0.25 I) drawn from the seed

    The best possible validation MSE is ``noise**2`` (1.0 by default).

    Parameters
    ----------
    n_samples : int, default 10000
        Number of samples before the split (at least 4).
    n_features : int, default 10
        Number of features (at least 4: f uses the first four).
    noise : float, default 1.0
        Standard deviation of the Gaussian noise, >= 0.
    validation_split : float, default 0.2
        Fraction held out for validation.
    seed : int, default 0
        Seed of the data and of the split.

    Returns
    -------
    tuple
        ``(X_train, y_train), (X_val, y_val)``: X float32 (samples, n_features), y float32
        (samples, 1).

    Examples
    --------
    >>> (X_train, y_train), (X_val, y_val) = load_synthetic_regression(n_samples=100, seed=0)
    >>> X_train.shape, y_train.shape, X_val.shape
    ((80, 10), (80, 1), (20, 10))
    """
    n = _check_samples(n_samples)
    n_features = _checks.int_at_least("n_features", n_features, 4)
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    w = rng.normal(0.0, 0.5, n_features)
    f = X @ w + np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * np.abs(X[:, 3])
    y = f + noise * rng.standard_normal(n)
    return train_validation_split(
        X.astype(np.float32), y.astype(np.float32).reshape(-1, 1), validation_split, seed
    )


def make_moons(n_samples=200, noise=0.1, validation_split=0.25, seed=0):
    """Two interleaving half circles: 2 features, labels 0 and 1 (as scikit-learn's).

    Parameters
    ----------
    n_samples : int, default 200
        Number of points before the split (at least 4), half per moon.
    noise : float, default 0.1
        Standard deviation of the Gaussian noise added to each coordinate, >= 0.
    validation_split : float, default 0.25
        Fraction held out for validation.
    seed : int, default 0
        Seed of the noise and of the split.

    Returns
    -------
    tuple
        ``(X_train, y_train), (X_val, y_val)``: X float32 (samples, 2), y int64 (samples,).

    Examples
    --------
    >>> (X_train, y_train), (X_val, y_val) = make_moons(n_samples=200, seed=0)
    >>> X_train.shape, sorted(set(y_train.tolist()))
    ((150, 2), [0, 1])
    """
    n = _check_samples(n_samples)
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    n_out = n // 2
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n - n_out)
    X = np.vstack(
        [np.c_[np.cos(t_out), np.sin(t_out)], np.c_[1 - np.cos(t_in), 0.5 - np.sin(t_in)]]
    )
    y = np.r_[np.zeros(n_out, np.int64), np.ones(n - n_out, np.int64)]
    X += noise * rng.standard_normal(X.shape)
    return train_validation_split(X.astype(np.float32), y, validation_split, seed)


def make_circles(n_samples=200, noise=0.05, factor=0.5, validation_split=0.25, seed=0):
    """A small circle (label 1, radius ``factor``) inside a unit circle (label 0).

    Parameters
    ----------
    n_samples : int, default 200
        Number of points before the split (at least 4), half per circle.
    noise : float, default 0.05
        Standard deviation of the Gaussian noise added to each coordinate, >= 0.
    factor : float, default 0.5
        Radius of the inner circle, in (0, 1).
    validation_split : float, default 0.25
        Fraction held out for validation.
    seed : int, default 0
        Seed of the noise and of the split.

    Returns
    -------
    tuple
        ``(X_train, y_train), (X_val, y_val)``: X float32 (samples, 2), y int64 (samples,).

    Examples
    --------
    >>> (X_train, y_train), _ = make_circles(n_samples=100, noise=0.0, seed=0)
    >>> import numpy as np
    >>> radius = np.hypot(X_train[:, 0], X_train[:, 1])
    >>> bool(np.allclose(radius[y_train == 1], 0.5))
    True
    """
    n = _check_samples(n_samples)
    noise = _check_noise(noise)
    factor = _checks.number_in("factor", factor, 0.0, 1.0, low_open=True, high_open=True)
    rng = np.random.default_rng(seed)
    n_out = n // 2
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n - n_out, endpoint=False)
    X = np.vstack([np.c_[np.cos(t_out), np.sin(t_out)], factor * np.c_[np.cos(t_in), np.sin(t_in)]])
    y = np.r_[np.zeros(n_out, np.int64), np.ones(n - n_out, np.int64)]
    X += noise * rng.standard_normal(X.shape)
    return train_validation_split(X.astype(np.float32), y, validation_split, seed)


def make_spirals(n_samples=300, noise=0.2, n_classes=2, turns=1.5, validation_split=0.25, seed=0):
    """``n_classes`` interleaved spiral arms (TensorFlow-playground style).

    Parameters
    ----------
    n_samples : int, default 300
        Number of points before the split (at least 4), spread evenly over the arms.
    noise : float, default 0.2
        Noise level, >= 0 (the standard deviation is ``0.1 * noise``, in units of the radius).
    n_classes : int, default 2
        Number of arms and labels (at least 2).
    turns : float, default 1.5
        How many times each arm winds around the centre.
    validation_split : float, default 0.25
        Fraction held out for validation.
    seed : int, default 0
        Seed of the noise and of the split.

    Returns
    -------
    tuple
        ``(X_train, y_train), (X_val, y_val)``: X float32 (samples, 2), y int64 labels
        0 .. n_classes - 1.

    Examples
    --------
    >>> (X_train, y_train), _ = make_spirals(n_samples=90, n_classes=3, seed=0)
    >>> X_train.shape, sorted(set(y_train.tolist()))
    ((68, 2), [0, 1, 2])
    """
    n = _check_samples(n_samples)
    noise = _check_noise(noise)
    n_classes = _checks.int_at_least("n_classes", n_classes, 2)
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    r = np.tile(np.linspace(0.05, 1.0, -(-n // n_classes)), n_classes)[:n]
    r = np.sort(r)
    theta = r * turns * 2 * np.pi + labels * 2 * np.pi / n_classes
    X = np.c_[r * np.cos(theta), r * np.sin(theta)] + noise * 0.1 * rng.standard_normal((n, 2))
    return train_validation_split(
        X.astype(np.float32), labels.astype(np.int64), validation_split, seed
    )


def load_digits(validation_split=0.2, seed=0):
    """The 8x8 handwritten digits: 1,797 images as 64 features in [0, 1], labels 0-9.

    The data is scikit-learn's bundled copy (no download), so this needs scikit-learn
    (``pip install 'nastoolkit[nas]'``).

    Parameters
    ----------
    validation_split : float, default 0.2
        Fraction held out for validation.
    seed : int, default 0
        Seed of the split.

    Returns
    -------
    tuple
        ``(X_train, y_train), (X_val, y_val)``: X float32 (samples, 64), y int64 (samples,).

    Examples
    --------
    >>> (X_train, y_train), (X_val, y_val) = load_digits(seed=0)
    >>> X_train.shape, X_val.shape, int(y_train.max())
    ((1438, 64), (359, 64), 9)
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as exc:
        raise ImportError(
            "load_digits needs scikit-learn, which ships the data: "
            "pip install 'nastoolkit[nas]' (or scikit-learn)."
        ) from exc
    data = _sk_load_digits()
    X = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    return train_validation_split(X, y, validation_split, seed)
