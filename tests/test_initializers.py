"""initializers: Keras fan formulas checked statistically, truncation bounds, seeding, configs.

Shapes are asymmetric (fan_in != fan_out) so that using the wrong fan changes the variance by
far more than the tolerance; 240k draws give a relative standard error of the variance < 0.5%.
"""

import json
import math

import numpy as np
import pytest

from nastoolkit import initializers

SHAPE = (300, 800)  # fan_in 300, fan_out 800
FAN_IN, FAN_OUT = SHAPE
TRUNC = 0.87962566103423978


def test_compute_fans():
    assert initializers.compute_fans(()) == (1, 1)
    assert initializers.compute_fans((7,)) == (7, 7)
    assert initializers.compute_fans((3, 5)) == (3, 5)
    assert initializers.compute_fans((3, 3, 16, 32)) == (144, 288)


@pytest.mark.parametrize("name, limit", [
    ("glorot_uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("he_uniform", math.sqrt(6 / FAN_IN))])
def test_uniform_limits_and_variance(name, limit):
    w = initializers.get(name)(SHAPE, dtype="float64", rng=0)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.999 * limit
    assert w.var() == pytest.approx(limit ** 2 / 3, rel=0.02)
    assert abs(w.mean()) < 0.01 * limit


@pytest.mark.parametrize("name, variance", [
    ("glorot_normal", 2 / (FAN_IN + FAN_OUT)), ("he_normal", 2 / FAN_IN)])
def test_truncated_normal_variance_and_cut(name, variance):
    w = initializers.get(name)(SHAPE, dtype="float64", rng=1)
    bound = 2 * math.sqrt(variance) / TRUNC  # Keras: stddev = sqrt(var) / 0.8796, cut at 2 sd
    assert w.var() == pytest.approx(variance, rel=0.02)
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound  # truncated near the bound, not inside it
    # P(1.8 < |z| < 2 | |z| < 2) = 2.76% for the standard normal cut at 2
    assert np.mean(np.abs(w) > 0.9 * bound) == pytest.approx(0.0276, abs=0.005)


def test_truncated_standard_normal_moments():
    z = initializers.truncated_standard_normal(np.random.default_rng(2), (200_000,))
    assert np.abs(z).max() <= 2.0
    assert z.std() == pytest.approx(TRUNC, rel=0.01)


@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal", "he_normal", "he_uniform",
                                  "zeros", "ones"])
def test_shapes_and_dtypes(name):
    init = initializers.get(name)
    w = init((4, 3), rng=0)
    assert w.shape == (4, 3) and w.dtype == np.float32
    assert init((5,), dtype="float64", rng=0).dtype == np.float64
    assert init(6, rng=0).shape == (6,)


def test_constants():
    np.testing.assert_array_equal(initializers.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.Ones()((2,), dtype="float64"), [1.0, 1.0])


@pytest.mark.parametrize("cls", [initializers.GlorotUniform, initializers.GlorotNormal,
                                 initializers.HeNormal, initializers.HeUniform])
def test_determinism(cls):
    init = cls()
    np.testing.assert_array_equal(init((5, 4), rng=7), init((5, 4), rng=7))
    a = init((5, 4), rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, init((5, 4), rng=7))
    assert not np.array_equal(a, init((5, 4), rng=8))
    seeded = cls(seed=3)
    np.testing.assert_array_equal(seeded((5, 4)), seeded((5, 4)))
    generator = np.random.default_rng(0)  # one generator gives fresh draws for each layer
    assert not np.array_equal(init((5, 4), rng=generator), init((5, 4), rng=generator))


def test_invalid_arguments():
    with pytest.raises(ValueError, match="dtype"):
        initializers.GlorotUniform()((2, 2), dtype="int32")
    with pytest.raises(ValueError, match="shape"):
        initializers.GlorotUniform()((2, -1))
    with pytest.raises(TypeError, match="rng"):
        initializers.GlorotUniform()((2, 2), rng="seed")
    with pytest.raises(ValueError, match="seed"):
        initializers.HeNormal(seed=1.5)
    with pytest.raises(ValueError, match="glorot_uniform"):
        initializers.get("xavier")


def test_get_and_round_trip():
    assert type(initializers.get("glorot_uniform")) is initializers.GlorotUniform
    assert type(initializers.get("he_normal")) is initializers.HeNormal
    assert type(initializers.get(initializers.Zeros)) is initializers.Zeros
    init = initializers.HeUniform(seed=5)
    config = json.loads(json.dumps(initializers.serialize(init)))
    assert config == {"class_name": "HeUniform", "config": {"seed": 5}}
    again = initializers.deserialize(config)
    np.testing.assert_array_equal(again((3, 3)), init((3, 3)))
