"""The shared argument checks: accept the right values in canonical types, name the argument."""

import math

import numpy as np
import pytest

from nastoolkit import _checks


@pytest.mark.parametrize("value", [1, np.int64(7), 10**12])
def test_positive_int_accepts_and_returns_int(value):
    out = _checks.positive_int("units", value)
    assert out == value and type(out) is int


@pytest.mark.parametrize("value", [0, -1, True, 1.0, "3", None, np.float32(2)])
def test_positive_int_rejects_with_name_and_value(value):
    with pytest.raises(ValueError, match=r"units must be a positive integer. Received: units="):
        _checks.positive_int("units", value)


def test_int_bounds():
    assert _checks.non_negative_int("patience", 0) == 0
    assert _checks.int_at_least("folds", 2, 2) == 2
    with pytest.raises(ValueError, match="folds must be an integer >= 2"):
        _checks.int_at_least("folds", 1, 2)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "1", None])
def test_numbers_reject_non_finite_and_non_numbers(value):
    for check in (_checks.finite_number, _checks.positive, _checks.non_negative):
        with pytest.raises(ValueError, match="lr must be"):
            check("lr", value)


def test_number_in_respects_open_and_closed_ends():
    assert _checks.number_in("rate", 0.0, 0.0, 1.0, high_open=True) == 0.0
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        _checks.number_in("rate", 1.0, 0.0, 1.0, high_open=True)
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        _checks.number_in("split", 0.0, 0.0, 1.0, low_open=True)
    assert _checks.probability("p", 1) == 1.0 and type(_checks.probability("p", 1)) is float


def test_one_of_lists_choices_and_handles_unhashable():
    assert _checks.one_of("task", "regression", ("classification", "regression")) == "regression"
    with pytest.raises(ValueError, match="'relu', 'tanh'.*Received: activation='relux'"):
        _checks.one_of("activation", "relux", ("relu", "tanh"))
    with pytest.raises(ValueError, match="activation must be one of"):
        _checks.one_of("activation", ["relu"], ("relu", "tanh"))


def test_fix_is_appended():
    with pytest.raises(ValueError, match="Use workers=2"):
        _checks.positive_int("workers", 0, fix="Use workers=2 for two processes.")


@pytest.mark.parametrize("value", ["a", None, [0.5], math.nan])
def test_number_in_rejects_non_numbers_with_its_own_error(value):
    with pytest.raises(ValueError, match="label_smoothing must be a number in"):
        _checks.number_in("label_smoothing", value, 0.0, 1.0)
