"""schedules: values against the closed forms, Keras boundary semantics, validation, configs."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from nastoolkit import schedules


def test_exponential_decay_continuous_and_staircase():
    smooth = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    stairs = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    for step in (0, 1, 5, 9, 10, 15, 20, 33):
        assert smooth(step) == pytest.approx(0.1 * 0.5 ** (step / 10), rel=1e-12)
        assert stairs(step) == pytest.approx(0.1 * 0.5 ** (step // 10), rel=1e-12)
    assert stairs(9) == pytest.approx(0.1) and stairs(10) == pytest.approx(0.05)


def test_piecewise_constant_boundaries_are_right_closed():
    schedule = schedules.PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
    expected = {0: 1.0, 100: 1.0, 101: 0.5, 150: 0.5, 200: 0.5, 201: 0.1, 10_000: 0.1}
    for step, lr in expected.items():
        assert schedule(step) == lr, step


def test_step_decay():
    schedule = schedules.StepDecay(0.8, step_size=3)
    assert [schedule(s) for s in range(8)] == pytest.approx(
        [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2]
    )
    assert schedules.StepDecay(1.0, 2, factor=0.1)(5) == pytest.approx(1e-2)


def test_cosine_decay_closed_form():
    schedule = schedules.CosineDecay(2.0, decay_steps=100, alpha=0.1)
    for step in (0, 10, 50, 77, 100, 150):
        t = min(step, 100) / 100
        expected = 2.0 * (0.9 * 0.5 * (1 + math.cos(math.pi * t)) + 0.1)
        assert schedule(step) == pytest.approx(expected, rel=1e-12)
    assert schedule(0) == pytest.approx(2.0)
    assert schedule(50) == pytest.approx(2.0 * (0.45 + 0.1))
    assert schedule(1000) == pytest.approx(0.2)


def test_cosine_decay_with_warmup():
    schedule = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=4)
    np.testing.assert_allclose(schedules.values(schedule, 5), [0.0, 0.25, 0.5, 0.75, 1.0])
    assert schedule(4 + 5) == pytest.approx(0.5)
    assert schedule(4 + 10) == pytest.approx(0.0, abs=1e-15)
    assert schedule(100) == pytest.approx(0.0, abs=1e-15)


def test_values_over_a_range_and_an_iterable():
    schedule = schedules.StepDecay(1.0, step_size=2)
    out = schedules.values(schedule, 5)
    assert out.dtype == np.float64 and out.shape == (5,)
    np.testing.assert_allclose(out, [1, 1, 0.5, 0.5, 0.25])
    np.testing.assert_allclose(schedules.values(schedule, [0, 4, 8]), [1, 0.25, 0.0625])


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: schedules.ExponentialDecay(0.1, 0, 0.5), "decay_steps"),
        (lambda: schedules.ExponentialDecay(0.1, 10, 0.0), "decay_rate"),
        (lambda: schedules.ExponentialDecay(-0.1, 10, 0.5), "initial_learning_rate"),
        (lambda: schedules.PiecewiseConstantDecay([1, 2], [1.0, 0.5]), "values"),
        (lambda: schedules.PiecewiseConstantDecay([2, 1], [1.0, 0.5, 0.1]), "increasing"),
        (lambda: schedules.StepDecay(0.1, 2.5), "step_size"),
        (lambda: schedules.StepDecay(0.1, 2, factor=-1), "factor"),
        (lambda: schedules.CosineDecay(0.1, -5), "decay_steps"),
        (lambda: schedules.CosineDecay(0.1, 5, warmup_target=1.0, warmup_steps=-1), "warmup_steps"),
    ],
)
def test_invalid_arguments(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_negative_step_is_rejected():
    with pytest.raises(ValueError, match="step"):
        schedules.StepDecay(0.1, 2)(-1)


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.ExponentialDecay(0.1, 10, 0.9, staircase=True),
        schedules.PiecewiseConstantDecay([5, 10], [0.3, 0.2, 0.1]),
        schedules.StepDecay(0.5, 4, factor=0.25),
        schedules.CosineDecay(0.1, 50, alpha=0.05, warmup_target=0.2, warmup_steps=5),
    ],
    ids=lambda s: type(s).__name__,
)
def test_serialize_round_trip(schedule):
    config = json.loads(json.dumps(schedules.serialize(schedule)))
    assert config["class_name"] == type(schedule).__name__
    again = schedules.deserialize(config)
    assert type(again) is type(schedule) and again.get_config() == schedule.get_config()
    assert type(schedule).from_config(schedule.get_config()).get_config() == schedule.get_config()
    np.testing.assert_array_equal(schedules.values(again, 60), schedules.values(schedule, 60))
    assert schedules.get(schedule) is schedule


def test_custom_schedule_round_trip_and_errors():
    class Halving(schedules.LearningRateSchedule):
        def __init__(self, start):
            self.start = start

        def learning_rate(self, step):
            return self.start / (1 + step)

        def get_config(self):
            return {"start": self.start}

    config = schedules.serialize(Halving(1.0))
    with pytest.raises(ValueError, match="custom_objects"):
        schedules.deserialize(config)
    again = schedules.deserialize(config, custom_objects={"Halving": Halving})
    assert again(3) == 0.25
    with pytest.raises(TypeError, match="ExponentialDecay"):
        schedules.get("exponentialdecay")


# --- Keras 3.15's numbers (recorded by tests/fixtures/record_keras_metrics_schedules.py) ---------
KERAS = json.loads(
    (Path(__file__).parent / "fixtures" / "keras_metrics_schedules.json").read_text()
)["schedules"]


@pytest.mark.parametrize(
    "case", KERAS, ids=lambda c: f"{c['class_name']}-{json.dumps(c['kwargs'])}"
)
def test_schedules_match_keras(case):
    schedule = getattr(schedules, case["class_name"])(**case["kwargs"])
    # Keras computes in float32
    np.testing.assert_allclose(
        schedules.values(schedule, case["steps"]), case["values"], rtol=3e-6, atol=1e-9
    )
    assert schedule.get_config() == case["config"]  # same keys, names and defaults as Keras
    again = schedules.deserialize(json.loads(json.dumps(schedules.serialize(schedule))))
    assert again.get_config() == schedule.get_config()


def test_optimizers_schedules_is_keras_spelling():
    import nastoolkit.optimizers.schedules as keras_spelling
    from nastoolkit import optimizers
    from nastoolkit.optimizers.schedules import CosineDecayRestarts

    assert CosineDecayRestarts is schedules.CosineDecayRestarts
    assert optimizers.schedules is keras_spelling
    for name in (
        "ExponentialDecay",
        "PiecewiseConstantDecay",
        "CosineDecay",
        "PolynomialDecay",
        "InverseTimeDecay",
        "CosineDecayRestarts",
        "LearningRateSchedule",
        "serialize",
        "deserialize",
    ):
        assert getattr(keras_spelling, name) is getattr(schedules, name)


def test_polynomial_decay_closed_form_and_cycle():
    decay = schedules.PolynomialDecay(1.0, decay_steps=10, end_learning_rate=0.2, power=2.0)
    assert decay(4) == pytest.approx(0.8 * 0.6**2 + 0.2)
    assert decay(10) == decay(50) == pytest.approx(0.2)
    cycled = schedules.PolynomialDecay(1.0, decay_steps=10, end_learning_rate=0.0, cycle=True)
    assert cycled(0) == 1.0 and cycled(10) == pytest.approx(0.0)
    assert cycled(15) == pytest.approx(1 - 15 / 20)  # the second period is 20 steps long


def test_cosine_decay_restarts_periods_grow_and_restart_lower():
    sgdr = schedules.CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=2.0, m_mul=0.5)
    assert sgdr(0) == 1.0 and sgdr(5) == pytest.approx(0.5)
    assert sgdr(10.5) == pytest.approx(0.5 * (1 + np.cos(np.pi * 0.5 / 20)) / 2)  # restart: 0.5
    assert sgdr(20) == pytest.approx(0.5 * (1 + np.cos(np.pi * 0.5)) / 2)  # halfway through 20
    assert sgdr(30.5) == pytest.approx(0.25, rel=1e-3)  # third period starts at 0.25


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: schedules.PolynomialDecay(0.1, 0), "decay_steps"),
        (lambda: schedules.PolynomialDecay(0.1, 10, power=-1.0), "power"),
        (lambda: schedules.InverseTimeDecay(0.1, 10, decay_rate=-0.5), "decay_rate"),
        (lambda: schedules.CosineDecayRestarts(0.1, 0), "first_decay_steps"),
        (lambda: schedules.CosineDecayRestarts(0.1, 10, t_mul=0.0), "t_mul"),
        (lambda: schedules.ExponentialDecay(0.1, 10, 0.5, name=3), "name"),
    ],
)
def test_new_schedules_reject_bad_arguments(make, argument):
    with pytest.raises((ValueError, TypeError), match=argument):
        make()
