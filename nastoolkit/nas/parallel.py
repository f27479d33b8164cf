"""Where evaluations run: in this process, in worker processes, or on Dask workers.

Every map has ``map(genomes) -> list[Outcome]`` (same order as ``genomes``), ``close()`` (finish
and release the workers) and ``terminate()`` (kill the workers at once, leaving no processes
behind). Every evaluation runs with one BLAS thread: on small MLPs extra threads gain nothing and
collapse when processes share cores, and the thread count changes floating-point summation
order, so pinning it is what makes serial, pool and Dask results identical.

Faults never end a search and never hang it:

- an evaluator that raises gives ``Outcome.failure("<Error>: <message>")``;
- a worker process that dies (killed, out of memory) is replaced and its candidate is tried once
  more on a fresh worker, then recorded as failed with the exit code;
- with ``evaluator.timeout`` set (seconds), a candidate still running after that long has its
  worker killed and is recorded as ``"timed out after N s"``. Serially, a timeout makes the
  candidates run one at a time in a single worker process (a hung computation in this process
  cannot be stopped), so serial results stay identical to parallel ones.

The process pool starts its workers with ``python -c`` rather than ``multiprocessing``: nothing
re-imports the caller's ``__main__``, so a script without an ``if __name__ == "__main__":`` guard
works, and evaluators defined in that script travel by value (cloudpickle) when it is installed.
"""

from __future__ import annotations

import collections
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
import time

from .._checks import positive, positive_int
from ..backend import single_blas_thread
from .outcome import Outcome, as_outcome

__all__ = [
    "DaskMap",
    "DaskSubmitMap",
    "PoolSubmitMap",
    "ProcessPoolMap",
    "SerialMap",
    "SerialSubmitMap",
    "evaluate_genome",
    "evaluate_genomes",
    "evaluator_timeout",
    "make_map",
    "make_submit_map",
]

_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_GUARD_HINT = (
    'Put the code that starts the search under  if __name__ == "__main__":  in your '
    "script, as in the README."
)
# SIGINT is ignored before anything else: Ctrl-C in a terminal reaches the whole process group,
# and the search, not its workers, decides what happens then.
_WORKER_CODE = (
    "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "from nastoolkit.nas.parallel import _worker_main; _worker_main()"
)
# A worker gets this long to import nastoolkit and load the evaluator before it counts as broken.
_START_SECONDS = 120.0


def evaluator_timeout(evaluator) -> float | None:
    """The per-candidate time limit an evaluator asks for, checked.

    Parameters
    ----------
    evaluator : object
        Anything with ``evaluate(genome)``; its optional ``timeout`` attribute is read.

    Returns
    -------
    float or None
        ``evaluator.timeout`` in seconds, or None when it is absent or None.

    Examples
    --------
    >>> class Slow:
    ...     timeout = 30
    >>> evaluator_timeout(Slow())
    30.0
    """
    timeout = getattr(evaluator, "timeout", None)
    if timeout is None:
        return None
    return positive(
        "evaluator.timeout",
        timeout,
        "Give seconds per candidate (e.g. timeout=600), or None for no limit.",
    )


def evaluate_genome(evaluator, genome: dict) -> Outcome:
    """Evaluate one genome on one BLAS thread, turning any exception into a failed outcome (so a
    worker never raises into the search).

    Parameters
    ----------
    evaluator : object
        Has ``evaluate(genome)`` returning an :class:`Outcome` (or its dict form).
    genome : dict
        The architecture to train and score.

    Returns
    -------
    Outcome
        The evaluator's outcome, or ``Outcome.from_exception(error)``, with ``seconds`` set to
        the wall-clock time the evaluation took (timing never enters result equality).

    Examples
    --------
    >>> class Broken:
    ...     def evaluate(self, genome):
    ...         raise RuntimeError("evaluator bug")
    >>> evaluate_genome(Broken(), {}).reason
    'RuntimeError: evaluator bug'
    """
    start = time.perf_counter()
    try:
        with single_blas_thread():
            outcome = as_outcome(evaluator.evaluate(genome))
    except Exception as error:  # noqa: BLE001  (an evaluator bug must not kill a long search)
        outcome = Outcome.from_exception(error)
    return outcome.with_seconds(time.perf_counter() - start)


