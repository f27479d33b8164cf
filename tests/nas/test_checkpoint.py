"""Checkpoints: atomic JSON, exact resume (also after kill -9), clear errors when wrong."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from nas_fakes import FormulaEvaluator, blobs

from nastoolkit.nas import (
    CheckpointError,
    GeneticSearch,
    HoldoutEvaluator,
    NSGA2Search,
    RandomSearch,
    RegularizedEvolution,
    Search,
    SearchSpace,
    load_search,
)
from nastoolkit.nas.checkpoint import (
    decode_array,
    decode_rng_state,
    encode_array,
    encode_rng_state,
    load_checkpoint,
    save_checkpoint,
)

SPACE = SearchSpace(max_layers=3)
HERE = Path(__file__).resolve().parent


def test_arrays_and_rng_states_round_trip_exactly_through_json():
    for array in (
        np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32),
        np.arange(5, dtype=np.int64),
        np.array([[1.5]], dtype=">f8"),
    ):
        again = decode_array(json.loads(json.dumps(encode_array(array))))
        assert again.shape == array.shape and np.array_equal(again, array)
    rng = random.Random(7)
    rng.gauss(0, 1)  # leaves a cached gauss value in the state
    state = decode_rng_state(json.loads(json.dumps(encode_rng_state(rng.getstate()))))
    other = random.Random()
    other.setstate(state)
    assert [other.random() for _ in range(3)] == [rng.random() for _ in range(3)]


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "run.json"
    save_checkpoint(path, {"strategy": "x", "config": {}, "evaluator": {}, "state": {"a": 1}})
    save_checkpoint(path, {"strategy": "x", "config": {}, "evaluator": {}, "state": {"a": 2}})
    assert os.listdir(tmp_path) == ["run.json"]
    assert load_checkpoint(path)["state"] == {"a": 2}


def test_save_refuses_non_json_values_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "run.json"
    save_checkpoint(path, {"strategy": "x", "config": {}, "evaluator": {}, "state": 1})
    with pytest.raises(ValueError):
        save_checkpoint(
            path, {"strategy": "x", "config": {}, "evaluator": {}, "state": float("nan")}
        )
    assert load_checkpoint(path)["state"] == 1 and os.listdir(tmp_path) == ["run.json"]


@pytest.mark.parametrize(
    "strategy", [GeneticSearch, RegularizedEvolution, RandomSearch, NSGA2Search]
)
def test_resume_from_every_generation_equals_the_uninterrupted_run(tmp_path, strategy):
    full = (
        strategy(
            SPACE, FormulaEvaluator(), population_size=6, generations=4, seed=1, progress=False
        )
        .run()
        .to_dict()
    )
    for stop in range(4):
        path = tmp_path / f"stop{stop}.json"
        strategy(
            SPACE,
            FormulaEvaluator(),
            population_size=6,
            generations=stop,
            seed=1,
            checkpoint=path,
            progress=False,
        ).run()
        resumed = strategy.resume(path, evaluator=FormulaEvaluator(), generations=4, progress=False)
        assert resumed.state.generation == stop
        assert resumed.run().to_dict() == full


def test_builtin_evaluators_are_rebuilt_from_the_checkpoint(tmp_path):
    X, y = blobs(samples=45)
    evaluator = HoldoutEvaluator(X, y, epochs=2, seed=0)
    path = tmp_path / "run.json"
    full = GeneticSearch(
        SPACE, evaluator, population_size=3, generations=2, seed=0, progress=False
    ).run()
    GeneticSearch(
        SPACE, evaluator, population_size=3, generations=1, seed=0, checkpoint=path, progress=False
    ).run()
    resumed = GeneticSearch.resume(path, generations=2, progress=False)
    assert isinstance(resumed.evaluator, HoldoutEvaluator)
    assert resumed.run().to_dict() == full.to_dict()
    assert load_search(path, progress=False).state.generation == 2


def _write_checkpoint(tmp_path, **options):
    path = tmp_path / "run.json"
    GeneticSearch(
        SPACE,
        FormulaEvaluator(),
        population_size=4,
        generations=1,
        seed=0,
        checkpoint=path,
        progress=False,
        **options,
    ).run()
    return path


def test_corrupt_checkpoints_are_clear_errors(tmp_path):
    path = _write_checkpoint(tmp_path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        GeneticSearch.resume(path, evaluator=FormulaEvaluator())
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="not a nastoolkit search checkpoint"):
        GeneticSearch.resume(path, evaluator=FormulaEvaluator())
    with pytest.raises(CheckpointError, match="no checkpoint"):
        GeneticSearch.resume(tmp_path / "missing.json", evaluator=FormulaEvaluator())


def test_a_damaged_state_is_a_clear_error(tmp_path):
    path = _write_checkpoint(tmp_path)
    document = json.loads(path.read_text())
    document["state"]["evaluations"] = document["state"]["evaluations"][:1]
    path.write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="field state.population"):
        GeneticSearch.resume(path, evaluator=FormulaEvaluator())


def test_mismatched_checkpoints_are_clear_errors(tmp_path):
    path = _write_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="another evaluator setup"):
        GeneticSearch.resume(path, evaluator=FormulaEvaluator(tag="other-data"))
    with pytest.raises(CheckpointError, match="written by GeneticSearch, not NSGA2Search"):
        NSGA2Search.resume(path, evaluator=FormulaEvaluator())
    with pytest.raises(CheckpointError, match="pass evaluator"):
        GeneticSearch.resume(path)  # a custom evaluator cannot be rebuilt from JSON
    assert type(Search.resume(path, evaluator=FormulaEvaluator())) is GeneticSearch


KILLED_SEARCH = textwrap.dedent("""
    import sys
    sys.path.insert(0, {here!r})
    from nas_fakes import FormulaEvaluator
    from nastoolkit.nas import GeneticSearch, SearchSpace
    GeneticSearch(SearchSpace(max_layers=3), FormulaEvaluator(delay=0.04), population_size=6,
                  generations=5, seed=2, checkpoint={path!r}, progress=False).run()
""")


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_generation", [0, 2])
def test_kill_9_mid_generation_then_resume_equals_the_uninterrupted_run(
    tmp_path, kill_after_generation
):
    path = tmp_path / "killed.json"
    script = tmp_path / "search.py"
    script.write_text(KILLED_SEARCH.format(here=str(HERE), path=str(path)))
    process = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if (
                path.exists()
                and json.loads(path.read_text())["state"]["generation"] >= kill_after_generation
            ):
                break
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the search ended before it was killed"
    saved = json.loads(path.read_text())["state"]["generation"]
    assert kill_after_generation <= saved < 5
    resumed = GeneticSearch.resume(path, evaluator=FormulaEvaluator(), progress=False).run()
    uninterrupted = GeneticSearch(
        SearchSpace(max_layers=3),
        FormulaEvaluator(),
        population_size=6,
        generations=5,
        seed=2,
        progress=False,
    ).run()
    assert resumed.to_dict() == uninterrupted.to_dict()
    assert [row["generation"] for row in resumed.history] == list(range(6))
