"""``bench build`` from the shell writes a loadable table."""

import subprocess
import sys

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
