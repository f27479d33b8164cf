"""Checked exercises for the tutorials: ``check(question, answer)`` says right or wrong.

Every expected answer is computed by the library at check time (an optimizer, a kernel, a fit),
never typed in, so an exercise stays true when the library changes. A question is a name from
``QUESTIONS``; ``describe(question)`` prints what it asks.

>>> check("largest_stable_rate", 0.2)
right: lr < 2 / L = 2 / 10 = 0.2 on the kappa = 10 valley.
>>> bool(check("largest_stable_rate", 0.5))
False
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import kernels, objectives, optimizers
from . import regularization_path as rp
from .layers import Dense, Dropout
from .models import Sequential

__all__ = ["QUESTIONS", "CheckResult", "check", "describe"]


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one answer: ``correct`` and a one-line ``message`` (what was expected).

    Examples
    --------
    >>> result = check("dropout_scale", 1.25)
    >>> bool(result), result.question
    (True, 'dropout_scale')
    """

    question: str
    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return ("right: " if self.correct else "not yet: ") + self.message


@dataclass(frozen=True)
class _Question:
    prompt: str
    grade: Callable[[object], tuple[bool, str]]
    hint: str = ""  # shown instead of the graded message for a wrong answer (keeps it secret)


def _number(answer, name: str) -> float:
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise TypeError(f"answer to {name!r} must be a number. Received: {answer!r}") from None
    return value


def _function(answer, name: str):
    if not callable(answer):
        raise TypeError(f"answer to {name!r} must be a function (def ...). Received: {answer!r}")
    return answer


# --- notebook 1 -------------------------------------------------------------------------------


def _quickstart_model():

    return Sequential(
        [
            Dense(64, activation="relu", input_shape=(10,)),
            Dropout(0.5),
            Dense(32, activation="relu"),
            Dense(1, activation="linear"),
        ],
        seed=0,
    )


def _grade_parameter_count(answer):
    expected = _quickstart_model().count_params()
    value = _number(answer, "parameter_count")
    return (
        value == expected,
        (
            f"the quickstart MLP has {expected} parameters: (10 + 1) x 64 + (64 + 1) x 32 "
            "+ (32 + 1) x 1 (each Dense has a weight per input per unit, plus a bias per "
            "unit; Dropout has none)."
        ),
    )


def _grade_dense_relu(answer):

    function = _function(answer, "dense_relu")
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    expected = kernels.dense_forward(x, w, b, "relu")
    got = np.asarray(function(x, w, b), dtype=float)
    ok = got.shape == expected.shape and np.allclose(got, expected, atol=1e-6)
    return ok, (
        "your function matches kernels.dense_forward(x, W, b, 'relu') = max(0, x W + b)."
        if ok
        else "kernels.dense_forward(x, W, b, 'relu') = max(0, x W + b) differs from yours "
        f"(expected shape {expected.shape}, got {got.shape})."
    )


# --- notebook 2 -------------------------------------------------------------------------------


def _grade_gradient_step(answer):

    surface = objectives.get("ill_conditioned_quadratic")
    theta = np.array([1.0, 1.0])
    optimizers.SGD(learning_rate=0.1).apply_gradients([(surface.gradient(theta), theta)])
    got = np.asarray(answer, dtype=float)
    ok = got.shape == (2,) and np.allclose(got, theta)
    return ok, (
        f"SGD(0.1) from (1, 1) on the kappa = 10 valley goes to {theta.tolist()}: "
        "the gradient is (1, 10), so theta_2 lands exactly on 0."
    )


def _grade_largest_stable_rate(answer):

    expected = objectives.largest_stable_rate([1.0, 10.0])
    value = _number(answer, "largest_stable_rate")
    return (
        abs(value - expected) <= 0.02 * expected,
        f"lr < 2 / L = 2 / 10 = {expected:g} on the kappa = 10 valley.",
    )


def _grade_model_slice_rate(answer):
    from .widgets.descent import model_slice  # widgets import ipywidgets: load on demand

    surface = model_slice()
    curvatures = np.linalg.eigvalsh(objectives.hessian(surface, surface.trained))
    expected = objectives.largest_stable_rate(curvatures)
    value = _number(answer, "model_slice_rate")
    return (
        abs(value - expected) <= 0.15 * expected,
        (
            f"near the trained weights the largest curvature is L = {curvatures.max():.2f}, "
            f"so descent settles there only for lr < 2 / L = {expected:.2f} (within 15 %)."
        ),
    )


