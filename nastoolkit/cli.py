"""The ``nastoolkit`` command: ``nastoolkit search ...`` runs an architecture search from the
shell (with checkpoints and resume), ``nastoolkit info`` prints the version and the backend.

Every option is checked by the parser: a bad value ends the command at once with exit status 2
and one line naming the option, what it needs and what it got. Ctrl-C stops a search within
seconds, leaves no worker processes, keeps the last checkpoint and prints one line saying how to
resume (exit status 130). Other errors are one line too (exit status 1), never a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys

__all__ = ["DATASETS", "STRATEGY_NAMES", "build_parser", "main", "parse_arguments"]

# name -> (loader in nastoolkit.datasets, keyword arguments, task)
DATASETS = {
    "digits": ("load_digits", {}, "classification"),
    "moons": ("make_moons", {"n_samples": 400}, "classification"),
    "circles": ("make_circles", {"n_samples": 400}, "classification"),
    "spirals": ("make_spirals", {"n_samples": 600}, "classification"),
    "regression": ("load_synthetic_regression", {"n_samples": 2000}, "regression"),
}
STRATEGY_NAMES = {
    "ga": "GeneticSearch",
    "evolution": "RegularizedEvolution",
    "random": "RandomSearch",
    "nsga2": "NSGA2Search",
}

# Defaults of the options that define a search. They are applied after parsing, so that with
# --resume an option the user typed can be told apart from one left at its default.
SEARCH_DEFAULTS = {
    "dataset": "digits",
    "test_split": 0.2,
    "folds": 5,
    "validation_split": 0.2,
    "epochs": 20,
    "patience": 5,
    "strategy": "ga",
    "population": 20,
    "generations": 10,
    "max_layers": 4,
    "seed": 0,
}
INTERRUPTED = 130  # the shell's status for a command stopped by SIGINT

EPILOG = """\
examples:
  nastoolkit search --dataset digits --strategy ga --population 20 --generations 10 \\
      --folds 5 --workers 2 --checkpoint run.json
  nastoolkit search --checkpoint run.json --resume        # continue a stopped run
  nastoolkit search --checkpoint run.json --resume --generations 20   # run it longer
  nastoolkit search --dataset moons --strategy nsga2 --dask tcp://scheduler:8786
  nastoolkit info

The search holds out --test-split of the data, searches on the rest (k-fold cross-validation with
--folds >= 2, else one validation split), then retrains the best architecture on the search data
and reports its accuracy (or MSE) on the held-out part. Scores are validation errors: lower is
better. With --resume the data and search settings come from the checkpoint; options that
contradict it are refused, and --generations may extend a finished run.
"""


# -- option types: each returns the value or raises ArgumentTypeError with one clear line ---------
def _integer(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer from {low} to {high}, got {text!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"expected an integer from {low} to {high}, got {text}"
            )
        return value

    parse.__name__ = "integer"
    return parse


def _number(low: float, high: float, zero: bool = False, low_open: bool = False):
    """A float in [low, high] (or (low, high] with ``low_open``); ``zero`` also allows 0."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
    expected = f"0 or a number in {interval}" if zero else f"a number in {interval}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        inside = (low < value if low_open else low <= value) and value <= high
        if not math.isfinite(value) or not (inside or (zero and value == 0)):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


_ADDRESS = re.compile(r"(local|(tcp|tls|ucx|inproc|ws|wss)://[^\s/]+|[^\s:/]+:\d{1,5})\Z")


def _dask_address(text: str) -> str:
    if not _ADDRESS.match(text):
        raise argparse.ArgumentTypeError(
            f"expected 'local' or a scheduler address such as tcp://127.0.0.1:8786, got {text!r}"
        )
    return text


