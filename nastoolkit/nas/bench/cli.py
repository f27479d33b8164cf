"""``nastoolkit bench build``: build a NAS-Bench-MLP table from the shell.

``nastoolkit.cli`` registers it with :func:`add_parser` and dispatches with :func:`run`; it also
runs alone as ``python -m nastoolkit.nas.bench.cli build --dataset digits --out PATH``.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "main", "run"]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def add_parser(commands) -> argparse.ArgumentParser:
    """Add the ``bench`` command (with its ``build`` subcommand) to ``commands`` (the result of
    ``parser.add_subparsers()``)."""
    from .build import DATASETS, SPACES

    bench = commands.add_parser("bench", help="build the NAS-Bench-MLP tabular benchmark")
    actions = bench.add_subparsers(dest="bench_command", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build",
        help="train every entry of a declared space and write OUT.npz + OUT.json "
        "(resumes a killed build from OUT.parts/)",
    )
    build.add_argument("--dataset", choices=sorted(DATASETS), default="digits")
    build.add_argument("--out", required=True, help="table path without suffix")
    build.add_argument(
        "--space",
        choices=sorted(SPACES),
        default="small",
        help="'full': 584 architectures (3,504 trainings with 3 seeds); "
        "'small': widths 16 and 64 (504 trainings)",
    )
    build.add_argument("--epochs", type=_positive, default=50)
    build.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    build.add_argument("--workers", type=_positive, default=1, help="processes (default: 1)")
    build.add_argument(
        "--cluster",
        default=None,
        help="train on Dask: 'local' (a LocalCluster of --workers processes) or "
        "a scheduler address such as tcp://host:8786",
    )
    build.add_argument(
        "--chunk-size", type=_positive, default=24, help="trainings per atomic chunk (default: 24)"
    )
    build.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return bench


def run(args) -> int:
    """Run the parsed ``bench`` command; prints the table and its hash."""
    import time

    from .build import build_table

    started = time.perf_counter()
    try:
        table = build_table(
            args.dataset,
            args.out,
            space=args.space,
            seeds=args.seeds,
            epochs=args.epochs,
            workers=args.workers,
            chunk_size=args.chunk_size,
            progress=not args.no_progress,
            cluster=args.cluster,
        )
    except (TypeError, ValueError) as error:
        print(f"nastoolkit bench build: error: {error}", file=sys.stderr)
        return 2
    print(
        f"{table}\nwritten to {args.out}.npz / .json in {time.perf_counter() - started:.1f} s"
        f"\ncontent hash {table.content_hash}"
    )
    return 0


def main(argv=None) -> int:
    """``python -m nastoolkit.nas.bench.cli build ...``."""
    parser = argparse.ArgumentParser(prog="nastoolkit")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
