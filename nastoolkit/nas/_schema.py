"""The checkpoint schema: every field of a search checkpoint checked when it is read.

A damaged or hand-edited checkpoint must fail on reading, as a :class:`CheckpointError` naming
the file and the field (``state.evaluations[3].genome``), never later inside DEAP or halfway
through a resumed run. Strategy-specific settings are checked by the strategy's constructor, whose
errors name the argument.
"""

from __future__ import annotations

import math
import random

from .._checks import is_integer, is_number
from .checkpoint import CheckpointError, decode_rng_state
from .genome import genome_key
from .outcome import FAILED_SCORE, OutcomeError
from .result import Candidate
from .space import SPACE_KINDS, SearchSpace

__all__ = ["validate_checkpoint"]

_MT_STATE_LENGTH = 625  # random.Random: 624 Mersenne Twister words and the position
_STATISTICS = ("best", "mean", "std", "median", "best_so_far")
_COUNTS = ("failed", "requested", "trained", "cache_hits", "evaluations")


class _Reader:
    """Field checks that raise one wording: the file, the field, what was expected and found."""

    def __init__(self, path):
        self.path = path

    def fail(self, field: str, problem: str):
        raise CheckpointError(
            f"checkpoint {self.path!r} is damaged or was edited: field {field} {problem}. "
            f"Restore the file from a copy, or start a new search (overwrite=True)."
        )

    def object(self, field, value, keys=()) -> dict:
        if not isinstance(value, dict):
            self.fail(field, f"must be an object. Found: {type(value).__name__}")
        missing = [key for key in keys if key not in value]
        if missing:
            self.fail(field, f"lacks {missing}")
        return value

    def list(self, field, value, length=None) -> list:
        if not isinstance(value, list):
            self.fail(field, f"must be a list. Found: {type(value).__name__}")
        if length is not None and len(value) != length:
            self.fail(field, f"must hold {length} entries. Found: {len(value)}")
        return value

    def integer(self, field, value, low=None, high=None) -> int:
        if (
            not is_integer(value)
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            bounds = (
                f" in [{low}, {high}]"
                if high is not None
                else (f" >= {low}" if low is not None else "")
            )
            self.fail(field, f"must be an integer{bounds}. Found: {value!r:.60}")
        return int(value)

    def string(self, field, value) -> str:
        if not isinstance(value, str):
            self.fail(field, f"must be a string. Found: {value!r:.60}")
        return value

    def number_or_null(self, field, value):
        if value is not None and not is_number(value):
            self.fail(field, f"must be a finite number or null. Found: {value!r:.60}")
        return value


def validate_checkpoint(path, document: dict, strategies) -> SearchSpace:
    """Check every field of a checkpoint ``document`` read from ``path`` (format and version are
    checked by ``load_checkpoint``); ``strategies`` are the known strategy names. Returns the
    search space, rebuilt and valid."""
    read = _Reader(path)
    strategy = read.string("strategy", document["strategy"])
    if strategy not in strategies:
        read.fail(
            "strategy", f"must name a known strategy ({sorted(strategies)}). Found: {strategy!r}"
        )
    config = read.object(
        "config", document["config"], ("space", "population_size", "generations", "seed")
    )
    space_config = read.object("config.space", config["space"])
    kind = space_config.get("kind", "SearchSpace")  # older checkpoints: a plain SearchSpace
    if not isinstance(kind, str) or kind not in SPACE_KINDS:
        read.fail(
            "config.space.kind",
            f"must name a search space class ({sorted(SPACE_KINDS)}). Found: {kind!r:.60}",
        )
    try:
        space = SearchSpace.from_config(space_config)
    except (TypeError, ValueError) as error:
        read.fail("config.space", f"is not a valid {kind} ({error})")
    population_size = read.integer("config.population_size", config["population_size"], 2)
    generations = read.integer("config.generations", config["generations"], 0)
    read.integer("config.seed", config["seed"], 0)
    if "hall_of_fame_size" in config:
        read.integer("config.hall_of_fame_size", config["hall_of_fame_size"], 1)
    evaluator = read.object("evaluator", document["evaluator"], ("class", "fingerprint"))
    read.string("evaluator.class", evaluator["class"])
    read.string("evaluator.fingerprint", evaluator["fingerprint"])
    if evaluator.get("config") is not None:
        read.object("evaluator.config", evaluator["config"])
    execution = document.get("execution")
    if execution is not None:
        read.object("execution", execution)
        if execution.get("workers") is not None:
            read.integer("execution.workers", execution["workers"], 1)
        if execution.get("cluster") is not None:
            read.string("execution.cluster", execution["cluster"])
    state = read.object(
        "state",
        document["state"],
        ("generation", "population", "rng_state", "evaluations", "history"),
    )
    generation = read.integer("state.generation", state["generation"], 0, generations)
    _check_rng_state(read, state["rng_state"])
    keys = _check_evaluations(read, state["evaluations"], space, generation)
    population = read.list("state.population", state["population"], population_size)
    for index, key in enumerate(population):
        if not isinstance(key, str) or key not in keys:
            read.fail(
                f"state.population[{index}]",
                f"must be the key of an evaluated genome. Found: {key!r:.60}",
            )
    _check_history(read, state["history"], generation)
    return space


def _check_rng_state(read: _Reader, value) -> None:
    version, internal, gauss_next = read.list("state.rng_state", value, 3)
    read.integer("state.rng_state[0]", version)
    read.list("state.rng_state[1]", internal, _MT_STATE_LENGTH)
    for index, word in enumerate(internal[:-1]):
        read.integer(f"state.rng_state[1][{index}]", word, 0, 2**32 - 1)
    read.integer(
        f"state.rng_state[1][{_MT_STATE_LENGTH - 1}]", internal[-1], 0, _MT_STATE_LENGTH - 1
    )
    read.number_or_null("state.rng_state[2]", gauss_next)
    try:
        random.Random().setstate(decode_rng_state(value))
    except (TypeError, ValueError, OverflowError) as error:
        read.fail("state.rng_state", f"is not a random.Random state ({error})")


def _check_evaluations(read: _Reader, value, space: SearchSpace, generation: int) -> set:
    keys = set()
    for index, record in enumerate(read.list("state.evaluations", value)):
        where = f"state.evaluations[{index}]"
        try:
            candidate = Candidate.from_dict(record, where=where)
        except OutcomeError as error:
            field, _, problem = str(error).partition(" ")
            read.fail(field, problem)
        if candidate.index != index:
            read.fail(
                f"{where}.index", f"must be {index} (evaluation order). Found: {candidate.index}"
            )
        problems = space.problems(candidate.genome)
        if problems:
            read.fail(f"{where}.genome", f"is outside the search space: {'; '.join(problems)}")
        if genome_key(candidate.genome) != candidate.key:
            read.fail(f"{where}.key", "does not match its genome")
        if candidate.key in keys:
            read.fail(f"{where}.key", "repeats an earlier evaluation's key")
        keys.add(candidate.key)
        if candidate.generation > generation:
            read.fail(
                f"{where}.generation",
                f"must be <= state.generation={generation}. Found: {candidate.generation}",
            )
        if not candidate.ok and candidate.score != FAILED_SCORE:
            read.fail(
                f"{where}.outcome.score",
                f"of a failed candidate must be {FAILED_SCORE}. Found: {candidate.score!r}",
            )
        if candidate.ok and (candidate.score < 0 or not math.isfinite(candidate.score)):
            read.fail(
                f"{where}.outcome.score", f"must be a finite error >= 0. Found: {candidate.score!r}"
            )
    return keys


def _check_history(read: _Reader, value, generation: int) -> None:
    for index, row in enumerate(read.list("state.history", value, generation + 1)):
        where = f"state.history[{index}]"
        read.object(where, row, ("generation", *_STATISTICS, *_COUNTS))
        read.integer(f"{where}.generation", row["generation"], index, index)
        for name in _STATISTICS:
            read.number_or_null(f"{where}.{name}", row[name])
        for name in _COUNTS:
            read.integer(f"{where}.{name}", row[name], 0)
