"""Building: deterministic, resumable after SIGKILL, same table with a process pool."""

import os
import signal
import subprocess
import sys
import time

import pytest
from bench_helpers import TINY

from nastoolkit.nas.bench import NASBenchMLP, build_table

SCRIPT = """
import sys
from nastoolkit.nas.bench import BenchSpace, build_table
space = BenchSpace(max_layers=1, units=(8, 16), activations=("relu", "tanh"),
                   learning_rates=(1e-3, 3e-2))
build_table("digits", sys.argv[1], space=space, seeds=(0, 1), epochs=4, chunk_size=3,
            progress=False)
"""


def test_killed_build_resumes_to_the_same_hash(tiny_table, tmp_path):
    out = tmp_path / "killed"
    parts = tmp_path / "killed.parts"
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(out)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(parts.glob("chunk-*.npz"))) < 2:
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    finished = sorted(parts.glob("chunk-*.npz"))
    assert 2 <= len(finished) < 6, "the build was not killed part-way"
    assert not out.with_suffix(".json").exists()
    stamps = {path.name: path.stat().st_mtime_ns for path in finished}
    resumed = build_table("digits", out, progress=False, chunk_size=3, keep_parts=True, **TINY)
    assert resumed.content_hash == tiny_table.content_hash
    # finished chunks were kept, not retrained
    assert all((parts / name).stat().st_mtime_ns == stamp for name, stamp in stamps.items())
    assert NASBenchMLP.load(out).content_hash == tiny_table.content_hash


def test_pool_build_gives_the_same_table(tiny_table, tmp_path):
    pooled = build_table(
        "digits", tmp_path / "pool", progress=False, chunk_size=3, workers=2, **TINY
    )
    assert pooled.content_hash == tiny_table.content_hash
    assert not (tmp_path / "pool.parts").exists()


def test_dask_build_gives_the_same_table(tiny_table, tmp_path):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
        distributed.get_task_stream(client) as stream,
    ):
        built = build_table(
            "digits", tmp_path / "dask", progress=False, chunk_size=3, client=client, **TINY
        )
    # the 16 entries were trained as tasks on the cluster's worker processes
    assert len(stream.data) >= len(tiny_table) * len(tiny_table.seeds)
    assert built.content_hash == tiny_table.content_hash
    assert NASBenchMLP.load(tmp_path / "dask").content_hash == tiny_table.content_hash
    assert not (tmp_path / "dask.parts").exists()
