"""The ``nastoolkit`` command: ``nastoolkit search ...`` runs an architecture search from the
shell (with checkpoints and resume), ``nastoolkit info`` prints the version and the backend."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["DATASETS", "STRATEGY_NAMES", "build_parser", "main"]

# name -> (loader in nastoolkit.datasets, keyword arguments, task)
DATASETS = {
    "digits": ("load_digits", {}, "classification"),
    "moons": ("make_moons", {"n_samples": 400}, "classification"),
    "circles": ("make_circles", {"n_samples": 400}, "classification"),
    "spirals": ("make_spirals", {"n_samples": 600}, "classification"),
    "regression": ("load_synthetic_regression", {"n_samples": 2000}, "regression"),
}
STRATEGY_NAMES = {"ga": "GeneticSearch", "evolution": "RegularizedEvolution",
                  "random": "RandomSearch", "nsga2": "NSGA2Search"}

EPILOG = """\
examples:
  nastoolkit search --dataset digits --strategy ga --population 20 --generations 10 \\
      --folds 5 --workers 2 --checkpoint run.json
  nastoolkit search --checkpoint run.json --resume        # continue a killed run
  nastoolkit search --dataset moons --strategy nsga2 --dask tcp://scheduler:8786
  nastoolkit info

The search holds out --test-split of the data, searches on the rest (k-fold cross-validation with
--folds >= 2, else one validation split), then retrains the best architecture on the search data
and reports its accuracy (or MSE) on the held-out part. Scores are validation errors: lower is
better.
"""


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also what ``nastoolkit --help`` prints)."""
    parser = argparse.ArgumentParser(
        prog="nastoolkit", description="Neural architecture search for MLPs, from the shell.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    commands.add_parser("info", help="print the version and the array backend in use")
    from .nas.bench import cli as bench_cli  # `nastoolkit bench build` (nas-bench's module)
    bench_cli.add_parser(commands)

    search = commands.add_parser(
        "search", help="run (or --resume) an architecture search and print the best ones",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = search.add_argument_group("data and scoring")
    data.add_argument("--dataset", choices=sorted(DATASETS), default="digits",
                      help="built-in dataset to search on (default: digits)")
    data.add_argument("--test-split", type=float, default=0.2,
                      help="fraction held out to test the final model (default: 0.2)")
    data.add_argument("--folds", type=int, default=5,
                      help="cross-validation folds; 0 or 1 uses one validation split (default: 5)")
    data.add_argument("--validation-split", type=float, default=0.2,
                      help="validation fraction when --folds < 2 (default: 0.2)")
    data.add_argument("--epochs", type=_positive, default=20,
                      help="training epochs per candidate (default: 20)")
    data.add_argument("--patience", type=int, default=5,
                      help="early-stopping patience in epochs (default: 5)")
    space = search.add_argument_group("search")
    space.add_argument("--strategy", choices=sorted(STRATEGY_NAMES), default="ga",
                       help="ga (mu+lambda GA), evolution (aging evolution), random, nsga2 "
                            "(error vs parameters) (default: ga)")
    space.add_argument("--population", type=_positive, default=20,
                       help="population size (default: 20)")
    space.add_argument("--generations", type=int, default=10,
                       help="generations after the first population (default: 10)")
    space.add_argument("--max-layers", type=_positive, default=4,
                       help="most hidden layers a candidate may have (default: 4)")
    space.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    run = search.add_argument_group("running")
    run.add_argument("--workers", type=_positive, default=None,
                     help="worker processes (or Dask workers with --dask local)")
    run.add_argument("--dask", metavar="ADDRESS", default=None,
                     help="evaluate on Dask: 'local' for a LocalCluster or a scheduler address")
    run.add_argument("--checkpoint", metavar="PATH", default=None,
                     help="JSON checkpoint written after every generation")
    run.add_argument("--resume", action="store_true",
                     help="continue from --checkpoint (data and search settings come from it)")
    run.add_argument("--top", type=_positive, default=5,
                     help="rows in the final table (default: 5)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _load(name: str, test_split: float, seed: int):
    import numpy as np

    from . import datasets

    loader, options, task = DATASETS[name]
    (X_train, y_train), (X_val, y_val) = getattr(datasets, loader)(
        validation_split=0.2, seed=seed, **options)
    X, y = np.concatenate([X_train, X_val]), np.concatenate([y_train, y_val])
    if test_split <= 0:
        return (X, y), None, task
    (X_search, y_search), test = datasets.train_validation_split(X, y, test_split, seed=seed)
    return (X_search, y_search), test, task


def _new_search(args):
    from . import nas

    (X, y), test, task = _load(args.dataset, args.test_split, args.seed)
    common = {"task": task, "epochs": args.epochs, "patience": args.patience, "seed": args.seed}
    if args.folds >= 2:
        evaluator = nas.CrossValidationEvaluator(X, y, folds=args.folds, **common)
    else:
        evaluator = nas.HoldoutEvaluator(X, y, validation_split=args.validation_split, **common)
    space = nas.SearchSpace(max_layers=args.max_layers)
    strategy = getattr(nas, STRATEGY_NAMES[args.strategy])
    search = strategy(space, evaluator, population_size=args.population,
                      generations=args.generations, seed=args.seed, workers=args.workers,
                      cluster=args.dask, checkpoint=args.checkpoint,
                      progress=not args.no_progress)
    return search, test


def _search(args) -> int:
    from . import nas

    if args.resume:
        if not args.checkpoint:
            print("nastoolkit search: --resume needs --checkpoint PATH", file=sys.stderr)
            return 2
        if not os.path.exists(args.checkpoint):
            print(f"nastoolkit search: no checkpoint at {args.checkpoint!r} to resume",
                  file=sys.stderr)
            return 2
        try:
            search = nas.load_search(args.checkpoint, workers=args.workers, cluster=args.dask,
                                     progress=not args.no_progress)
        except nas.CheckpointError as error:
            print(f"nastoolkit search: {error}", file=sys.stderr)
            return 2
        test = None
        print(f"resuming {type(search).__name__} from {args.checkpoint} after generation "
              f"{search.state.generation} (settings come from the checkpoint)")
    else:
        search, test = _new_search(args)
        print(f"{type(search).__name__}: population {search.population_size}, "
              f"{search.generations} generations, {search.evaluator!r}")
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


def _info() -> int:
    from . import __version__, backend

    print(f"nastoolkit {__version__}")
    print(f"backend: {backend.describe()}")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``nastoolkit`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "info":
        return _info()
    if args.command == "bench":
        from .nas.bench import cli as bench_cli
        return bench_cli.run(args)
    if args.command == "search":
        return _search(args)
    parser.print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
