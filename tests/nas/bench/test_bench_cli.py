"""``bench build`` from the shell writes a loadable table."""

import subprocess
import sys

import pytest

from nastoolkit.nas.bench import NASBenchMLP
from nastoolkit.nas.bench.cli import main


def test_bench_build_writes_a_table(tmp_path, capsys):
    out = tmp_path / "cli"
    # the small space at 1 epoch and 1 seed: 168 one-epoch trainings
    assert (
        main(
            [
                "bench",
                "build",
                "--dataset",
                "regression",
                "--out",
                str(out),
                "--epochs",
                "1",
                "--seeds",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    table = NASBenchMLP.load(out)
    assert table.content_hash in capsys.readouterr().out
    assert table.arrays["val_error"].shape == (84, 2, 1, 1)


def test_bench_build_reports_bad_arguments(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nastoolkit.nas.bench.cli",
            "bench",
            "build",
            "--out",
            str(tmp_path / "x"),
            "--seeds",
            "1",
            "1",
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "seeds must be distinct" in result.stderr


def test_the_nastoolkit_command_has_bench_build(tmp_path):
    from nastoolkit.cli import main as nastoolkit_main

    out = tmp_path / "hooked"
    assert (
        nastoolkit_main(
            [
                "bench",
                "build",
                "--dataset",
                "digits",
                "--out",
                str(out),
                "--epochs",
                "1",
                "--seeds",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    assert NASBenchMLP.load(out).arrays["params"].shape == (84,)


def test_bench_build_on_a_dask_scheduler_gives_the_serial_table(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    settings = ["--dataset", "regression", "--epochs", "1", "--seeds", "0", "--no-progress"]
    assert main(["bench", "build", "--out", str(tmp_path / "serial"), *settings]) == 0
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        command = ["bench", "build", "--out", str(tmp_path / "dask"), *settings]
        assert main([*command, "--cluster", cluster.scheduler_address]) == 0
    serial, dask = (NASBenchMLP.load(tmp_path / name) for name in ("serial", "dask"))
    assert dask.content_hash == serial.content_hash
    assert dask.content_hash in capsys.readouterr().out
