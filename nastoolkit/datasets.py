"""Small, seeded datasets for the tutorials and tests.

Every loader returns ``(X_train, y_train), (X_val, y_val)`` like ``keras.datasets``: X is float32
(samples, features); regression targets are float32 (samples, 1), class labels int64 (samples,).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "load_digits",
    "load_synthetic_regression",
    "make_circles",
    "make_moons",
    "make_spirals",
    "train_validation_split",
]


def train_validation_split(X, y, validation_split=0.2, seed=0):
    """Shuffle with ``seed`` and hold out the last ``validation_split`` fraction for validation."""
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"validation_split must be in (0, 1). Received: "
                         f"validation_split={validation_split!r}")
    n = len(X)
    n_val = round(n * validation_split)
    if n_val == 0 or n_val == n:
        raise ValueError(f"validation_split={validation_split} leaves an empty split of {n} samples.")
    order = np.random.default_rng(seed).permutation(n)
    train, val = order[: n - n_val], order[n - n_val:]
    return (X[train], y[train]), (X[val], y[val])


def _check_samples(n_samples, minimum=4):
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) \
            or n_samples < minimum:
        raise ValueError(f"n_samples must be an integer >= {minimum}. Received: n_samples={n_samples!r}")
    return int(n_samples)


def _check_noise(noise):
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0. Received: noise={noise!r}")
    return float(noise)


def load_synthetic_regression(n_samples=10_000, n_features=10, noise=1.0, validation_split=0.2,
                              seed=0):
    """The tutorial's regression task: y = f(x) + noise with x ~ N(0, I) and noise ~ N(0, noise^2).

    f mixes a linear part with smooth nonlinear terms (so an MLP beats a linear model):
    f(x) = x @ w + sin(2 x_0) + x_1 x_2 + 0.5 |x_3|, with w ~ N(0, 0.25 I) drawn from the seed.
    The best possible validation MSE is ``noise**2`` (1.0 by default).
    """
    n = _check_samples(n_samples)
    if n_features < 4:
        raise ValueError(f"n_features must be >= 4. Received: n_features={n_features!r}")
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    w = rng.normal(0.0, 0.5, n_features)
    f = X @ w + np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * np.abs(X[:, 3])
    y = f + noise * rng.standard_normal(n)
    return train_validation_split(X.astype(np.float32), y.astype(np.float32).reshape(-1, 1),
                                  validation_split, seed)


def make_moons(n_samples=200, noise=0.1, validation_split=0.25, seed=0):
    """Two interleaving half circles (2 features, labels 0/1), with Gaussian noise of std ``noise``."""
    n = _check_samples(n_samples)
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    n_out = n // 2
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n - n_out)
    X = np.vstack([np.c_[np.cos(t_out), np.sin(t_out)],
                   np.c_[1 - np.cos(t_in), 0.5 - np.sin(t_in)]])
    y = np.r_[np.zeros(n_out, np.int64), np.ones(n - n_out, np.int64)]
    X += noise * rng.standard_normal(X.shape)
    return train_validation_split(X.astype(np.float32), y, validation_split, seed)


def make_circles(n_samples=200, noise=0.05, factor=0.5, validation_split=0.25, seed=0):
    """A small circle (label 1, radius ``factor``) inside a unit circle (label 0)."""
    n = _check_samples(n_samples)
    noise = _check_noise(noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1). Received: factor={factor!r}")
    rng = np.random.default_rng(seed)
    n_out = n // 2
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n - n_out, endpoint=False)
    X = np.vstack([np.c_[np.cos(t_out), np.sin(t_out)],
                   factor * np.c_[np.cos(t_in), np.sin(t_in)]])
    y = np.r_[np.zeros(n_out, np.int64), np.ones(n - n_out, np.int64)]
    X += noise * rng.standard_normal(X.shape)
    return train_validation_split(X.astype(np.float32), y, validation_split, seed)


def make_spirals(n_samples=300, noise=0.2, n_classes=2, turns=1.5, validation_split=0.25, seed=0):
    """``n_classes`` interleaved spiral arms (TensorFlow-playground style), labels 0..n_classes-1."""
    n = _check_samples(n_samples)
    noise = _check_noise(noise)
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2. Received: n_classes={n_classes!r}")
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    r = np.tile(np.linspace(0.05, 1.0, -(-n // n_classes)), n_classes)[:n]
    r = np.sort(r)
    theta = r * turns * 2 * np.pi + labels * 2 * np.pi / n_classes
    X = np.c_[r * np.cos(theta), r * np.sin(theta)] + noise * 0.1 * rng.standard_normal((n, 2))
    return train_validation_split(X.astype(np.float32), labels.astype(np.int64),
                                  validation_split, seed)


def load_digits(validation_split=0.2, seed=0):
    """The 8x8 handwritten digits (1,797 images, scikit-learn's bundled copy), pixels scaled to
    [0, 1] as 64 features, labels 0-9. Needs scikit-learn (``pip install nastoolkit[nas]``)."""
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as exc:
        raise ImportError("load_digits needs scikit-learn, which ships the data: "
                          "pip install 'nastoolkit[nas]' (or scikit-learn).") from exc
    data = _sk_load_digits()
    X = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    return train_validation_split(X, y, validation_split, seed)