def _path(text: str) -> str:
    if not text or "\0" in text:
        raise argparse.ArgumentTypeError(f"expected a file path, got {text!r}")
    return text


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block), then exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also what ``nastoolkit --help`` prints).

    Returns
    -------
    argparse.ArgumentParser
        With the ``info`` and ``search`` commands; its errors are one line, exit status 2.

    Examples
    --------
    >>> build_parser().parse_args(["search", "--population", "8"]).population
    8
    """
    parser = _Parser(
        prog="nastoolkit",
        description="Neural architecture search for MLPs, from the shell.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    commands.add_parser("info", help="print the version and the array backend in use")
    from .nas.bench import cli as bench_cli  # `nastoolkit bench build` (nas-bench's module)

    bench_cli.add_parser(commands)

    search = commands.add_parser(
        "search",
        help="run (or --resume) an architecture search and print the best ones",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = search.add_argument_group("data and scoring")
    data.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        help="built-in dataset to search on (default: digits)",
    )
    data.add_argument(
        "--test-split",
        type=_number(0.05, 0.5, zero=True),
        help="fraction held out to test the final model, 0 or 0.05-0.5; 0 keeps "
        "no test set (default: 0.2)",
    )
    data.add_argument(
        "--folds",
        type=_integer(0, 20),
        help="cross-validation folds, 0-20; 0 or 1 uses one validation split (default: 5)",
    )
    data.add_argument(
        "--validation-split",
        type=_number(0.05, 0.5),
        help="validation fraction when --folds < 2, 0.05-0.5 (default: 0.2)",
    )
    data.add_argument(
        "--epochs", type=_integer(1, 10_000), help="training epochs per candidate (default: 20)"
    )
    data.add_argument(
        "--patience",
        type=_integer(0, 10_000),
        help="early-stopping patience in epochs (default: 5)",
    )
    space = search.add_argument_group("search")
    space.add_argument(
        "--strategy",
        choices=sorted(STRATEGY_NAMES),
        help="ga (mu+lambda GA), evolution (aging evolution), random, nsga2 "
        "(error vs parameters) (default: ga)",
    )
    space.add_argument(
        "--population", type=_integer(2, 10_000), help="population size, at least 2 (default: 20)"
    )
    space.add_argument(
        "--generations",
        type=_integer(0, 100_000),
        help="generations after the first population (default: 10); with "
        "--resume, runs the checkpointed search to this many",
    )
    space.add_argument(
        "--max-layers",
        type=_integer(1, 16),
        help="most hidden layers a candidate may have, 1-16 (default: 4)",
    )
    space.add_argument("--seed", type=_integer(0, 2**31 - 1), help="random seed (default: 0)")
    run = search.add_argument_group("running")
    run.add_argument(
        "--workers",
        type=_integer(1, 256),
        default=None,
        help="worker processes (or Dask workers with --dask local)",
    )
    run.add_argument(
        "--dask",
        metavar="ADDRESS",
        type=_dask_address,
        default=None,
        help="evaluate on Dask: 'local' for a LocalCluster or a scheduler address "
        "(tcp://host:8786)",
    )
    run.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_number(0, 1e9, low_open=True),
        default=None,
        help="time limit per candidate: one still training after it is recorded as "
        "failed and its worker killed (default: none)",
    )
    run.add_argument(
        "--checkpoint",
        metavar="PATH",
        type=_path,
        default=None,
        help="JSON checkpoint written after every generation",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue from --checkpoint (data and search settings come from it)",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="start a new search even if --checkpoint already holds one",
    )
    run.add_argument(
        "--top", type=_integer(1, 1000), default=5, help="rows in the final table (default: 5)"
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def parse_arguments(argv=None) -> argparse.Namespace:
    """Parse and check the command line: option values and the options that exclude each other.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
        Search defaults filled in for a new search, left as None with ``--resume`` (they come
        from the checkpoint). Any mistake exits with status 2 and one line instead.

    Examples
    --------
    >>> parse_arguments(["search", "--folds", "3"]).epochs
    20
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "search":
        return args
    search = _Parser(prog="nastoolkit search")  # only for its one-line error()
    given = {name for name in SEARCH_DEFAULTS if getattr(args, name) is not None}
    if args.resume:
        if not args.checkpoint:
            search.error("--resume needs --checkpoint PATH (the run to continue)")
        if args.overwrite:
            search.error("--overwrite starts a new search; it cannot be combined with --resume")
        if not os.path.isfile(args.checkpoint):
            search.error(f"no checkpoint at {args.checkpoint!r} to resume")
    else:
        for name in SEARCH_DEFAULTS.keys() - given:
            setattr(args, name, SEARCH_DEFAULTS[name])
        if args.checkpoint:
            folder = os.path.dirname(os.path.abspath(args.checkpoint))
            if not os.path.isdir(folder):
                search.error(f"--checkpoint: the folder {folder!r} does not exist; create it first")
            if os.path.isdir(args.checkpoint):
                search.error(
                    f"--checkpoint: {args.checkpoint!r} is a folder; give a file path "
                    f"such as {os.path.join(args.checkpoint, 'run.json')!r}"
                )
            if os.path.exists(args.checkpoint) and not args.overwrite:
                search.error(
                    f"--checkpoint {args.checkpoint!r} already exists: add --resume to "
                    f"continue that run, or --overwrite to replace it with a new one"
                )
    if "validation_split" in given and args.folds is not None and args.folds >= 2:
        search.error(
            f"--validation-split applies only with --folds 0 or 1 (one validation "
            f"split); --folds {args.folds} cross-validates"
        )
    if args.workers is not None and args.dask not in (None, "local"):
        search.error(
            f"--workers sets local processes or --dask local workers; the cluster at "
            f"{args.dask} has its own workers"
        )
    return args


