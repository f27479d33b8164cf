"""Where evaluations run: in this process, in a process pool, or on Dask workers.

Every map takes a list of genomes and returns their evaluation results in the same order, and
every evaluation runs with one BLAS thread: on small MLPs extra threads gain nothing and collapse
when processes share cores, and the thread count changes floating-point summation order, so
pinning it is what makes serial, pool and Dask results identical.
"""

from __future__ import annotations

import os

from ..backend import single_blas_thread
from .outcome import Outcome, as_outcome

__all__ = [
    "DaskMap",
    "ProcessPoolMap",
    "SerialMap",
    "evaluate_genome",
    "make_map",
]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def evaluate_genome(evaluator, genome: dict) -> Outcome:
    """``evaluator.evaluate(genome)`` on one BLAS thread as an :class:`Outcome`; any exception
    becomes a failed outcome, so a worker never raises into the search."""
    try:
        with single_blas_thread():
            return as_outcome(evaluator.evaluate(genome))
    except Exception as error:  # noqa: BLE001  (an evaluator bug must not kill a long search)
        return Outcome.from_exception(error)


class SerialMap:
    """Evaluate one genome after another in this process."""

    def __init__(self, evaluator):
        self.evaluator = evaluator

    def map(self, genomes: list) -> list:
        return [evaluate_genome(self.evaluator, genome) for genome in genomes]

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "SerialMap()"


# -- process pool ------------------------------------------------------------------------------
_worker_evaluator = None


def _initialize_worker(evaluator) -> None:
    """Runs once per pool process: one BLAS thread for the whole process, keep the evaluator
    (sent once here rather than with every task)."""
    global _worker_evaluator
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except ImportError:  # pragma: no cover
        pass
    _worker_evaluator = evaluator


def _evaluate_in_worker(genome: dict) -> dict:
    return evaluate_genome(_worker_evaluator, genome)


class ProcessPoolMap:
    """Evaluate on ``workers`` spawned processes (spawn: safe with threads, same on every OS).

    Scripts using it need the usual ``if __name__ == "__main__":`` guard; notebooks do not.
    """

    def __init__(self, evaluator, workers: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers
        self._executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_initialize_worker, initargs=(evaluator,))

    def map(self, genomes: list) -> list:
        return list(self._executor.map(_evaluate_in_worker, genomes))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __repr__(self) -> str:
        return f"ProcessPoolMap(workers={self.workers})"


# -- Dask --------------------------------------------------------------------------------------
def _evaluate_on_dask(genome: dict, evaluator) -> dict:
    return evaluate_genome(evaluator, genome)


class DaskMap:
    """Evaluate on Dask workers: an existing ``client``, a scheduler address (``cluster="tcp://
    host:8786"``) or ``cluster="local"`` for a LocalCluster of ``workers`` single-threaded
    processes. Clusters and clients made here are closed by :meth:`close`; a client passed in is
    left open. The evaluator (with its data) is scattered to every worker once."""

    def __init__(self, evaluator, client=None, cluster=None, workers: int | None = None):
        from dask.distributed import Client, LocalCluster

        self._owned = []
        if client is None:
            if cluster in (None, "local"):
                local = LocalCluster(n_workers=workers or 2, threads_per_worker=1,
                                     processes=True, dashboard_address=None)
                self._owned.append(local)
                client = Client(local)
            elif isinstance(cluster, str):
                client = Client(cluster)
            else:
                client = Client(cluster)
            self._owned.insert(0, client)
        self.client = client
        self._evaluator = client.scatter(evaluator, broadcast=True, hash=False)

    def map(self, genomes: list) -> list:
        futures = self.client.map(_evaluate_on_dask, genomes, evaluator=self._evaluator,
                                  pure=False)
        return self.client.gather(futures)

    def close(self) -> None:
        for owned in self._owned:
            owned.close()
        self._owned = []

    def __repr__(self) -> str:
        return f"DaskMap(client={self.client!r})"


def make_map(evaluator, workers=None, client=None, cluster=None):
    """The map for these settings: Dask when ``client`` or ``cluster`` is given, a process pool
    when ``workers`` > 1, else serial."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"workers must be a positive integer or None. Received: "
                         f"workers={workers!r}. Use workers=2 for two processes.")
    if client is not None or cluster is not None:
        return DaskMap(evaluator, client=client, cluster=cluster, workers=workers)
    if workers and workers > 1:
        return ProcessPoolMap(evaluator, workers)
    return SerialMap(evaluator)
