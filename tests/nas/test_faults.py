"""Fault injection: killed workers, hung and raising candidates, Ctrl-C in the command line, a
script without the ``__main__`` guard, a killed search. Each fault ends in a recorded failure or a
clean stop within seconds - never a hang, a traceback or a leftover process."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from nas_fakes import FormulaEvaluator

from nastoolkit.nas import GeneticSearch, SearchSpace
from nastoolkit.nas.outcome import Outcome
from nastoolkit.nas.parallel import ProcessPoolMap, SerialMap, make_map

SPACE = SearchSpace(max_layers=2, units=(8, 16, 32))
ROOT = Path(__file__).resolve().parents[2]


def _genomes(count, seed=0):
    rng = random.Random(seed)
    return [SPACE.sample(rng) for _ in range(count)]


def _with_units(genome, units):
    genome = json.loads(json.dumps(genome))
    genome["layers"][0]["units"] = units
    return genome


def _alive(pid):
    """True while ``pid`` exists and is not a zombie (read from /proc, no psutil needed)."""
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _children(pid):
    """Process ids whose parent is ``pid``, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stream:
                    fields = stream.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def _wait_until(condition, seconds, step=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process table")


class Killer(FormulaEvaluator):
    """Kills its own process (SIGKILL) on genomes whose first layer has ``always`` units, and on
    those with ``once`` units the first time only (a marker file remembers across processes)."""

    def __init__(self, marker, always=None, once=None, timeout=None):
        super().__init__(tag="killer")
        self.marker, self.always, self.once, self.timeout = str(marker), always, once, timeout

    def evaluate(self, genome):
        units = genome["layers"][0]["units"]
        if units == self.always:
            os.kill(os.getpid(), signal.SIGKILL)
        if units == self.once and not os.path.exists(self.marker):
            Path(self.marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().evaluate(genome)


class Sleeper(FormulaEvaluator):
    """Hangs (sleeps an hour) on genomes whose first layer has ``hang`` units."""

    def __init__(self, hang, timeout):
        super().__init__(tag="sleeper")
        self.hang, self.timeout = hang, timeout

    def evaluate(self, genome):
        if genome["layers"][0]["units"] == self.hang:
            time.sleep(3600)
        return super().evaluate(genome)


class Raiser(FormulaEvaluator):
    """Raises on genomes whose first layer has ``units`` units (an evaluator bug)."""

    def __init__(self, units):
        super().__init__(tag="raiser")
        self.units = units

    def evaluate(self, genome):
        if genome["layers"][0]["units"] == self.units:
            raise ValueError(f"bug for {self.units} units")
        return super().evaluate(genome)


def _scores(outcomes):
    return [(outcome.status, outcome.score) for outcome in outcomes]


# -- workers that die ----------------------------------------------------------------------------
def test_a_worker_killed_once_is_replaced_and_its_candidate_retried(tmp_path):
    genomes = [_with_units(g, 77 if i == 2 else 8) for i, g in enumerate(_genomes(5))]
    pool = ProcessPoolMap(Killer(tmp_path / "killed", once=77), workers=2)
    try:
        outcomes = pool.map(genomes)
        assert (tmp_path / "killed").exists()  # the fault really happened
        assert _scores(outcomes) == _scores(SerialMap(FormulaEvaluator()).map(genomes))
        assert len(pool.pids) == 2 and all(_alive(pid) for pid in pool.pids)
    finally:
        pool.close()


def test_a_candidate_that_always_kills_its_worker_fails_with_the_reason(tmp_path):
    genomes = [_with_units(g, 99 if i == 1 else 8) for i, g in enumerate(_genomes(4))]
    pool = ProcessPoolMap(Killer(tmp_path / "unused", always=99), workers=2)
    try:
        outcomes = pool.map(genomes)
        again = pool.map(genomes[2:])  # the pool still works afterwards
    finally:
        pool.close()
    assert not outcomes[1].ok
    assert (
        outcomes[1].reason == "worker process died while evaluating it (killed by SIGKILL), twice"
    )
    expected = _scores(SerialMap(FormulaEvaluator()).map(genomes))
    assert [s for i, s in enumerate(_scores(outcomes)) if i != 1] == expected[:1] + expected[2:]
    assert _scores(again) == expected[2:]


def test_a_worker_killed_from_outside_mid_candidate_changes_no_result():
    genomes = _genomes(6)
    pool = ProcessPoolMap(FormulaEvaluator(delay=0.4), workers=2)
    box = {}
    thread = threading.Thread(target=lambda: box.update(outcomes=pool.map(genomes)))
    try:
        thread.start()
        assert _wait_until(lambda: any(w.state == "busy" for w in pool._pool), 30)
        victim = next(w for w in pool._pool if w.state == "busy").pid
        os.kill(victim, signal.SIGKILL)
        thread.join(60)
        assert not thread.is_alive()
        assert not _alive(victim) and victim not in pool.pids
    finally:
        pool.close()
    assert _scores(box["outcomes"]) == _scores(SerialMap(FormulaEvaluator()).map(genomes))


class FirstLayerFails(FormulaEvaluator):
    """Fails (as a training failure would) genomes whose first layer has ``units`` units."""

    def __init__(self, units):
        super().__init__(tag="first-layer")
        self.units = units

    def evaluate(self, genome):
        if genome["layers"][0]["units"] == self.units:
            return Outcome.failure("loss diverged (fake)")
        return super().evaluate(genome)


def test_a_search_goes_on_when_candidates_kill_their_workers(tmp_path):
    """Genomes whose first layer has 64 units kill their worker; the search ends as one where
    they fail."""
    space = SearchSpace(max_layers=2, units=(8, 16, 32, 64))
    options = {"population_size": 4, "generations": 1, "seed": 0, "progress": False}
    killing = GeneticSearch(
        space, Killer(tmp_path / "unused", always=64), workers=2, **options
    ).run()
    failing = GeneticSearch(space, FirstLayerFails(64), **options).run()
    killed = [r for r in killing.evaluations if r["status"] == "failed"]
    assert killed and all("killed by SIGKILL" in r["reason"] for r in killed)

    def summary(result):
        return [(r["key"], r["status"], r["score"]) for r in result.evaluations]

    assert summary(killing) == summary(failing)


def _refuse_to_load():
    raise ImportError("this evaluator only exists in the parent")


class Unloadable(FormulaEvaluator):
    """Pickles fine but cannot be rebuilt in a worker."""

    def __reduce__(self):
        return (_refuse_to_load, ())


def test_an_evaluator_a_worker_cannot_load_is_an_error_at_once():
    pool = ProcessPoolMap(Unloadable(), workers=2)
    pids = pool.pids
    start = time.monotonic()
    with pytest.raises(
        RuntimeError,
        match=r"a worker process could not load the evaluator: "
        r"ImportError: this evaluator only exists",
    ):
        pool.map(_genomes(2))
    assert time.monotonic() - start < 30
    assert _wait_until(lambda: not any(_alive(pid) for pid in pids), 5)


def test_workers_that_cannot_start_fail_fast_and_name_the_guard(monkeypatch):
    from nastoolkit.nas import parallel

    monkeypatch.setattr(parallel, "_WORKER_CODE", "import sys; sys.exit(3)")
    pool = ProcessPoolMap(FormulaEvaluator(), workers=2)
    with pytest.raises(
        RuntimeError,
        match=r"exited \(exit code 3\) before it was ready.*"
        r'if __name__ == "__main__":',
    ):
        pool.map(_genomes(2))


# -- time limits ----------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [1, 2])
def test_a_candidate_past_the_time_limit_is_recorded_and_its_worker_killed(workers):
    genomes = [_with_units(g, 99 if i == 1 else 8) for i, g in enumerate(_genomes(4))]
    evaluation_map = make_map(Sleeper(hang=99, timeout=1.5), workers=workers)
    assert isinstance(evaluation_map, SerialMap if workers == 1 else ProcessPoolMap)
    pool = evaluation_map._pool if workers == 1 else evaluation_map
    start = time.monotonic()
    try:
        hung_before = set(pool.pids)
        outcomes = evaluation_map.map(genomes)
        seconds = time.monotonic() - start
        hung = hung_before - set(pool.pids)
    finally:
        evaluation_map.close()
    assert outcomes[1].reason == "timed out after 1.5 s" and not outcomes[1].ok
    assert 1.5 <= outcomes[1].seconds < 5 and seconds < 30
    expected = _scores(SerialMap(FormulaEvaluator()).map(genomes))
    assert [s for i, s in enumerate(_scores(outcomes)) if i != 1] == expected[:1] + expected[2:]
    assert len(hung) == 1 and not _alive(hung.pop())


def test_timeout_must_be_a_positive_number():
    with pytest.raises(
        ValueError,
        match=r"evaluator.timeout must be a finite number > 0\. "
        r"Received: evaluator.timeout=0\. Give seconds",
    ):
        make_map(Sleeper(hang=8, timeout=0), workers=2)
    with pytest.raises(ValueError, match=r"Received: evaluator.timeout='5'"):
        make_map(Sleeper(hang=8, timeout="5"))


# -- candidates that raise ------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [None, 2])
def test_a_raising_candidate_is_a_failed_outcome_and_the_search_goes_on(workers):
    result = GeneticSearch(
        SPACE,
        Raiser(units=16),
        population_size=4,
        generations=2,
        seed=0,
        workers=workers,
        progress=False,
    ).run()
    raised = [r for r in result.evaluations if r["genome"]["layers"][0]["units"] == 16]
    assert raised and all(
        r["status"] == "failed" and r["reason"] == "ValueError: bug for 16 units" for r in raised
    )
    assert result.best_record["status"] == "ok"


# -- no processes left behind --------------------------------------------------------------------
def test_terminate_kills_busy_and_idle_workers_at_once():
    pool = ProcessPoolMap(Sleeper(hang=99, timeout=None), workers=2)
    genomes = [_with_units(g, 99) for g in _genomes(2)]
    thread = threading.Thread(target=lambda: pytest.raises(RuntimeError, pool.map, genomes))
    thread.start()
    assert _wait_until(lambda: any(w.state == "busy" for w in pool._pool), 30)
    pids = pool.pids
    start = time.monotonic()
    pool.terminate()
    assert time.monotonic() - start < 3
    assert not any(_alive(pid) for pid in pids)
    thread.join(10)
    assert not thread.is_alive()


def test_workers_exit_when_the_search_process_is_killed(tmp_path):
    script = tmp_path / "killed_search.py"
    script.write_text(
        textwrap.dedent("""
        import sys, time
        from nas_fakes import FormulaEvaluator
        from nastoolkit.nas.parallel import ProcessPoolMap
        pool = ProcessPoolMap(FormulaEvaluator(delay=3600), workers=2)
        print(*pool.pids, flush=True)
        pool.map([{"layers": []}])
    """)
    )
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).parent)]),
    }
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=environment
    )
    try:
        pids = [int(pid) for pid in process.stdout.readline().split()]
        assert len(pids) == 2
        time.sleep(1.0)  # let a worker take the hour-long candidate
        process.kill()
        process.wait()
        assert _wait_until(lambda: not any(_alive(pid) for pid in pids), 10)
    finally:
        process.kill()
        process.stdout.close()


