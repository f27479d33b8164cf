"""Checkpoints are checked field by field when read: each tampered field is a CheckpointError
naming the file and the field, never a crash later inside DEAP or a resumed run."""

import copy
import json

import pytest
from nas_fakes import FormulaEvaluator, blobs

from nastoolkit.nas import (
    CheckpointError,
    GeneticSearch,
    HoldoutEvaluator,
    SearchSpace,
    load_search,
)

SPACE = SearchSpace(max_layers=3)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A finished 2-generation GeneticSearch checkpoint (population 4) as a document."""
    path = tmp_path_factory.mktemp("schema") / "run.json"
    GeneticSearch(
        SPACE,
        FormulaEvaluator(failing_units=(256,)),
        population_size=4,
        generations=2,
        seed=0,
        checkpoint=path,
        progress=False,
    ).run()
    document = json.loads(path.read_text())
    assert any(r["outcome"]["status"] == "ok" for r in document["state"]["evaluations"])
    return document


def _set(path, value):
    """A tamper that sets the field at ``path`` (keys and list indices) to ``value``."""

    def tamper(document):
        *parents, last = path
        target = document
        for key in parents:
            target = target[key]
        target[last] = value

    return tamper


def _delete(path):
    def tamper(document):
        *parents, last = path
        target = document
        for key in parents:
            target = target[key]
        del target[last]

    return tamper


def _duplicate_first_evaluation(document):
    evaluations = document["state"]["evaluations"]
    evaluations[1] = dict(copy.deepcopy(evaluations[0]), index=1)


def _fail_without_reason(document):
    document["state"]["evaluations"][0]["outcome"].update(status="failed", reason=None)


def _failed_with_a_good_score(document):
    document["state"]["evaluations"][0]["outcome"].update(status="failed", reason="x", score=0.01)


E0 = ("state", "evaluations", 0)
TAMPERS = [
    ("strategy", _set(("strategy",), "MagicSearch")),
    ("strategy", _set(("strategy",), 5)),
    ("config", _set(("config",), [])),
    ("config", _delete(("config", "seed"))),
    ("config.space", _set(("config", "space", "units"), [0, 8])),
    ("config.space", _set(("config", "space"), "SearchSpace()")),
    ("config.population_size", _set(("config", "population_size"), 1)),
    ("config.generations", _set(("config", "generations"), "2")),
    ("config.seed", _set(("config", "seed"), -1)),
    ("config.hall_of_fame_size", _set(("config", "hall_of_fame_size"), 0.5)),
    ("config", _set(("config", "mutation_probability"), 2.0)),
    ("config", _set(("config", "bogus_option"), 1)),
    ("evaluator", _set(("evaluator",), None)),
    ("evaluator.fingerprint", _set(("evaluator", "fingerprint"), 3)),
    ("evaluator.config", _set(("evaluator", "config"), "data")),
    ("execution", _set(("execution",), "pool")),
    ("execution.workers", _set(("execution", "workers"), 0)),
    ("execution.cluster", _set(("execution", "cluster"), 8786)),
    ("state", _delete(("state", "rng_state"))),
    ("state.generation", _set(("state", "generation"), 7)),
    ("state.generation", _set(("state", "generation"), "1")),
    ("state.rng_state", _set(("state", "rng_state"), {"seed": 0})),
    ("state.rng_state[1]", _set(("state", "rng_state", 1), [1, 2, 3])),
    ("state.rng_state[1][5]", _set(("state", "rng_state", 1, 5), -1)),
    ("state.rng_state[1][624]", _set(("state", "rng_state", 1, 624), 1000)),
    ("state.rng_state[2]", _set(("state", "rng_state", 2), "gauss")),
    ("state.evaluations", _set(("state", "evaluations"), {})),
    ("state.evaluations[0]", _delete((*E0, "outcome"))),
    ("state.evaluations[0]", _set(E0, "a record")),
    ("state.evaluations[0].outcome.status", _set((*E0, "outcome", "status"), "great")),
    ("state.evaluations[0].outcome.score", _set((*E0, "outcome", "score"), "0.1")),
    ("state.evaluations[0].outcome.score", _set((*E0, "outcome", "score"), -0.5)),
    ("state.evaluations[0].outcome.reason", _fail_without_reason),
    ("state.evaluations[0].outcome.score", _failed_with_a_good_score),
    ("state.evaluations[0].outcome.metrics", _set((*E0, "outcome", "metrics"), [1])),
    ("state.evaluations[0].outcome.seconds", _set((*E0, "outcome", "seconds"), -1)),
    ("state.evaluations[0].index", _set((*E0, "index"), 3)),
    ("state.evaluations[0].genome", _set((*E0, "genome", "layers", 0, "units"), 7)),
    ("state.evaluations[0].genome", _set((*E0, "genome", "optimizer"), "adamx")),
    ("state.evaluations[0].genome", _delete((*E0, "genome", "batch_size"))),
    ("state.evaluations[0].key", _set((*E0, "key"), "another genome")),
    ("state.evaluations[1].key", _duplicate_first_evaluation),
    ("state.evaluations[0].generation", _set((*E0, "generation"), 99)),
    ("state.evaluations[0].params", _set((*E0, "params"), -1)),
    ("state.evaluations[0].params", _set((*E0, "params"), 12345)),
    ("state.population", _set(("state", "population"), "keys")),
    ("state.population[0]", _set(("state", "population", 0), "not evaluated")),
    ("state.population", lambda d: d["state"]["population"].pop()),
    ("state.population", _set(("config", "population_size"), 5)),
    ("state.history", lambda d: d["state"]["history"].pop()),
    ("state.history[0].generation", _set(("state", "history", 0, "generation"), 1)),
    ("state.history[0].mean", _set(("state", "history", 0, "mean"), "low")),
    ("state.history[0].trained", _set(("state", "history", 0, "trained"), -1)),
    ("state.history[1]", _set(("state", "history", 1), [])),
]


@pytest.mark.parametrize(
    "field, tamper", TAMPERS, ids=[f"{i}-{f}" for i, (f, _) in enumerate(TAMPERS)]
)
def test_each_tampered_field_is_a_checkpoint_error_naming_file_and_field(
    tmp_path, saved, field, tamper
):
    document = copy.deepcopy(saved)
    tamper(document)
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(document))
    with pytest.raises(CheckpointError) as error:
        load_search(path, evaluator=FormulaEvaluator(failing_units=(256,)), progress=False)
    message = str(error.value)
    assert str(path) in message
    assert f"field {field} " in message or f"field {field}:" in message, message


def test_the_untampered_checkpoint_resumes_and_extends_a_finished_run(tmp_path, saved):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(saved))
    extended = load_search(
        path, evaluator=FormulaEvaluator(failing_units=(256,)), generations=4, progress=False
    ).run()
    uninterrupted = GeneticSearch(
        SPACE,
        FormulaEvaluator(failing_units=(256,)),
        population_size=4,
        generations=4,
        seed=0,
        progress=False,
    ).run()
    assert extended == uninterrupted and len(extended.history) == 5
    assert json.loads(path.read_text())["config"]["generations"] == 4


def test_version_1_checkpoints_are_upgraded_on_read(tmp_path, saved):
    document = copy.deepcopy(saved)
    document["version"] = 1
    for record in document["state"]["evaluations"]:
        outcome = record.pop("outcome")
        record.update({key: outcome[key] for key in ("status", "score", "reason", "metrics")})
    path = tmp_path / "old.json"
    path.write_text(json.dumps(document))
    resumed = load_search(path, evaluator=FormulaEvaluator(failing_units=(256,)), progress=False)
    expected = copy.deepcopy(saved["state"]["evaluations"])
    for record in expected:
        record["outcome"]["seconds"] = 0.0  # version 1 kept no timing
    assert [r.to_dict() for r in resumed.result().evaluations] == expected


def test_a_damaged_evaluator_config_names_the_field(tmp_path):
    X, y = blobs(samples=30)
    path = tmp_path / "run.json"
    GeneticSearch(
        SPACE,
        HoldoutEvaluator(X, y, epochs=1),
        population_size=2,
        generations=0,
        checkpoint=path,
        progress=False,
    ).run()
    document = json.loads(path.read_text())
    document["evaluator"]["config"]["folds"] = "five"
    document["evaluator"]["config"]["class"] = "CrossValidationEvaluator"
    path.write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="field evaluator.config"):
        load_search(path, progress=False)
