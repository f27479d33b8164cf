"""Hyperband / ASHA: brackets against the paper's formulas, promotion of exactly the top 1/eta,
promoted candidates continuing (not restarting), exact resume after an interruption or a kill."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from nas_fakes import FormulaEvaluator, blobs

from nastoolkit.nas import CrossValidationEvaluator, HoldoutEvaluator, SearchSpace
from nastoolkit.nas.continuation import SegmentEvaluator, train_segment
from nastoolkit.nas.hyperband import Hyperband, asha_rungs, hyperband_brackets

SPACE = SearchSpace(max_layers=2, units=(4, 8, 16), learning_rate=(1e-3, 1e-1))


@pytest.fixture(scope="module")
def evaluator():
    X, y = blobs()
    return HoldoutEvaluator(X, y, seed=0)


def _paper_brackets(R, eta):
    """Li et al. 2018, Algorithm 1, in floating point as printed."""
    s_max = math.floor(math.log(R) / math.log(eta) + 1e-9)
    brackets = []
    for s in range(s_max, -1, -1):
        n = math.ceil((s_max + 1) / (s + 1) * eta**s - 1e-9)
        r = R * eta ** (-s)
        brackets.append(
            [(math.floor(n * eta ** (-i) + 1e-9), max(1, round(r * eta**i))) for i in range(s + 1)]
        )
    return brackets


def test_brackets_of_r81_eta3_are_the_papers_table():
    # Table 1 of Li et al. (2018).
    assert [b["rungs"] for b in hyperband_brackets(81, 3)] == [
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        [(34, 3), (11, 9), (3, 27), (1, 81)],
        [(15, 9), (5, 27), (1, 81)],
        [(8, 27), (2, 81)],
        [(5, 81)],
    ]


@pytest.mark.parametrize(
    "R,eta", [(81, 3), (27, 3), (243, 3), (16, 2), (64, 4), (100, 3), (1, 3), (9, 9), (10, 2)]
)
def test_brackets_follow_the_formulas(R, eta):
    assert [b["rungs"] for b in hyperband_brackets(R, eta)] == _paper_brackets(R, eta)
    # ASHA's rungs are those of Hyperband's most aggressive bracket
    assert asha_rungs(R, eta) == [r for _, r in _paper_brackets(R, eta)[0]]


def test_run_trains_each_rung_with_the_papers_sizes_and_promotes_the_top_third(evaluator):
    result = Hyperband(
        SPACE, evaluator, max_epochs=9, reduction_factor=3, seed=0, progress=False
    ).run()
    schedule = [
        (b["s"], i, n, r) for b in hyperband_brackets(9, 3) for i, (n, r) in enumerate(b["rungs"])
    ]
    assert [
        (row["bracket"], row["rung"], len(row["trials"]), row["epochs"]) for row in result.history
    ] == schedule
    records = {f"t{record.index}": record for record in result.evaluations}
    for row, following in zip(result.history, result.history[1:] + [None]):
        scores = row["scores"]
        # best first; ties go to the earlier candidate (lower trial number)
        order = sorted(range(len(scores)), key=lambda j: (scores[j], int(row["trials"][j][1:])))
        expected = [row["trials"][j] for j in order[: len(scores) // 3]]
        if row["rung"] < row["bracket"]:
            assert row["promoted"] == expected
            assert following["trials"] == expected  # exactly those go on, nobody else
        else:
            assert row["promoted"] == []
    # each candidate's record is its last rung, and the epochs spent are the increments only
    spent = 0
    for bracket in hyperband_brackets(9, 3):
        previous = 0
        for n, r in bracket["rungs"]:
            spent, previous = spent + n * (r - previous), r
    assert result.history[-1]["total_epochs"] == spent == 69
    last_rung = {trial: row["epochs"] for row in result.history for trial in row["trials"]}
    assert {trial: record.metrics["epochs"] for trial, record in records.items()} == last_rung
    assert result.best_genome is not None and result.best_score < 0.5


def test_promoted_candidates_continue_from_their_saved_state(evaluator):
    search = Hyperband(SPACE, evaluator, max_epochs=9, reduction_factor=3, seed=1, progress=False)
    jobs, outputs = [], {}
    original = search._segments.evaluate

    def spy(job):
        outcome = original(job)
        jobs.append(job)
        outputs[(json.dumps(job["genome"], sort_keys=True), job["stop"])] = outcome.metrics.get(
            "_state"
        )
        return outcome

    search._segments.evaluate = spy
    search.run()
    continued = [job for job in jobs if job["start"] > 0]
    assert continued, "some candidate must be promoted"
    for job in continued:
        saved = outputs[(json.dumps(job["genome"], sort_keys=True), job["start"])]
        assert job["state"] is not None
        for given, kept in zip(job["state"][0]["weights"], saved[0]["weights"]):
            np.testing.assert_array_equal(given, kept)
        assert job["state"][0]["optimizer"]["iterations"] > 0


def test_segments_continue_exactly_and_differ_from_a_restart(evaluator):
    genome = SPACE.repair(
        {
            "layers": [{"units": 8, "activation": "relu", "dropout": 0.25}],
            "learning_rate": 0.01,
            "l2": 0.0,
            "optimizer": "adam",
            "batch_size": 32,
        }
    )
    whole, whole_state = train_segment(evaluator, genome, 0, 3)
    _first, first_state = train_segment(evaluator, genome, 0, 1)
    rest, rest_state = train_segment(evaluator, genome, 1, 3, first_state)
    for a, b in zip(whole_state[0]["weights"], rest_state[0]["weights"]):
        np.testing.assert_array_equal(a, b)
    for name, value in whole_state[0]["optimizer"].items():
        np.testing.assert_array_equal(value, rest_state[0]["optimizer"][name])
    assert rest.metrics["epochs"] == 3 and rest.score == whole.score
    # a restart (two fresh epochs) lands elsewhere
    _, restart_state = train_segment(evaluator, genome, 0, 2)
    assert not np.array_equal(restart_state[0]["weights"][0], rest_state[0]["weights"][0])
    with pytest.raises(ValueError, match="state must be None exactly when start == 0"):
        train_segment(evaluator, genome, 1, 3)


def test_cross_validation_keeps_one_state_per_fold():
    X, y = blobs()
    evaluator = CrossValidationEvaluator(X, y, folds=3, seed=0)
    result = Hyperband(SPACE, evaluator, max_epochs=3, reduction_factor=3, progress=False).run()
    assert all(len(record.metrics["fold_errors"]) == 3 for record in result.evaluations)


def _interrupt_after(search, calls):
    original, count = search._segments.evaluate, [0]

    def evaluate(job):
        count[0] += 1
        if count[0] > calls:
            raise KeyboardInterrupt
        return original(job)

    search._segments.evaluate = evaluate


@pytest.mark.parametrize("asynchronous", [False, True])
def test_resume_after_interruption_equals_an_uninterrupted_run(evaluator, tmp_path, asynchronous):
    options = {
        "max_epochs": 9,
        "reduction_factor": 3,
        "seed": 3,
        "asynchronous": asynchronous,
        "progress": False,
    }
    reference = Hyperband(SPACE, evaluator, **options).run()
    path = tmp_path / "hb.json"
    search = Hyperband(SPACE, evaluator, checkpoint=path, **options)
    _interrupt_after(search, 13)
    with pytest.raises(KeyboardInterrupt):
        search.run()
    saved = json.loads(path.read_text())
    assert 0 <= saved["state"]["generation"] < len(reference.history) - 1
    assert len(list(tmp_path.glob("hb.json.*.npz"))) == 1  # old rungs' arrays are removed
    resumed = Hyperband.resume(path, progress=False)  # evaluator rebuilt from the checkpoint
    assert resumed.run().to_dict() == reference.to_dict()


def test_asha_promotes_only_from_the_top_of_a_rung(evaluator):
    result = Hyperband(
        SPACE,
        evaluator,
        max_epochs=9,
        reduction_factor=3,
        seed=0,
        asynchronous=True,
        workers=None,
        progress=False,
    ).run()
    rungs = asha_rungs(9, 3)
    reached = {}  # trial -> scores per rung, replayed round by round
    budget = Hyperband(SPACE, evaluator, max_epochs=9, progress=False).budget
    for row in result.history:
        for trial, rung, score in zip(row["trials"], row["rung"], row["scores"]):
            if rung > 0:
                below = sorted(
                    (scores[rung - 1], int(t[1:]), t)
                    for t, scores in reached.items()
                    if len(scores) >= rung
                )
                top = [t for _, _, t in below[: len(below) // 3]]
                assert trial in top
            else:
                assert trial not in reached
            reached.setdefault(trial, []).append(score)
            assert row["epochs"][row["trials"].index(trial)] == rungs[rung]
    assert max(len(scores) for scores in reached.values()) == len(rungs)  # someone reaches R
    assert budget - 9 < result.history[-1]["total_epochs"] <= budget


@pytest.mark.slow
def test_sigkill_and_resume_equal_an_uninterrupted_run(evaluator, tmp_path):
    path = tmp_path / "killed.json"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from nas_fakes import blobs
        import nastoolkit.nas.continuation as continuation
        from nastoolkit.nas import HoldoutEvaluator, SearchSpace
        from nastoolkit.nas.hyperband import Hyperband
        slow = continuation.train_segment
        def train_segment(*args, **kwargs):
            time.sleep(0.15)  # long enough to be killed mid-run
            return slow(*args, **kwargs)
        continuation.train_segment = train_segment
        X, y = blobs()
        space = SearchSpace(max_layers=2, units=(4, 8, 16), learning_rate=(1e-3, 1e-1))
        Hyperband(space, HoldoutEvaluator(X, y, seed=0), max_epochs=9, seed=5,
                  checkpoint={str(path)!r}, progress=False).run()
    """)
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 25
        while time.time() < deadline:
            if path.exists() and json.loads(path.read_text())["state"]["generation"] >= 2:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    saved = json.loads(path.read_text())["state"]["generation"]
    assert 2 <= saved < 5, "the run must be killed in the middle"
    reference = Hyperband(SPACE, evaluator, max_epochs=9, seed=5, progress=False).run()
    resumed = Hyperband.resume(path, evaluator=evaluator, progress=False).run()
    assert resumed.to_dict() == reference.to_dict()