def evaluate_genomes(evaluator, genomes: list) -> list:
    """Evaluate ``genomes`` together through ``evaluator.evaluate_population`` where it has one
    (a generation trained as a population), else one by one with :func:`evaluate_genome`.

    Parameters
    ----------
    evaluator : object
        Has ``evaluate(genome)``, and optionally ``evaluate_population(genomes)`` returning one
        outcome per genome, each what ``evaluate`` gives for it.
    genomes : list of dict
        The architectures to train and score.

    Returns
    -------
    list of Outcome
        One per genome, in order; each population member's ``seconds`` is an equal share of
        the population's time. Should ``evaluate_population`` raise, every genome is evaluated
        alone instead, so only the failing one fails.

    Examples
    --------
    >>> class Depth:
    ...     def evaluate(self, genome):
    ...         return Outcome("ok", float(genome["depth"]))
    ...     def evaluate_population(self, genomes):
    ...         return [self.evaluate(genome) for genome in genomes]
    >>> [outcome.score for outcome in evaluate_genomes(Depth(), [{"depth": 1}, {"depth": 2}])]
    [1.0, 2.0]
    """
    genomes = list(genomes)
    together = getattr(evaluator, "evaluate_population", None)
    if together is None or len(genomes) < 2:
        return [evaluate_genome(evaluator, genome) for genome in genomes]
    start = time.perf_counter()
    try:
        with single_blas_thread():
            outcomes = [as_outcome(outcome) for outcome in together(genomes)]
        if len(outcomes) != len(genomes):
            raise ValueError(f"{len(outcomes)} outcomes for {len(genomes)} genomes")
    except Exception:  # noqa: BLE001  (evaluate alone: the failure is one candidate's)
        return [evaluate_genome(evaluator, genome) for genome in genomes]
    share = (time.perf_counter() - start) / len(genomes)
    return [outcome.with_seconds(share) for outcome in outcomes]


class SerialMap:
    """Evaluate one genome after another in this process; with ``evaluator.timeout`` set, in one
    worker process instead, so that a candidate past its limit can be killed.

    Parameters
    ----------
    evaluator : object
        Has ``evaluate(genome)``; ``evaluator.timeout`` (seconds, optional) limits each one.

    Examples
    --------
    >>> class Constant:
    ...     def evaluate(self, genome):
    ...         return {"status": "ok", "score": 0.5}
    >>> [outcome.score for outcome in SerialMap(Constant()).map([{}, {}])]
    [0.5, 0.5]
    """

    def __init__(self, evaluator):
        self.evaluator = evaluator
        self.timeout = evaluator_timeout(evaluator)
        self._pool = ProcessPoolMap(evaluator, 1) if self.timeout is not None else None

    def map(self, genomes: list) -> list:
        """The :class:`Outcome` of each genome, in order."""
        if self._pool is not None:
            return self._pool.map(genomes)
        return evaluate_genomes(self.evaluator, genomes)

    def close(self) -> None:
        """Stop the worker process, if one was started for the time limit."""
        if self._pool is not None:
            self._pool.close()

    def terminate(self) -> None:
        """Kill the worker process at once, if one was started for the time limit."""
        if self._pool is not None:
            self._pool.terminate()

    def __repr__(self) -> str:
        return "SerialMap()" if self.timeout is None else f"SerialMap(timeout={self.timeout:g})"


