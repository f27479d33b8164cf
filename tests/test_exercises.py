"""exercises.check: every question says right for the library's answer and not yet for a wrong one."""

import numpy as np
import pytest

pytest.importorskip("ipywidgets")  # two questions build a widget model (model slice, polynomial)

from nastoolkit import kernels, objectives
from nastoolkit.exercises import QUESTIONS, CheckResult, check, describe


def _momentum_right(theta, velocity, g, lr, mu):
    velocity = mu * velocity - lr * g
    return theta + velocity, velocity


def _adam_by_hand():
    theta, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for step, g in ((1, np.array([0.5, -1.0])), (2, np.array([1.0, -2.0]))):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g**2
        theta = theta - 0.1 * np.sqrt(1 - 0.999**step) / (1 - 0.9**step) * m / (np.sqrt(v) + 1e-7)
    return theta


# question -> (a right answer worked out independently of the grader, a wrong answer)
ANSWERS = {
    "parameter_count": ((10 + 1) * 64 + (64 + 1) * 32 + (32 + 1), 2816),
    "dense_relu": (lambda x, W, b: np.maximum(x @ W + b, 0), lambda x, W, b: x @ W + b),
    "gradient_step": ([0.9, 0.0], [0.9, 0.1]),
    "largest_stable_rate": (0.2, 0.1),
    "model_slice_rate": (0.47, 1.0),
    "momentum_step": (_momentum_right, lambda th, vel, g, lr, mu: (th - lr * g, vel)),
    "optimal_momentum": (0.27, 0.9),
    "l1_zeros": (5, 4),
    "best_lambda": (3e-4, 1.0),
    "dropout_scale": (1.25, 0.8),
    "dense_tanh": (lambda x, W, b: np.tanh(x @ W + b), lambda x, W, b: np.tanh(x @ W)),
    "adam_second_step": (_adam_by_hand(), [0.8, -1.8]),
    # s = 2 of R = 9, eta = 3: 9 candidates x 1 epoch, 3 continue 2 more, 1 continues 6 more
    "hyperband_epochs": (9 * 1 + 3 * 2 + 1 * 6, 9 * 1 + 3 * 3 + 1 * 9),
    # zero is strongest but never derived; tanh is next
    "darts_derived": ("tanh", "zero"),
    # (R - b)(p - onehot(0)) with R - b = 0.1
    "reinforce_gradient": ([-0.05, 0.03, 0.02], [0.05, -0.03, -0.02]),
}


def test_every_question_has_a_tested_answer():
    assert set(ANSWERS) == set(QUESTIONS)


@pytest.mark.parametrize("question", sorted(QUESTIONS))
def test_right_answer_is_right_and_wrong_answer_is_not(question):
    right, wrong = ANSWERS[question]
    verdict = check(question, right)
    assert isinstance(verdict, CheckResult) and verdict.correct and bool(verdict)
    assert repr(verdict).startswith("right: ")
    verdict = check(question, wrong)
    assert not verdict.correct and repr(verdict).startswith("not yet: ")


def test_wrong_numeric_answer_gets_a_hint_not_the_answer():
    verdict = check("parameter_count", 100)
    assert "Hint" in verdict.message and "2817" not in verdict.message


def test_graders_agree_with_the_library_they_quote():
    # The dense and Adam graders compare with the kernels; confirm the hand versions match too.
    assert objectives.largest_stable_rate([1.0, 10.0]) == pytest.approx(0.2)
    theta, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for step in (1, 2):
        kernels.adam_update(theta, np.array([0.5, -1.0]) * step, m, v, step=step, learning_rate=0.1)
    np.testing.assert_allclose(theta, _adam_by_hand(), atol=1e-9)


def test_bad_question_and_bad_answer_types_say_what_to_do():
    with pytest.raises(ValueError, match="question must be one of"):
        check("no_such_question", 1)
    with pytest.raises(TypeError, match="must be a number"):
        check("largest_stable_rate", "fast")
    with pytest.raises(TypeError, match="must be a function"):
        check("dense_relu", 3)
    assert "dropout rate 0.2" in describe("dropout_scale")
