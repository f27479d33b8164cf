"""A real Dask cluster: ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1, as the
README's "scale out" section starts them. A search through the scheduler address ends with the
serial result, also when one worker is killed in the middle of a generation."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from nas_fakes import FormulaEvaluator

from nastoolkit.nas import GeneticSearch, SearchSpace

pytest.importorskip("distributed")
DASK = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(DASK is None, reason="the dask command is not installed"),
]

HERE = Path(__file__).resolve().parent
SPACE = SearchSpace(max_layers=2, units=(8, 16, 32))


class Announcing(FormulaEvaluator):
    """Writes a file named after its process id when it starts a candidate, so the test knows
    which worker is busy."""

    def __init__(self, folder, delay):
        super().__init__(delay=delay, tag="announcing")
        self.folder = str(folder)

    def evaluate(self, genome):
        Path(self.folder, str(os.getpid())).touch()
        return super().evaluate(genome)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def cluster():
    """Scheduler address and the worker processes (``--no-nanny``: a killed worker stays dead);
    every process is killed afterwards, whatever happens."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(HERE.parents[1]), str(HERE), os.environ.get("PYTHONPATH", "")]
        ),
    }
    quiet = {
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "env": environment,
        "start_new_session": True,
    }
    processes = [
        subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            **quiet,
        )
    ]
    try:
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    [
                        DASK,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                    ],
                    **quiet,
                )
            )
        from dask.distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=30)
        yield address, processes[1:]
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _summary(result):
    return [(r["key"], r["status"], r["score"], r["generation"]) for r in result.evaluations]


def test_a_search_through_a_scheduler_address_matches_serial(cluster, tmp_path):
    address, _ = cluster
    options = {"population_size": 4, "generations": 2, "seed": 0, "progress": False}
    serial = GeneticSearch(SPACE, FormulaEvaluator(), **options).run()
    remote = GeneticSearch(SPACE, Announcing(tmp_path, 0.0), cluster=address, **options).run()
    assert _summary(remote) == _summary(serial)
    assert len(os.listdir(tmp_path)) == 2  # both workers evaluated candidates
    assert os.getpid() not in {int(name) for name in os.listdir(tmp_path)}


def test_killing_a_worker_mid_generation_still_ends_with_the_serial_result(cluster, tmp_path):
    address, workers = cluster
    options = {"population_size": 6, "generations": 2, "seed": 0, "progress": False}
    serial = GeneticSearch(SPACE, FormulaEvaluator(), **options).run()
    pids = {process.pid for process in workers}
    killed = []

    def kill_a_busy_worker():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = [int(name) for name in os.listdir(tmp_path) if int(name) in pids]
            if busy:
                os.kill(busy[0], signal.SIGKILL)
                killed.append(busy[0])
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    remote = GeneticSearch(SPACE, Announcing(tmp_path, 0.3), cluster=address, **options).run()
    killer.join()
    assert killed, "no worker was killed"
    assert next(p for p in workers if p.pid == killed[0]).wait(5) == -signal.SIGKILL
    assert _summary(remote) == _summary(serial)


class Hanging(FormulaEvaluator):
    """Hangs on genomes whose first layer has 99 units; ``timeout`` seconds per candidate."""

    def __init__(self, timeout):
        super().__init__(tag="hanging")
        self.timeout = timeout

    def evaluate(self, genome):
        if genome["layers"][0]["units"] == 99:
            time.sleep(3600)
        return super().evaluate(genome)


def test_a_time_limit_holds_on_dask_workers_too(cluster):
    import json
    import random

    from nastoolkit.nas.parallel import DaskMap, SerialMap

    address, _ = cluster
    rng = random.Random(0)
    genomes = [json.loads(json.dumps(SPACE.sample(rng))) for _ in range(3)]
    genomes[1]["layers"][0]["units"] = 99
    dask_map = DaskMap(Hanging(timeout=2), cluster=address)
    start = time.monotonic()
    try:
        outcomes = dask_map.map(genomes)
    finally:
        dask_map.close()
    assert time.monotonic() - start < 30
    assert outcomes[1].reason == "timed out after 2 s"
    expected = SerialMap(FormulaEvaluator()).map([genomes[0], genomes[2]])
    assert [outcomes[0], outcomes[2]] == expected