# -- data ----------------------------------------------------------------------------------------
def _load_all(name: str, seed: int):
    import numpy as np

    from . import datasets

    loader, options, task = DATASETS[name]
    (X_train, y_train), (X_val, y_val) = getattr(datasets, loader)(
        validation_split=0.2, seed=seed, **options
    )
    return np.concatenate([X_train, X_val]), np.concatenate([y_train, y_val]), task


def _load(name: str, test_split: float, seed: int):
    from . import datasets

    X, y, task = _load_all(name, seed)
    if test_split <= 0:
        return (X, y), None, task
    (X_search, y_search), test = datasets.train_validation_split(X, y, test_split, seed=seed)
    return (X_search, y_search), test, task


def _rows(X, y) -> list:
    import numpy as np

    y = np.asarray(y).reshape(len(y), -1)
    return [X[i].tobytes() + y[i].tobytes() for i in range(len(X))]


def _find_test_set(evaluator, seed: int):
    """``(dataset name, test fraction, (X_test, y_test) or None)`` for a checkpointed CLI search:
    the built-in dataset whose rows contain the evaluator's, and the rows it left out; None when
    the data are not a built-in dataset (a search started from Python, say)."""
    import collections

    import numpy as np

    X_search, y_search = evaluator.X, evaluator.y_original
    for name, (_, _, task) in DATASETS.items():
        if task != evaluator.task:
            continue
        X, y, _ = _load_all(name, seed)
        if X.shape[1:] != X_search.shape[1:] or X.dtype != X_search.dtype or len(X) < len(X_search):
            continue
        left = collections.Counter(_rows(X_search, np.asarray(y_search, dtype=y.dtype)))
        test = []
        for index, row in enumerate(_rows(X, y)):
            if left[row] > 0:
                left[row] -= 1
            else:
                test.append(index)
        if +left:
            continue  # some search rows are not in this dataset
        fraction = len(test) / len(X)
        return name, fraction, ((X[test], y[test]) if test else None)
    return None


