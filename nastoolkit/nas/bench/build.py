"""Build a table by training every entry with the toolkit's own ``Sequential``.

Each entry (architecture, learning rate, seed) is trained as :class:`HoldoutEvaluator` would
train it (``genome_to_model``, ``fit(seed=genome_seed(genome_key(genome), seed))``) for the full
epoch budget with no early stopping, recording the curves after every epoch; early stopping is
replayed from the curves at query time. Entries are trained in chunks through the parallel maps
of :mod:`nastoolkit.nas.parallel`; each finished chunk is written atomically to
``OUT.parts/``, so a killed build resumes where it stopped and ends with the same table.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ... import engine
from ..._atomic import atomic_write
from ..._checks import int_at_least, positive_int
from ..build import check_task, count_parameters, genome_to_model
from ..genome import genome_key, genome_seed
from ..outcome import CandidateFailed, Outcome
from ..parallel import make_map
from .space import FULL_SPACE, SMALL_SPACE, BenchSpace
from .table import CURVES, DTYPES, FORMAT_VERSION, NASBenchMLP, content_hash

__all__ = ["DATASETS", "EntryTrainer", "build_table", "load_dataset"]

# name -> loader settings; three splits: train / validation / test.
DATASETS = {
    "digits": {"loader": "load_digits", "task": "classification", "kwargs": {}},
    "regression": {
        "loader": "load_synthetic_regression",
        "task": "regression",
        "kwargs": {"n_samples": 1500, "n_features": 10, "noise": 1.0},
    },
}
SPACES = {"full": FULL_SPACE, "small": SMALL_SPACE}


def load_dataset(name: str) -> dict:
    """The ``train``, ``val`` and ``test`` splits of a benchmark dataset (60/20/20, seeded).

    Returns ``{"train": (X, y), "val": (X, y), "test": (X, y), "task": ...}``.
    """
    from ... import datasets

    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}. Received: dataset={name!r}")
    spec = DATASETS[name]
    loader = getattr(datasets, spec["loader"])
    train, rest = loader(validation_split=0.4, seed=0, **spec["kwargs"])
    val, test = datasets.train_validation_split(*rest, validation_split=0.5, seed=0)
    return {"train": train, "val": val, "test": test, "task": spec["task"]}


def _error(logs: dict, task: str) -> float:
    """The score an evaluator reports from ``evaluate`` logs: 1 - accuracy, or the MSE."""
    metric = next(value for key, value in logs.items() if key != "loss")
    return 1.0 - metric if task == "classification" else metric


class EntryTrainer:
    """Trains one table entry and returns its curves as an :class:`Outcome`'s metrics.

    Used as the "evaluator" of a parallel map: ``evaluate({"genome": ..., "seed": ...})``.
    """

    def __init__(self, dataset: str, epochs: int):
        self.dataset = dataset
        self.epochs = epochs
        self.data = load_dataset(dataset)
        self.task = self.data["task"]
        X, y = self.data["train"]
        self.input_dim = X.shape[1]
        self.output_dim = 10 if self.task == "classification" else y.shape[1]

    def evaluate(self, entry: dict) -> Outcome:
        from ...callbacks import Callback

        genome, seed, task = entry["genome"], entry["seed"], self.task
        (X, y), (X_val, y_val), (X_test, y_test) = (self.data[k] for k in ("train", "val", "test"))
        curves = {name: [] for name in CURVES}

        class Record(Callback):
            """Curves after every epoch; seconds count fit's own work, not these evaluations."""

            def on_train_begin(self, logs=None):
                self.spent, self.start = 0.0, time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.spent += time.perf_counter() - self.start
                # evaluate() is what HoldoutEvaluator scores with; not counted as training time
                val = self.model.evaluate(X_val, y_val, verbose=0, return_dict=True)
                test = self.model.evaluate(X_test, y_test, verbose=0, return_dict=True)
                curves["train_loss"].append(logs["loss"])
                curves["val_loss"].append(logs["val_loss"])
                curves["val_error"].append(_error(val, task))
                curves["test_error"].append(_error(test, task))
                curves["seconds"].append(self.spent)
                self.start = time.perf_counter()

        model = genome_to_model(genome, self.input_dim, self.output_dim, self.task)
        # the shipped tables were trained step by step in NumPy: keep that path, so a rebuild
        # (and the test that retrains entries) reproduces them bit for bit
        with warnings.catch_warnings(), engine.numpy_path():
            warnings.simplefilter("ignore", RuntimeWarning)
            model.fit(
                X,
                y,
                epochs=self.epochs,
                batch_size=genome["batch_size"],
                validation_data=(X_val, y_val),
                callbacks=[Record()],
                verbose=0,
                seed=genome_seed(genome_key(genome), seed),
            )
        if len(curves["train_loss"]) != self.epochs:
            raise CandidateFailed(
                f"training stopped after {len(curves['train_loss'])} of {self.epochs} epochs"
            )
        return Outcome("ok", float(curves["val_error"][-1]), None, curves)