def test_bad_arguments_are_clear_errors(evaluator):
    with pytest.raises(ValueError, match="max_epochs must be an integer >= 1"):
        Hyperband(SPACE, evaluator, max_epochs=0)
    with pytest.raises(ValueError, match="reduction_factor must be an integer >= 2"):
        Hyperband(SPACE, evaluator, reduction_factor=1)
    with pytest.raises(TypeError, match="asynchronous must be True"):
        Hyperband(SPACE, evaluator, asynchronous="yes")
    with pytest.raises(TypeError, match="so candidates can continue training"):
        Hyperband(SPACE, FormulaEvaluator())
    with pytest.raises(TypeError, match="space must be"):
        Hyperband({"max_layers": 2}, evaluator)


def test_segment_evaluator_hides_state_only_in_metrics(evaluator):
    genome = SPACE.sample(__import__("random").Random(0))
    outcome = SegmentEvaluator(evaluator).evaluate(
        {"genome": genome, "start": 0, "stop": 1, "state": None}
    )
    assert outcome.ok and len(outcome.metrics["_state"]) == 1


@pytest.mark.slow
def test_a_process_pool_gives_the_serial_result(evaluator):
    options = {"max_epochs": 9, "reduction_factor": 3, "seed": 4, "progress": False}
    serial = Hyperband(SPACE, evaluator, **options).run()
    pooled = Hyperband(SPACE, evaluator, workers=2, **options).run()
    assert pooled.to_dict() == serial.to_dict()


