"""Checked exercises of tutorial 5 (architecture search): ``check(question, answer)``.

The same shape as :mod:`nastoolkit.exercises` (which holds the questions of tutorials 1-4 and 6):
``check`` returns a :class:`~nastoolkit.exercises.CheckResult` that is truthy when right and
whose message says what the library computes. Every expected answer comes from the library at
check time (``count_parameters``, ``dominates``, DEAP-style tournament selection), never typed in.

>>> check("tournament_miss", 0.21)
right: (1 - 1/16)^(8 x 3) = 0.2125: 8 tournaments of 3 draws among 16 miss the best 21% of the time.
"""

from __future__ import annotations

import itertools
import random

from ..exercises import CheckResult
from ._deap import select_tournament
from .build import count_parameters
from .genome import make_genome
from .result import dominates

__all__ = ["QUESTIONS", "check", "describe", "tournament_miss_rate"]

# The genome of the notebook's section 1 and the digits data's shape.
GENOME_LAYERS = [(64, "relu", 0.25), (32, "tanh", 0.0)]
INPUT_DIM, OUTPUT_DIM = 64, 10
# (mu, lambda, tournament size) of the notebook's stepper: GeneticSearch defaults.
MU, LAMBDA, TOURNAMENT = 8, 8, 3


def _number(answer, name: str) -> float:
    try:
        return float(answer)
    except (TypeError, ValueError):
        raise TypeError(f"answer to {name!r} must be a number. Received: {answer!r}") from None


def _grade_parameter_count(answer):
    genome = make_genome(GENOME_LAYERS)
    expected = count_parameters(genome, INPUT_DIM, OUTPUT_DIM)
    value = _number(answer, "parameter_count_05")
    return value == expected, (
        f"count_parameters gives {expected}: (64 + 1) x 64 + (64 + 1) x 32 + (32 + 1) x 10 "
        "(dropout adds none)."
    )


def _grade_dominates(answer):
    if not callable(answer):
        raise TypeError(f"answer to 'dominates' must be a function (def ...). Received: {answer!r}")
    points = [(error, params) for error in (0.1, 0.2) for params in (500, 5000)]
    for first, second in itertools.product(points, repeat=2):
        expected = dominates(first, second)
        if bool(answer(first, second)) != expected:
            return False, (
                f"for a = {first}, b = {second} the library says "
                f"dominates(a, b) = {expected}; yours says {not expected}. Equal "
                "points do not dominate each other."
            )
    return True, "your dominates agrees with nastoolkit.nas.result.dominates on every pair."


def tournament_miss_rate(trials: int = 4000, seed: int = 0) -> float:
    """How often ``MU`` tournaments of ``TOURNAMENT`` draws among ``MU + LAMBDA`` members never
    draw the best one, measured with the library's own tournament selection.

    Parameters
    ----------
    trials : int, default 4000
        How many generations of tournaments to simulate.
    seed : int, default 0
        Seed of the draws.

    Returns
    -------
    float
        The fraction of generations in [0, 1] in which the best member is never drawn.

    Examples
    --------
    >>> 0.18 < tournament_miss_rate(trials=2000) < 0.25
    True
    """

    class Member:  # what select_tournament reads: a comparable fitness
        def __init__(self, fitness):
            self.fitness = fitness

    members = [Member(-index) for index in range(MU + LAMBDA)]  # members[0] is the best
    rng = random.Random(seed)
    missed = sum(
        members[0] not in select_tournament(members, MU, TOURNAMENT, rng) for _ in range(trials)
    )
    return missed / trials


def _grade_tournament_miss(answer):
    expected = (1 - 1 / (MU + LAMBDA)) ** (MU * TOURNAMENT)
    value = _number(answer, "tournament_miss")
    return abs(value - expected) <= 0.01, (
        f"(1 - 1/{MU + LAMBDA})^({MU} x {TOURNAMENT}) = {expected:.4f}: {MU} tournaments of "
        f"{TOURNAMENT} draws among {MU + LAMBDA} miss the best {expected:.0%} of the time."
    )


class _Question:
    def __init__(self, prompt, grade, hint=""):
        self.prompt, self.grade, self.hint = prompt, grade, hint


QUESTIONS = {
    "parameter_count_05": _Question(
        "How many parameters has the section-1 genome (64 relu + dropout, 32 tanh) on the "
        "digits (64 inputs, 10 classes)?",
        _grade_parameter_count,
        hint="each Dense layer has (inputs + 1) x units parameters; the softmax output layer "
        "counts too.",
    ),
    "dominates": _Question(
        "Write dominates(a, b) for a = (error, params), b = (error, params), both minimised.",
        _grade_dominates,
    ),
    "tournament_miss": _Question(
        "With mu = lambda = 8 and tournaments of 3 (drawn with replacement), the probability "
        "that no tournament draws the single best of the 16.",
        _grade_tournament_miss,
        hint="one draw misses it with probability 1 - 1/16; there are 8 x 3 independent draws.",
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
    >>> describe("dominates")[:16]
    'Write dominates('
    """
    return _lookup(question).prompt


def check(question: str, answer) -> CheckResult:
    """Grade ``answer`` to ``question`` against the library.

    Parameters
    ----------
    question : str
        A name from ``QUESTIONS`` (``"parameter_count_05"``, ``"dominates"``,
        ``"tournament_miss"``).
    answer : object
        A number or a function, as the question asks.

    Returns
    -------
    CheckResult
        Truthy when right; its message says what the library computes (a hint when wrong).

    Examples
    --------
    >>> bool(check("parameter_count_05", 6570))
    True
    >>> bool(check("dominates", lambda a, b: a[0] < b[0]))
    False
    """
    entry = _lookup(question)
    correct, message = entry.grade(answer)
    if not correct and entry.hint:
        message = f"you answered {answer!r}. Hint: {entry.hint}"
    return CheckResult(question, bool(correct), message)


def _lookup(question: str) -> _Question:
    if question not in QUESTIONS:
        raise ValueError(
            f"question must be one of {sorted(QUESTIONS)}. "
            f"Received: question={question!r}. Pass one of those names."
        )
    return QUESTIONS[question]
