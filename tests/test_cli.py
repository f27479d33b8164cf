"""The nastoolkit command line: help, info, search, resume and errors (one line, never a
traceback; option values fuzzed with hypothesis)."""

import contextlib
import io
import json
import math
import os
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nastoolkit import __version__
from nastoolkit.cli import SEARCH_DEFAULTS, build_parser, main, parse_arguments


def test_help_documents_the_search_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["search", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--dataset",
        "--strategy",
        "--population",
        "--generations",
        "--folds",
        "--workers",
        "--checkpoint",
        "--resume",
        "--dask",
        "--epochs",
    ):
        assert option in text
    top = build_parser().format_help()
    assert "search" in top and "info" in top and "nastoolkit search --dataset digits" in top


def test_arguments_parse_to_the_search_settings():
    args = build_parser().parse_args(
        [
            "search",
            "--dataset",
            "digits",
            "--strategy",
            "ga",
            "--population",
            "20",
            "--generations",
            "10",
            "--folds",
            "5",
            "--workers",
            "2",
            "--checkpoint",
            "run.json",
            "--resume",
        ]
    )
    assert (
        args.dataset,
        args.strategy,
        args.population,
        args.generations,
        args.folds,
        args.workers,
        args.checkpoint,
        args.resume,
    ) == ("digits", "ga", 20, 10, 5, 2, "run.json", True)