def test_asha_treats_failed_candidates_as_worst(evaluator):
    space = SearchSpace(max_layers=1, units=(4, 8), learning_rate=(1e-3, 1e-1))
    search = Hyperband(space, evaluator, max_epochs=9, seed=0, asynchronous=True, progress=False)
    original = search._segments.evaluate

    def failing_small(job):
        if job["genome"]["layers"][0]["units"] == 4:
            from nastoolkit.nas import Outcome

            return Outcome.failure("diverged (test)")
        return original(job)

    search._segments.evaluate = failing_small
    result = search.run()
    assert result.failures and all(
        r.genome["layers"][0]["units"] == 8 for r in result.evaluations if r.metrics["epochs"] > 1
    )


def test_a_damaged_checkpoint_is_a_clear_error(evaluator, tmp_path):
    from nastoolkit.nas import CheckpointError

    path = tmp_path / "hb.json"
    Hyperband(SPACE, evaluator, max_epochs=3, checkpoint=path, progress=False).run()
    with pytest.raises(CheckpointError, match="will not overwrite"):
        Hyperband(SPACE, evaluator, max_epochs=3, checkpoint=path)
    for npz in tmp_path.glob("hb.json.*.npz"):
        npz.unlink()
    with pytest.raises(CheckpointError, match="state.arrays"):
        Hyperband.resume(path, evaluator=evaluator)
    other = HoldoutEvaluator(*blobs(seed=1), seed=0)
    with pytest.raises(CheckpointError, match="fingerprint"):
        Hyperband.resume(path, evaluator=other)


