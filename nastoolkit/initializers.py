"""Weight initializers (Keras 3 formulas), with randomness only from an explicit generator.

fan_in / fan_out of a shape: (d,) -> d, d; (d_in, d_out) -> d_in, d_out; for more axes the leading
axes are a receptive field r and fan_in = shape[-2] r, fan_out = shape[-1] r (as Keras computes).

- GlorotUniform: U(-a, a),  a = sqrt(6 / (fan_in + fan_out))          (Var = 2 / (fan_in + fan_out))
- GlorotNormal:  truncated normal with Var = 2 / (fan_in + fan_out)
- HeUniform:     U(-a, a),  a = sqrt(6 / fan_in)                       (Var = 2 / fan_in)
- HeNormal:      truncated normal with Var = 2 / fan_in
- Zeros, Ones:   constants

Truncated normals are cut at two standard deviations and, as Keras does, use
stddev = sqrt(Var) / 0.87962566103423978 before the cut, so that the samples' variance is Var.

Call ``init(shape, dtype="float32", rng=None)``: ``rng`` is a ``numpy.random.Generator`` or an int
seed; without it the initializer's own ``seed`` is used (the same draw on every call), and
without either a fresh OS-seeded generator.
"""

from __future__ import annotations

import math

import numpy as np

from ._registry import Registry

__all__ = [
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Initializer",
    "Ones",
    "Zeros",
    "compute_fans",
    "deserialize",
    "get",
    "serialize",
]

TRUNCATED_NORMAL_STDDEV = 0.87962566103423978  # stddev of N(0, 1) truncated to [-2, 2]


# --- pure pieces -------------------------------------------------------------------------------

def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape, as Keras computes them."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def truncated_standard_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """N(0, 1) samples conditioned on |z| <= 2 (redrawing the rejected ones), float64."""
    z = rng.standard_normal(shape)
    rejected = np.abs(z) > 2.0
    while rejected.any():
        z[rejected] = rng.standard_normal(int(rejected.sum()))
        rejected = np.abs(z) > 2.0
    return z


def _as_generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None. "
                    f"Received: rng={rng!r} (of type {type(rng).__name__})")


def _check_shape(shape) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not all(isinstance(s, (int, np.integer)) and s >= 0 for s in shape):
        raise ValueError(f"shape must be a tuple of non-negative integers. Received: shape={shape}")
    return tuple(int(s) for s in shape)


def _check_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating dtype such as 'float32'. Received: "
                         f"dtype={dtype}")
    return dtype


# --- initializer objects -----------------------------------------------------------------------

class Initializer:
    """Base class: ``init(shape, dtype="float32", rng=None) -> numpy.ndarray``.

    Subclasses implement ``_sample(shape, rng) -> float64 array``.
    """

    def __init__(self, seed: int | None = None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed must be an int or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)

    def __call__(self, shape, dtype="float32", rng=None) -> np.ndarray:
        shape, dtype = _check_shape(shape), _check_dtype(dtype)
        generator = _as_generator(self.seed if rng is None else rng)
        return self._sample(shape, generator).astype(dtype, copy=False)

    def _sample(self, shape, rng) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config: dict) -> Initializer:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _VarianceScaling(Initializer):
    """Zero-mean draws with Var = scale / n, n = fan_in or (fan_in + fan_out) / 2."""

    scale = 1.0
    mode = "fan_avg"
    distribution = "uniform"

    def variance(self, shape) -> float:
        fan_in, fan_out = compute_fans(shape)
        n = fan_in if self.mode == "fan_in" else (fan_in + fan_out) / 2.0
        return self.scale / max(1.0, n)

    def _sample(self, shape, rng) -> np.ndarray:
        variance = self.variance(shape)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape)
        stddev = math.sqrt(variance) / TRUNCATED_NORMAL_STDDEV
        return stddev * truncated_standard_normal(rng, shape)


class GlorotUniform(_VarianceScaling):
    """U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""


class GlorotNormal(_VarianceScaling):
    """Truncated normal, Var = 2 / (fan_in + fan_out) (Glorot & Bengio 2010)."""

    distribution = "truncated_normal"


class HeUniform(_VarianceScaling):
    """U(-a, a), a = sqrt(6 / fan_in) (He et al. 2015)."""

    scale, mode = 2.0, "fan_in"


class HeNormal(_VarianceScaling):
    """Truncated normal, Var = 2 / fan_in (He et al. 2015)."""

    scale, mode, distribution = 2.0, "fan_in", "truncated_normal"


class Zeros(Initializer):
    """All zeros (the default bias initializer)."""

    def __init__(self):
        super().__init__(None)

    def _sample(self, shape, rng) -> np.ndarray:
        return np.zeros(shape)

    def get_config(self) -> dict:
        return {}


class Ones(Zeros):
    """All ones."""

    def _sample(self, shape, rng) -> np.ndarray:
        return np.ones(shape)


_REGISTRY = Registry("initializer", Initializer)
_REGISTRY.add(GlorotUniform, "glorot_uniform", "glorotuniform")
_REGISTRY.add(GlorotNormal, "glorot_normal", "glorotnormal")
_REGISTRY.add(HeUniform, "he_uniform", "heuniform")
_REGISTRY.add(HeNormal, "he_normal", "henormal")
_REGISTRY.add(Zeros, "zeros")
_REGISTRY.add(Ones, "ones")


def get(identifier) -> Initializer:
    """An initializer from a name (``"glorot_uniform"``, ``"he_normal"``, ``"zeros"``, ...), an
    instance, a class or a serialized dict. Unknown names raise ValueError listing the valid ones.
    """
    return _REGISTRY.get(identifier)


def serialize(initializer: Initializer) -> dict:
    """``{"class_name": ..., "config": ...}``: JSON-ready."""
    return _REGISTRY.serialize(get(initializer))


def deserialize(config: dict, custom_objects: dict | None = None) -> Initializer:
    """The inverse of ``serialize``."""
    return _REGISTRY.deserialize(config, custom_objects)
