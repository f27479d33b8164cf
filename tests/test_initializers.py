"""initializers: Keras fan formulas checked statistically, truncation bounds, seeding, configs.

Shapes are asymmetric (fan_in != fan_out) so that using the wrong fan changes the variance by
far more than the tolerance; 240k draws give a relative standard error of the variance < 0.5%.
"""

import json
import math
from pathlib import Path

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


@pytest.mark.parametrize(
    "name, limit",
    [("glorot_uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))), ("he_uniform", math.sqrt(6 / FAN_IN))],
)
def test_uniform_limits_and_variance(name, limit):
    w = initializers.get(name)(SHAPE, dtype="float64", rng=0)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.999 * limit
    assert w.var() == pytest.approx(limit**2 / 3, rel=0.02)
    assert abs(w.mean()) < 0.01 * limit


@pytest.mark.parametrize(
    "name, variance", [("glorot_normal", 2 / (FAN_IN + FAN_OUT)), ("he_normal", 2 / FAN_IN)]
)
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


@pytest.mark.parametrize(
    "name", ["glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "zeros", "ones"]
)
def test_shapes_and_dtypes(name):
    init = initializers.get(name)
    w = init((4, 3), rng=0)
    assert w.shape == (4, 3) and w.dtype == np.float32
    assert init((5,), dtype="float64", rng=0).dtype == np.float64
    assert init(6, rng=0).shape == (6,)


def test_constants():
    np.testing.assert_array_equal(initializers.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.Ones()((2,), dtype="float64"), [1.0, 1.0])


@pytest.mark.parametrize(
    "cls",
    [
        initializers.GlorotUniform,
        initializers.GlorotNormal,
        initializers.HeNormal,
        initializers.HeUniform,
    ],
)
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
    # Keras 3.15's config: the fan axes too
    assert config == {
        "class_name": "HeUniform",
        "config": {"seed": 5, "input_axes": None, "output_axes": None},
    }
    again = initializers.deserialize(config)
    np.testing.assert_array_equal(again((3, 3)), init((3, 3)))


# --- Keras 3.15's formulas and names (recorded by tests/fixtures/record_keras_metrics_schedules.py)
KERAS = json.loads(
    (Path(__file__).parent / "fixtures" / "keras_metrics_schedules.json").read_text()
)["initializers"]


@pytest.mark.parametrize("case", KERAS["fans"], ids=lambda c: str(c["shape"]))
def test_compute_fans_as_keras(case):
    fans = initializers.compute_fans(case["shape"], case.get("input_axes"), case.get("output_axes"))
    assert list(fans) == case["fans"]


@pytest.mark.parametrize(
    "case", KERAS["cases"], ids=lambda c: f"{c['class_name']}-{json.dumps(c['kwargs'])}"
)
def test_statistics_and_config_match_keras(case):
    """Our draw and Keras's (both 240k values) agree in mean and std to a few standard errors,
    and in the support's ends; a wrong fan or a missing truncation correction moves the std by
    12% or more, far beyond the 1% allowed (about 5 standard errors of the difference)."""
    init = getattr(initializers, case["class_name"])(**case["kwargs"])
    assert init.get_config() == case["config"]
    w = init(KERAS["draw_shape"], dtype="float64", rng=11)
    n = w.size
    assert w.std() == pytest.approx(case["std"], rel=0.01)
    assert abs(w.mean() - case["mean"]) < 5 * case["std"] * math.sqrt(2 / n)
    spread = case["max"] - case["min"]
    if "Uniform" in case["class_name"] or case["kwargs"].get("distribution") == "uniform":
        # both draws' extremes lie within 1e-3 of the interval's ends (P(miss) ~ e^-240)
        assert w.min() == pytest.approx(case["min"], abs=1e-3 * spread)
        assert w.max() == pytest.approx(case["max"], abs=1e-3 * spread)
    if "Orthogonal" in case["class_name"]:
        gain = case["kwargs"].get("gain", 1.0)
        np.testing.assert_allclose(w @ w.T, gain**2 * np.eye(len(w)), atol=1e-10)


@pytest.mark.parametrize(
    "name, mean, bound",
    [
        ("TruncatedNormal", 0.0, 2 * 0.05),
        ("GlorotNormal", 0.0, 2 * math.sqrt(2 / 1100) / TRUNC),
        ("LecunNormal", 0.0, 2 * math.sqrt(1 / 300) / TRUNC),
    ],
)
def test_truncated_draws_stay_within_two_stddevs(name, mean, bound):
    # Keras's torch backend keeps the first of four draws inside the cut, so about 1 in 240k of
    # its values escapes; TensorFlow and JAX (and this package) redraw until inside
    w = getattr(initializers, name)()(SHAPE, dtype="float64", rng=5)
    assert np.abs(w - mean).max() <= bound
    assert np.abs(w - mean).max() > 0.99 * bound


def test_keras_names_resolve_to_the_same_classes():
    for alias, class_name in KERAS["names"].items():
        assert type(initializers.get(alias)).__name__ == class_name, alias


def test_variance_scaling_formulas():
    shape = (30, 70)
    for mode, n in (("fan_in", 30), ("fan_out", 70), ("fan_avg", 50)):
        assert initializers.VarianceScaling(3.0, mode).variance(shape) == pytest.approx(3.0 / n)
    w = initializers.VarianceScaling(0.5, "fan_out", "untruncated_normal")(
        (300, 800), rng=0, dtype="float64"
    )
    assert w.std() == pytest.approx(math.sqrt(0.5 / 800), rel=0.01)
    assert np.abs(w).max() > 2.5 * math.sqrt(0.5 / 800)  # not truncated


def test_orthogonal_for_tall_wide_and_stacked_shapes():
    for shape in ((50, 20), (20, 50), (4, 5, 10)):
        w = initializers.Orthogonal(gain=1.5)(shape, dtype="float64", rng=3)
        flat = w.reshape(-1, shape[-1])
        small = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
        np.testing.assert_allclose(small, 2.25 * np.eye(len(small)), atol=1e-10)
    with pytest.raises(ValueError, match="two-dimensional"):
        initializers.Orthogonal()((5,))


def test_constant_identity_and_bad_arguments():
    np.testing.assert_array_equal(initializers.Constant(2.5)((2, 2)), np.full((2, 2), 2.5))
    np.testing.assert_array_equal(initializers.Identity()((2, 2)), np.eye(2))
    for make, name in [
        (lambda: initializers.VarianceScaling(scale=0.0), "scale"),
        (lambda: initializers.VarianceScaling(mode="fan"), "mode"),
        (lambda: initializers.VarianceScaling(distribution="cauchy"), "distribution"),
        (lambda: initializers.RandomUniform(1.0, 0.0), "maxval"),
        (lambda: initializers.RandomNormal(stddev=-1.0), "stddev"),
        (lambda: initializers.Orthogonal(gain="x"), "gain"),
    ]:
        with pytest.raises(ValueError, match=name):
            make()
    for cls in (initializers.RandomUniform, initializers.Orthogonal, initializers.LecunUniform):
        config = json.loads(json.dumps(initializers.serialize(cls(seed=3))))
        np.testing.assert_array_equal(initializers.deserialize(config)((4, 4)), cls(seed=3)((4, 4)))