@pytest.mark.slow
def test_dask_gives_the_serial_result(evaluator):
    pytest.importorskip("dask.distributed")
    options = {"max_epochs": 9, "reduction_factor": 3, "seed": 4, "progress": False}
    serial = Hyperband(SPACE, evaluator, **options).run()
    on_dask = Hyperband(SPACE, evaluator, cluster="local", workers=2, **options).run()
    assert on_dask.to_dict() == serial.to_dict()


def test_regression_and_best_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5])).astype(np.float32)
    evaluator = HoldoutEvaluator(X, y, task="regression", seed=0)
    result = Hyperband(SPACE, evaluator, max_epochs=3, progress=False).run()
    best = result.best_record
    assert "val_mse" in best.metrics and best.score == best.metrics["val_mse"]
    assert best.score < np.var(y)  # better than predicting the mean
    model = result.best_model()
    assert model.predict(X[:5]).shape == (5, 1)


def test_the_new_strategies_are_exported_without_heavy_imports():
    import subprocess
    import sys

    code = (
        "import sys, nastoolkit\n"
        "from nastoolkit.nas import ControllerSearch, DifferentiableSearch, Hyperband\n"
        "print([m for m in ('deap', 'dask', 'ipywidgets', 'cupy') if m in sys.modules])"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


# -- truly asynchronous ASHA: a free worker never waits for the others --------------------------


def test_submit_maps_hand_back_results_as_they_finish():
    from slow_segments import Sleep

    from nastoolkit.nas.parallel import PoolSubmitMap, SerialSubmitMap, make_submit_map

    serial = make_submit_map(Sleep())
    assert isinstance(serial, SerialSubmitMap) and serial.capacity == 1
    assert serial.submit(0.0) == 0 and serial.pending == 1  # done already
    assert [token for token, _ in serial.wait_any()] == [0] and serial.wait_any() == []
    pool = make_submit_map(Sleep(), workers=2)
    assert isinstance(pool, PoolSubmitMap) and pool.capacity == 2
    try:
        pool.wait_any()  # warm: both workers started
        slow, fast = pool.submit(1.5), pool.submit(0.0)
        first = pool.wait_any()
        assert [token for token, _ in first] == [fast] and pool.pending == 1
        again = pool.submit(0.0)  # the free worker takes a new job while the slow one runs
        assert [token for token, _ in pool.wait_any()] == [again]
        (token, outcome), *_ = pool.wait_any()
        assert token == slow and outcome.score == 1.5 and pool.pending == 0
    finally:
        pool.close()


def _rungs_reached(result):
    """Per trial, the rungs it finished, in order, each at ASHA's epochs; promoted trials had
    succeeded at the rung below. (Which trials were in a rung's top 1/eta when a promotion was
    decided depends on what had finished by then, which the history does not keep.)"""
    rungs, reached = asha_rungs(9, 3), {}
    for row in result.history:
        for trial, rung, epochs, score in zip(
            row["trials"], row["rung"], row["epochs"], row["scores"]
        ):
            assert epochs == rungs[rung] and len(reached.get(trial, [])) == rung
            assert rung == 0 or reached[trial][-1] is not None
            reached.setdefault(trial, []).append(score)
    return reached


@pytest.mark.slow
def test_asha_on_workers_gives_a_free_worker_the_next_job_at_once(evaluator):
    import random

    from slow_segments import SlowOnOne

    from nastoolkit.nas.genome import genome_key

    search = Hyperband(
        SPACE, evaluator, max_epochs=9, seed=0, asynchronous=True, workers=2, progress=False
    )
    first_genome = SPACE.sample(random.Random(0))  # what t0 will be
    search._segments = SlowOnOne(evaluator, genome_key(first_genome), seconds=4.0)
    result = search.run()
    assert result.evaluations[0].genome == first_genome
    finished = [row["trials"][0] for row in result.history]
    # While t0's first job (4 s) ran, the other worker finished job after job.
    assert finished.index("t0") >= 3
    reached = _rungs_reached(result)
    assert len(result.history) == sum(len(scores) for scores in reached.values())
    assert max(len(scores) for scores in reached.values()) >= 2  # promotions happened
    budget = Hyperband(SPACE, evaluator, max_epochs=9, progress=False).budget
    assert budget - 9 < result.history[-1]["total_epochs"] <= budget


@pytest.mark.slow
def test_asha_on_workers_checkpoints_jobs_in_flight_and_resumes_them(evaluator, tmp_path):
    import random

    from slow_segments import SlowOnOne

    from nastoolkit.nas.genome import genome_key

    path = tmp_path / "asha.json"
    options = {"max_epochs": 9, "seed": 0, "asynchronous": True, "workers": 2, "progress": False}
    search = Hyperband(SPACE, evaluator, checkpoint=path, **options)
    search._segments = SlowOnOne(evaluator, genome_key(SPACE.sample(random.Random(0))), 4.0)
    original, finished = search._asha_finished, [0]

    def stop_after_three(*args):
        original(*args)
        finished[0] += 1
        if finished[0] == 3:
            raise KeyboardInterrupt

    search._asha_finished = stop_after_three
    with pytest.raises(KeyboardInterrupt):
        search.run()
    saved = json.loads(path.read_text())["state"]
    assert ["t0", 1] in saved["in_flight"]  # the slow job was running at the checkpoint
    assert saved["evaluations"][0][1]["outcome"]["reason"] == "not trained yet"
    resumed = Hyperband.resume(path, progress=False)
    assert resumed._in_flight[0] == ("t0", 1)
    result = resumed.run()
    assert result.evaluations[0].ok and result.evaluations[0].metrics["epochs"] >= 1
    reached = _rungs_reached(result)
    assert len(reached["t0"]) >= 1 and reached["t0"][0] is not None  # the resubmitted job
    budget = Hyperband(SPACE, evaluator, max_epochs=9, progress=False).budget
    assert budget - 9 < result.history[-1]["total_epochs"] <= budget


def test_serial_asha_runs_one_job_at_a_time_in_a_fixed_order(evaluator):
    options = {"max_epochs": 9, "seed": 2, "asynchronous": True, "progress": False}
    first = Hyperband(SPACE, evaluator, **options).run()
    assert all(len(row["trials"]) == 1 for row in first.history)
    assert Hyperband(SPACE, evaluator, **options).run().to_dict() == first.to_dict()


@pytest.mark.slow
def test_dask_submit_map_hands_back_the_first_finished_and_asha_runs_on_it(evaluator):
    distributed = pytest.importorskip("dask.distributed")
    from slow_segments import Sleep

    from nastoolkit.nas.parallel import DaskSubmitMap

    client = distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    )
    try:
        jobs = DaskSubmitMap(Sleep(), client=client)
        assert jobs.capacity == 2
        slow, fast = jobs.submit(1.5), jobs.submit(0.0)
        assert [token for token, _ in jobs.wait_any()] == [fast] and jobs.pending == 1
        assert [token for token, _ in jobs.wait_any()] == [slow]
        jobs.close()
        result = Hyperband(
            SPACE,
            evaluator,
            max_epochs=9,
            seed=1,
            asynchronous=True,
            client=client,
            progress=False,
        ).run()
        budget = Hyperband(SPACE, evaluator, max_epochs=9, progress=False).budget
        assert budget - 9 < result.history[-1]["total_epochs"] <= budget
        assert max(len(s) for s in _rungs_reached(result).values()) == len(asha_rungs(9, 3))
    finally:
        client.close()


def test_closing_a_submit_pool_with_a_queued_job_leaves_no_thread_waiting():
    import threading

    from slow_segments import Sleep

    from nastoolkit.nas.parallel import PoolSubmitMap

    pool = PoolSubmitMap(Sleep(), workers=2)
    for seconds in (5.0, 5.0, 0.0):  # the third waits for a free worker
        pool.submit(seconds)
    pool.terminate()
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if not [t for t in threading.enumerate() if t.name.startswith("nastoolkit-submit")]:
            break
        time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name.startswith("nastoolkit-submit")]
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(0.0)