# -- scripts without the guard --------------------------------------------------------------------
def test_a_script_without_the_main_guard_works(tmp_path):
    """The README's search run as a plain script, with its own evaluator class defined in the
    script, finishes (with spawn-based pools it used to hang forever)."""
    script = tmp_path / "no_guard.py"
    script.write_text(
        textwrap.dedent("""
        from nastoolkit.datasets import make_moons
        from nastoolkit.nas import GeneticSearch, HoldoutEvaluator, SearchSpace

        class Scripted(HoldoutEvaluator):
            pass

        (X, y), _ = make_moons(n_samples=80, seed=0)
        space = SearchSpace(max_layers=1, units=(8, 16))
        for evaluator in (HoldoutEvaluator(X, y, epochs=2), Scripted(X, y, epochs=2)):
            result = GeneticSearch(space, evaluator, population_size=2, generations=1, seed=0,
                                   workers=2, progress=False).run()
            print("best", result.best_score)
    """)
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=tmp_path,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    scores = [line for line in out.stdout.splitlines() if line.startswith("best ")]
    assert len(scores) == 2 and scores[0] == scores[1]
    assert "Error" not in out.stderr


def test_the_readmes_search_example_runs_as_a_script(tmp_path):
    """The README's search (guard, timeout, workers=2, checkpoint), with a tiny budget."""
    import re

    readme = (ROOT / "README.md").read_text()
    code = next(
        block
        for block in re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
        if "GeneticSearch" in block
    )
    assert 'if __name__ == "__main__":' in code and "timeout=" in code and "workers=2" in code
    for old, new in (
        ("epochs=10", "epochs=1"),
        ("generations=5", "generations=1"),
        ("population_size=12", "population_size=2"),
        ("folds=3", "folds=2"),
    ):
        assert old in code
        code = code.replace(old, new)
    (tmp_path / "readme_search.py").write_text(code + "\n    print(result.best_score)\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "readme_search.py"],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=tmp_path,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert 0 <= float(out.stdout.split()[-1]) < 1 and (tmp_path / "search.json").exists()


@pytest.mark.slow
def test_a_dask_local_cluster_script_without_the_guard_fails_fast_and_shows_the_guard(tmp_path):
    pytest.importorskip("distributed")
    script = tmp_path / "no_guard_dask.py"
    script.write_text(
        textwrap.dedent("""
        from nastoolkit.datasets import make_moons
        from nastoolkit.nas import GeneticSearch, HoldoutEvaluator, SearchSpace

        (X, y), _ = make_moons(n_samples=80, seed=0)
        result = GeneticSearch(SearchSpace(max_layers=1), HoldoutEvaluator(X, y, epochs=2),
                               population_size=2, generations=1, seed=0, cluster="local",
                               progress=False).run()
        print("best", result.best_score)
    """)
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=90,
        env=environment,
        cwd=tmp_path,
        check=False,
    )
    assert time.monotonic() - start < 60
    if out.returncode != 0:  # spawned Dask workers re-import the script: it must say why
        last = out.stderr.strip().splitlines()[-1]
        assert "could not start a Dask LocalCluster" in last
        assert 'if __name__ == "__main__":' in last


# -- Ctrl-C in the command line ------------------------------------------------------------------
@pytest.mark.slow
def test_ctrl_c_in_the_cli_stops_cleanly_and_says_how_to_resume(tmp_path):
    checkpoint = tmp_path / "run.json"
    # random search: fresh candidates every generation (no cache hits), so it is still running
    command = [
        sys.executable,
        "-m",
        "nastoolkit.cli",
        "search",
        "--dataset",
        "moons",
        "--strategy",
        "random",
        "--population",
        "4",
        "--generations",
        "100000",
        "--folds",
        "0",
        "--epochs",
        "30",
        "--patience",
        "30",
        "--workers",
        "2",
        "--checkpoint",
        str(checkpoint),
        "--no-progress",
    ]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    # A session of its own, so the signal can go to the whole group as a terminal's Ctrl-C does.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        start_new_session=True,
    )
    try:
        assert _wait_until(checkpoint.exists, 60, step=0.1), "no generation finished"
        workers = _children(process.pid)
        assert len(workers) == 2
        start = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=30)
        assert time.monotonic() - start < 10
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert f"nastoolkit search --checkpoint {checkpoint} --resume" in lines[0]
    assert not any(_alive(pid) for pid in workers)
    saved = json.loads(checkpoint.read_text())
    assert saved["state"]["generation"] >= 0