def _machine() -> dict:
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as stream:
            model = next(
                (line.split(":", 1)[1].strip() for line in stream if line.startswith("model name")),
                model,
            )
    except OSError:
        pass
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": model}


def machine_id() -> str:
    """Text naming this machine's CPU and software: equal ids promise bit-identical training."""
    from ... import __version__

    machine = _machine()
    return (
        f"{machine['cpu']}|{machine['machine']}|numpy {np.__version__}|"
        f"python {sys.version.split()[0]}|nastoolkit {__version__}"
    )


def _definition(dataset: str, space: BenchSpace, seeds, epochs) -> dict:
    task = check_task(DATASETS[dataset]["task"])
    data = load_dataset(dataset)
    sizes = {split: len(data[split][0]) for split in ("train", "val", "test")}
    input_dim = data["train"][0].shape[1]
    output_dim = 10 if data["task"] == "classification" else data["train"][1].shape[1]
    return {
        "dataset": {
            "name": dataset,
            "task": data["task"],
            "sizes": sizes,
            "input_dim": input_dim,
            "output_dim": output_dim,
            "loader": DATASETS[dataset]["loader"],
            "kwargs": DATASETS[dataset]["kwargs"],
            "loss": task.loss,
        },
        # without "kind": the table format (and so every content hash) predates it
        "space": {k: v for k, v in space.get_config().items() if k != "kind"},
        "seeds": [int(seed) for seed in seeds],
        "epochs": int(epochs),
    }