def _exit_line(argv, capsys):
    """Run main(argv) expecting exit status 2; return its one stderr line."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--population", "0", "expected an integer from 2 to 10000, got 0"),
        ("--population", "1", "expected an integer from 2 to 10000, got 1"),
        ("--epochs", "x", "expected an integer from 1 to 10000, got 'x'"),
        ("--generations", "-1", "expected an integer from 0 to 100000, got -1"),
        ("--test-split", "nan", "expected 0 or a number in [0.05, 0.5], got nan"),
        ("--validation-split", "1", "expected a number in [0.05, 0.5], got 1"),
        ("--timeout", "0", "expected a number in (0, 1e+09], got 0"),
        ("--timeout", "inf", "expected a number in (0, 1e+09], got inf"),
        ("--seed", "-3", "expected an integer from 0 to 2147483647, got -3"),
        ("--dask", "nowhere", "expected 'local' or a scheduler address"),
        ("--workers", "0", "expected an integer from 1 to 256, got 0"),
    ],
)
def test_bad_option_values_are_one_line_exit_2(option, value, expected, capsys):
    err = _exit_line(["search", option, value], capsys)
    assert f"argument {option}: {expected}" in err and "nastoolkit search: error:" in err


def test_options_that_exclude_each_other_are_refused(tmp_path, capsys):
    assert "--resume needs --checkpoint" in _exit_line(["search", "--resume"], capsys)
    existing = tmp_path / "run.json"
    existing.write_text("{}")
    err = _exit_line(["search", "--checkpoint", str(existing), "--resume", "--overwrite"], capsys)
    assert "cannot be combined with --resume" in err
    err = _exit_line(["search", "--checkpoint", str(existing)], capsys)
    assert "already exists: add --resume" in err and "--overwrite" in err
    err = _exit_line(["search", "--checkpoint", str(tmp_path / "missing" / "run.json")], capsys)
    assert "does not exist; create it first" in err
    err = _exit_line(["search", "--folds", "3", "--validation-split", "0.3"], capsys)
    assert "--validation-split applies only with --folds 0 or 1" in err
    err = _exit_line(["search", "--workers", "2", "--dask", "tcp://127.0.0.1:8786"], capsys)
    assert "has its own workers" in err


def test_info_prints_version_and_backend(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"nastoolkit {__version__}" in out and "backend: numpy" in out


def test_search_prints_a_table_and_resume_finishes_the_same_run(tmp_path, capsys):
    path = tmp_path / "run.json"
    common = [
        "search",
        "--dataset",
        "moons",
        "--population",
        "3",
        "--folds",
        "0",
        "--epochs",
        "2",
        "--seed",
        "1",
        "--checkpoint",
        str(path),
        "--no-progress",
    ]
    assert main(common + ["--generations", "1"]) == 0
    out = capsys.readouterr().out
    assert "rank  val_error" in out and "test accuracy" in out and "checkpoint:" in out
    full = json.loads(path.read_text())["state"]
    assert full["generation"] == 1

    assert main(["search", "--checkpoint", str(path), "--resume", "--no-progress"]) == 0
    assert "resuming GeneticSearch" in capsys.readouterr().out
    assert json.loads(path.read_text())["state"] == full


def test_resume_without_a_checkpoint_is_an_error(tmp_path, capsys):
    err = _exit_line(["search", "--resume", "--checkpoint", str(tmp_path / "none.json")], capsys)
    assert "no checkpoint" in err


def test_console_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "nastoolkit.cli", "info"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("nastoolkit ")


# -- fuzzing: any option values give a parsed, in-range search or one error line, exit 2 ---------
_FOLDER = tempfile.mkdtemp(prefix="nastoolkit-cli-fuzz-")
_EXISTING = os.path.join(_FOLDER, "existing.json")
with open(_EXISTING, "w") as _stream:
    _stream.write("{}")
_VALUED = [
    "--dataset",
    "--test-split",
    "--folds",
    "--validation-split",
    "--epochs",
    "--patience",
    "--strategy",
    "--population",
    "--generations",
    "--max-layers",
    "--seed",
    "--workers",
    "--dask",
    "--timeout",
    "--checkpoint",
    "--top",
]
_FLAGS = ["--resume", "--overwrite", "--no-progress"]
_TEXT = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        [
            "",
            "nan",
            "-inf",
            "1e400",
            "0x10",
            "1_000",
            " 3",
            "local",
            "digits",
            "ga",
            "tcp://127.0.0.1:8786",
            "host:99999999",
            "--",
            "-",
            _EXISTING,
            _FOLDER,
            os.path.join(_FOLDER, "new.json"),
            os.path.join(_FOLDER, "no", "x.json"),
        ]
    ),
    st.text(max_size=12),
)
_ARGUMENT = st.one_of(
    st.tuples(st.sampled_from(_VALUED), _TEXT).map(list),
    st.sampled_from(_FLAGS).map(lambda flag: [flag]),
)


def _in_range(args):
    ranges = {
        "test_split": (0, 0.5),
        "folds": (0, 20),
        "validation_split": (0.05, 0.5),
        "epochs": (1, 10**4),
        "patience": (0, 10**4),
        "population": (2, 10**4),
        "generations": (0, 10**5),
        "max_layers": (1, 16),
        "seed": (0, 2**31 - 1),
        "workers": (1, 256),
        "timeout": (1e-300, 1e9),
        "top": (1, 1000),
    }
    for name, (low, high) in ranges.items():
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            return False
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_ARGUMENT, max_size=6).map(lambda parts: [x for part in parts for x in part]))
def test_fuzzed_options_never_end_in_a_traceback(argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            args = parse_arguments(["search", *argv])
        except SystemExit as exit_:
            assert exit_.code == 2, (argv, err.getvalue())
            lines = err.getvalue().splitlines()
            assert len(lines) == 1 and lines[0].startswith("nastoolkit"), (argv, lines)
            return
    assert _in_range(args), argv
    if args.resume:
        assert args.checkpoint and os.path.isfile(args.checkpoint) and not args.overwrite
    else:
        assert all(getattr(args, name) is not None for name in SEARCH_DEFAULTS)
        assert not args.checkpoint or args.overwrite or not os.path.exists(args.checkpoint)


# -- resume ----------------------------------------------------------------------------------------
SMALL = [
    "search",
    "--dataset",
    "moons",
    "--population",
    "3",
    "--folds",
    "0",
    "--epochs",
    "2",
    "--seed",
    "1",
    "--no-progress",
]


def _test_score(out):
    return next(line for line in out.splitlines() if "test accuracy" in line)


def test_resume_refuses_options_that_contradict_the_checkpoint(tmp_path, capsys):
    path = tmp_path / "run.json"
    assert main(SMALL + ["--generations", "0", "--checkpoint", str(path)]) == 0
    capsys.readouterr()
    resume = ["search", "--checkpoint", str(path), "--resume", "--no-progress"]
    for extra, expected in [
        (["--population", "5"], "--population 5 contradicts the checkpoint"),
        (["--strategy", "nsga2"], "which has strategy = ga"),
        (["--folds", "3"], "which has folds = one validation split"),
        (["--epochs", "9"], "which has epochs = 2"),
        (["--dataset", "circles"], "which has dataset = moons"),
        (["--test-split", "0.3"], "which has test-split = 0.2"),
    ]:
        assert main(resume + extra) == 2
        err = capsys.readouterr().err
        assert expected in err and len(err.splitlines()) == 1 and str(path) in err
    # the same values as saved are no contradiction
    assert main(resume + ["--population", "3", "--dataset", "moons", "--epochs", "2"]) == 0


def _untimed(value):
    """``value`` without the measured ``seconds`` (timing differs between equal runs)."""
    if isinstance(value, dict):
        return {key: _untimed(item) for key, item in value.items() if key != "seconds"}
    if isinstance(value, list):
        return [_untimed(item) for item in value]
    return value


def test_generations_with_resume_extends_a_finished_run_and_reports_the_test_score(
    tmp_path, capsys
):
    short, long = tmp_path / "short.json", tmp_path / "long.json"
    assert main(SMALL + ["--generations", "2", "--checkpoint", str(long)]) == 0
    straight = capsys.readouterr().out
    assert main(SMALL + ["--generations", "1", "--checkpoint", str(short)]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "search",
                "--checkpoint",
                str(short),
                "--resume",
                "--generations",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    resumed = capsys.readouterr().out
    assert "after generation 1 of 2" in resumed
    assert _test_score(resumed) == _test_score(straight)
    assert _untimed(json.loads(short.read_text())["state"]) == _untimed(
        json.loads(long.read_text())["state"]
    )
    assert main(["search", "--checkpoint", str(short), "--resume", "--generations", "1"]) == 2
    assert "it can only be extended" in capsys.readouterr().err


def test_overwrite_replaces_an_existing_checkpoint(tmp_path, capsys):
    path = tmp_path / "run.json"
    assert main(SMALL + ["--generations", "0", "--checkpoint", str(path)]) == 0
    assert main(SMALL + ["--generations", "1", "--checkpoint", str(path), "--overwrite"]) == 0
    assert json.loads(path.read_text())["state"]["generation"] == 1


def test_timeout_runs_serial_candidates_in_a_worker_with_the_same_result(capsys):
    assert main(SMALL + ["--generations", "1"]) == 0
    plain = capsys.readouterr().out
    assert main(SMALL + ["--generations", "1", "--timeout", "120"]) == 0
    limited = capsys.readouterr().out
    assert limited.split("\n", 1)[1] == plain.split("\n", 1)[1]  # all but the header line


def test_errors_while_searching_are_one_line(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text('{"format": "something else"}')
    assert main(["search", "--checkpoint", str(path), "--resume"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "not a nastoolkit search checkpoint" in err


_RESUMABLE = {}


def _finished_checkpoint():
    """A finished tiny run (made once): resuming it only retrains the best and tests it."""
    if "path" not in _RESUMABLE:
        path = os.path.join(tempfile.mkdtemp(prefix="nastoolkit-cli-resume-"), "run.json")
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(SMALL + ["--generations", "0", "--checkpoint", path]) == 0
        _RESUMABLE["path"] = path
    return _RESUMABLE["path"]


_RESUME_OPTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "--dataset",
                "--strategy",
                "--population",
                "--seed",
                "--epochs",
                "--patience",
                "--folds",
                "--validation-split",
                "--test-split",
                "--max-layers",
                "--top",
                "--timeout",
            ]
        ),
        st.sampled_from(
            ["moons", "circles", "ga", "nsga2", "0", "1", "2", "3", "5", "0.2", "0.3", "-1", "x"]
        ),
    ).map(list),
    max_size=3,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_RESUME_OPTIONS)
def test_fuzzed_options_with_resume_are_accepted_or_refused_in_one_line(pairs):
    path = _finished_checkpoint()
    argv = ["search", "--checkpoint", path, "--resume", "--no-progress"]
    argv += [x for pair in pairs for x in pair]
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = exit_.code
    assert status in (0, 2), (argv, err.getvalue())
    if status == 2:
        lines = err.getvalue().splitlines()
        assert len(lines) == 1 and lines[0].startswith("nastoolkit"), (argv, lines)
    else:
        assert "test accuracy" in out.getvalue()
