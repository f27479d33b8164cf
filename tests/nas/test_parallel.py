"""Parallel maps: serial, process pool and Dask give identical searches for the same seed."""

import os

import pytest
from nas_fakes import FormulaEvaluator, blobs

from nastoolkit.nas import GeneticSearch, HoldoutEvaluator, SearchSpace
from nastoolkit.nas.outcome import FAILED_SCORE
from nastoolkit.nas.parallel import ProcessPoolMap, SerialMap, evaluate_genome, make_map

SPACE = SearchSpace(max_layers=2, units=(8, 16, 32))


def _search(**options):
    X, y = blobs(samples=60)
    evaluator = HoldoutEvaluator(X, y, epochs=3, patience=1, seed=0)
    return (
        GeneticSearch(
            SPACE, evaluator, population_size=4, generations=2, seed=0, progress=False, **options
        )
        .run()
        .to_dict()
    )


class _Exploding:
    def evaluate(self, genome):
        raise RuntimeError("evaluator bug")


def test_evaluate_genome_turns_evaluator_errors_into_failed_results():
    result = evaluate_genome(_Exploding(), {})
    assert not result.ok and result.reason == "RuntimeError: evaluator bug"
    assert result.score == FAILED_SCORE and result.seconds >= 0


class _Slow:
    def evaluate(self, genome):
        import time

        time.sleep(0.2)
        return {"status": "ok", "score": 0.5}


def test_maps_measure_the_seconds_each_evaluation_took():
    for evaluation_map in (SerialMap(_Slow()), ProcessPoolMap(_Slow(), workers=2)):
        try:
            outcomes = evaluation_map.map([{}, {}])
        finally:
            evaluation_map.close()
        assert all(0.2 <= outcome.seconds < 5 for outcome in outcomes)


def test_make_map_chooses_by_settings():
    evaluator = FormulaEvaluator()
    assert isinstance(make_map(evaluator), SerialMap)
    assert isinstance(make_map(evaluator, workers=1), SerialMap)
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        make_map(evaluator, workers=0)


class _ThreadReporter:
    """Reports, as its metrics, the BLAS thread settings of the process that evaluates."""

    def evaluate(self, genome):
        from threadpoolctl import threadpool_info

        threads = sorted({pool["num_threads"] for pool in threadpool_info()})
        return {
            "status": "ok",
            "score": 0.0,
            "metrics": {
                "variable": os.environ["OPENBLAS_NUM_THREADS"],
                "threads": threads,
                "pid": os.getpid(),
            },
        }


def test_pool_workers_run_with_one_blas_thread():
    pool = ProcessPoolMap(_ThreadReporter(), workers=2)
    try:
        outcomes = pool.map([{}, {}, {}, {}])
    finally:
        pool.close()
    assert all(o.metrics["variable"] == "1" and o.metrics["threads"] == [1] for o in outcomes)
    assert os.getpid() not in {o.metrics["pid"] for o in outcomes}


@pytest.mark.slow
def test_serial_process_pool_and_dask_give_the_same_search():
    serial = _search()
    assert _search(workers=2) == serial
    assert _search(cluster="local", workers=2) == serial


@pytest.mark.slow
def test_a_dask_client_passed_in_is_used_and_left_open():
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        result = _search(client=client)
        assert client.status == "running"
        assert len(client.run(lambda: 1)) == 1
    assert result == _search()