def _read_chunk(path: Path, tag: str, count: int, epochs: int):
    """The curves of a finished chunk, or None when the file is absent or not this build's."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["tag"]) != tag:
                return None
            curves = {name: stored[name] for name in CURVES}
    except Exception:  # noqa: BLE001  (a partial or foreign file is simply retrained)
        return None
    if any(array.shape != (count, epochs) for array in curves.values()):
        return None
    return curves


def build_table(
    dataset: str,
    out,
    space="small",
    seeds=(0, 1, 2),
    epochs=50,
    workers=1,
    chunk_size=24,
    progress=True,
    keep_parts=False,
    client=None,
    cluster=None,
) -> NASBenchMLP:
    """Train every entry of ``space`` x ``seeds`` on ``dataset`` and write the table ``out``.

    Parameters
    ----------
    dataset : {"digits", "regression"}
        The benchmark dataset (see :data:`DATASETS`).
    out : str or Path
        Table path without suffix; ``OUT.npz`` and ``OUT.json`` are written, and finished
        chunks go to ``OUT.parts/`` until the table is complete.
    space : {"small", "full"} or BenchSpace
        The declared space (``"full"``: the issue's 584 architectures).
    seeds : sequence of int
        Training seeds (each entry is trained with ``genome_seed(genome_key(genome), seed)``).
    epochs : int
        Epochs per training (every epoch is recorded).
    workers : int
        Processes (1: in this process).
    chunk_size : int
        Entries per atomic chunk.
    progress : bool
        Show a progress bar.
    keep_parts : bool
        Keep ``OUT.parts/`` after the table is written.
    client, cluster : optional
        Train on Dask instead (as :func:`nastoolkit.nas.parallel.make_map`: a
        ``dask.distributed.Client``, or ``cluster="local"`` / a scheduler address).

    Returns
    -------
    NASBenchMLP
        The table, as loaded back from ``out``.

    Examples
    --------
    >>> import tempfile, os
    >>> tiny = BenchSpace(max_layers=1, units=(8,), activations=("relu",),
    ...                   learning_rates=(1e-2,))
    >>> out = os.path.join(tempfile.mkdtemp(), "tiny")
    >>> bench = build_table("digits", out, space=tiny, seeds=(0,), epochs=2, progress=False)
    >>> bench.arrays["val_error"].shape
    (1, 1, 1, 2)
    """
    from tqdm.auto import tqdm

    if isinstance(space, str):
        if space not in SPACES:
            raise ValueError(
                f"space must be one of {sorted(SPACES)} or a BenchSpace. Received: space={space!r}"
            )
        space_name, space = space, SPACES[space]
    elif isinstance(space, BenchSpace):
        space_name = "custom"
    else:
        raise TypeError(
            f"space must be 'small', 'full' or a BenchSpace. Received: {type(space).__name__}"
        )
    epochs = positive_int("epochs", epochs, "Pass e.g. epochs=50.")
    workers = positive_int("workers", workers, "Pass e.g. workers=2.")
    chunk_size = positive_int("chunk_size", chunk_size)
    seeds = [int_at_least(f"seeds[{index}]", seed, 0) for index, seed in enumerate(seeds)]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct non-negative integers. Received: {seeds!r}")
    if dataset not in DATASETS:
        raise ValueError(
            f"dataset must be one of {sorted(DATASETS)}. Received: dataset={dataset!r}"
        )
    base = Path(os.fspath(out)).with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    parts = base.parent / f"{base.name}.parts"
    parts.mkdir(exist_ok=True)

    definition = _definition(dataset, space, seeds, epochs)
    tag = json.dumps(definition, sort_keys=True)
    architectures, rates = space.architectures(), space.learning_rates
    entries = [
        {"genome": space.genome(architecture, rate), "seed": seed}
        for architecture in architectures
        for rate in rates
        for seed in seeds
    ]
    chunks = math.ceil(len(entries) / chunk_size)
    curves = {name: np.zeros((len(entries), epochs), DTYPES[name]) for name in CURVES}
    todo = []
    for chunk in range(chunks):
        start, stop = chunk * chunk_size, min(len(entries), (chunk + 1) * chunk_size)
        found = _read_chunk(parts / f"chunk-{chunk:05d}.npz", tag, stop - start, epochs)
        if found is None:
            todo.append(chunk)
        else:
            for name in CURVES:
                curves[name][start:stop] = found[name]
    started = time.perf_counter()
    bar = tqdm(
        total=len(entries),
        initial=len(entries)
        - sum(min(len(entries), (c + 1) * chunk_size) - c * chunk_size for c in todo),
        desc=f"bench {dataset}",
        unit="training",
        disable=not progress,
    )
    trainer = EntryTrainer(dataset, epochs)
    mapper = make_map(
        trainer, workers=workers if workers > 1 else None, client=client, cluster=cluster
    )
    try:
        for chunk in todo:
            start, stop = chunk * chunk_size, min(len(entries), (chunk + 1) * chunk_size)
            outcomes = mapper.map(entries[start:stop])
            failed = [(entries[start + i], o.reason) for i, o in enumerate(outcomes) if not o.ok]
            if failed:
                raise RuntimeError(f"training failed for {len(failed)} entries; first: {failed[0]}")
            block = {
                name: np.asarray([o.metrics[name] for o in outcomes], DTYPES[name])
                for name in CURVES
            }
            for name in CURVES:
                curves[name][start:stop] = block[name]
            buffer = io.BytesIO()
            np.savez(buffer, tag=np.array(tag), **block)
            atomic_write(parts / f"chunk-{chunk:05d}.npz", buffer.getvalue())
            bar.update(stop - start)
    finally:
        mapper.close()
        bar.close()

    shape = (len(architectures), len(rates), len(seeds), epochs)
    arrays = {name: curves[name].reshape(shape) for name in CURVES}
    arrays["params"] = np.asarray(
        [
            count_parameters(
                space.genome(architecture, rates[0]), trainer.input_dim, trainer.output_dim
            )
            for architecture in architectures
        ],
        np.int64,
    )
    from ... import __version__

    metadata = {
        "format_version": FORMAT_VERSION,
        "space_name": space_name,
        **definition,
        "content_hash": content_hash(definition, arrays),
        "recipe": "genome_to_model + Sequential.fit(seed=genome_seed(genome_key, seed)),"
        " no early stopping; errors from model.evaluate after each epoch",
        "machine": _machine(),
        "machine_id": machine_id(),
        "versions": {
            "nastoolkit": __version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "trainings": len(entries),
        "workers": workers,
        "build_seconds_this_run": round(time.perf_counter() - started, 2),
    }
    table = NASBenchMLP(metadata, arrays, path=base.with_suffix(".npz"))
    table.save(base)
    if not keep_parts:
        for path in parts.glob("chunk-*.npz"):
            path.unlink()
        try:
            parts.rmdir()
        except OSError:
            pass
    return NASBenchMLP.load(base.with_suffix(".json"))
