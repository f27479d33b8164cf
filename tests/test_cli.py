"""The nastoolkit command line: help, info, search, resume and errors."""

import json
import subprocess
import sys

import pytest

from nastoolkit import __version__
from nastoolkit.cli import build_parser, main


def test_help_documents_the_search_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["search", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--dataset", "--strategy", "--population", "--generations", "--folds",
                   "--workers", "--checkpoint", "--resume", "--dask", "--epochs"):
        assert option in text
    top = build_parser().format_help()
    assert "search" in top and "info" in top and "nastoolkit search --dataset digits" in top


def test_arguments_parse_to_the_search_settings():
    args = build_parser().parse_args(
        ["search", "--dataset", "digits", "--strategy", "ga", "--population", "20",
         "--generations", "10", "--folds", "5", "--workers", "2", "--checkpoint", "run.json",
         "--resume"])
    assert (args.dataset, args.strategy, args.population, args.generations, args.folds,
            args.workers, args.checkpoint, args.resume) == \
        ("digits", "ga", 20, 10, 5, 2, "run.json", True)


def test_bad_arguments_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["search", "--population", "0"])
    assert exit_.value.code == 2 and "positive integer" in capsys.readouterr().err


def test_info_prints_version_and_backend(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"nastoolkit {__version__}" in out and "backend: numpy" in out


def test_search_prints_a_table_and_resume_finishes_the_same_run(tmp_path, capsys):
    path = tmp_path / "run.json"
    common = ["search", "--dataset", "moons", "--population", "3", "--folds", "0",
              "--epochs", "2", "--seed", "1", "--checkpoint", str(path), "--no-progress"]
    assert main(common + ["--generations", "1"]) == 0
    out = capsys.readouterr().out
    assert "rank  val_error" in out and "test accuracy" in out and "checkpoint:" in out
    full = json.loads(path.read_text())["state"]
    assert full["generation"] == 1

    assert main(["search", "--checkpoint", str(path), "--resume", "--no-progress"]) == 0
    assert "resuming GeneticSearch" in capsys.readouterr().out
    assert json.loads(path.read_text())["state"] == full


def test_resume_without_a_checkpoint_is_an_error(tmp_path, capsys):
    assert main(["search", "--resume", "--checkpoint", str(tmp_path / "none.json")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert main(["search", "--resume"]) == 2


def test_console_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "nastoolkit.cli", "info"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.startswith("nastoolkit ")