# --- notebook 3 -------------------------------------------------------------------------------


def _grade_momentum_step(answer):

    function = _function(answer, "momentum_step")
    surface = objectives.get("ill_conditioned_quadratic")
    reference = np.array(surface.start, dtype=float)
    optimizer = optimizers.SGD(learning_rate=0.05, momentum=0.8)
    theta, velocity = reference.copy(), np.zeros(2)
    for _ in range(5):
        optimizer.apply_gradients([(surface.gradient(reference), reference)])
        theta, velocity = function(theta, velocity, surface.gradient(theta), 0.05, 0.8)
        theta, velocity = np.asarray(theta, float), np.asarray(velocity, float)
    ok = theta.shape == (2,) and np.allclose(theta, reference)
    return ok, (
        "after 5 steps (lr 0.05, mu 0.8) optimizers.SGD(momentum=0.8) is at "
        f"{np.round(reference, 5).tolist()}; yours is at {np.round(theta, 5).tolist()}."
        " The rule: velocity = mu velocity - lr g; theta = theta + velocity."
    )


def _grade_optimal_momentum(answer):

    _, beta = objectives.optimal_heavy_ball([1.0, 10.0])
    value = _number(answer, "optimal_momentum")
    return (
        abs(value - beta) <= 0.02,
        f"beta* = ((sqrt(10) - 1) / (sqrt(10) + 1))^2 = {beta:.3f} for kappa = 10.",
    )


# --- notebook 4 -------------------------------------------------------------------------------


def _grade_l1_zeros(answer):

    X, y, _ = rp.sample_sparse_regression(seed=0)
    expected = int(np.sum(rp.lasso_fit(X, y, 30.0) == 0))
    value = _number(answer, "l1_zeros")
    return (
        value == expected,
        f"lasso at lambda = 30 on the 8-feature data sets {expected} weights to exactly 0.",
    )


def _grade_best_lambda(answer):
    from .widgets.regularization import PolynomialRegularizationModel  # (ipywidgets)

    model = PolynomialRegularizationModel(degree=9, num_train=10, seed=0)
    best = float(model.lambdas[int(np.argmin(model.val_errors))])
    value = _number(answer, "best_lambda")
    ok = value > 0 and abs(np.log10(value) - np.log10(best)) <= 0.5
    return ok, (
        f"the lowest validation error of the degree-9 fit is at lambda = {best:.2g} "
        "(answers within a factor of 3 count)."
    )


def _grade_dropout_scale(answer):

    _, mask = kernels.dropout(np.ones((1, 64)), 0.2, 0, 0)
    expected = float(mask.max())
    value = _number(answer, "dropout_scale")
    return (
        abs(value - expected) < 1e-6,
        f"at rate 0.2 kept units are scaled by 1 / (1 - 0.2) = {expected:g}.",
    )


# --- notebook 6 -------------------------------------------------------------------------------


def _grade_dense_tanh(answer):

    function = _function(answer, "dense_tanh")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    expected = kernels.dense_forward(x, w, b, "tanh")
    got = np.asarray(function(x, w, b))
    ok = got.shape == expected.shape and np.allclose(got, expected, atol=1e-5)
    return ok, (
        "kernels.dense_forward(x, W, b, 'tanh') = tanh(x W + b)"
        + (" matches yours." if ok else f" differs from yours (shape {got.shape}).")
    )


def _grade_adam_second_step(answer):

    theta = np.array([1.0, -2.0])
    m, v = np.zeros(2), np.zeros(2)
    for step in (1, 2):
        kernels.adam_update(theta, np.array([0.5, -1.0]) * step, m, v, step=step, learning_rate=0.1)
    got = np.asarray(answer, dtype=float)
    ok = got.shape == (2,) and np.allclose(got, theta, atol=1e-6)
    return ok, (
        f"two adam_update calls (g = (0.5, -1) then (1, -2), lr 0.1) give theta = "
        f"{np.round(theta, 6).tolist()}."
    )


# --- notebook 7 -------------------------------------------------------------------------------
# The nas package is loaded on demand (as widgets are above): it is a higher layer.