# -- search --------------------------------------------------------------------------------------
def _new_search(args):
    from . import nas

    (X, y), test, task = _load(args.dataset, args.test_split, args.seed)
    common = {
        "task": task,
        "epochs": args.epochs,
        "patience": args.patience,
        "seed": args.seed,
        "timeout": args.timeout,
    }
    if args.folds >= 2:
        evaluator = nas.CrossValidationEvaluator(X, y, folds=args.folds, **common)
    else:
        evaluator = nas.HoldoutEvaluator(X, y, validation_split=args.validation_split, **common)
    space = nas.SearchSpace(max_layers=args.max_layers)
    strategy = getattr(nas, STRATEGY_NAMES[args.strategy])
    search = strategy(
        space,
        evaluator,
        population_size=args.population,
        generations=args.generations,
        seed=args.seed,
        workers=args.workers,
        cluster=args.dask,
        checkpoint=args.checkpoint,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    return search, test


def _contradictions(args, document: dict, found) -> list:
    """``(option, typed value, checkpoint's value)`` for each option given with --resume that
    disagrees with the checkpoint."""
    config = document.get("config") or {}
    evaluator = (document.get("evaluator") or {}).get("config") or {}
    cross_validated = evaluator.get("class") == "CrossValidationEvaluator"
    saved = {
        "strategy": {v: k for k, v in STRATEGY_NAMES.items()}.get(document.get("strategy")),
        "population": config.get("population_size"),
        "seed": config.get("seed"),
        "max_layers": (config.get("space") or {}).get("max_layers"),
        "epochs": evaluator.get("epochs"),
        "patience": evaluator.get("patience"),
        "folds": evaluator.get("folds") if cross_validated else evaluator and "holdout",
        "validation_split": None if cross_validated else evaluator.get("validation_split"),
        "dataset": found[0] if found else None,
        "test_split": round(found[1], 2) if found else None,
    }
    wrong = []
    for name, value in saved.items():
        typed = getattr(args, name)
        if typed is None or value is None:
            continue
        if value == "holdout":
            same = typed < 2
            value = "one validation split (--folds 0)"
        elif isinstance(value, float):
            same = math.isclose(typed, value, abs_tol=0.005)
        else:
            same = typed == value
        if not same:
            wrong.append((name, typed, value))
    if args.generations is not None:
        done = (document.get("state") or {}).get("generation", -1)
        if args.generations < done:
            wrong.append(
                (
                    "generations",
                    args.generations,
                    f"{done} generations already finished (it can only be extended)",
                )
            )
    return wrong


def _resume(args):
    from . import nas
    from .nas.checkpoint import load_checkpoint

    document = load_checkpoint(args.checkpoint)
    _refuse(args, _contradictions(args, document, None))  # before any work
    search = nas.load_search(
        args.checkpoint,
        workers=args.workers,
        cluster=args.dask,
        progress=not args.no_progress,
        generations=args.generations,
    )
    found = _find_test_set(search.evaluator, search.seed)
    _refuse(args, _contradictions(args, document, found))
    if args.timeout is not None:
        search.evaluator.timeout = args.timeout
    print(
        f"resuming {type(search).__name__} from {args.checkpoint} after generation "
        f"{search.state.generation} of {search.generations} (settings come from the "
        f"checkpoint)"
    )
    return search, (found[2] if found else None)


def _refuse(args, wrong: list) -> None:
    if wrong:
        name, typed, value = wrong[0]
        option = "--" + name.replace("_", "-")
        raise _UsageError(
            f"{option} {typed} contradicts the checkpoint {args.checkpoint!r}, "
            f"which has {name.replace('_', '-')} = {value}; leave {option} out to "
            f"resume, or start a new search"
        )


class _UsageError(Exception):
    """A command-line mistake found after parsing (needs the checkpoint): exit status 2."""


def _search(args) -> int:
    if args.resume:
        search, test = _resume(args)
    else:
        search, test = _new_search(args)
        print(
            f"{type(search).__name__}: population {search.population_size}, "
            f"{search.generations} generations, {search.evaluator!r}"
        )
    result = search.run()
    print()
    print(result.table(top=args.top))
    if test is not None and result.best_record is not None:
        model = result.best_model()
        values = model.evaluate(test[0], _test_targets(search.evaluator, test[1]), verbose=0)
        name = "accuracy" if search.evaluator.task == "classification" else "mse"
        print(f"\nbest architecture retrained on the search data: test {name} = {values[-1]:.4f}")
    if args.checkpoint:
        print(f"checkpoint: {args.checkpoint}")
    return 0


def _test_targets(evaluator, y):
    import numpy as np

    if evaluator.task == "classification":
        return np.searchsorted(evaluator.classes_, y)
    return np.asarray(y, dtype=np.float32).reshape(len(y), -1)


def _interrupted(args) -> str:
    if not args.checkpoint:
        return (
            "nastoolkit search: interrupted; no --checkpoint was given, so there is nothing "
            "to resume"
        )
    if not os.path.exists(args.checkpoint):
        return (
            "nastoolkit search: interrupted before the first generation finished; nothing was saved"
        )
    return (
        f"nastoolkit search: interrupted; the last finished generation is saved, resume with:"
        f"  nastoolkit search --checkpoint {args.checkpoint} --resume"
    )


def _info() -> int:
    from . import __version__, backend

    print(f"nastoolkit {__version__}")
    print(f"backend: {backend.describe()}")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``nastoolkit`` console script.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 done, 1 error, 2 bad command line, 130 interrupted (Ctrl-C).

    Examples
    --------
    >>> main(["info"])  # doctest: +ELLIPSIS
    nastoolkit ...
    0
    """
    args = parse_arguments(argv)
    if args.command == "info":
        return _info()
    if args.command == "bench":
        from .nas.bench import cli as bench_cli

        return bench_cli.run(args)
    if args.command != "search":
        build_parser().print_help()
        return 0
    try:
        return _search(args)
    except KeyboardInterrupt:
        # The search has already stopped its workers (its map terminates them on the way out).
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not add a traceback
        sys.stdout.flush()
        print(_interrupted(args), file=sys.stderr)
        return INTERRUPTED
    except _UsageError as error:
        print(f"nastoolkit search: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001  (one line for the user, never a traceback)
        text = " ".join(str(error).split()) or type(error).__name__
        print(f"nastoolkit search: error: {type(error).__name__}: {text}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