# -- worker processes --------------------------------------------------------------------------
# Frames on the pipes: 8-byte little-endian length, then a pickle.
def _write_frame(stream, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _read_exactly(stream, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_frame(stream):
    """The next message, or None at end of stream (the other side exited)."""
    header = _read_exactly(stream, 8)
    if header is None:
        return None
    data = _read_exactly(stream, struct.unpack("<Q", header)[0])
    return None if data is None else pickle.loads(data)


def _dump_evaluator(evaluator) -> bytes:
    """Pickled evaluator; by value (cloudpickle) when its class lives in ``__main__``, which a
    worker cannot import."""
    if type(evaluator).__module__ == "__main__":
        try:
            import cloudpickle

            return cloudpickle.dumps(evaluator)
        except ImportError:
            pass
    return pickle.dumps(evaluator, protocol=pickle.HIGHEST_PROTOCOL)


def _watch_parent(parent: int) -> None:
    # A worker busy training does not read its pipe; this makes it exit when the search dies.
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _worker_main() -> None:
    """Body of a worker process: load the evaluator, then evaluate genomes until told to stop."""
    inbox = sys.stdin.buffer
    outbox = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # evaluator prints must not hit the pipe
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    message = _read_frame(inbox)
    if message is None:
        return
    _, path, payload = message
    sys.path[:] = path
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
        evaluator = pickle.loads(payload)
    except Exception as error:  # noqa: BLE001  (reported to the parent, which raises it)
        _write_frame(outbox, ("error", f"{type(error).__name__}: {error}"))
        return
    _write_frame(outbox, ("ready",))
    while True:
        message = _read_frame(inbox)
        if message is None or message[0] == "stop":
            return
        kind, task, genome = message
        if kind == "evaluate_many":  # a slice of the generation, trained as one population
            _write_frame(outbox, ("done", task, evaluate_genomes(evaluator, genome)))
        else:
            _write_frame(outbox, ("done", task, evaluate_genome(evaluator, genome)))


class _Worker:
    """One worker process, the thread reading its answers, and what it is doing."""

    def __init__(self, number: int, payload: bytes, answers: queue.Queue):
        environment = dict(os.environ)
        environment.update({name: "1" for name in _THREAD_VARIABLES})
        self.number, self.state, self.task, self.deadline = number, "starting", None, None
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
        )
        self.pid = self.process.pid
        self._writing = threading.Lock()
        # The evaluator (with its data) is written from the reader thread: a payload larger than
        # the pipe buffer blocks until the worker has imported nastoolkit, and workers should
        # start side by side, not one after another.
        self._reader = threading.Thread(target=self._read, args=(answers, payload), daemon=True)
        self._reader.start()

    def _read(self, answers: queue.Queue, payload: bytes) -> None:
        if not self.send(("init", list(sys.path), payload)):
            answers.put((self, None))
            return
        stream = self.process.stdout
        while True:
            try:
                message = _read_frame(stream)
            except (OSError, ValueError, EOFError, pickle.UnpicklingError):
                message = None
            answers.put((self, message))
            if message is None:
                return

    def send(self, message) -> bool:
        try:
            with self._writing:
                _write_frame(self.process.stdin, message)
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def kill(self) -> None:
        self.state = "dead"
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def exit_description(self) -> str:
        code = self.process.wait()
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"


class ProcessPoolMap:
    """Evaluate on ``workers`` worker processes that survive faults.

    Each worker loads the evaluator once. A worker that dies is replaced and its candidate
    retried once, then recorded as failed; with ``evaluator.timeout`` a candidate past the limit
    has its worker killed and is recorded as timed out. No ``if __name__ == "__main__":`` guard
    is needed (workers never import the caller's script), though it does no harm.

    Parameters
    ----------
    evaluator : object
        Has ``evaluate(genome)``; pickled once (by value via cloudpickle when its class is
        defined in ``__main__``) and loaded by every worker.
    workers : int
        Number of worker processes, each on one BLAS thread.

    Examples
    --------
    >>> import random
    >>> from nastoolkit.nas import HoldoutEvaluator, SearchSpace
    >>> from nastoolkit.datasets import make_moons
    >>> (X, y), _ = make_moons(n_samples=60, seed=0)
    >>> pool = ProcessPoolMap(HoldoutEvaluator(X, y, epochs=1), workers=2)
    >>> genomes = [SearchSpace(max_layers=1).sample(random.Random(seed)) for seed in range(2)]
    >>> [outcome.status for outcome in pool.map(genomes)]
    ['ok', 'ok']
    >>> pool.close()
    """

    def __init__(self, evaluator, workers: int):
        from .._checks import positive_int

        self.workers = positive_int("workers", workers, "Use e.g. workers=2 for two processes.")
        self.timeout = evaluator_timeout(evaluator)
        # without a time limit, each worker takes a slice of the generation and trains it as
        # one population (with one, each candidate runs alone so that it can be timed out)
        self._slices = self.timeout is None and hasattr(evaluator, "evaluate_population")
        self._payload = _dump_evaluator(evaluator)
        self._answers: queue.Queue = queue.Queue()
        self._pool: list = []
        self._started = 0
        for _ in range(self.workers):
            self._start_worker()

    @property
    def pids(self) -> list:
        """Process ids of the live workers (for monitoring, and for the fault tests)."""
        return [worker.pid for worker in self._pool if worker.state != "dead"]

    def _start_worker(self) -> _Worker:
        worker = _Worker(self._started, self._payload, self._answers)
        self._started += 1
        self._pool.append(worker)
        return worker

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        self._pool.remove(worker)
        self._start_worker()

    def map(self, genomes: list) -> list:
        """The :class:`Outcome` of each genome, in order; on any exception (Ctrl-C included)
        the workers are killed before it propagates."""
        if self._pool is None:
            raise RuntimeError("this ProcessPoolMap is closed; make a new one.")
        try:
            return self._map(list(genomes))
        except BaseException:
            # Interrupted (Ctrl-C) or broken: no worker may outlive the call that used it.
            self.terminate()
            raise

    def _map(self, genomes: list) -> list:
        outcomes = [None] * len(genomes)
        attempts = [0] * len(genomes)
        waiting = collections.deque(self._first_tasks(len(genomes)))
        while True:
            if self._pool is None:  # terminate() from another thread
                raise RuntimeError("the map was terminated while it was evaluating.")
            if not waiting and all(worker.state != "busy" for worker in self._pool):
                return outcomes
            now = time.monotonic()
            for worker in self._pool:
                if worker.state == "idle" and waiting:
                    index = waiting.popleft()
                    worker.state, worker.task = "busy", index
                    worker.deadline = None if self.timeout is None else now + self.timeout
                    # a failed send needs no action: the reader reports the worker's exit
                    if isinstance(index, tuple):
                        for member in index:
                            attempts[member] += 1
                        worker.send(("evaluate_many", index, [genomes[k] for k in index]))
                    else:
                        attempts[index] += 1
                        worker.send(("evaluate", index, genomes[index]))
            try:
                worker, message = self._answers.get(timeout=self._wait_seconds(now))
            except queue.Empty:
                self._expire(time.monotonic(), outcomes, waiting)
                continue
            if self._pool is None:
                raise RuntimeError("the map was terminated while it was evaluating.")
            if worker not in self._pool or worker.state == "dead":
                continue  # an answer or exit notice from a worker already killed
            if message is None:
                self._lost(worker, genomes, outcomes, attempts, waiting)
            elif message[0] == "ready":
                worker.state = "idle"
            elif message[0] == "error":
                raise RuntimeError(
                    f"a worker process could not load the evaluator: {message[1]}."
                    f" Define the evaluator's class in an importable module (or "
                    f"install cloudpickle)."
                )
            elif message[0] == "done" and worker.task == message[1]:
                if isinstance(message[1], tuple):
                    for member, outcome in zip(message[1], message[2]):
                        outcomes[member] = outcome
                else:
                    outcomes[message[1]] = message[2]
                worker.state, worker.task, worker.deadline = "idle", None, None
            self._expire(time.monotonic(), outcomes, waiting)

    def _first_tasks(self, count: int) -> list:
        """Indices to evaluate one by one, or (with ``_slices``) tuples of consecutive indices,
        two slices per worker so that a slow slice does not leave the other workers idle."""
        if not self._slices or count < 2:
            return list(range(count))
        size = -(-count // (2 * self.workers))
        return [tuple(range(start, min(start + size, count))) for start in range(0, count, size)]

    def _wait_seconds(self, now: float) -> float:
        # Wake for the nearest time limit; otherwise poll twice a second, which keeps Ctrl-C
        # prompt on platforms where a blocking get() is not interruptible.
        limits = [worker.deadline for worker in self._pool if worker.deadline is not None]
        limits += [
            worker.started + _START_SECONDS for worker in self._pool if worker.state == "starting"
        ]
        return max(0.0, min([now + 0.5, *limits]) - now)

    def _expire(self, now: float, outcomes: list, waiting) -> None:
        for worker in list(self._pool):
            if worker.state == "starting" and now > worker.started + _START_SECONDS:
                raise RuntimeError(
                    f"a worker process did not start within {_START_SECONDS:g} s "
                    f"(importing nastoolkit and loading the evaluator)."
                )
            if worker.deadline is not None and now >= worker.deadline:
                outcomes[worker.task] = Outcome.failure(
                    f"timed out after {self.timeout:g} s", seconds=self.timeout
                )
                self._replace(worker)

    def _lost(self, worker: _Worker, genomes, outcomes, attempts, waiting) -> None:
        """``worker`` exited: fail fast if it never started, else retry its candidate once."""
        how = worker.exit_description()
        if worker.state == "starting":
            self.terminate()
            raise RuntimeError(
                f"a worker process exited ({how}) before it was ready; its error is printed "
                f"above. If that error mentions the bootstrapping phase or __main__: "
                f"{_GUARD_HINT}"
            )
        index = worker.task
        self._replace(worker)
        if index is None:
            return
        if isinstance(index, tuple):  # a slice: its members are tried again one by one
            waiting.extendleft(reversed(index))
            return
        if attempts[index] < 2:
            waiting.appendleft(index)
        else:
            outcomes[index] = Outcome.failure(
                f"worker process died while evaluating it ({how}), twice"
            )

    def close(self) -> None:
        """Stop the workers (those still busy are killed) and wait for them to exit."""
        if self._pool is None:
            return
        for worker in self._pool:
            if worker.state in ("idle", "starting"):
                worker.send(("stop",))
        deadline = time.monotonic() + 5.0
        for worker in self._pool:
            if worker.state in ("idle", "starting"):
                try:
                    worker.process.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            worker.kill()
        self._pool = None

    def terminate(self) -> None:
        """Kill every worker now (SIGKILL) and reap them: no process is left behind."""
        pool, self._pool = self._pool, None  # first: a map() in another thread stops here
        for worker in pool or ():
            worker.state = "dead"
            if worker.process.poll() is None:
                worker.process.kill()
        for worker in pool or ():
            worker.kill()

    def __del__(self):
        try:
            self.terminate()
        except Exception:  # noqa: BLE001, S110  (interpreter shutdown)
            pass

    def __repr__(self) -> str:
        limit = "" if self.timeout is None else f", timeout={self.timeout:g}"
        return f"ProcessPoolMap(workers={self.workers}{limit})"


# -- Dask --------------------------------------------------------------------------------------
_dask_local_maps: dict = {}


def _evaluate_on_dask(genome: dict, evaluator) -> Outcome:
    if evaluator_timeout(evaluator) is None:
        return evaluate_genome(evaluator, genome)
    # A time limit needs a process to kill: one SerialMap (one worker process) per Dask worker
    # process and evaluator, kept for the next candidates.
    key = id(evaluator)
    if key not in _dask_local_maps:
        _dask_local_maps[key] = SerialMap(evaluator)
    return _dask_local_maps[key].map([genome])[0]


def _failed_outcome(error: BaseException) -> Outcome:
    return Outcome.failure(f"{type(error).__name__}: {error}")


def _evaluate_slice_on_dask(genomes: list, evaluator) -> list:
    return evaluate_genomes(evaluator, genomes)


class DaskMap:
    """Evaluate on Dask workers: an existing ``client``, a scheduler address (``cluster="tcp://
    host:8786"``) or ``cluster="local"`` for a LocalCluster of ``workers`` single-threaded
    processes. Clusters and clients made here are closed by :meth:`close`; a client passed in is
    left open. The evaluator (with its data) is scattered to every worker once.

    A task whose worker dies is rerun elsewhere by the scheduler; one that keeps killing workers
    (``distributed.scheduler.allowed-failures``) or raises is recorded as failed. With
    ``evaluator.timeout`` each Dask worker evaluates in a child process it can kill.

    Parameters
    ----------
    evaluator : object
        Has ``evaluate(genome)``; scattered to every worker once.
    client : dask.distributed.Client, optional
        A client to use (left open by :meth:`close`).
    cluster : str or cluster object, optional
        ``"local"`` (default when no client) or a scheduler address such as
        ``"tcp://127.0.0.1:8786"``.
    workers : int, optional
        Worker processes of a LocalCluster (default 2).

    Examples
    --------
    >>> from dask.distributed import Client
    >>> from nastoolkit.nas import make_genome
    >>> class Size:  # scores by depth instead of training, to keep the example instant
    ...     def evaluate(self, genome): return Outcome("ok", len(genome["layers"]) / 10)
    >>> client = Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None)
    >>> dask_map = DaskMap(Size(), client=client)
    >>> [outcome.score for outcome in dask_map.map([make_genome([(8, "relu", 0.0)])])]
    [0.1]
    >>> dask_map.close(); client.close()
    """

    def __init__(self, evaluator, client=None, cluster=None, workers: int | None = None):
        from dask.distributed import Client, LocalCluster

        self.timeout = evaluator_timeout(evaluator)
        self._owned, self._futures = [], []
        if client is None:
            if cluster in (None, "local"):
                try:
                    local = LocalCluster(
                        n_workers=workers or 2,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
                except Exception as error:
                    # Its worker processes re-import the caller's script (spawn): without the
                    # guard they fail at once, and this is the message that tells why.
                    raise RuntimeError(
                        f"could not start a Dask LocalCluster ({type(error).__name__}: {error})."
                        f" If this runs as a script: {_GUARD_HINT}"
                    ) from error
                self._owned.append(local)
                client = Client(local)
            else:
                client = Client(cluster)
            self._owned.insert(0, client)
        self.client = client
        # without a time limit, each task is a slice of the generation trained as a population
        self._slices = self.timeout is None and hasattr(evaluator, "evaluate_population")
        self._evaluator = client.scatter(evaluator, broadcast=True, hash=False)

    def map(self, genomes: list) -> list:
        """The :class:`Outcome` of each genome, in order; a task that raised or whose workers
        kept dying is a failed outcome naming the error (a slice's genomes are first tried
        again one by one, so only the failing genome fails)."""
        genomes = list(genomes)
        if not self._slices or len(genomes) < 2:
            return [as_outcome(r) for r in self._run(_evaluate_on_dask, genomes, _failed_outcome)]
        workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        size = -(-len(genomes) // (2 * workers))
        slices = [genomes[start : start + size] for start in range(0, len(genomes), size)]
        outcomes = []
        for part, result in zip(slices, self._run(_evaluate_slice_on_dask, slices, lambda _: None)):
            if result is None:  # its task failed: find the failing genome
                result = self._run(_evaluate_on_dask, part, _failed_outcome)
            outcomes += [as_outcome(outcome) for outcome in result]
        return outcomes

    def _run(self, function, items: list, failed) -> list:
        """``function(item, evaluator)`` for each item on the workers: its result, or for a task
        that raised or whose workers kept dying, ``failed(error)``."""
        from dask.distributed import wait

        self._futures = self.client.map(function, items, evaluator=self._evaluator, pure=False)
        try:
            wait(self._futures)
        except BaseException:
            self.terminate()
            raise
        results = [
            future.result() if future.status == "finished" else failed(future.exception())
            for future in self._futures
        ]
        self._futures = []
        return results

    def close(self) -> None:
        """Close the client and LocalCluster made here (a client passed in stays open)."""
        for owned in self._owned:
            owned.close()
        self._owned = []

    def terminate(self) -> None:
        """Cancel this map's tasks and close the clusters and clients it made (a LocalCluster's
        worker processes are stopped with it)."""
        if self._futures:
            try:
                self.client.cancel(self._futures, force=True)
            except Exception:  # noqa: BLE001, S110  (the scheduler may already be gone)
                pass
            self._futures = []
        self.close()

    def __repr__(self) -> str:
        return f"DaskMap(client={self.client!r})"


def make_map(evaluator, workers=None, client=None, cluster=None):
    """The map for these settings: Dask when ``client`` or ``cluster`` is given, a process pool
    when ``workers`` > 1, else serial.

    Parameters
    ----------
    evaluator : object
        Has ``evaluate(genome)`` and optionally ``timeout`` (seconds per candidate).
    workers : int, optional
        Processes (or LocalCluster workers); None or 1 evaluates serially.
    client : dask.distributed.Client, optional
        Evaluate on this client's cluster.
    cluster : str or cluster object, optional
        ``"local"`` or a scheduler address.

    Returns
    -------
    SerialMap, ProcessPoolMap or DaskMap
        All three have ``map(genomes) -> list[Outcome]``, ``close()`` and ``terminate()``.

    Examples
    --------
    >>> class Constant:
    ...     def evaluate(self, genome):
    ...         return {"status": "ok", "score": 0.5}
    >>> make_map(Constant(), workers=1)
    SerialMap()
    """
    if workers is not None:
        workers = positive_int(
            "workers",
            workers,
            "Use e.g. workers=2 for two processes, or None to evaluate in this process.",
        )
    evaluator_timeout(evaluator)
    if client is not None or cluster is not None:
        return DaskMap(evaluator, client=client, cluster=cluster, workers=workers)
    if workers and workers > 1:
        return ProcessPoolMap(evaluator, workers)
    return SerialMap(evaluator)


# -- submit / as completed ----------------------------------------------------------------------
# The maps above take a whole batch and return when all of it is done. ASHA wants more: give a
# free worker its next job the moment it finishes. These maps take one job at a time
# (``submit(job) -> token``) and hand back results as they finish (``wait_any()``).


class SerialSubmitMap:
    """``submit`` evaluates at once in this process (through :class:`SerialMap`, so a time limit
    still applies); ``wait_any`` returns what was submitted since, in submission order.

    Parameters
    ----------
    evaluator : object
        Has ``evaluate(job)``.

    Examples
    --------
    >>> class Double:
    ...     def evaluate(self, job): return Outcome("ok", 2.0 * job)
    >>> jobs = SerialSubmitMap(Double())
    >>> tokens = [jobs.submit(0.1), jobs.submit(0.2)]
    >>> [(token, outcome.score) for token, outcome in jobs.wait_any()], jobs.pending
    ([(0, 0.2), (1, 0.4)], 0)
    """

    capacity = 1

    def __init__(self, evaluator):
        self._map = SerialMap(evaluator)
        self._done: collections.deque = collections.deque()
        self._tokens = 0

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet returned by :meth:`wait_any`."""
        return len(self._done)

    def submit(self, job) -> int:
        """Evaluate ``job`` now; its token (0, 1, ...) comes back with its outcome."""
        token, self._tokens = self._tokens, self._tokens + 1
        self._done.append((token, self._map.map([job])[0]))
        return token

    def wait_any(self) -> list:
        """Every ``(token, Outcome)`` not yet returned, in submission order."""
        done = list(self._done)
        self._done.clear()
        return done

    def close(self) -> None:
        """Release the time-limit worker, if any."""
        self._map.close()

    def terminate(self) -> None:
        """Kill the time-limit worker at once, if any."""
        self._map.terminate()

    def __repr__(self) -> str:
        return f"SerialSubmitMap(pending={self.pending})"


class PoolSubmitMap:
    """``workers`` worker processes, each fed its next job as soon as it finishes one.

    Each worker is a one-process :class:`ProcessPoolMap` (so faults, retries and time limits
    behave as there) driven by a thread of its own; ``wait_any`` blocks until at least one job
    has finished and returns every finished one, in the order they finished.

    Parameters
    ----------
    evaluator : object
        Has ``evaluate(job)``; loaded once by every worker.
    workers : int
        Worker processes (jobs in flight at once).

    Examples
    --------
    >>> from nastoolkit.nas import HoldoutEvaluator, make_genome
    >>> from nastoolkit.datasets import make_moons
    >>> (X, y), _ = make_moons(n_samples=60, seed=0)
    >>> jobs = PoolSubmitMap(HoldoutEvaluator(X, y, epochs=1), workers=2)
    >>> token = jobs.submit(make_genome([(8, "relu", 0.0)]))
    >>> [(t, outcome.status) for t, outcome in jobs.wait_any()]
    [(0, 'ok')]
    >>> jobs.close()
    """

    def __init__(self, evaluator, workers: int):
        from concurrent.futures import ThreadPoolExecutor

        self.capacity = positive_int("workers", workers, "Use e.g. workers=2 for two processes.")
        self._idle: queue.Queue = queue.Queue()
        self._pools = [ProcessPoolMap(evaluator, 1) for _ in range(self.capacity)]
        for pool in self._pools:
            self._idle.put(pool)
        self._finished: queue.Queue = queue.Queue()
        self._threads = ThreadPoolExecutor(self.capacity, thread_name_prefix="nastoolkit-submit")
        self._tokens, self.pending = 0, 0

    def _run(self, token: int, job) -> None:
        pool = self._idle.get()
        if pool is None:  # closed while this job waited for a worker
            return
        try:
            outcome = pool.map([job])[0]
        except BaseException as error:  # noqa: BLE001  (re-raised by wait_any in the caller)
            self._finished.put((token, error))
            return
        self._idle.put(pool)
        self._finished.put((token, outcome))

    def submit(self, job) -> int:
        """Start ``job`` on the next free worker (queued if none is free); returns its token."""
        if self._pools is None:
            raise RuntimeError("this PoolSubmitMap is closed; make a new one.")
        token, self._tokens = self._tokens, self._tokens + 1
        self.pending += 1
        self._threads.submit(self._run, token, job)
        return token

    def wait_any(self) -> list:
        """Block until a job finishes; every finished ``(token, Outcome)``, in finishing order
        (empty when nothing is pending). A broken worker pool raises here."""
        if not self.pending:
            return []
        done = []
        while not done:
            try:  # wake twice a second so Ctrl-C stays prompt
                done.append(self._finished.get(timeout=0.5))
            except queue.Empty:
                continue
        while True:
            try:
                done.append(self._finished.get_nowait())
            except queue.Empty:
                break
        self.pending -= len(done)
        for _, outcome in done:
            if isinstance(outcome, BaseException):
                self.terminate()
                raise outcome
        return done

    def close(self) -> None:
        """Stop every worker (busy ones are killed) and the threads that drive them."""
        pools, self._pools = self._pools, None
        for pool in pools or ():
            pool.close()
        self._stop_threads()

    def _stop_threads(self) -> None:
        # Jobs still waiting for a worker wake up to a None and return.
        for _ in range(self.capacity + self.pending):
            self._idle.put(None)
        self._threads.shutdown(wait=False, cancel_futures=True)

    def terminate(self) -> None:
        """Kill every worker now and stop the threads."""
        pools, self._pools = self._pools, None
        for pool in pools or ():
            pool.terminate()
        self._stop_threads()

    def __repr__(self) -> str:
        return f"PoolSubmitMap(workers={self.capacity}, pending={self.pending})"


class DaskSubmitMap:
    """Jobs submitted to Dask one by one; ``wait_any`` returns those that finished, as
    ``distributed.wait(..., return_when="FIRST_COMPLETED")`` reports them (ties by token).

    Parameters
    ----------
    evaluator : object
        Has ``evaluate(job)``; scattered to every worker once.
    client, cluster, workers
        As for :class:`DaskMap` (which this one builds on). ``capacity`` is the cluster's
        thread count when it is known, else ``workers`` (default 2).

    Examples
    --------
    >>> from dask.distributed import Client
    >>> class Double:
    ...     def evaluate(self, job): return Outcome("ok", 2.0 * job)
    >>> client = Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None)
    >>> jobs = DaskSubmitMap(Double(), client=client)
    >>> token = jobs.submit(0.25)
    >>> [(t, outcome.score) for t, outcome in jobs.wait_any()]
    [(0, 0.5)]
    >>> jobs.close(); client.close()
    """

    def __init__(self, evaluator, client=None, cluster=None, workers: int | None = None):
        self._dask = DaskMap(evaluator, client=client, cluster=cluster, workers=workers)
        self.client = self._dask.client
        try:
            threads = sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values())
        except Exception:  # noqa: BLE001  (an unusual scheduler: fall back to the setting)
            threads = 0
        self.capacity = threads or workers or 2
        self._futures: dict = {}
        self._tokens = 0

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet returned by :meth:`wait_any`."""
        return len(self._futures)

    def submit(self, job) -> int:
        """Send ``job`` to the scheduler; returns its token."""
        token, self._tokens = self._tokens, self._tokens + 1
        future = self.client.submit(
            _evaluate_on_dask, job, evaluator=self._dask._evaluator, pure=False
        )
        self._futures[future] = token
        return token

    def wait_any(self) -> list:
        """Block until a job finishes; every finished ``(token, Outcome)`` (a task that raised,
        or whose workers kept dying, is a failed outcome naming the error)."""
        from dask.distributed import wait

        if not self._futures:
            return []
        try:
            finished = wait(list(self._futures), return_when="FIRST_COMPLETED").done
        except BaseException:
            self.terminate()
            raise
        done = []
        for future in finished:
            token = self._futures.pop(future)
            if future.status == "finished":
                done.append((token, as_outcome(future.result())))
            else:
                error = future.exception()
                done.append((token, Outcome.failure(f"{type(error).__name__}: {error}")))
        return sorted(done, key=lambda pair: pair[0])

    def close(self) -> None:
        """Close the client and LocalCluster made here (a client passed in stays open)."""
        self._dask.close()

    def terminate(self) -> None:
        """Cancel the pending jobs and close what :meth:`close` closes."""
        self._dask._futures = list(self._futures)
        self._futures = {}
        self._dask.terminate()

    def __repr__(self) -> str:
        return f"DaskSubmitMap(capacity={self.capacity}, pending={self.pending})"


def make_submit_map(evaluator, workers=None, client=None, cluster=None):
    """The submit / as-completed map for these settings, chosen as :func:`make_map` chooses:
    Dask when ``client`` or ``cluster`` is given, worker processes when ``workers`` > 1, else
    this process (``submit`` evaluates at once).

    Parameters
    ----------
    evaluator : object
        Has ``evaluate(job)``.
    workers : int, optional
        Processes (or LocalCluster workers); None or 1 evaluates serially.
    client : dask.distributed.Client, optional
        Evaluate on this client's cluster.
    cluster : str or cluster object, optional
        ``"local"`` or a scheduler address.

    Returns
    -------
    SerialSubmitMap, PoolSubmitMap or DaskSubmitMap
        All have ``submit(job) -> token``, ``wait_any() -> [(token, Outcome)]``, ``pending``,
        ``capacity`` (jobs worth keeping in flight), ``close()`` and ``terminate()``.

    Examples
    --------
    >>> class Constant:
    ...     def evaluate(self, job): return Outcome("ok", 0.5)
    >>> make_submit_map(Constant()).capacity
    1
    """
    if workers is not None:
        workers = positive_int(
            "workers",
            workers,
            "Use e.g. workers=2 for two processes, or None to evaluate in this process.",
        )
    evaluator_timeout(evaluator)
    if client is not None or cluster is not None:
        return DaskSubmitMap(evaluator, client=client, cluster=cluster, workers=workers)
    if workers and workers > 1:
        return PoolSubmitMap(evaluator, workers)
    return SerialSubmitMap(evaluator)