# Hyperband(max_epochs=9, reduction_factor=3), as in the notebook.
HYPERBAND_R, HYPERBAND_ETA = 9, 3
# One DARTS layer past the first: the space's activations, then skip and zero.
DARTS_ALPHA = {"relu": 0.2, "tanh": 0.5, "skip": 0.1, "zero": 1.5}
# One controller decision: its probabilities, the sampled choice, reward and baseline.
REINFORCE_P, REINFORCE_CHOICE, REINFORCE_REWARD, REINFORCE_BASELINE = (0.5, 0.3, 0.2), 0, 0.9, 0.8


def _grade_hyperband_epochs(answer):
    from .nas.hyperband import hyperband_brackets

    rungs = hyperband_brackets(HYPERBAND_R, HYPERBAND_ETA)[0]["rungs"]
    starts = [0] + [epochs for _, epochs in rungs[:-1]]
    expected = sum(n * (epochs - start) for (n, epochs), start in zip(rungs, starts))
    value = _number(answer, "hyperband_epochs")
    parts = " + ".join(f"{n} x ({epochs} - {start})" for (n, epochs), start in zip(rungs, starts))
    return value == expected, (
        f"bracket s = 2 has rungs {rungs} (candidates, epochs); a promoted candidate "
        f"continues, so it trains {parts} = {expected} epochs."
    )


def _darts_derived_layer(alpha: dict) -> str:
    """What DifferentiableSearch.derive picks for a second layer with these alpha values."""
    from .nas import DifferentiableSearch, SearchSpace

    activations = tuple(name for name in alpha if name not in ("skip", "zero"))
    space = SearchSpace(max_layers=2, units=(4,), activations=activations)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3)).astype(np.float32)
    search = DifferentiableSearch(space, X, np.arange(20) % 2, epochs=1)
    search._build()
    layer = search.supernet.layers[1]
    layer.alpha[...] = [alpha[name] for name in layer.operations]
    genome = search.derive(search.supernet)
    return genome["layers"][1]["activation"] if len(genome["layers"]) > 1 else "skip"


def _grade_darts_derived(answer):
    expected = _darts_derived_layer(DARTS_ALPHA)
    if not isinstance(answer, str):
        raise TypeError(
            f"answer to 'darts_derived' must be an operation name such as 'relu'. "
            f"Received: {answer!r}"
        )
    return answer.strip().lower() == expected, (
        f"softmax(alpha) ranks zero first, but the derived genome never uses zero (the paper's "
        f"rule): the strongest other operation is {expected!r}."
    )


def _grade_reinforce_gradient(answer):
    from .nas.controller import Controller, Decision

    p = np.array(REINFORCE_P)
    controller = Controller(
        [Decision("choice", tuple(range(len(p))))], 4, 2, np.random.default_rng(0)
    )
    V, bias = controller.heads[0]
    V[...], bias[...] = 0.0, np.log(p)  # the softmax of the logits is exactly p
    advantage = REINFORCE_REWARD - REINFORCE_BASELINE
    expected = controller.gradients([[REINFORCE_CHOICE]], [advantage])[4]  # d loss / d logits
    got = np.asarray(answer, dtype=float)
    ok = got.shape == expected.shape and np.allclose(got, expected, atol=1e-6)
    return ok, (
        f"dL/dz = (R - b)(p - onehot(a)) = {advantage:.1f} x "
        f"({', '.join(f'{v:g}' for v in p - np.eye(len(p))[REINFORCE_CHOICE])}) = "
        f"{np.round(expected, 6).tolist()}: a step against it raises p of the chosen choice."
    )


QUESTIONS = {
    "parameter_count": _Question(
        "How many parameters has the quickstart MLP (count_params)?",
        _grade_parameter_count,
        hint="count (inputs + 1) x units for each Dense layer and add them up.",
    ),
    "dense_relu": _Question(
        "Write dense_relu(x, W, b) in NumPy: one Dense layer with relu.", _grade_dense_relu
    ),
    "gradient_step": _Question(
        "theta after one SGD step (lr 0.1) from (1, 1) on the kappa = 10 valley "
        "J = (theta_1^2 + 10 theta_2^2) / 2.",
        _grade_gradient_step,
        hint="the gradient of J is (theta_1, 10 theta_2); step against it: theta - 0.1 grad J.",
    ),
    "largest_stable_rate": _Question(
        "The largest rate for which gradient descent converges on the kappa = 10 valley.",
        _grade_largest_stable_rate,
        hint="along a direction of curvature lambda a step multiplies the error by "
        "(1 - lr lambda); that must stay in (-1, 1) for the largest lambda.",
    ),
    "model_slice_rate": _Question(
        "The largest rate that still converges to the star on the model slice.",
        _grade_model_slice_rate,
        hint="near the star the loss is nearly quadratic: find its largest curvature L "
        "(objectives.hessian) and use the quadratic rule.",
    ),
    "momentum_step": _Question(
        "Write momentum_step(theta, velocity, g, lr, mu) -> (theta, velocity), Keras's "
        "SGD(momentum=mu) rule.",
        _grade_momentum_step,
    ),
    "optimal_momentum": _Question(
        "The best heavy-ball momentum beta for kappa = 10.",
        _grade_optimal_momentum,
        hint="beta* = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2.",
    ),
    "l1_zeros": _Question(
        "How many of the 8 lasso weights are exactly 0 at lambda = 30?",
        _grade_l1_zeros,
        hint="print rp.lasso_fit(X, y, lam=30.0) and count the entries that are exactly 0.",
    ),
    "best_lambda": _Question(
        "The lambda with the lowest validation error for the degree-9 polynomial.",
        _grade_best_lambda,
        hint="move the polynomial app's lambda slider to the circled point of the error panel.",
    ),
    "dropout_scale": _Question(
        "By what factor are kept units scaled at dropout rate 0.2?",
        _grade_dropout_scale,
        hint="inverted dropout keeps E[mask] = 1: (1 - p) x scale = 1.",
    ),
    "dense_tanh": _Question(
        "Write dense_tanh(x, W, b) in NumPy: one Dense layer with tanh.", _grade_dense_tanh
    ),
    "adam_second_step": _Question(
        "theta after two Adam steps (see notebook 6).",
        _grade_adam_second_step,
        hint="apply the formula above twice; bias correction uses step = 1, then step = 2.",
    ),
    "hyperband_epochs": _Question(
        "How many epochs does bracket s = 2 of Hyperband(max_epochs=9, reduction_factor=3) "
        "train in all?",
        _grade_hyperband_epochs,
        hint="list its rungs (candidates, epochs); each promoted candidate only trains the "
        "epochs between its previous rung and the next.",
    ),
    "darts_derived": _Question(
        "Which operation does DARTS derive for a layer with alpha relu 0.2, tanh 0.5, skip 0.1, "
        "zero 1.5?",
        _grade_darts_derived,
        hint="softmax keeps the order of alpha, and the derived genome never takes zero.",
    ),
    "reinforce_gradient": _Question(
        "dL/dz for one decision with p = (0.5, 0.3, 0.2), choice 0, reward 0.9, baseline 0.8.",
        _grade_reinforce_gradient,
        hint="dL/dz = (R - b) (p - onehot(a)), the softmax cross-entropy gradient scaled by "
        "the advantage.",
    ),
}


def describe(question: str) -> str:
    """What ``question`` asks, in one line.

    Parameters
    ----------
    question : str
        A key of ``QUESTIONS``.

    Returns
    -------
    str
        The question's prompt.

    Examples
    --------
    >>> describe("dropout_scale")
    'By what factor are kept units scaled at dropout rate 0.2?'
    """
    return _lookup(question).prompt


def check(question: str, answer) -> CheckResult:
    """Grade ``answer`` to ``question`` against the library; displays "right: ..." or
    "not yet: ..." with what the library computes.

    Parameters
    ----------
    question : str
        A name from ``QUESTIONS`` (e.g. ``"largest_stable_rate"``).
    answer : object
        A number, an array or a function, as the question asks.

    Returns
    -------
    CheckResult
        Truthy when right; its ``message`` says what the library computes.

    Examples
    --------
    >>> bool(check("dropout_scale", 1.25))
    True
    """
    entry = _lookup(question)
    correct, message = entry.grade(answer)
    if not correct and entry.hint:
        message = f"you answered {answer!r}. Hint: {entry.hint}"
    return CheckResult(question, bool(correct), message)


def _lookup(question: str) -> _Question:
    if question not in QUESTIONS:
        raise ValueError(
            f"question must be one of {sorted(QUESTIONS)}. Received: question={question!r}"
        )
    return QUESTIONS[question]
